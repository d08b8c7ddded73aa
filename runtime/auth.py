"""API-key authentication for the tracking and campaign API.

Keys are never stored: configuration holds their sha256 hex digests (``SESAME_API_KEY_HASHES``). A presented key
is hashed and compared with every configured digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


class MissingCredentialsError(Exception):
    """No usable ``Authorization: Bearer`` header: answer 401 with ``WWW-Authenticate: Bearer``."""


class InvalidCredentialsError(Exception):
    """A key was presented but matches none: answer 403."""


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key() -> tuple[str, str]:
    """Return ``(key, sha256 hex)`` for a new random key (``ssm_`` prefix helps secret scanners)."""
    key = "ssm_" + secrets.token_urlsafe(32)
    return key, hash_api_key(key)


class ApiKeyAuthenticator:
    def __init__(self, key_hashes: list[str] | tuple[str, ...]) -> None:
        self._digests = [bytes.fromhex(h.strip().lower()) for h in key_hashes if h.strip()]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def authenticate(self, authorization_header: str | None) -> None:
        if not authorization_header:
            raise MissingCredentialsError("missing Authorization header")
        scheme, _, key = authorization_header.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise MissingCredentialsError("Authorization header must be 'Bearer <api key>'")
        presented = hashlib.sha256(key.strip().encode("utf-8")).digest()
        matched = False
        for digest in self._digests:  # compare against all, constant time each
            matched |= hmac.compare_digest(presented, digest)
        if not matched:
            raise InvalidCredentialsError("invalid API key")
