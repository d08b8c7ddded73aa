"""Email address handling: normalisation, validation, hashing and log-safe masking."""

from __future__ import annotations

import hashlib
import re

# A pragmatic, ASCII-only address check (SES itself rejects non-ASCII local parts unless encoded).
# Local part: RFC 5322 atext plus dots (not leading/trailing/doubled); domain: LDH labels with a TLD.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")
_ANGLE_RE = re.compile(r"<([^<>]+)>\s*$")


class InvalidEmailError(ValueError):
    """Raised for an address sesame will not store or send to."""


def extract_address(value: str) -> str:
    """Return the bare address of ``"Name <a@b.c>"`` or ``a@b.c``."""
    match = _ANGLE_RE.search(value)
    return (match.group(1) if match else value).strip()


def normalize_email(value: str) -> str:
    """Validate and normalise an address (display name dropped, lower-cased). Raises InvalidEmailError."""
    if not isinstance(value, str):
        raise InvalidEmailError("email must be a string")
    address = extract_address(value)
    if len(address) > 254:
        raise InvalidEmailError("email is longer than 254 characters")
    if not address.isascii():
        raise InvalidEmailError("email must be ASCII (internationalised addresses are not supported by SES)")
    if not _EMAIL_RE.match(address) or len(address.split("@", 1)[0]) > 64:
        raise InvalidEmailError("not a valid email address")
    return address.lower()


def is_valid_email(value: str) -> bool:
    try:
        normalize_email(value)
    except InvalidEmailError:
        return False
    return True


def recipient_hash(email: str) -> str:
    """Stable pseudonymous key for a recipient: sha256 hex of the normalised address.

    Accepts addresses that fail strict validation (SES may report odd ones) by falling back to trimmed lower case.
    """
    try:
        normalized = normalize_email(email)
    except InvalidEmailError:
        normalized = extract_address(str(email)).strip().lower()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def mask_email(email: str) -> str:
    """Log-safe form: first character of the local part and the domain (``j***@example.com``)."""
    address = extract_address(str(email))
    local, sep, domain = address.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain.lower()}"
