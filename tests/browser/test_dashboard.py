"""The dashboard in headless Chromium against the app served by chalice's local server on seeded moto tables.

Every number the page shows is checked against what the API answers at that moment (the API is the contract;
the seeding goes through the production writers: campaign store, sender ledger, SES event simulator, ingestion).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from runtime.stores.schema import iso
from tests.support.api_app import API_KEY, OTHER_KEY, seed_campaign
from tests.support.dashboard import DEMO_ID, EXPIRED_ID, SCHEDULED_ID, stage_proxy

RATE_KEYS = ("delivery_rate", "open_rate", "click_rate", "bounce_rate", "complaint_rate")


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def percent(text: str) -> float:
    return float(text.replace("%", "").replace(",", "").strip())


def assert_rate(text: str, rate: float) -> None:
    """The page shows rates as percentages with at most 2 decimals (the reader's locale)."""
    assert abs(percent(text) - rate * 100) <= 0.0051, (text, rate)


def cell(row, key: str) -> str:
    return row.locator(f'[data-field="{key}"]').inner_text()


def row_keys(page, scope: str = "main") -> list[str]:
    return page.locator(f"{scope} table.responsive > tbody > tr").evaluate_all("rows => rows.map(r => r.dataset.key)")


def api_path(value: str) -> str:
    return quote(value, safe="")


# --------------------------------------------------------------------------------------------------------------
# campaigns


def test_campaigns_view_shows_the_demo_campaign_with_the_counts_the_api_returns(browse):
    page, site = browse.page, browse.site
    browse.open()
    row = page.locator(f'tr[data-key="{DEMO_ID}"]')
    expect(row).to_be_visible()
    listing = site.get("/campaigns?limit=20")
    demo = next(item for item in listing["items"] if item["campaign_id"] == DEMO_ID)
    assert demo["counters"]["sent"] > 50
    assert number(cell(row, "sent")) == demo["counters"]["sent"]
    for key in RATE_KEYS:
        assert_rate(cell(row, key), demo["rates"][key])
    assert cell(row, "status") == "launched"
    assert row_keys(page) == [item["campaign_id"] for item in listing["items"]]
    browse.shot("campaigns")

    page.get_by_role("button", name="Next →").click()
    second = site.get(f"/campaigns?limit=20&next_token={quote(listing['next_token'])}")
    expect(page.locator(f'tr[data-key="{second["items"][0]["campaign_id"]}"]')).to_be_visible()
    assert row_keys(page) == [item["campaign_id"] for item in second["items"]]
    expired = page.locator(f'tr[data-key="{EXPIRED_ID}"]')
    assert cell(expired, "sent") == "no data" and cell(expired, "open_rate") == "no data"
    page.get_by_role("button", name="← Previous").click()
    expect(row).to_be_visible()


def test_an_expired_campaign_or_message_says_no_data_instead_of_not_found(browse):
    page = browse.page
    browse.open(f"#/campaigns/{EXPIRED_ID}")
    status, body = browse.site.call("GET", f"/campaigns/{EXPIRED_ID}/stats")
    assert status == 410
    notice = page.locator(".notice-info")
    expect(notice).to_contain_text("No data")
    expect(notice).to_contain_text(body["Message"])
    expect(page.get_by_role("heading", name="Messages")).to_be_hidden()

    sent = datetime.now(UTC) - timedelta(days=200)  # an SES MessageId carries its send time
    old_id = f"0100{int(sent.timestamp() * 1000):012x}-1d2c3b4a-0000-0000-0000-000000000000-000000"
    status, body = browse.site.call("GET", f"/messages/{old_id}")
    assert status == 410
    browse.go(f"#/messages/{old_id}")
    expect(page.locator(".notice-info")).to_contain_text(body["Message"])
    browse.go("#/messages/local-0000unknown")  # not SES-shaped: no send time, so unknown rather than expired
    expect(page.locator(".notice-warning")).to_contain_text("Message not found")


def test_campaign_funnel_counters_lists_and_daily_series_match_the_stats(browse):
    page, site = browse.page, browse.site
    browse.open(f"#/campaigns/{DEMO_ID}")
    expect(page.locator('li[data-stage="clicked_unique"] .count')).to_be_visible()
    stats = site.get(f"/campaigns/{DEMO_ID}/stats?by=day,list")
    counters, rates = stats["counters"], stats["rates"]
    sent = counters["sent"]
    for stage in ("sent", "delivered", "opened_unique", "clicked_unique"):
        item = page.locator(f'li[data-stage="{stage}"]')
        assert number(item.locator(".count").inner_text()) == counters[stage], stage
        assert_rate(item.locator(".share").inner_text(), counters[stage] / sent)
    for key in ("sent", "delivered", "bounced_hard", "complained", "delayed", "opened_total", "clicked_total"):
        assert number(page.locator(f'[data-counter="{key}"] dd').inner_text()) == counters[key], key
    for key, value in rates.items():
        assert_rate(page.locator(f'[data-rate="{key}"] dd').inner_text(), value)
    lists = page.locator("section", has=page.get_by_role("heading", name="By list"))
    assert [b["list_name"] for b in stats["by_list"]] == ["customers", "newsletter"]
    for block in stats["by_list"]:
        row = lists.locator(f'tr[data-key="{block["list_name"]}"]')
        assert number(cell(row, "sent")) == block["counters"]["sent"]
        assert_rate(cell(row, "open_rate"), block["rates"]["open_rate"])
    page.get_by_text("Daily numbers as a table").click()
    days = page.locator(".chart-table tbody tr")
    expect(days).to_have_count(len(stats["series"]))
    first = days.first.locator("td")
    assert days.first.locator("th").inner_text() == stats["series"][0]["day"]
    assert [number(t) for t in first.all_inner_texts()] == [
        stats["series"][0]["counters"][k] for k in ("sent", "delivered", "opened_unique", "clicked_unique")
    ]
    assert page.locator("svg.daily rect").count() == 4 * len(stats["series"])
    browse.shot("campaign")


def test_messages_by_status_drill_down_to_the_event_timeline(browse):
    page, site = browse.page, browse.site
    browse.open(f"#/campaigns/{DEMO_ID}")
    page.get_by_label("Status").select_option("bounced")
    bounced = site.get(f"/campaigns/{DEMO_ID}/messages?status=bounced&limit=25")
    assert bounced["items"]
    messages = page.locator("section", has=page.get_by_role("heading", name="Messages"))
    expect(messages.locator('[data-field="status"]')).to_have_text(["bounced"] * len(bounced["items"]))
    assert row_keys(page, "section:has(#messages-title)") == [m["message_id"] for m in bounced["items"]]
    target = bounced["items"][0]
    messages.get_by_role("link", name=target["recipient"]).click()
    expect(page.get_by_role("heading", name="Message", exact=True)).to_be_focused()
    detail = site.get(f"/messages/{api_path(target['message_id'])}")
    timeline = page.locator("ol.timeline > li")
    expect(timeline).to_have_count(len(detail["events"]))
    oldest_first = [e["event_type"] for e in sorted(detail["events"], key=lambda e: e["timestamp"])]
    assert timeline.evaluate_all("items => items.map(i => i.dataset.eventType)") == oldest_first
    bounce = next(e for e in detail["events"] if e["event_type"] == "Bounce")["detail"]
    expect(page.locator('li[data-event-type="Bounce"]')).to_contain_text(bounce["bounceType"])
    expect(page.get_by_text(target["recipient"], exact=True)).to_be_visible()
    browse.shot("message")
    page.get_by_role("link", name=f"← Campaign {DEMO_ID}").click()
    expect(page.get_by_label("Status")).to_have_value("bounced")  # the filter is kept on the way back


# --------------------------------------------------------------------------------------------------------------
# recipients


def look_up(browse, email: str) -> None:
    browse.open("#/recipients")
    browse.page.get_by_label("Email address").fill(email)
    browse.page.get_by_role("button", name="Look up").click()
    expect(browse.page.get_by_role("heading", name=f"Results for {email}")).to_be_visible()


def test_recipient_lookup_shows_their_messages_events_and_suppressions(browse):
    page, site = browse.page, browse.site
    email = site.seeded.first("bounce")
    look_up(browse, email)
    messages = site.get(f"/recipients/{api_path(email)}/messages")
    events = site.get(f"/recipients/{api_path(email)}/events")
    section = page.locator("section", has=page.get_by_role("heading", name="Messages", exact=True))
    expect(section.locator("tbody tr")).to_have_count(len(messages["items"]))
    assert section.locator('[data-field="status"]').all_inner_texts() == [m["status"] for m in messages["items"]]
    timeline = page.locator("ol.timeline > li")
    expect(timeline).to_have_count(len(events["items"]))
    assert sorted(timeline.evaluate_all("items => items.map(i => i.dataset.eventType)")) == sorted(
        e["event_type"] for e in events["items"]
    )
    suppressions = page.locator("section", has=page.get_by_role("heading", name="Suppressions"))
    assert [s["reason"] for s in messages["suppressions"]] == ["BOUNCE"]
    expect(suppressions.locator('[data-field="reason"]')).to_have_text(["BOUNCE"])
    assert "@" not in page.url and email not in page.url  # the address stays out of the URL
    browse.shot("recipient")


def test_erasure_asks_for_confirmation_then_erases_the_recipient(browse):
    page, site = browse.page, browse.site
    email = site.seeded.first("success")
    look_up(browse, email)
    erase = page.get_by_role("button", name="Erase this person's data…")
    erase.click()
    dialog = page.get_by_role("dialog", name=f"Erase all data of {email}?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert site.get(f"/recipients/{api_path(email)}/messages")["items"], "cancel erased nothing"

    erase.click()
    page.get_by_role("dialog").get_by_role("button", name="Erase").click()
    expect(page.locator(".notice-success")).to_contain_text(f"Erased the data of {email}")
    after = site.get(f"/recipients/{api_path(email)}/messages")
    assert after["items"] == []
    assert [(s["scope"], s["email"]) for s in after["suppressions"]] == [("ALL", None)]  # hashed, no address
    expect(page.get_by_text("No messages held for this address.")).to_be_visible()


# --------------------------------------------------------------------------------------------------------------
# suppressions


def test_suppression_add_and_lift_round_trip(browse):
    page, site = browse.page, browse.site
    email = "dash-round-trip@example.com"
    browse.open("#/suppressions")
    add = page.locator("form", has=page.get_by_role("button", name="Suppress"))
    add.get_by_label("Email address").fill(email)
    add.get_by_label("Scope").select_option("list")
    add.get_by_label("List name").fill("newsletter")
    add.get_by_role("button", name="Suppress").click()
    expect(page.locator(".notice-success")).to_contain_text(f"Suppressed {email} (list newsletter, MANUAL)")
    stored = site.get(f"/suppressions/{api_path(email)}")
    assert [(s["scope"], s["reason"]) for s in stored["items"]] == [("LIST#newsletter", "MANUAL")]
    expect(page.get_by_label("Reason", exact=True).last).to_have_value("MANUAL")
    row = page.locator(f'tr[data-key="{email}|LIST#newsletter"]')
    expect(row).to_be_visible()
    browse.shot("suppressions")

    row.get_by_role("button", name=re.compile("^Lift")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("sesame will send to this address again")
    dialog.get_by_role("button", name="Lift the suppression").click()
    expect(page.locator(".notice-success")).to_contain_text(f"Lifted the MANUAL suppression of {email}")
    expect(row).to_have_count(0)
    status, _ = site.call("GET", f"/suppressions/{api_path(email)}")
    assert status == 404


def test_suppressions_filter_by_reason_lists_what_the_api_lists(browse):
    page, site = browse.page, browse.site
    browse.open("#/suppressions")
    listed = page.locator("section", has=page.get_by_role("heading", name="By reason"))
    for reason in ("BOUNCE", "COMPLAINT", "MANUAL"):
        listed.get_by_label("Reason").select_option(reason)
        expected = site.get(f"/suppressions?reason={reason}&limit=25")["items"]
        keys = [f"{s['email'] or s['recipient_hash']}|{s['scope']}" for s in expected]  # erased ones: no address
        rows = listed.locator("tbody tr")
        expect(rows).to_have_count(len(keys))
        expect(rows.first).to_have_attribute("data-key", keys[0])  # the new list, not the previous one
        expect(rows.last).to_have_attribute("data-key", keys[-1])
        assert row_keys(page, "section:has(#list-title)") == keys


# --------------------------------------------------------------------------------------------------------------
# keys and errors


def test_under_an_api_gateway_stage_path_every_url_stays_under_the_stage(browse):
    """API Gateway serves the app under /<stage>/ (a custom domain may map it under a base path): the page, its
    scripts and its API calls must all resolve below that path. A proxy stands in for the stage; a request outside
    /prod/ would get API Gateway's 403 and fail the page."""
    page = browse.page
    with stage_proxy(browse.site.url) as base:
        page.goto(f"{base}/dashboard/#key={API_KEY}")  # with a trailing slash: redirected to ../dashboard
        expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
        page.get_by_role("link", name=DEMO_ID).click()
        expect(page.locator('li[data-stage="sent"]')).to_be_visible()
        assert page.url == f"{base}/dashboard#/campaigns/{DEMO_ID}"
        page.get_by_role("link", name="OpenAPI document").click()
        assert page.url == f"{base}/openapi.json"
    assert [r.url for r in browse.requests if not r.url.startswith(f"{base}/")] == []
    assert any(r.url.startswith(f"{base}/campaigns") for r in browse.requests)


def test_a_wrong_key_shows_the_error_state_and_no_data(browse):
    page = browse.page
    browse.open(key=OTHER_KEY)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This API key was refused (403)")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("table")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('sesame.apiKey')") is None  # a refused key is not kept
    browse.shot("wrong-key")

    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_focused()  # not lost with the removed form
    expect(page.get_by_role("alert")).to_have_count(0)


def test_without_a_key_the_page_asks_for_one_and_calls_nothing(browse):
    page = browse.page
    browse.open(key=None)
    expect(page.get_by_label("API key")).to_be_focused()
    expect(page.get_by_role("alert")).to_have_count(0)
    api_calls = [r.url for r in browse.requests if "/dashboard" not in r.url and not r.url.endswith("openapi.json")]
    assert api_calls == []


def test_the_key_leaves_the_address_bar_and_travels_only_as_a_bearer_header(browse):
    page, site = browse.page, browse.site
    browse.open()
    expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
    assert page.url == f"{site.url}/dashboard#/campaigns"
    assert page.evaluate("sessionStorage.getItem('sesame.apiKey')") == API_KEY
    assert browse.context.cookies() == []
    api_requests = [r for r in browse.requests if r.url.startswith(site.url) and "/dashboard" not in r.url]
    assert api_requests, "the page called the API"
    for request in browse.requests:
        assert request.url.startswith(site.url + "/"), request.url  # nothing from anywhere else
        assert API_KEY not in request.url and quote(API_KEY) not in request.url
        assert not request.headers.get("referer")  # Referrer-Policy: no-referrer
    for request in api_requests:
        if not request.url.endswith("/openapi.json"):
            assert request.headers["authorization"] == f"Bearer {API_KEY}"
    browse.go("#/campaigns")
    browse.go(f"#/campaigns/{DEMO_ID}")
    expect(page.locator('li[data-stage="sent"]')).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('sesame.apiKey')") is None
    for _ in range(3):  # the history holds no entry with the key: it was replaced, not pushed
        page.go_back()
        assert "key=" not in page.url


@pytest.mark.parametrize(
    ("status", "code", "title"),
    [(503, "ServiceUnavailable", "The API is busy (503)."), (500, "InternalServerError", "The API failed (500")],
)
def test_a_server_error_shows_a_retrying_banner_and_the_page_recovers(browse, status, code, title):
    page = browse.page
    answer = {"Code": code, "Message": "the data store is busy, retry shortly"}

    def fail(route):
        route.fulfill(status=status, json=answer, headers={"Cache-Control": "no-store"})

    page.route(re.compile(r".*/campaigns\?.*"), fail)
    browse.open()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text(title)
    expect(banner).to_contain_text("retries every 30 seconds")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # still signed in
    browse.shot(f"error-{status}")
    page.unroute(re.compile(r".*/campaigns\?.*"))
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
    expect(banner).to_be_hidden()


def test_the_page_refreshes_every_30_seconds(browse):
    page, site = browse.page, browse.site
    page.clock.install()
    browse.open()
    expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
    seed_campaign(site.ddb, "arrived-later", messages=42, created_at=iso(datetime.now(UTC)))
    fresh = page.locator('tr[data-key="arrived-later"]')
    page.clock.run_for(20_000)
    expect(fresh).to_have_count(0)
    page.clock.run_for(11_000)
    expect(fresh).to_be_visible()
    assert number(cell(fresh, "sent")) == 42
    expect(page.get_by_role("status")).to_contain_text("refreshes every 30 s")


# --------------------------------------------------------------------------------------------------------------
# what this deployment lacks, and the documented contract once it has it


def test_reputation_shows_the_real_snapshot_with_a_sandboxed_region_and_what_is_paused(browse):
    """The real GET /reputation (refreshed lazily: no schedule runs here) with SES's account answers faked, since
    moto has no GetAccount: the primary region in the sandbox, and a campaign paused through the real PATCH."""
    from chalicelib import operate

    class Account:
        def __init__(self, production: bool) -> None:
            self.production = production

        def get_account(self):
            return {
                "ProductionAccessEnabled": self.production,
                "SendingEnabled": True,
                "EnforcementStatus": "HEALTHY",
                "SendQuota": {"MaxSendRate": 14.0, "Max24HourSend": 50_000.0, "SentLast24Hours": 1_200.0},
            }

    service = operate.reputation()
    original = service._ses
    service._ses = lambda region: Account(production=region != service.region)
    try:
        status, _ = browse.site.call("PATCH", "/campaigns/weekly-02", body={"status": "paused", "reason": "bad list"})
        assert status == 200
        service.refresh()
        page = browse.page
        browse.open("#/reputation")
        regions = page.locator("section", has=page.get_by_role("heading", name="Regions"))
        expect(regions.locator("tbody tr")).to_have_count(len(service.regions))
        expect(regions.locator("tbody tr").first).to_contain_text("sandbox")
        paused = page.locator("section", has=page.get_by_role("heading", name="Paused by guardrails"))
        expect(paused).to_contain_text("weekly-02")
        expect(paused).to_contain_text("bad list")
        sets = page.locator("section", has=page.get_by_role("heading", name="Configuration sets"))
        expect(sets.locator("tbody tr").first).to_be_visible()
        browse.shot("reputation")
    finally:
        service._ses = original
        browse.site.call("PATCH", "/campaigns/weekly-02", body={"status": "running"})
        service.refresh()


def test_campaign_controls_pause_and_resume_the_real_campaign(browse):
    page, site = browse.page, browse.site
    browse.open("#/campaigns/weekly-03")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".feedback")).to_contain_text("Pause: done.")
    expect(page.locator(".control-note")).to_contain_text("Paused by api")
    assert site.get("/campaigns/weekly-03")["status"] == "paused"
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".feedback")).to_contain_text("Resume: done.")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert site.get("/campaigns/weekly-03")["status"] == "running"
    browse.shot("campaign-controls")


