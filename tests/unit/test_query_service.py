"""Use cases of the tracking API on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.emails import recipient_hash
from runtime.query.errors import ExpiredError, InvalidPageTokenError, InvalidQueryError, NotFoundError
from runtime.query.pagination import PageTokens
from runtime.query.reader import InMemoryTrackingReader
from runtime.query.service import TrackingQueries
from runtime.stores.history import encode_entry
from runtime.stores.suppressions import InMemorySuppressionStore, Suppression

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make():
    reader = InMemoryTrackingReader()
    store = InMemorySuppressionStore(clock=lambda: NOW)
    return TrackingQueries(reader, store, PageTokens("s" * 20), clock=lambda: NOW), reader, store


def message(mid, email, campaign="c1", status="delivered", sent_at="2026-05-01T00:00:00.000Z"):
    return {
        "message_id": mid,
        "recipient": email,
        "recipient_hash": recipient_hash(email),
        "campaign_id": campaign,
        "status": status,
        "campaign_sk": f"{sent_at}#{mid}",
        "sent_at": sent_at,
        "event_ids": {"e1"},
        "version": 1,
    }


def test_message_hides_internal_fields_and_parses_detail():
    q, reader, _ = make()
    reader.messages["m1"] = message("m1", "a@example.com")
    reader.messages["m1"]["history"] = [encode_entry("2026-05-01T00:00:00.000Z", "Send", "e1", ["sent"], {"x": 1})]
    doc = q.message("m1")
    assert "event_ids" not in doc["message"] and "version" not in doc["message"]
    assert "history" not in doc["message"] and "campaign_sk" not in doc["message"]
    assert doc["events"][0]["detail"] == {"x": 1}
    assert doc["events"][0]["event_type"] == "Send" and doc["events"][0]["message_id"] == "m1"


def test_unknown_message_ids_are_not_found_and_old_ses_ids_expired():
    q, _, _ = make()
    old = NOW - timedelta(days=120)
    ses_id = f"0100{int(old.timestamp() * 1000):012x}-aaaa-bbbb-000000"
    with pytest.raises(ExpiredError, match="no data"):
        q.message(ses_id)
    with pytest.raises(NotFoundError):
        q.message("local-0123")


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_limit_out_of_range_is_invalid(limit):
    q, _, _ = make()
    with pytest.raises(InvalidQueryError, match="limit"):
        q.campaigns(limit, None)


def test_campaign_messages_status_must_be_known():
    q, _, _ = make()
    with pytest.raises(InvalidQueryError, match="status"):
        q.campaign_messages("c1", "lost", None, None)


def test_recipient_pages_cannot_be_continued_with_another_recipients_token():
    q, reader, _ = make()
    for i in range(3):
        reader.messages[f"m{i}"] = message(f"m{i}", "a@example.com", sent_at=f"2026-05-0{i + 1}T00:00:00.000Z")
    page = q.recipient_messages("a@example.com", "2", None)
    assert [m["message_id"] for m in page["items"]] == ["m2", "m1"]
    with pytest.raises(InvalidPageTokenError):
        q.recipient_messages("b@example.com", "2", page["next_token"])
    rest = q.recipient_messages("a@example.com", "2", page["next_token"])
    assert [m["message_id"] for m in rest["items"]] == ["m0"] and rest["next_token"] is None


def test_erasure_removes_data_and_keeps_a_permanent_hashed_suppression():
    q, reader, store = make()
    reader.messages["m1"] = message("m1", "a@example.com")
    reader.messages["m2"] = message("m2", "b@example.com")
    reader.messages["m1"]["history"] = [encode_entry("2026-05-01T00:00:00.000Z", "Send", "e1", ["sent"], {})]
    store.put(Suppression(recipient_hash("a@example.com"), "LIST#news", "UNSUBSCRIBE", email="a@example.com"))
    result = q.erase_recipient("A@example.com")
    assert result["deleted_messages"] == 1 and result["deleted_events"] == 1
    assert set(reader.messages) == {"m2"}
    items = store.list_for_recipient(recipient_hash("a@example.com"))
    assert {s.scope for s in items} == {"ALL", "LIST#news"} and all(s.email is None for s in items)


@pytest.mark.parametrize("email", ["nope", "ünï@example.com", "a@b", ""])
def test_invalid_emails_are_invalid_with_a_message(email):
    q, _, _ = make()
    with pytest.raises(InvalidQueryError, match="^email: "):
        q.recipient_events(email, None, None)


def test_put_suppression_validates_scope_reason_and_fields():
    q, _, _ = make()
    assert q.put_suppression("a@example.com", {"scope": "campaign", "campaign_id": "c9"})["scope"] == "CAMPAIGN#c9"
    for body in ({"scope": "list"}, {"reason": "BORED"}, {"colour": "red"}, {"scope": 3}):
        with pytest.raises(InvalidQueryError):
            q.put_suppression("a@example.com", body)


def test_list_suppressions_requires_a_known_reason():
    q, _, _ = make()
    with pytest.raises(InvalidQueryError):
        q.list_suppressions(None, None, None)
    with pytest.raises(InvalidQueryError):
        q.list_suppressions("LOST", None, None)


def test_recipient_events_come_from_the_summaries_histories_newest_first_and_pages_may_split_a_message():
    q, reader, _ = make()
    for n, (mid, sent_at) in enumerate((("m1", "2026-05-01T00:00:00.000Z"), ("m2", "2026-05-02T00:00:00.000Z"))):
        reader.messages[mid] = message(mid, "a@example.com", sent_at=sent_at)
        reader.messages[mid]["history"] = [
            encode_entry(f"{sent_at[:11]}0{i}:00:00.000Z", kind, f"{mid}e{i}", [], {})
            for i, kind in enumerate(("Send", "Delivery", "Open"))
        ]
    reader.messages["m3"] = message("m3", "b@example.com")
    seen, token = [], None
    for _ in range(10):
        page = q.recipient_events("a@example.com", "2", token)
        assert len(page["items"]) <= 2
        seen += [(e["message_id"], e["event_type"]) for e in page["items"]]
        token = page["next_token"]
        if not token:
            break
    kinds = ["Open", "Delivery", "Send"]
    assert seen == [("m2", k) for k in kinds] + [("m1", k) for k in kinds]
