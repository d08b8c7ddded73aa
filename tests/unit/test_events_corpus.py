"""The documented-payload corpus: every SES event type and notification type as AWS's documentation publishes it,
plus every bounce / complaint sub-type variant, applied through the real parser and ingest engine.

Where each sample comes from (the files in ``tests/events/aws/`` are those examples, unchanged except as noted):

* ``event_*.json`` — "Examples of event data that Amazon SES publishes to Amazon SNS",
  https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html (the ten event types);
* ``notification_*.json`` — "Amazon SNS notification examples for Amazon SES",
  https://docs.aws.amazon.com/ses/latest/dg/notification-examples.html (bounce with / without a DSN, complaint with /
  without a feedback report, delivery);
* ``received_*.json`` — "Examples of notifications for Amazon SES email receiving",
  https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-examples.html (SNS action; alert — its
  ``objectKey`` is printed as ``"\\email"`` in the guide, which is not valid JSON, so the file has ``"email"``).

The sub-type variants take the documented bounce and complaint samples and set the fields the tables of
"Contents of event data that Amazon SES publishes to Amazon SNS"
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html: bounce types, complaint
types, complaint subtypes) list, one variant per row, in both formats (event publishing and identity notification).
The decisions asserted here are the table in docs/events.md.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.emails import recipient_hash
from runtime.events import EventParseError, event_from_message
from runtime.ingest import IngestEngine, InMemoryTrackingStore
from runtime.stores.schema import COUNTERS_TOTAL

CORPUS = Path(__file__).resolve().parents[1] / "events" / "aws"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text())
    return data


def apply(record: dict[str, Any]) -> InMemoryTrackingStore:
    store = InMemoryTrackingStore()
    result = IngestEngine(store, sleep=lambda _: None).apply([event_from_message(json.dumps(record))])
    assert not result.failed
    return store


def totals(store: InMemoryTrackingStore) -> dict[str, int]:
    """Non-zero counters of the campaign TOTAL item (the only campaign in these samples)."""
    items = [v for (_, sk), v in store.campaigns.items() if sk == COUNTERS_TOTAL]
    assert len(items) == 1
    return {k: v for k, v in store.counters(items[0]["campaign_id"], COUNTERS_TOTAL).items() if v}


def suppressions(store: InMemoryTrackingStore) -> dict[str, str]:
    """``{email: reason}`` of every ALL-scope suppression."""
    return {item["email"]: item["reason"] for (_, scope), item in store.suppressions.items() if scope == "ALL"}


def status(store: InMemoryTrackingStore) -> str | None:
    (summary,) = store.messages.values()
    return summary.get("status")


def soft_bounce_count(store: InMemoryTrackingStore, email: str) -> int:
    item = store.suppressions.get((recipient_hash(email), "SOFTBOUNCE"))
    return int(item["count"]) if item else 0


# name -> (status, non-zero TOTAL counters, ALL-scope suppressions)
DOCUMENTED: dict[str, tuple[str | None, dict[str, int], dict[str, str]]] = {
    "event_bounce": ("bounced", {"bounced_hard": 1}, {"recipient@example.com": "BOUNCE"}),
    "event_complaint": ("complained", {"complained": 1}, {"recipient@example.com": "COMPLAINT"}),
    "event_delivery": ("delivered", {"delivered": 1}, {}),
    "event_send": ("sent", {"sent": 1}, {}),
    "event_reject": ("rejected", {"rejected": 1}, {}),
    "event_open": ("opened", {"opened_total": 1, "opened_unique": 1}, {}),
    "event_click": ("clicked", {"clicked_total": 1, "clicked_unique": 1}, {}),
    "event_rendering_failure": ("rendering_failed", {"rendering_failed": 1}, {}),
    "event_delivery_delay": ("delayed", {"delayed": 1}, {}),
    "event_subscription": (None, {"subscription": 1, "unsubscribed": 1}, {"recipient@example.com": "UNSUBSCRIBE"}),
    "notification_bounce_dsn": ("bounced", {"bounced_hard": 1}, {"jane@example.com": "BOUNCE"}),
    "notification_bounce_no_dsn": (
        "bounced",
        {"bounced_hard": 1},
        {"jane@example.com": "BOUNCE", "richard@example.com": "BOUNCE"},
    ),
    "notification_complaint_feedback": ("complained", {"complained": 1}, {"richard@example.com": "COMPLAINT"}),
    "notification_complaint_no_feedback": ("complained", {"complained": 1}, {"richard@example.com": "COMPLAINT"}),
    "notification_delivery": ("delivered", {"delivered": 1}, {}),
}
# verified, then ignored: never stored or counted (SES receiving notifications are not sending events)
IGNORED = ("received_sns_action", "received_alert")


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_sample_gives_its_status_counters_and_suppressions(name):
    expected_status, expected_counters, expected_suppressions = DOCUMENTED[name]
    store = apply(sample(name))
    assert status(store) == expected_status
    assert totals(store) == expected_counters
    assert suppressions(store) == expected_suppressions


@pytest.mark.parametrize("name", IGNORED)
def test_receiving_notification_is_not_a_sending_event_and_is_ignored(name):
    with pytest.raises(EventParseError, match="notificationType"):
        event_from_message(json.dumps(sample(name)))


def test_corpus_covers_every_event_type_and_notification_type():
    files = sorted(p.stem for p in CORPUS.glob("*.json"))
    assert files == sorted([*DOCUMENTED, *IGNORED])
    kinds = {(d.get("eventType"), d.get("notificationType")) for d in map(sample, files)}
    event_types = {e for e, _ in kinds if e}
    notification_types = {n for _, n in kinds if n}
    assert event_types == {
        "Send",
        "Reject",
        "Bounce",
        "Complaint",
        "Delivery",
        "Open",
        "Click",
        "Rendering Failure",
        "DeliveryDelay",
        "Subscription",
    }
    assert notification_types == {"Bounce", "Complaint", "Delivery", "Received"}


# --- sub-type variants -------------------------------------------------------------------------------------------

# (bounceType, bounceSubType) -> (status, counter, suppression reason, counts toward the soft-bounce limit)
BOUNCE_SUBTYPES: dict[tuple[str, str], tuple[str, str, str | None, bool]] = {
    ("Undetermined", "Undetermined"): ("bounced", "bounced_undetermined", None, False),
    ("Permanent", "General"): ("bounced", "bounced_hard", "BOUNCE", False),
    ("Permanent", "NoEmail"): ("bounced", "bounced_hard", "BOUNCE", False),
    ("Permanent", "Suppressed"): ("suppressed", "ses_suppressed", None, False),
    ("Permanent", "OnAccountSuppressionList"): ("suppressed", "ses_suppressed", None, False),
    ("Transient", "General"): ("bounced", "bounced_soft", None, True),
    ("Transient", "MailboxFull"): ("bounced", "bounced_soft", None, True),
    ("Transient", "MessageTooLarge"): ("bounced", "bounced_soft", None, False),
    ("Transient", "ContentRejected"): ("bounced", "bounced_soft", None, False),
    ("Transient", "AttachmentRejected"): ("bounced", "bounced_soft", None, False),
}
BOUNCE_SAMPLES = {"event_bounce": "recipient@example.com", "notification_bounce_dsn": "jane@example.com"}


@pytest.mark.parametrize("source", sorted(BOUNCE_SAMPLES))
@pytest.mark.parametrize(("bounce_type", "subtype"), sorted(BOUNCE_SUBTYPES))
def test_every_documented_bounce_subtype_is_classified_deliberately(source, bounce_type, subtype):
    record = copy.deepcopy(sample(source))
    record["bounce"].update(bounceType=bounce_type, bounceSubType=subtype)
    expected_status, counter, reason, soft = BOUNCE_SUBTYPES[(bounce_type, subtype)]
    store = apply(record)
    email = BOUNCE_SAMPLES[source]
    assert status(store) == expected_status
    assert totals(store) == {counter: 1}
    assert suppressions(store) == ({email: reason} if reason else {})
    assert soft_bounce_count(store, email) == (1 if soft else 0)


# (complaintFeedbackType or None, complaintSubType or None) -> (status, counter, suppression reason)
COMPLAINT_VARIANTS: dict[tuple[str | None, str | None], tuple[str | None, str, str | None]] = {
    ("abuse", None): ("complained", "complained", "COMPLAINT"),
    ("auth-failure", None): ("complained", "complained", "COMPLAINT"),
    ("fraud", None): ("complained", "complained", "COMPLAINT"),
    ("other", None): ("complained", "complained", "COMPLAINT"),
    ("virus", None): ("complained", "complained", "COMPLAINT"),
    (None, None): ("complained", "complained", "COMPLAINT"),
    ("not-spam", None): (None, "not_spam", None),
    (None, "OnAccountSuppressionList"): ("suppressed", "ses_suppressed", None),
}
COMPLAINT_SAMPLES = {
    "event_complaint": "recipient@example.com",
    "notification_complaint_feedback": "richard@example.com",
}


@pytest.mark.parametrize("source", sorted(COMPLAINT_SAMPLES))
@pytest.mark.parametrize(("feedback", "subtype"), list(COMPLAINT_VARIANTS))
def test_every_documented_complaint_type_and_subtype_is_classified_deliberately(source, feedback, subtype):
    record = copy.deepcopy(sample(source))
    complaint = record["complaint"]
    complaint.pop("complaintFeedbackType", None)
    if feedback is not None:
        complaint["complaintFeedbackType"] = feedback
    complaint["complaintSubType"] = subtype
    expected_status, counter, reason = COMPLAINT_VARIANTS[(feedback, subtype)]
    store = apply(record)
    assert status(store) == expected_status
    assert totals(store) == {counter: 1}
    assert suppressions(store) == ({COMPLAINT_SAMPLES[source]: reason} if reason else {})


def test_suppression_list_drop_after_the_send_moves_the_message_to_suppressed():
    send = sample("event_send")
    bounce = copy.deepcopy(sample("event_bounce"))
    bounce["bounce"].update(bounceSubType="OnAccountSuppressionList")
    bounce["mail"] = send["mail"]
    store = InMemoryTrackingStore()
    engine = IngestEngine(store, sleep=lambda _: None)
    engine.apply([event_from_message(json.dumps(bounce)), event_from_message(json.dumps(send))])
    assert status(store) == "suppressed"
    assert totals(store) == {"sent": 1, "ses_suppressed": 1}


def test_corpus_size():
    """The numbers the closing note quotes: documented samples and sub-type variants."""
    documented = len(DOCUMENTED) + len(IGNORED)
    variants = len(BOUNCE_SUBTYPES) * len(BOUNCE_SAMPLES) + len(COMPLAINT_VARIANTS) * len(COMPLAINT_SAMPLES)
    assert (documented, variants) == (17, 36)
