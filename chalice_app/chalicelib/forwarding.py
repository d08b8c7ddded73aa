"""Placeholder blueprint; filled in by its owner."""

from chalice import Blueprint

bp = Blueprint(__name__)
