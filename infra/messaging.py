"""SES event topics and the queues: the configuration sets publish critical and engagement events to two topics
(``infra/config_sets.py``: one event destination per class), each topic delivers to its queue without a filter
policy, the send and forwarding queues, a dead-letter queue for every queue, and the webhook subscriptions'
dead-letter queue (the subscriptions themselves need the API's URL: ``infra/app.py`` declares them).

Why two topics and no filter policies: SNS bills payload-based filtering per GB scanned, and two ``MessageBody``
policies on one topic scanned every SES event twice (about $0.48 per million emails at the documented event mix);
SES routes by event type for free (up to 10 event destinations per configuration set)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import CRITICAL_FUNCTION, ENGAGEMENT_FUNCTION, FORWARD_FUNCTION, SENDER_FUNCTION, StackConfig
from infra.naming import Names

#: SES event types (``eventType`` in the SNS message body) applied at once by the critical consumer.
CRITICAL_EVENT_TYPES = ("Bounce", "Complaint", "Reject", "Subscription", "Rendering Failure")
#: The rest, batched by the engagement consumer.
ENGAGEMENT_EVENT_TYPES = ("Send", "Delivery", "Open", "Click", "DeliveryDelay")
#: The same classes in the UPPER_SNAKE spelling of SES event destinations' ``MatchingEventTypes``.
CRITICAL_DESTINATION_TYPES = ("REJECT", "BOUNCE", "COMPLAINT", "RENDERING_FAILURE", "SUBSCRIPTION")
ENGAGEMENT_DESTINATION_TYPES = ("SEND", "DELIVERY", "OPEN", "CLICK", "DELIVERY_DELAY")
#: event class (also its queue's logical name) -> (topic resource name, the SES event types its destination matches)
EVENT_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "critical": ("ses-critical-events", CRITICAL_DESTINATION_TYPES),
    "engagement": ("ses-events", ENGAGEMENT_DESTINATION_TYPES),
}

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
#: AWS's advice for Lambda SQS event sources: visibility timeout of at least six times the function timeout.
VISIBILITY_FACTOR = 6

#: The HTTPS webhook delivery policy: SNS retries for about an hour, then the subscription DLQ takes the message.
WEBHOOK_DELIVERY_POLICY: dict[str, Any] = {
    "healthyRetryPolicy": {
        "minDelayTarget": 1,
        "maxDelayTarget": 60,
        "numRetries": 50,
        "numNoDelayRetries": 3,
        "numMinDelayRetries": 2,
        "numMaxDelayRetries": 35,
        "backoffFunction": "exponential",
    },
    "throttlePolicy": {"maxReceivesPerSecond": 100},
    "requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
}


def webhook_delivery_policy(max_retries: int) -> str:
    policy = json.loads(json.dumps(WEBHOOK_DELIVERY_POLICY))
    policy["healthyRetryPolicy"]["numRetries"] = max_retries
    return json.dumps(policy)


@dataclass
class QueuePair:
    logical: str
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue


def _sns_to_sqs_policy(queue_arn: pulumi.Input[str], topic_arns: list[pulumi.Output[str]]) -> pulumi.Output[str]:
    source: pulumi.Input[Any] = topic_arns[0] if len(topic_arns) == 1 else topic_arns
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowSesEventTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": source}},
                }
            ],
        }
    )


class Messaging(pulumi.ComponentResource):
    """``sesame:infra:Messaging`` — event topics with their policies, queues with DLQs, subscriptions."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        account_id: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:Messaging", name, None, opts)
        self._cfg = cfg
        self._names = names
        self._child = pulumi.ResourceOptions(parent=self, provider=provider)

        config_set_arns = [
            pulumi.Output.concat(
                "arn:aws:ses:", cfg.region, ":", account_id, ":configuration-set/", names.configuration_set(logical)
            )
            for logical in cfg.configuration_sets
        ]
        topic_names = {"critical": names.critical_event_topic, "engagement": names.event_topic}
        #: event class (``critical``/``engagement``) -> its topic and the policy that lets SES publish to it
        self.topics: dict[str, aws.sns.Topic] = {}
        self.topic_policies: dict[str, aws.sns.TopicPolicy] = {}
        for event_class, (resource, _) in EVENT_CLASSES.items():
            topic = aws.sns.Topic(
                resource,
                name=topic_names[event_class],
                signature_version=2,
                kms_master_key_id=cfg.topic_kms_key_id or None,
                opts=self._child,
            )
            self.topics[event_class] = topic
            self.topic_policies[event_class] = aws.sns.TopicPolicy(
                f"{resource}-policy",
                arn=topic.arn,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AllowSesPublishFromThisStacksConfigurationSets",
                                "Effect": "Allow",
                                "Principal": {"Service": "ses.amazonaws.com"},
                                "Action": "SNS:Publish",
                                "Resource": topic.arn,
                                "Condition": {
                                    "StringEquals": {"AWS:SourceAccount": account_id},
                                    "ArnLike": {"AWS:SourceArn": config_set_arns},
                                },
                            }
                        ],
                    }
                ),
                opts=self._child,
            )

        fn = cfg.functions
        self.critical = self._queue("critical", fn[CRITICAL_FUNCTION].timeout * VISIBILITY_FACTOR)
        self.engagement = self._queue("engagement", fn[ENGAGEMENT_FUNCTION].timeout * VISIBILITY_FACTOR)
        self.send = self._queue("send", fn[SENDER_FUNCTION].timeout * VISIBILITY_FACTOR)
        self.forward = self._queue("forward", fn[FORWARD_FUNCTION].timeout * VISIBILITY_FACTOR)

        # each topic carries one class of events: its queue takes everything, no filter policy (nothing to scan)
        self.subscriptions: list[aws.sns.TopicSubscription] = []
        for pair in (self.critical, self.engagement):
            topic = self.topics[pair.logical]
            queue_policy = aws.sqs.QueuePolicy(
                f"{pair.logical}-policy",
                queue_url=pair.queue.url,
                policy=_sns_to_sqs_policy(pair.queue.arn, [topic.arn]),
                opts=self._child,
            )
            self.subscriptions.append(
                aws.sns.TopicSubscription(
                    f"{pair.logical}-subscription",
                    topic=topic.arn,
                    protocol="sqs",
                    endpoint=pair.queue.arn,
                    raw_message_delivery=False,  # keep the SNS envelope: its signature is verified downstream
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[queue_policy]),
                )
            )

        # the webhook subscriptions' DLQ exists in every stack (named in DESIGN.md); the subscriptions are declared
        # with the app (they need the API's URL) when sesame:webhook is on
        self.webhook_dlq = self._plain_queue("webhook-dlq", names.dlq("webhook"), DLQ_RETENTION_SECONDS, visibility=30)
        self.webhook_dlq_policy = aws.sqs.QueuePolicy(
            "webhook-dlq-policy",
            queue_url=self.webhook_dlq.url,
            policy=_sns_to_sqs_policy(self.webhook_dlq.arn, self.topic_arns),
            opts=self._child,
        )

        self.pairs = [self.critical, self.engagement, self.send, self.forward]
        self.register_outputs(
            {
                "eventTopicArns": {c: t.arn for c, t in self.topics.items()},
                **{f"{p.logical}QueueUrl": p.queue.url for p in self.pairs},
            }
        )

    @property
    def topic_arns(self) -> list[pulumi.Output[str]]:
        """Both event topics' ARNs (critical, engagement): ``SNS_ALLOWED_TOPIC_ARNS``, the webhook's topics."""
        return [self.topics["critical"].arn, self.topics["engagement"].arn]

    def _plain_queue(self, resource: str, name: str, retention: int, *, visibility: int) -> aws.sqs.Queue:
        return aws.sqs.Queue(
            resource,
            name=name,
            message_retention_seconds=retention,
            visibility_timeout_seconds=visibility,
            sqs_managed_sse_enabled=True,
            opts=self._child,
        )

    def _queue(self, logical: str, visibility: int) -> QueuePair:
        dlq = self._plain_queue(f"{logical}-dlq", self._names.dlq(logical), DLQ_RETENTION_SECONDS, visibility=30)
        max_receive = self._cfg.max_receive_count
        queue = aws.sqs.Queue(
            logical,
            name=self._names.queue(logical),
            visibility_timeout_seconds=min(visibility, 43200),
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            receive_wait_time_seconds=20,
            sqs_managed_sse_enabled=True,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive})
            ),
            opts=self._child,
        )
        return QueuePair(logical, queue, dlq)

    @property
    def dlqs(self) -> list[aws.sqs.Queue]:
        return [p.dlq for p in self.pairs] + [self.webhook_dlq]
