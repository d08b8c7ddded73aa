from __future__ import annotations

from runtime.emails import recipient_hash
from runtime.ingest import IngestEngine, InMemoryTrackingStore
from runtime.stores.history import decode_entry
from runtime.stores.schema import COUNTERS_TOTAL, campaign_shard, counters_day_sk, counters_list_sk, ttl_epoch
from tests.support.ingest import MESSAGE_ID, RECIPIENT, fixture_event, ses_event

H = recipient_hash(RECIPIENT)


def make() -> tuple[InMemoryTrackingStore, IngestEngine]:
    store = InMemoryTrackingStore()
    return store, IngestEngine(store, sleep=lambda _: None)


def test_unknown_message_creates_a_summary_from_the_event():
    store, engine = make()
    result = engine.apply([ses_event("Delivery")])
    assert list(result.outcomes.values()) == ["created"]
    item = store.messages[MESSAGE_ID]
    assert item["recipient"] == RECIPIENT.lower()
    assert item["recipient_hash"] == H
    assert (item["campaign_id"], item["list_name"]) == ("spring", "news")
    assert item["status"] == "delivered" and item["status_rank"] == 20
    assert item["sent_at"] == "2024-06-20T01:50:00.000Z"
    assert item["campaign_sk"] == f"2024-06-20T01:50:00.000Z#{MESSAGE_ID}"
    assert item["campaign_shard"] == campaign_shard("spring", MESSAGE_ID)
    assert item["version"] == 1


def test_status_never_moves_down():
    store, engine = make()
    engine.apply([ses_event("Click", ts="2024-06-20T02:00:00.000Z")])
    engine.apply([ses_event("Open", ts="2024-06-20T01:59:00.000Z"), ses_event("Delivery")])
    assert store.messages[MESSAGE_ID]["status"] == "clicked"


def test_terminal_statuses_win_over_engagement():
    store, engine = make()
    engine.apply([ses_event("Complaint", ts="2024-06-20T03:00:00.000Z")])
    engine.apply([ses_event("Click", ts="2024-06-20T04:00:00.000Z")])
    assert store.messages[MESSAGE_ID]["status"] == "complained"


def test_duplicate_event_changes_nothing():
    store, engine = make()
    event = ses_event("Open")
    engine.apply([event])
    before = dict(store.messages[MESSAGE_ID])
    counters = store.counters("spring", COUNTERS_TOTAL)
    result = engine.apply([event])
    assert result.outcomes == {event.event_id: "duplicate"}
    assert result.applied == []
    assert store.messages[MESSAGE_ID] == before
    assert store.counters("spring", COUNTERS_TOTAL) == counters


def test_duplicate_inside_one_batch_is_counted_once():
    store, engine = make()
    event = ses_event("Open")
    result = engine.apply([event, event])
    assert result.count("duplicate") == 1
    assert store.counters("spring", COUNTERS_TOTAL)["opened_total"] == 1


def test_opens_and_clicks_count_totals_and_unique_once():
    store, engine = make()
    engine.apply([ses_event("Open", nonce=str(i), ts=f"2024-06-20T02:0{i}:00.000Z") for i in range(3)])
    engine.apply([ses_event("Click", nonce="a", ts="2024-06-20T03:00:00.000Z", link="https://x/1")])
    engine.apply([ses_event("Click", nonce="b", ts="2024-06-20T02:30:00.000Z", link="https://x/2")])
    item = store.messages[MESSAGE_ID]
    assert item["open_count"] == 3 and item["unique_open"] is True
    assert item["click_count"] == 2 and item["unique_click"] is True
    assert item["last_click_link"] == "https://x/1"  # the latest click, whatever the arrival order
    assert item["first_open_at"] == "2024-06-20T02:00:00.000Z"
    assert item["last_open_at"] == "2024-06-20T02:02:00.000Z"
    totals = store.counters("spring", COUNTERS_TOTAL)
    assert (totals["opened_total"], totals["opened_unique"]) == (3, 1)
    assert (totals["clicked_total"], totals["clicked_unique"]) == (2, 1)


