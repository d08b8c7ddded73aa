"""Parse the SNS ``Message`` text of an SES record and reduce it to one ``NormalizedEvent``.

``NormalizedEvent`` is what the ingest engine applies and what the forwarding feature sends to the user's API: the
event's identity (id, type, message, time), the recipients it concerns (addresses and their hashes), the campaign
attribution from the mail tags, and the type-specific fields, flattened. ``detail`` keeps the SES detail object as
published (every field, including ones sesame does not model).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from runtime.emails import extract_address, recipient_hash
from runtime.events import models as m
from runtime.fastcore import ValidationError
from runtime.stores.schema import event_id_for, iso, parse_time, send_event_id


class EventParseError(ValueError):
    """The SNS Message is not an SES record sesame can store (not JSON, not an object, or no mail.messageId)."""


_CANONICAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_MAX_TS = "9000"  # canonical timestamps from this year on are refused (see canonical_time)


def canonical_time(value: str) -> str:
    """SES timestamps in the canonical ``YYYY-MM-DDTHH:MM:SS.mmmZ`` form (already canonical ones pass through)."""
    if _CANONICAL_TS.match(value) and value < _MAX_TS:
        return value
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: e.g. year 1 with a positive UTC offset
        raise EventParseError(f"invalid timestamp {value[:40]!r}") from exc
    if parsed.year >= 9000:  # TTL arithmetic (timestamp + days) would overflow later and fail the whole batch
        raise EventParseError(f"invalid timestamp {value[:40]!r}")
    return iso(parsed)


@functools.lru_cache(maxsize=65536)
def address_and_hash(address: str) -> tuple[str, str]:
    """(lower-cased bare address, recipient hash); cached because one batch repeats the same recipients."""
    return extract_address(address).strip().lower(), recipient_hash(address)


_FIELD_NAMES: tuple[str, ...] = (
    "event_id",
    "event_type",
    "message_id",
    "timestamp",
    "sent_at",
    "source_format",
    "recipient",
    "recipients",
    "recipient_hashes",
    "campaign_id",
    "list_name",
    "config_set",
    "from_address",
    "subject",
    "bounce_type",
    "bounce_subtype",
    "complaint_feedback_type",
    "complaint_subtype",
    "reject_reason",
    "delay_type",
    "delay_expiration",
    "link",
    "link_tags",
    "ip_address",
    "user_agent",
    "smtp_response",
    "processing_time_millis",
    "rendering_error",
    "template_name",
    "contact_list",
    "unsubscribe_all",
    "topics_opted_out",
    "unsubscribed",
    "send_id",
    "detail",
)


class NormalizedEvent:
    """One SES event reduced to the fields sesame stores and forwards (treat as immutable).

    A plain slotted class with its methods written out (what ``@dataclass(slots=True, eq=True)`` generated, without
    generating and compiling them on every cold start: ~3-9 ms for these 35 fields): built from an already validated
    record on the hot path (tens of thousands per second); ``model_dump(mode="json")`` gives the JSON form the
    forwarding feature posts.
    """

    __slots__ = _FIELD_NAMES
    event_id: str
    event_type: str  # SES name: Send, Bounce, ..., "Rendering Failure", DeliveryDelay, or the raw unknown name
    message_id: str
    timestamp: str  # when the event happened (canonical ISO-8601 UTC)
    sent_at: str  # mail.timestamp
    source_format: str  # "event" (configuration set) or "notification" (identity feedback)
    recipient: str | None  # mail.destination[0] (the message's recipient), lower-cased
    recipients: tuple[str, ...]  # the addresses this event concerns
    recipient_hashes: tuple[str, ...]
    campaign_id: str | None  # from the campaign_id tag (None when untagged)
    list_name: str | None
    config_set: str | None
    from_address: str | None
    subject: str | None
    bounce_type: str | None
    bounce_subtype: str | None
    complaint_feedback_type: str | None
    complaint_subtype: str | None
    reject_reason: str | None
    delay_type: str | None
    delay_expiration: str | None
    link: str | None
    link_tags: dict[str, list[str]] | None
    ip_address: str | None
    user_agent: str | None
    smtp_response: str | None
    processing_time_millis: int | None
    rendering_error: str | None
    template_name: str | None
    contact_list: str | None
    unsubscribe_all: bool | None
    topics_opted_out: tuple[str, ...]
    unsubscribed: bool  # this change opted the recipient out (all topics, or a topic not opted out before)
    send_id: str | None  # the ``sesame_send_id`` tag: which send of sesame's this message is (docs/sending.md)
    detail: dict[str, Any]  # the SES detail object (as published, or as the record kept it)

    def __init__(
        self,
        event_id: str,
        event_type: str,
        message_id: str,
        timestamp: str,
        sent_at: str,
        source_format: str = "event",
        recipient: str | None = None,
        recipients: tuple[str, ...] = (),
        recipient_hashes: tuple[str, ...] = (),
        campaign_id: str | None = None,
        list_name: str | None = None,
        config_set: str | None = None,
        from_address: str | None = None,
        subject: str | None = None,
        bounce_type: str | None = None,
        bounce_subtype: str | None = None,
        complaint_feedback_type: str | None = None,
        complaint_subtype: str | None = None,
        reject_reason: str | None = None,
        delay_type: str | None = None,
        delay_expiration: str | None = None,
        link: str | None = None,
        link_tags: dict[str, list[str]] | None = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
        smtp_response: str | None = None,
        processing_time_millis: int | None = None,
        rendering_error: str | None = None,
        template_name: str | None = None,
        contact_list: str | None = None,
        unsubscribe_all: bool | None = None,
        topics_opted_out: tuple[str, ...] = (),
        unsubscribed: bool = False,
        send_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.event_id = event_id
        self.event_type = event_type
        self.message_id = message_id
        self.timestamp = timestamp
        self.sent_at = sent_at
        self.source_format = source_format
        self.recipient = recipient
        self.recipients = recipients
        self.recipient_hashes = recipient_hashes
        self.campaign_id = campaign_id
        self.list_name = list_name
        self.config_set = config_set
        self.from_address = from_address
        self.subject = subject
        self.bounce_type = bounce_type
        self.bounce_subtype = bounce_subtype
        self.complaint_feedback_type = complaint_feedback_type
        self.complaint_subtype = complaint_subtype
        self.reject_reason = reject_reason
        self.delay_type = delay_type
        self.delay_expiration = delay_expiration
        self.link = link
        self.link_tags = link_tags
        self.ip_address = ip_address
        self.user_agent = user_agent
        self.smtp_response = smtp_response
        self.processing_time_millis = processing_time_millis
        self.rendering_error = rendering_error
        self.template_name = template_name
        self.contact_list = contact_list
        self.unsubscribe_all = unsubscribe_all
        self.topics_opted_out = topics_opted_out
        self.unsubscribed = unsubscribed
        self.send_id = send_id
        self.detail = {} if detail is None else detail

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in _FIELD_NAMES) == tuple(getattr(other, n) for n in _FIELD_NAMES)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELD_NAMES)
        return f"{type(self).__qualname__}({shown})"

    @property
    def is_unknown(self) -> bool:
        return self.event_type not in m.EVENT_TYPES

    @property
    def recipient_hash(self) -> str | None:
        return address_and_hash(self.recipient)[1] if self.recipient else None

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the forwarding feature posts)."""
        out: dict[str, Any] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """Same as :meth:`to_json_dict` (pydantic-style name, for consumers that accept models)."""
        return self.to_json_dict()


