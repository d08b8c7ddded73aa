"""Deliver SES events the way SES and SNS would: each to the topic of its class, as signed non-raw envelopes to every
matching subscription of that topic.

moto has no SES event destinations and its own SNS signatures are fake, so the local stack publishes itself: an
event goes to the topic the configuration sets' event destinations send its type to (``infra/messaging.py``
``EVENT_CLASSES``: the critical types to the critical topic, the rest to the engagement topic); for each event it
builds one SNS ``Notification`` from that topic (one ``MessageId``, one signature; a redelivery re-sends the
identical envelope), evaluates the topic's subscriptions' filter policies (``MessageBody`` or ``MessageAttributes``
scope; the stack declares none) read from what was provisioned, then puts the envelope on the matching SQS queues
and POSTs it to the matching HTTPS endpoints (the ``chalice local`` webhook). The real verification code then runs
on every message, exactly as on AWS.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from runtime.events.models import CRITICAL_TYPES
from runtime.local.simulator import SimulatedEvent


def _match_condition(condition: Any, value: Any, present: bool) -> bool:
    if isinstance(condition, dict):
        if "exists" in condition:
            return bool(condition["exists"]) == present
        if not present:
            return False
        if "anything-but" in condition:
            excluded = condition["anything-but"]
            if isinstance(excluded, dict) and "prefix" in excluded:
                return not (isinstance(value, str) and value.startswith(excluded["prefix"]))
            excluded_values = excluded if isinstance(excluded, list) else [excluded]
            return value not in excluded_values
        if "prefix" in condition:
            return isinstance(value, str) and value.startswith(condition["prefix"])
        if "suffix" in condition:
            return isinstance(value, str) and value.endswith(condition["suffix"])
        if "equals-ignore-case" in condition:
            return isinstance(value, str) and value.lower() == str(condition["equals-ignore-case"]).lower()
        if "numeric" in condition and isinstance(value, int | float):
            ops = condition["numeric"]
            checks = {"=": value.__eq__, "<": value.__lt__, "<=": value.__le__, ">": value.__gt__, ">=": value.__ge__}
            return all(bool(checks[ops[i]](ops[i + 1])) for i in range(0, len(ops), 2))
        return False
    return present and value == condition


def _match(policy: Mapping[str, Any], document: Any) -> bool:
    for key, rule in policy.items():
        if key == "$or" and isinstance(rule, list):
            if not any(_match(sub, document) for sub in rule):
                return False
            continue
        present = isinstance(document, dict) and key in document
        value = document.get(key) if isinstance(document, dict) else None
        if isinstance(rule, dict):  # nested key
            if not present or not _match(rule, value):
                return False
            continue
        conditions = rule if isinstance(rule, list) else [rule]
        values = value if isinstance(value, list) else [value]
        if not any(_match_condition(c, v, present) for c in conditions for v in values):
            return False
    return True


def filter_policy_matches(
    policy: Mapping[str, Any] | None, scope: str, message: str, attributes: Mapping[str, Any]
) -> bool:
    """SNS subscription filter policy evaluation (the subset SNS documents for strings, prefixes, anything-but,
    exists, numeric and ``$or``)."""
    if not policy:
        return True
    if scope == "MessageBody":
        try:
            document = json.loads(message)
        except json.JSONDecodeError:
            return False
        return _match(policy, document)
    flat = {name: attr.get("Value") for name, attr in attributes.items()}
    return _match(policy, flat)


@dataclass(frozen=True)
class Subscription:
    topic_arn: str
    protocol: str  # sqs, https, http
    endpoint: str  # queue URL for sqs (resolved), URL for http(s)
    filter_policy: dict[str, Any] | None
    filter_scope: str
    raw: bool = False
    label: str = ""


@dataclass
class DeliveryStats:
    published: int = 0
    sqs_messages: dict[str, int] = field(default_factory=dict)
    webhook_posts: int = 0
    webhook_status: dict[int, int] = field(default_factory=dict)
    filtered_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "sqs_messages": dict(self.sqs_messages),
            "webhook_posts": self.webhook_posts,
            "webhook_status": {str(k): v for k, v in self.webhook_status.items()},
        }


@dataclass(frozen=True)
class EventTopics:
    """Where SES publishes an event: the critical topic for the critical types, the engagement topic otherwise (one
    topic for both is a stack with a single event topic)."""

    critical: str
    engagement: str

    @classmethod
    def single(cls, topic_arn: str) -> EventTopics:
        return cls(topic_arn, topic_arn)

    def for_type(self, event_type: str) -> str:
        return self.critical if event_type in CRITICAL_TYPES else self.engagement


def event_topics(topics: Mapping[str, str]) -> EventTopics | None:
    """The stack's event topics from provisioned topics (name -> ARN): ``<prefix>ses-critical-events`` and
    ``<prefix>ses-events`` (a stack that declares only the latter publishes every type there)."""
    engagement = next((arn for name, arn in topics.items() if name.endswith("-ses-events")), None)
    if engagement is None:
        return None
    critical = next((arn for name, arn in topics.items() if name.endswith("-ses-critical-events")), engagement)
    return EventTopics(critical, engagement)


class SnsDelivery:
    """Signs and fans out SES events to the subscriptions of the topic each event's type is published to."""

    def __init__(
        self,
        signer: Any,
        topics: EventTopics | str,
        subscriptions: Sequence[Subscription],
        sqs_client: Any,
        *,
        webhook_workers: int = 4,
        signature_version: int = 2,
    ) -> None:
        self._signer = signer
        self.topics = EventTopics.single(topics) if isinstance(topics, str) else topics
        self.subscriptions = list(subscriptions)
        self._sqs = sqs_client
        self._workers = webhook_workers
        self._version = signature_version
        self._lock = threading.Lock()
        self.stats = DeliveryStats()
        self._envelopes: dict[str, str] = {}

    def envelope_for(self, event: SimulatedEvent) -> str:
        """One signed envelope per distinct event; a duplicate re-sends the same bytes (SNS redelivery).

        Keyed by the SNS ``Message`` text, the same identity the app deduplicates on (its event id is a hash of it),
        never by ``id()`` of the payload: CPython reuses the id of a freed payload, which would re-send an earlier
        event's envelope in place of a later event published by the same delivery (``make local`` keeps one while
        it serves)."""
        key = event.message_text()
        if key not in self._envelopes:
            topic = self.topics.for_type(event.event_type)
            self._envelopes[key] = json.dumps(
                self._signer.notification(topic, key, message_id=str(uuid.uuid4()), version=self._version)
            )
        return self._envelopes[key]

    def deliver(
        self, events: Iterable[SimulatedEvent], *, progress: Callable[[int], None] | None = None, chunk: int = 200
    ) -> DeliveryStats:
        """Publish ``events`` in order, ``chunk`` at a time (so consumers can start while publishing goes on)."""
        pending: list[SimulatedEvent] = []
        for event in events:
            pending.append(event)
            if len(pending) >= chunk:
                self._deliver_chunk(pending)
                pending = []
                if progress:
                    progress(self.stats.published)
        if pending:
            self._deliver_chunk(pending)
        return self.stats

    def _deliver_chunk(self, events: Iterable[SimulatedEvent]) -> DeliveryStats:
        by_queue: dict[str, list[str]] = {}
        posts: list[tuple[str, str, str]] = []
        for event in events:
            body = self.envelope_for(event)
            message = event.message_text()
            topic = self.topics.for_type(event.event_type)
            self.stats.published += 1
            for sub in self.subscriptions:
                if sub.topic_arn != topic:
                    continue
                if not filter_policy_matches(sub.filter_policy, sub.filter_scope, message, {}):
                    self.stats.filtered_out += 1
                    continue
                payload = message if sub.raw else body
                if sub.protocol == "sqs":
                    by_queue.setdefault(sub.endpoint, []).append(payload)
                else:
                    posts.append((sub.endpoint, payload, topic))
        for url, bodies in by_queue.items():
            for start in range(0, len(bodies), 10):
                chunk = bodies[start : start + 10]
                entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
                response = self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
                if response.get("Failed"):
                    raise RuntimeError(f"SQS refused {len(response['Failed'])} messages on {url}")
            name = url.rsplit("/", 1)[-1]
            self.stats.sqs_messages[name] = self.stats.sqs_messages.get(name, 0) + len(bodies)
        if posts:
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for status in pool.map(lambda p: self._post(*p), posts):
                    with self._lock:
                        self.stats.webhook_posts += 1
                        self.stats.webhook_status[status] = self.stats.webhook_status.get(status, 0) + 1
        return self.stats

    def _post(self, url: str, body: str, topic_arn: str, attempts: int = 4) -> int:
        """POST like SNS's HTTPS delivery: retried on 5xx and connection errors (SNS's delivery policy)."""
        status = 0
        for _ in range(attempts):
            request = urllib.request.Request(  # noqa: S310 - local endpoint from the provisioned subscription
                url,
                data=body.encode("utf-8"),
                method="POST",
                headers={
                    "Content-Type": "text/plain; charset=UTF-8",
                    "x-amz-sns-message-type": "Notification",
                    "x-amz-sns-topic-arn": topic_arn,
                    "User-Agent": "Amazon Simple Notification Service Agent",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                status = int(exc.code)
                if status < 500:
                    return status
            except (urllib.error.URLError, OSError):
                status = 599
        return status


def subscriptions_from(provisioned: Any, extra: Sequence[Subscription] = ()) -> dict[str, list[Subscription]]:
    """Subscriptions per topic ARN, from ``provision.Provisioned`` (queue ARNs resolved to URLs)."""
    url_by_arn = {provisioned.queue_arns[name]: url for name, url in provisioned.queues.items()}
    out: dict[str, list[Subscription]] = {}
    for record in provisioned.subscriptions:
        attrs = record.get("Attributes") or {}
        policy = json.loads(attrs["FilterPolicy"]) if attrs.get("FilterPolicy") else None
        endpoint = record["Endpoint"]
        if record["Protocol"] == "sqs":
            endpoint = url_by_arn.get(endpoint, endpoint)
        out.setdefault(record["TopicArn"], []).append(
            Subscription(
                topic_arn=record["TopicArn"],
                protocol=record["Protocol"],
                endpoint=endpoint,
                filter_policy=policy,
                filter_scope=attrs.get("FilterPolicyScope", "MessageAttributes"),
                raw=attrs.get("RawMessageDelivery") == "true",
                label=endpoint.rsplit("/", 1)[-1],
            )
        )
    for sub in extra:
        out.setdefault(sub.topic_arn, []).append(sub)
    return out
