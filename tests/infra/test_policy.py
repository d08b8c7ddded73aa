"""The CrossGuard compliance checks, run on the resources captured under Pulumi mocks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from infra.policy.checks import CHECKS, Resource, run_all
from infra.policy.pack import policies
from tests.support.infra_stacks import HOME_STACK, SECOND_STACK, policy_resources, run_example

VERIFICATION = "aws:ses/domainIdentityVerification:DomainIdentityVerification"


def _mutate(resources: list[Resource], token: str, name: str, **props: Any) -> list[Resource]:
    out = []
    for r in resources:
        if r.type == token and r.name == name:
            merged = {**r.props, **props}
            r = replace(r, props={k: v for k, v in merged.items() if v is not None})
        out.append(r)
    return out


def _drop(resources: list[Resource], token: str, name: str | None = None) -> list[Resource]:
    return [r for r in resources if not (r.type == token and (name is None or r.name == name))]


@pytest.fixture(scope="module")
def home() -> list[Resource]:
    return policy_resources(run_example(HOME_STACK))


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        (HOME_STACK, {}),
        (SECOND_STACK, {}),
        (HOME_STACK, {"hostedZoneId": ""}),
        (HOME_STACK, {"webhook": "true", "archiveEnabled": "true"}),
        (HOME_STACK, {"hostedZoneId": "", "dnsRecordsReady": "true"}),
    ],
)
def test_declared_stacks_pass_every_check(stack: str, overrides: dict[str, str]) -> None:
    violations = run_all(policy_resources(run_example(stack, **overrides)))
    assert violations == {name: [] for name in CHECKS}


def test_http_tracking_is_reported() -> None:
    run = run_example(SECOND_STACK, trackingHttps="false")
    assert run_all(policy_resources(run))["ses-tracking-https"] == [
        "configuration set sesame-prod-marketing: tracking domain without HttpsPolicy REQUIRE"
    ]


def test_missing_dkim_records_are_reported(home: list[Resource]) -> None:
    resources = [r for r in home if not (r.type.startswith("aws:route53") and r.name.startswith("identity-dkim"))]
    assert CHECKS["ses-dkim-enabled"][1](resources) == ["identity: the three Easy DKIM CNAME records are not declared"]


def test_mail_from_without_spf_is_reported(home: list[Resource]) -> None:
    resources = _drop(home, "aws:route53/record:Record", "identity-mail-from-spf")
    assert CHECKS["ses-mail-from-spf"][1](resources) == ["MAIL FROM bounce-us-east-1.example.com: no SPF TXT record"]


def test_home_stack_without_dmarc_is_reported(home: list[Resource]) -> None:
    resources = _drop(home, "aws:route53/record:Record", "identity-dmarc")
    assert CHECKS["ses-dmarc-present"][1](resources) == ["home stack declares no _dmarc TXT record"]


def test_disabled_event_destination_is_reported(home: list[Resource]) -> None:
    token = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
    resources = [r for r in home if not (r.type == token and "transactional" in r.name)]
    sns = next(r for r in home if r.type == token and r.name == "config-set-transactional-sns")
    resources.append(
        replace(sns, props={**sns.props, "eventDestination": {**sns.props["eventDestination"], "enabled": False}})
    )
    assert CHECKS["ses-event-destinations-enabled"][1](resources) == [
        "configuration set sesame-prod-transactional: no enabled event destination with BOUNCE and COMPLAINT"
    ]


def test_lax_complaint_alarm_is_reported(home: list[Resource]) -> None:
    resources = _mutate(home, "aws:cloudwatch/metricAlarm:MetricAlarm", "complaint-rate", threshold=0.01)
    (message,) = CHECKS["ses-complaint-alarm"][1](resources)
    assert "complaint alarm threshold 0.01 above 0.003" in message
    assert CHECKS["ses-complaint-alarm"][1](
        _drop(home, "aws:cloudwatch/metricAlarm:MetricAlarm", "complaint-rate")
    ) == ["no Reputation.ComplaintRate alarm"]


def test_unscoped_topic_policy_is_reported(home: list[Resource]) -> None:
    policy = next(r for r in home if r.type == "aws:sns/topicPolicy:TopicPolicy" and r.name == "ses-events-policy")
    doc = json.loads(policy.props["policy"])
    doc["Statement"][0]["Condition"] = {}
    resources = _mutate(home, policy.type, policy.name, policy=json.dumps(doc))
    assert CHECKS["sns-topic-policy-scoped"][1](resources) == [
        "ses-events-policy: SES may publish without an AWS:SourceArn condition",
        "ses-events-policy: SES may publish without an AWS:SourceAccount condition",
    ]
    assert CHECKS["sns-topic-policy-scoped"][1](_drop(home, policy.type)) == [
        "no topic policy lets SES publish events (event destinations would fail)"
    ]


def test_queue_without_dlq_is_reported(home: list[Resource]) -> None:
    resources = _mutate(home, "aws:sqs/queue:Queue", "send", redrivePolicy=None)
    assert CHECKS["sqs-dead-letter-queues"][1](resources) == [
        "queue sesame-prod-send: no dead-letter queue (redrivePolicy)"
    ]


def test_unknown_preview_values_are_not_reported(home: list[Resource]) -> None:
    policy = next(r for r in home if r.type == "aws:sns/topicPolicy:TopicPolicy")
    resources = _mutate(home, policy.type, policy.name, policy=object())  # an unknown value during preview
    assert CHECKS["sns-topic-policy-scoped"][1](resources) == []


class _Args:
    def __init__(self, resources: list[Resource]) -> None:
        self.resources = [_PolicyResource(r) for r in resources]


class _PolicyResource:
    def __init__(self, r: Resource) -> None:
        self.resource_type, self.name, self.props = r.type, r.name, r.props


def test_crossguard_pack_reports_the_same_violations(home: list[Resource]) -> None:
    pack = {p.name: p for p in policies()}
    assert set(pack) == set(CHECKS)
    reported: list[str] = []
    resources = _mutate(home, "aws:sqs/queue:Queue", "send", redrivePolicy=None)
    for policy in pack.values():
        policy.validate(_Args(resources), lambda message, urn=None: reported.append(message))  # type: ignore[arg-type]
    assert reported == ["queue sesame-prod-send: no dead-letter queue (redrivePolicy)"]


def test_policy_pack_project_points_at_the_repository_venv() -> None:
    import yaml

    from tests.support.infra_stacks import ROOT

    spec = yaml.safe_load((ROOT / "infra" / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    assert (ROOT / "infra" / "policy" / spec["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"


def test_a_stack_that_neither_declares_nor_references_the_identity_is_reported(home: list[Resource]) -> None:
    resources = _drop(_drop(home, "aws:sesv2/emailIdentity:EmailIdentity"), VERIFICATION)
    assert "no SES domain identity declared or referenced" in CHECKS["ses-dkim-enabled"][1](resources)


def test_dmarc_is_left_to_the_environment_that_owns_the_domain() -> None:
    staging = policy_resources(run_example(HOME_STACK, environment="staging", domainOwner="prod"))
    assert not [r for r in staging if r.type == "aws:sesv2/emailIdentity:EmailIdentity"]
    assert CHECKS["ses-dmarc-present"][1](staging) == []
    assert CHECKS["ses-dkim-enabled"][1](staging) == []
