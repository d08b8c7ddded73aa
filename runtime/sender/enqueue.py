"""Put send jobs on the send queue with ``SendMessageBatch`` (10 per call), retrying failed entries with backoff,
and report exactly which jobs (hence which recipients) could not be enqueued."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.logs import get_logger

log = get_logger(__name__)

SQS_BATCH = 10
SQS_MAX_BATCH_BYTES = 262_144


class QueueMessage(Protocol):
    """What ``Enqueuer`` puts on the queue: a ``SendJob``, or a job already serialised (``launch.QueueJob``)."""

    @property
    def job_id(self) -> str: ...

    def body(self) -> str: ...


@dataclass
class EnqueueReport:
    enqueued: list[str] = field(default_factory=list)  # job ids
    failed: dict[str, str] = field(default_factory=dict)  # job id -> reason
    calls: int = 0


class Enqueuer:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._attempts = attempts
        self._sleep = sleep

    def enqueue(self, jobs: Sequence[QueueMessage]) -> EnqueueReport:
        report = EnqueueReport()
        bodies = [(job.job_id, job.body()) for job in jobs]
        for batch in _batches(bodies):
            self._send_batch(batch, report)
        if report.failed:
            log.error("jobs not enqueued", extra={"jobs": len(report.failed), "queue": self._url.rsplit("/", 1)[-1]})
        return report

    def _send_batch(self, batch: list[tuple[str, str]], report: EnqueueReport) -> None:
        pending = {str(i): item for i, item in enumerate(batch)}
        reasons: dict[str, str] = {}
        for attempt in range(self._attempts):
            entries = [{"Id": i, "MessageBody": body} for i, (_, body) in pending.items()]
            report.calls += 1
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except Exception as exc:  # the whole call failed: every entry is retried
                code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", type(exc).__name__)
                reasons = {i: str(code) for i in pending}
                if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied"):
                    break
            else:
                for ok in response.get("Successful", []):
                    report.enqueued.append(pending.pop(ok["Id"])[0])
                reasons = {}
                for failed in response.get("Failed", []):
                    reasons[failed["Id"]] = f"{failed.get('Code')}: {failed.get('Message', '')}".strip()
                    if failed.get("SenderFault"):
                        # a malformed entry will not succeed on retry
                        report.failed[pending.pop(failed["Id"])[0]] = reasons.pop(failed["Id"])
            if not pending:
                return
            self._sleep(min(0.2 * 2**attempt, 3.0))
        for i, (job_id, _) in pending.items():
            report.failed[job_id] = reasons.get(i, "not enqueued")


def _batches(bodies: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Groups of <= 10 messages whose total size stays under SQS's 256 KiB batch limit."""
    out: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for item in bodies:
        length = len(item[1].encode("utf-8"))
        if current and (len(current) == SQS_BATCH or size + length > SQS_MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += length
    if current:
        out.append(current)
    return out
