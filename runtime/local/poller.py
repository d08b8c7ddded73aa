"""The local stand-in for Lambda's SQS event source mappings (``chalice local`` serves HTTP only).

It reads the moto queues, hands batches to the Chalice app's registered ``on_sqs_message`` handlers as real
Lambda-shaped SQS events (receipt handles, ``ApproximateReceiveCount``, ``eventSourceARN``), and then behaves like
Lambda: a batch whose handler returns is deleted; a batch whose handler raises is left on the queue (made visible
again at once, so the retry happens now rather than after the visibility timeout) and moto's redrive policy moves
messages that keep failing to the dead-letter queue. ``@app.schedule`` handlers can be fired on demand.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("sesame.local.poller")


class LambdaContext:
    """The attributes Lambda handlers commonly read from their context."""

    def __init__(self, function_name: str, timeout_s: float = 60.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class QueueBinding:
    queue_name: str
    queue_url: str
    queue_arn: str
    handler_name: str
    handler: Callable[[dict[str, Any], Any], Any]
    batch_size: int = 10
    window_s: float = 0.0


@dataclass
class PollStats:
    invocations: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    last_error: str = ""


def bind_handlers(app: Any, queues: Mapping[str, str], queue_arns: Mapping[str, str]) -> list[QueueBinding]:
    """Match the app's SQS event sources to provisioned queues (by name, ARN, or the logical suffix)."""
    bindings: list[QueueBinding] = []
    for source in getattr(app, "event_sources", []):
        queue = getattr(source, "queue", None)
        queue_arn = getattr(source, "queue_arn", None)
        if queue is None and queue_arn is None:
            continue
        wanted = queue or (queue_arn or "").rsplit(":", 1)[-1]
        name = wanted if wanted in queues else None
        if name is None:  # e.g. the handler names the prod queue: bind to the local queue with the same role
            logical = wanted.rsplit("-", 1)[-1]
            name = next((n for n in queues if n.endswith(f"-{logical}")), None)
        if name is None:
            log.warning("no local queue for SQS handler", extra={"handler": source.name, "queue": wanted})
            continue
        bindings.append(
            QueueBinding(
                queue_name=name,
                queue_url=queues[name],
                queue_arn=queue_arns[name],
                handler_name=source.name,
                handler=app.handler_map[source.name],
                batch_size=int(getattr(source, "batch_size", 10) or 10),
                window_s=float(getattr(source, "maximum_batching_window_in_seconds", 0) or 0),
            )
        )
    return bindings


def schedule_handlers(app: Any) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    from chalice.app import ScheduledEventConfig

    return {s.name: app.handler_map[s.name] for s in app.event_sources if isinstance(s, ScheduledEventConfig)}


def scheduled_event(rule_name: str, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{rule_name}"],
        "detail": {},
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """A Lambda SQS event from ReceiveMessage output (the shape Lambda's event source mapping sends)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": m.get("Attributes", {}).get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                    "ApproximateFirstReceiveTimestamp": m.get("Attributes", {}).get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {
                    name: {
                        "stringValue": a.get("StringValue"),
                        "binaryValue": a.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a.get("DataType", "String"),
                    }
                    for name, a in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsPoller:
    def __init__(
        self,
        sqs_client: Any,
        bindings: list[QueueBinding],
        *,
        region: str,
        max_window_s: float = 0.2,
        output: Any = None,
    ) -> None:
        self._output = output  # where the handlers' stdout (EMF metric lines) goes; None = unchanged
        self._sqs = sqs_client
        self.bindings = bindings
        self._region = region
        self._max_window = max_window_s
        self.stats = PollStats()

    def binding_for(self, logical: str) -> list[QueueBinding]:
        return [b for b in self.bindings if b.queue_name.endswith(f"-{logical}")]

    def _receive(self, binding: QueueBinding) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages, waiting at most the (shortened) batching window for a full batch."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + min(binding.window_s, self._max_window)
        while len(messages) < binding.batch_size:
            response = self._sqs.receive_message(
                QueueUrl=binding.queue_url,
                MaxNumberOfMessages=min(10, binding.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            got = response.get("Messages", [])
            messages.extend(got)
            if not got and time.monotonic() >= deadline:
                break
            if not got:
                time.sleep(0.02)
        return messages

    def poll_once(self, binding: QueueBinding) -> int:
        """One Lambda invocation's worth; returns the number of records handed to the handler."""
        messages = self._receive(binding)
        if not messages:
            return 0
        event = sqs_event(messages, binding.queue_arn, self._region)
        name = binding.handler_name
        self.stats.invocations[name] = self.stats.invocations.get(name, 0) + 1
        self.stats.records[name] = self.stats.records.get(name, 0) + len(messages)
        try:
            if self._output is not None:
                with contextlib.redirect_stdout(self._output):
                    binding.handler(event, LambdaContext(name))
            else:
                binding.handler(event, LambdaContext(name))
        except Exception as exc:  # Lambda semantics: the whole batch (what was not deleted) comes back
            self.stats.failures[name] = self.stats.failures.get(name, 0) + 1
            self.stats.last_error = f"{name}: {type(exc).__name__}: {exc}"
            log.warning("handler failed; batch returns to the queue", extra={"handler": name, "error": str(exc)})
            for m in messages:
                with contextlib.suppress(Exception):
                    self._sqs.change_message_visibility(
                        QueueUrl=binding.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
            return len(messages)
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            with contextlib.suppress(Exception):  # the handler may already have deleted them
                self._sqs.delete_message_batch(
                    QueueUrl=binding.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )
        return len(messages)

    def depth(self, binding: QueueBinding) -> int:
        attrs = self._sqs.get_queue_attributes(
            QueueUrl=binding.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def drain(
        self,
        logicals: tuple[str, ...],
        *,
        timeout_s: float = 120.0,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Poll the named queues until they are empty (nothing visible or in flight); returns records handled."""
        bindings = [b for logical in logicals for b in self.binding_for(logical)]
        handled = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = 0
            for binding in bindings:
                n = self.poll_once(binding)
                got += n
                handled += n
                if n and progress:
                    progress(handled)
            if got == 0:
                if all(self.depth(b) == 0 for b in bindings):
                    return handled
                time.sleep(0.05)
        raise TimeoutError(f"queues {', '.join(logicals)} not drained within {timeout_s:.0f}s")
