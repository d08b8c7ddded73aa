"""The SES event simulator: payload structure against the AWS documentation's examples, and mailbox semantics."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.cli import main as cli_main
from runtime.local.simulator import (
    DETAIL_KEYS,
    EVENT_TYPES,
    Scenario,
    SentMail,
    SesEventSimulator,
    SimulatorOptions,
    build_event,
    demo_recipients,
    scenario_for,
    simulator_address,
)

# The mail object and detail objects of the examples published in the SES developer guide
# ("Examples of event data that Amazon SES publishes to Amazon SNS"), trimmed to one header.
_DOC_MAIL: dict[str, Any] = {
    "timestamp": "2016-10-19T23:20:52.240Z",
    "source": "sender@example.com",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId": "123456789012",
    "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    "destination": ["recipient@example.com"],
    "headersTruncated": False,
    "headers": [{"name": "From", "value": "sender@example.com"}],
    "commonHeaders": {
        "from": ["sender@example.com"],
        "to": ["recipient@example.com"],
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "subject": "Message sent from Amazon SES",
    },
    "tags": {
        "ses:configuration-set": ["ConfigSet"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["ses_user"],
    },
}
_DOC_DETAILS: dict[str, dict[str, Any]] = {
    "Send": {},
    "Reject": {"reason": "Bad content"},
    "Bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "Complaint": {
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "complaintSubType": None,
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "userAgent": "Mozilla/5.0",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "Delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    },
    "Open": {"ipAddress": "192.0.2.1", "timestamp": "2017-08-09T22:00:19.652Z", "userAgent": "Mozilla/5.0"},
    "Click": {
        "ipAddress": "192.0.2.1",
        "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        "linkTags": {"samplekey0": ["samplevalue0"]},
        "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0",
    },
    "Rendering Failure": {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    },
    "DeliveryDelay": {
        "timestamp": "2020-06-16T00:15:40.641Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
        ],
    },
    "Subscription": {
        "contactList": "ContactListName",
        "timestamp": "2022-01-12T01:00:14.340Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {
            "unsubscribeAll": True,
            "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}],
        },
        "oldTopicPreferences": {
            "unsubscribeAll": False,
            "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}],
        },
    },
}
_FIXTURES = Path(__file__).resolve().parents[1] / "events"
_SENT_AT = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


def _documented(event_type: str) -> dict[str, Any]:
    return {"eventType": event_type, "mail": _DOC_MAIL, DETAIL_KEYS[event_type]: _DOC_DETAILS[event_type]}


def _structure_problems(expected: Any, actual: Any, path: str = "$", *, open_keys: bool = False) -> list[str]:
    """Differences in keys, nesting and value types (not values); ``open_keys`` allows extra keys."""
    if expected is None:
        return [] if actual is None or isinstance(actual, str) else [f"{path}: expected null or string"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {type(actual).__name__}"]
        problems = [f"{path}.{k}: missing" for k in expected if k not in actual]
        if not open_keys:
            problems += [f"{path}.{k}: not in the documented example" for k in actual if k not in expected]
        for key in expected:
            if key in {"tags", "linkTags"}:  # user-defined names: a map of string lists
                value = actual.get(key)
                if not isinstance(value, dict) or not all(
                    isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
                ):
                    problems.append(f"{path}.{key}: expected an object of string lists")
                elif key == "tags":
                    problems += [f"{path}.tags.{k}: missing" for k in expected[key] if k not in value]
            elif key in actual:
                problems += _structure_problems(expected[key], actual[key], f"{path}.{key}", open_keys=open_keys)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or not actual:
            return [f"{path}: expected a non-empty list"]
        return [p for item in actual for p in _structure_problems(expected[0], item, f"{path}[]")]
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if type(expected) is type(actual) else [f"{path}: expected {type(expected).__name__}"]
    if isinstance(expected, int | float):
        return [] if isinstance(actual, int | float) else [f"{path}: expected number"]
    return [] if isinstance(actual, type(expected)) else [f"{path}: expected {type(expected).__name__}"]


def _mail(recipient: str = "success@simulator.amazonses.com", **kw: Any) -> SentMail:
    return SentMail(
        message_id=kw.pop("message_id", "0100019433a1b2c3-aaaa-bbbb-cccc-dddd-eeeeeeeeeeee-000000"),
        recipient=recipient,
        sent_at=_SENT_AT,
        campaign_id=kw.pop("campaign_id", "spring-sale"),
        list_name=kw.pop("list_name", "newsletter"),
        **kw,
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_payload_structure_matches_the_documented_example(event_type: str) -> None:
    payload = build_event(event_type, _mail(), _SENT_AT, random.Random(1))
    assert _structure_problems(_documented(event_type), payload) == []


def _event_fixtures() -> list[tuple[str, dict[str, Any]]]:
    """The ingestion area's documented examples that are event-publishing payloads (not identity notifications)."""
    found = []
    for path in sorted(_FIXTURES.glob("*.json")):
        documented = json.loads(path.read_text())
        if isinstance(documented, dict) and isinstance(documented.get("Message"), str):
            documented = json.loads(documented["Message"])  # an SNS envelope around the SES event
        if isinstance(documented, dict) and documented.get("eventType") in DETAIL_KEYS:
            found.append((path.name, documented))
    return found


