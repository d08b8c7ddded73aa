"""How each SES event counts: the one place that decides it (docs/events.md has the same table).

For a normalised event, :func:`classify` answers: the summary status it moves the message to, the campaign counter
it adds to, the ALL-scope suppression it causes, and whether it counts toward the recipient's consecutive
soft-bounce limit. Every bounce and complaint sub-type AWS documents is decided here, deliberately:

* a bounce whose ``bounceSubType`` is ``OnAccountSuppressionList`` or ``Suppressed``, and a complaint whose
  ``complaintSubType`` is ``OnAccountSuppressionList``, mean SES did not send the message because the address is on
  a suppression list (the account's, or SES's global one). SES leaves them out of the account's bounce and complaint
  rates, so they are not hard bounces or complaints here either: status ``suppressed``, counter ``ses_suppressed``,
  and no sesame suppression (SES's list already holds the address; the user manages it there);
* ``Transient`` bounces whose sub-type is about the message, not the mailbox (``MessageTooLarge``,
  ``ContentRejected``, ``AttachmentRejected``) are soft bounces that never count toward the recipient's
  consecutive soft-bounce limit: a too-large campaign must not suppress everyone it went to;
* a complaint whose feedback type is ``not-spam`` is the recipient's mailbox provider saying the message is *not*
  spam: counted ``not_spam``, no status change, no suppression. Every other feedback type (``abuse``,
  ``auth-failure``, ``fraud``, ``other``, ``virus``) and a complaint without a feedback report count as complaints,
  as SES's complaint rate does;
* sub-types SES may add later fall back to their bounce type (``Permanent`` = hard, ``Transient`` = soft and counted
  toward the limit, anything else = undetermined).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from runtime.events.normalize import NormalizedEvent

SUPPRESSION_LIST_BOUNCE_SUBTYPES = frozenset({"OnAccountSuppressionList", "Suppressed"})
SUPPRESSION_LIST_COMPLAINT_SUBTYPES = frozenset({"OnAccountSuppressionList"})
MESSAGE_LEVEL_SOFT_BOUNCE_SUBTYPES = frozenset({"MessageTooLarge", "ContentRejected", "AttachmentRejected"})
NOT_A_COMPLAINT_FEEDBACK_TYPES = frozenset({"not-spam"})

SUPPRESSED_STATUS = "suppressed"
SES_SUPPRESSED_COUNTER = "ses_suppressed"


class EventClass(NamedTuple):
    status: str | None  # summary status the event moves to (None: leaves it as it is)
    counter: str  # the campaign counter it adds 1 to (opens and clicks also add their ``*_unique`` once)
    suppression: str | None  # reason of the ALL-scope suppression it causes, or None
    soft_bounce: bool  # counts toward the recipient's consecutive soft-bounce limit


_SIMPLE: dict[str, EventClass] = {
    "Send": EventClass("sent", "sent", None, False),
    "DeliveryDelay": EventClass("delayed", "delayed", None, False),
    "Delivery": EventClass("delivered", "delivered", None, False),
    "Open": EventClass("opened", "opened_total", None, False),
    "Click": EventClass("clicked", "clicked_total", None, False),
    "Rendering Failure": EventClass("rendering_failed", "rendering_failed", None, False),
    "Reject": EventClass("rejected", "rejected", None, False),
}
_SUPPRESSION_LIST_DROP = EventClass(SUPPRESSED_STATUS, SES_SUPPRESSED_COUNTER, None, False)
_UNKNOWN = EventClass(None, "unknown", None, False)


def classify(event: NormalizedEvent) -> EventClass:
    simple = _SIMPLE.get(event.event_type)
    if simple is not None:
        return simple
    return _classify(
        event.event_type,
        event.bounce_type,
        event.bounce_subtype,
        event.complaint_subtype,
        event.complaint_feedback_type,
        bool(event.unsubscribe_all),
    )


@functools.lru_cache(maxsize=1024)
def _classify(
    event_type: str,
    bounce_type: str | None,
    bounce_subtype: str | None,
    complaint_subtype: str | None,
    feedback_type: str | None,
    unsubscribe_all: bool,
) -> EventClass:
    if event_type == "Bounce":
        if bounce_subtype in SUPPRESSION_LIST_BOUNCE_SUBTYPES:
            return _SUPPRESSION_LIST_DROP
        if bounce_type == "Permanent":
            return EventClass("bounced", "bounced_hard", "BOUNCE", False)
        if bounce_type == "Transient":
            return EventClass("bounced", "bounced_soft", None, bounce_subtype not in MESSAGE_LEVEL_SOFT_BOUNCE_SUBTYPES)
        return EventClass("bounced", "bounced_undetermined", None, False)
    if event_type == "Complaint":
        if complaint_subtype in SUPPRESSION_LIST_COMPLAINT_SUBTYPES:
            return _SUPPRESSION_LIST_DROP
        if (feedback_type or "").strip().lower() in NOT_A_COMPLAINT_FEEDBACK_TYPES:
            return EventClass(None, "not_spam", None, False)
        return EventClass("complained", "complained", "COMPLAINT", False)
    if event_type == "Subscription":
        return EventClass(None, "subscription", "UNSUBSCRIBE" if unsubscribe_all else None, False)
    return _UNKNOWN
