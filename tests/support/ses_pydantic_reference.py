"""The pydantic v2 models sesame parsed SES records with until the ingestion path dropped pydantic (cold start):
kept here, unchanged, as the reference ``tests/unit/test_events_parser_parity.py`` checks ``runtime.events.models``
against (same records, values and error messages).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

_CONFIG = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class _Model(BaseModel):
    model_config = _CONFIG


class _Detail(BaseModel):
    """A detail object (``bounce``, ``delivery``...): unknown fields are kept so the stored history has them all."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


# --- mail object -------------------------------------------------------------------------------------------------


class Header(_Model):
    name: str
    value: str = ""


class CommonHeaders(_Model):
    from_: list[str] = Field(default_factory=list, alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: list[str] = Field(default_factory=list, alias="replyTo")
    message_id: str | None = Field(default=None, alias="messageId")
    date: str | None = None
    subject: str | None = None


class Mail(_Model):
    timestamp: str
    messageId: str
    source: str = ""
    sourceArn: str | None = None
    sourceIp: str | None = None
    sendingAccountId: str | None = None
    callerIdentity: str | None = None
    destination: list[str] = Field(default_factory=list)
    headersTruncated: bool | None = None
    headers: list[Header] = Field(default_factory=list)
    commonHeaders: CommonHeaders | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name)
        return values[0] if values else None


# --- detail objects ----------------------------------------------------------------------------------------------


class BouncedRecipient(_Model):
    emailAddress: str
    action: str | None = None
    status: str | None = None
    diagnosticCode: str | None = None


class Bounce(_Detail):
    bounceType: str  # Permanent | Transient | Undetermined (kept open: SES may add values)
    bounceSubType: str = "General"
    bouncedRecipients: list[BouncedRecipient] = Field(default_factory=list)
    timestamp: str
    feedbackId: str = ""
    reportingMTA: str | None = None
    remoteMtaIp: str | None = None


class ComplainedRecipient(_Model):
    emailAddress: str


class Complaint(_Detail):
    complainedRecipients: list[ComplainedRecipient] = Field(default_factory=list)
    timestamp: str
    feedbackId: str = ""
    complaintSubType: str | None = None
    userAgent: str | None = None
    complaintFeedbackType: str | None = None
    arrivalDate: str | None = None


class Delivery(_Detail):
    timestamp: str
    processingTimeMillis: int | None = None
    recipients: list[str] = Field(default_factory=list)
    smtpResponse: str | None = None
    reportingMTA: str | None = None
    remoteMtaIp: str | None = None


class Send(_Detail):
    pass


class Reject(_Detail):
    reason: str = ""


class Open(_Detail):
    ipAddress: str | None = None
    timestamp: str
    userAgent: str | None = None


class Click(_Detail):
    ipAddress: str | None = None
    timestamp: str
    userAgent: str | None = None
    link: str = ""
    linkTags: dict[str, list[str]] | None = None


class RenderingFailure(_Detail):
    templateName: str | None = None
    errorMessage: str = ""


class DelayedRecipient(_Model):
    emailAddress: str
    status: str | None = None
    diagnosticCode: str | None = None


class DeliveryDelay(_Detail):
    timestamp: str
    delayType: str = "General"
    expirationTime: str | None = None
    delayedRecipients: list[DelayedRecipient] = Field(default_factory=list)
    reportingMTA: str | None = None


class TopicPreference(_Model):
    topicName: str
    subscriptionStatus: str  # OptIn | OptOut


class TopicPreferences(_Model):
    unsubscribeAll: bool = False
    topicSubscriptionStatus: list[TopicPreference] = Field(default_factory=list)
    topicDefaultSubscriptionStatus: list[TopicPreference] = Field(default_factory=list)


class Subscription(_Detail):
    contactList: str = ""
    timestamp: str
    source: str | None = None
    newTopicPreferences: TopicPreferences | None = None
    oldTopicPreferences: TopicPreferences | None = None


# --- event-publishing records (configuration sets: ``eventType``) ------------------------------------------------


class SendEvent(_Model):
    eventType: Literal["Send"]
    mail: Mail
    send: Send = Field(default_factory=Send)


class RejectEvent(_Model):
    eventType: Literal["Reject"]
    mail: Mail
    reject: Reject


class BounceEvent(_Model):
    eventType: Literal["Bounce"]
    mail: Mail
    bounce: Bounce


class ComplaintEvent(_Model):
    eventType: Literal["Complaint"]
    mail: Mail
    complaint: Complaint


class DeliveryEvent(_Model):
    eventType: Literal["Delivery"]
    mail: Mail
    delivery: Delivery


class OpenEvent(_Model):
    eventType: Literal["Open"]
    mail: Mail
    open: Open


class ClickEvent(_Model):
    eventType: Literal["Click"]
    mail: Mail
    click: Click


class RenderingFailureEvent(_Model):
    eventType: Literal["Rendering Failure", "RenderingFailure"]
    mail: Mail
    failure: RenderingFailure


class DeliveryDelayEvent(_Model):
    eventType: Literal["DeliveryDelay"]
    mail: Mail
    deliveryDelay: DeliveryDelay


