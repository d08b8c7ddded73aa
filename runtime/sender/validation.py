"""Validation of a campaign's recipient files in steps, across invocations (docs/sending.md "Campaigns of any size").

A submission naming recipient files makes only the cheap checks inside its request (``recipients.open_file``) and
stores the campaign ``validating``. The per-minute check then streams the files in steps, each bounded by a
deadline: a step resumes at the stored cursor (segment, byte offset, line number), reads records until the file
ends or the deadline passes (checked every ``CHECK_EVERY`` records, so a step overruns it by at most that many
records), and commits:

1. the whole state at the new cursor (counts per file, the first bad rows, the duplicate lines of every file so far,
   and the 8-byte digests of the addresses seen in the current file: duplicates are found within a file, as for
   inline segments) to ``validation/<id>/<segment>-<offset>.state`` in the campaign bucket — its name is a function
   of the cursor and its content a function of the files up to the cursor, so two invocations that reach the same
   cursor write the same object;
2. then the new cursor and the progress document on the campaign's ``META`` item with one conditional write on the
   old cursor (``CampaignStore.advance_validation``): of two invocations that started at the same cursor only one
   moves it, and counts are never added twice because they are stored whole, never incremented.

An invocation that dies before step 2 leaves the old cursor: the next one starts again from the last committed state
(the work since is done again, nothing is counted twice). The previous state object is deleted after each commit and
the last one when validation ends; an object written by a step that died before its commit is never read and expires
with the bucket's ``validation/`` lifecycle rule (7 days). A state object that is gone (a validation paused longer
than that) restarts the validation from the beginning. Memory: the digests of one file (about 70 bytes per
recipient in a Python set) plus one read block.
"""

from __future__ import annotations

import json
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from runtime.sender.launch import Cursor, LaunchPlan, SegmentPlan
from runtime.sender.recipients import (
    MAX_REPORTED_ERRORS,
    ObjectChangedError,
    ObjectSource,
    RecipientFileError,
    RowError,
    address_digest,
    lines,
    parse_row,
    records,
)

CHECK_EVERY = 512  # records between deadline checks
MAX_CAMPAIGN_ERRORS = 100  # bad rows kept by line in all (the progress document stays small on the META item)
_FORMAT = 1


@dataclass
class FileProgress:
    """What validation found so far in one segment's file (the progress document shows these fields)."""

    segment: int
    file: str
    bytes: int
    bytes_validated: int = 0
    rows: int = 0  # valid recipients, duplicates excluded
    bad_rows: int = 0
    duplicates: int = 0
    done: bool = False
    errors: list[str] = field(default_factory=list)  # the first bad rows, "line N: problem"


@dataclass
class ValidationState:
    cursor: Cursor
    files: list[FileProgress]
    duplicate_lines: list[list[int]]  # per segment: later lines repeating an address (skipped by the launch)
    seen: set[int] = field(default_factory=set)  # address digests of the current file
    problems: list[str] = field(default_factory=list)  # campaign-wide ("segments: too many recipients")

    @classmethod
    def start(cls, plan: LaunchPlan) -> ValidationState:
        files = [FileProgress(s.index, f"s3://{s.bucket}/{s.key}", s.size) for s in plan.segments]
        for progress, segment in zip(files, plan.segments, strict=True):
            progress.bytes_validated = segment.data_start
        return cls(plan.start(), files, [[] for _ in plan.segments])

    @property
    def finished(self) -> bool:
        return all(f.done for f in self.files)

    @property
    def valid(self) -> bool:
        return self.finished and not self.problems and not any(f.bad_rows for f in self.files)

    @property
    def recipients(self) -> int:
        return sum(f.rows for f in self.files)

    def progress(self) -> str:
        """The progress document stored on the ``META`` item (``CampaignRecord.validation_progress``)."""
        doc: dict[str, Any] = {"files": [asdict(f) for f in self.files]}
        if self.problems:
            doc["problems"] = self.problems
        return json.dumps(doc, separators=(",", ":"))

    def to_bytes(self) -> bytes:
        header = {
            "format": _FORMAT,
            "cursor": self.cursor.encode(),
            "files": [asdict(f) for f in self.files],
            "duplicate_lines": self.duplicate_lines,
            "problems": self.problems,
        }
        digests = array("Q", self.seen)
        return json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + digests.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ValidationState:
        cut = data.index(b"\n")
        header = json.loads(data[:cut])
        if header.get("format") != _FORMAT:
            raise ValueError(f"validation state format {header.get('format')!r} is not {_FORMAT}")
        digests = array("Q")
        digests.frombytes(data[cut + 1 :])
        return cls(
            Cursor.decode(header["cursor"]),
            [FileProgress(**f) for f in header["files"]],
            [list(lines) for lines in header["duplicate_lines"]],
            set(digests),
            list(header.get("problems", [])),
        )

    def error_count(self) -> int:
        return sum(len(f.errors) for f in self.files)

    def final_plan(self, plan: LaunchPlan) -> LaunchPlan:
        """The launch plan with each file's recipient count and the duplicate lines to skip."""
        segments = [
            _counted(segment, progress.rows, dups)
            for segment, progress, dups in zip(plan.segments, self.files, self.duplicate_lines, strict=True)
        ]
        return LaunchPlan(plan.campaign_id, segments, plan.reply_to)


