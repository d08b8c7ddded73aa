"""The sender's DynamoDB adapters on moto when answers are lost after the write was applied: the job ledger, the
pacing reservation log, and the send-id lookup that resolves unknown sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectionClosedError
from moto import mock_aws

from runtime.emails import recipient_hash
from runtime.sender.ledger import DynamoLedger, Outcome
from runtime.sender.pacing import DynamoRateStore
from runtime.sender.resolve import DynamoSendResolver
from runtime.stores.history import decode_entry, short_id
from runtime.stores.schema import iso, send_event_id
from runtime.stores.tables import create_tables

REGION = "us-east-1"
ENV = "stores"


class LosesAnswers:
    """A DynamoDB client whose named operations are applied and then lose their answer ``times`` times."""

    def __init__(self, client: Any, operation: str, times: int = 1) -> None:
        self._client = client
        self._operation = operation
        self.left = times
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name != self._operation:
            return real

        def call(**kwargs: Any) -> Any:
            self.calls.append(kwargs)
            answer = real(**kwargs)
            if self.left:
                self.left -= 1
                raise ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
            return answer

        return call


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client, ENV)
        yield client


def _ledger(client: Any) -> DynamoLedger:
    return DynamoLedger(
        client,
        control_table=f"sesame-{ENV}-control",
        messages_table=f"sesame-{ENV}-messages",
        campaigns_table=f"sesame-{ENV}-campaigns",
        sleep=lambda s: None,
    )


def test_a_claim_retried_after_its_answer_was_lost_is_recognised_as_the_same_invocation(ddb: Any) -> None:
    lossy = LosesAnswers(ddb, "update_item")
    state = _ledger(lossy).claim("job-1", "invocation-a", 300)
    assert len(lossy.calls) == 2  # applied, answer lost, sent again: the lease condition accepts its own owner
    assert state.stale is None and not state.unknown


def test_an_in_flight_mark_left_by_a_dead_invocation_makes_unfinished_units_unknown(ddb: Any) -> None:
    ledger = _ledger(ddb)
    ledger.claim("job-1", "dead", 0.001)  # its lease ends at once, its mark stays (no release)
    ledger.mark_done("job-1", {"0": Outcome("sent", "0100-a", REGION)})
    state = ledger.claim("job-1", "next", 300)
    assert state.stale is not None and state.done == {"0": Outcome("sent", "0100-a", REGION)}
    ledger.release("job-1", "next", clean=True)  # a clean release removes every mark
    assert ledger.claim("job-1", "third", 300).stale is None


def test_recording_retries_reuse_one_client_request_token(ddb: Any) -> None:
    from runtime.sender.ledger import Attribution

    lossy = LosesAnswers(ddb, "transact_write_items", times=1)
    ledger = _ledger(lossy)
    ledger.claim("job-1", "a", 300)
    attribution = Attribution("r@example.org", recipient_hash("r@example.org"), "c", "l", "cs", "f@example.com", "s")
    ledger.record("job-1", [("0", Outcome("failed", "local-x", REGION, "MessageRejected: no"), attribution)])
    tokens = {call["ClientRequestToken"] for call in lossy.calls}
    assert len(lossy.calls) >= 1 and len(tokens) == 1
    counters = ddb.get_item(
        TableName=f"sesame-{ENV}-campaigns", Key={"campaign_id": {"S": "c"}, "sk": {"S": "COUNTERS#TOTAL"}}
    )["Item"]
    assert counters["failed"] == {"N": "1"}  # applied once although the transaction was sent twice


def test_a_reservation_whose_answer_was_lost_is_found_by_its_id_not_reserved_twice(ddb: Any) -> None:
    lossy = LosesAnswers(ddb, "put_item")
    store = DynamoRateStore(lossy, f"sesame-{ENV}-control", sleep=lambda s: None, assume_idle_first=False)
    kwargs = {"now": 1000.0, "want": 50, "minimum": 1, "rate": 100, "daily_cap": None, "already_sent": 0}
    reservation = store.reserve(REGION, max_ahead=10, reservation_id="res-1", **kwargs)
    assert reservation.granted == 50 and reservation.id == "res-1"
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key={"pk": {"S": f"RATE#{REGION}"}, "sk": {"S": "WINDOW"}})
    assert item["Item"]["day_sent"] == {"N": "50"}
    assert item["Item"]["log"]["S"].count("res-1") == 1


class CountsCalls:
    """A DynamoDB client that records the name of every operation it is asked for."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            return real(**kwargs)

        return call


