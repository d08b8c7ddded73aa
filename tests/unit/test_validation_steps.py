"""Validation of recipient files in steps (runtime/sender/validation.py): a validation stopped at any record and
resumed from its stored state finds exactly what one pass finds; the state survives its byte form; of two runners
starting at the same cursor only one commits; a crash before the commit is redone without counting twice."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from runtime.sender import validation
from runtime.sender.launch import Cursor, LaunchPlan, SegmentPlan
from runtime.sender.recipients import LocalObjectSource, open_file, validate_file
from runtime.sender.service import CampaignConfig, CampaignService, InMemoryPayloadStore
from runtime.sender.validation import FileValidator, ValidationState, state_key
from runtime.stores.campaigns import InMemoryCampaignStore

B = "sesame-test-campaigns"


class StopAfter:
    """A clock whose deadline has passed from its ``checks``-th reading on."""

    def __init__(self, checks: int):
        self.checks = checks
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return 0.0 if self.calls < self.checks else 1.0


def jsonl(*rows: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


FILES = {
    "recipients/a.jsonl": jsonl(
        *({"to_address": f"u{i}@example.org", "n": i} for i in range(40)),
        {"to_address": "U3@Example.org"},  # duplicate of line 4
        {"to_address": "broken"},
        {"no": "address"},
    ),
    "recipients/b.csv": (
        b"to_address,note\r\n"
        + b"".join(f"c{i}@example.org,plain {i}\r\n".encode() for i in range(20))
        + b'x@example.org,"spans\r\ntwo lines"\r\n'
        + b"c5@example.org,again\r\n"
        + b'y@example.org,"and ""quotes"""\r\n'
    ),
}


def plan_for(source: LocalObjectSource) -> LaunchPlan:
    segments = []
    for index, key in enumerate(FILES):
        report = open_file(source, B, key)
        segments.append(
            SegmentPlan(
                index=index,
                list_name=f"l{index}",
                template_name="t",
                from_address="news@example.com",
                configuration_set="marketing",
                bucket=B,
                key=key,
                fmt=report.fmt,
                etag=report.etag,
                header=report.header,
                data_start=report.data_start,
                first_line=report.first_line,
                rows=0,
                size=report.size,
            )
        )
    return LaunchPlan("c1", segments)


@pytest.fixture
def source() -> LocalObjectSource:
    s = LocalObjectSource()
    for key, data in FILES.items():
        s.put(B, key, data)
    return s


def one_pass(source: LocalObjectSource) -> ValidationState:
    plan = plan_for(source)
    state = ValidationState.start(plan)
    assert FileValidator(source, clock=lambda: 0.0).run(plan, state, deadline=1.0)
    return state


def test_one_pass_counts_rows_bad_rows_duplicates_and_csv_records_that_span_lines(source):
    state = one_pass(source)
    a, b = state.files
    assert (a.rows, a.bad_rows, a.duplicates) == (40, 2, 1)
    assert a.errors[0].startswith("line 42: to_address:") and a.errors[1] == "line 43: to_address: required (a string)"
    assert (b.rows, b.bad_rows, b.duplicates) == (22, 0, 1)
    # the record spanning lines 22-23 is numbered 22; the duplicate c5 is physical line 24
    assert state.duplicate_lines == [[41], [24]]
    assert state.finished and not state.valid
    # the same as the one-go validation of each file
    assert validate_file(source, B, "recipients/b.csv").duplicate_lines == [24]


@pytest.mark.parametrize("every", [1, 2, 3, 7, 16])
def test_stopping_at_any_record_and_resuming_from_the_stored_bytes_finds_the_same(source, monkeypatch, every):
    monkeypatch.setattr(validation, "CHECK_EVERY", every)
    expected = one_pass(source)
    plan = plan_for(source)
    state = ValidationState.start(plan)
    steps = 0
    while not FileValidator(source, clock=StopAfter(2)).run(plan, state, deadline=1.0):
        state = ValidationState.from_bytes(state.to_bytes())  # what the next invocation loads
        steps += 1
        assert steps < 200
    assert steps > 0
    assert state.files == expected.files and state.duplicate_lines == expected.duplicate_lines
    assert state.cursor == Cursor(2, 0, 0)