def test_a_completed_campaign_offers_no_pause(browse):
    page = browse.page
    browse.open(f"#/campaigns/{DEMO_ID}")
    expect(page.locator(".funnel, .stat-grid").first).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    assert browse.site.get(f"/campaigns/{DEMO_ID}")["status"] == "completed"


REPUTATION = {
    "updated_at": "2026-05-01T10:00:00Z",
    "regions": [
        {
            "region": "us-east-1",
            "production_access": True,
            "sending_enabled": True,
            "max_send_rate": 14,
            "max_24h_send": 50000,
            "sent_last_24h": 1200,
            "bounce_rate": 0.012,
            "complaint_rate": 0.0004,
            "rates_source": "ses",
            "status": "healthy",
        },
        {
            "region": "eu-west-1",
            "production_access": False,
            "sending_enabled": True,
            "max_send_rate": 1,
            "max_24h_send": 200,
            "sent_last_24h": 0,
            "bounce_rate": 0.0,
            "complaint_rate": 0.0,
            "rates_source": "sesame",
            "status": "warning",
        },
    ],
    "configuration_sets": [{"configuration_set": "sesame-prod-marketing", "bounce_rate": 0.031, "status": "warning"}],
    "paused": [{"campaign_id": "spring", "reason": "bounce rate 4.2 % over 4 %", "paused_at": "2026-05-01T09:00:00Z"}],
}


