"""DynamoTrackingStore against moto: same behaviour as the in-memory fake, conflicts detected by conditions."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bench.meter import item_size as wire_size
from runtime.emails import recipient_hash
from runtime.ingest import IngestEngine
from runtime.settings import Settings
from runtime.stores.dynamo import from_item, to_item
from runtime.stores.history import decode_entry
from runtime.stores.schema import ttl_epoch
from runtime.stores.tables import create_tables
from runtime.stores.tracking import DynamoTrackingStore
from tests.support.counters import counter_item
from tests.support.ingest import MESSAGE_ID, RECIPIENT, fixture_event, ses_event

H = recipient_hash(RECIPIENT)


@pytest.fixture
def ddb(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, "dev")
        yield client


@pytest.fixture
def calls(ddb):
    seen: list[str] = []
    ddb.meta.events.register("before-call.dynamodb.*", lambda model, **_: seen.append(model.name))
    return seen


def engine_for(ddb, **kwargs) -> tuple[DynamoTrackingStore, IngestEngine]:
    s = Settings()
    store = DynamoTrackingStore(
        ddb,
        messages_table=s.messages_table,
        campaigns_table=s.campaigns_table,
        suppressions_table=s.suppressions_table,
        sleep=lambda _: None,
    )
    return store, IngestEngine(store, sleep=lambda _: None, **kwargs)


def item_size(ddb, table: str, **key: str) -> int:
    """The item's size as DynamoDB bills it (bench.meter's arithmetic)."""
    return wire_size(ddb.get_item(TableName=f"sesame-dev-{table}", Key={k: {"S": v} for k, v in key.items()})["Item"])


def get(ddb, table: str, **key: str):
    item = ddb.get_item(TableName=f"sesame-dev-{table}", Key={k: {"S": v} for k, v in key.items()}).get("Item")
    return from_item(item) if item else None


def test_batch_of_engagement_events_costs_one_read_and_one_plain_write_per_summary(ddb, calls):
    _, engine = engine_for(ddb)
    events = [ses_event("Delivery", message_id=f"m{i}", nonce=str(i)) for i in range(50)]
    result = engine.apply(events)
    assert result.count("created") == 50
    assert calls.count("BatchGetItem") == 1
    # one conditional PutItem per summary (one write unit each, history inside), no transaction (2 units per KB),
    # no history table, no counter writes (the stream's consumer counts)
    assert calls.count("TransactWriteItems") == 0 and calls.count("BatchWriteItem") == 0
    assert calls.count("UpdateItem") == 0
    assert calls.count("PutItem") == 51  # 50 summaries + the external campaign's META, once per container


def test_summary_history_counters_and_suppression_items_follow_the_design(ddb):
    _, engine = engine_for(ddb)
    engine.apply([ses_event("Send"), ses_event("Bounce", bounce_type="Permanent")])
    summary = get(ddb, "messages", message_id=MESSAGE_ID)
    assert summary["status"] == "bounced" and summary["status_rank"] == 70
    assert summary["recipient_hash"] == H
    assert len(summary["history"]) == 2 and summary["version"] == 1
    history = [decode_entry(text) for text in summary["history"]]
    assert [e.event_type for e in history] == ["Send", "Bounce"]  # time order
    bounce = history[1]
    assert bounce.detail["bounceType"] == "Permanent" and bounce.counters == ("bounced_hard",)
    assert summary["expires_at"] > 0
    totals = counter_item(ddb, "spring", "COUNTERS#TOTAL")
    assert (totals["sent"], totals["bounced_hard"]) == (1, 1)
    assert totals["first_event_at"] == "2024-06-20T01:50:00.000Z"
    assert totals["last_event_at"] == "2024-06-20T01:51:00.000Z"
    assert get(ddb, "campaigns", campaign_id="spring", sk="META")["status"] == "external"
    suppression = get(ddb, "suppressions", recipient_hash=H, scope="ALL")
    assert suppression["reason"] == "BOUNCE" and "expires_at" not in suppression


def test_a_sent_delivered_opened_summary_with_its_history_is_one_write_unit(ddb):
    _, engine = engine_for(ddb)
    engine.apply([ses_event("Send"), ses_event("Delivery"), ses_event("Open")])
    assert len(get(ddb, "messages", message_id=MESSAGE_ID)["history"]) == 3
    assert item_size(ddb, "messages", message_id=MESSAGE_ID) <= 1024


def test_late_older_events_never_move_counter_times_or_ttl_backwards_in_dynamodb(ddb):
    _, engine = engine_for(ddb)
    engine.apply([ses_event("Delivery", message_id="m2", ts="2024-06-20T05:00:00.000Z")])
    engine.apply(  # a DLQ redrive: older events, after newer ones
        [
            ses_event("Delivery", message_id="m1", ts="2024-06-20T01:00:00.000Z"),
            ses_event("Delivery", message_id="m0", ts="2024-06-20T02:00:00.000Z"),
        ]
    )
    engine.apply([ses_event("Delivery", message_id="m3", ts="2024-06-20T03:00:00.000Z")])
    for sort_key in ("COUNTERS#TOTAL", "COUNTERS#LIST#news", "COUNTERS#DAY#2024-06-20"):
        item = counter_item(ddb, "spring", sort_key)
        assert item["delivered"] == 4
        assert item["first_event_at"] == "2024-06-20T01:00:00.000Z"
        assert item["last_event_at"] == "2024-06-20T05:00:00.000Z"
        assert item["expires_at"] == ttl_epoch("2024-06-20T05:00:00.000Z", 90)


def test_redelivered_batch_is_a_duplicate_and_writes_no_counters(ddb, calls):
    _, engine = engine_for(ddb)
    events = [ses_event("Open", message_id=f"m{i}") for i in range(3)]
    engine.apply(events)
    calls.clear()
    result = engine.apply(events)
    assert result.count("duplicate") == 3
    assert calls == ["BatchGetItem"]
    assert counter_item(ddb, "spring", "COUNTERS#TOTAL")["opened_total"] == 3


def test_sender_write_between_read_and_write_is_detected_and_merged(ddb):
    store, engine = engine_for(ddb)
    engine.apply([ses_event("Send")])
    real_commit = store.commit
    state = {"done": False}

    def commit_after_sender(tx):
        if not state["done"]:
            state["done"] = True
            ddb.update_item(
                TableName="sesame-dev-messages",
                Key={"message_id": {"S": MESSAGE_ID}},
                UpdateExpression="SET subject = :s ADD version :one",
                ExpressionAttributeValues={":s": {"S": "from sender"}, ":one": {"N": "1"}},
            )
        return real_commit(tx)

    store.commit = commit_after_sender
    result = engine.apply([ses_event("Delivery")])
    assert result.failed == {}
    summary = get(ddb, "messages", message_id=MESSAGE_ID)
    assert summary["subject"] == "from sender"
    assert summary["status"] == "delivered" and summary["version"] == 3
    assert counter_item(ddb, "spring", "COUNTERS#TOTAL")["delivered"] == 1


def test_soft_bounces_and_reset_in_dynamodb(ddb):
    _, engine = engine_for(ddb, soft_bounce_limit=2)
    engine.apply([ses_event("Bounce", message_id="a", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    assert get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")["count"] == 1
    engine.apply([ses_event("Delivery", message_id="b", ts="2024-06-21T01:00:00.000Z")])
    assert get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")["count"] == 0
    engine.apply([ses_event("Bounce", message_id="c", bounce_type="Transient", ts="2024-06-22T01:00:00.000Z")])
    engine.apply([ses_event("Bounce", message_id="d", bounce_type="Transient", ts="2024-06-23T01:00:00.000Z")])
    suppression = get(ddb, "suppressions", recipient_hash=H, scope="ALL")
    assert suppression["reason"] == "SOFT_BOUNCE" and suppression["expires_at"] > 0
    # a later hard bounce makes it permanent
    engine.apply([ses_event("Bounce", message_id="e", bounce_type="Permanent", ts="2024-06-24T01:00:00.000Z")])
    suppression = get(ddb, "suppressions", recipient_hash=H, scope="ALL")
    assert suppression["reason"] == "BOUNCE" and "expires_at" not in suppression


def test_manual_suppression_written_between_read_and_write_is_not_turned_into_an_expiring_one(ddb):
    store, engine = engine_for(ddb, soft_bounce_limit=2)
    engine.apply([ses_event("Bounce", message_id="a", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    real_commit = store.commit
    state = {"done": False}

    def commit_after_manual_suppression(tx):
        if not state["done"]:
            state["done"] = True
            ddb.put_item(  # the API suppresses the address by hand meanwhile (permanent, no expiry)
                TableName="sesame-dev-suppressions",
                Item=to_item({"recipient_hash": H, "scope": "ALL", "reason": "MANUAL", "created_at": "2024-06-20"}),
            )
        return real_commit(tx)

    store.commit = commit_after_manual_suppression
    result = engine.apply([ses_event("Bounce", message_id="b", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z")])
    assert result.failed == {}
    suppression = get(ddb, "suppressions", recipient_hash=H, scope="ALL")
    assert suppression["reason"] == "MANUAL" and "expires_at" not in suppression


def test_identity_notification_without_tags_uses_the_stored_attribution(ddb):
    mid = "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
    ddb.put_item(
        TableName="sesame-dev-messages",
        Item=to_item({"message_id": mid, "campaign_id": "launch", "list_name": "beta", "version": 1}),
    )
    _, engine = engine_for(ddb)
    engine.apply([fixture_event("notification_bounce")])
    assert counter_item(ddb, "launch", "COUNTERS#LIST#beta")["bounced_hard"] == 1
    assert get(ddb, "suppressions", recipient_hash=recipient_hash("richard@example.com"), scope="ALL")


def test_throttled_transaction_is_retried_then_reported(ddb):
    store, engine = engine_for(ddb)
    from botocore.exceptions import ClientError

    def throttled(**_):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")

    # a lone summary is a PutItem, summaries with recipient items a transaction: both kept throttling
    store._client = _Proxy(ddb, transact_write_items=throttled, put_item=throttled)
    event = ses_event("Delivery")
    result = engine.apply([event])
    assert event.event_id in result.failed
    assert get(ddb, "messages", message_id=MESSAGE_ID) is None


class _Proxy:
    def __init__(self, inner, **overrides):
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._inner, name)


def _batch_gets(ddb) -> list[dict]:
    seen: list[dict] = []
    ddb.meta.events.register(
        "before-parameter-build.dynamodb.BatchGetItem", lambda params, **_: seen.append(params["RequestItems"])
    )
    return seen


def test_deliveries_read_soft_bounce_items_eventually_consistent_and_bounces_read_them_strongly(ddb):
    _, engine = engine_for(ddb)
    reads = _batch_gets(ddb)
    engine.apply([ses_event("Delivery", message_id="a")])
    assert reads[-1]["sesame-dev-suppressions"]["ConsistentRead"] is False
    assert reads[-1]["sesame-dev-messages"]["ConsistentRead"] is False
    # a bounce needs the ALL suppression, whose merge keeps what it read: the suppressions table is read strongly
    engine.apply([ses_event("Bounce", message_id="b", bounce_type="Transient")])
    assert reads[-1]["sesame-dev-suppressions"]["ConsistentRead"] is True


def test_stale_soft_bounce_item_read_by_a_delivery_fails_its_condition_and_is_read_again_strongly(ddb):
    store, engine = engine_for(ddb, soft_bounce_limit=5)
    engine.apply([ses_event("Bounce", message_id="a", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    key = {"recipient_hash": {"S": H}, "scope": {"S": "SOFTBOUNCE"}}
    stale = ddb.get_item(TableName="sesame-dev-suppressions", Key=key)["Item"]  # count 1, version 1
    engine.apply([ses_event("Bounce", message_id="b", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z")])
    assert get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")["count"] == 2
    reads: list[bool] = []

    def batch_get_item(RequestItems, **kwargs):  # an eventually consistent read that has not seen bounce b yet
        answer = ddb.batch_get_item(RequestItems=RequestItems, **kwargs)
        suppressions = RequestItems.get("sesame-dev-suppressions")
        if suppressions is not None:
            reads.append(suppressions["ConsistentRead"])
            if not suppressions["ConsistentRead"]:
                answer["Responses"]["sesame-dev-suppressions"] = [stale]
        return answer

    store._client = _Proxy(ddb, batch_get_item=batch_get_item)
    result = engine.apply([ses_event("Delivery", message_id="c", ts="2024-06-22T01:00:00.000Z")])
    assert result.failed == {} and result.count("created") == 1
    assert reads == [False, True]  # the stale read's reset failed its version condition; the re-read is strong
    item = get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")
    assert item["count"] == 0 and item["version"] == 3 and item["last_delivery_at"] == "2024-06-22T01:00:00.000Z"


def test_delivery_whose_stale_read_misses_a_new_soft_bounce_item_ends_as_if_applied_before_it(ddb):
    store, engine = engine_for(ddb, soft_bounce_limit=5)
    engine.apply([ses_event("Bounce", message_id="a", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])

    def batch_get_item(RequestItems, **kwargs):  # eventually consistent, from before the bounce's item was written
        answer = ddb.batch_get_item(RequestItems=RequestItems, **kwargs)
        suppressions = RequestItems.get("sesame-dev-suppressions")
        if suppressions is not None and not suppressions["ConsistentRead"]:
            answer["Responses"]["sesame-dev-suppressions"] = []
        return answer

    store._client = _Proxy(ddb, batch_get_item=batch_get_item)
    result = engine.apply([ses_event("Delivery", message_id="c", ts="2024-06-22T01:00:00.000Z")])
    assert result.failed == {} and result.count("created") == 1
    # what a delivery applied first leaves (a recipient without a count is not written): the bounce's item stands
    stale_order = get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")
    _, fresh = engine_for(ddb, soft_bounce_limit=5)
    ddb.delete_item(TableName="sesame-dev-suppressions", Key={"recipient_hash": {"S": H}, "scope": {"S": "SOFTBOUNCE"}})
    fresh.apply([ses_event("Delivery", message_id="d", ts="2024-06-22T01:00:00.000Z")])
    fresh.apply([ses_event("Bounce", message_id="e", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    delivery_first = get(ddb, "suppressions", recipient_hash=H, scope="SOFTBOUNCE")
    assert stale_order["count"] == delivery_first["count"] == 1
    assert "last_delivery_at" not in stale_order and "last_delivery_at" not in delivery_first


def test_counter_times_are_written_only_by_the_batches_that_move_them(ddb):
    from runtime.ingest.counting import CounterDelta
    from runtime.stores.counters import DynamoCounterSink

    sink = DynamoCounterSink(ddb, "sesame-dev-campaigns", sleep=lambda _: None)
    seen: list[str] = []
    ddb.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem",
        lambda params, **_: seen.append(
            "clock" if "ConditionExpression" in params and "seq" not in str(params) else "add"
        ),
    )

    def batch(first_seq: int, first: str, last: str) -> list[str]:
        seen.clear()
        delta = CounterDelta("spring", "COUNTERS#TOTAL", {"delivered": 1}, first, last)
        assert sink.apply("shard-a", str(first_seq), str(first_seq + 1), [delta]) == 1
        return list(seen)

    # the write that creates the item sets its times itself: no clock write (it would fail its condition, one unit)
    assert batch(1, "2024-06-20T01:00:00.000Z", "2024-06-20T02:00:00.000Z") == ["add"]
    # events within the item's span move nothing
    assert batch(3, "2024-06-20T01:30:00.000Z", "2024-06-20T01:40:00.000Z") == ["add"]
    assert batch(5, "2024-06-20T01:30:00.000Z", "2024-06-20T03:00:00.000Z") == ["add", "clock"]  # newer: advance
    assert batch(7, "2024-06-19T23:00:00.000Z", "2024-06-20T01:00:00.000Z") == ["add", "clock"]  # older: rewind
    item = ddb.query(
        TableName="sesame-dev-campaigns",
        KeyConditionExpression="campaign_id = :c",
        ExpressionAttributeValues={":c": {"S": "spring"}},
    )["Items"][0]
    assert item["delivered"] == {"N": "4"}
    assert item["first_event_at"] == {"S": "2024-06-19T23:00:00.000Z"}
    assert item["last_event_at"] == {"S": "2024-06-20T03:00:00.000Z"}
    assert item["expires_at"] == {"N": str(ttl_epoch("2024-06-20T03:00:00.000Z", 90))}