def test_the_state_round_trips_through_its_bytes_with_the_address_digests():
    plan = LaunchPlan(
        "c", [SegmentPlan(0, "l", "t", "f@example.com", "m", B, "recipients/x.jsonl", "jsonl", "e", None, 0, 1, 0)]
    )
    state = ValidationState.start(plan)
    state.seen = {1, 2**64 - 1, 12345678901234567890}
    state.duplicate_lines = [[3, 9]]
    state.files[0].rows = 7
    state.files[0].errors = ["line 2: bad"]
    state.cursor = Cursor(0, 120, 11)
    again = ValidationState.from_bytes(state.to_bytes())
    assert again == state
    with pytest.raises(ValueError, match="format"):
        ValidationState.from_bytes(b'{"format": 99}\n')


def test_bad_rows_kept_by_line_are_capped_per_file_and_per_campaign(monkeypatch):
    monkeypatch.setattr(validation, "MAX_CAMPAIGN_ERRORS", 25)
    source = LocalObjectSource()
    keys = [f"recipients/bad{i}.jsonl" for i in range(2)]
    for key in keys:
        source.put(B, key, b"{nope\n" * 30)
    plan = LaunchPlan(
        "c",
        [
            SegmentPlan(
                i, f"l{i}", "t", "f@example.com", "m", B, key, "jsonl", open_file(source, B, key).etag, None, 0, 1, 0
            )
            for i, key in enumerate(keys)
        ],
    )
    state = ValidationState.start(plan)
    assert FileValidator(source).run(plan, state, deadline=float("inf"))
    assert [f.bad_rows for f in state.files] == [30, 30]
    assert [len(f.errors) for f in state.files] == [20, 5]


# -- the service's steps: commit, resume, concurrency -------------------------------------------------------------


class NoPublisher:
    def publish(self, specs, regions):
        return []


class Loader:
    def load(self, candidate, campaign_id):
        from runtime.sender.campaign import TemplateSpec

        return {"campaign": TemplateSpec("sesame-test-t", None, "existing")}


def service_with(source: LocalObjectSource, store: InMemoryCampaignStore, payloads: InMemoryPayloadStore, clock):
    return CampaignService(
        config=CampaignConfig(regions=["us-east-1"], default_from="news@example.com"),
        store=store,
        loader=Loader(),  # type: ignore[arg-type]
        publisher=NoPublisher(),  # type: ignore[arg-type]
        enqueuer=lambda: None,  # type: ignore[arg-type,return-value]
        payloads=lambda: payloads,
        sources=lambda: source,
        monotonic=clock,
    )


def submitted(source):
    store, payloads = InMemoryCampaignStore(), InMemoryPayloadStore(B)
    segments = [{"list_name": f"l{i}", "recipientsS3Uri": f"s3://{B}/{key}"} for i, key in enumerate(FILES)]
    svc = service_with(source, store, payloads, lambda: 0.0)
    answer = svc.submit({"campaign_id": "c1", "template_name": "t", "segments": segments})
    assert answer["status"] == "validating" and answer["complete"] is False
    return store, payloads


def test_two_runners_from_the_same_cursor_commit_once_and_count_once(source, monkeypatch):
    monkeypatch.setattr(validation, "CHECK_EVERY", 5)
    store, payloads = submitted(source)
    record = store.get("c1")
    assert record is not None
    first = service_with(source, store, payloads, StopAfter(3))
    second = service_with(source, store, payloads, StopAfter(4))
    # both read the record at the same cursor (the second's lease check passed before the first committed)
    moved = first._validation_step(record, payloads, deadline=0.5)
    stale = second._validation_step(record, payloads, deadline=0.5)
    assert stale.validation_cursor == moved.validation_cursor  # the second's commit was refused
    progress = json.loads(moved.validation)["files"][0]
    assert progress["rows"] == 15  # the first runner's 15 records, never 15 + 20
    assert json.loads(store.get("c1").validation)["files"][0]["rows"] == 15