def _counted(segment: SegmentPlan, rows: int, skip: list[int]) -> SegmentPlan:
    from dataclasses import replace

    return replace(segment, rows=rows, skip=list(skip))


STATE_PREFIX = "validation/"  # the campaign bucket's lifecycle rule expires what a crashed step left (infra/storage.py)


def state_key(campaign_id: str, cursor: Cursor) -> str:
    return f"{STATE_PREFIX}{campaign_id}/{cursor.segment}-{cursor.offset}.state"


class FileValidator:
    """Validates a plan's files from a state's cursor until they end or ``deadline`` (``clock`` time) passes."""

    def __init__(
        self,
        source: ObjectSource,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_errors: int = MAX_REPORTED_ERRORS,
    ) -> None:
        self._source = source
        self._clock = clock
        self._max_errors = max_errors

    def run(self, plan: LaunchPlan, state: ValidationState, deadline: float) -> bool:
        """Advance ``state``; True when every file has been read to its end."""
        while state.cursor.segment < len(plan.segments):
            position = state.cursor.segment
            if not self._file(plan.segments[position], state, position, deadline):
                return False
            state.seen = set()  # duplicates are found within a file
            following = position + 1
            if following < len(plan.segments):
                nxt = plan.segments[following]
                state.cursor = Cursor(following, nxt.data_start, nxt.first_line)
            else:
                state.cursor = Cursor(following, 0, 0)
        return True

    def _error(self, state: ValidationState, progress: FileProgress, message: str) -> None:
        progress.bad_rows += 1
        if len(progress.errors) < self._max_errors and state.error_count() < MAX_CAMPAIGN_ERRORS:
            progress.errors.append(message)

    def _file(self, segment: SegmentPlan, state: ValidationState, position: int, deadline: float) -> bool:
        progress = state.files[position]
        offset, number = state.cursor.offset, state.cursor.line
        seen, duplicates = state.seen, state.duplicate_lines[position]
        blocks = self._source.read(segment.bucket, segment.key, offset, segment.etag)
        stream = records(segment.fmt, lines(blocks, offset, number))
        count = 0
        try:
            for line in stream:
                try:
                    row = parse_row(segment.fmt, segment.header, line)
                except RowError as exc:
                    self._error(state, progress, f"line {line.number}: {exc}")
                    row = None
                if row is not None:
                    digest = address_digest(row.to_address)
                    if digest in seen:
                        progress.duplicates += 1
                        duplicates.append(line.number)
                    else:
                        seen.add(digest)
                        progress.rows += 1
                offset, number = line.end, line.number + line.span
                count += 1
                if count % CHECK_EVERY == 0 and self._clock() >= deadline:
                    state.cursor = Cursor(position, offset, number)
                    progress.bytes_validated = offset
                    return False
        except RecipientFileError as exc:  # a line too long to buffer: the rest of the file is not read
            self._error(state, progress, str(exc))
        except ObjectChangedError as exc:
            self._error(state, progress, f"{exc}; upload it again and submit the campaign again")
        finally:
            stream.close()
        progress.done = True
        progress.bytes_validated = progress.bytes
        if progress.rows == 0 and progress.bad_rows == 0:
            self._error(state, progress, "the file holds no recipients")
        return True
