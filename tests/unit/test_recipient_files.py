"""Recipient files (JSON lines / CSV) read as streams: line numbers, byte offsets, validation reports, resuming."""

from __future__ import annotations

import json

import pytest

from runtime.sender.recipients import (
    LocalObjectSource,
    ObjectChangedError,
    RecipientFileError,
    file_format,
    lines,
    read_rows,
    validate_file,
)

B = "sesame-test-campaigns"


def source_with(key: str, data: bytes) -> LocalObjectSource:
    source = LocalObjectSource()
    source.put(B, key, data)
    return source


def jsonl(*rows: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_lines_carry_numbers_and_byte_offsets_across_block_boundaries():
    data = b"alpha\nbe\n\ngamma"
    blocks = [data[i : i + 3] for i in range(0, len(data), 3)]
    found = [(line.number, line.start, line.end, line.raw) for line in lines(blocks)]
    assert found == [(1, 0, 6, b"alpha"), (2, 6, 9, b"be"), (3, 9, 10, b""), (4, 10, 15, b"gamma")]
    # resuming at a line start gives the same lines
    resumed = [(line.number, line.raw) for line in lines([data[6:]], 6, 2)]
    assert resumed == [(2, b"be"), (3, b""), (4, b"gamma")]


def test_format_comes_from_the_extension():
    assert file_format("recipients/a.jsonl") == "jsonl"
    assert file_format("recipients/a.NDJSON") == "jsonl"
    assert file_format("recipients/a.csv") == "csv"
    with pytest.raises(RecipientFileError, match="extension"):
        file_format("recipients/a.txt")


def test_jsonl_validation_counts_rows_and_names_the_first_bad_lines():
    rows = [{"to_address": f"u{i}@example.org", "n": i} for i in range(30)]
    data = jsonl(*rows[:3]) + b"not json\n" + jsonl({"to_address": "bad"}, {"name": "x"}) + b"\n" + jsonl(*rows[3:])
    report = validate_file(source_with("recipients/a.jsonl", data), B, "recipients/a.jsonl", max_errors=2)
    assert report.rows == 30
    assert report.bad_rows == 3
    assert report.errors[0].startswith("line 4: not valid JSON")
    assert report.errors[1].startswith("line 5: to_address:")
    assert len(report.errors) == 2  # the rest is a count


def test_csv_needs_a_to_address_header_and_checks_column_counts_and_utf8():
    good = "to_address,first_name\nada@example.org,Ada\n\ufeffbob@example.org,Bob\n"
    data = good.encode() + b"carl@example.org\n" + b"dan@example.org,D\xff\n"
    report = validate_file(source_with("recipients/a.csv", data), B, "recipients/a.csv")
    assert report.header == ["to_address", "first_name"]
    assert report.rows == 1  # the BOM is only allowed at the file's start: line 3 is an invalid address
    assert [e.split(":")[0] for e in report.errors] == ["line 3", "line 4", "line 5"]
    assert "expected 2 columns" in report.errors[1] and "UTF-8" in report.errors[2]
    with pytest.raises(RecipientFileError, match="to_address"):
        validate_file(source_with("recipients/b.csv", b"email,name\nx@y.org,X\n"), B, "recipients/b.csv")


def test_a_bom_at_the_start_is_accepted_and_duplicates_are_skipped_by_line():
    data = "\ufeffto_address,n\nAda@Example.org,1\nbob@example.org,2\nada@example.org,3\n".encode()
    source = source_with("recipients/a.csv", data)
    report = validate_file(source, B, "recipients/a.csv")
    assert report.rows == 2 and report.duplicate_lines == [4]
    rows = [row for row, *_ in read_rows(source, report, report.data_start, report.first_line, frozenset([4]))]
    assert [(r.line, r.to_address, json.loads(r.data)) for r in rows] == [
        (2, "Ada@Example.org", {"n": "1"}),
        (3, "bob@example.org", {"n": "2"}),
    ]


def test_reading_resumes_at_a_stored_offset_and_refuses_a_replaced_file():
    data = jsonl(*({"to_address": f"u{i}@example.org"} for i in range(5)))
    source = source_with("recipients/a.jsonl", data)
    report = validate_file(source, B, "recipients/a.jsonl")
    first = list(read_rows(source, report, 0, 1, frozenset()))
    _, after_second, following = first[1]
    assert following == 3
    rest = [row.to_address for row, *_ in read_rows(source, report, after_second, 3, frozenset())]
    assert rest == ["u2@example.org", "u3@example.org", "u4@example.org"]
    source.put(B, "recipients/a.jsonl", data + jsonl({"to_address": "late@example.org"}))
    with pytest.raises(ObjectChangedError):
        list(read_rows(source, report, 0, 1, frozenset()))


def test_missing_or_empty_files_are_named():
    with pytest.raises(RecipientFileError, match="does not exist"):
        validate_file(LocalObjectSource(), B, "recipients/none.jsonl")
    with pytest.raises(RecipientFileError, match="no recipients"):
        validate_file(source_with("recipients/e.jsonl", b"\n\n"), B, "recipients/e.jsonl")
