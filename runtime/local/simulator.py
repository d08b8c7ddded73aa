"""SES event simulator: the events SES would publish for mail sent to the mailbox-simulator addresses.

moto accepts sends but never publishes SES events, so the local stack (and anyone testing an SES event consumer)
needs something that does. This module builds event-publishing payloads for all ten types with the field names
and nesting the SES documentation publishes (``eventType``, ``mail`` with ``headers``/``commonHeaders``/``tags``,
and the ``send``/``reject``/``bounce``/``complaint``/``delivery``/``open``/``click``/``failure``/``deliveryDelay``/
``subscription`` detail objects), and follows the mailbox simulator's semantics:

========================================  ==================================================================
recipient (``+label`` variants behave      events
like the base address)
========================================  ==================================================================
``success@simulator.amazonses.com``        Send, (DeliveryDelay), Delivery, some Open and Click
``bounce@simulator.amazonses.com``         Send, Bounce Permanent/General
``complaint@simulator.amazonses.com``      Send, Delivery, Complaint (abuse)
``suppressionlist@...``                    Send, Bounce Permanent/OnAccountSuppressionList
``ooto@simulator.amazonses.com``           Send, Delivery (SES reports the out-of-office auto-reply as delivered)
========================================  ==================================================================

Everything is deterministic for a seed: each message draws from its own ``Random(seed, message id)``, so the
outcome of a message does not depend on which other messages are simulated. Event times follow realistic delays
from the send time. ``schedule`` orders a whole run for delivery, optionally with SNS-style duplicate deliveries
(byte-identical ``Message``) and out-of-order arrival.

CLI (``sesame simulate``): prints payloads, e.g. ``sesame simulate --type Bounce --to bounce@simulator.amazonses.com``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from runtime.events.models import DETAIL_KEYS, EVENT_TYPES
from runtime.stores.schema import iso

SIMULATOR_DOMAIN = "simulator.amazonses.com"
DEFAULT_ACCOUNT_ID = "123456789012"


_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
_DEFAULT_LINKS = (
    "https://example.com/products?utm_campaign=demo",
    "https://example.com/blog/launch",
    "https://example.com/pricing",
)


class Scenario(StrEnum):
    SUCCESS = "success"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    SUPPRESSIONLIST = "suppressionlist"
    OOTO = "ooto"


def scenario_for(address: str) -> Scenario:
    """The mailbox-simulator scenario of an address (``+label`` ignored); any other address is ``success``."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return Scenario.SUCCESS
    base = local.split("+", 1)[0]
    try:
        return Scenario(base)
    except ValueError:
        return Scenario.SUCCESS


def simulator_address(scenario: Scenario | str, label: str | None = None) -> str:
    local = str(Scenario(scenario))
    return f"{local}+{label}@{SIMULATOR_DOMAIN}" if label else f"{local}@{SIMULATOR_DOMAIN}"


@dataclass(frozen=True)
class SentMail:
    """What SES knew when it accepted a message: the source of every event's ``mail`` object."""

    message_id: str
    recipient: str
    sent_at: datetime
    source: str = "Sesame Demo <demo@example.com>"
    subject: str = "Hello from sesame"
    configuration_set: str = "sesame-dev-marketing"
    campaign_id: str | None = None
    list_name: str | None = None
    extra_tags: tuple[tuple[str, str], ...] = ()
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    operation: str = "SendBulkEmail"
    caller_identity: str = "sesame-sender"
    source_ip: str = "192.0.2.10"
    template_name: str | None = None


@dataclass(frozen=True)
class SimulatedEvent:
    event_type: str
    message_id: str
    at: datetime  # when SES publishes it (simulated clock)
    payload: dict[str, Any]
    duplicate: bool = False  # a redelivery of an earlier event (identical payload)

    def message_text(self) -> str:
        """The SNS ``Message`` string: identical for every (re)delivery of this event."""
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=False)


