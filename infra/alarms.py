"""Alarms to an alarm topic (optional email subscription): SES reputation (bounce >= 5%, complaint >= 0.1% by
default; the metrics are decimals) and every dead-letter queue's depth > 0."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import Names

REPUTATION_PERIOD_SECONDS = 900


class Alarms(pulumi.ComponentResource):
    """``sesame:infra:Alarms``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        dlq_names: Sequence[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.topic = aws.sns.Topic("alarm-topic", name=names.alarm_topic, signature_version=2, opts=child)
        if cfg.alarm_email:
            aws.sns.TopicSubscription(
                "alarm-email", topic=self.topic.arn, protocol="email", endpoint=cfg.alarm_email, opts=child
            )
        actions = [self.topic.arn]
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for metric, threshold, short in (
            ("Reputation.BounceRate", cfg.bounce_rate_alarm_threshold, "bounce-rate"),
            ("Reputation.ComplaintRate", cfg.complaint_rate_alarm_threshold, "complaint-rate"),
        ):
            self.alarms.append(
                aws.cloudwatch.MetricAlarm(
                    short,
                    name=f"{names.prefix}-{cfg.region}-{short}",
                    alarm_description=f"SES {metric} >= {threshold} ({threshold:.2%}) in {cfg.region}",
                    namespace="AWS/SES",
                    metric_name=metric,
                    statistic="Maximum",
                    period=REPUTATION_PERIOD_SECONDS,
                    evaluation_periods=1,
                    threshold=threshold,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=actions,
                    ok_actions=actions,
                    opts=child,
                )
            )
        for queue in dlq_names:
            self.alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{queue.removeprefix(names.prefix + '-')}-depth",
                    name=f"{queue}-{cfg.region}-depth",
                    alarm_description=f"messages waiting in dead-letter queue {queue}: inspect and redrive",
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": queue},
                    statistic="Maximum",
                    period=300,
                    evaluation_periods=1,
                    threshold=0,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=actions,
                    ok_actions=actions,
                    opts=child,
                )
            )
        self.register_outputs({"alarmTopicArn": self.topic.arn})