def _rate_item(ddb: Any, shard: str = "") -> dict[str, Any]:
    key = {"pk": {"S": f"RATE#{REGION}{shard}"}, "sk": {"S": "WINDOW"}}
    item: dict[str, Any] = ddb.get_item(TableName=f"sesame-{ENV}-control", Key=key)["Item"]
    return item


def test_a_cold_stores_first_reservation_on_an_idle_shard_is_one_write_and_a_busy_shard_is_read_from_its_refusal(
    ddb: Any,
) -> None:
    kwargs = {"want": 50, "minimum": 1, "rate": 100, "daily_cap": None, "already_sent": 0, "max_ahead": 10}
    first = CountsCalls(ddb)
    reservation = DynamoRateStore(first, f"sesame-{ENV}-control").reserve(REGION, now=1000.0, **kwargs)
    assert first.calls == ["update_item"]  # no shard item yet: written without a read
    assert (reservation.granted, reservation.at, reservation.day) == (50, 1000.0, "1970-01-01")
    item = _rate_item(ddb)
    assert (item["day_sent"], item["version"], float(item["last_at"]["N"])) == ({"N": "50"}, {"N": "1"}, 1000.0)

    busy = CountsCalls(ddb)  # another cold sender half a second later: the window holds 50 of 100
    second = DynamoRateStore(busy, f"sesame-{ENV}-control").reserve(REGION, now=1000.5, **kwargs)
    assert busy.calls == ["update_item", "put_item"]  # refused with the item in the answer, then decided from it
    assert (second.granted, second.at) == (50, 1000.5)
    assert _rate_item(ddb)["day_sent"] == {"N": "100"}

    full = DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(REGION, now=1000.6, **kwargs)
    assert full.granted == 50 and full.at == pytest.approx(1001.0, abs=1e-5)  # once the first one leaves the window

    idle = CountsCalls(ddb)  # a second after the last reservation: idle again, one write
    later = DynamoRateStore(idle, f"sesame-{ENV}-control").reserve(REGION, now=1003.0, **kwargs)
    assert idle.calls == ["update_item"] and later.granted == 50
    item = _rate_item(ddb)
    assert item["day_sent"] == {"N": "200"} and item["version"] == {"N": "4"}
    assert item["log"]["S"] == "1003.000000:50"  # the expired reservations leave the log, as a decided write does


def test_a_first_reservation_whose_answer_was_lost_is_found_by_its_id_not_reserved_twice(ddb: Any) -> None:
    lossy = LosesAnswers(ddb, "update_item")
    store = DynamoRateStore(lossy, f"sesame-{ENV}-control", sleep=lambda s: None)
    kwargs = {"now": 1000.0, "want": 50, "minimum": 1, "rate": 100, "daily_cap": None, "already_sent": 0}
    reservation = store.reserve(REGION, max_ahead=10, reservation_id="res-1", **kwargs)
    assert reservation.granted == 50 and reservation.id == "res-1"
    assert len(lossy.calls) == 2  # applied, answer lost, sent again: refused, and the answer's item holds res-1
    item = _rate_item(ddb)
    assert item["day_sent"] == {"N": "50"} and item["log"]["S"].count("res-1") == 1


def test_a_first_reservation_grants_only_what_the_days_cap_leaves_and_a_new_day_starts_its_count(ddb: Any) -> None:
    kwargs = {"want": 50, "minimum": 1, "rate": 100, "already_sent": 0, "max_ahead": 10}
    DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(REGION, now=1000.0, daily_cap=120, **kwargs)
    DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(REGION, now=1002.0, daily_cap=120, **kwargs)
    capped = CountsCalls(ddb)  # idle, but 100 of the day's 120 are spent: the guessed 50 do not fit
    reservation = DynamoRateStore(capped, f"sesame-{ENV}-control").reserve(REGION, now=1004.0, daily_cap=120, **kwargs)
    assert capped.calls == ["update_item", "put_item"] and reservation.granted == 20
    assert _rate_item(ddb)["day_sent"] == {"N": "120"}
    spent = DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(REGION, now=1006.0, daily_cap=120, **kwargs)
    assert spent.exhausted and not spent.granted
    tomorrow = DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(
        REGION, now=1000.0 + 86_400, daily_cap=120, **kwargs
    )
    assert tomorrow.granted == 50 and tomorrow.day == "1970-01-02"
    assert _rate_item(ddb)["day_sent"] == {"N": "50"}  # the new day's count, not added to yesterday's


