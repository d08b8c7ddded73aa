"""Contract tests of the suppression store: the DynamoDB adapter (on moto) and the in-memory fake behave alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtime.emails import recipient_hash
from runtime.stores.schema import counter_update
from runtime.stores.suppressions import (
    DynamoSuppressionStore,
    InMemorySuppressionStore,
    Suppression,
    SuppressionStoreError,
)
from tests.support.api_tables import moto_tables, table_name

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
A = recipient_hash("a@example.com")
B = recipient_hash("b@example.com")
C = recipient_hash("c@example.com")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["dynamo", "memory"])
def env(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Clock, Any]]:
    clock = Clock()
    if request.param == "memory":
        yield InMemorySuppressionStore(clock=clock), clock, None
        return
    with moto_tables() as client:
        yield (
            DynamoSuppressionStore(client, table_name("suppressions"), clock=clock, sleep=lambda _: None),
            clock,
            client,
        )


def test_suppressed_finds_all_list_and_campaign_scopes_and_prefers_the_broadest(env):
    store, _, _ = env
    store.put(Suppression(A, "ALL", "BOUNCE", email="a@example.com"))
    store.put(Suppression(A, "LIST#news", "UNSUBSCRIBE"))
    store.put(Suppression(B, "LIST#news", "UNSUBSCRIBE"))
    store.put(Suppression(C, "CAMPAIGN#c1", "UNSUBSCRIBE"))
    found = store.suppressed([A, B, C], list_name="news", campaign_id="c1")
    assert found[A].scope == "ALL"
    assert found[B].scope == "LIST#news"
    assert found[C].scope == "CAMPAIGN#c1"
    assert set(store.suppressed([A, B, C])) == {A}
    assert set(store.suppressed([A, B, C], list_name="other")) == {A}


def test_suppressed_ignores_items_past_their_ttl_not_yet_deleted(env):
    store, clock, _ = env
    expiry = int((NOW + timedelta(days=30)).timestamp())
    store.put(Suppression(A, "ALL", "SOFT_BOUNCE", expires_at=expiry))
    assert A in store.suppressed([A])
    clock.now = NOW + timedelta(days=31)
    assert store.suppressed([A]) == {}
    assert store.get(A) is None


def test_suppressed_reads_each_address_with_one_eventually_consistent_query():
    with moto_tables() as client:
        store = DynamoSuppressionStore(client, table_name("suppressions"))
        calls = []
        original = client.query
        client.query = lambda **kw: calls.append(kw) or original(**kw)
        client.batch_get_item = client.get_item = None  # not used: one Query per address covers every scope
        hashes = [recipient_hash(f"r{i}@example.com") for i in range(50)]
        store.put(Suppression(hashes[7], "LIST#news", "UNSUBSCRIBE"))
        store.put(Suppression(hashes[8], "CAMPAIGN#c1", "MANUAL"))
        store.put(Suppression(hashes[9], "LIST#other", "UNSUBSCRIBE"))
        found = store.suppressed(hashes, list_name="news")
        assert len(calls) == 50
        assert not any(call.get("ConsistentRead") for call in calls)
        assert set(found) == {hashes[7]}
        found = store.suppressed(hashes, list_name="news", campaign_id="c1")
        assert len(calls) == 100
        assert set(found) == {hashes[7], hashes[8]}


def test_put_is_an_upsert_that_keeps_created_at(env):
    store, clock, _ = env
    first = store.put(Suppression(A, "ALL", "SOFT_BOUNCE", expires_at=int(NOW.timestamp()) + 99))
    clock.now = NOW + timedelta(hours=1)
    second = store.put(Suppression(A, "ALL", "MANUAL"))
    assert second.created_at == first.created_at
    assert second.updated_at != first.updated_at
    assert second.reason == "MANUAL"
    assert second.expires_at is None


def test_put_rejects_unknown_reason_and_the_softbounce_counter_scope(env):
    store, _, _ = env
    with pytest.raises(SuppressionStoreError):
        store.put(Suppression(A, "ALL", "BECAUSE"))
    with pytest.raises(SuppressionStoreError):
        store.put(Suppression(A, "SOFTBOUNCE", "MANUAL"))


def test_delete_overrides_a_suppression(env):
    store, _, _ = env
    store.put(Suppression(A, "ALL", "MANUAL"))
    assert store.delete(A) is True
    assert store.delete(A) is False
    assert store.suppressed([A]) == {}


def test_list_by_reason_pages_newest_first(env):
    store, clock, _ = env
    hashes = [recipient_hash(f"p{i}@example.com") for i in range(5)]
    for i, h in enumerate(hashes):
        clock.now = NOW + timedelta(minutes=i)
        store.put(Suppression(h, "ALL", "COMPLAINT"))
    store.put(Suppression(A, "ALL", "BOUNCE"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page, cursor = store.list_by_reason("COMPLAINT", limit=2, cursor=cursor)
        seen.extend(s.recipient_hash for s in page)
        if cursor is None:
            break
    assert seen == list(reversed(hashes))


def test_erase_strips_email_and_keeps_a_permanent_all_scope_entry(env):
    store, _, _ = env
    store.put(Suppression(A, "LIST#news", "UNSUBSCRIBE", email="a@example.com"))
    store.put(Suppression(A, "ALL", "SOFT_BOUNCE", email="a@example.com", expires_at=int(NOW.timestamp()) + 60))
    store.erase(A)
    items = store.list_for_recipient(A)
    assert {s.scope for s in items} == {"ALL", "LIST#news"}
    assert all(s.email is None for s in items)
    everything = store.get(A)
    assert everything is not None and everything.expires_at is None


def test_erase_creates_the_all_scope_entry_when_none_exists(env):
    store, _, _ = env
    store.erase(B)
    entry = store.get(B)
    assert entry is not None and entry.reason == "MANUAL" and entry.email is None


def test_record_unsubscribe_writes_once_and_counts_once(env):
    store, _, client = env
    updates = [
        counter_update(
            table_name("campaigns"), "c1", "COUNTERS#TOTAL", {"unsubscribed": 1}, event_at=None, expires_at=None
        )
    ]
    sup = Suppression(A, "CAMPAIGN#c1", "UNSUBSCRIBE", source_message_id="m1")
    assert store.record_unsubscribe(sup, updates) is True
    assert store.record_unsubscribe(sup, updates) is False
    assert store.get(A, "CAMPAIGN#c1").reason == "UNSUBSCRIBE"
    if client is not None:
        item = client.get_item(
            TableName=table_name("campaigns"), Key={"campaign_id": {"S": "c1"}, "sk": {"S": "COUNTERS#TOTAL"}}
        )["Item"]
        assert item["unsubscribed"] == {"N": "1"}
    else:
        assert len(store.counter_updates) == 1


def test_record_unsubscribe_makes_a_temporary_suppression_permanent(env):
    store, _, _ = env
    store.put(Suppression(A, "ALL", "SOFT_BOUNCE", expires_at=int(NOW.timestamp()) + 60))
    assert store.record_unsubscribe(Suppression(A, "ALL", "UNSUBSCRIBE")) is True
    entry = store.get(A)
    assert entry is not None and entry.reason == "UNSUBSCRIBE" and entry.expires_at is None


def test_a_lookup_queries_its_addresses_at_once_at_most_eight_at_a_time():
    import threading

    from runtime.stores.suppressions import QUERY_WORKERS

    with moto_tables() as client:
        store = DynamoSuppressionStore(client, table_name("suppressions"))
        hashes = [recipient_hash(f"r{i}@example.com") for i in range(50)]
        store.put(Suppression(hashes[3], "ALL", "BOUNCE"))
        lock, active, peak = threading.Lock(), [0], [0]
        two_at_once = threading.Barrier(2, timeout=10)  # the first two Queries wait for each other: made at once
        original = client.query

        def query(**kw):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                if kw["ExpressionAttributeValues"][":h"]["S"] in hashes[:2]:
                    two_at_once.wait()
                return original(**kw)
            finally:
                with lock:
                    active[0] -= 1

        client.query = query
        before = store.requests
        found = store.suppressed(hashes)
        assert set(found) == {hashes[3]} and store.requests - before == 50
        assert 2 <= peak[0] <= QUERY_WORKERS == 8
