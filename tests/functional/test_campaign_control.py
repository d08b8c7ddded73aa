"""Campaign control through the Chalice client and moto: GET/PATCH /campaigns/{id}, and what the sender does with a
paused, resumed or cancelled campaign (issue 13)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.sender_app import AUTH, REGION, candidate, sender_stack


@pytest.fixture
def stack(monkeypatch):
    # a paused unit looks again at once here (deployed: every 120 s), so the test sees each look
    with sender_stack(monkeypatch, SESAME_PAUSED_RECHECK_SECONDS="0") as s:
        yield s


def post(stack, body):
    return stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(body))


def patch(stack, campaign_id, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    return stack.client.http.patch(f"/campaigns/{campaign_id}", headers=AUTH, body=raw)


def get(stack, campaign_id):
    return stack.client.http.get(f"/campaigns/{campaign_id}", headers=AUTH)


def run_batches(stack, count):
    """``count`` receives handed to the sender Lambda (deleted on success, like the event source mapping)."""
    for _ in range(count):
        messages = stack.receive()
        if not messages:
            return
        response = stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        if "errorMessage" not in (response.payload or {}):
            stack.sqs.delete_message_batch(
                QueueUrl=stack.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def sent_to(stack):
    return Counter(address for sent in stack.fakes[REGION].sent for address in sent["to"])


def test_unknown_campaign_is_404_for_get_and_patch(stack):
    assert get(stack, "nope").status_code == 404
    response = patch(stack, "nope", {"status": "paused"})
    assert response.status_code == 404
    assert "nope" in json.loads(response.body)["Message"]


def test_patch_without_a_key_is_401_and_an_unknown_status_or_bad_body_is_400(stack):
    assert post(stack, candidate()).status_code == 201
    assert stack.client.http.patch("/campaigns/spring-2026", body='{"status":"paused"}').status_code == 401
    for body in ({"status": "stopped"}, {"state": "paused"}, "not json", ["paused"]):
        response = patch(stack, "spring-2026", body)
        assert response.status_code == 400, body
        assert "Message" in json.loads(response.body)
    assert json.loads(get(stack, "spring-2026").body)["status"] == "running"


def test_get_campaign_answers_status_and_counts(stack):
    assert post(stack, candidate(recipients=4)).status_code == 201
    body = json.loads(get(stack, "spring-2026").body)
    assert body["status"] == "running" and body["lifecycle"] == "launched"
    assert body["recipients"] == 5
    assert body["counts"]["sent"] == 0 and body["counts"]["cancelled"] == 0
    assert body["control"] is None
    assert body["config_sets"] == ["marketing"]


def test_paused_campaign_sends_nothing_while_paused_and_everything_once_after_resume(stack):
    assert post(stack, candidate(recipients=60)).status_code == 201
    paused = patch(stack, "spring-2026", {"status": "paused", "reason": "checking the list"})
    assert paused.status_code == 200
    body = json.loads(paused.body)
    assert body["status"] == "paused"
    assert body["control"]["reason"] == "checking the list" and body["control"]["by"] == "api"
    assert patch(stack, "spring-2026", {"status": "paused"}).status_code == 200  # idempotent

    run_batches(stack, 6)  # every job is looked at (and re-enqueued) several times
    assert stack.fakes[REGION].sent == []
    assert stack.message_items() == []
    waiting = stack.receive()
    assert waiting, "the paused campaign's sends wait on the queue"
    for m in waiting:  # put them back for the resumed run
        stack.sqs.change_message_visibility(
            QueueUrl=stack.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )

    resumed = patch(stack, "spring-2026", {"status": "running"})
    assert resumed.status_code == 200 and json.loads(resumed.body)["status"] == "running"
    stack.deliver_all()
    counts = sent_to(stack)
    assert len(counts) == 61 and set(counts.values()) == {1}  # every recipient exactly once
    assert {i["status"] for i in stack.message_items()} == {"sent"}


def test_cancelled_campaign_is_never_sent_and_counted_cancelled(stack):
    assert post(stack, candidate(recipients=10)).status_code == 201
    response = patch(stack, "spring-2026", {"status": "cancelled"})
    assert response.status_code == 200 and json.loads(response.body)["status"] == "cancelled"
    stack.deliver_all()
    assert stack.fakes[REGION].sent == []
    items = stack.message_items()
    assert len(items) == 11 and {i["status"] for i in items} == {"cancelled"}
    assert all(i["message_id"].startswith("local-") for i in items)
    assert stack.counters("spring-2026")["cancelled"] == 11
    body = json.loads(get(stack, "spring-2026").body)
    assert body["status"] == "cancelled" and body["counts"]["cancelled"] == 11
    # idempotent; resuming or pausing a cancelled campaign is a conflict
    assert patch(stack, "spring-2026", {"status": "cancelled"}).status_code == 200
    assert patch(stack, "spring-2026", {"status": "running"}).status_code == 409
    assert patch(stack, "spring-2026", {"status": "paused"}).status_code == 409


def test_cancelling_after_part_was_sent_drops_only_the_rest(stack):
    assert post(stack, candidate(recipients=120)).status_code == 201
    run_batches(stack, 1)  # some jobs sent
    already = sent_to(stack)
    assert already
    assert patch(stack, "spring-2026", {"status": "cancelled"}).status_code == 200
    stack.deliver_all()
    assert sent_to(stack) == already
    statuses = Counter(i["status"] for i in stack.message_items())
    assert statuses["sent"] == sum(already.values())
    assert statuses["sent"] + statuses["cancelled"] == 121


def test_scheduled_campaign_paused_is_not_launched_and_resumes_to_scheduled(stack):
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert post(stack, candidate(date=later)).status_code == 201
    body = json.loads(patch(stack, "spring-2026", {"status": "paused"}).body)
    assert body["status"] == "paused" and body["lifecycle"] == "scheduled"
    meta = stack.ddb.get_item(
        TableName=stack.table("campaigns"), Key={"campaign_id": {"S": "spring-2026"}, "sk": {"S": "META"}}
    )["Item"]
    assert "schedule_pk" not in meta  # off the per-minute check's index while paused
    body = json.loads(patch(stack, "spring-2026", {"status": "running"}).body)
    assert body["status"] == "scheduled"  # its date has not come
    meta = stack.ddb.get_item(
        TableName=stack.table("campaigns"), Key={"campaign_id": {"S": "spring-2026"}, "sk": {"S": "META"}}
    )["Item"]
    assert meta["schedule_pk"]["S"] == "SCHEDULED"


def test_a_paused_due_campaign_is_not_launched_by_the_schedule(stack):
    soon = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert post(stack, candidate(date=soon)).status_code == 201
    assert patch(stack, "spring-2026", {"status": "paused"}).status_code == 200
    from chalicelib import sending

    service = sending.campaign_service()
    service._clock = lambda: (datetime.now(UTC) + timedelta(minutes=10)).timestamp()
    assert service.launch_due() == []
    assert stack.receive() == []
    assert patch(stack, "spring-2026", {"status": "running"}).status_code == 200
    assert [c["campaign_id"] for c in service.launch_due()] == ["spring-2026"]


def test_cli_pauses_resumes_and_cancels_directly_against_the_tables(stack, capsys):
    from runtime.cli import main

    assert post(stack, candidate()).status_code == 201
    capsys.readouterr()  # the app's own log lines
    assert main(["campaign", "pause", "spring-2026", "--direct", "--reason", "wrong list"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "paused" and shown["control"]["by"] == "cli"
    assert shown["control"]["reason"] == "wrong list"
    assert main(["campaign", "resume", "spring-2026", "--direct"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "running"
    assert main(["campaign", "cancel", "spring-2026", "--direct"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    assert main(["campaign", "resume", "spring-2026", "--direct"]) == 1
    assert "cancelled" in capsys.readouterr().err
    assert main(["campaign", "status", "spring-2026", "--direct"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