class SubscriptionEvent(_Model):
    eventType: Literal["Subscription"]
    mail: Mail
    subscription: Subscription


# --- identity feedback notifications (``notificationType``, no tags) ---------------------------------------------


class BounceNotification(_Model):
    notificationType: Literal["Bounce"]
    mail: Mail
    bounce: Bounce


class ComplaintNotification(_Model):
    notificationType: Literal["Complaint"]
    mail: Mail
    complaint: Complaint


class DeliveryNotification(_Model):
    notificationType: Literal["Delivery"]
    mail: Mail
    delivery: Delivery


class UnknownEvent(_Model):
    """Any record whose type sesame does not know (SES adds types over time). Kept whole in ``raw``."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    eventType: str | None = None
    notificationType: str | None = None
    mail: Mail | None = None

    @property
    def type_name(self) -> str:
        return self.eventType or self.notificationType or "Unknown"


SesEvent = (
    SendEvent
    | RejectEvent
    | BounceEvent
    | ComplaintEvent
    | DeliveryEvent
    | OpenEvent
    | ClickEvent
    | RenderingFailureEvent
    | DeliveryDelayEvent
    | SubscriptionEvent
)
IdentityNotification = BounceNotification | ComplaintNotification | DeliveryNotification
AnySesRecord = SesEvent | IdentityNotification | UnknownEvent

EVENT_TYPES: tuple[str, ...] = (
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
)
# eventType -> the key of its detail object in the SES payload
DETAIL_KEYS: dict[str, str] = {
    "Send": "send",
    "Reject": "reject",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "failure",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}
NOTIFICATION_TYPES: tuple[str, ...] = ("Bounce", "Complaint", "Delivery")
CRITICAL_TYPES = frozenset({"Bounce", "Complaint", "Reject", "Subscription", "Rendering Failure"})
ENGAGEMENT_TYPES = frozenset({"Send", "Delivery", "Open", "Click", "DeliveryDelay"})
# SES also spells it "RenderingFailure" in some places (event destinations use RENDERING_FAILURE).
RENDERING_ALIASES = {"RenderingFailure": "Rendering Failure"}


def _discriminate(value: Any) -> str:
    if isinstance(value, dict):
        event_type = value.get("eventType")
        if isinstance(event_type, str):
            event_type = RENDERING_ALIASES.get(event_type, event_type)
            return event_type if event_type in EVENT_TYPES and value.get("mail") is not None else "unknown"
        notification = value.get("notificationType")
        if isinstance(notification, str) and notification in NOTIFICATION_TYPES and value.get("mail") is not None:
            return f"notification:{notification}"
        return "unknown"
    event_type = getattr(value, "eventType", None)
    if isinstance(event_type, str) and event_type in EVENT_TYPES and not isinstance(value, UnknownEvent):
        return event_type
    notification = getattr(value, "notificationType", None)
    if isinstance(notification, str) and not isinstance(value, UnknownEvent):
        return f"notification:{notification}"
    return "unknown"


_Record = Annotated[
    Annotated[SendEvent, Tag("Send")]
    | Annotated[RejectEvent, Tag("Reject")]
    | Annotated[BounceEvent, Tag("Bounce")]
    | Annotated[ComplaintEvent, Tag("Complaint")]
    | Annotated[DeliveryEvent, Tag("Delivery")]
    | Annotated[OpenEvent, Tag("Open")]
    | Annotated[ClickEvent, Tag("Click")]
    | Annotated[RenderingFailureEvent, Tag("Rendering Failure")]
    | Annotated[DeliveryDelayEvent, Tag("DeliveryDelay")]
    | Annotated[SubscriptionEvent, Tag("Subscription")]
    | Annotated[BounceNotification, Tag("notification:Bounce")]
    | Annotated[ComplaintNotification, Tag("notification:Complaint")]
    | Annotated[DeliveryNotification, Tag("notification:Delivery")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_discriminate),
]


MODEL_BY_TAG: dict[str, type[_Model]] = {
    "Send": SendEvent,
    "Reject": RejectEvent,
    "Bounce": BounceEvent,
    "Complaint": ComplaintEvent,
    "Delivery": DeliveryEvent,
    "Open": OpenEvent,
    "Click": ClickEvent,
    "Rendering Failure": RenderingFailureEvent,
    "DeliveryDelay": DeliveryDelayEvent,
    "Subscription": SubscriptionEvent,
    "notification:Bounce": BounceNotification,
    "notification:Complaint": ComplaintNotification,
    "notification:Delivery": DeliveryNotification,
    "unknown": UnknownEvent,
}


def validate_record(raw: dict[str, Any]) -> AnySesRecord:
    """Validate a decoded SES record with the model its type names (same result as ``record_adapter()``, faster:
    the discriminator runs once in Python and only one model validates)."""
    return MODEL_BY_TAG[_discriminate(raw)].model_validate(raw)  # type: ignore[return-value]


@functools.cache
def record_adapter() -> TypeAdapter[AnySesRecord]:
    """The validator for one SES record (built on first use, then cached for the container's life)."""
    return TypeAdapter(_Record)
