"""Where newly applied events go when forwarding is on.

* ``handover`` (called by the ingestion engine with the events a batch is about to apply, *before* it writes them):
  bounces, complaints and unsubscribes are posted at once (one quick try); everything else — and an urgent batch
  whose quick try failed — goes to the forward queue, one SQS message per event, so the consumer
  (``chalicelib.forwarding``) posts them in batches of up to 50 or every 15 s. It raises ``ForwardingError`` when the
  events could be neither posted nor queued: the engine then does not apply them, and SQS brings them back. So every
  applied event has been handed over (docs/DESIGN.md "Forwarding").
* ``publish``: the same for callers that have already applied their event (the unsubscribe endpoint); never raises.
* ``consume`` (the queue consumer): one signed POST per batch, duplicates within the batch dropped. A failed POST is
  retried a minute later (the events are re-enqueued with ``DelaySeconds`` and their attempt number), three
  attempts in all (``SESAME_FORWARD_RETRY_SECONDS``, ``SESAME_FORWARD_ATTEMPTS``), then parked in the forward DLQ
  with the error and the source queue as message attributes; ``sesame dlq redrive`` moves them back. An answer
  that retrying will not change (another 4xx) parks them at once.
* Every batch carries its events' ``event_id`` (and a ``delivery_id`` derived from them): delivery is at least once
  (a POST whose answer is lost is posted again), receivers drop what they have seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.forwarding.delivery import DeliveryResult, Forwarder, event_dict
from runtime.logs import get_logger

log = get_logger("sesame.forwarding")

URGENT_TYPES = frozenset({"bounce", "complaint", "unsubscribe"})
SQS_BATCH = 10
MAX_POST_EVENTS = 50
ERROR_ATTRIBUTE = "sesame_error"
SOURCE_ATTRIBUTE = "sesame_source_queue"
ATTEMPT_ATTRIBUTE = "sesame_forward_attempt"  # attempts made so far (absent: none)
RETRY_SECONDS = 60
ATTEMPTS = 3


class ForwardingError(RuntimeError):
    """Events could neither be delivered nor queued/parked (the caller should let the message be retried)."""


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One forward-queue message: an event's JSON and how many POSTs of it have failed already."""

    body: str
    attempts: int = 0


def is_urgent(event: Mapping[str, Any]) -> bool:
    return str(event.get("event_type", "")).strip().lower() in URGENT_TYPES