def test_a_step_that_dies_before_its_commit_is_redone_from_the_last_state_without_double_counting(source, monkeypatch):
    monkeypatch.setattr(validation, "CHECK_EVERY", 4)
    store, payloads = submitted(source)
    svc = service_with(source, store, payloads, StopAfter(3))
    svc._validation_step(store.get("c1"), payloads, deadline=0.5)  # 12 records committed
    record = store.get("c1")
    assert json.loads(record.validation)["files"][0]["rows"] == 12
    assert list(payloads.states) == [(B, state_key("c1", Cursor.decode(record.validation_cursor)))]

    def dies(*args, **kwargs):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(store, "advance_validation", dies)
    with pytest.raises(RuntimeError):
        service_with(source, store, payloads, StopAfter(5))._validation_step(record, payloads, deadline=0.5)
    monkeypatch.undo()
    monkeypatch.setattr(validation, "CHECK_EVERY", 4)
    assert store.get("c1").validation_cursor == record.validation_cursor
    while (current := store.get("c1")).status == "validating":
        service_with(source, store, payloads, StopAfter(10))._validation_step(current, payloads, deadline=0.5)
    final = store.get("c1")
    assert final.status == "invalid"  # file a has two bad rows
    rows = [f["rows"] for f in json.loads(final.validation)["files"]]
    assert rows == [40, 22]
    # every committed state object is removed; the one the dead step wrote is left to the bucket's lifecycle rule
    assert all(key.startswith("validation/c1/") for _, key in payloads.states) and len(payloads.states) == 1
    assert final.payload_key == "" and payloads.objects == {}


def test_a_missing_state_object_restarts_the_validation_from_the_beginning(source, monkeypatch):
    monkeypatch.setattr(validation, "CHECK_EVERY", 4)
    store, payloads = submitted(source)
    service_with(source, store, payloads, StopAfter(3))._validation_step(store.get("c1"), payloads, deadline=0.5)
    payloads.states.clear()  # expired by the lifecycle rule while the campaign was paused
    service_with(source, store, payloads, StopAfter(2))._validation_step(store.get("c1"), payloads, deadline=0.5)
    assert json.loads(store.get("c1").validation)["files"][0]["rows"] == 8  # from line 1 again, not 12 + 8


def test_a_valid_campaign_ends_scheduled_with_the_counted_plan(source):
    good = dict(FILES)
    good["recipients/a.jsonl"] = jsonl(
        *({"to_address": f"u{i}@example.org"} for i in range(5)), {"to_address": "u1@example.org"}
    )
    for key, data in good.items():
        source.put(B, key, data)
    store, payloads = submitted(source)
    svc = service_with(source, store, payloads, lambda: 0.0)
    (stepped,) = svc.validate_due(deadline=1.0)
    assert stepped["status"] == "scheduled" and stepped["recipients"] == 5 + 22
    record = store.get("c1")
    plan = LaunchPlan.from_json(payloads.plan(record.payload_bucket, record.payload_key))
    assert [(s.rows, s.skip) for s in plan.segments] == [(5, [6]), (22, [24])]
    assert record.launch_total == 27 and record.launch_cursor == plan.start().encode()
    assert replace(record, status="validating").launch()["state"] == "pending"


def test_inline_segments_beside_files_are_stored_as_json_lines_validated_and_planned_in_order(source):
    store, payloads = InMemoryCampaignStore(), InMemoryPayloadStore(B, source=source)
    inline = [
        {"to_address": "i1@example.org", "tier": 2},
        {"to_address": "I1@example.org"},
        {"to_address": "i2@example.org"},
    ]
    segments = [
        {"list_name": "in", "recipients": inline},
        {"list_name": "file", "recipientsS3Uri": f"s3://{B}/recipients/b.csv"},
    ]
    svc = service_with(source, store, payloads, lambda: 0.0)
    assert svc.submit({"campaign_id": "mix", "template_name": "t", "segments": segments})["status"] == "validating"
    (stored,) = payloads.recipients.values()
    assert [json.loads(line) for line in stored.splitlines()][0] == {"tier": 2, "to_address": "i1@example.org"}
    (stepped,) = svc.validate_due(deadline=1.0)
    assert stepped["status"] == "scheduled" and stepped["recipients"] == 2 + 22
    plan = LaunchPlan.from_json(payloads.plan(B, store.get("mix").payload_key))
    assert [(s.index, s.key, s.rows, s.skip) for s in plan.segments] == [
        (0, "campaigns/mix/segment-0.jsonl", 2, [2]),
        (1, "recipients/b.csv", 22, [24]),
    ]
