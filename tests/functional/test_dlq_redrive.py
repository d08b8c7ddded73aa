"""``sesame dlq redrive`` and the first-arrival time of redriven SES events: carried only with an HMAC over the SNS
MessageId and the time, keyed with the app secret (``redrive_secret``), so nobody who merely can write to a queue
can make an old captured message look fresh."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime import cli, dlq
from tests.support.sns import TOPIC_ARN, make_signer

SECRET = "s" * 48
REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SESAME_REDRIVE_SECRET", "SESAME_SECRETS_PARAMETER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queues(sqs: Any) -> tuple[str, str]:
    source = sqs.create_queue(QueueName="sesame-dev-critical")["QueueUrl"]
    dead = sqs.create_queue(QueueName="sesame-dev-critical-dlq")["QueueUrl"]
    return source, dead


def _envelope(tmp_path: Any) -> dict[str, Any]:
    return make_signer(tmp_path).notification(TOPIC_ARN, json.dumps({"eventType": "Bounce"}))


def _moved(sqs: Any, url: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    return response.get("Messages", [])


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name)
    return value["StringValue"] if value else None


def test_redrive_signs_the_first_arrival_of_an_sns_message_with_the_app_secret(sqs, queues, tmp_path):
    source, dead = queues
    envelope = _envelope(tmp_path)
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(envelope))
    sent = sqs.receive_message(QueueUrl=dead, AttributeNames=["SentTimestamp"], VisibilityTimeout=0)
    original = int(sent["Messages"][0]["Attributes"]["SentTimestamp"])
    assert dlq.redrive(sqs, dead, secret=SECRET) == {"moved": 1, "failed": 0}
    (moved,) = _moved(sqs, source)
    assert _attribute(moved, dlq.FIRST_SENT_ATTRIBUTE) == str(original)
    signature = _attribute(moved, dlq.FIRST_SENT_SIGNATURE_ATTRIBUTE)
    assert signature == dlq.first_arrival_signature(SECRET, envelope["MessageId"], original)
    assert dlq.first_arrival_verified(SECRET, json.dumps(envelope), str(original), signature) == original


def test_a_signed_first_arrival_survives_a_second_redrive_and_a_forged_one_is_replaced(sqs, queues, tmp_path):
    source, dead = queues
    genuine, forged = _envelope(tmp_path), _envelope(tmp_path)
    earlier = 1_700_000_000_000
    for envelope, signature in (
        (genuine, dlq.first_arrival_signature(SECRET, genuine["MessageId"], earlier)),
        (forged, "0" * 64),
    ):
        sqs.send_message(
            QueueUrl=dead,
            MessageBody=json.dumps(envelope),
            MessageAttributes={
                dlq.FIRST_SENT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(earlier)},
                dlq.FIRST_SENT_SIGNATURE_ATTRIBUTE: {"DataType": "String", "StringValue": signature},
            },
        )
    assert dlq.redrive(sqs, dead, secret=SECRET)["moved"] == 2
    by_id = {json.loads(m["Body"])["MessageId"]: m for m in _moved(sqs, source)}
    assert _attribute(by_id[genuine["MessageId"]], dlq.FIRST_SENT_ATTRIBUTE) == str(earlier)
    replaced = by_id[forged["MessageId"]]
    assert int(_attribute(replaced, dlq.FIRST_SENT_ATTRIBUTE) or 0) > earlier  # its own SentTimestamp, signed
    assert _attribute(replaced, dlq.FIRST_SENT_SIGNATURE_ATTRIBUTE) == dlq.first_arrival_signature(
        SECRET, forged["MessageId"], int(_attribute(replaced, dlq.FIRST_SENT_ATTRIBUTE) or 0)
    )


def test_redriving_sns_messages_without_the_secret_moves_nothing_and_says_why(sqs, queues, tmp_path, capsys):
    source, dead = queues
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(_envelope(tmp_path)))
    with pytest.raises(dlq.RedriveSecretMissingError):
        dlq.redrive(sqs, dead, secret=None)
    assert cli.main(["dlq", "redrive", "--queue-url", dead, "--secrets-parameter", "/sesame/dev/missing"]) == 1
    assert "redrive_secret" in capsys.readouterr().err
    assert _moved(sqs, source) == []


def test_cli_reads_the_secret_from_the_app_secrets_parameter(sqs, queues, tmp_path):
    source, dead = queues
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/sesame/dev/app-secrets", Type="SecureString", Value=json.dumps({"redrive_secret": SECRET}))
    envelope = _envelope(tmp_path)
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(envelope))
    assert cli.main(["dlq", "redrive", "--queue-url", dead]) == 0  # parameter named after the queue's environment
    (moved,) = _moved(sqs, source)
    first = int(_attribute(moved, dlq.FIRST_SENT_ATTRIBUTE) or 0)
    assert _attribute(moved, dlq.FIRST_SENT_SIGNATURE_ATTRIBUTE) == dlq.first_arrival_signature(
        SECRET, envelope["MessageId"], first
    )


def test_messages_that_are_not_sns_envelopes_need_no_secret(sqs):
    dead = sqs.create_queue(QueueName="sesame-dev-forward-dlq")["QueueUrl"]
    source = sqs.create_queue(QueueName="sesame-dev-forward")["QueueUrl"]
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps({"events": [{"event_type": "Delivery"}]}))
    assert dlq.redrive(sqs, dead) == {"moved": 1, "failed": 0}
    (moved,) = _moved(sqs, source)
    assert _attribute(moved, dlq.FIRST_SENT_SIGNATURE_ATTRIBUTE) is None