class ForwardingSink:
    def __init__(
        self,
        forwarder: Forwarder,
        sqs: Any,
        queue_url: str,
        dlq_url: str,
        *,
        retry_seconds: int = RETRY_SECONDS,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.forwarder = forwarder
        self._sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.retry_seconds = retry_seconds
        self.attempts = attempts

    # handing over -----------------------------------------------------------------------------------------------

    def handover(self, events: Iterable[Any]) -> None:
        """Post urgent events once, queue the rest (and urgent ones that failed); raises ForwardingError when the
        events could be neither posted nor queued, so the caller does not apply them yet."""
        try:
            payloads = [event_dict(e) for e in events]
        except TypeError as exc:
            raise ForwardingError(f"event of unknown shape: {exc}") from exc
        urgent = [p for p in payloads if is_urgent(p)]
        regular = [p for p in payloads if not is_urgent(p)]
        if not self.queue_url:  # no queue configured: post everything now (inline retries), park what fails
            if payloads:
                self.deliver_or_park(payloads)
            return
        if urgent:
            result = self.forwarder.deliver(urgent, attempts=1)
            if result.ok:
                log.info("forwarded", extra={"events": len(urgent), "attempts": 1})
            elif not result.retryable:
                self.park(urgent, result.error or "delivery failed")
            else:
                self._enqueue(urgent, attempts=1, delay=self.retry_seconds)
        if regular:
            self._enqueue(regular, attempts=0, delay=0)

    def publish(self, events: Iterable[Any]) -> None:
        """``handover`` for events already applied (nothing to retry them): never raises."""
        try:
            self.handover(events)
        except Exception:
            log.exception("forwarding failed")

    def _enqueue(self, events: Sequence[Mapping[str, Any]], *, attempts: int, delay: int) -> None:
        attributes = {}
        if attempts:
            attributes[ATTEMPT_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(attempts)}
        bodies = [json.dumps(e, separators=(",", ":"), default=str) for e in events]
        self._send(self.queue_url, "forward queue", bodies, attributes, delay=min(max(delay, 0), 900))

    def _send(self, url: str, name: str, bodies: Sequence[str], attributes: dict[str, Any], *, delay: int = 0) -> None:
        """SendMessageBatch in chunks of 10; ForwardingError when SQS is unavailable or refuses any of them."""
        for start in range(0, len(bodies), SQS_BATCH):
            entries: list[dict[str, Any]] = []
            for i, body in enumerate(bodies[start : start + SQS_BATCH]):
                entry: dict[str, Any] = {"Id": str(i), "MessageBody": body}
                if delay:
                    entry["DelaySeconds"] = delay
                if attributes:
                    entry["MessageAttributes"] = attributes
                entries.append(entry)
            try:
                response = self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
            except Exception as exc:
                raise ForwardingError(f"{name} unavailable: {type(exc).__name__}") from exc
            if response.get("Failed"):
                raise ForwardingError(f"the {name} refused {len(response['Failed'])} event(s)")

    # delivery -------------------------------------------------------------------------------------------------

    def deliver_or_park(self, events: Sequence[Mapping[str, Any]]) -> DeliveryResult | None:
        result: DeliveryResult | None = None
        for start in range(0, len(events), MAX_POST_EVENTS):
            chunk = events[start : start + MAX_POST_EVENTS]
            result = self.forwarder.deliver(chunk)
            if result.ok:
                log.info("forwarded", extra={"events": len(chunk), "attempts": result.attempts})
            else:
                self.park(chunk, result.error or "delivery failed")
        return result

    def consume(self, records: Iterable[str | QueuedEvent]) -> DeliveryResult | None:
        """Deliver one batch of queue messages (each an event JSON) with one POST; a failure is re-enqueued for a
        minute later or, after the last attempt, parked. Malformed bodies are parked as they are. Raises
        ForwardingError when neither is possible (SQS then redelivers the batch)."""
        events: list[Mapping[str, Any]] = []
        tries: dict[int, int] = {}
        seen: set[str] = set()
        for record in records:
            queued = record if isinstance(record, QueuedEvent) else QueuedEvent(record)
            try:
                parsed = json.loads(queued.body)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                self._park_raw([queued.body], "message body is not a JSON object")
                continue
            event_id = str(parsed.get("event_id") or "")
            if event_id:
                if event_id in seen:
                    continue  # the same event twice in one batch: post it once
                seen.add(event_id)
            tries[len(events)] = queued.attempts
            events.append(parsed)
        result: DeliveryResult | None = None
        for start in range(0, len(events), MAX_POST_EVENTS):
            chunk = events[start : start + MAX_POST_EVENTS]
            result = self.forwarder.deliver(chunk, attempts=1)
            if result.ok:
                log.info("forwarded", extra={"events": len(chunk)})
                continue
            error = result.error or "delivery failed"
            if not result.retryable:
                self.park(chunk, error)
                continue
            by_attempts: dict[int, list[Mapping[str, Any]]] = {}
            for offset, event in enumerate(chunk):
                by_attempts.setdefault(tries[start + offset] + 1, []).append(event)
            for made, group in sorted(by_attempts.items()):
                if made >= self.attempts:
                    self.park(group, error)
                else:
                    self._enqueue(group, attempts=made, delay=self.retry_seconds)
            log.warning("forwarding failed; retried later", extra={"events": len(chunk), "error": error})
        return result

    def park(self, events: Sequence[Mapping[str, Any]], error: str) -> None:
        self._park_raw([json.dumps(e, separators=(",", ":"), default=str) for e in events], error)

    def _park_raw(self, bodies: Sequence[str], error: str) -> None:
        if not self.dlq_url:
            raise ForwardingError(f"forwarding failed ({error}) and no forward DLQ is configured")
        attributes = {
            ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": error[:1000]},
        }
        if self.queue_url:
            attributes[SOURCE_ATTRIBUTE] = {"DataType": "String", "StringValue": self.queue_url}
        self._send(self.dlq_url, "forward DLQ", bodies, attributes)
        log.error("forwarding parked in DLQ", extra={"events": len(bodies), "error": error})
