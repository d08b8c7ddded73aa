from __future__ import annotations

from datetime import UTC, datetime

from runtime.query import stats


def test_rates_use_sent_for_delivery_and_bounce_and_delivered_for_engagement():
    counts = stats.counters_of(
        {
            "sent": 200,
            "delivered": 100,
            "bounced_hard": 4,
            "bounced_soft": 2,
            "opened_unique": 50,
            "clicked_unique": 10,
            "complained": 1,
            "unsubscribed": 2,
        }
    )
    rates = stats.rates_of(counts)
    assert counts["bounced"] == 6
    assert rates == {
        "delivery_rate": 0.5,
        "bounce_rate": 0.03,
        "open_rate": 0.5,
        "click_rate": 0.1,
        "click_to_open_rate": 0.2,
        "complaint_rate": 0.01,
        "unsubscribe_rate": 0.02,
    }


def test_rates_are_zero_not_errors_without_sends():
    assert set(stats.rates_of(stats.counters_of(None)).values()) == {0.0}


def test_stats_document_from_one_query_with_list_and_day_series():
    items = [
        {"campaign_id": "c", "sk": "META", "status": "launched"},
        {"campaign_id": "c", "sk": "COUNTERS#TOTAL", "sent": 10},
        {"campaign_id": "c", "sk": "COUNTERS#LIST#b", "sent": 4},
        {"campaign_id": "c", "sk": "COUNTERS#LIST#a", "sent": 6},
        {"campaign_id": "c", "sk": "COUNTERS#DAY#2026-05-02", "sent": 3},
        {"campaign_id": "c", "sk": "COUNTERS#DAY#2026-05-01", "sent": 7},
    ]
    doc = stats.campaign_stats("c", items, list_name="a", by_day=True)
    assert doc["counters"]["sent"] == 10 and doc["status"] == "launched"
    assert doc["lists"] == ["a", "b"]
    assert doc["list"]["counters"]["sent"] == 6
    assert [(d["day"], d["counters"]["sent"]) for d in doc["series"]] == [("2026-05-01", 7), ("2026-05-02", 3)]
    assert "series" not in stats.campaign_stats("c", items)


def test_by_list_gives_every_list_block_from_the_same_items():
    items = [
        {"campaign_id": "c", "sk": "META", "status": "launched"},
        {"campaign_id": "c", "sk": "COUNTERS#TOTAL", "sent": 10, "delivered": 8},
        {"campaign_id": "c", "sk": "COUNTERS#LIST#b", "sent": 4, "delivered": 4},
        {"campaign_id": "c", "sk": "COUNTERS#LIST#a", "sent": 6, "delivered": 4},
    ]
    doc = stats.campaign_stats("c", items, by_list=True)
    assert [(b["list_name"], b["counters"]["sent"], b["rates"]["delivery_rate"]) for b in doc["by_list"]] == [
        ("a", 6, 0.666667),
        ("b", 4, 1.0),
    ]
    assert "by_list" not in stats.campaign_stats("c", items)


def test_expired_means_meta_without_counters_past_retention():
    now = datetime(2026, 9, 1, tzinfo=UTC)
    assert stats.is_expired({"data_expires_at": now.timestamp() - 1}, None, now, 90)
    assert not stats.is_expired({"data_expires_at": now.timestamp() + 1}, None, now, 90)
    assert not stats.is_expired({"data_expires_at": 0}, {"sent": 1}, now, 90)
    assert stats.is_expired({"status": "launched", "created_at": "2026-05-01T00:00:00Z"}, None, now, 90)
    assert not stats.is_expired({"status": "scheduled", "created_at": "2026-05-01T00:00:00Z"}, None, now, 90)
    assert not stats.is_expired({"status": "launched", "created_at": "2026-08-20T00:00:00Z"}, None, now, 90)
