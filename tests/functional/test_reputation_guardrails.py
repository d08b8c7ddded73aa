"""Reputation and guardrails through the Chalice client and moto (issue 13): campaigns sent by the sender Lambda, the
SES events the mailbox simulator would publish applied by the ingestion engine, then the per-minute schedule trips
the guardrail at the configured level (and not below), GET /reputation shows it, an operator resumes; the sandbox
refusal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support.counters import count_stream
from tests.support.sender_app import AUTH, ENV, REGION, sender_stack


@pytest.fixture
def stack(monkeypatch):
    with sender_stack(
        monkeypatch,
        SESAME_GUARDRAIL_MIN_VOLUME="100",
        SESAME_PAUSED_RECHECK_SECONDS="0",
    ) as s:
        from chalicelib import operate

        service = operate.reputation()
        monkeypatch.setattr(service, "_ses", lambda region: s.fakes[region])  # moto has no GetAccount
        yield s


def run_jobs(stack, jobs: int) -> None:
    """Hand ``jobs`` queue messages (50 recipients each) to the sender Lambda, deleting them like the mapping."""
    messages = stack.receive(limit=jobs)
    assert len(messages) == jobs
    response = stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
    assert "errorMessage" not in (response.payload or {})
    stack.sqs.delete_message_batch(
        QueueUrl=stack.queue_url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
    )


def sent_in(stack, campaign_id: str) -> int:
    return sum(1 for m in stack.fakes[REGION].sent if m["tags"].get("campaign_id") == campaign_id)


def campaign(
    campaign_id: str, *, bounces: int = 0, complaints: int = 0, total: int = 100, bounce_every: int = 0
) -> dict:
    """``bounce_every``: every n-th recipient bounces (so each job of 50 holds the same share)."""
    if bounce_every:
        recipients = [
            {"to_address": f"{'bounce' if i % bounce_every == 0 else 'success'}+{i}@simulator.amazonses.com"}
            for i in range(total)
        ]
    else:
        recipients = [{"to_address": f"bounce+{i}@simulator.amazonses.com"} for i in range(bounces)]
        recipients += [{"to_address": f"complaint+{i}@simulator.amazonses.com"} for i in range(complaints)]
        recipients += [{"to_address": f"success+{i}@simulator.amazonses.com"} for i in range(total - len(recipients))]
    return {
        "campaign_id": campaign_id,
        "template": {"subject": "Hello", "html": "<p>Hi</p>"},
        "segments": [{"list_name": "news", "recipients": recipients}],
    }


def ingest_events(stack) -> None:
    """The SES events of everything the fake SES accepted, applied by the production ingestion engine, then counted
    from the messages stream by the counter consumer."""
    from runtime.events.normalize import event_from_message
    from runtime.ingest.engine import IngestEngine
    from runtime.local.simulator import SentMail, SesEventSimulator, SimulatorOptions
    from runtime.stores.tracking import DynamoTrackingStore

    mails = [
        SentMail(
            message_id=sent["message_id"],
            recipient=sent["to"][0],
            sent_at=datetime.now(UTC),
            configuration_set=sent["config_set"],
            campaign_id=sent["tags"].get("campaign_id"),
            list_name=sent["tags"].get("list_name"),
        )
        for sent in stack.fakes[REGION].sent
    ]
    store = DynamoTrackingStore(
        stack.ddb,
        messages_table=stack.table("messages"),
        campaigns_table=stack.table("campaigns"),
        suppressions_table=stack.table("suppressions"),
        sleep=lambda _: None,
    )
    engine = IngestEngine(store, sleep=lambda _: None)
    events = [event_from_message(e.message_text()) for e in SesEventSimulator(SimulatorOptions(seed=3)).schedule(mails)]
    for start in range(0, len(events), 50):
        assert not engine.apply(events[start : start + 50]).failed
    count_stream(stack.ddb, env=ENV)  # the campaign counters: the messages stream's consumer, as deployed


def tick(stack):
    event = stack.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
    )
    return stack.client.lambda_.invoke("check_for_campaign", event)


def send(stack, body) -> None:
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(body))
    assert response.status_code == 201, response.body


def test_the_guardrail_pauses_the_campaign_at_the_pause_level_and_not_below(stack):
    # 200 recipients each (4 jobs of 50): "below" sent in full, "at-level" half; then SES's events come back
    send(stack, campaign("below", total=200, bounce_every=50))  # 2 %: the warning level, below the pause level
    stack.deliver_all()
    send(stack, campaign("at-level", total=200, bounce_every=25))  # 4 % = the pause level
    run_jobs(stack, 2)
    assert (sent_in(stack, "at-level"), sent_in(stack, "below")) == (100, 200)
    ingest_events(stack)
    tick(stack)

    at_level = json.loads(stack.client.http.get("/campaigns/at-level", headers=AUTH).body)
    assert at_level["status"] == "paused"
    assert at_level["control"]["by"] == "guardrail"
    assert "bounce rate 4.00%" in at_level["control"]["reason"] and at_level["control"]["at"]
    assert json.loads(stack.client.http.get("/campaigns/below", headers=AUTH).body)["status"] == "completed"

    reputation = json.loads(stack.client.http.get("/reputation", headers=AUTH).body)
    by_id = {c["campaign_id"]: c for c in reputation["campaigns"]}
    assert by_id["at-level"]["status"] == "paused" and by_id["at-level"]["bounce_rate"] == 0.04
    assert by_id["below"]["status"] == "warning" and by_id["below"]["bounce_rate"] == 0.02
    assert [(p["kind"], p["name"], p["by"]) for p in reputation["paused"]] == [("campaign", "at-level", "guardrail")]
    (primary, backup) = reputation["regions"]
    assert primary["region"] == REGION and primary["production_access"] is True and primary["sending_enabled"]
    assert primary["max_send_rate"] == 500.0 and primary["rates_source"] == "sesame"
    assert primary["bounce_rate"] == 0.026667  # 8 of 300 in the window
    assert backup["rates_source"] == "none"
    marketing = next(s for s in reputation["configuration_sets"] if s["region"] == REGION)
    # the set's own rate is 2.7 % over 300: below its pause level, so SES sending stays on
    assert marketing["status"] == "warning" and stack.fakes[REGION].sending_options == []

    # the paused campaign's other 100 wait
    for _ in range(6):
        messages = stack.receive()
        if not messages:
            break
        stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        stack.sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    assert (sent_in(stack, "at-level"), sent_in(stack, "below")) == (100, 200)
    # the operator resumes: the rest goes out, each recipient once
    response = stack.client.http.patch("/campaigns/at-level", headers=AUTH, body=json.dumps({"status": "running"}))
    assert json.loads(response.body)["status"] == "running"
    stack.deliver_all()
    addresses = [m["to"][0] for m in stack.fakes[REGION].sent if m["tags"].get("campaign_id") == "at-level"]
    items = [i for i in stack.message_items() if i["campaign_id"] == "at-level"]
    # bounce+100/+150 hard-bounced in "below" already: suppressed, never sent; everyone else exactly once
    assert sorted(i["recipient"] for i in items if i["status"] == "suppressed") == [
        "bounce+100@simulator.amazonses.com",
        "bounce+150@simulator.amazonses.com",
    ]
    assert len(addresses) == len(set(addresses)) == 198 and len(items) == 200


def test_a_paused_campaign_is_resumed_by_the_operator_and_its_old_bounces_do_not_pause_it_again(stack):
    send(stack, campaign("bad", total=200, bounce_every=10))
    run_jobs(stack, 2)
    ingest_events(stack)
    tick(stack)
    assert json.loads(stack.client.http.get("/campaigns/bad", headers=AUTH).body)["status"] == "paused"
    response = stack.client.http.patch("/campaigns/bad", headers=AUTH, body=json.dumps({"status": "running"}))
    assert json.loads(response.body)["status"] in ("running", "completed")
    tick(stack)
    assert json.loads(stack.client.http.get("/campaigns/bad", headers=AUTH).body)["status"] != "paused"


def test_a_configuration_set_over_its_pause_level_is_stopped_at_ses_and_resumed_by_the_operator(stack):
    send(stack, campaign("c1", bounces=0, complaints=1, total=100))  # 1 complaint of 100: 1 % >= 0.08 %
    stack.deliver_all()
    ingest_events(stack)
    tick(stack)
    assert ("sesame-ftest-marketing", False) in stack.fakes[REGION].sending_options
    reputation = json.loads(stack.client.http.get("/reputation", headers=AUTH).body)
    kinds = {(p["kind"], p["name"]) for p in reputation["paused"]}
    # c1 itself is completed (nothing left to pause): the configuration set is what stops
    assert kinds == {("configuration_set", "sesame-ftest-marketing")}
    (primary, _) = reputation["regions"]
    assert primary["status"] == "paused"

    # while the set is paused, its units wait on the queue: a new campaign in it sends nothing
    send(stack, campaign("c2", bounces=0, total=5))
    before = len(stack.fakes[REGION].sent)
    for _ in range(3):
        messages = stack.receive()
        if messages:
            stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
            stack.sqs.delete_message_batch(
                QueueUrl=stack.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    assert len(stack.fakes[REGION].sent) == before

    response = stack.client.http.patch(
        "/reputation/configuration-sets/marketing", headers=AUTH, body=json.dumps({"status": "running"})
    )
    assert response.status_code == 200, response.body
    assert stack.fakes[REGION].sending_options[-1] == ("sesame-ftest-marketing", True)
    stack.deliver_all()
    assert len(stack.fakes[REGION].sent) == before + 5
    bad = stack.client.http.patch(
        "/reputation/configuration-sets/nope", headers=AUTH, body=json.dumps({"status": "running"})
    )
    assert bad.status_code == 404
    wrong = stack.client.http.patch(
        "/reputation/configuration-sets/marketing", headers=AUTH, body=json.dumps({"status": "off"})
    )
    assert wrong.status_code == 400


def test_reputation_needs_a_key_and_refreshes_itself_when_the_schedule_has_not_run(stack):
    assert stack.client.http.get("/reputation").status_code == 401
    response = stack.client.http.get("/reputation", headers=AUTH)
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["stale"] is False and [r["region"] for r in body["regions"]] == [REGION, "eu-west-1"]


def test_a_launch_into_a_sandboxed_or_disabled_region_is_refused_and_a_failed_get_account_is_503(stack):
    stack.fakes[REGION].account["ProductionAccessEnabled"] = False
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(campaign("s1", bounces=0)))
    assert response.status_code == 409
    body = json.loads(response.body)
    assert body["Code"] == "SendingBlocked" and "sandbox" in body["Message"]
    assert stack.receive() == [] and stack.fakes[REGION].sent == []
    stack.fakes[REGION].account.update(ProductionAccessEnabled=True, SendingEnabled=False)
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(campaign("s2", bounces=0)))
    assert response.status_code == 409 and "disabled" in json.loads(response.body)["Message"]

    from tests.support.sender_fakes import client_error

    class Failing:
        def get_account(self):
            raise client_error("AccessDeniedException", 403)

    stack.fakes[REGION].account.update(SendingEnabled=True)
    original = stack.fakes[REGION].get_account
    stack.fakes[REGION].get_account = Failing().get_account  # type: ignore[method-assign]
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(campaign("s3", bounces=0)))
    assert response.status_code == 503 and "GetAccount failed" in json.loads(response.body)["Message"]
    stack.fakes[REGION].get_account = original  # type: ignore[method-assign]
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(campaign("s3", bounces=0)))
    assert response.status_code == 201