_DETAIL_KEYS = {**m.DETAIL_KEYS, "RenderingFailure": "failure"}  # the type as some SES payloads spell it
# tuples for isinstance on the hot path (``A | B`` builds a union object on every call)
_NOTIFICATIONS = (m.BounceNotification, m.ComplaintNotification, m.DeliveryNotification)
_BOUNCES = (m.BounceEvent, m.BounceNotification)
_COMPLAINTS = (m.ComplaintEvent, m.ComplaintNotification)
_DELIVERIES = (m.DeliveryEvent, m.DeliveryNotification)


_TYPE_RE = re.compile(r'"(eventType|notificationType)"\s*:\s*"([A-Za-z ]{1,40})"')


def _fast_record(message: str | bytes) -> m.AnySesRecord | None:
    """Validate straight from the JSON text with the record type the text names (one pass in pydantic-core).

    The type is read with a regular expression; the record's literal type field re-checks it, so a match inside a
    nested value cannot select the wrong type (validation fails and the caller takes the general path).
    """
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    match = _TYPE_RE.search(text)
    if match is None:
        return None
    key, value = match.groups()
    value = m.RENDERING_ALIASES.get(value, value)
    tag = value if key == "eventType" else f"notification:{value}"
    model = m.MODEL_BY_TAG.get(tag)
    if model is None or model is m.UnknownEvent:
        return None
    try:
        parsed: m.AnySesRecord = model.parse_json(message)
    except ValidationError:
        return None
    return parsed


