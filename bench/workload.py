"""The documented workload: SES event-publishing records as SES writes them, and the event mix per 100 sends —
100 Send, 97 Delivery, 2 Bounce (one permanent, one transient), 0.1 Complaint, 40 Open, 8 Click, and 5 % of the
deliveries delivered twice (SNS at-least-once) — in arrival order."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    email: str
    campaign_id: str
    list_name: str
    sent_at: datetime


def ses_record(
    kind: str, msg: SentMessage, at: datetime, n: int, *, subject: str = "Our spring sale"
) -> dict[str, Any]:
    """One SES event-publishing record (the shapes of SES's documented examples, one recipient)."""
    email, mid = msg.email, msg.message_id
    mail = {
        "timestamp": iso(msg.sent_at),
        "source": "news@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": mid,
        "destination": [email],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "news@example.com"},
            {"name": "To", "value": email},
            {"name": "Subject", "value": subject},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": 'multipart/alternative; boundary="b1"'},
        ],
        "commonHeaders": {"from": ["news@example.com"], "to": [email], "messageId": mid, "subject": subject},
        "tags": {
            "ses:configuration-set": ["sesame-bench-marketing"],
            "ses:source-ip": ["192.0.2.10"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["sesame-sender"],
            "campaign_id": [msg.campaign_id],
            "list_name": [msg.list_name],
        },
    }
    record: dict[str, Any] = {"eventType": kind, "mail": mail}
    ts = iso(at)
    if kind == "Send":
        record["send"] = {}
    elif kind == "Delivery":
        record["delivery"] = {
            "timestamp": ts,
            "processingTimeMillis": 812,
            "recipients": [email],
            "smtpResponse": "250 2.0.0 OK  1718848260 a1-20020a05",
            "reportingMTA": "a8-30.smtp-out.amazonses.com",
            "remoteMtaIp": "192.0.2.55",
        }
    elif kind == "Bounce":
        record["bounce"] = {
            "bounceType": "Permanent" if n % 2 == 0 else "Transient",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": email, "action": "failed", "status": "5.1.1"}],
            "timestamp": ts,
            "feedbackId": f"0100018f-{n:08d}-000000",
            "reportingMTA": "dns; a8-30.smtp-out.amazonses.com",
        }
    elif kind == "Complaint":
        record["complaint"] = {
            "complainedRecipients": [{"emailAddress": email}],
            "timestamp": ts,
            "feedbackId": f"0100018f-c{n:07d}-000000",
            "complaintFeedbackType": "abuse",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
        }
    elif kind == "Open":
        record["open"] = {
            "ipAddress": "198.51.100.7",
            "timestamp": ts,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        }
    elif kind == "Click":
        record["click"] = {
            "ipAddress": "198.51.100.7",
            "timestamp": ts,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "link": f"https://example.com/spring?item={n % 7}",
            "linkTags": {"item": [str(n % 7)]},
        }
    return record


def event_timeline(messages: list[SentMessage], rng: random.Random) -> list[tuple[datetime, str, str]]:
    """(arrival time, event type, SNS ``Message`` text) for ``messages``, with the documented mix, in arrival order.

    Message ``i`` of ``n``: the first 2 % bounce, the next one neither bounces nor is delivered (97 of 100
    delivered), the next 0.1 % (at least one) complain after delivery; 40 % of the rest open, 8 % of all click
    (among the openers); each delivery is duplicated with probability 0.05 / 0.97.
    """
    sends = len(messages)
    timeline: list[tuple[datetime, str, str]] = []
    bounces = round(sends * 0.02)
    complaints = max(1, round(sends * 0.001))

    def add(kind: str, at: datetime, n: int, msg: SentMessage) -> None:
        timeline.append((at, kind, json.dumps(ses_record(kind, msg, at, n), separators=(",", ":"))))

    for i, msg in enumerate(messages):
        add("Send", msg.sent_at, 0, msg)
        if i < bounces:
            add("Bounce", msg.sent_at + timedelta(seconds=rng.uniform(1, 30)), i, msg)
            continue
        if i < bounces + 1 and sends >= 100:  # 97 of 100 delivered (one more send neither bounces nor delivers)
            continue
        delivered = msg.sent_at + timedelta(seconds=rng.uniform(1, 20))
        add("Delivery", delivered, 0, msg)
        if rng.random() < 0.05 / 0.97:
            timeline.append((delivered + timedelta(seconds=rng.uniform(1, 120)), "Delivery", timeline[-1][2]))
        if i < bounces + 1 + complaints:
            add("Complaint", delivered + timedelta(minutes=rng.uniform(5, 60)), i, msg)
    opened = rng.sample(range(bounces + 1, sends), round(sends * 0.40))
    clicked = set(rng.sample(opened, round(sends * 0.08)))
    for n, i in enumerate(opened):
        msg = messages[i]
        at = msg.sent_at + timedelta(minutes=rng.uniform(1, 120))
        add("Open", at, n, msg)
        if i in clicked:
            add("Click", at + timedelta(seconds=rng.uniform(2, 60)), n, msg)
    timeline.sort(key=lambda t: t[0])
    return timeline


def synthetic_messages(sends: int, *, campaigns: int = 3, spacing_s: float = 0.05) -> list[SentMessage]:
    """``sends`` messages as if sent ``spacing_s`` apart, attributed round-robin to ``campaigns`` campaigns."""
    start = datetime(2024, 6, 20, 8, 0, tzinfo=UTC)
    return [
        SentMessage(
            f"010f0190{i:08x}-bench-{i:06d}-000000",
            f"reader{i}@example.org",
            f"spring-{i % campaigns}",
            "newsletter",
            start + timedelta(seconds=i * spacing_s),
        )
        for i in range(sends)
    ]