def test_counters_are_kept_per_total_list_and_day():
    store, engine = make()
    engine.apply(
        [
            ses_event("Delivery", message_id="m1", ts="2024-06-20T01:00:00.000Z"),
            ses_event("Delivery", message_id="m2", ts="2024-06-21T01:00:00.000Z", list_name="vip"),
        ]
    )
    assert store.counters("spring", COUNTERS_TOTAL)["delivered"] == 2
    assert store.counters("spring", counters_list_sk("news"))["delivered"] == 1
    assert store.counters("spring", counters_list_sk("vip"))["delivered"] == 1
    assert store.counters("spring", counters_day_sk("2024-06-20"))["delivered"] == 1
    assert store.counters("spring", counters_day_sk("2024-06-21"))["delivered"] == 1


def test_a_late_older_event_never_moves_counter_times_or_ttl_backwards():
    store, engine = make()
    engine.apply([ses_event("Delivery", message_id="m2", ts="2024-06-20T05:00:00.000Z")])
    engine.apply([ses_event("Delivery", message_id="m1", ts="2024-06-20T01:00:00.000Z")])  # an SNS retry, late
    engine.apply([ses_event("Delivery", message_id="m3", ts="2024-06-20T03:00:00.000Z")])
    for sort_key in (COUNTERS_TOTAL, counters_list_sk("news"), counters_day_sk("2024-06-20")):
        item = store.campaigns[("spring", sort_key)]
        assert item["delivered"] == 3
        assert item["first_event_at"] == "2024-06-20T01:00:00.000Z"
        assert item["last_event_at"] == "2024-06-20T05:00:00.000Z"
        assert item["expires_at"] == ttl_epoch("2024-06-20T05:00:00.000Z", 90)


def test_bounce_types_go_to_their_counters():
    store, engine = make()
    engine.apply(
        [
            ses_event("Bounce", message_id="m1", bounce_type="Permanent"),
            ses_event("Bounce", message_id="m2", bounce_type="Transient"),
            ses_event("Bounce", message_id="m3", bounce_type="Undetermined"),
        ]
    )
    totals = store.counters("spring", COUNTERS_TOTAL)
    assert (totals["bounced_hard"], totals["bounced_soft"], totals["bounced_undetermined"]) == (1, 1, 1)
    assert store.messages["m1"]["bounce_type"] == "Permanent"


def test_untagged_events_count_under_untagged_and_sender_attribution_wins():
    store, engine = make()
    engine.apply([ses_event("Delivery", message_id="m1", campaign=None, list_name=None)])
    assert store.messages["m1"]["campaign_id"] == "untagged"
    assert store.counters("untagged", COUNTERS_TOTAL)["delivered"] == 1
    # an identity notification carries no tags: the attribution the sender stored is used
    mid = "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
    store.messages[mid] = {
        "message_id": mid,
        "campaign_id": "launch",
        "list_name": "beta",
        "recipient": "jane@example.com",
        "version": 3,
    }
    engine.apply([fixture_event("notification_delivery")])
    assert store.messages[mid]["version"] == 4
    assert store.counters("launch", counters_list_sk("beta"))["delivered"] == 1


def test_external_campaign_gets_a_meta_item_once():
    store, engine = make()
    engine.apply([ses_event("Delivery", message_id="m1")])
    engine.apply([ses_event("Delivery", message_id="m2")])
    meta = store.campaigns[("spring", "META")]
    assert meta["status"] == "external" and meta["listing_pk"] == "CAMPAIGN"
    assert meta["created_at"] == "2024-06-20T01:51:00.000Z"
    assert "data_expires_at" in meta


def test_history_entry_per_new_event_inside_the_summary_with_its_ttl():
    store, engine = make()
    event = ses_event("Bounce")
    engine.apply([event, event])
    summary = store.messages[MESSAGE_ID]
    assert len(summary["history"]) == 1
    entry = decode_entry(summary["history"][0])
    assert (entry.timestamp, entry.event_id) == ("2024-06-20T01:51:00.000Z", event.event_id[:16])
    assert summary["recipient_hash"] == H
    assert summary["expires_at"] - 90 * 86400 == 1718848260
    assert entry.detail["bounceType"] == "Permanent"
    assert entry.counters == ("bounced_hard",)


