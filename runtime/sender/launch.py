"""Chunked, resumable launch of campaigns whose recipients are S3 files (docs/sending.md "Campaigns of any size").

A launch plan (``campaigns/<id>/plan.json`` in the campaign bucket: per segment its template, sender, configuration
set, file, ETag, CSV header, first data byte and the duplicate lines to skip) and a cursor (segment, byte offset,
line number) stored on the campaign's ``META`` item are all a launch needs. Each step streams the current file from
the cursor, turns up to ``chunk_recipients`` recipients into bulk jobs of at most 50 entries with deterministic ids
(``<campaign>.<segment>.L<first line>``), enqueues them, and only then commits the new cursor with a conditional
write on the old one (``CampaignStore.advance_launch``). A Lambda that dies between the enqueue and the commit leaves
the cursor where it was: the next step enqueues the same chunk again with the same job ids, and the sender's ledger
recognises those jobs (their units are sent once). Memory is one chunk; time is bounded by the caller's deadline:
steps continue in the next invocation (the per-minute ``check_for_campaign``) until the cursor reaches the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from runtime.logs import get_logger
from runtime.sender.enqueue import EnqueueReport
from runtime.sender.recipients import Format, ObjectChangedError, ObjectSource, Row, RowError, read_rows
from runtime.sender.ses_models import MAX_BULK_ENTRIES

log = get_logger(__name__)

CHUNK_RECIPIENTS = 5_000  # one commit per 100 jobs: ~200 KB of recipients in memory at a time
MAX_JOB_BYTES = 200_000  # as runtime.sender.campaign (SQS takes 256 KiB per message)


@dataclass(frozen=True)
class SegmentPlan:
    index: int
    list_name: str
    template_name: str
    from_address: str
    configuration_set: str
    bucket: str
    key: str
    fmt: Format
    etag: str
    header: list[str] | None
    data_start: int
    first_line: int
    rows: int
    skip: list[int] = field(default_factory=list)  # duplicate lines (the first entry of an address is sent)
    size: int = 0  # the file's size in bytes (validation progress)


@dataclass(frozen=True)
class LaunchPlan:
    campaign_id: str
    segments: list[SegmentPlan]
    reply_to: list[str] | None = None

    @property
    def recipients(self) -> int:
        return sum(s.rows for s in self.segments)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LaunchPlan:
        data = json.loads(text)
        return cls(data["campaign_id"], [SegmentPlan(**s) for s in data["segments"]], data.get("reply_to"))

    def start(self) -> Cursor:
        first = self.segments[0]
        return Cursor(0, first.data_start, first.first_line)


@dataclass(frozen=True)
class Cursor:
    segment: int
    offset: int  # byte offset of the next line to read in the segment's file
    line: int  # its line number

    def encode(self) -> str:
        return f"{self.segment}|{self.offset}|{self.line}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        segment, offset, line = (int(x) for x in text.split("|"))
        return cls(segment, offset, line)

    def to_dict(self) -> dict[str, int]:
        return {"segment": self.segment, "byte_offset": self.offset, "line": self.line}


@dataclass(frozen=True)
class QueueJob:
    """A send job as the queue carries it (the ``SendJob`` envelope, serialised once: no per-job model building —
    every row was validated at submission and the consumer validates the body again when it parses it)."""

    job_id: str
    text: str

    def body(self) -> str:
        return self.text


class JobEnqueuer(Protocol):
    def enqueue(self, jobs: Sequence[QueueJob]) -> EnqueueReport: ...


class LaunchProgress(Protocol):
    def advance_launch(self, campaign_id: str, expected: str, cursor: str, recipients: int, jobs: int) -> bool:
        """Move the stored cursor from ``expected`` to ``cursor`` and add the counts; False if it is not
        ``expected`` any more (another invocation moved it)."""
        ...


@dataclass
class StepResult:
    cursor: Cursor
    recipients: int = 0
    jobs: int = 0
    chunks: int = 0
    done: bool = False
    error: str = ""  # why the step stopped early (not enqueued, file changed, cursor moved)
    retryable: bool = True


def bulk_jobs(plan: LaunchPlan, segment: SegmentPlan, rows: list[Row]) -> list[QueueJob]:
    """Bulk jobs (<= 50 entries, <= ~200 KB) for consecutive rows of one segment."""
    base: dict[str, Any] = {
        "FromEmailAddress": segment.from_address,
        "ConfigurationSetName": segment.configuration_set,
        "DefaultContent": {"Template": {"TemplateName": segment.template_name, "TemplateData": "{}"}},
    }
    if plan.reply_to:
        base["ReplyToAddresses"] = plan.reply_to
    jobs: list[QueueJob] = []
    entries: list[dict[str, Any]] = []
    ids: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal entries, ids, size
        if not entries:
            return
        job_id = f"{plan.campaign_id}.{segment.index}.L{ids[0]}"
        envelope = {
            "sesame": 1,
            "job_id": job_id,
            "attempt": 0,
            "campaign_id": plan.campaign_id,
            "list_name": segment.list_name,
            "bulk": {**base, "BulkEmailEntries": entries},
            "entry_ids": ids,
        }
        jobs.append(QueueJob(job_id, json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))))
        entries, ids, size = [], [], 0

    for row in rows:
        entry = {
            "Destination": {"ToAddresses": [row.to_address]},
            "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": row.data}},
        }
        entry_size = len(row.data) + len(row.to_address) + 120
        if len(entries) == MAX_BULK_ENTRIES or (entries and size + entry_size > MAX_JOB_BYTES):
            flush()
        entries.append(entry)
        ids.append(str(row.line))
        size += entry_size
    flush()
    return jobs


class ChunkedLauncher:
    def __init__(
        self,
        *,
        source: ObjectSource,
        enqueuer: Callable[[], JobEnqueuer],
        progress: LaunchProgress,
        clock: Callable[[], float] = time.monotonic,
        chunk_recipients: int = CHUNK_RECIPIENTS,
    ) -> None:
        self._source = source
        self._enqueuer = enqueuer
        self._progress = progress
        self._clock = clock
        self._chunk = chunk_recipients

    def run(self, plan: LaunchPlan, cursor: Cursor, deadline: float) -> StepResult:
        """Enqueue chunks from ``cursor`` until the end or ``deadline`` (``clock`` time); each chunk's cursor is
        committed after its jobs are on the queue."""
        result = StepResult(cursor)
        enqueuer = self._enqueuer()
        while result.cursor.segment < len(plan.segments):
            if self._clock() >= deadline:
                return result
            segment = plan.segments[result.cursor.segment]
            rows = read_rows(self._source, segment, result.cursor.offset, result.cursor.line, frozenset(segment.skip))
            try:
                finished = self._segment(plan, segment, rows, result, enqueuer, deadline)
            except ObjectChangedError as exc:
                result.error, result.retryable = str(exc), False
                return result
            except RowError as exc:  # cannot happen for a validated, unchanged file; stop rather than skip anyone
                result.error, result.retryable = f"segments[{segment.index}] {exc}", False
                return result
            finally:
                rows.close()
            if not finished:
                return result
            if result.cursor.segment + 1 < len(plan.segments):
                nxt = plan.segments[result.cursor.segment + 1]
                moved = Cursor(nxt.index, nxt.data_start, nxt.first_line)
            else:
                moved = Cursor(len(plan.segments), 0, 0)
            if not self._commit(plan, result, moved, 0, 0):
                return result
        result.done = True
        return result

    def _segment(
        self,
        plan: LaunchPlan,
        segment: SegmentPlan,
        rows: Any,
        result: StepResult,
        enqueuer: JobEnqueuer,
        deadline: float,
    ) -> bool:
        """True when the segment's file is exhausted; False when the step stopped (deadline, error)."""
        chunk: list[Row] = []
        end = result.cursor.offset
        next_line = result.cursor.line
        for row, after, following in rows:
            chunk.append(row)
            end, next_line = after, following
            if len(chunk) >= self._chunk:
                if not self._flush(plan, segment, chunk, Cursor(segment.index, end, next_line), result, enqueuer):
                    return False
                chunk = []
                if self._clock() >= deadline:
                    return False
        return not chunk or self._flush(plan, segment, chunk, Cursor(segment.index, end, next_line), result, enqueuer)

    def _flush(
        self,
        plan: LaunchPlan,
        segment: SegmentPlan,
        chunk: list[Row],
        after: Cursor,
        result: StepResult,
        enqueuer: JobEnqueuer,
    ) -> bool:
        jobs = bulk_jobs(plan, segment, chunk)
        report = enqueuer.enqueue(jobs)
        if report.failed:
            # the cursor stays: the next step enqueues this chunk again (same job ids: nobody is sent twice)
            result.error = f"{len(report.failed)} job(s) not enqueued: {sorted(set(report.failed.values()))[:3]}"
            return False
        return self._commit(plan, result, after, len(chunk), len(jobs))

    def _commit(self, plan: LaunchPlan, result: StepResult, cursor: Cursor, recipients: int, jobs: int) -> bool:
        if not self._progress.advance_launch(
            plan.campaign_id, result.cursor.encode(), cursor.encode(), recipients, jobs
        ):
            result.error = "the launch cursor was moved by another invocation"
            return False
        result.cursor = cursor
        result.recipients += recipients
        result.jobs += jobs
        result.chunks += 1 if recipients else 0
        return True