@dataclass(frozen=True)
class SimulatorOptions:
    seed: int = 0
    open_rate: float = 0.5  # of delivered success@ messages
    click_rate: float = 0.4  # of opened messages
    delay_rate: float = 0.05  # success@ messages that see a DeliveryDelay before their Delivery
    max_opens: int = 3
    max_clicks: int = 2
    duplicate_rate: float = 0.0  # share of events delivered twice (SNS at-least-once)
    out_of_order: bool = False  # deliver in a shuffled order instead of event-time order
    links: tuple[str, ...] = _DEFAULT_LINKS


@dataclass
class GroundTruth:
    """What a correct consumer must count for a set of simulated messages (duplicates excluded)."""

    sent: int = 0
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    complained: int = 0
    delayed: int = 0
    ses_suppressed: int = 0  # bounces with subtype OnAccountSuppressionList: not hard bounces (docs/events.md)
    opened_unique: int = 0
    opened_total: int = 0
    clicked_unique: int = 0
    clicked_total: int = 0
    events: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _address(value: str) -> str:
    from runtime.emails import extract_address

    return extract_address(value)


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def fake_ses_message_id(sent_at: datetime, rng: random.Random) -> str:
    """An id shaped like SES's: 4 hex, 12 hex epoch millis, then a uuid and ``-000000``."""
    millis = int(sent_at.timestamp() * 1000)
    uuid = f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}"
    return f"0100{millis:012x}-{uuid}-000000"


def _feedback_id(mail: SentMail, rng: random.Random) -> str:
    return fake_ses_message_id(mail.sent_at, rng).replace("0100", "0101", 1)


def mail_object(mail: SentMail, *, event_type: str) -> dict[str, Any]:
    """The ``mail`` object of an event-publishing payload, as SES documents it."""
    source_address = _address(mail.source)
    from_domain = source_address.rpartition("@")[2]
    headers = [
        {"name": "From", "value": mail.source},
        {"name": "To", "value": mail.recipient},
        {"name": "Subject", "value": mail.subject},
        {"name": "MIME-Version", "value": "1.0"},
        {"name": "Content-Type", "value": 'multipart/alternative; boundary="----=_Part_0_sesame"'},
    ]
    tags: dict[str, list[str]] = {
        "ses:operation": [mail.operation],
        "ses:configuration-set": [mail.configuration_set],
        "ses:source-ip": [mail.source_ip],
        "ses:from-domain": [from_domain],
        "ses:caller-identity": [mail.caller_identity],
    }
    if event_type in {"Delivery", "Open", "Click", "Complaint", "Bounce", "DeliveryDelay"}:
        tags["ses:outgoing-ip"] = ["198.51.100.25"]
        tags["ses:outgoing-tls-version"] = ["TLSv1.3"]
    if mail.campaign_id is not None:
        tags["campaign_id"] = [mail.campaign_id]
    if mail.list_name is not None:
        tags["list_name"] = [mail.list_name]
    for name, value in mail.extra_tags:
        tags[name] = [value]
    obj: dict[str, Any] = {
        "timestamp": iso(mail.sent_at),
        "source": mail.source,
        "sourceArn": f"arn:aws:ses:{mail.region}:{mail.account_id}:identity/{from_domain}",
        "sendingAccountId": mail.account_id,
        "messageId": mail.message_id,
        "destination": [mail.recipient],
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [mail.source],
            "to": [mail.recipient],
            "messageId": mail.message_id,
            "subject": mail.subject,
        },
        "tags": tags,
    }
    return obj