def test_with_the_routes_of_a_newer_api_controls_and_reputation_follow_their_contract(browse):
    """Stubbed answers shaped as documented for GET /reputation and PATCH /campaigns/{id} (a newer sesame):
    the dashboard shows them and sends the documented request bodies."""
    page, site = browse.page, browse.site
    document = site.get("/openapi.json")
    document["paths"]["/reputation"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    document["paths"]["/campaigns/{campaign_id}"] = {
        "get": {"responses": {"200": {"description": "ok"}}},
        "patch": {"responses": {"200": {"description": "ok"}}},
    }
    sent: list[dict] = []

    def campaign_route(route):
        if route.request.method == "GET":  # the stubbed campaign is running (the real demo one is completed)
            route.fulfill(json={"campaign_id": DEMO_ID, "status": "running", "control": None})
            return
        if route.request.method != "PATCH":
            route.continue_()
            return
        sent.append(json.loads(route.request.post_data or "{}"))
        route.fulfill(json={"campaign_id": DEMO_ID, "status": sent[-1]["status"]})

    page.route("**/openapi.json", lambda route: route.fulfill(json=document))
    page.route("**/reputation", lambda route: route.fulfill(json=REPUTATION))
    page.route(re.compile(rf".*/campaigns/{DEMO_ID}$"), campaign_route)
    browse.open(f"#/campaigns/{DEMO_ID}")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".feedback")).to_contain_text("Pause: done.")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel the campaign").click()
    expect(page.locator(".feedback")).to_contain_text("Cancel: done.")
    assert sent == [{"status": "paused"}, {"status": "cancelled"}]

    browse.go("#/reputation")
    regions = page.locator("section", has=page.get_by_role("heading", name="Regions"))
    expect(regions.locator("tbody tr")).to_have_count(2)
    assert regions.locator("tbody tr").first.locator("th").inner_text() == "us-east-1"
    expect(regions.locator("tbody tr").nth(1)).to_contain_text("sandbox")
    expect(regions.locator("tbody tr").first).to_contain_text("1.2%")
    paused = page.locator("section", has=page.get_by_role("heading", name="Paused by guardrails"))
    expect(paused).to_contain_text("bounce rate 4.2 % over 4 %")
    browse.shot("reputation-newer-api")


