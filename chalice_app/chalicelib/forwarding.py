"""Event forwarding to the user's own API (optional: ``SESAME_FORWARD_URL`` + ``SESAME_FORWARD_SECRET``).

``event_sink()`` is None when forwarding is off, else the sink the ingestion engine hands events to before it applies
them (``handover``, raises if they could not be queued) and the unsubscribe endpoint publishes to (``publish``,
never raises). The consumer below posts queued events in signed batches (<= 50 events or 15 s); a failed POST is
retried every ``SESAME_FORWARD_RETRY_SECONDS`` (60), ``SESAME_FORWARD_ATTEMPTS`` (3) attempts, then parked in the
forward DLQ.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import first_invocation_ends_cold_start, wiring
from runtime import logs

if TYPE_CHECKING:  # imported on first use below (urllib.request is costly at cold start)
    from runtime.forwarding.sink import ForwardingSink

bp = Blueprint(__name__)
log = logs.get_logger("sesame.forwarding")

FORWARD_BATCH_SIZE = 50
FORWARD_BATCH_WINDOW_SECONDS = 15


@functools.cache
def _sink() -> ForwardingSink | None:
    from runtime.forwarding.delivery import Forwarder
    from runtime.forwarding.sink import ForwardingSink

    s = wiring.settings()
    if not s.forward_url:
        return None
    if not s.forward_secret:
        log.error("forwarding is off: SESAME_FORWARD_URL is set but SESAME_FORWARD_SECRET is empty")
        return None
    forwarder = Forwarder(s.forward_url, s.forward_secret)
    return ForwardingSink(
        forwarder,
        wiring.LazyClient("sqs", s.region),  # only a failed delivery re-enqueues
        s.forward_queue_url,
        s.forward_dlq_url,
        retry_seconds=s.forward_retry_seconds,
        attempts=s.forward_attempts,
    )


@functools.cache
def _urgent_sink() -> ForwardingSink | None:
    """Same sink with a short HTTP timeout: the immediate path runs inside ingestion and unsubscribe requests."""
    from runtime.forwarding.delivery import Forwarder
    from runtime.forwarding.sink import ForwardingSink

    sink = _sink()
    if sink is None:
        return None
    fast = Forwarder(sink.forwarder.url, wiring.settings().forward_secret, timeout=5.0, base_delay=0.25)
    return ForwardingSink(
        fast,
        wiring.LazyClient("sqs", wiring.settings().region),
        sink.queue_url,
        sink.dlq_url,
        retry_seconds=sink.retry_seconds,
        attempts=sink.attempts,
    )


@wiring.on_reset
def _reset() -> None:
    _sink.cache_clear()
    _urgent_sink.cache_clear()


def event_sink() -> ForwardingSink | None:
    """None when forwarding is off; else the sink with ``handover(events)`` (raises when the events could not be
    queued) and ``publish(events)`` (never raises), for normalised events or dicts."""
    return _urgent_sink()


def _queue_name() -> str:
    # Read when Chalice loads the app (packaging needs the queue name for the event source mapping).
    return os.environ.get("SESAME_FORWARD_QUEUE", "sesame-dev-forward")


@bp.on_sqs_message(
    queue=_queue_name(),
    batch_size=FORWARD_BATCH_SIZE,
    maximum_batching_window_in_seconds=FORWARD_BATCH_WINDOW_SECONDS,
    name="forward_events",
)
@first_invocation_ends_cold_start
def forward_events(event: Any) -> None:
    """One signed POST per SQS batch; a failure is re-enqueued for a later attempt (or parked in the DLQ after the
    last one) and the messages deleted by returning normally. Raising (queue and DLQ unreachable) lets SQS
    redeliver the whole batch."""
    from runtime.forwarding.sink import ATTEMPT_ATTRIBUTE, QueuedEvent

    sink = _sink()
    records = []
    for record in event:
        attribute = ((record.to_dict().get("messageAttributes") or {}).get(ATTEMPT_ATTRIBUTE) or {}).get("stringValue")
        records.append(QueuedEvent(record.body, int(attribute) if str(attribute or "").isdigit() else 0))
    if sink is None:
        log.warning("forward queue message dropped: forwarding is off", extra={"messages": len(records)})
        return
    sink.consume(records)
