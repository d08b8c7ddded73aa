"""``sesame dlq``: a queue it cannot redrive gives a one-line error and exit status 1, and loses nothing."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime import cli


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _visible(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_redriving_the_webhook_dlq_without_a_target_fails_readably_and_keeps_the_messages(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqs.create_queue(QueueName="sesame-dev-webhook-dlq")["QueueUrl"]  # there is no sesame-dev-webhook queue
    sqs.send_message(QueueUrl=url, MessageBody='{"Type": "Notification"}')
    assert cli.main(["dlq", "redrive", "--queue-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert _visible(sqs, url) == 1


def test_redriving_a_queue_with_no_known_source_asks_for_to(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqs.create_queue(QueueName="parking")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert cli.main(["dlq", "redrive", "--queue-url", url]) == 1
    assert "pass --to" in capsys.readouterr().err
    assert _visible(sqs, url) == 1


def test_listing_an_unknown_queue_fails_readably(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/sesame-dev-nothing-dlq"
    assert cli.main(["dlq", "list", "--queue-url", missing]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_a_queue_url_of_another_region_is_reached_in_its_own_region(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    eu = boto3.client("sqs", region_name="eu-west-1")
    dlq = eu.create_queue(QueueName="sesame-prod-forward-dlq")["QueueUrl"]
    source = eu.create_queue(QueueName="sesame-prod-forward")["QueueUrl"]
    assert ".eu-west-1." in dlq  # AWS_DEFAULT_REGION is us-east-1, as in docs/api.md's example
    eu.send_message(QueueUrl=dlq, MessageBody="parked")
    assert cli.main(["dlq", "list", "--queue-url", dlq]) == 0
    assert '"body": "parked"' in capsys.readouterr().out
    assert cli.main(["dlq", "redrive", "--queue-url", dlq]) == 0
    assert _visible(eu, dlq) == 0 and _visible(eu, source) == 1