def test_unknown_event_type_is_stored_and_counted_unknown():
    store, engine = make()
    result = engine.apply([fixture_event("unknown_type")])
    assert list(result.outcomes.values()) == ["created"]
    assert store.counters("spring-sale", COUNTERS_TOTAL)["unknown"] == 1
    assert decode_entry(next(iter(store.messages.values()))["history"][0]).event_type == "FutureThing"


def test_permanent_bounce_suppresses_at_once():
    store, engine = make()
    engine.apply([ses_event("Bounce", bounce_type="Permanent")])
    item = store.suppressions[(H, "ALL")]
    assert item["reason"] == "BOUNCE"
    assert item["source_message_id"] == MESSAGE_ID
    assert item["email"] == RECIPIENT.lower()
    assert item["created_at"] == item["updated_at"] == "2024-06-20T01:51:00.000Z"
    assert "expires_at" not in item


def test_complaint_suppresses_and_outranks_a_bounce():
    store, engine = make()
    engine.apply([ses_event("Bounce", message_id="m1", ts="2024-06-20T01:00:00.000Z")])
    engine.apply([ses_event("Complaint", message_id="m2", ts="2024-06-20T02:00:00.000Z")])
    item = store.suppressions[(H, "ALL")]
    assert (item["reason"], item["source_message_id"]) == ("COMPLAINT", "m2")
    assert item["created_at"] == "2024-06-20T01:00:00.000Z"


def test_transient_bounce_and_delay_do_not_suppress():
    store, engine = make()
    engine.apply([ses_event("Bounce", bounce_type="Transient"), ses_event("DeliveryDelay", message_id="m2")])
    assert (H, "ALL") not in store.suppressions
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 1


def test_three_consecutive_soft_bounces_suppress_with_expiry():
    store, engine = make()
    for i in range(3):
        engine.apply(
            [ses_event("Bounce", message_id=f"m{i}", bounce_type="Transient", ts=f"2024-06-2{i}T01:00:00.000Z")]
        )
    item = store.suppressions[(H, "ALL")]
    assert item["reason"] == "SOFT_BOUNCE"
    assert item["source_message_id"] == "m2"
    assert item["expires_at"] == ttl_epoch("2024-06-22T01:00:00.000Z", 30)