def test_a_scheduled_campaign_can_be_sent_now_or_deleted_before_launch(browse):
    page, site = browse.page, browse.site
    sent_now: list[dict] = []

    def schedule_route(route):  # "Send now" would launch the campaign (send queue): record the request instead
        if route.request.method != "PATCH":
            route.continue_()
            return
        sent_now.append(json.loads(route.request.post_data or "{}"))
        route.fulfill(json={"campaign_id": SCHEDULED_ID, "status": "scheduled"})

    page.route(re.compile(rf".*/campaigns/{SCHEDULED_ID}/schedule$"), schedule_route)
    browse.open(f"#/campaigns/{SCHEDULED_ID}")
    expect(page.get_by_text("sends")).to_be_visible()
    expect(page.locator('li[data-stage="sent"] .count')).to_have_text("0")
    page.get_by_role("button", name="Send now").click()
    expect(page.locator(".feedback")).to_contain_text("Send now: done.")
    assert sent_now == [{"date": "now"}]
    page.get_by_role("button", name="Delete before launch").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete the campaign").click()
    expect(page.locator(".feedback")).to_contain_text("Delete: done.")
    assert site.get(f"/campaigns/{SCHEDULED_ID}/schedule")["status"] == "deleted"
    expect(page.locator(".lede .badge").first).to_have_text("deleted")


