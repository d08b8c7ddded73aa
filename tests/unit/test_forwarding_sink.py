"""The forwarding sink: hand-over before apply, retries a minute apart through the queue, parking, event ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.forwarding.delivery import Forwarder, delivery_id_for
from runtime.forwarding.sink import ATTEMPT_ATTRIBUTE, ForwardingError, ForwardingSink, QueuedEvent
from runtime.ingest import IngestEngine, InMemoryTrackingStore
from tests.support.ingest import ses_event

SECRET = "forward-secret-0123456789"


class FakeSqs:
    def __init__(self, refuse: bool = False) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.refuse = refuse

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        if self.refuse:
            raise ConnectionError("queue unreachable")
        self.sent.setdefault(QueueUrl, []).extend(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def queued(self, url: str) -> list[QueuedEvent]:
        return [
            QueuedEvent(
                e["MessageBody"], int(e.get("MessageAttributes", {}).get(ATTEMPT_ATTRIBUTE, {}).get("StringValue", 0))
            )
            for e in self.sent.pop(url, [])
        ]


class Poster:
    def __init__(self, statuses: list[int | Exception]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: Any, timeout: float) -> int:
        self.bodies.append(json.loads(body))
        status = self.statuses.pop(0) if self.statuses else 200
        if isinstance(status, Exception):
            raise status
        return status


def _sink(poster: Poster, sqs: FakeSqs) -> ForwardingSink:
    forwarder = Forwarder("https://api.example.com/hook", SECRET, post=poster, sleep=lambda s: None)
    return ForwardingSink(forwarder, sqs, "queue", "dlq")


def _event(n: int, kind: str = "Open") -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": kind, "message_id": f"m{n}"}


def test_a_failed_post_is_retried_a_minute_later_through_the_queue_then_parked_after_three_attempts():
    poster, sqs = Poster([503, OSError("timed out"), 500]), FakeSqs()
    sink = _sink(poster, sqs)
    records = [QueuedEvent(json.dumps(_event(1)))]
    for attempt in (1, 2):
        sink.consume(records)
        (entry,) = sqs.sent["queue"]
        assert entry["DelaySeconds"] == 60
        records = sqs.queued("queue")
        assert [r.attempts for r in records] == [attempt]
    sink.consume(records)
    assert "queue" not in sqs.sent and len(sqs.sent["dlq"]) == 1
    assert len(poster.bodies) == 3  # one POST per attempt, never inline retries a second apart


def test_an_answer_retrying_cannot_fix_parks_the_batch_at_once():
    poster, sqs = Poster([401]), FakeSqs()
    _sink(poster, sqs).consume([QueuedEvent(json.dumps(_event(1)))])
    assert len(sqs.sent["dlq"]) == 1 and "queue" not in sqs.sent


def test_a_batch_carries_its_event_ids_and_the_same_delivery_id_on_every_retry():
    poster, sqs = Poster([503, 200]), FakeSqs()
    sink = _sink(poster, sqs)
    sink.consume([QueuedEvent(json.dumps(_event(n))) for n in (2, 1)])
    sink.consume(sqs.queued("queue"))
    first, second = poster.bodies
    assert first["event_ids"] == ["e2", "e1"] and sorted(second["event_ids"]) == ["e1", "e2"]
    assert first["delivery_id"] == second["delivery_id"] == delivery_id_for([_event(1), _event(2)])


def test_the_same_event_twice_in_one_batch_is_posted_once():
    poster, sqs = Poster([200]), FakeSqs()
    _sink(poster, sqs).consume([QueuedEvent(json.dumps(_event(1)))] * 2)
    assert poster.bodies[0]["event_ids"] == ["e1"]


def test_handover_posts_urgent_events_once_and_queues_them_for_later_if_that_fails():
    poster, sqs = Poster([503]), FakeSqs()
    _sink(poster, sqs).handover([_event(1, "Bounce"), _event(2, "Open")])
    assert len(poster.bodies) == 1 and poster.bodies[0]["event_ids"] == ["e1"]
    delays = {json.loads(e["MessageBody"])["event_id"]: e.get("DelaySeconds", 0) for e in sqs.sent["queue"]}
    assert delays == {"e1": 60, "e2": 0}


def test_handover_raises_when_the_events_cannot_be_queued_and_publish_never_does():
    sink = _sink(Poster([]), FakeSqs(refuse=True))
    with pytest.raises(ForwardingError):
        sink.handover([_event(1)])
    sink.publish([_event(1)])  # logged


def test_the_engine_hands_events_over_before_applying_and_a_failed_handover_applies_nothing():
    handed: list[str] = []
    state = {"fail": True}

    def handover(events):
        if state["fail"]:
            raise ForwardingError("queue unreachable")
        handed.extend(e.event_id for e in events)

    store = InMemoryTrackingStore()
    engine = IngestEngine(store, sleep=lambda s: None, handover=handover)
    events = [ses_event("Delivery"), ses_event("Open", nonce="1")]
    first = engine.apply(events)
    assert set(first.failed) == {e.event_id for e in events} and not store.messages
    state["fail"] = False
    engine.apply(events)
    engine.apply(events)  # redelivered: duplicates are not handed over again
    assert sorted(handed) == sorted(e.event_id for e in events)