def test_settling_a_reservation_gives_back_the_unused_part_once(ddb: Any) -> None:
    lossy = LosesAnswers(ddb, "transact_write_items")
    store = DynamoRateStore(lossy, f"sesame-{ENV}-control", sleep=lambda s: None)
    kwargs = {"now": 1000.0, "want": 50, "minimum": 1, "rate": 100, "daily_cap": None, "already_sent": 0}
    reservation = store.reserve(REGION, max_ahead=10, reservation_id="res-1", **kwargs)
    # the answer of the first settlement is lost; the retry and a second settlement change nothing
    store.settle(REGION, reservation_id="res-1", unused=20, day=reservation.day, now=1001.0)
    store.settle(REGION, reservation_id="res-1", unused=20, day=reservation.day, now=1002.0)
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key={"pk": {"S": f"RATE#{REGION}"}, "sk": {"S": "WINDOW"}})
    assert item["Item"]["day_sent"] == {"N": "30"}


def test_a_sharded_reservation_whose_answer_was_lost_is_found_on_its_shard_and_settled_there(ddb: Any) -> None:
    lossy = LosesAnswers(ddb, "put_item")
    store = DynamoRateStore(lossy, f"sesame-{ENV}-control", sleep=lambda s: None, assume_idle_first=False)
    kwargs = {"now": 1000.0, "want": 50, "minimum": 1, "rate": 50, "daily_cap": None, "already_sent": 0}
    reservation = store.reserve(REGION, max_ahead=10, reservation_id="res-7", shard=7, **kwargs)
    assert (reservation.granted, reservation.shard) == (50, 7)
    other = DynamoRateStore(ddb, f"sesame-{ENV}-control").reserve(REGION, max_ahead=10, shard=2, **kwargs)
    assert other.granted == 50  # another shard's window is its own
    store.settle(REGION, reservation_id="res-7", unused=15, day=reservation.day, now=1001.0, shard=7)
    key = {"pk": {"S": f"RATE#{REGION}#7"}, "sk": {"S": "WINDOW"}}
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key=key)["Item"]
    assert item["log"]["S"].count("res-7") == 1
    assert store.day_count(REGION, reservation.day) == 35 + 50  # the day's count: the sum over the shards


def test_the_resolver_finds_an_accepted_send_by_its_send_id_tag_on_the_message_summary(ddb: Any) -> None:
    now = datetime.now(UTC)
    table = f"sesame-{ENV}-messages"
    ddb.put_item(
        TableName=table,
        Item={
            "message_id": {"S": "0100-accepted"},
            "recipient_hash": {"S": recipient_hash("a@example.org")},
            "sent_at": {"S": iso(now)},
            "send_id": {"S": "sid-1"},
            "config_set": {"S": "sesame-stores-marketing"},
        },
    )
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName=f"sesame-{ENV}-engagement-dlq")["QueueUrl"]
    resolver = DynamoSendResolver(ddb, table, sqs=sqs, event_queue_urls=[dlq])
    since = now.timestamp() - 5
    found = resolver.find("sid-1", [recipient_hash("b@example.org"), recipient_hash("a@example.org")], since)
    assert found is not None and (found.message_id, found.config_set) == ("0100-accepted", "sesame-stores-marketing")
    assert resolver.find("sid-2", [recipient_hash("a@example.org")], since) is None
    assert resolver.find("sid-1", [recipient_hash("a@example.org")], since + 3600) is None  # outside the window
    assert not resolver.events_pending()
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    assert resolver.events_pending()


def _sent(unit: str, message_id: str) -> tuple[str, Outcome, Any]:
    from runtime.sender.ledger import Attribution

    attribution = Attribution("r@example.org", recipient_hash("r@example.org"), "c", "l", "cs", "f@example.com", "s")
    return (unit, Outcome("sent", message_id, REGION), attribution)


def _message(client: Any, message_id: str) -> dict[str, Any]:
    return client.get_item(TableName=f"sesame-{ENV}-messages", Key={"message_id": {"S": message_id}})["Item"]


