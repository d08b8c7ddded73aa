"""Request signatures of forwarded batches (the receiving side's check is documented in docs/api.md).

``X-Sesame-Timestamp: <unix seconds>`` and ``X-Sesame-Signature: v1=<hex>`` where the hex is
HMAC-SHA256(secret, ``<timestamp>.<raw body>``). Receivers recompute it, compare in constant time and refuse
timestamps older than a few minutes (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Sesame-Timestamp"
SIGNATURE_HEADER = "X-Sesame-Signature"
DELIVERY_HEADER = "X-Sesame-Delivery"
VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def verify(
    secrets: Sequence[str],
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if the signature matches one of ``secrets`` (rotation) and the timestamp is fresh."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    presented = [part.strip() for part in signature_header.split(",") if part.strip().startswith(f"{VERSION}=")]
    ok = False
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        for candidate in presented:
            ok |= hmac.compare_digest(expected.encode(), candidate.encode())
    return ok