def parse_record(message: str | bytes) -> tuple[m.AnySesRecord, dict[str, Any] | None]:
    """JSON text of an SNS ``Message`` -> (validated record, the raw JSON object or None when the fast path
    validated the text directly). Raises EventParseError."""
    record = _fast_record(message)
    if record is not None:
        return record, None
    try:
        raw = json.loads(message)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EventParseError("SNS Message is not JSON") from exc
    if not isinstance(raw, dict):
        raise EventParseError("SNS Message is not a JSON object")
    if not isinstance(raw.get("eventType"), str):
        # Only the event-publishing format (``eventType``) may carry types sesame does not know yet (stored and
        # counted ``unknown``). Identity notifications are Bounce, Complaint or Delivery; anything else published
        # with a ``notificationType`` (``Received`` from SES receiving, ``AmazonSnsSubscriptionSucceeded``...) is
        # not a sending event: verified, then ignored, never stored or counted.
        notification = raw.get("notificationType")
        if notification not in m.NOTIFICATION_TYPES:
            shown = notification[:40] if isinstance(notification, str) else type(notification).__name__
            raise EventParseError(f"notificationType {shown!r} is not an SES sending event; ignored")
    try:
        record = m.validate_record(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EventParseError(f"SES record invalid at {where}: {first['msg']}") from exc
    return record, raw


def _addresses(values: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = [address_and_hash(v) for v in values if v]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def normalize(record: m.AnySesRecord, raw: dict[str, Any] | None, event_id: str) -> NormalizedEvent:
    """Flatten a validated record. Raises EventParseError for a record without a usable mail object."""
    mail = record.mail
    if mail is None or not mail.messageId:
        raise EventParseError("SES record has no mail.messageId")
    fields: dict[str, Any] = {}
    targets = mail.destination
    timestamp = mail.timestamp
    source_format = "event"
    if isinstance(record, m.UnknownEvent):
        event_type = record.type_name
        extras = record.model_extra or {}
        source = raw if raw is not None else extras
        detail = {k: v for k, v in source.items() if k not in ("mail", "eventType", "notificationType")}
        stamp = _nested_timestamp(detail)
        if stamp:
            timestamp = stamp
    else:
        if isinstance(record, _NOTIFICATIONS):
            event_type = record.notificationType
            source_format = "notification"
        else:
            event_type = "Rendering Failure" if record.eventType == "RenderingFailure" else record.eventType
        detail_key = _DETAIL_KEYS[event_type]
        if raw is not None:  # the detail object as published
            detail_value = raw.get(detail_key)
            detail = detail_value if isinstance(detail_value, dict) else {}
        else:
            detail = getattr(record, detail_key).to_dict()
        if isinstance(record, _BOUNCES):
            b = record.bounce
            timestamp = b.timestamp
            targets = [r.emailAddress for r in b.bouncedRecipients] or targets
            fields.update(bounce_type=b.bounceType, bounce_subtype=b.bounceSubType)
        elif isinstance(record, _COMPLAINTS):
            c = record.complaint
            timestamp = c.timestamp
            targets = [r.emailAddress for r in c.complainedRecipients] or targets
            fields.update(
                complaint_feedback_type=c.complaintFeedbackType,
                complaint_subtype=c.complaintSubType,
                user_agent=c.userAgent,
            )
        elif isinstance(record, _DELIVERIES):
            d = record.delivery
            timestamp = d.timestamp
            targets = d.recipients or targets
            fields.update(smtp_response=d.smtpResponse, processing_time_millis=d.processingTimeMillis)
        elif isinstance(record, m.OpenEvent):
            timestamp = record.open.timestamp
            fields.update(ip_address=record.open.ipAddress, user_agent=record.open.userAgent)
        elif isinstance(record, m.ClickEvent):
            k = record.click
            timestamp = k.timestamp
            fields.update(link=k.link, link_tags=k.linkTags, ip_address=k.ipAddress, user_agent=k.userAgent)
        elif isinstance(record, m.DeliveryDelayEvent):
            dd = record.deliveryDelay
            timestamp = dd.timestamp
            targets = [r.emailAddress for r in dd.delayedRecipients] or targets
            fields.update(
                delay_type=dd.delayType,
                delay_expiration=canonical_time(dd.expirationTime) if dd.expirationTime else None,
            )
        elif isinstance(record, m.RejectEvent):
            fields["reject_reason"] = record.reject.reason
        elif isinstance(record, m.RenderingFailureEvent):
            fields.update(rendering_error=record.failure.errorMessage, template_name=record.failure.templateName)
        elif isinstance(record, m.SubscriptionEvent):
            s = record.subscription
            timestamp = s.timestamp
            new, old = s.newTopicPreferences, s.oldTopicPreferences
            opted_out = [t.topicName for t in (new.topicSubscriptionStatus if new else []) if _opted_out(t)]
            was_out = {t.topicName for t in (old.topicSubscriptionStatus if old else []) if _opted_out(t)}
            newly_out = tuple(t for t in opted_out if t not in was_out)
            fields.update(
                contact_list=s.contactList,
                unsubscribe_all=new.unsubscribeAll if new else None,
                topics_opted_out=tuple(opted_out),
                unsubscribed=bool(new and new.unsubscribeAll and not (old and old.unsubscribeAll)) or bool(newly_out),
            )
    recipients, hashes = _addresses(targets)
    destination = mail.destination
    common = mail.commonHeaders
    if event_type == "Send":  # one per message: its id is the message's (the sender records it, schema.send_event_id)
        event_id = send_event_id(mail.messageId)
    return NormalizedEvent(
        event_id=event_id,
        event_type=event_type,
        source_format=source_format,
        message_id=mail.messageId,
        timestamp=canonical_time(timestamp),
        sent_at=canonical_time(mail.timestamp),
        recipient=address_and_hash(destination[0])[0] if destination else (recipients[0] if recipients else None),
        recipients=recipients,
        recipient_hashes=hashes,
        campaign_id=mail.tag("campaign_id"),
        send_id=mail.tag("sesame_send_id"),
        list_name=mail.tag("list_name"),
        config_set=mail.tag("ses:configuration-set"),
        from_address=mail.source or None,
        subject=common.subject if common else None,
        detail=detail,
        **fields,
    )


def _opted_out(topic: m.TopicPreference) -> bool:
    return topic.subscriptionStatus.replace("_", "").lower() == "optout"


def _nested_timestamp(detail: dict[str, Any]) -> str | None:
    for value in detail.values():
        if isinstance(value, dict) and isinstance(value.get("timestamp"), str):
            return str(value["timestamp"])
    return None


def event_from_message(message: str, event_id: str | None = None) -> NormalizedEvent:
    """SNS ``Message`` text -> NormalizedEvent (event id = sha256 prefix of the text unless given; a Send event's is
    always ``schema.send_event_id`` of its message id)."""
    record, raw = parse_record(message)
    return normalize(record, raw, event_id or event_id_for(message))
