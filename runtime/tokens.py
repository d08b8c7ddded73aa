"""Signed unsubscribe tokens (shared by the sender, which issues them, and the unsubscribe endpoint).

Format: ``<payload>.<signature>``, both base64url without padding. The payload is compact JSON::

    {"v": 1, "r": <recipient_hash>, "s": "all"|"list"|"campaign", "c": <campaign_id>, "l": <list_name>,
     "m": <message id or null>, "e": <expiry epoch or null>}

The token carries the recipient's hash, never the address. The signature is HMAC-SHA256 over the payload text,
keyed with the current secret; verification accepts the current or any previous secret (rotation), comparing
in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal

Scope = Literal["all", "list", "campaign"]
_SCOPES: tuple[str, ...] = ("all", "list", "campaign")
MAX_TOKEN_LENGTH = 2048


class TokenError(ValueError):
    """The token is malformed, forged, truncated or expired. ``str(exc)`` is safe to show to the user."""


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    recipient_hash: str
    scope: Scope
    campaign_id: str | None = None
    list_name: str | None = None
    message_id: str | None = None
    expires_at: int | None = None

    @property
    def scope_key(self) -> str:
        """The suppressions-table sort key this claim writes (names in their canonical form)."""
        from runtime.stores.schema import suppression_scope

        return suppression_scope(self.scope, list_name=self.list_name, campaign_id=self.campaign_id)


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or any(ch not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for ch in text):
        raise TokenError("token is not valid base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("token is not valid base64url") from exc


class TokenSigner:
    """Issues and verifies unsubscribe tokens. ``secrets[0]`` signs; all of them verify."""

    def __init__(self, secrets: list[str] | tuple[str, ...], clock: object = time.time) -> None:
        keys = [s.encode("utf-8") for s in secrets if s]
        if not keys:
            raise ValueError("at least one unsubscribe secret is required")
        if any(len(k) < 16 for k in keys):
            raise ValueError("unsubscribe secrets must be at least 16 characters")
        self._keys = keys
        self._clock = clock

    def _sign(self, key: bytes, payload: str) -> bytes:
        return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()

    def issue(
        self,
        recipient_hash: str,
        scope: Scope = "all",
        *,
        campaign_id: str | None = None,
        list_name: str | None = None,
        message_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> str:
        if scope not in _SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        if scope == "list" and not list_name:
            raise ValueError("scope 'list' needs list_name")
        if scope == "campaign" and not campaign_id:
            raise ValueError("scope 'campaign' needs campaign_id")
        expires = int(self._now()) + ttl_seconds if ttl_seconds else None
        body = {
            "v": 1,
            "r": recipient_hash,
            "s": scope,
            "c": campaign_id,
            "l": list_name,
            "m": message_id,
            "e": expires,
        }
        payload = _b64e(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{payload}.{_b64e(self._sign(self._keys[0], payload))}"

    def verify(self, token: str) -> UnsubscribeClaim:
        if not isinstance(token, str) or not token:
            raise TokenError("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("token is too long")
        payload, sep, signature = token.partition(".")
        if not sep or not payload or not signature:
            raise TokenError("token is malformed")
        given = _b64d(signature)
        if len(given) != hashlib.sha256().digest_size:
            raise TokenError("token signature is invalid")
        ok = False
        for key in self._keys:  # no early exit: every key is tried, each comparison constant-time
            ok |= hmac.compare_digest(self._sign(key, payload), given)
        if not ok:
            raise TokenError("token signature is invalid")
        try:
            body = json.loads(_b64d(payload))
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("token payload is malformed") from exc
        if not isinstance(body, dict) or body.get("v") != 1 or body.get("s") not in _SCOPES:
            raise TokenError("token payload is malformed")
        recipient = body.get("r")
        if not isinstance(recipient, str) or len(recipient) != 64:
            raise TokenError("token payload is malformed")
        expires = body.get("e")
        if expires is not None and (not isinstance(expires, int) or expires < self._now()):
            raise TokenError("token has expired")
        return UnsubscribeClaim(
            recipient_hash=recipient,
            scope=body["s"],
            campaign_id=body.get("c"),
            list_name=body.get("l"),
            message_id=body.get("m"),
            expires_at=expires,
        )

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]
