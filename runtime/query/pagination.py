"""Opaque, tamper-proof pagination tokens.

A token wraps a DynamoDB ``LastEvaluatedKey`` (all sesame keys are strings): ``<payload>.<mac>``, both base64url,
where the MAC is HMAC-SHA256 over ``<binding>\\n<payload>`` keyed with ``settings.pagination_secret``. The binding
names the route and its filters, so a token issued for one campaign or status filter is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets

from runtime.query.errors import InvalidPageTokenError

MAX_TOKEN_LENGTH = 2048
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or not set(text) <= _B64:
        raise InvalidPageTokenError("next_token is not a valid page token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidPageTokenError("next_token is not a valid page token") from exc


class PageTokens:
    """Encodes and verifies page tokens. Without a configured secret a random per-process key is used (tokens
    then only survive within one container: acceptable for local runs, configure the secret when deployed)."""

    def __init__(self, secret: str | None) -> None:
        self._key = (secret or secrets.token_hex(32)).encode("utf-8")

    def _mac(self, binding: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{binding}\n{payload}".encode(), hashlib.sha256).digest()

    def encode(self, cursor: dict[str, str] | None, binding: str) -> str | None:
        if not cursor:
            return None
        payload = _b64e(json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{payload}.{_b64e(self._mac(binding, payload))}"

    def decode(self, token: str | None, binding: str) -> dict[str, str] | None:
        """The cursor inside ``token`` (None for no token); raises InvalidPageTokenError if it was tampered with."""
        if token is None or token == "":
            return None
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidPageTokenError("next_token is too long")
        payload, sep, mac = token.partition(".")
        if not sep or not payload or not mac:
            raise InvalidPageTokenError("next_token is not a valid page token")
        if not hmac.compare_digest(_b64d(mac), self._mac(binding, payload)):
            raise InvalidPageTokenError("next_token was modified or belongs to another query")
        try:
            cursor = json.loads(_b64d(payload))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidPageTokenError("next_token is not a valid page token") from exc
        if not isinstance(cursor, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in cursor.items()
        ):
            raise InvalidPageTokenError("next_token is not a valid page token")
        return cursor