def build_event(
    event_type: str,
    mail: SentMail,
    at: datetime,
    rng: random.Random | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """One event-publishing payload of ``event_type``; ``detail`` overrides fields of the detail object."""
    if event_type not in DETAIL_KEYS:
        raise ValueError(f"unknown SES event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    rng = rng or random.Random(f"{mail.message_id}:{event_type}:{at.isoformat()}")
    ts = iso(at)
    recipient = mail.recipient
    body: dict[str, Any]
    if event_type == "Send":
        body = {}
    elif event_type == "Reject":
        body = {"reason": "Bad content"}
    elif event_type == "Bounce":
        body = {
            "feedbackId": _feedback_id(mail, rng),
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": ts,
            "reportingMTA": "dns; b224-13.smtp-out.amazonses.com",
        }
        if detail.get("bounceSubType") == "OnAccountSuppressionList":
            body["bouncedRecipients"][0] = {
                "emailAddress": recipient,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "Amazon SES did not send the message to this address because it is on the "
                "suppression list for your account.",
            }
        elif detail.get("bounceType") == "Transient":
            body["bouncedRecipients"][0].update({"status": "4.2.2", "diagnosticCode": "smtp; 452 4.2.2 Mailbox full"})
            body["bounceSubType"] = "MailboxFull"
    elif event_type == "Complaint":
        body = {
            "feedbackId": _feedback_id(mail, rng),
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": ts,
            "userAgent": "Amazon SES Mailbox Simulator",
            "complaintFeedbackType": "abuse",
            "arrivalDate": ts,
        }
    elif event_type == "Delivery":
        processing = max(1, int((at - mail.sent_at).total_seconds() * 1000))
        body = {
            "timestamp": ts,
            "processingTimeMillis": processing,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }
    elif event_type == "Open":
        body = {
            "ipAddress": f"203.0.113.{rng.randint(1, 254)}",
            "timestamp": ts,
            "userAgent": rng.choice(_USER_AGENTS),
        }
    elif event_type == "Click":
        body = {
            "ipAddress": f"203.0.113.{rng.randint(1, 254)}",
            "link": rng.choice(_DEFAULT_LINKS),
            "linkTags": {"campaign": [mail.campaign_id or "none"]},
            "timestamp": ts,
            "userAgent": rng.choice(_USER_AGENTS),
        }
    elif event_type == "Rendering Failure":
        body = {
            "errorMessage": "Attribute 'name' is not present in the rendering data.",
            "templateName": mail.template_name or "sesame-template",
        }
    elif event_type == "DeliveryDelay":
        body = {
            "timestamp": ts,
            "delayType": "TransientCommunicationFailure",
            "expirationTime": iso(mail.sent_at + timedelta(hours=14)),
            "delayedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        }
    else:  # Subscription
        body = {
            "contactList": mail.list_name or "sesame-contacts",
            "timestamp": ts,
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {
                "unsubscribeAll": True,
                "topicSubscriptionStatus": [
                    {"topicName": mail.list_name or "newsletter", "subscriptionStatus": "OptOut"}
                ],
            },
            "oldTopicPreferences": {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [
                    {"topicName": mail.list_name or "newsletter", "subscriptionStatus": "OptIn"}
                ],
            },
        }
    body.update(detail)
    return {"eventType": event_type, "mail": mail_object(mail, event_type=event_type), DETAIL_KEYS[event_type]: body}


def _after(base: datetime, rng: random.Random, low: float, high: float) -> datetime:
    return base + timedelta(seconds=rng.uniform(low, high))


class SesEventSimulator:
    """Turns sent mail into the SES events the mailbox simulator would produce."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()

    def _rng(self, mail: SentMail) -> random.Random:
        digest = hashlib.sha256(f"{self.options.seed}:{mail.message_id}".encode()).hexdigest()
        return random.Random(int(digest[:16], 16))

    def events_for(self, mail: SentMail) -> list[SimulatedEvent]:
        """The events of one message in true (event-time) order, no duplicates."""
        opts = self.options
        rng = self._rng(mail)
        scenario = scenario_for(mail.recipient)
        out: list[tuple[str, datetime, dict[str, Any]]] = []
        send_at = _after(mail.sent_at, rng, 0.02, 0.3)
        out.append(("Send", send_at, {}))
        if scenario is Scenario.BOUNCE:
            out.append(("Bounce", _after(send_at, rng, 0.5, 8), {}))
        elif scenario is Scenario.SUPPRESSIONLIST:
            out.append(
                (
                    "Bounce",
                    _after(send_at, rng, 0.05, 0.5),
                    {"bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList"},
                )
            )
        else:
            delivery_base = send_at
            if scenario is Scenario.SUCCESS and rng.random() < opts.delay_rate:
                delay_at = _after(send_at, rng, 30, 300)
                out.append(("DeliveryDelay", delay_at, {}))
                delivery_base = delay_at
            delivered_at = _after(delivery_base, rng, 0.8, 6)
            out.append(("Delivery", delivered_at, {}))
            if scenario is Scenario.COMPLAINT:
                out.append(("Complaint", _after(delivered_at, rng, 20, 600), {}))
            elif scenario is Scenario.SUCCESS and rng.random() < opts.open_rate:
                opened_at = _after(delivered_at, rng, 5, 1800)
                opens = [opened_at]
                for _ in range(rng.randint(1, max(1, opts.max_opens)) - 1):
                    opens.append(_after(opens[-1], rng, 30, 3600))
                out.extend(("Open", t, {}) for t in opens)
                if rng.random() < opts.click_rate:
                    clicks = [_after(opened_at, rng, 2, 120)]
                    for _ in range(rng.randint(1, max(1, opts.max_clicks)) - 1):
                        clicks.append(_after(clicks[-1], rng, 5, 600))
                    out.extend(("Click", t, {}) for t in clicks)
        out.sort(key=lambda item: item[1])
        return [
            SimulatedEvent(kind, mail.message_id, at, build_event(kind, mail, at, rng, **detail))
            for kind, at, detail in out
        ]

    def schedule(self, mails: Iterable[SentMail]) -> list[SimulatedEvent]:
        """Every event of ``mails`` in delivery order, with the configured duplicates and reordering."""
        opts = self.options
        rng = random.Random(f"schedule:{opts.seed}")
        events: list[SimulatedEvent] = []
        for mail in mails:
            events.extend(self.events_for(mail))
        events.sort(key=lambda e: (e.at, e.message_id))
        if opts.duplicate_rate > 0:
            duplicates = [
                SimulatedEvent(e.event_type, e.message_id, _after(e.at, rng, 1, 600), e.payload, duplicate=True)
                for e in events
                if rng.random() < opts.duplicate_rate
            ]
            events.extend(duplicates)
            events.sort(key=lambda e: (e.at, e.message_id, e.duplicate))
        if opts.out_of_order and events:
            # SNS gives no ordering guarantee: shuffle within sliding windows so later events of a message
            # regularly overtake earlier ones, and move a few events far from their place.
            window = 25
            for start in range(0, len(events), window):
                chunk = events[start : start + window]
                rng.shuffle(chunk)
                events[start : start + window] = chunk
            for _ in range(max(1, len(events) // 50)):
                i, j = rng.randrange(len(events)), rng.randrange(len(events))
                events[i], events[j] = events[j], events[i]
        return events

    def ground_truth(self, mails: Iterable[SentMail]) -> GroundTruth:
        truth = GroundTruth()
        for mail in mails:
            events = self.events_for(mail)
            kinds = [e.event_type for e in events]
            truth.events += len(events)
            for kind in kinds:
                truth.by_type[kind] = truth.by_type.get(kind, 0) + 1
            truth.sent += kinds.count("Send")
            truth.delivered += kinds.count("Delivery")
            truth.complained += kinds.count("Complaint")
            truth.delayed += 1 if "DeliveryDelay" in kinds else 0
            for e in events:
                if e.event_type == "Bounce":
                    bounce = e.payload["bounce"]
                    if bounce["bounceSubType"] == "OnAccountSuppressionList":
                        truth.ses_suppressed += 1
                    elif bounce["bounceType"] == "Permanent":
                        truth.bounced_hard += 1
                    else:
                        truth.bounced_soft += 1
            truth.opened_total += kinds.count("Open")
            truth.clicked_total += kinds.count("Click")
            truth.opened_unique += 1 if "Open" in kinds else 0
            truth.clicked_unique += 1 if "Click" in kinds else 0
        return truth


def demo_recipients(count: int, *, seed: int = 0, weights: Sequence[tuple[Scenario, float]] | None = None) -> list[str]:
    """``count`` distinct simulator addresses (``+label`` variants) spread over the scenarios by ``weights``."""
    weights = weights or (
        (Scenario.SUCCESS, 0.70),
        (Scenario.OOTO, 0.06),
        (Scenario.BOUNCE, 0.10),
        (Scenario.COMPLAINT, 0.06),
        (Scenario.SUPPRESSIONLIST, 0.08),
    )
    total = sum(w for _, w in weights)
    counts = [int(count * w / total) for _, w in weights]
    counts[0] += count - sum(counts)
    rng = random.Random(f"recipients:{seed}")
    out = [
        simulator_address(scenario, f"r{i:05d}")
        for (scenario, _), n in zip(weights, counts, strict=True)
        for i in range(n)
    ]
    rng.shuffle(out)
    return out


# --------------------------------------------------------------------------------------------------- CLI


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "simulate",
        help="print SES event-publishing payloads (mailbox-simulator semantics)",
        description="Print the SES events for one message, as SES publishes them to SNS. Without --type, prints "
        "every event the mailbox simulator produces for --to (success@, bounce@, complaint@, suppressionlist@, "
        "ooto@simulator.amazonses.com, +label variants included).",
    )
    parser.add_argument("--type", choices=EVENT_TYPES, help="print only one event of this type")
    parser.add_argument("--to", default=simulator_address(Scenario.SUCCESS), help="recipient address")
    parser.add_argument("--from", dest="source", default="Sesame Demo <demo@example.com>", help="From header")
    parser.add_argument("--subject", default="Hello from sesame", help="Subject header")
    parser.add_argument("--message-id", help="SES message id (default: generated from the seed)")
    parser.add_argument(
        "--configuration-set", default="sesame-dev-marketing", help="ses:configuration-set tag (default %(default)s)"
    )
    parser.add_argument("--campaign-id", default="demo", help="campaign_id tag (default %(default)s; '' = none)")
    parser.add_argument("--list-name", default="newsletter", help="list_name tag (default %(default)s; '' = none)")
    parser.add_argument("--region", default="us-east-1", help="sending region (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same events)")
    parser.add_argument(
        "--open-rate", type=_probability, default=1.0, help="probability of opens for success@ mail (0-1)"
    )
    parser.add_argument("--click-rate", type=_probability, default=1.0, help="probability of clicks once opened (0-1)")
    parser.add_argument("--compact", action="store_true", help="one JSON document per line")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    sent_at = datetime.now(UTC).replace(microsecond=0)
    mail = SentMail(
        message_id=args.message_id or fake_ses_message_id(sent_at, rng),
        recipient=args.to,
        sent_at=sent_at,
        source=args.source,
        subject=args.subject,
        configuration_set=args.configuration_set,
        campaign_id=args.campaign_id or None,
        list_name=args.list_name or None,
        region=args.region,
    )
    if args.type:
        payloads = [build_event(args.type, mail, sent_at + timedelta(seconds=2), rng)]
    else:
        sim = SesEventSimulator(SimulatorOptions(seed=args.seed, open_rate=args.open_rate, click_rate=args.click_rate))
        payloads = [e.payload for e in sim.events_for(mail)]
    for payload in payloads:
        print(json.dumps(payload, separators=(",", ":")) if args.compact else json.dumps(payload, indent=2))
    sys.stdout.flush()
    return 0
