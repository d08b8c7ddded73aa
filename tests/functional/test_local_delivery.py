"""The local stack's SNS fan-out (signed envelopes, filter policies) and its SQS poller (Lambda semantics)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime.local.delivery import EventTopics, SnsDelivery, Subscription, event_topics, filter_policy_matches
from runtime.local.poller import QueueBinding, SqsPoller
from runtime.local.simulator import SentMail, SesEventSimulator, SimulatedEvent, SimulatorOptions, simulator_address
from runtime.settings import Settings
from runtime.sns.signing import LocalSnsSigner
from runtime.sns.verify import SnsVerifier

TOPIC = "arn:aws:sns:us-east-1:123456789012:sesame-dev-ses-events"
CRITICAL_TOPIC = "arn:aws:sns:us-east-1:123456789012:sesame-dev-ses-critical-events"
CRITICAL = {"eventType": ["Bounce", "Complaint", "Reject", "Subscription", "Rendering Failure"]}
ENGAGEMENT = {"eventType": [{"anything-but": CRITICAL["eventType"]}]}


@pytest.mark.parametrize(
    ("event_type", "queue"),
    [
        ("Bounce", "critical"),
        ("Complaint", "critical"),
        ("Reject", "critical"),
        ("Subscription", "critical"),
        ("Rendering Failure", "critical"),
        ("Send", "engagement"),
        ("Delivery", "engagement"),
        ("Open", "engagement"),
        ("Click", "engagement"),
        ("DeliveryDelay", "engagement"),
    ],
)
def test_the_stacks_event_destinations_send_every_type_to_exactly_one_topic_the_simulator_publishes_to(
    event_type: str, queue: str
) -> None:
    from infra.messaging import CRITICAL_DESTINATION_TYPES, EVENT_CLASSES

    # the SES spelling of the type (event destinations' MatchingEventTypes) -> the class whose destination has it
    spelled = {"DeliveryDelay": "DELIVERY_DELAY", "Rendering Failure": "RENDERING_FAILURE"}.get(
        event_type, event_type.upper()
    )
    (event_class,) = [c for c, (_, types) in EVENT_CLASSES.items() if spelled in types]
    assert event_class == queue and (spelled in CRITICAL_DESTINATION_TYPES) == (queue == "critical")
    topics = EventTopics(CRITICAL_TOPIC, TOPIC)
    assert topics.for_type(event_type) == {"critical": CRITICAL_TOPIC, "engagement": TOPIC}[queue]


@pytest.mark.parametrize(
    ("policy", "event_type", "expected"),
    [
        (CRITICAL, "Bounce", True),
        (CRITICAL, "Delivery", False),
        (ENGAGEMENT, "Delivery", True),
        (ENGAGEMENT, "Rendering Failure", False),
        ({"eventType": [{"prefix": "Deliv"}]}, "DeliveryDelay", True),
        ({"mail": {"tags": {"campaign_id": ["spring"]}}}, "Open", True),
        ({"mail": {"tags": {"campaign_id": ["autumn"]}}}, "Open", False),
        ({"missing": [{"exists": False}]}, "Open", True),
        (None, "Open", True),
    ],
)
def test_body_filter_policies_route_events_like_sns(policy: Any, event_type: str, expected: bool) -> None:
    message = json.dumps({"eventType": event_type, "mail": {"tags": {"campaign_id": ["spring"]}}})
    assert filter_policy_matches(policy, "MessageBody", message, {}) is expected


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _mails(n: int) -> list[SentMail]:
    kinds = ("success", "bounce", "complaint", "suppressionlist", "ooto")
    return [
        SentMail(
            message_id=f"m-{i:03d}",
            recipient=simulator_address(kinds[i % 5], str(i)),
            sent_at=datetime(2026, 3, 1, tzinfo=UTC),
            campaign_id="c1",
            list_name="news",
        )
        for i in range(n)
    ]


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_events_reach_the_queues_their_filter_policies_select_as_verifiable_envelopes(aws: Any, tmp_path: Path) -> None:
    critical = aws.create_queue(QueueName="critical")["QueueUrl"]
    engagement = aws.create_queue(QueueName="engagement")["QueueUrl"]
    signer = LocalSnsSigner(str(tmp_path))
    subs = [
        Subscription(TOPIC, "sqs", critical, CRITICAL, "MessageBody"),
        Subscription(TOPIC, "sqs", engagement, ENGAGEMENT, "MessageBody"),
    ]
    events = SesEventSimulator(SimulatorOptions(duplicate_rate=0.3, seed=2)).schedule(_mails(20))
    SnsDelivery(signer, TOPIC, subs, aws).deliver(events)

    verifier = SnsVerifier.from_settings(
        Settings(sns_allowed_topic_arns=(TOPIC,), sns_cert_dir=str(tmp_path), sns_max_age_seconds=3600)
    )
    got_critical = _drain(aws, critical)
    got_engagement = _drain(aws, engagement)
    assert len(got_critical) + len(got_engagement) == len(events)
    for body in got_critical:
        assert json.loads(verifier.verify(body).Message)["eventType"] in CRITICAL["eventType"]
    for body in got_engagement:
        assert json.loads(verifier.verify(body).Message)["eventType"] not in CRITICAL["eventType"]
    # a redelivery is the same envelope (same MessageId and signature), as SNS redelivers
    assert len(set(got_critical + got_engagement)) == len({e.message_text() for e in events})


def test_each_event_goes_to_the_queue_of_its_types_topic_signed_by_that_topic(aws: Any, tmp_path: Path) -> None:
    critical = aws.create_queue(QueueName="critical")["QueueUrl"]
    engagement = aws.create_queue(QueueName="engagement")["QueueUrl"]
    signer = LocalSnsSigner(str(tmp_path))
    subs = [  # as the stack declares them: one queue per topic, no filter policy
        Subscription(CRITICAL_TOPIC, "sqs", critical, None, "MessageAttributes"),
        Subscription(TOPIC, "sqs", engagement, None, "MessageAttributes"),
    ]
    topics = event_topics({"sesame-dev-ses-events": TOPIC, "sesame-dev-ses-critical-events": CRITICAL_TOPIC})
    assert topics == EventTopics(CRITICAL_TOPIC, TOPIC)
    events = SesEventSimulator(SimulatorOptions(duplicate_rate=0.3, seed=2)).schedule(_mails(20))
    assert {e.event_type for e in events} >= {"Send", "Delivery", "Bounce", "Complaint"}
    stats = SnsDelivery(signer, topics, subs, aws).deliver(events)
    assert stats.filtered_out == 0

    verifier = SnsVerifier.from_settings(
        Settings(sns_allowed_topic_arns=(CRITICAL_TOPIC, TOPIC), sns_cert_dir=str(tmp_path), sns_max_age_seconds=3600)
    )
    got = {"critical": _drain(aws, critical), "engagement": _drain(aws, engagement)}
    assert sum(map(len, got.values())) == len(events)
    for queue, bodies in got.items():
        for body in bodies:
            envelope = verifier.verify(body)
            is_critical = json.loads(envelope.Message)["eventType"] in CRITICAL["eventType"]
            assert is_critical == (queue == "critical")
            assert envelope.TopicArn == (CRITICAL_TOPIC if is_critical else TOPIC)


def test_a_later_event_never_goes_out_in_an_earlier_events_envelope(aws: Any, tmp_path: Path) -> None:
    queue = aws.create_queue(QueueName="all")["QueueUrl"]
    delivery = SnsDelivery(
        LocalSnsSigner(str(tmp_path)), TOPIC, [Subscription(TOPIC, "sqs", queue, None, "MessageBody")], aws
    )
    at = datetime(2026, 3, 1, tzinfo=UTC)
    payload: dict[str, Any] = {"eventType": "Send", "mail": {"messageId": "first"}}
    delivery.deliver([SimulatedEvent("Send", "first", at, payload)])
    # CPython hands a freed payload's memory (and id()) to a new one: model it with one dict holding a new event
    payload.clear()
    payload.update({"eventType": "Send", "mail": {"messageId": "second"}})
    delivery.deliver([SimulatedEvent("Send", "second", at, payload)])
    sent = [json.loads(json.loads(body)["Message"])["mail"]["messageId"] for body in _drain(aws, queue)]
    assert sorted(sent) == ["first", "second"]


def _binding(sqs: Any, handler: Any, *, max_receive: int = 3) -> QueueBinding:
    dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName="work",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueBinding("sesame-dev-work", url, arn, "handler", handler, batch_size=25)


def test_poller_hands_lambda_shaped_batches_and_deletes_them_when_the_handler_returns(aws: Any) -> None:
    seen: list[dict[str, Any]] = []
    binding = _binding(aws, lambda event, context: seen.append(event))
    for i in range(30):
        aws.send_message(QueueUrl=binding.queue_url, MessageBody=f"m{i}")
    poller = SqsPoller(aws, [binding], region="us-east-1")
    assert poller.drain(("work",), timeout_s=30) == 30
    assert [len(e["Records"]) for e in seen] == [25, 5]
    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == binding.queue_arn
    assert record["receiptHandle"] and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert poller.depth(binding) == 0


def test_a_failing_batch_is_retried_and_lands_in_the_dead_letter_queue(aws: Any) -> None:
    counts: list[str] = []

    def failing(event: dict[str, Any], context: Any) -> None:
        counts.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        raise RuntimeError("downstream unavailable")

    binding = _binding(aws, failing)
    aws.send_message(QueueUrl=binding.queue_url, MessageBody="poison")
    poller = SqsPoller(aws, [binding], region="us-east-1")
    for _ in range(5):
        poller.poll_once(binding)
    assert counts == ["1", "2", "3"]
    dlq = aws.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    assert [m["Body"] for m in aws.receive_message(QueueUrl=dlq).get("Messages", [])] == ["poison"]
    assert poller.stats.failures == {"handler": 3}