def test_sent_units_are_recorded_without_a_transaction_and_a_lost_answer_rewrites_the_same_item(ddb: Any) -> None:
    _ledger(ddb).claim("job-1", "a", 300)
    clean = LosesAnswers(ddb, "update_item", times=0)
    _ledger(clean).record("job-1", [_sent("0", "0100-clean")])
    lossy = LosesAnswers(ddb, "update_item", times=1)  # the message item's update is applied, its answer lost
    _ledger(lossy).record("job-1", [_sent("1", "0100-lossy")])
    assert {"TransactItems"} & {k for call in clean.calls + lossy.calls for k in call} == set()
    assert [c["TableName"] for c in clean.calls] == [f"sesame-{ENV}-messages", f"sesame-{ENV}-control"]
    # the first write (with the Send entry) is applied and its answer lost; sent again, its condition finds the
    # history and answers with the item, which holds everything already: no plain update, no second entry; then
    # the marks
    assert [("ConditionExpression" in c, c["TableName"].rsplit("-", 1)[1]) for c in lossy.calls] == [
        (True, "messages"),
        (True, "messages"),
        (False, "control"),
    ]
    once, twice = _message(ddb, "0100-clean"), _message(ddb, "0100-lossy")
    assert twice.pop("version") == once.pop("version") == {"N": "1"}
    assert {k for k in once} == {k for k in twice}
    for item, message_id in ((once, "0100-clean"), (twice, "0100-lossy")):
        [entry] = [decode_entry(e["S"]) for e in item["history"]["L"]]
        assert (entry.event_type, entry.event_id, entry.counters) == (
            "Send",
            short_id(send_event_id(message_id)),
            ("sent",),
        )
        assert item["first_send_at"] == item["sent_at"] == {"S": entry.timestamp}
    assert twice["status"] == {"S": "sent"} and "send_id" in twice
    _ledger(ddb).release("job-1", "a")
    state = _ledger(ddb).claim("job-1", "b", 300)
    assert state.recorded == frozenset({"0", "1"})


def test_recording_after_an_event_created_the_summary_keeps_the_send_time_ses_reported(ddb: Any) -> None:
    table = f"sesame-{ENV}-messages"
    ddb.put_item(
        TableName=table,
        Item={"message_id": {"S": "0100-early"}, "sent_at": {"S": "2026-05-04T09:00:00.000Z"}, "version": {"N": "1"}},
    )
    _ledger(ddb).claim("job-1", "a", 300)
    _ledger(ddb).record("job-1", [_sent("0", "0100-early")])
    item = _message(ddb, "0100-early")
    assert item["sent_at"] == {"S": "2026-05-04T09:00:00.000Z"} and item["version"] == {"N": "2"}
    assert item["campaign_id"] == {"S": "c"} and item["status"] == {"S": "sent"}


def test_an_outcome_is_stored_without_its_empty_trailing_fields_and_read_back_whole() -> None:
    sent = Outcome("sent", "0100-a", REGION)
    assert sent.encode() == f"sent|0100-a|{REGION}" and Outcome.decode(sent.encode()) == sent
    failed = Outcome("failed", "local-x", "", "MessageRejected: no")
    assert Outcome.decode(failed.encode()) == failed
    assert Outcome.decode(f"sent|0100-a|{REGION}|") == sent  # as stored before


def _tracking(client: Any, handed: list[Any]) -> Any:
    from runtime.ingest import IngestEngine
    from runtime.stores.tracking import DynamoTrackingStore

    store = DynamoTrackingStore(
        client,
        messages_table=f"sesame-{ENV}-messages",
        campaigns_table=f"sesame-{ENV}-campaigns",
        suppressions_table=f"sesame-{ENV}-suppressions",
        sleep=lambda _: None,
    )
    return IngestEngine(store, sleep=lambda _: None, handover=lambda events: handed.extend(events))


def _message_writes(client: Any) -> list[str]:
    seen: list[str] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        tables = [params.get("TableName", "")] + [
            (i.get("Put") or i.get("Update") or {}).get("TableName", "") for i in params.get("TransactItems", [])
        ]
        if model.name in ("PutItem", "UpdateItem", "TransactWriteItems") and any("messages" in t for t in tables):
            seen.append(model.name)

    client.meta.events.register("before-call.dynamodb.*", note)
    return seen


