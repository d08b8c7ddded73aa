"""Posting one batch of events to the forwarding endpoint: signed, retried with exponential backoff."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.forwarding import signing
from runtime.logs import get_logger

log = get_logger("sesame.forwarding")

MAX_ATTEMPTS = 3
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "sesame-forwarder/1"

# (url, body, headers, timeout) -> HTTP status; raises OSError for network failures
Poster = Callable[[str, bytes, Mapping[str, str], float], int]
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def check_forward_url(url: str) -> str:
    """The forward URL, if it is https (or plain http to this machine: the local stack). Signed event batches
    must not travel in clear text; raises ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url
    raise ValueError("forward URL must be https:// (plain http only to localhost / 127.0.0.1 / ::1)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the signed batch to whatever host the answer names, and that host's
    200 would count as delivered. The 3xx comes back as the answer (a failure)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def urllib_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body``; the HTTP status (a redirect's 3xx included: never followed)."""
    request = urllib.request.Request(check_forward_url(url), data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    delivery_id: str = ""
    retryable: bool = True  # a failure that a later attempt may fix (network, 408/425/429/5xx)


def delivery_id_for(events: Sequence[Mapping[str, Any]]) -> str:
    """The same id for every POST of the same events (a retried batch), whatever their order."""
    ids = sorted(str(e.get("event_id", "")) for e in events)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]


def event_dict(event: Any) -> dict[str, Any]:
    """A JSON-ready dict of a normalised event (pydantic model, dataclass-like with ``model_dump`` or a mapping)."""
    if hasattr(event, "model_dump"):
        dumped = event.model_dump(mode="json")
        return dict(dumped)
    if isinstance(event, Mapping):
        return json.loads(json.dumps(dict(event), default=str))  # type: ignore[no-any-return]
    raise TypeError(f"cannot forward an event of type {type(event).__name__}")


class Forwarder:
    """Delivers batches to ``url``; up to ``attempts`` tries with backoff ``base_delay * 2**n``."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        post: Poster = urllib_post,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        attempts: int = MAX_ATTEMPTS,
        base_delay: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        if not url:
            raise ValueError("forward URL is required")
        check_forward_url(url)
        if not secret:
            raise ValueError("forward secret is required to sign requests")
        self.url = url
        self._secret = secret
        self._post = post
        self._sleep = sleep
        self._clock = clock
        self.attempts = attempts
        self.base_delay = base_delay
        self.timeout = timeout

    def body(self, events: Sequence[Mapping[str, Any]], delivery_id: str) -> bytes:
        doc = {
            "delivery_id": delivery_id,
            "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "count": len(events),
            "event_ids": [e.get("event_id") for e in events],  # what a receiver deduplicates on
            "events": list(events),
        }
        return json.dumps(doc, separators=(",", ":"), default=str).encode("utf-8")

    def deliver(self, events: Sequence[Mapping[str, Any]], *, attempts: int | None = None) -> DeliveryResult:
        """POST ``events`` (``attempts`` tries here, default the forwarder's; the forward queue spaces its own
        retries a minute apart and passes 1)."""
        delivery_id = delivery_id_for(events)
        body = self.body(events, delivery_id)
        status: int | None = None
        error: str | None = None
        tries = self.attempts if attempts is None else attempts
        attempt = 0
        for attempt in range(1, tries + 1):
            timestamp = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                signing.TIMESTAMP_HEADER: str(timestamp),
                signing.SIGNATURE_HEADER: signing.signature(self._secret, timestamp, body),
                signing.DELIVERY_HEADER: delivery_id,
            }
            try:
                status = self._post(self.url, body, headers, self.timeout)
                error = None if 200 <= status < 300 else f"HTTP {status}"
            except (OSError, ValueError) as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            if error is None:
                return DeliveryResult(True, attempt, status, None, delivery_id)
            retryable = status is None or status in RETRYABLE_STATUS
            log.warning(
                "forward attempt failed",
                extra={"attempt": attempt, "status": status, "error": error, "events": len(events)},
            )
            if not retryable:
                break
            if attempt < tries:
                self._sleep(self.base_delay * 2 ** (attempt - 1))
        return DeliveryResult(
            False, attempt, status, error, delivery_id, retryable=status is None or status in RETRYABLE_STATUS
        )