@pytest.mark.parametrize(("name", "documented"), _event_fixtures(), ids=lambda v: v if isinstance(v, str) else "")
def test_payload_structure_matches_the_ingestion_fixtures(name: str, documented: dict[str, Any]) -> None:
    event_type = documented["eventType"]
    payload = build_event(event_type, _mail(), _SENT_AT, random.Random(1))
    # fixtures may trim or extend optional fields: every key the simulator produces must appear in the fixture's
    # structure with the same type, wherever the fixture has it
    problems = [p for p in _structure_problems(documented, payload, open_keys=True) if not p.endswith(": missing")]
    assert problems == []


def test_mail_object_carries_the_configuration_set_and_attribution_tags() -> None:
    tags = build_event("Send", _mail(configuration_set="sesame-dev-marketing"), _SENT_AT)["mail"]["tags"]
    assert tags["ses:configuration-set"] == ["sesame-dev-marketing"]
    assert tags["campaign_id"] == ["spring-sale"]
    assert tags["list_name"] == ["newsletter"]
    assert tags["ses:from-domain"] == ["example.com"]
    for name in ("ses:source-ip", "ses:caller-identity", "ses:operation"):
        assert isinstance(tags[name], list) and tags[name]


def test_untagged_mail_has_no_campaign_tags() -> None:
    tags = build_event("Send", _mail(campaign_id=None, list_name=None), _SENT_AT)["mail"]["tags"]
    assert "campaign_id" not in tags and "list_name" not in tags


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SES event type"):
        build_event("Opened", _mail(), _SENT_AT)


@pytest.mark.parametrize(
    ("address", "scenario"),
    [
        ("success@simulator.amazonses.com", Scenario.SUCCESS),
        ("bounce+r00001@simulator.amazonses.com", Scenario.BOUNCE),
        ("Complaint+abc@Simulator.AmazonSES.com", Scenario.COMPLAINT),
        ("suppressionlist@simulator.amazonses.com", Scenario.SUPPRESSIONLIST),
        ("ooto+x@simulator.amazonses.com", Scenario.OOTO),
        ("bounce@example.com", Scenario.SUCCESS),
    ],
)
def test_plus_label_variants_behave_like_the_base_address(address: str, scenario: Scenario) -> None:
    assert scenario_for(address) is scenario


def _kinds(recipient: str, **options: Any) -> list[str]:
    sim = SesEventSimulator(SimulatorOptions(**options))
    return [e.event_type for e in sim.events_for(_mail(recipient))]