def test_a_send_event_the_sender_recorded_is_acknowledged_without_a_write_handed_over_and_counted_once(
    ddb: Any,
) -> None:
    from runtime.ingest.counting import deltas_of_change
    from runtime.stores.dynamo import from_item
    from tests.support.ingest import ses_event

    _ledger(ddb).claim("job-1", "a", 300)
    _ledger(ddb).record("job-1", [_sent("0", "0100-recorded")])
    recorded = from_item(_message(ddb, "0100-recorded"))
    # the sender's write is what the counter consumer counts ``sent`` from (its stream record: no old image)
    assert [(c.campaign_id, c.list_name, c.counter) for c in deltas_of_change(None, recorded)] == [("c", "l", "sent")]
    handed: list[Any] = []
    writes = _message_writes(ddb)
    send = ses_event("Send", message_id="0100-recorded", recipient="r@example.org")
    assert send.event_id == send_event_id("0100-recorded")
    result = _tracking(ddb, handed).apply([send])
    assert result.outcomes == {send.event_id: "duplicate"} and not result.failed
    assert writes == [] and from_item(_message(ddb, "0100-recorded")) == recorded
    assert [e.event_id for e in handed] == [send.event_id]  # forwarding still gets the Send event
    # the next event is applied as usual and counts only itself
    delivery = ses_event("Delivery", message_id="0100-recorded", recipient="r@example.org")
    assert _tracking(ddb, handed).apply([delivery]).outcomes == {delivery.event_id: "updated"}
    after = from_item(_message(ddb, "0100-recorded"))
    assert [c.counter for c in deltas_of_change(recorded, after)] == ["delivered"]
    assert sorted(decode_entry(t).event_type for t in after["history"]) == ["Delivery", "Send"]


def test_a_send_event_applied_before_the_sender_recorded_the_message_is_its_only_send_entry(ddb: Any) -> None:
    from runtime.ingest.counting import deltas_of_change
    from runtime.stores.dynamo import from_item
    from tests.support.ingest import ses_event

    send = ses_event("Send", message_id="0100-early-send", recipient="r@example.org")
    assert _tracking(ddb, []).apply([send]).outcomes == {send.event_id: "created"}
    applied = from_item(_message(ddb, "0100-early-send"))
    _ledger(ddb).claim("job-1", "a", 300)
    _ledger(ddb).record("job-1", [_sent("0", "0100-early-send")])
    after = from_item(_message(ddb, "0100-early-send"))
    assert after["history"] == applied["history"] and after["first_send_at"] == applied["first_send_at"]
    assert deltas_of_change(applied, after) == []  # the sender's record counts nothing more
    assert after["send_id"] and after["campaign_id"] == "c" and after["version"] == applied["version"] + 1


def _control_writes(client: Any) -> list[str]:
    seen: list[str] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "UpdateItem" and params.get("TableName", "").endswith("-control"):
            seen.append(params["UpdateExpression"])

    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", note)
    return seen


def test_recorded_marks_left_to_the_release_are_written_in_its_one_update_of_the_job_record(ddb: Any) -> None:
    ledger = _ledger(ddb)
    ledger.claim("job-1", "a", 300)
    ledger.mark_done("job-1", {"0": Outcome("sent", "0100-x", REGION), "1": Outcome("sent", "0100-y", REGION)})
    writes = _control_writes(ddb)
    marks = ledger.record("job-1", [_sent("0", "0100-x"), _sent("1", "0100-y")], defer_marks=True)
    assert marks == {"0", "1"} and writes == []  # only the message items were written
    assert _ledger(ddb).claim("job-1", "a", 300).recorded == frozenset()  # (the same owner's claim again)
    writes.clear()
    ledger.release("job-1", "a", recorded=marks)
    assert len(writes) == 1 and writes[0].startswith("SET rec.") and "REMOVE lease_until, fly" in writes[0]
    state = _ledger(ddb).claim("job-1", "b", 300)
    assert state.recorded == frozenset({"0", "1"}) and state.stale is None


