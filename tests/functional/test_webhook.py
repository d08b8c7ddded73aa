"""The SES webhook and the SQS consumers through chalice.test.Client, on moto DynamoDB/SQS."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime.sns.errors import CertificateUnavailableError
from runtime.stores.tables import create_tables
from tests.support.ingest import MESSAGE_ID, ses_record
from tests.support.sns import TOPIC_ARN, UNTRUSTED_TOPIC_ARN, make_signer, sns_env
from tests.support.sns_forgeries import ATTACKS, MALFORMED, as_body

CHALICE_DIR = Path(__file__).resolve().parents[2] / "chalice_app"
if str(CHALICE_DIR) not in sys.path:
    sys.path.insert(0, str(CHALICE_DIR))

REGION = "us-east-1"
TEXT = {"Content-Type": "text/plain; charset=UTF-8"}
TABLES = ("messages", "campaigns", "suppressions")


@pytest.fixture
def signer(tmp_path):
    return make_signer(tmp_path)


@pytest.fixture
def app_env(monkeypatch, signer) -> Iterator[dict[str, Any]]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SESAME_SECRETS_PARAMETER", "SESAME_FORWARD_URL"):
        monkeypatch.delenv(var, raising=False)
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SESAME_ENVIRONMENT": "dev",
        "SESAME_LOG_LEVEL": "WARNING",
        "SESAME_ENGAGEMENT_QUEUE_URL": "",
        **sns_env(signer),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_tables(ddb, "dev")
        yield {"ddb": ddb, "monkeypatch": monkeypatch}


@pytest.fixture
def client(app_env):
    import app as app_module
    from chalice.test import Client
    from chalicelib import wiring

    wiring.reset()
    with Client(app_module.app, project_dir=str(CHALICE_DIR)) as test_client:
        yield test_client
    wiring.reset()


def count(ddb, logical: str) -> int:
    return ddb.scan(TableName=f"sesame-dev-{logical}", Select="COUNT")["Count"]


def post(client, body: str | bytes, headers: dict[str, str] = TEXT):
    return client.http.post("/webhooks/ses", headers=headers, body=body)


def body_for(signer, record: dict[str, Any], version: int = 2) -> str:
    return signer.notification_json(TOPIC_ARN, json.dumps(record), version=version)


@pytest.mark.parametrize("version", [1, 2])
def test_signed_bounce_is_verified_and_applied(client, app_env, signer, version):
    response = post(client, body_for(signer, ses_record("Bounce"), version))
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["status"] == "created"
    ddb = app_env["ddb"]
    item = ddb.get_item(TableName="sesame-dev-messages", Key={"message_id": {"S": MESSAGE_ID}})["Item"]
    assert item["status"]["S"] == "bounced"
    assert len(item["history"]["L"]) == 1  # the event's history entry, inside the summary
    assert count(ddb, "suppressions") == 1


def test_engagement_event_is_applied_directly_without_a_queue(client, app_env, signer):
    response = post(client, body_for(signer, ses_record("Open")), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    totals = app_env["ddb"].get_item(
        TableName="sesame-dev-campaigns", Key={"campaign_id": {"S": "spring"}, "sk": {"S": "COUNTERS#TOTAL"}}
    )["Item"]
    assert totals["opened_total"]["N"] == "1"


def test_duplicate_delivery_changes_nothing(client, app_env, signer):
    body = body_for(signer, ses_record("Open"))
    assert json.loads(post(client, body).body)["status"] == "created"
    ddb = app_env["ddb"]
    before = {t: ddb.scan(TableName=f"sesame-dev-{t}")["Items"] for t in TABLES}
    again = post(client, body)
    assert again.status_code == 200
    assert json.loads(again.body)["status"] == "duplicate"
    # SNS redelivers with a new envelope (same Message): still a duplicate
    resent = post(client, body_for(signer, ses_record("Open"), version=1))
    assert json.loads(resent.body)["status"] == "duplicate"
    assert {t: ddb.scan(TableName=f"sesame-dev-{t}")["Items"] for t in TABLES} == before


def test_engagement_event_is_queued_when_the_engagement_queue_is_configured(client, app_env, signer):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="sesame-dev-engagement")["QueueUrl"]
    app_env["monkeypatch"].setenv("SESAME_ENGAGEMENT_QUEUE_URL", url)
    from chalicelib import wiring

    wiring.reset()
    body = body_for(signer, ses_record("Delivery"))
    response = post(client, body)
    assert response.status_code == 202
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert messages[0]["Body"] == body
    assert count(app_env["ddb"], "messages") == 0
    # a critical event is still applied at once
    assert post(client, body_for(signer, ses_record("Complaint"))).status_code == 200
    assert count(app_env["ddb"], "messages") == 1


def test_every_forgery_is_403_with_zero_writes(client, app_env, signer):
    assert len(ATTACKS) >= 25
    for attack in ATTACKS:
        response = post(client, as_body(attack.build(signer)))
        assert response.status_code == 403, (attack.name, response.body)
        assert json.loads(response.body)["Code"] == "ForbiddenError"
    for table in TABLES:
        assert count(app_env["ddb"], table) == 0, table


def test_malformed_bodies_are_400(client, app_env, signer):
    for attack in MALFORMED:
        response = post(client, as_body(attack.build(signer)))
        assert response.status_code == 400, attack.name
        assert json.loads(response.body)["Code"] == "BadRequestError"
    assert count(app_env["ddb"], "messages") == 0


def test_verified_non_event_message_is_accepted_and_ignored(client, app_env, signer):
    body = signer.notification_json(TOPIC_ARN, "Successfully validated SNS topic for Amazon SES event publishing.")
    response = post(client, body)
    assert response.status_code == 200
    assert json.loads(response.body)["status"] == "ignored"
    assert count(app_env["ddb"], "messages") == 0


def test_verified_ses_receiving_notification_is_ignored_never_stored_or_counted(client, app_env, signer):
    from chalicelib import wiring

    received = (Path(__file__).resolve().parents[1] / "events" / "aws" / "received_sns_action.json").read_text()
    response = post(client, signer.notification_json(TOPIC_ARN, received))
    assert response.status_code == 200
    answer = json.loads(response.body)
    assert answer["status"] == "ignored" and "Received" in answer["reason"]
    for table in TABLES:
        assert count(app_env["ddb"], table) == 0
    outcomes = [doc.get("outcome") for doc in wiring.metrics().emitted if "SES_EVENT_PROCESSED" in doc]
    assert outcomes == ["ignored"]


def test_subscription_confirmation_for_allowed_topic_is_confirmed(client, app_env, signer):
    sns = boto3.client("sns", region_name=REGION)
    sns.create_topic(Name="sesame-dev-ses-events")
    response = post(client, json.dumps(signer.subscription_confirmation(TOPIC_ARN)))
    assert response.status_code in (200, 503)  # moto may refuse the fake token; never a 4xx for a genuine one
    untrusted = post(client, json.dumps(signer.subscription_confirmation(UNTRUSTED_TOPIC_ARN)))
    assert untrusted.status_code == 403


def test_unsubscribe_confirmation_is_logged_not_followed(client, app_env, signer):
    response = post(client, json.dumps(signer.unsubscribe_confirmation(TOPIC_ARN)))
    assert response.status_code == 200
    assert json.loads(response.body)["status"] == "ignored"


def test_webhook_emits_ses_event_processed_metrics(client, app_env, signer):
    from chalicelib import wiring

    body = body_for(signer, ses_record("Bounce"))
    post(client, body)
    post(client, body)
    outcomes = [doc.get("outcome") for doc in wiring.metrics().emitted if "SES_EVENT_PROCESSED" in doc]
    assert outcomes == ["created", "duplicate"]


# --- SQS consumers --------------------------------------------------------------------------------------------------


def _sqs_event(sqs, url: str, bodies: list[str]) -> dict[str, Any]:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    arn = f"arn:aws:sqs:{REGION}:123456789012:sesame-dev-engagement"
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in received
        ]
    }


def test_sqs_batch_is_applied_as_one_aggregated_batch(client, app_env, signer):
    bodies = [body_for(signer, ses_record("Delivery", message_id=f"m{i}")) for i in range(5)]
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="sesame-dev-engagement")
    response = client.lambda_.invoke("engagement_events", event)
    assert response.payload is None
    totals = app_env["ddb"].get_item(
        TableName="sesame-dev-campaigns", Key={"campaign_id": {"S": "spring"}, "sk": {"S": "COUNTERS#TOTAL"}}
    )["Item"]
    assert totals["delivered"]["N"] == "5"


def test_sqs_partial_failure_deletes_only_settled_records_and_raises(client, app_env, signer):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="sesame-dev-critical")["QueueUrl"]
    app_env["monkeypatch"].setenv("SESAME_CRITICAL_QUEUE_URL", url)
    from chalicelib import events_handlers, wiring

    wiring.reset()
    good = body_for(signer, ses_record("Bounce", message_id="good"))
    flaky = body_for(signer, ses_record("Bounce", message_id="flaky"))
    forged = as_body(ATTACKS[0].build(signer))
    from runtime.ingest import pipeline

    real_decode_batch = pipeline.decode_batch

    def decode_batch(verifier, bodies, *args):
        results = real_decode_batch(verifier, bodies, *args)
        return [
            CertificateUnavailableError("certificate download timed out") if body == flaky else result
            for body, result in zip(bodies, results, strict=True)
        ]

    app_env["monkeypatch"].setattr(pipeline, "decode_batch", decode_batch)
    event = _sqs_event(sqs, url, [good, flaky, forged])
    with pytest.raises(events_handlers.TransientBatchFailure):
        client.lambda_.invoke("critical_events", event)
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert [m["Body"] for m in remaining] == [flaky]  # the applied and the forged records were deleted
    ddb = app_env["ddb"]
    assert "Item" in ddb.get_item(TableName="sesame-dev-messages", Key={"message_id": {"S": "good"}})
    assert "Item" not in ddb.get_item(TableName="sesame-dev-messages", Key={"message_id": {"S": "flaky"}})


def test_sqs_record_that_reached_the_queue_fresh_is_applied_after_a_long_backlog(client, app_env, signer):
    from runtime.stores.schema import parse_time

    stamp = "2024-06-20T01:50:12.190Z"  # far older than SNS_MAX_AGE_SECONDS (3600) by now
    body = signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Bounce", message_id="late")), timestamp=stamp)
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name="sesame-dev-critical")
    event["Records"][0]["attributes"]["SentTimestamp"] = str(int(parse_time(stamp).timestamp() * 1000) + 2000)
    response = client.lambda_.invoke("critical_events", event)
    assert response.payload is None
    ddb = app_env["ddb"]
    assert "Item" in ddb.get_item(TableName="sesame-dev-messages", Key={"message_id": {"S": "late"}})


def test_sqs_record_that_was_already_stale_when_queued_is_dropped(client, app_env, signer):
    from runtime.stores.schema import parse_time

    stamp = "2024-06-20T01:50:12.190Z"
    body = signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Bounce", message_id="old")), timestamp=stamp)
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name="sesame-dev-critical")
    event["Records"][0]["attributes"]["SentTimestamp"] = str(int(parse_time(stamp).timestamp() * 1000) + 7_200_000)
    response = client.lambda_.invoke("critical_events", event)
    assert response.payload is None  # dropped, not retried
    assert count(app_env["ddb"], "messages") == 0


REDRIVE_SECRET = "r" * 48


def test_sqs_record_redriven_from_a_dlq_is_measured_from_its_first_arrival_only_when_signed(client, app_env, signer):
    from chalicelib import wiring

    from runtime.dlq import FIRST_SENT_ATTRIBUTE, FIRST_SENT_SIGNATURE_ATTRIBUTE, first_arrival_signature
    from runtime.stores.schema import parse_time

    app_env["monkeypatch"].setenv("SESAME_REDRIVE_SECRET", REDRIVE_SECRET)
    wiring.reset()
    stamp = "2024-06-20T01:50:12.190Z"
    first_arrival = int(parse_time(stamp).timestamp() * 1000) + 2000
    names = ("signed", "unsigned", "wrong-key", "other-message", "other-time")
    envelopes = {
        mid: signer.notification(TOPIC_ARN, json.dumps(ses_record("Bounce", message_id=mid)), timestamp=stamp)
        for mid in names
    }
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps(e) for e in envelopes.values()], queue_name="sesame-dev-critical"
    )
    signatures = {
        "signed": first_arrival_signature(REDRIVE_SECRET, envelopes["signed"]["MessageId"], first_arrival),
        "wrong-key": first_arrival_signature("x" * 48, envelopes["wrong-key"]["MessageId"], first_arrival),
        "other-message": first_arrival_signature(REDRIVE_SECRET, envelopes["signed"]["MessageId"], first_arrival),
        "other-time": first_arrival_signature(REDRIVE_SECRET, envelopes["other-time"]["MessageId"], first_arrival - 1),
    }
    for mid, record in zip(names, event["Records"], strict=True):
        # re-sent to the queue by a redrive two hours after the event; anyone who can write to the queue can set
        # the attribute, so only one signed with the app secret over this SNS MessageId and time counts
        record["attributes"]["SentTimestamp"] = str(first_arrival + 7_200_000)
        attributes = {FIRST_SENT_ATTRIBUTE: {"stringValue": str(first_arrival), "dataType": "Number"}}
        if mid in signatures:
            attributes[FIRST_SENT_SIGNATURE_ATTRIBUTE] = {"stringValue": signatures[mid], "dataType": "String"}
        record["messageAttributes"] = attributes
    response = client.lambda_.invoke("critical_events", event)
    assert response.payload is None
    stored = {i["message_id"]["S"] for i in app_env["ddb"].scan(TableName="sesame-dev-messages")["Items"]}
    assert stored == {"signed"}  # every other one was stale when it reached the queue again: dropped


def test_sqs_poison_record_fails_alone_and_the_rest_of_the_batch_is_applied(client, app_env, signer):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="sesame-dev-critical")["QueueUrl"]
    app_env["monkeypatch"].setenv("SESAME_CRITICAL_QUEUE_URL", url)
    from chalicelib import events_handlers, wiring

    wiring.reset()
    engine = events_handlers._engine()
    real_apply = engine.apply

    def apply(events):
        events = list(events)
        if any(e.message_id == "poison" for e in events):
            raise ValueError("item too large")  # not transient: DynamoDB ValidationException
        return real_apply(events)

    app_env["monkeypatch"].setattr(engine, "apply", apply)
    bodies = [body_for(signer, ses_record("Bounce", message_id=mid)) for mid in ("a", "poison", "b")]
    event = _sqs_event(sqs, url, bodies)
    with pytest.raises(events_handlers.TransientBatchFailure):
        client.lambda_.invoke("critical_events", event)
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert [m["Body"] for m in remaining] == [bodies[1]]  # only the poison record is redelivered
    ddb = app_env["ddb"]
    for mid in ("a", "b"):
        assert "Item" in ddb.get_item(TableName="sesame-dev-messages", Key={"message_id": {"S": mid}})


def test_sqs_forged_records_are_dropped_without_retry(client, app_env, signer):
    bodies = [as_body(attack.build(signer)) for attack in ATTACKS[:5]]
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="sesame-dev-critical")
    response = client.lambda_.invoke("critical_events", event)
    assert response.payload is None  # nothing transient: the batch succeeds and SQS deletes it
    assert count(app_env["ddb"], "messages") == 0


def test_new_events_are_handed_to_forwarding_before_they_are_applied_and_a_failed_handover_applies_nothing(
    client, app_env, signer
):
    from chalicelib import forwarding

    handed: list[list[Any]] = []
    queue_down = {"on": True}

    class Sink:
        def handover(self, events):
            if queue_down["on"]:
                raise RuntimeError("forward queue unavailable")
            handed.append(list(events))

    app_env["monkeypatch"].setattr(forwarding, "event_sink", lambda: Sink())
    body = body_for(signer, ses_record("Complaint"))
    assert post(client, body).status_code == 503  # not handed over -> not applied: SNS delivers it again
    assert count(app_env["ddb"], "messages") == 0
    queue_down["on"] = False
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200  # duplicate: nothing new to forward
    assert len(handed) == 1
    assert handed[0][0].model_dump()["event_type"] == "Complaint"
    assert count(app_env["ddb"], "messages") == 1
