"""Test helpers of the ingest area: SES event records built from the documented shapes, and fixture loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.events.normalize import NormalizedEvent, event_from_message

FIXTURES = Path(__file__).resolve().parent.parent / "events"
MESSAGE_ID = "010f019033564cde-f72f7f27-0000-4000-8000-00000000000a-000000"
RECIPIENT = "Reader.One@Example.com"


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def fixture_event(name: str) -> NormalizedEvent:
    return event_from_message(fixture_text(name))


def ses_record(
    event_type: str,
    *,
    message_id: str = MESSAGE_ID,
    ts: str = "2024-06-20T01:51:00.000Z",
    sent_at: str = "2024-06-20T01:50:00.000Z",
    recipient: str = RECIPIENT,
    campaign: str | None = "spring",
    list_name: str | None = "news",
    bounce_type: str = "Permanent",
    link: str = "https://example.com/a",
    nonce: str = "",
    unsubscribe_all: bool = True,
) -> dict[str, Any]:
    """An SES event-publishing record of ``event_type`` (``nonce`` makes otherwise identical events distinct)."""
    tags: dict[str, list[str]] = {"ses:configuration-set": ["sesame-dev-marketing"]}
    if campaign:
        tags["campaign_id"] = [campaign]
    if list_name:
        tags["list_name"] = [list_name]
    mail = {
        "timestamp": sent_at,
        "source": "sender@example.com",
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "commonHeaders": {"from": ["sender@example.com"], "to": [recipient], "subject": "Hello"},
        "tags": tags,
    }
    record: dict[str, Any] = {"eventType": event_type, "mail": mail}
    if event_type == "Send":
        record["send"] = {}
    elif event_type == "Delivery":
        record["delivery"] = {
            "timestamp": ts,
            "processingTimeMillis": 1000,
            "recipients": [recipient],
            "smtpResponse": "250 ok " + nonce,
            "reportingMTA": "a1.smtp-out.amazonses.com",
        }
    elif event_type == "Open":
        record["open"] = {"timestamp": ts, "ipAddress": "192.0.2.1", "userAgent": "UA " + nonce}
    elif event_type == "Click":
        record["click"] = {"timestamp": ts, "ipAddress": "192.0.2.1", "userAgent": "UA " + nonce, "link": link}
    elif event_type == "Bounce":
        record["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General" if bounce_type != "Transient" else "MailboxFull",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1"}],
            "timestamp": ts,
            "feedbackId": "fb-" + nonce,
        }
    elif event_type == "Complaint":
        record["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": ts,
            "feedbackId": "fb-" + nonce,
            "complaintFeedbackType": "abuse",
        }
    elif event_type == "Reject":
        record["reject"] = {"reason": "Bad content"}
    elif event_type == "Rendering Failure":
        record["failure"] = {"templateName": "T", "errorMessage": "missing " + nonce}
    elif event_type == "DeliveryDelay":
        record["deliveryDelay"] = {
            "timestamp": ts,
            "delayType": "MailboxFull",
            "expirationTime": "2024-06-21T01:51:00.000Z",
            "delayedRecipients": [{"emailAddress": recipient, "status": "4.2.2"}],
        }
    elif event_type == "Subscription":
        record["subscription"] = {
            "contactList": "news",
            "timestamp": ts,
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {"unsubscribeAll": unsubscribe_all, "topicSubscriptionStatus": []},
        }
    else:
        record[event_type[:1].lower() + event_type[1:]] = {"timestamp": ts, "nonce": nonce}
    return record


def ses_event(event_type: str, **kwargs: Any) -> NormalizedEvent:
    return event_from_message(json.dumps(ses_record(event_type, **kwargs)))
