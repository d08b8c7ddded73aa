from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.sender_app import AUTH, BACKUP, BUCKET, REGION, candidate, sender_stack


@pytest.fixture
def stack(monkeypatch):
    with sender_stack(monkeypatch) as s:
        yield s


def tick(stack):
    """One run of the per-minute schedule, with a real CloudWatch scheduled event."""
    event = stack.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region="us-east-1"
    )
    return stack.client.lambda_.invoke("check_for_campaign", event)


def post(stack, body, headers=AUTH):
    return stack.client.http.post("/campaigns", headers=headers, body=json.dumps(body))


def test_post_campaign_without_a_key_is_401_with_bearer_challenge_and_wrong_key_403(stack):
    response = stack.client.http.post("/campaigns", headers={"Content-Type": "application/json"}, body="{}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {**AUTH, "Authorization": "Bearer ssm_not-the-key"}
    assert post(stack, candidate(), wrong).status_code == 403


def test_invalid_campaign_is_400_naming_the_field_and_enqueues_nothing(stack):
    body = candidate()
    body["segments"][0]["recipients"][1]["to_address"] = "not-an-address"
    response = post(stack, body)
    assert response.status_code == 400
    error = json.loads(response.body)
    assert error["Code"] == "BadRequestError"
    assert "segments.0.recipients.1.to_address" in error["Message"]
    assert stack.receive() == []
    assert stack.fakes[REGION].templates == {}


def test_campaign_without_any_template_is_400(stack):
    body = candidate()
    del body["template"]
    response = post(stack, body)
    assert response.status_code == 400
    assert "segments[0] has no template" in json.loads(response.body)["Message"]


def test_immediate_campaign_creates_templates_in_both_regions_enqueues_and_answers_counts(stack):
    response = post(stack, candidate(recipients=120))
    assert response.status_code == 201, response.body
    body = json.loads(response.body)
    assert body["campaign_id"] == "spring-2026"
    assert body["status"] == "launched"
    assert body["recipients"] == 121
    assert body["jobs"] == 4  # 50 + 50 + 20 for vip, 1 for the newsletter
    assert body["complete"] is True and body["not_enqueued"] == []
    for region in (REGION, BACKUP):
        templates = set(stack.fakes[region].templates)
        assert templates == {"sesame-ftest-spring-2026-default", "sesame-ftest-spring-2026-segment1"}
    messages = stack.receive() + stack.receive()
    assert len(messages) == 4
    job = json.loads(messages[0]["Body"])
    assert job["job_id"].startswith("spring-2026.")
    assert job["bulk"]["ConfigurationSetName"] == "marketing"


def test_a_campaign_whose_template_name_another_owner_holds_is_409_and_overwrites_nothing(stack):
    theirs = {"Subject": "theirs", "Html": "<p>theirs</p>"}
    stack.fakes[REGION].templates["sesame-ftest-spring-2026-default"] = theirs
    response = post(stack, candidate())
    assert response.status_code == 409
    assert "sesame-ftest-spring-2026-default" in json.loads(response.body)["Message"]
    assert stack.fakes[REGION].templates["sesame-ftest-spring-2026-default"] == theirs
    assert stack.receive() == []


def test_resubmitting_an_existing_campaign_id_is_409(stack):
    assert post(stack, candidate()).status_code == 201
    response = post(stack, candidate())
    assert response.status_code == 409
    assert "already exists" in json.loads(response.body)["Message"]


def test_campaign_is_sent_end_to_end_with_bulk_calls_records_and_counters(stack):
    assert post(stack, candidate(recipients=60)).status_code == 201
    responses = stack.deliver_all()
    assert all("errorMessage" not in (r.payload or {}) for r in responses)
    sent = stack.fakes[REGION].sent
    assert sorted(a for m in sent for a in m["to"]) == sorted(
        [f"vip{i}@example.org" for i in range(60)] + ["reader@example.org"]
    )
    assert {op for op, _ in stack.fakes[REGION].calls if op.startswith("Send")} == {"SendBulkEmail", "SendEmail"}
    items = stack.message_items()
    assert len(items) == 61
    vip = next(i for i in items if i["recipient"] == "vip0@example.org")
    assert vip["status"] == "sent" and vip["region"] == REGION and vip["campaign_id"] == "spring-2026"
    assert vip["config_set"] == "sesame-ftest-marketing" and vip["version"] == 1
    assert sum(1 for i in items if i["status"] == "sent" and i["list_name"] == "news_letter") == 1
    assert "sent" not in stack.counters("spring-2026")  # the ingestion engine counts SES Send events


def test_future_campaign_is_stored_described_redated_and_launched_by_the_minute_check(stack):
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = post(stack, candidate(date=future))
    assert response.status_code == 201
    body = json.loads(response.body)
    assert body["status"] == "scheduled"
    assert body["payload"] == f"s3://{BUCKET}/campaigns/spring-2026/jobs.jsonl"
    assert stack.receive() == []

    described = stack.client.http.get("/campaigns/spring-2026/schedule", headers=AUTH)
    assert json.loads(described.body)["launch_at"].startswith(future[:16])

    tick(stack)
    assert stack.receive() == []  # not due yet

    patched = stack.client.http.patch("/campaigns/spring-2026/schedule", headers=AUTH, body=json.dumps({"date": "now"}))
    assert patched.status_code == 200
    tick(stack)
    assert len(stack.receive()) == 2
    after = json.loads(stack.client.http.get("/campaigns/spring-2026/schedule", headers=AUTH).body)
    assert after["status"] == "launched"
    assert after["enqueued_jobs"] == 2
    assert stack.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0  # recipients not kept after launch
    assert after["payload"] is None
    # launched campaigns can no longer be re-dated or deleted
    late = stack.client.http.delete("/campaigns/spring-2026/schedule", headers=AUTH)
    assert late.status_code == 409


def test_scheduled_campaign_can_be_deleted_before_launch_and_its_payload_is_removed(stack):
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert post(stack, candidate(date=future)).status_code == 201
    response = stack.client.http.delete("/campaigns/spring-2026/schedule", headers=AUTH)
    assert response.status_code == 200
    assert json.loads(response.body)["status"] == "deleted"
    assert stack.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    tick(stack)
    assert stack.receive() == []


def test_schedule_of_unknown_campaign_is_404_and_bad_redate_is_400(stack):
    assert stack.client.http.get("/campaigns/nope/schedule", headers=AUTH).status_code == 404
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert post(stack, candidate(date=future)).status_code == 201
    bad = stack.client.http.patch("/campaigns/spring-2026/schedule", headers=AUTH, body=json.dumps({"date": "soon"}))
    assert bad.status_code == 400
    assert "date" in json.loads(bad.body)["Message"]


def test_json_lines_submission_rejects_malformed_lines_naming_line_and_field(stack):
    good = {
        "FromEmailAddress": "news@example.com",
        "Destination": {"ToAddresses": ["a@example.org"]},
        "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
    }
    bad = {**good, "Content": {"Simple": {"Subject": {"Data": "Hi"}}}}
    headers = {**AUTH, "Content-Type": "application/x-ndjson"}
    body = "\n".join([json.dumps(good), json.dumps(bad), "{oops"])
    response = stack.client.http.post("/campaigns", headers=headers, body=body)
    assert response.status_code == 400
    message = json.loads(response.body)["Message"]
    assert "line 2: Content.Simple.Body: Field required" in message
    assert "line 3: not valid JSON" in message
    assert stack.receive() == []

    ok = stack.client.http.post("/campaigns", headers=headers, body=json.dumps(good))
    assert ok.status_code == 201
    assert json.loads(ok.body)["enqueued"] == 1


def test_unreachable_send_queue_is_503_not_500(monkeypatch):
    with sender_stack(monkeypatch, SESAME_SEND_QUEUE_URL="") as stack:
        monkeypatch.setenv("SESAME_SEND_QUEUE", "no-such-queue")
        from chalicelib import sending

        monkeypatch.setattr(sending, "SEND_QUEUE", "no-such-queue")
        response = post(stack, candidate())
        assert response.status_code == 503
        assert json.loads(response.body)["Code"] == "ServiceUnavailable"


DEEP = "[" * 50_000 + "]" * 50_000  # a few hundred KB: json.loads raises RecursionError
NESTED = "[" * 200 + "]" * 200  # parses, but no request field nests this deep


@pytest.mark.parametrize("nested", [DEEP, NESTED], ids=["recursion", "too-deep"])
def test_deeply_nested_json_bodies_are_400_on_every_campaign_route(stack, nested):
    campaign = post(stack, {})  # any body: then replaced
    assert campaign.status_code == 400
    for method, path, headers, body in (
        ("POST", "/campaigns", AUTH, nested),
        ("POST", "/campaigns", AUTH, '{"campaign_id": "c", "segments": ' + nested + "}"),
        ("POST", "/campaigns", {**AUTH, "Content-Type": "application/x-ndjson"}, nested),
        ("PATCH", "/campaigns/spring-2026/schedule", AUTH, '{"date": ' + nested + "}"),
    ):
        response = stack.client.http.request(method, path, headers=headers, body=body)
        assert response.status_code == 400, (method, path, response.status_code)
        error = json.loads(response.body)
        assert error["Code"] == "BadRequestError" and "nest" in error["Message"]
    assert stack.receive() == []
