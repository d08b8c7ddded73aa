"""Unsubscribe endpoint: GET never writes, one-click POST without cookies/JS, exactly-once counting, bad tokens."""

from __future__ import annotations

import json
import re

import pytest

from runtime.emails import recipient_hash
from runtime.tokens import TokenSigner
from tests.support.api_app import UNSUB_SECRET, api_client
from tests.support.api_tables import table_name

H = recipient_hash("reader@example.com")
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def api(monkeypatch):
    with api_client(monkeypatch) as pair:
        yield pair


def token(scope="campaign", **kw):
    defaults = {"campaign_id": "c1", "list_name": "news", "message_id": "m1"}
    defaults.update(kw)
    return TokenSigner([UNSUB_SECRET]).issue(H, scope, **defaults)


def table_items(ddb, logical):
    return ddb.scan(TableName=table_name(logical))["Items"]


def test_get_shows_an_accessible_confirmation_form_and_writes_nothing(api):
    client, ddb = api
    response = client.http.get(f"/unsubscribe?token={token()}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert '<html lang="en">' in page and "<title>" in page and "<h1>" in page
    assert re.search(r'<form method="post" action="\?token=[A-Za-z0-9._-]+">', page)
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    assert "<script" not in page and "Set-Cookie" not in response.headers
    for _ in range(3):  # link scanners hit GET repeatedly
        client.http.get(f"/unsubscribe?token={token()}")
    assert table_items(ddb, "suppressions") == []
    assert table_items(ddb, "campaigns") == []


def test_one_click_post_without_cookies_or_javascript_suppresses_and_counts_once(api):
    client, ddb = api
    t = token()
    for _ in range(3):
        response = client.http.post(f"/unsubscribe?token={t}", headers=ONE_CLICK, body="List-Unsubscribe=One-Click")
        assert response.status_code == 200
        assert "unsubscribed" in response.body.decode()
    items = table_items(ddb, "suppressions")
    assert len(items) == 1
    assert items[0]["scope"] == {"S": "CAMPAIGN#c1"} and items[0]["reason"] == {"S": "UNSUBSCRIBE"}
    assert "email" not in items[0]
    counters = {i["sk"]["S"]: i["unsubscribed"]["N"] for i in table_items(ddb, "campaigns")}
    assert counters["COUNTERS#TOTAL"] == "1"
    assert counters["COUNTERS#LIST#news"] == "1"
    assert any(k.startswith("COUNTERS#DAY#") and v == "1" for k, v in counters.items())


def test_unsubscribe_moves_the_campaign_counters_last_event_and_ttl_forward_never_back(api):
    from datetime import UTC, datetime

    from runtime.stores.schema import iso, ttl_epoch

    client, ddb = api
    old, future = "2020-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z"
    for sk, last in (("COUNTERS#TOTAL", old), ("COUNTERS#LIST#news", future)):
        ddb.put_item(
            TableName=table_name("campaigns"),
            Item={
                "campaign_id": {"S": "c1"},
                "sk": {"S": sk},
                "delivered": {"N": "5"},
                "first_event_at": {"S": old},
                "last_event_at": {"S": last},
                "expires_at": {"N": str(ttl_epoch(last, 90))},
            },
        )
    before = datetime.now(UTC)
    response = client.http.post(f"/unsubscribe?token={token()}", headers=ONE_CLICK, body="List-Unsubscribe=One-Click")
    assert response.status_code == 200
    items = {i["sk"]["S"]: i for i in table_items(ddb, "campaigns")}
    total, news = items["COUNTERS#TOTAL"], items["COUNTERS#LIST#news"]
    assert total["unsubscribed"] == {"N": "1"} and total["first_event_at"] == {"S": old}
    assert total["last_event_at"]["S"] >= iso(before)  # moved forward to the unsubscribe
    assert int(total["expires_at"]["N"]) >= ttl_epoch(before, 90)
    assert news["last_event_at"] == {"S": future}  # never moved back
    assert news["expires_at"] == {"N": str(ttl_epoch(future, 90))}


def test_form_post_with_token_in_the_body_and_list_scope(api):
    client, ddb = api
    t = token("list", campaign_id=None)
    response = client.http.post("/unsubscribe", headers=ONE_CLICK, body=f"List-Unsubscribe=One-Click&token={t}")
    assert response.status_code == 200
    assert table_items(ddb, "suppressions")[0]["scope"] == {"S": "LIST#news"}
    assert table_items(ddb, "campaigns") == []


def test_unsubscribed_recipient_is_reported_suppressed_to_the_sender(api):
    client, ddb = api
    client.http.post(f"/unsubscribe?token={token('all', campaign_id=None, list_name=None)}", headers=ONE_CLICK)
    from runtime.stores.suppressions import DynamoSuppressionStore

    store = DynamoSuppressionStore(ddb, table_name("suppressions"))
    assert store.suppressed([H], list_name="anything")[H].reason == "UNSUBSCRIBE"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_truncated_and_expired_tokens_get_a_400_page_and_write_nothing(api, method):
    client, ddb = api
    good = token()
    forged = TokenSigner(["some-other-secret-0123456789"]).issue(H, "all")
    expired = TokenSigner([UNSUB_SECRET], clock=lambda: 1_000_000.0).issue(H, "all", ttl_seconds=60)
    for bad in (forged, good[:-5], good.split(".")[0], expired, "", "x" * 3000):
        response = client.http.request(method, f"/unsubscribe?token={bad}", headers=ONE_CLICK, body="")
        assert response.status_code == 400, bad[:20]
        assert response.headers["Content-Type"].startswith("text/html")
    assert table_items(ddb, "suppressions") == []
    assert table_items(ddb, "campaigns") == []


def test_unsubscribe_is_forwarded_at_once_when_forwarding_is_on(monkeypatch):
    from tests.support.api_http import receiver

    with receiver() as hook, api_client(monkeypatch, SESAME_FORWARD_SECRET="forward-secret-0123456789") as pair:
        client, _ = pair
        monkeypatch.setenv("SESAME_FORWARD_URL", hook.url)
        from chalicelib import wiring

        wiring.reset()
        client.http.post(f"/unsubscribe?token={token()}", headers=ONE_CLICK, body="List-Unsubscribe=One-Click")
        client.http.post(f"/unsubscribe?token={token()}", headers=ONE_CLICK, body="List-Unsubscribe=One-Click")
        assert len(hook.requests) == 1  # only the first (new) unsubscribe is an event
        event = json.loads(hook.requests[0][1])["events"][0]
        assert event["event_type"] == "Unsubscribe" and event["campaign_id"] == "c1"


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded; charset=UTF-8", "multipart/form-data; boundary=xyz", None],
)
def test_one_click_accepts_the_content_types_mail_clients_send(api, content_type):
    client, ddb = api
    headers = {"Content-Type": content_type} if content_type else {}
    body = "List-Unsubscribe=One-Click"
    if content_type and content_type.startswith("multipart"):
        body = '--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--xyz--\r\n'
    response = client.http.post(f"/unsubscribe?token={token()}", headers=headers, body=body)
    assert response.status_code == 200
    assert len(table_items(ddb, "suppressions")) == 1
