"""Recipient files in S3 (a segment's ``recipientsS3Uri``): JSON lines or CSV with a header, UTF-8, read as a stream.

* **JSON lines** (``.jsonl``, ``.ndjson``): one object per line, ``{"to_address": ..., <personalisation>...}``;
  blank lines are skipped.
* **CSV** (``.csv``): a header row naming ``to_address`` and the personalisation columns (values are strings); one
  recipient per record (a quoted field may span lines: the record is numbered by its first line).

Nothing is ever loaded whole: lines are read from a byte stream (an S3 ``GetObject`` from a byte offset, with
``IfMatch`` on the ETag seen at validation, so a file replaced after validation is noticed), and validation keeps
only counts, the first ``MAX_REPORTED_ERRORS`` line-numbered errors and an 8-byte digest per address (duplicates:
the first entry is sent, later ones are skipped by line number).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from runtime.emails import InvalidEmailError, normalize_email
from runtime.sender.ses_models import MAX_TEMPLATE_DATA, mailbox

Format = Literal["jsonl", "csv"]
MAX_REPORTED_ERRORS = 20
READ_BLOCK = 1 << 20
MAX_LINE_BYTES = 300_000  # a recipient line longer than SES's template data limit (and then some) is refused
RECIPIENTS_PREFIX = "recipients/"
_BOM = b"\xef\xbb\xbf"


class RecipientFileError(ValueError):
    """The file cannot be used at all (missing, unreadable, unknown format, no header); ``str`` names it."""


class ObjectChangedError(RuntimeError):
    """The object's ETag is no longer the one validated (the file was replaced): the launch stops."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str