def test_delivery_resets_the_soft_bounce_count():
    store, engine = make()
    engine.apply([ses_event("Bounce", message_id="m0", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    engine.apply([ses_event("Bounce", message_id="m1", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z")])
    engine.apply([ses_event("Delivery", message_id="m2", ts="2024-06-22T01:00:00.000Z")])
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 0
    engine.apply([ses_event("Bounce", message_id="m3", bounce_type="Transient", ts="2024-06-23T01:00:00.000Z")])
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 1
    assert (H, "ALL") not in store.suppressions


def test_soft_bounce_older_than_a_known_delivery_is_not_counted():
    store, engine = make()
    engine.apply([ses_event("Bounce", message_id="m0", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])
    engine.apply([ses_event("Delivery", message_id="m1", ts="2024-06-22T01:00:00.000Z")])
    # delivered out of order: older than the delivery already seen
    engine.apply([ses_event("Bounce", message_id="m2", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z")])
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 0


def test_soft_bounces_and_a_later_delivery_of_another_message_in_one_batch_reset_the_count():
    store, engine = make()  # soft-bounce limit 3
    engine.apply(
        [
            ses_event("Bounce", message_id="m0", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z"),
            ses_event("Bounce", message_id="m1", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z"),
            ses_event("Delivery", message_id="m2", ts="2024-06-22T01:00:00.000Z"),
        ]
    )
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 0  # as when applied one by one
    engine.apply([ses_event("Bounce", message_id="m3", bounce_type="Transient", ts="2024-06-23T01:00:00.000Z")])
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 1
    assert (H, "ALL") not in store.suppressions


def test_subscription_unsubscribe_all_suppresses_and_counts():
    store, engine = make()
    engine.apply([ses_event("Subscription", unsubscribe_all=True)])
    assert store.suppressions[(H, "ALL")]["reason"] == "UNSUBSCRIBE"
    totals = store.counters("spring", COUNTERS_TOTAL)
    assert (totals["subscription"], totals["unsubscribed"]) == (1, 1)


def test_concurrent_writer_conflict_reloads_and_applies_once():
    store, engine = make()
    engine.apply([ses_event("Send")])
    calls = {"n": 0}

    def concurrent_sender(tx):
        calls["n"] += 1
        if calls["n"] == 1:  # another writer bumps the version between our read and our write
            item = dict(store.messages[MESSAGE_ID])
            item["version"] += 1
            item["subject"] = "changed by sender"
            store.messages[MESSAGE_ID] = item

    store.before_commit = concurrent_sender
    result = engine.apply([ses_event("Delivery"), ses_event("Delivery", message_id="other")])
    assert result.failed == {}
    item = store.messages[MESSAGE_ID]
    assert item["subject"] == "changed by sender"
    assert item["status"] == "delivered" and item["version"] == 3
    assert store.counters("spring", COUNTERS_TOTAL)["delivered"] == 2
    assert calls["n"] == 2


def test_conflict_with_the_same_event_applied_elsewhere_becomes_a_duplicate():
    store, engine = make()
    other_store_view = IngestEngine(store)
    event = ses_event("Open")

    def racing_container(tx):
        store.before_commit = None
        other_store_view.apply([event])  # another container applies the same event first

    store.before_commit = racing_container
    result = engine.apply([event])
    assert result.outcomes[event.event_id] == "duplicate"
    assert store.counters("spring", COUNTERS_TOTAL)["opened_total"] == 1


def test_suppression_changed_by_another_writer_meanwhile_is_reread_not_overwritten():
    store, engine = make()
    engine.apply([ses_event("Bounce", message_id="a", bounce_type="Transient", ts="2024-06-19T01:00:00.000Z")])
    engine.apply([ses_event("Bounce", message_id="b", bounce_type="Transient", ts="2024-06-20T01:00:00.000Z")])

    def manual_suppression(tx):
        store.before_commit = None
        store.suppressions[(H, "ALL")] = {"recipient_hash": H, "scope": "ALL", "reason": "MANUAL"}

    store.before_commit = manual_suppression
    result = engine.apply([ses_event("Bounce", message_id="c", bounce_type="Transient", ts="2024-06-21T01:00:00.000Z")])
    assert result.failed == {}
    suppression = store.suppressions[(H, "ALL")]
    assert suppression["reason"] == "MANUAL" and "expires_at" not in suppression


def test_persistent_conflicts_are_reported_failed_not_raised():
    store, engine = make()

    bumps = iter(range(100, 200))

    def always_conflict(tx):
        for plan in tx.messages:
            store.messages[plan.message_id] = {"message_id": plan.message_id, "version": next(bumps)}

    store.before_commit = always_conflict
    event = ses_event("Delivery")
    result = engine.apply([event])
    assert event.event_id in result.failed
    assert store.counters("spring", COUNTERS_TOTAL) == {}


def test_large_batches_are_split_into_transactions_of_at_most_100_items():
    store, engine = make()
    events = [ses_event("Delivery", message_id=f"m{i}", campaign=f"c{i % 40}") for i in range(120)]
    seen_sizes = []
    store.before_commit = lambda tx: seen_sizes.append(tx.size)
    result = engine.apply(events)
    assert result.count("created") == 120
    assert len(seen_sizes) > 1 and max(seen_sizes) <= 100
    assert sum(store.counters(f"c{i}", COUNTERS_TOTAL).get("delivered", 0) for i in range(40)) == 120


def test_many_messages_sharing_a_recipient_are_split_safely():
    store, engine = make()
    engine.apply([ses_event("Bounce", message_id="soft", bounce_type="Transient", ts="2024-06-19T01:00:00.000Z")])
    sizes = []
    store.before_commit = lambda tx: sizes.append(tx.size)
    events = [ses_event("Delivery", message_id=f"m{i}", campaign=f"c{i}") for i in range(40)]
    result = engine.apply(events)
    assert result.count("created") == 40 and not result.failed
    assert max(sizes) <= 100 and len(sizes) > 1
    assert store.suppressions[(H, "SOFTBOUNCE")]["count"] == 0
    assert sum(store.counters(f"c{i}", COUNTERS_TOTAL)["delivered"] for i in range(40)) == 40
