"""Forwarding end to end: moto SQS queues, a local HTTP receiver on 127.0.0.1, the Chalice SQS consumer."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from runtime import dlq
from runtime.forwarding import signing
from runtime.forwarding.delivery import Forwarder
from runtime.forwarding.sink import ATTEMPT_ATTRIBUTE, ForwardingSink, QueuedEvent
from tests.support.api_app import api_client
from tests.support.api_http import receiver

SECRET = "forward-secret-0123456789"


def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def queues():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        queue = sqs.create_queue(QueueName="sesame-test-forward")["QueueUrl"]
        dead = sqs.create_queue(QueueName="sesame-test-forward-dlq")["QueueUrl"]
        yield sqs, queue, dead


def drain(sqs, url):
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for m in messages:
            bodies.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def sink_for(url, sqs, queue, dead):
    return ForwardingSink(Forwarder(url, SECRET, sleep=no_sleep, timeout=5), sqs, queue, dead)


def test_bounces_complaints_and_unsubscribes_are_posted_at_once_others_are_queued(queues):
    sqs, queue, dead = queues
    with receiver() as hook:
        sink = sink_for(hook.url, sqs, queue, dead)
        sink.publish(
            [
                {"event_type": "Bounce", "message_id": "m1"},
                {"event_type": "Open", "message_id": "m2"},
                {"event_type": "Complaint", "message_id": "m3"},
                {"event_type": "Delivery", "message_id": "m4"},
            ]
        )
        assert len(hook.requests) == 1
        headers, body = hook.requests[0]
        assert [e["message_id"] for e in json.loads(body)["events"]] == ["m1", "m3"]
        assert signing.verify(
            [SECRET], headers["X-Sesame-Timestamp"], headers["X-Sesame-Signature"], body, now=time.time()
        )
    queued = [json.loads(m["Body"])["message_id"] for m in drain(sqs, queue)]
    assert sorted(queued) == ["m2", "m4"]


def test_consumer_posts_up_to_fifty_queued_events_in_one_signed_request(queues, monkeypatch):
    sqs, queue, dead = queues
    with (
        receiver() as hook,
        api_client(monkeypatch, SESAME_FORWARD_URL="", SESAME_FORWARD_SECRET=SECRET) as (client, _),
    ):
        monkeypatch.setenv("SESAME_FORWARD_URL", hook.url)
        monkeypatch.setenv("SESAME_FORWARD_QUEUE_URL", queue)
        monkeypatch.setenv("SESAME_FORWARD_DLQ_URL", dead)
        from chalicelib import wiring

        wiring.reset()
        bodies = [json.dumps({"event_type": "Open", "message_id": f"m{i}"}) for i in range(50)]
        event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="sesame-test-forward")
        client.lambda_.invoke("forward_events", event)
        assert len(hook.requests) == 1
        headers, body = hook.requests[0]
        assert json.loads(body)["count"] == 50
        assert signing.verify(
            [SECRET], headers["X-Sesame-Timestamp"], headers["X-Sesame-Signature"], body, now=time.time()
        )


def test_three_failed_attempts_park_the_batch_in_the_dlq_and_redrive_moves_it_back(queues):
    sqs, queue, dead = queues
    with receiver(statuses=[500, 502, 503]) as hook:
        sink = ForwardingSink(Forwarder(hook.url, SECRET, sleep=no_sleep, timeout=5), sqs, queue, dead, retry_seconds=0)
        records = [QueuedEvent(json.dumps({"event_type": "Open", "message_id": "m1"}))]
        for attempt in (1, 2, 3):  # one POST per delivery; the failure comes back through the queue
            sink.consume(records)
            assert len(hook.requests) == attempt
            requeued = drain(sqs, queue)
            records = [
                QueuedEvent(m["Body"], int(m["MessageAttributes"][ATTEMPT_ATTRIBUTE]["StringValue"])) for m in requeued
            ]
            assert [r.attempts for r in records] == ([attempt] if attempt < 3 else [])
    listed = dlq.list_messages(sqs, dead)
    assert len(listed) == 1
    assert listed[0]["attributes"]["sesame_error"] == "HTTP 503"
    assert dlq.list_messages(sqs, dead)[0]["message_id"] == listed[0]["message_id"]  # listing keeps them
    first_sent = sqs.receive_message(QueueUrl=dead, AttributeNames=["SentTimestamp"], VisibilityTimeout=0)
    original = first_sent["Messages"][0]["Attributes"]["SentTimestamp"]
    assert dlq.redrive(sqs, dead) == {"moved": 1, "failed": 0}
    assert drain(sqs, dead) == []
    moved = drain(sqs, queue)
    assert json.loads(moved[0]["Body"])["message_id"] == "m1"
    assert moved[0]["MessageAttributes"][dlq.FIRST_SENT_ATTRIBUTE]["StringValue"] == original


def test_publish_never_raises_even_when_endpoint_and_dlq_fail(queues):
    sqs, queue, _ = queues
    sink = ForwardingSink(Forwarder("http://127.0.0.1:9/none", SECRET, sleep=no_sleep, timeout=1), sqs, queue, "")
    sink.publish([{"event_type": "Bounce", "message_id": "m1"}])  # logged, not raised


def test_dlq_cli_redrive_derives_the_source_queue(queues, capsys, monkeypatch):
    sqs, queue, dead = queues
    sqs.send_message(QueueUrl=dead, MessageBody='{"event_type":"Open"}')
    monkeypatch.setattr(dlq, "_client", lambda args: sqs)
    from runtime.cli import main

    assert main(["dlq", "redrive", "--queue-url", dead]) == 0
    assert json.loads(capsys.readouterr().out) == {"moved": 1, "failed": 0}
    assert len(drain(sqs, queue)) == 1


def test_event_sink_is_none_when_forwarding_is_off(monkeypatch):
    with api_client(monkeypatch) as _:
        from chalicelib import forwarding

        assert forwarding.event_sink() is None


def test_ingestion_normalised_events_are_forwarded(queues):
    normalize = pytest.importorskip("runtime.events.normalize")
    sqs, queue, dead = queues
    event = normalize.NormalizedEvent(
        event_id="e" * 32,
        event_type="Bounce",
        message_id="0100018f00000000-aaaa-000000",
        timestamp="2026-05-01T10:00:00.000Z",
        sent_at="2026-05-01T09:59:59.000Z",
        recipients=("a@example.com",),
        bounce_type="Permanent",
    )
    with receiver() as hook:
        sink_for(hook.url, sqs, queue, dead).publish([event])
        forwarded = json.loads(hook.requests[0][1])["events"][0]
    assert forwarded["event_type"] == "Bounce" and forwarded["recipients"] == ["a@example.com"]
