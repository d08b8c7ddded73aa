"""SES event topic and the queues: SNS -> SQS fan-out with body filter policies on ``eventType``, the send and
forwarding queues, a dead-letter queue for every queue, and the webhook subscription's dead-letter queue (the
subscription itself needs the API's URL: ``infra/app.py`` declares it)."""

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
#: Everything else (Send, Delivery, Open, Click, DeliveryDelay and any type SES adds later) is engagement.
ENGAGEMENT_EVENT_TYPES = ("Send", "Delivery", "Open", "Click", "DeliveryDelay")

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


def critical_filter_policy() -> dict[str, Any]:
    return {"eventType": list(CRITICAL_EVENT_TYPES)}


def engagement_filter_policy() -> dict[str, Any]:
    # "the rest": anything that is not critical, so event types SES adds later are never dropped. Only event
    # publishing reaches this topic (its policy admits the stack's configuration sets alone), so every message has
    # an eventType; SES identity notifications (``notificationType``) cannot arrive and need no branch.
    return {"eventType": [{"anything-but": list(CRITICAL_EVENT_TYPES)}]}


def webhook_delivery_policy(max_retries: int) -> str:
    policy = json.loads(json.dumps(WEBHOOK_DELIVERY_POLICY))
    policy["healthyRetryPolicy"]["numRetries"] = max_retries
    return json.dumps(policy)


@dataclass
class QueuePair:
    logical: str
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue


def _sns_to_sqs_policy(queue_arn: pulumi.Input[str], topic_arn: pulumi.Input[str]) -> pulumi.Output[str]:
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
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


class Messaging(pulumi.ComponentResource):
    """``sesame:infra:Messaging`` — topic, topic policy, queues with DLQs, subscriptions."""

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

        self.topic = aws.sns.Topic(
            "ses-events",
            name=names.event_topic,
            signature_version=2,
            kms_master_key_id=cfg.topic_kms_key_id or None,
            opts=self._child,
        )
        config_set_arns = [
            pulumi.Output.concat(
                "arn:aws:ses:", cfg.region, ":", account_id, ":configuration-set/", names.configuration_set(logical)
            )
            for logical in cfg.configuration_sets
        ]
        self.topic_policy = aws.sns.TopicPolicy(
            "ses-events-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AllowSesPublishFromThisStacksConfigurationSets",
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "SNS:Publish",
                            "Resource": self.topic.arn,
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

        self.subscriptions: list[aws.sns.TopicSubscription] = []
        for pair, policy in ((self.critical, critical_filter_policy()), (self.engagement, engagement_filter_policy())):
            queue_policy = aws.sqs.QueuePolicy(
                f"{pair.logical}-policy",
                queue_url=pair.queue.url,
                policy=_sns_to_sqs_policy(pair.queue.arn, self.topic.arn),
                opts=self._child,
            )
            self.subscriptions.append(
                aws.sns.TopicSubscription(
                    f"{pair.logical}-subscription",
                    topic=self.topic.arn,
                    protocol="sqs",
                    endpoint=pair.queue.arn,
                    raw_message_delivery=False,  # keep the SNS envelope: its signature is verified downstream
                    filter_policy=json.dumps(policy),
                    filter_policy_scope="MessageBody",
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[queue_policy]),
                )
            )

        # the webhook subscription's DLQ exists in every stack (named in DESIGN.md); the subscription is declared with
        # the app (it needs the API's URL) when sesame:webhook is on
        self.webhook_dlq = self._plain_queue("webhook-dlq", names.dlq("webhook"), DLQ_RETENTION_SECONDS, visibility=30)
        self.webhook_dlq_policy = aws.sqs.QueuePolicy(
            "webhook-dlq-policy",
            queue_url=self.webhook_dlq.url,
            policy=_sns_to_sqs_policy(self.webhook_dlq.arn, self.topic.arn),
            opts=self._child,
        )

        self.pairs = [self.critical, self.engagement, self.send, self.forward]
        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                **{f"{p.logical}QueueUrl": p.queue.url for p in self.pairs},
            }
        )

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
