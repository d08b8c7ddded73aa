"""Where newly applied events go when forwarding is on.

* ``publish`` (called by the ingestion engine and the unsubscribe endpoint): bounces, complaints and
  unsubscribes are posted at once; everything else goes to the forward queue, one SQS message per event, so the
  consumer (``chalicelib.forwarding``) posts them in batches of up to 50 or every 15 s.
* ``consume`` (the queue consumer): one signed POST per batch.
* What still fails after the retries is parked in the forward DLQ with the error and the source queue as message
  attributes; ``sesame dlq redrive`` moves it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runtime.forwarding.delivery import DeliveryResult, Forwarder, event_dict
from runtime.logs import get_logger

log = get_logger("sesame.forwarding")

URGENT_TYPES = frozenset({"bounce", "complaint", "unsubscribe"})
SQS_BATCH = 10
MAX_POST_EVENTS = 50
ERROR_ATTRIBUTE = "sesame_error"
SOURCE_ATTRIBUTE = "sesame_source_queue"


class ForwardingError(RuntimeError):
    """Events could neither be delivered nor parked in the DLQ (the caller should let the message be retried)."""


def is_urgent(event: Mapping[str, Any]) -> bool:
    return str(event.get("event_type", "")).strip().lower() in URGENT_TYPES


class ForwardingSink:
    def __init__(self, forwarder: Forwarder, sqs: Any, queue_url: str, dlq_url: str) -> None:
        self.forwarder = forwarder
        self._sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url

    # publishing -----------------------------------------------------------------------------------------------

    def publish(self, events: Iterable[Any]) -> None:
        """Never raises: forwarding must not fail the ingestion of events that are already applied."""
        try:
            payloads = [event_dict(e) for e in events]
        except TypeError:
            log.exception("forwarding skipped: event of unknown shape")
            return
        urgent = [p for p in payloads if is_urgent(p)]
        regular = [p for p in payloads if not is_urgent(p)]
        try:
            if urgent:
                self.deliver_or_park(urgent)
            if regular:
                if self.queue_url:
                    self._enqueue(regular)
                else:
                    self.deliver_or_park(regular)
        except Exception:
            log.exception("forwarding failed", extra={"events": len(payloads)})

    def _enqueue(self, events: Sequence[Mapping[str, Any]]) -> None:
        failed: list[Mapping[str, Any]] = []
        for start in range(0, len(events), SQS_BATCH):
            chunk = events[start : start + SQS_BATCH]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(e, separators=(",", ":"), default=str)}
                for i, e in enumerate(chunk)
            ]
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed.extend(chunk[int(f["Id"])] for f in response.get("Failed", []))
        if failed:  # the queue refused them: try the endpoint directly rather than lose them
            log.warning("forward queue refused events, posting directly", extra={"events": len(failed)})
            self.deliver_or_park(failed)

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

    def consume(self, bodies: Iterable[str]) -> DeliveryResult | None:
        """Deliver one batch of queue messages (each an event JSON); malformed bodies are parked as they are."""
        events: list[Mapping[str, Any]] = []
        for body in bodies:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                events.append(parsed)
            else:
                self._park_raw([body], "message body is not a JSON object")
        if not events:
            return None
        return self.deliver_or_park(events)

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
        for start in range(0, len(bodies), SQS_BATCH):
            chunk = bodies[start : start + SQS_BATCH]
            entries = [{"Id": str(i), "MessageBody": b, "MessageAttributes": attributes} for i, b in enumerate(chunk)]
            response = self._sqs.send_message_batch(QueueUrl=self.dlq_url, Entries=entries)
            if response.get("Failed"):
                raise ForwardingError(f"could not park {len(response['Failed'])} event(s) in the forward DLQ")
        log.error("forwarding parked in DLQ", extra={"events": len(bodies), "error": error})