def test_bounce_address_yields_send_then_permanent_general_bounce() -> None:
    sim = SesEventSimulator()
    events = sim.events_for(_mail("bounce+7@simulator.amazonses.com"))
    assert [e.event_type for e in events] == ["Send", "Bounce"]
    bounce = events[1].payload["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    assert bounce["bouncedRecipients"][0]["emailAddress"] == "bounce+7@simulator.amazonses.com"


def test_suppressionlist_address_bounces_on_account_suppression_list() -> None:
    events = SesEventSimulator().events_for(_mail("suppressionlist@simulator.amazonses.com"))
    assert [e.event_type for e in events] == ["Send", "Bounce"]
    assert events[1].payload["bounce"]["bounceSubType"] == "OnAccountSuppressionList"


def test_complaint_address_is_delivered_then_complains_with_abuse() -> None:
    events = SesEventSimulator().events_for(_mail("complaint@simulator.amazonses.com"))
    assert [e.event_type for e in events] == ["Send", "Delivery", "Complaint"]
    assert events[2].payload["complaint"]["complaintFeedbackType"] == "abuse"


def test_ooto_address_is_reported_as_delivered() -> None:
    assert _kinds("ooto@simulator.amazonses.com") == ["Send", "Delivery"]


def test_success_address_is_delivered_and_may_be_opened_and_clicked() -> None:
    assert _kinds("success@simulator.amazonses.com", open_rate=0, delay_rate=0) == ["Send", "Delivery"]
    kinds = _kinds("success@simulator.amazonses.com", open_rate=1, click_rate=1, delay_rate=0)
    assert kinds[:3] == ["Send", "Delivery", "Open"] and "Click" in kinds


def test_delivery_delay_comes_before_the_delivery() -> None:
    kinds = _kinds("success@simulator.amazonses.com", delay_rate=1, open_rate=0)
    assert kinds == ["Send", "DeliveryDelay", "Delivery"]


def test_event_times_follow_the_send_and_each_other() -> None:
    events = SesEventSimulator(SimulatorOptions(open_rate=1, click_rate=1)).events_for(_mail())
    times = [e.at for e in events]
    assert times == sorted(times) and times[0] > _SENT_AT
    delivery = next(e for e in events if e.event_type == "Delivery").payload["delivery"]
    assert delivery["processingTimeMillis"] > 0


def _mails(n: int) -> list[SentMail]:
    return [_mail(r, message_id=f"m-{i:04d}") for i, r in enumerate(demo_recipients(n, seed=3))]


def test_same_seed_gives_identical_runs_and_another_seed_differs() -> None:
    def run(seed: int) -> list[str]:
        sim = SesEventSimulator(SimulatorOptions(seed=seed, duplicate_rate=0.1, out_of_order=True))
        return [e.message_text() for e in sim.schedule(_mails(60))]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_duplicates_are_byte_identical_redeliveries() -> None:
    sim = SesEventSimulator(SimulatorOptions(duplicate_rate=0.2))
    events = sim.schedule(_mails(80))
    originals = {e.message_text() for e in events if not e.duplicate}
    duplicates = [e for e in events if e.duplicate]
    assert duplicates
    assert all(d.message_text() in originals for d in duplicates)
    assert len(events) - len(duplicates) == sim.ground_truth(_mails(80)).events


def test_out_of_order_delivers_some_events_before_earlier_ones_of_the_same_message() -> None:
    events = SesEventSimulator(SimulatorOptions(out_of_order=True, open_rate=1)).schedule(_mails(80))
    seen: dict[str, datetime] = {}
    overtaken = 0
    for e in events:
        if e.message_id in seen and e.at < seen[e.message_id]:
            overtaken += 1
        seen[e.message_id] = max(e.at, seen.get(e.message_id, e.at))
    assert overtaken > 0


def test_ground_truth_counts_follow_the_addresses() -> None:
    mails = [_mail(simulator_address(s, str(i)), message_id=f"m{i}") for i, s in enumerate(Scenario)]
    truth = SesEventSimulator(SimulatorOptions(open_rate=0, delay_rate=0)).ground_truth(mails)
    assert (truth.sent, truth.delivered) == (5, 3)
    assert (truth.bounced_hard, truth.ses_suppressed, truth.complained) == (1, 1, 1)
    assert truth.opened_unique == truth.clicked_unique == 0


def test_demo_recipients_are_distinct_and_cover_every_scenario() -> None:
    recipients = demo_recipients(100)
    assert len(set(recipients)) == 100
    assert {scenario_for(r) for r in recipients} == set(Scenario)


def test_cli_prints_one_documented_payload_per_requested_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["simulate", "--type", "Bounce", "--to", "bounce@simulator.amazonses.com", "--compact"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert _structure_problems(_documented("Bounce"), payload) == []


def test_cli_without_type_prints_the_mailbox_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["simulate", "--to", "complaint+a@simulator.amazonses.com", "--compact"]) == 0
    kinds = [json.loads(line)["eventType"] for line in capsys.readouterr().out.strip().splitlines()]
    assert kinds == ["Send", "Delivery", "Complaint"]