# --------------------------------------------------------------------------------------------------------------
# phone width, keyboard, accessibility


def _views(site) -> list[tuple[str, str]]:
    message_id = site.seeded.sent[site.seeded.first("complaint")]
    return [
        ("campaigns", "#/campaigns"),
        ("campaign", f"#/campaigns/{DEMO_ID}"),
        ("message", f"#/messages/{api_path(message_id)}"),
        ("recipients", "#/recipients"),
        ("suppressions", "#/suppressions"),
        ("reputation", "#/reputation"),
    ]


def test_phone_width_layout_has_no_sideways_scrolling_and_keeps_the_navigation(phone):
    page = phone.page
    phone.open()
    for name, hash_path in _views(phone.site):
        phone.go(hash_path)
        expect(page.locator("h1")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("Updated")
        if name == "recipients":
            page.get_by_label("Email address").fill(phone.site.seeded.first("complaint"))
            page.get_by_role("button", name="Look up").click()
            expect(page.locator("ol.timeline")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{name}: the page is {width}px wide on a 375px screen"
        for link in page.get_by_role("navigation", name="Main").get_by_role("link").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, name
        if name in ("campaigns", "campaign"):
            phone.shot(f"phone-{name}")
    # tables become labelled cards: each value is announced with its column
    phone.go("#/campaigns")
    card = page.locator(f'tr[data-key="{DEMO_ID}"] [data-field="sent"]')
    assert card.evaluate("el => getComputedStyle(el, '::before').content") == '"Sent"'


def test_keyboard_alone_reaches_every_view_and_the_dialogs(browse):
    page = browse.page
    browse.open()
    expect(page.locator(f'tr[data-key="{DEMO_ID}"]')).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    def tab_to(name: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == name:
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to(DEMO_ID)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Campaign {DEMO_ID}")).to_be_focused()
    tab_to("Suppressions")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Suppressions")).to_be_focused()
    tab_to("Lift")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert page.evaluate("document.activeElement.textContent") == "Lift"  # focus returns to the button


AUDIT = "\n".join(  # the function of a11y_audit.js, without its leading comment
    line for line in (Path(__file__).parent / "a11y_audit.js").read_text().splitlines() if not line.startswith("//")
)


def test_every_view_has_labels_names_unique_ids_and_sufficient_contrast(browse):
    page = browse.page
    browse.open()
    for name, hash_path in _views(browse.site):
        browse.go(hash_path)
        expect(page.get_by_role("status")).to_contain_text("Updated")
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        for details in page.locator("main details").all():
            details.evaluate("d => { d.open = true; }")
        assert page.evaluate(AUDIT) == [], name


def test_the_accessibility_audit_finds_what_it_looks_for(browse):
    """The audit above is not vacuous: a page with each fault makes it report each one."""
    page = browse.page
    page.set_content(
        '<html><body><main><h1>One</h1><h1>Two</h1><input id="x"><button></button>'
        '<p id="x" style="color:#aaa;background:#fff">faint text</p><svg width="10" height="10"></svg>'
        "</main></body></html>"
    )
    found = " | ".join(page.evaluate(AUDIT))
    for fault in ("no lang", "not exactly one h1", "unlabelled", "nameless", "svg without a name", "duplicate id x"):
        assert fault in found, fault
    assert 'contrast 2.32: "faint text"' in found
