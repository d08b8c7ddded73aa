"""The bulk-sender compliance checks as plain functions over a stack's resources.

Each check takes the declared resources (type token, name, engine-cased properties) and returns violation
messages. The CrossGuard pack (``infra/policy/__main__.py``) runs them at ``pulumi preview --policy-pack``; the tests
run them on the resources captured under Pulumi mocks. Values still unknown during a preview (a policy document
that embeds an ARN) are skipped, never reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
VERIFICATION = "aws:ses/domainIdentityVerification:DomainIdentityVerification"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
CONFIG_SET = "aws:sesv2/configurationSet:ConfigurationSet"
EVENT_DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"

MAX_COMPLAINT_ALARM_THRESHOLD = 0.003  # Gmail/Yahoo bulk-sender spam-rate limit


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]


Check = Callable[[Sequence[Resource]], list[str]]


def _of(resources: Sequence[Resource], token: str) -> list[Resource]:
    return [r for r in resources if r.type == token]


def _known_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    text = _known_str(value)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _records(resources: Sequence[Resource], record_type: str) -> list[tuple[str, list[str]]]:
    out = []
    for r in _of(resources, RECORD):
        if r.props.get("type") == record_type and isinstance(r.props.get("name"), str):
            values = [v for v in r.props.get("records") or [] if isinstance(v, str)]
            out.append((str(r.props["name"]).rstrip(".").lower(), values))
    return out


def dkim_enabled(resources: Sequence[Resource]) -> list[str]:
    """Every domain identity signs with DKIM (Easy DKIM 2048-bit or BYODKIM) and, with a managed zone, publishes it."""
    problems = []
    managed_zone = bool(_of(resources, RECORD))
    for identity in _of(resources, IDENTITY):
        attrs = identity.props.get("dkimSigningAttributes") or {}
        byodkim = bool(attrs.get("domainSigningSelector"))
        if not byodkim and attrs.get("nextSigningKeyLength") not in ("RSA_2048_BIT", None):
            problems.append(f"{identity.name}: Easy DKIM should use RSA_2048_BIT keys")
        if managed_zone and not byodkim:
            dkim = [n for n, _ in _records(resources, "CNAME") if "._domainkey." in n or n.endswith("._domainkey")]
            unknown = any(not isinstance(r.props.get("name"), str) for r in _of(resources, RECORD))
            if len(dkim) < 3 and not unknown:
                problems.append(f"{identity.name}: the three Easy DKIM CNAME records are not declared")
    if not _of(resources, IDENTITY) and not _of(resources, VERIFICATION):
        # a stack of an environment that does not own the domain (sesame:domainOwner) references the owner's
        # identity and waits for its verification; the owner's stacks are checked for DKIM
        problems.append("no SES domain identity declared or referenced")
    return problems


def mail_from_with_spf(resources: Sequence[Resource]) -> list[str]:
    """Every identity has a custom MAIL FROM; with a managed zone, its MX and SPF TXT records are declared."""
    problems = []
    mail_froms = _of(resources, MAIL_FROM)
    if len(mail_froms) < len(_of(resources, IDENTITY)):
        problems.append("an SES identity has no custom MAIL FROM domain")
    if not _of(resources, RECORD):
        return problems  # DNS managed elsewhere: the records are exported for the user
    mx = {n for n, _ in _records(resources, "MX")}
    spf = {n for n, values in _records(resources, "TXT") if any(v.startswith("v=spf1") for v in values)}
    for mf in mail_froms:
        domain = _known_str(mf.props.get("mailFromDomain"))
        if domain is None:
            continue
        if domain.lower() not in mx:
            problems.append(f"MAIL FROM {domain}: no MX record")
        if domain.lower() not in spf:
            problems.append(f"MAIL FROM {domain}: no SPF TXT record")
    return problems


def dmarc_present(resources: Sequence[Resource]) -> list[str]:
    """The home stack (the one owning the tables) of the environment that owns the domain (it declares the
    identity), with a managed zone, declares a DMARC record (created, or an existing one adopted), p=none at least."""
    if not _of(resources, TABLE) or not _of(resources, RECORD) or not _of(resources, IDENTITY):
        return []
    dmarc = [values for n, values in _records(resources, "TXT") if n.startswith("_dmarc.")]
    if not dmarc:
        return ["home stack declares no _dmarc TXT record"]
    if not any(v.startswith("v=DMARC1") and "p=" in v for values in dmarc for v in values):
        return ["the _dmarc record is not a DMARC1 policy"]
    return []


def event_destinations_enabled(resources: Sequence[Resource]) -> list[str]:
    """Every configuration set has an enabled event destination matching BOUNCE and COMPLAINT."""
    covered: set[str] = set()
    for dest in _of(resources, EVENT_DESTINATION):
        spec = dest.props.get("eventDestination") or {}
        types = set(spec.get("matchingEventTypes") or [])
        if spec.get("enabled") is True and {"BOUNCE", "COMPLAINT"} <= types:
            name = _known_str(dest.props.get("configurationSetName"))
            if name:
                covered.add(name)
    problems = []
    for cs in _of(resources, CONFIG_SET):
        name = _known_str(cs.props.get("configurationSetName"))
        if name and name not in covered:
            problems.append(f"configuration set {name}: no enabled event destination with BOUNCE and COMPLAINT")
    return problems


def tracking_over_https(resources: Sequence[Resource]) -> list[str]:
    """Configuration sets with a custom tracking domain require HTTPS."""
    problems = []
    for cs in _of(resources, CONFIG_SET):
        tracking = cs.props.get("trackingOptions") or {}
        if tracking.get("customRedirectDomain") and tracking.get("httpsPolicy") != "REQUIRE":
            problems.append(
                f"configuration set {cs.props.get('configurationSetName')}: tracking domain without HttpsPolicy REQUIRE"
            )
    return problems


def complaint_alarm(resources: Sequence[Resource]) -> list[str]:
    """A Reputation.ComplaintRate alarm exists with a threshold at or below 0.3%."""
    alarms = [a for a in _of(resources, ALARM) if a.props.get("metricName") == "Reputation.ComplaintRate"]
    if not alarms:
        return ["no Reputation.ComplaintRate alarm"]
    problems = []
    for alarm in alarms:
        threshold = alarm.props.get("threshold")
        if isinstance(threshold, int | float) and threshold > MAX_COMPLAINT_ALARM_THRESHOLD:
            problems.append(
                f"{alarm.name}: complaint alarm threshold {threshold} above {MAX_COMPLAINT_ALARM_THRESHOLD} "
                "(thresholds are decimals: 0.001 = 0.1%)"
            )
    return problems


def topic_policy_scoped(resources: Sequence[Resource]) -> list[str]:
    """Every topic policy that lets SES publish is scoped by AWS:SourceArn (and AWS:SourceAccount)."""
    problems = []
    ses_statements = 0
    for policy in _of(resources, TOPIC_POLICY):
        doc = _json(policy.props.get("policy"))
        if doc is None:
            ses_statements += 1  # unknown during preview
            continue
        for statement in doc.get("Statement", []):
            principal = statement.get("Principal") or {}
            services = principal.get("Service") if isinstance(principal, dict) else None
            services = [services] if isinstance(services, str) else services or []
            if "ses.amazonaws.com" not in services:
                continue
            ses_statements += 1
            conditions = {k for block in (statement.get("Condition") or {}).values() for k in block}
            if "AWS:SourceArn" not in conditions and "aws:SourceArn" not in conditions:
                problems.append(f"{policy.name}: SES may publish without an AWS:SourceArn condition")
            if "AWS:SourceAccount" not in conditions and "aws:SourceAccount" not in conditions:
                problems.append(f"{policy.name}: SES may publish without an AWS:SourceAccount condition")
    if _of(resources, EVENT_DESTINATION) and ses_statements == 0:
        problems.append("no topic policy lets SES publish events (event destinations would fail)")
    return problems


def queues_have_dlq(resources: Sequence[Resource]) -> list[str]:
    """Every queue that is not itself a dead-letter queue has a redrive policy to one."""
    problems = []
    for queue in _of(resources, QUEUE):
        name = _known_str(queue.props.get("name")) or queue.name
        if name.endswith("-dlq"):
            continue
        if "redrivePolicy" not in queue.props:
            problems.append(f"queue {name}: no dead-letter queue (redrivePolicy)")
            continue
        redrive = _json(queue.props.get("redrivePolicy"))
        if redrive is not None and (not redrive.get("deadLetterTargetArn") or not redrive.get("maxReceiveCount")):
            problems.append(f"queue {name}: redrivePolicy without deadLetterTargetArn/maxReceiveCount")
    return problems


CHECKS: dict[str, tuple[str, Check]] = {
    "ses-dkim-enabled": ("SES identities sign with DKIM and publish the DKIM records.", dkim_enabled),
    "ses-mail-from-spf": ("Custom MAIL FROM with MX and SPF records.", mail_from_with_spf),
    "ses-dmarc-present": ("The home stack declares a DMARC policy (p=none at least).", dmarc_present),
    "ses-event-destinations-enabled": (
        "Every configuration set publishes BOUNCE and COMPLAINT events to an enabled destination.",
        event_destinations_enabled,
    ),
    "ses-tracking-https": ("Custom tracking domains use HttpsPolicy REQUIRE.", tracking_over_https),
    "ses-complaint-alarm": ("A complaint-rate alarm at or below 0.3% exists.", complaint_alarm),
    "sns-topic-policy-scoped": ("SES may publish to the event topic only from this stack.", topic_policy_scoped),
    "sqs-dead-letter-queues": ("Every queue has a dead-letter queue.", queues_have_dlq),
}


def run_all(resources: Sequence[Resource]) -> dict[str, list[str]]:
    """Every check's violations (empty lists for passing checks)."""
    return {name: check(resources) for name, (_, check) in CHECKS.items()}
