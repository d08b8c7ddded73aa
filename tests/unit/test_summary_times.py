"""A summary stores ``last_<type>_at`` only when it differs from ``first_<type>_at`` (one Send, nearly always one
Delivery: the repeat would push a summary past one 1 KB write unit); the API answers both, and merging stays
order-independent."""

from __future__ import annotations

import itertools

from runtime.ingest import IngestEngine, InMemoryTrackingStore
from runtime.ingest.merge import TIME_FIELD
from runtime.query.service import public_message
from runtime.stores.history import TIME_STEMS, expand_times, last_time
from tests.support.ingest import MESSAGE_ID, ses_event


def _apply(*batches: list) -> dict:
    store = InMemoryTrackingStore()
    engine = IngestEngine(store, sleep=lambda _: None)
    for batch in batches:
        engine.apply(batch)
    return store.messages[MESSAGE_ID]


def test_a_single_send_and_delivery_store_only_their_first_time():
    item = _apply([ses_event("Send"), ses_event("Delivery", ts="2024-06-20T01:51:00.000Z")])
    assert item["first_send_at"] and item["first_delivery_at"] == "2024-06-20T01:51:00.000Z"
    assert "last_send_at" not in item and "last_delivery_at" not in item
    assert last_time(item, "delivery") == "2024-06-20T01:51:00.000Z"


def test_the_api_answers_last_times_equal_to_the_first_when_not_stored():
    item = _apply([ses_event("Send"), ses_event("Open", ts="2024-06-20T02:00:00.000Z")])
    answer = public_message(item)
    assert answer["last_send_at"] == answer["first_send_at"]
    assert answer["last_open_at"] == answer["first_open_at"] == "2024-06-20T02:00:00.000Z"


def test_a_second_event_stores_the_last_time_whatever_the_arrival_order():
    early = ses_event("Open", nonce="a", ts="2024-06-20T02:00:00.000Z")
    late = ses_event("Open", nonce="b", ts="2024-06-20T03:00:00.000Z")
    results = [_apply([first], [second]) for first, second in itertools.permutations([early, late])]
    results.append(_apply([early, late]))
    for item in results:
        assert (item["first_open_at"], item["last_open_at"]) == ("2024-06-20T02:00:00.000Z", "2024-06-20T03:00:00.000Z")
    same = [{k: v for k, v in item.items() if k != "version"} for item in results]  # version: writes made
    assert same[0] == same[1] == same[2]


def test_an_older_event_arriving_later_keeps_the_newer_last_time():
    item = _apply(
        [ses_event("Click", nonce="a", ts="2024-06-20T03:00:00.000Z", link="https://x/new")],
        [ses_event("Click", nonce="b", ts="2024-06-20T02:00:00.000Z", link="https://x/old")],
    )
    assert (item["first_click_at"], item["last_click_at"]) == ("2024-06-20T02:00:00.000Z", "2024-06-20T03:00:00.000Z")
    assert item["last_click_link"] == "https://x/new"


def test_summaries_written_with_both_times_still_read_the_same():
    stored = {"first_send_at": "2024-06-20T01:50:00.000Z", "last_send_at": "2024-06-20T01:50:00.000Z"}
    assert expand_times(stored) == stored
    assert last_time(stored, "send") == "2024-06-20T01:50:00.000Z"


def test_every_event_time_field_has_its_stem_in_the_compact_rule():
    assert set(TIME_FIELD.values()) == set(TIME_STEMS)