def test_recorded_marks_of_a_release_that_lost_its_lease_are_not_written_and_recording_again_changes_nothing(
    ddb: Any,
) -> None:
    ledger = _ledger(ddb)
    ledger.claim("job-1", "slow", 0.001)  # its lease ends at once: another invocation takes the job over
    ledger.mark_done("job-1", {"0": Outcome("sent", "0100-x", REGION)})
    marks = ledger.record("job-1", [_sent("0", "0100-x")], defer_marks=True)
    state = ledger.claim("job-1", "next", 300)
    ledger.release("job-1", "slow", recorded=marks)  # its owner condition fails: no marks, no release
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key={"pk": {"S": "SENDJOB#job-1"}, "sk": {"S": "JOB"}})
    assert item["Item"]["rec"] == {"M": {}} and item["Item"]["owner"] == {"S": "next"}
    assert state.done == {"0": Outcome("sent", "0100-x", REGION)} and "0" not in state.recorded
    before = _message(ddb, "0100-x")
    assert ledger.record("job-1", [_sent("0", "0100-x")], defer_marks=True) == {"0"}
    assert _message(ddb, "0100-x") == before  # the same item: no second Send entry, no new version
    ledger.release("job-1", "next", recorded={"0"})
    assert _ledger(ddb).claim("job-1", "third", 300).recorded == frozenset({"0"})


def test_a_chunk_that_moves_counters_keeps_its_marks_in_its_transaction_whatever_is_deferred(ddb: Any) -> None:
    from runtime.sender.ledger import Attribution

    ledger = _ledger(ddb)
    ledger.claim("job-1", "a", 300)
    attribution = Attribution("r@example.org", recipient_hash("r@example.org"), "c", "l", "cs", "f@example.com", "s")
    failed = ("0", Outcome("failed", "local-x", REGION, "MessageRejected: no"), attribution)
    assert ledger.record("job-1", [failed, _sent("1", "0100-y")], defer_marks=True) == frozenset()
    assert _ledger(ddb).claim("job-1", "a", 300).recorded == frozenset({"0", "1"})


def test_outcomes_in_the_job_records_home_region_are_stored_without_it_and_read_back_whole(ddb: Any) -> None:
    from bench.meter import item_size

    home = DynamoLedger(
        ddb,
        control_table=f"sesame-{ENV}-control",
        messages_table=f"sesame-{ENV}-messages",
        campaigns_table=f"sesame-{ENV}-campaigns",
        sleep=lambda s: None,
        region=REGION,
    )
    home.claim("job-1", "a", 300)
    ses_id = "0100019{:09x}-5feceb66-ffc8-6f38-d952-786c6d696c79-000000"  # SES's 60 characters
    outcomes = {str(i): Outcome("sent", ses_id.format(i), REGION) for i in range(50)}
    outcomes["0"] = Outcome("sent", ses_id.format(0), "eu-west-1")  # failed over to the backup region
    outcomes["1"] = Outcome("sent", ses_id.format(1), "")  # resolved from a Send event, region unknown
    outcomes["2"] = Outcome("failed", "local-x", REGION, "MessageRejected: no")
    home.mark_done("job-1", outcomes)
    key = {"pk": {"S": "SENDJOB#job-1"}, "sk": {"S": "JOB"}}
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key=key)["Item"]
    assert item["rg"] == {"S": REGION}
    stored = {unit: value["S"] for unit, value in item["done"]["M"].items()}
    assert stored["3"] == f"sent|{ses_id.format(3)}" and stored["0"].endswith("|eu-west-1")
    assert stored["1"] == f"sent|{ses_id.format(1)}|-" and stored["2"] == "failed|local-x||MessageRejected: no"
    assert item_size(item) < 4096  # every later write of the record: 4 write units, not 5
    # any ledger reads them whole (the record names its home region), in a claim and without one
    other = _ledger(ddb)
    assert other.outcomes("job-1") == outcomes
    assert other.claim("job-1", "a", 300).done == outcomes


def test_a_record_without_a_home_region_keeps_every_region_written_out(ddb: Any) -> None:
    ledger = _ledger(ddb)  # no region: records as before
    ledger.claim("job-1", "a", 300)
    ledger.mark_done("job-1", {"0": Outcome("sent", "0100-a", REGION)})
    key = {"pk": {"S": "SENDJOB#job-1"}, "sk": {"S": "JOB"}}
    item = ddb.get_item(TableName=f"sesame-{ENV}-control", Key=key)["Item"]
    assert "rg" not in item and item["done"]["M"]["0"] == {"S": f"sent|0100-a|{REGION}"}
    assert ledger.claim("job-1", "a", 300).done == {"0": Outcome("sent", "0100-a", REGION)}
