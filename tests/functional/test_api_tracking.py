"""Tracking API through chalice.test.Client on moto tables: auth, pagination tokens, stats, expiry, GDPR."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from runtime.emails import recipient_hash
from runtime.stores.suppressions import DynamoSuppressionStore, Suppression
from tests.support.api_app import AUTH, ORIGIN, OTHER_KEY, api_client, seed_campaign, seed_message
from tests.support.api_tables import table_name

# (method, path) of every authenticated route of the blueprint
AUTHED = [
    ("GET", "/messages/0100018f0000abcd-1"),
    ("GET", "/campaigns"),
    ("GET", "/campaigns/c1/stats"),
    ("GET", "/campaigns/c1/messages"),
    ("GET", "/recipients/a@example.com/messages"),
    ("GET", "/recipients/a@example.com/events"),
    ("DELETE", "/recipients/a@example.com"),
    ("GET", "/suppressions/a@example.com"),
    ("PUT", "/suppressions/a@example.com"),
    ("DELETE", "/suppressions/a@example.com"),
    ("GET", "/suppressions?reason=MANUAL"),
]


@pytest.fixture
def api(monkeypatch):
    with api_client(monkeypatch) as pair:
        yield pair


def body(response):
    return json.loads(response.body)


@pytest.mark.parametrize(("method", "path"), AUTHED)
def test_every_route_answers_401_with_www_authenticate_without_a_key(api, method, path):
    client, _ = api
    response = client.http.request(method, path, headers={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in body(response)["Message"]


@pytest.mark.parametrize(("method", "path"), AUTHED)
def test_every_route_answers_403_with_a_wrong_key(api, method, path):
    client, _ = api
    response = client.http.request(method, path, headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert response.status_code == 403
    assert body(response)["Code"] == "ForbiddenError"


def test_health_needs_no_key(api):
    client, _ = api
    response = client.http.get("/health")
    assert response.status_code == 200
    assert body(response) == {"status": "ok"}


def test_message_summary_and_history_newest_first(api):
    client, ddb = api
    seed_message(ddb, "m-1", "a@example.com", events=3)
    response = client.http.get("/messages/m-1", headers=AUTH)
    assert response.status_code == 200
    doc = body(response)
    assert doc["message"]["status"] == "delivered"
    assert "event_ids" not in doc["message"]
    stamps = [e["timestamp"] for e in doc["events"]]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 3
    assert doc["events"][0]["detail"] == {"destination": ["a@example.com"]}
    assert response.headers["Cache-Control"].startswith("private, max-age=")


def _ses_id(sent: datetime) -> str:
    return f"0100{int(sent.timestamp() * 1000):012x}-1d2c3b4a-0000-0000-0000-000000000000-000000"


def test_unknown_message_is_404_but_one_past_its_ttl_is_410_no_data(api):
    client, _ = api
    recent = client.http.get(f"/messages/{_ses_id(datetime.now(UTC) - timedelta(days=1))}", headers=AUTH)
    old = client.http.get(f"/messages/{_ses_id(datetime.now(UTC) - timedelta(days=200))}", headers=AUTH)
    assert recent.status_code == 404
    assert old.status_code == 410
    assert body(old)["Code"] == "Expired"
    assert "no data" in body(old)["Message"]


def test_campaign_stats_with_rates_list_breakdown_and_day_series(api):
    client, ddb = api
    seed_campaign(ddb, "c1", messages=1000)
    doc = body(client.http.get("/campaigns/c1/stats?list_name=news&by=day", headers=AUTH))
    assert doc["counters"]["sent"] == 1000
    assert doc["counters"]["bounced"] == 30
    assert doc["rates"]["delivery_rate"] == 0.95
    assert doc["rates"]["bounce_rate"] == 0.03
    assert doc["list"]["list_name"] == "news" and doc["list"]["counters"]["sent"] == 500
    assert [d["day"] for d in doc["series"]] == ["2026-05-01", "2026-05-02"]
    assert doc["lists"] == ["news", "promo"]


def test_campaign_stats_by_day_and_list_in_one_request(api):
    client, ddb = api
    seed_campaign(ddb, "c1", messages=1000)
    from chalicelib import tracking_api

    reader = tracking_api.queries().reader
    before = reader.requests
    doc = body(client.http.get("/campaigns/c1/stats?by=day,list", headers=AUTH))
    assert reader.requests - before == 1
    assert [(b["list_name"], b["counters"]["sent"]) for b in doc["by_list"]] == [("news", 500), ("promo", 500)]
    assert doc["by_list"][0]["rates"]["delivery_rate"] == 0.95
    assert [d["day"] for d in doc["series"]] == ["2026-05-01", "2026-05-02"]
    only_lists = body(client.http.get("/campaigns/c1/stats?by=list", headers=AUTH))
    assert "series" not in only_lists and len(only_lists["by_list"]) == 2


@pytest.mark.parametrize("by", ["week", "day,week", "lists"])
def test_campaign_stats_rejects_an_unknown_breakdown_with_400_naming_by(api, by):
    client, ddb = api
    seed_campaign(ddb, "c1", messages=10)
    response = client.http.get(f"/campaigns/c1/stats?by={by}", headers=AUTH)
    assert response.status_code == 400
    assert body(response)["Message"].startswith("by must be")


def test_campaign_stats_is_one_dynamodb_request_whatever_the_size(api):
    client, ddb = api
    seed_campaign(ddb, "small", messages=1_000, days=tuple(f"2026-05-{d:02d}" for d in range(1, 31)))
    seed_campaign(ddb, "big", messages=100_000, days=tuple(f"2026-05-{d:02d}" for d in range(1, 31)))
    from chalicelib import tracking_api

    reader = tracking_api.queries().reader
    for campaign in ("small", "big"):
        before = reader.requests
        assert client.http.get(f"/campaigns/{campaign}/stats?by=day", headers=AUTH).status_code == 200
        assert reader.requests - before == 1


def test_campaign_whose_counters_expired_is_410_and_unknown_is_404(api):
    client, ddb = api
    seed_campaign(ddb, "old", counters=False, data_expires_at=int(time.time()) - 10)
    seed_campaign(ddb, "fresh", counters=False, status="scheduled")
    assert client.http.get("/campaigns/old/stats", headers=AUTH).status_code == 410
    assert client.http.get("/campaigns/nope/stats", headers=AUTH).status_code == 404
    fresh = client.http.get("/campaigns/fresh/stats", headers=AUTH)
    assert fresh.status_code == 200 and body(fresh)["counters"]["sent"] == 0


def test_campaign_listing_pages_with_counters(api):
    client, ddb = api
    for i in range(3):
        seed_campaign(ddb, f"c{i}", messages=100 * (i + 1), created_at=f"2026-05-0{i + 1}T00:00:00.000Z")
    first = body(client.http.get("/campaigns?limit=2", headers=AUTH))
    assert [c["campaign_id"] for c in first["items"]] == ["c2", "c1"]
    assert first["items"][0]["counters"]["sent"] == 300
    second = body(client.http.get(f"/campaigns?limit=2&next_token={first['next_token']}", headers=AUTH))
    assert [c["campaign_id"] for c in second["items"]] == ["c0"]
    assert second["next_token"] is None


def test_campaign_messages_filter_by_status_and_paginate(api):
    client, ddb = api
    for i in range(5):
        seed_message(ddb, f"m{i}", f"r{i}@example.com", status="delivered" if i % 2 else "bounced", events=0)
    seen = []
    token = ""
    for _ in range(5):
        doc = body(client.http.get(f"/campaigns/c1/messages?status=bounced&limit=2&next_token={token}", headers=AUTH))
        seen += [m["message_id"] for m in doc["items"]]
        token = doc["next_token"]
        if not token:
            break
    assert sorted(seen) == ["m0", "m2", "m4"]


def test_campaign_messages_merge_the_index_shards_newest_first_without_gaps_or_repeats(api):
    client, ddb = api
    statuses = ("delivered", "opened", "bounced")
    for i in range(40):
        sent_at = f"2026-05-01T10:{i // 60:02d}:{i % 60:02d}.000Z"
        seed_message(ddb, f"m{i:02d}", f"r{i}@example.com", status=statuses[i % 3], sent_at=sent_at, events=0)
    seed_message(ddb, "other", "o@example.com", campaign_id="c2", events=0)
    for status, expected in (
        (None, [f"m{i:02d}" for i in range(40)]),
        ("bounced", [f"m{i:02d}" for i in range(2, 40, 3)]),
    ):
        seen, token = [], ""
        for _ in range(50):
            query = f"limit=3&next_token={token}" + (f"&status={status}" if status else "")
            doc = body(client.http.get(f"/campaigns/c1/messages?{query}", headers=AUTH))
            assert len(doc["items"]) <= 3
            assert all(m["campaign_id"] == "c1" and (not status or m["status"] == status) for m in doc["items"])
            seen += [m["message_id"] for m in doc["items"]]
            token = doc["next_token"]
            if not token:
                break
        assert seen == sorted(expected, reverse=True)  # newest sent first, each once


def test_a_rare_status_page_examines_a_bounded_number_of_messages_and_continues(api, monkeypatch):
    from runtime.query import reader

    monkeypatch.setattr(reader, "MAX_EXAMINED_PER_PAGE", 10)
    client, ddb = api
    for i in range(30):
        status = "complained" if i in (3, 25) else "delivered"
        seed_message(
            ddb, f"m{i:02d}", f"r{i}@example.com", status=status, sent_at=f"2026-05-01T10:00:{i:02d}.000Z", events=0
        )
    first = body(client.http.get("/campaigns/c1/messages?status=complained&limit=5", headers=AUTH))
    assert [m["message_id"] for m in first["items"]] == ["m25"] and first["next_token"]
    seen = [m["message_id"] for m in first["items"]]
    token = first["next_token"]
    while token:
        doc = body(
            client.http.get(f"/campaigns/c1/messages?status=complained&limit=5&next_token={token}", headers=AUTH)
        )
        seen += [m["message_id"] for m in doc["items"]]
        token = doc["next_token"]
    assert seen == ["m25", "m03"]


def test_tampered_or_foreign_page_tokens_are_400(api):
    client, ddb = api
    for i in range(3):
        seed_message(ddb, f"m{i}", f"r{i}@example.com", events=0)
    token = body(client.http.get("/campaigns/c1/messages?limit=1", headers=AUTH))["next_token"]
    assert token
    payload, mac = token.split(".")
    flipped = ("A" if payload[0] != "A" else "B") + payload[1:]
    for bad in (f"{flipped}.{mac}", token[:-3], "garbage", f"{payload}.{mac}x"):
        response = client.http.get(f"/campaigns/c1/messages?limit=1&next_token={bad}", headers=AUTH)
        assert response.status_code == 400, bad
        assert "next_token" in body(response)["Message"]
    other_filter = client.http.get(f"/campaigns/c1/messages?status=delivered&next_token={token}", headers=AUTH)
    assert other_filter.status_code == 400


@pytest.mark.parametrize("email", ["not-an-email", "josé@example.com", "a@ex%C3%A4mple.com", "üser@example.com"])
def test_invalid_and_unicode_emails_are_400_with_a_message(api, email):
    client, _ = api
    for method, path in (
        ("GET", f"/recipients/{email}/messages"),
        ("DELETE", f"/recipients/{email}"),
        ("GET", f"/suppressions/{email}"),
    ):
        response = client.http.request(method, path, headers=AUTH)
        assert response.status_code == 400, (method, path)
        assert body(response)["Message"].startswith("email:")


def test_recipient_access_lists_messages_events_and_suppressions(api):
    client, ddb = api
    seed_message(ddb, "m1", "a@example.com", events=2)
    seed_message(ddb, "m2", "b@example.com", events=2)
    client.http.put("/suppressions/a@example.com", headers=AUTH, body=json.dumps({"scope": "all"}))
    messages = body(client.http.get("/recipients/A@Example.com/messages", headers=AUTH))
    assert [m["message_id"] for m in messages["items"]] == ["m1"]
    assert messages["suppressions"][0]["scope"] == "ALL"
    events = body(client.http.get("/recipients/a%40example.com/events", headers=AUTH))
    assert {e["message_id"] for e in events["items"]} == {"m1"} and len(events["items"]) == 2


def test_erasure_leaves_no_personal_data_but_keeps_the_hashed_suppression(api):
    client, ddb = api
    email = "erase.me@example.com"
    seed_message(ddb, "m1", email, events=3)
    seed_message(ddb, "m2", email, events=1)
    seed_message(ddb, "keep", "other@example.com", events=1)
    store = DynamoSuppressionStore(ddb, table_name("suppressions"))
    store.put(Suppression(recipient_hash(email), "LIST#news", "UNSUBSCRIBE", email=email))
    response = client.http.delete(f"/recipients/{email}", headers=AUTH)
    assert response.status_code == 200
    assert body(response)["deleted_messages"] == 2 and body(response)["deleted_events"] == 4
    dump = json.dumps([ddb.scan(TableName=table_name(t))["Items"] for t in ("messages", "suppressions", "campaigns")])
    assert email not in dump and "erase.me" not in dump
    assert "other@example.com" in dump
    entry = store.get(recipient_hash(email))
    assert entry is not None and entry.scope == "ALL" and entry.expires_at is None
    assert set(store.suppressed([recipient_hash(email)])) == {recipient_hash(email)}


def test_manual_suppression_put_get_list_and_override(api):
    client, _ = api
    put = client.http.put(
        "/suppressions/a@example.com",
        headers={**AUTH, "Content-Type": "application/json"},
        body=json.dumps({"scope": "list", "list_name": "news"}),
    )
    assert put.status_code == 200 and body(put)["scope"] == "LIST#news" and body(put)["reason"] == "MANUAL"
    got = body(client.http.get("/suppressions/a@example.com", headers=AUTH))
    assert got["suppressed"] is True and got["items"][0]["email"] == "a@example.com"
    listed = body(client.http.get("/suppressions?reason=MANUAL", headers=AUTH))
    assert [s["scope"] for s in listed["items"]] == ["LIST#news"]
    bad = client.http.put("/suppressions/a@example.com", headers=AUTH, body=json.dumps({"scope": "everything"}))
    assert bad.status_code == 400
    deleted = client.http.delete("/suppressions/a@example.com?scope=list&list_name=news", headers=AUTH)
    assert deleted.status_code == 200
    assert client.http.get("/suppressions/a@example.com", headers=AUTH).status_code == 404
    assert client.http.get("/suppressions?reason=NOPE", headers=AUTH).status_code == 400


def test_list_and_campaign_scopes_have_one_canonical_form_for_every_writer_and_reader(api):
    from runtime.tokens import TokenSigner
    from tests.support.api_app import UNSUB_SECRET

    client, ddb = api
    json_auth = {**AUTH, "Content-Type": "application/json"}
    # a manual list suppression given the list's display name...
    put = client.http.put(
        "/suppressions/a@example.com",
        headers=json_auth,
        body=json.dumps({"scope": "list", "list_name": "Spring Newsletter"}),
    )
    assert put.status_code == 200 and body(put)["scope"] == "LIST#Spring_Newsletter"
    # ...blocks the sender, which looks lists up in the SES tag form it sends them with
    store = DynamoSuppressionStore(ddb, table_name("suppressions"))
    a, b = recipient_hash("a@example.com"), recipient_hash("b@example.com")
    assert set(store.suppressed([a], list_name="Spring_Newsletter")) == {a}
    # a one-click unsubscribe (token issued by the sender, tag form) can be lifted by the display name
    token = TokenSigner([UNSUB_SECRET]).issue(b, "list", list_name="Spring_Newsletter")
    one_click = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (
        client.http.post(
            f"/unsubscribe?token={token}", headers=one_click, body="List-Unsubscribe=One-Click"
        ).status_code
        == 200
    )
    assert set(store.suppressed([b], list_name="Spring Newsletter")) == {b}
    lifted = client.http.delete("/suppressions/b@example.com?scope=list&list_name=Spring%20Newsletter", headers=AUTH)
    assert lifted.status_code == 200 and body(lifted)["scope"] == "LIST#Spring_Newsletter"
    assert store.suppressed([b], list_name="Spring_Newsletter") == {}
    # campaign scopes too
    put = client.http.put(
        "/suppressions/a@example.com",
        headers=json_auth,
        body=json.dumps({"scope": "campaign", "campaign_id": "Spring Sale 2026"}),
    )
    assert body(put)["scope"] == "CAMPAIGN#Spring_Sale_2026"
    assert store.suppressed([a], campaign_id="Spring_Sale_2026")[a].scope == "CAMPAIGN#Spring_Sale_2026"
    # and the stats list filter
    seed_campaign(ddb, "c9", messages=100, lists=("Spring_Newsletter", "promo"))
    doc = body(client.http.get("/campaigns/c9/stats?list_name=Spring%20Newsletter", headers=AUTH))
    assert doc["list"]["list_name"] == "Spring_Newsletter" and doc["list"]["counters"]["sent"] == 50


@pytest.mark.parametrize("depth", [50_000, 200], ids=["recursion", "too-deep"])
def test_deeply_nested_json_on_put_suppression_is_400(api, depth):
    client, ddb = api
    body = '{"scope": ' + "[" * depth + "]" * depth + "}"
    response = client.http.put(
        "/suppressions/a@example.com", headers={**AUTH, "Content-Type": "application/json"}, body=body
    )
    assert response.status_code == 400
    error = json.loads(response.body)
    assert error["Code"] == "BadRequestError" and "nest" in error["Message"]
    assert ddb.scan(TableName=table_name("suppressions"))["Items"] == []


def test_every_answer_of_the_app_carries_nosniff(api):
    client, _ = api
    json_auth = {**AUTH, "Content-Type": "application/json"}
    answers = [
        client.http.get("/health"),
        client.http.get("/campaigns"),  # 401
        client.http.get("/messages/0100018f0000abcd-1", headers=AUTH),  # 404
        client.http.get("/suppressions?reason=NOPE", headers=AUTH),  # 400
        client.http.put("/suppressions/a@example.com", headers=json_auth, body="{}"),  # 200
        client.http.post("/webhooks/ses", headers={"Content-Type": "text/plain"}, body="not json"),  # 400
        client.http.get("/unsubscribe?token=forged"),  # an HTML page
        client.http.request("OPTIONS", "/campaigns", headers={"Origin": ORIGIN}),
    ]
    for response in answers:
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (response.status_code, response.headers)


def test_cors_echoes_only_configured_origins(api):
    client, _ = api
    allowed = client.http.get("/campaigns", headers={**AUTH, "Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = client.http.get("/campaigns", headers={**AUTH, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.http.request("OPTIONS", "/campaigns/c1/stats", headers={"Origin": ORIGIN})
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
