"""Canned answers: a client replays what moto answered, byte for byte, without any endpoint; a changed request
sequence is refused instead of being answered with the wrong recording."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bench.canned import Recorder, Replayer, ReplayMismatchError


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        recorder = Recorder()
        recorder.attach(client)
        client.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "7"}})
        answer = client.get_item(TableName="t", Key={"id": {"S": "a"}}, ConsistentRead=True)
    return recorder.answers, answer["Item"]


def replaying(answers):
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")  # never reached
    replayer = Replayer(answers)
    replayer.attach(client)
    return client, replayer


def test_replay_answers_the_recorded_sequence_without_an_endpoint(recording):
    answers, item = recording
    client, replayer = replaying(answers)
    client.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "7"}})
    assert client.get_item(TableName="t", Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"] == item
    assert replayer.remaining == 0


def test_replay_refuses_a_different_request_sequence(recording):
    answers, _ = recording
    client, _ = replaying(answers)
    with pytest.raises(ReplayMismatchError):
        client.get_item(TableName="t", Key={"id": {"S": "a"}})
