"""Chalice blueprints (HTTP edge and event handlers) and the composition root (``wiring``)."""
