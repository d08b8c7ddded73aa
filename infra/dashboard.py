"""A CloudWatch dashboard per region: sends, deliveries, opens, clicks, bounce and complaint rates per
configuration set, reputation metrics against their alarm thresholds, queue and DLQ depths."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import Names

PERIOD = 300


def _search(metric: str, config_set: str) -> str:
    # the CloudWatch event destination publishes with both dimensions (configuration set + campaign_id)
    return (
        f'SUM(SEARCH(\'{{AWS/SES,"ses:configuration-set",campaign_id}} MetricName="{metric}" '
        f'"ses:configuration-set"="{config_set}"\', \'Sum\', {PERIOD}))'
    )


def _widget(title: str, metrics: list[Any], x: int, y: int, **extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": title, "metrics": metrics, "view": "timeSeries", "period": PERIOD}
    properties.update(extra)
    return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}


def dashboard_body(
    cfg: StackConfig, config_sets: Mapping[str, str], queue_names: Sequence[str], dlq_names: Sequence[str]
) -> dict[str, Any]:
    region = cfg.region
    widgets: list[dict[str, Any]] = []
    y = 0
    for logical, physical in config_sets.items():
        volume = [
            [{"expression": _search(m, physical), "id": f"{m.lower()}_{i}", "label": m}]
            for i, m in enumerate(("Send", "Delivery", "Open", "Click", "Bounce", "Complaint"))
        ]
        rates = [
            [{"expression": _search("Send", physical), "id": "sends", "visible": False}],
            [{"expression": _search("Bounce", physical), "id": "bounces", "visible": False}],
            [{"expression": _search("Complaint", physical), "id": "complaints", "visible": False}],
            [{"expression": "IF(sends > 0, bounces / sends, 0)", "id": "bounce_rate", "label": "bounce rate"}],
            [{"expression": "IF(sends > 0, complaints / sends, 0)", "id": "complaint_rate", "label": "complaint rate"}],
        ]
        widgets.append(_widget(f"{logical}: volume ({physical})", volume, 0, y, region=region, stat="Sum"))
        widgets.append(_widget(f"{logical}: bounce and complaint rates", rates, 12, y, region=region))
        y += 6
    widgets.append(
        _widget(
            "Reputation (account, this region)",
            [
                ["AWS/SES", "Reputation.BounceRate", {"label": "bounce rate", "stat": "Maximum"}],
                [
                    "AWS/SES",
                    "Reputation.ComplaintRate",
                    {"label": "complaint rate", "stat": "Maximum", "yAxis": "right"},
                ],
            ],
            0,
            y,
            region=region,
            annotations={
                "horizontal": [
                    {"label": "bounce alarm", "value": cfg.bounce_rate_alarm_threshold},
                    {"label": "complaint alarm", "value": cfg.complaint_rate_alarm_threshold, "yAxis": "right"},
                ]
            },
        )
    )
    widgets.append(
        _widget(
            "Queue depth",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, {"stat": "Maximum"}]
                for q in queue_names
            ]
            + [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q, {"stat": "Maximum", "yAxis": "right"}]
                for q in queue_names
            ],
            12,
            y,
            region=region,
        )
    )
    y += 6
    widgets.append(
        _widget(
            "Dead-letter queues (alarm above 0)",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, {"stat": "Maximum"}] for q in dlq_names],
            0,
            y,
            region=region,
            annotations={"horizontal": [{"label": "alarm", "value": 0}]},
        )
    )
    return {"widgets": widgets}


class Dashboard(pulumi.ComponentResource):
    """``sesame:infra:Dashboard``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        config_sets: Mapping[str, str],
        queue_names: Sequence[str],
        dlq_names: Sequence[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:Dashboard", name, None, opts)
        self.dashboard = aws.cloudwatch.Dashboard(
            "dashboard",
            dashboard_name=names.dashboard,
            dashboard_body=json.dumps(dashboard_body(cfg, config_sets, queue_names, dlq_names)),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.register_outputs({"dashboardName": names.dashboard})
