"""Alarms to an alarm topic (optional email subscription).

* SES reputation, as early warnings below SES's review levels (bounce 5 %, complaint 0.1 %): by default bounce
  >= 2 % and complaint >= 0.05 % (the metrics are decimals; ``sesame:*RateAlarmThreshold``).
* Every dead-letter queue's depth > 0.
* Every function: ``Errors`` and ``Throttles`` > 0 (the queue consumers after three 5-minute periods in a row:
  a transient failure that SQS retries successfully is not an incident).
* Every work queue: the age of its oldest message (events wait minutes at most, sends up to an hour when paced).
* The API: ``5XXError`` > 0 in five minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pulumi
import pulumi_aws as aws

from infra.config import CONSUMERS, StackConfig
from infra.naming import Names

REPUTATION_PERIOD_SECONDS = 900
PERIOD_SECONDS = 300
#: Oldest-message age (seconds) per work queue above which something is stuck.
QUEUE_AGE_ALARM_SECONDS = {"critical": 900, "engagement": 900, "forward": 3600, "send": 3600}
#: Consecutive 5-minute periods with errors before a queue consumer's alarm fires.
CONSUMER_ERROR_PERIODS = 3


class Alarms(pulumi.ComponentResource):
    """``sesame:infra:Alarms``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        dlq_names: Sequence[str],
        queue_names: dict[str, str],
        functions: Iterable[str],
        api_name: str,
        api_stage: str,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:Alarms", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self, provider=provider)
        self._names = names
        self._region = cfg.region
        self.topic = aws.sns.Topic("alarm-topic", name=names.alarm_topic, signature_version=2, opts=self._child)
        if cfg.alarm_email:
            aws.sns.TopicSubscription(
                "alarm-email", topic=self.topic.arn, protocol="email", endpoint=cfg.alarm_email, opts=self._child
            )
        self._actions = [self.topic.arn]
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        for metric, threshold, review, short in (
            ("Reputation.BounceRate", cfg.bounce_rate_alarm_threshold, "5%", "bounce-rate"),
            ("Reputation.ComplaintRate", cfg.complaint_rate_alarm_threshold, "0.1%", "complaint-rate"),
        ):
            self._alarm(
                short,
                f"{names.prefix}-{cfg.region}-{short}",
                f"SES {metric} >= {threshold} ({threshold:.2%}) in {cfg.region}: early warning, SES reviews the "
                f"account at {review}",
                namespace="AWS/SES",
                metric=metric,
                statistic="Maximum",
                period=REPUTATION_PERIOD_SECONDS,
                threshold=threshold,
                comparison="GreaterThanOrEqualToThreshold",
            )
        for queue in dlq_names:
            self._alarm(
                f"{queue.removeprefix(names.prefix + '-')}-depth",
                f"{queue}-{cfg.region}-depth",
                f"messages waiting in dead-letter queue {queue}: inspect and redrive",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue},
                statistic="Maximum",
                threshold=0,
            )
        for logical, queue in queue_names.items():
            age = QUEUE_AGE_ALARM_SECONDS[logical]
            self._alarm(
                f"{logical}-age",
                f"{queue}-{cfg.region}-age",
                f"the oldest message in {queue} is older than {age} s: its consumer is failing or throttled",
                namespace="AWS/SQS",
                metric="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": queue},
                statistic="Maximum",
                threshold=age,
            )
        for fn in functions:
            function = names.function(fn)
            periods = CONSUMER_ERROR_PERIODS if fn in CONSUMERS else 1
            for metric in ("Errors", "Throttles"):
                self._alarm(
                    f"{fn}-{metric.lower()}",
                    f"{function}-{cfg.region}-{metric.lower()}",
                    f"Lambda {function}: {metric} > 0 for {periods * PERIOD_SECONDS // 60} minutes",
                    namespace="AWS/Lambda",
                    metric=metric,
                    dimensions={"FunctionName": function},
                    statistic="Sum",
                    threshold=0,
                    periods=periods,
                )
        self._alarm(
            "guardrail-tripped",
            f"{names.prefix}-{cfg.region}-guardrail-tripped",
            "sesame's guardrails paused a campaign or stopped a configuration set at SES (bounce or complaint rate at "
            "the pause level): see GET /reputation; resume with PATCH /campaigns/{id} or "
            "/reputation/configuration-sets/{name}",
            namespace="Sesame",
            metric="GuardrailTripped",
            dimensions={"stage": cfg.stage},
            statistic="Sum",
            threshold=0,
        )
        self._alarm(
            "api-5xx",
            f"{api_name}-{cfg.region}-api-5xx",
            f"API {api_name} answered 5xx in the last 5 minutes",
            namespace="AWS/ApiGateway",
            metric="5XXError",
            dimensions={"ApiName": api_name, "Stage": api_stage},
            statistic="Sum",
            threshold=0,
        )
        self.register_outputs({"alarmTopicArn": self.topic.arn})

    def _alarm(
        self,
        resource: str,
        name: str,
        description: str,
        *,
        namespace: str,
        metric: str,
        statistic: str,
        threshold: float,
        dimensions: dict[str, str] | None = None,
        period: int = PERIOD_SECONDS,
        periods: int = 1,
        comparison: str = "GreaterThanThreshold",
    ) -> None:
        self.alarms.append(
            aws.cloudwatch.MetricAlarm(
                resource,
                name=name,
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=period,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                threshold=threshold,
                comparison_operator=comparison,
                treat_missing_data="notBreaching",
                alarm_actions=self._actions,
                ok_actions=self._actions,
                opts=self._child,
            )
        )