class ObjectSource(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo: ...

    def read(self, bucket: str, key: str, start: int, etag: str) -> Iterable[bytes]:
        """The object's bytes from offset ``start``, in blocks; raises ``ObjectChangedError`` if its ETag changed."""
        ...


def _s3_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3ObjectSource:
    def __init__(self, s3: Callable[[], Any]) -> None:
        self._s3 = s3

    def head(self, bucket: str, key: str) -> ObjectInfo:
        try:
            response = self._s3().head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code = _s3_code(exc)
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                raise RecipientFileError(f"s3://{bucket}/{key} does not exist") from exc
            if code in ("403", "AccessDenied", "Forbidden"):
                raise RecipientFileError(f"s3://{bucket}/{key} is not readable by sesame") from exc
            raise
        return ObjectInfo(int(response.get("ContentLength", 0)), str(response.get("ETag", "")))

    def read(self, bucket: str, key: str, start: int, etag: str) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start:
            kwargs["Range"] = f"bytes={start}-"
        if etag:
            kwargs["IfMatch"] = etag
        try:
            body = self._s3().get_object(**kwargs)["Body"]
        except Exception as exc:
            code = _s3_code(exc)
            if code in ("PreconditionFailed", "412"):
                raise ObjectChangedError(f"s3://{bucket}/{key} changed after it was validated") from exc
            if code in ("InvalidRange", "416"):
                return  # the offset is the end of the object: nothing left
            raise
        try:
            yield from body.iter_chunks(READ_BLOCK)
        finally:
            body.close()


class LocalObjectSource:
    """Objects from memory or local files (tests, the bench, ``sesame campaign submit --validate``)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes | Path] = {}
        self.reads = 0

    def put(self, bucket: str, key: str, data: bytes | Path) -> None:
        self.objects[(bucket, key)] = data

    def _data(self, bucket: str, key: str) -> bytes | Path:
        try:
            return self.objects[(bucket, key)]
        except KeyError as exc:
            raise RecipientFileError(f"s3://{bucket}/{key} does not exist") from exc

    def head(self, bucket: str, key: str) -> ObjectInfo:
        data = self._data(bucket, key)
        if isinstance(data, Path):
            stat = data.stat()
            return ObjectInfo(stat.st_size, f'"{stat.st_size}-{stat.st_mtime_ns}"')
        return ObjectInfo(len(data), '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"')

    def read(self, bucket: str, key: str, start: int, etag: str) -> Iterator[bytes]:
        if etag and self.head(bucket, key).etag != etag:
            raise ObjectChangedError(f"s3://{bucket}/{key} changed after it was validated")
        self.reads += 1
        data = self._data(bucket, key)
        if isinstance(data, Path):
            with data.open("rb") as handle:
                handle.seek(start)
                while block := handle.read(READ_BLOCK):
                    yield block
            return
        for offset in range(start, len(data), READ_BLOCK):
            yield data[offset : offset + READ_BLOCK]


def file_format(key: str) -> Format:
    lower = key.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    raise RecipientFileError("name the format by the file's extension: .jsonl / .ndjson (JSON lines) or .csv")


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    start: int  # byte offset of the line
    end: int  # byte offset after its newline
    raw: bytes  # without the newline
    span: int = 1  # physical lines (a CSV record whose quoted field spans lines); the next line is number + span


def lines(blocks: Iterable[bytes], start: int = 0, first_number: int = 1) -> Generator[Line, None, None]:
    """Split a byte stream into lines, with their numbers and byte offsets (so a launch can resume at any line)."""
    pending = b""
    offset = start
    number = first_number
    for block in blocks:
        parts = (pending + block).split(b"\n")
        pending = parts.pop()  # the unfinished last line waits for the next block
        for raw in parts:
            end = offset + len(raw) + 1
            yield Line(number, offset, end, raw)
            offset = end
            number += 1
        if len(pending) > MAX_LINE_BYTES:  # a line this long is refused; do not buffer the rest of it
            yield Line(number, offset, offset + len(pending), pending)
            raise RecipientFileError(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
    if pending:
        yield Line(number, offset, offset + len(pending), pending)


def records(fmt: Format, stream: Iterable[Line]) -> Generator[Line, None, None]:
    """Recipient records: JSON-lines lines as they are; CSV lines joined while a quoted field is open (an odd number
    of ``"`` so far: RFC 4180 escapes a quote inside a quoted field by doubling it), so a record that spans lines is
    one ``Line`` numbered by its first line, with its own byte offsets (a launch resumes at any record)."""
    if fmt != "csv":
        yield from stream
        return
    pending: Line | None = None
    quotes = 0
    for line in stream:
        if pending is None:
            quotes = line.raw.count(b'"')
            if quotes % 2 == 0:
                yield line
                continue
            pending = line
            continue
        pending = Line(
            pending.number, pending.start, line.end, pending.raw + b"\n" + line.raw, pending.span + line.span
        )
        quotes += line.raw.count(b'"')
        if quotes % 2 == 0:
            yield pending
            pending = None
        elif len(pending.raw) > MAX_LINE_BYTES:
            yield pending  # refused by parse_row (the quote is not closed); the rest of the file is not read
            raise RecipientFileError(f"line {pending.number}: a quoted field runs past {MAX_LINE_BYTES} bytes")
    if pending is not None:
        yield pending  # a quote never closed: parse_row names it


class RowError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    to_address: str  # as given (one mailbox, formatted)
    data: str  # template data, JSON object text


def _text(raw: bytes, number: int) -> str:
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise RowError(f"not valid UTF-8 (byte {exc.start + 1})") from exc


def parse_header(raw: bytes) -> list[str]:
    try:
        text = _text(raw, 1)
    except RowError as exc:
        raise RecipientFileError(f"line 1 (header): {exc}") from exc
    header = [name.strip() for name in next(csv.reader([text]), [])]
    if "to_address" not in header:
        raise RecipientFileError("line 1: the CSV header must name a to_address column")
    if len(set(header)) != len(header):
        raise RecipientFileError("line 1: the CSV header repeats a column name")
    return header


# a bare address needs no RFC 5322 parsing (the common case, and 10x cheaper): it is its own formatted mailbox
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _mailbox(address: str) -> str:
    if _PLAIN_ADDRESS.fullmatch(address):
        try:
            normalize_email(address)
        except InvalidEmailError as exc:
            raise ValueError(str(exc)) from exc
        return address
    return mailbox(address)


def parse_row(fmt: Format, header: list[str] | None, line: Line) -> Row | None:
    """One recipient line -> ``Row`` (None for a blank line); raises ``RowError`` naming the problem."""
    text = _text(line.raw, line.number)
    if not text.strip():
        return None
    data: dict[str, Any]
    if fmt == "jsonl":
        try:
            value = json.loads(text)  # a line is at most MAX_LINE_BYTES; nesting too deep is a RecursionError
        except (ValueError, RecursionError) as exc:
            raise RowError(f"not valid JSON ({str(exc)[:120]})") from exc
        if not isinstance(value, dict):
            raise RowError("each line must be a JSON object with to_address")
        address = value.pop("to_address", None)
        if not isinstance(address, str):
            raise RowError("to_address: required (a string)")
        data = value
    else:
        assert header is not None
        if text.count('"') % 2:
            raise RowError("a quoted field is not closed (its closing quote is missing)")
        fields = next(csv.reader([text]), [])
        if len(fields) != len(header):
            raise RowError(f"expected {len(header)} columns, found {len(fields)}")
        record = dict(zip(header, fields, strict=True))
        address = record.pop("to_address")
        data = record
    try:
        formatted = _mailbox(address)
    except ValueError as exc:
        raise RowError(f"to_address: {exc}") from exc
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(encoded) > MAX_TEMPLATE_DATA:
        raise RowError(f"personalisation data is {len(encoded)} characters; SES accepts {MAX_TEMPLATE_DATA}")
    return Row(line.number, formatted, encoded)


def address_digest(address: str) -> int:
    try:
        normal = normalize_email(address)
    except InvalidEmailError:
        normal = address.strip().lower()
    return int.from_bytes(hashlib.blake2b(normal.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass
class FileReport:
    """What validation found in one file."""

    bucket: str
    key: str
    fmt: Format
    size: int = 0
    etag: str = ""
    header: list[str] | None = None
    data_start: int = 0  # byte offset of the first recipient line
    first_line: int = 1
    rows: int = 0  # valid recipients (duplicates excluded)
    bad_rows: int = 0
    errors: list[str] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS, "line N: problem"
    duplicate_lines: list[int] = field(default_factory=list)  # later lines repeating an address: skipped


MAX_FILE_BYTES = 2 * 1024**3  # a recipient file larger than this is refused at submission (split it into segments)


def open_file(source: ObjectSource, bucket: str, key: str, *, max_bytes: int = MAX_FILE_BYTES) -> FileReport:
    """The cheap checks of a recipient file (a submission makes them inside its request): the format by extension,
    the object exists and is readable (``HeadObject``), its size is within ``max_bytes``, and a CSV header (the
    first line only) names ``to_address``. Raises ``RecipientFileError`` naming the problem."""
    fmt = file_format(key)
    info = source.head(bucket, key)
    if info.size > max_bytes:
        raise RecipientFileError(
            f"s3://{bucket}/{key} is {info.size} bytes; a recipient file holds at most {max_bytes} "
            "(split it over several segments)"
        )
    if info.size == 0:
        raise RecipientFileError("the file is empty" + (" (a CSV file needs a header row)" if fmt == "csv" else ""))
    report = FileReport(bucket, key, fmt, info.size, info.etag)
    if fmt == "csv":
        stream = lines(source.read(bucket, key, 0, info.etag))
        try:
            first = next(stream, None)
        finally:
            stream.close()
        if first is None:
            raise RecipientFileError("the file is empty (a CSV file needs a header row naming to_address)")
        report.header = parse_header(first.raw)
        report.data_start, report.first_line = first.end, first.number + 1
    return report


def validate_file(source: ObjectSource, bucket: str, key: str, *, max_errors: int = MAX_REPORTED_ERRORS) -> FileReport:
    """Stream the whole file once (in one go: ``runtime.sender.validation`` does it in steps across invocations):
    counts, the first ``max_errors`` line-numbered errors, duplicate lines."""
    report = open_file(source, bucket, key)
    fmt = report.fmt
    seen: set[int] = set()
    stream = records(fmt, lines(source.read(bucket, key, report.data_start, report.etag), *_start(report)))
    try:
        for line in stream:
            try:
                row = parse_row(fmt, report.header, line)
            except RowError as exc:
                report.bad_rows += 1
                if len(report.errors) < max_errors:
                    report.errors.append(f"line {line.number}: {exc}")
                continue
            if row is None:
                continue
            digest = address_digest(row.to_address)
            if digest in seen:
                report.duplicate_lines.append(line.number)
                continue
            seen.add(digest)
            report.rows += 1
    except RecipientFileError as exc:  # a line too long to buffer: the rest of the file is not read
        report.bad_rows += 1
        report.errors.append(str(exc))
    if report.rows == 0 and report.bad_rows == 0:
        raise RecipientFileError("the file holds no recipients")
    return report


def _start(report: FileReport) -> tuple[int, int]:
    return report.data_start, report.first_line


class FileRef(Protocol):
    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def fmt(self) -> Format: ...
    @property
    def etag(self) -> str: ...
    @property
    def header(self) -> list[str] | None: ...


def read_rows(
    source: ObjectSource, ref: FileRef, start: int, first_number: int, skip: frozenset[int]
) -> Generator[tuple[Row, int, int], None, None]:
    """``(recipient, byte offset after its record, number of the next line)`` from byte offset ``start`` (a record
    start, numbered ``first_number``), skipping duplicate lines. A bad row raises ``RowError`` (the file was
    validated and cannot have changed since: ``IfMatch``)."""
    for line in records(ref.fmt, lines(source.read(ref.bucket, ref.key, start, ref.etag), start, first_number)):
        if line.number in skip:
            continue
        try:
            row = parse_row(ref.fmt, ref.header, line)
        except RowError as exc:
            raise RowError(f"line {line.number}: {exc}") from exc
        if row is not None:
            yield row, line.end, line.number + line.span
