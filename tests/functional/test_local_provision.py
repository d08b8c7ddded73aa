"""The local stack's provisioning: Pulumi resources -> moto calls -> the app's environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime.local import provision
from runtime.local.provision import DeclaredResource
from runtime.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


def _table(name: str) -> DeclaredResource:
    return DeclaredResource(
        "aws:dynamodb/table:Table",
        name,
        {
            "name": f"sesame-dev-{name}",
            "hashKey": "message_id",
            "attributes": [
                {"name": "message_id", "type": "S"},
                {"name": "campaign_id", "type": "S"},
                {"name": "status_key", "type": "S"},
            ],
            "globalSecondaryIndexes": [
                {
                    "name": "campaign-index",
                    "keySchemas": [
                        {"attributeName": "status_key", "keyType": "RANGE"},
                        {"attributeName": "campaign_id", "keyType": "HASH"},
                    ],
                    "projectionType": "ALL",
                }
            ],
            "ttl": {"attributeName": "expires_at", "enabled": True},
            "billingMode": "PAY_PER_REQUEST",
        },
    )


def _fake_program() -> list[DeclaredResource]:
    q = f"arn:aws:sqs:us-east-1:{ACCOUNT}"
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:sesame-dev-ses-events"
    return [
        DeclaredResource("pulumi:pulumi:Stack", "sesame-dev", {}),
        DeclaredResource("sesame:infra:Messaging", "messaging", {}),
        _table("messages"),
        # the queue is declared before its DLQ: the plan must still create the DLQ first
        DeclaredResource(
            "aws:sqs/queue:Queue",
            "critical",
            {
                "name": "sesame-dev-critical",
                "visibilityTimeoutSeconds": 360.0,
                "redrivePolicy": json.dumps(
                    {"deadLetterTargetArn": f"{q}:sesame-dev-critical-dlq", "maxReceiveCount": 3}
                ),
            },
        ),
        DeclaredResource("aws:sqs/queue:Queue", "critical-dlq", {"name": "sesame-dev-critical-dlq"}),
        DeclaredResource(
            "aws:sns/topicSubscription:TopicSubscription",
            "critical-subscription",
            {
                "topic": topic,
                "protocol": "sqs",
                "endpoint": f"{q}:sesame-dev-critical",
                "rawMessageDelivery": False,
                "filterPolicy": json.dumps({"eventType": ["Bounce", "Complaint"]}),
                "filterPolicyScope": "MessageBody",
            },
        ),
        DeclaredResource("aws:sns/topic:Topic", "ses-events", {"name": "sesame-dev-ses-events", "signatureVersion": 2}),
        DeclaredResource(
            "aws:sns/topicSubscription:TopicSubscription",
            "alarm-email",
            {"topic": topic, "protocol": "email", "endpoint": "ops@example.com"},
        ),
        DeclaredResource(
            "aws:sesv2/configurationSet:ConfigurationSet", "marketing", {"configurationSetName": "sesame-dev-marketing"}
        ),
        DeclaredResource("aws:sesv2/emailIdentity:EmailIdentity", "identity", {"emailIdentity": "example.com"}),
        DeclaredResource("aws:s3/bucket:Bucket", "campaigns", {"bucket": "sesame-dev-campaigns"}),
        DeclaredResource(
            "aws:ssm/parameter:Parameter",
            "app-secrets",
            {"name": "/sesame/dev/app-secrets", "type": "SecureString", "value": "{}"},
        ),
        DeclaredResource("aws:route53/record:Record", "dkim-0", {}),
        DeclaredResource("aws:cloudfront/distribution:Distribution", "tracking", {}),
        DeclaredResource("aws:cloudwatch/metricAlarm:MetricAlarm", "complaint-rate", {}),
        DeclaredResource("aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination", "sns", {}),
        DeclaredResource("aws:sqs/queuePolicy:QueuePolicy", "critical-policy", {}),
    ]


def test_translation_keeps_every_moto_resource_and_explains_every_skip() -> None:
    plan = provision.translate(_fake_program())
    kinds = sorted(op.kind for op in plan.operations)
    assert kinds == sorted(
        ["table", "queue", "queue", "subscription", "topic", "configuration_set", "identity", "bucket", "parameter"]
    )
    skipped = {name: reason for _typ, name, reason in plan.skipped}
    assert set(skipped) == {
        "sesame-dev",
        "messaging",
        "alarm-email",
        "dkim-0",
        "tracking",
        "complaint-rate",
        "sns",
        "critical-policy",
    }
    assert "DNS" in skipped["dkim-0"] and "CloudFront" in skipped["tracking"]
    assert "CreateConfigurationSetEventDestination" in skipped["sns"]
    assert all(reason for reason in skipped.values())


def test_table_translation_uses_the_declared_keys_indexes_and_ttl() -> None:
    (op,) = provision.translate([_table("messages")]).of("table")
    assert op.params["KeySchema"] == [{"AttributeName": "message_id", "KeyType": "HASH"}]
    (gsi,) = op.params["GlobalSecondaryIndexes"]
    assert gsi["KeySchema"] == [
        {"AttributeName": "campaign_id", "KeyType": "HASH"},
        {"AttributeName": "status_key", "KeyType": "RANGE"},
    ]
    assert op.params["_ttl_attribute"] == "expires_at"


def test_dead_letter_queues_are_created_before_the_queues_that_redrive_to_them() -> None:
    names = [op.name for op in provision.translate(_fake_program()).of("queue")]
    assert names.index("sesame-dev-critical-dlq") < names.index("sesame-dev-critical")


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def test_applied_plan_creates_working_resources_and_a_valid_app_environment(moto: Any) -> None:
    plan = provision.translate(_fake_program())
    stack = provision.apply_plan(plan, moto, parameter_values={"/sesame/dev/app-secrets": '{"pagination_secret": "x"}'})

    sqs = moto("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=stack.queues["sesame-dev-critical"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.queue_arns["sesame-dev-critical-dlq"],
        "maxReceiveCount": 3,
    }
    assert attrs["VisibilityTimeout"] == "360"
    table = moto("dynamodb").describe_table(TableName="sesame-dev-messages")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "campaign-index"
    (sub,) = stack.subscriptions
    assert sub["Endpoint"] == stack.queue_arns["sesame-dev-critical"]
    assert json.loads(sub["Attributes"]["FilterPolicy"]) == {"eventType": ["Bounce", "Complaint"]}
    assert moto("ssm").get_parameter(Name="/sesame/dev/app-secrets", WithDecryption=True)["Parameter"]["Value"] == (
        '{"pagination_secret": "x"}'
    )

    env = provision.app_environment(stack, environment="dev", region="us-east-1")
    assert env["SESAME_CRITICAL_QUEUE_URL"] == stack.queues["sesame-dev-critical"]
    assert env["SESAME_MESSAGES_TABLE"] == "sesame-dev-messages"
    assert env["SNS_ALLOWED_TOPIC_ARNS"] == stack.topics["sesame-dev-ses-events"]
    assert json.loads(env["SESAME_CONFIGURATION_SETS"]) == {"marketing": "sesame-dev-marketing"}
    assert env["SESAME_SECRETS_PARAMETER"] == "/sesame/dev/app-secrets"
    settings = Settings.from_env(env)
    assert settings.critical_queue_url == stack.queues["sesame-dev-critical"]
    assert settings.configuration_set_name("marketing") == "sesame-dev-marketing"


def test_builtin_fallback_stack_provisions_the_documented_names(moto: Any) -> None:
    stack = provision.apply_plan(provision.translate(provision.builtin_resources()), moto)
    env = provision.app_environment(stack, environment="dev", region="us-east-1")
    for var in (
        "SESAME_SEND_QUEUE_URL",
        "SESAME_ENGAGEMENT_QUEUE_URL",
        "SESAME_FORWARD_DLQ_URL",
        "SESAME_CAMPAIGNS_TABLE",
    ):
        assert env[var]


@pytest.mark.skipif(not (REPO / "__main__.py").exists(), reason="the Pulumi program has not landed")
def test_the_pulumi_programs_dev_stack_translates_to_every_queue_table_and_subscription(tmp_path: Path) -> None:
    out = tmp_path / "resources.json"
    subprocess.run(
        [sys.executable, "-m", "runtime.local.pulumi_capture", "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    resources = [DeclaredResource(r["type"], r["name"], r["inputs"]) for r in json.loads(out.read_text())["resources"]]
    plan = provision.translate(resources)
    queues = {op.name for op in plan.of("queue")}
    for logical in ("send", "critical", "engagement", "forward"):
        assert {f"sesame-dev-{logical}", f"sesame-dev-{logical}-dlq"} <= queues
    assert {op.name for op in plan.of("table")} == {
        f"sesame-dev-{t}" for t in ("messages", "campaigns", "suppressions", "control")
    }
    assert {op.params["Endpoint"].rsplit(":", 1)[-1] for op in plan.of("subscription")} >= {
        "sesame-dev-critical",
        "sesame-dev-engagement",
    }
    unexplained = sorted({typ for typ, _name, reason in plan.skipped if reason == provision.UNEXPLAINED})
    assert not unexplained, f"every skipped resource type has a specific reason: {unexplained}"
    skipped_types = {typ for typ, _name, _reason in plan.skipped}
    assert "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination" in skipped_types
