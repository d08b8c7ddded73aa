"""What SES publishes to SNS — the ten event-publishing types and the identity notifications — as read-only records.

Field names mirror the wire format (AWS camelCase; ``CommonHeaders.from_`` / ``reply_to`` / ``message_id`` are the
only renamed ones, and accept either spelling). Extra fields are ignored, so new SES fields never break parsing; a
detail object (``bounce``, ``delivery``...) and an unknown record keep theirs in ``model_extra``. An event whose type
sesame does not know parses to ``UnknownEvent`` (stored and counted as ``unknown``).

No pydantic models here: these records are parsed on every ingestion Lambda's path, where importing pydantic and
building the models' validators cost ~40-75 ms CPU of each cold start (``bench/bench_coldstart.py``). Each record
class declares its fields (``FIELDS``: attribute, wire key, kind, default), and the validator of a record type is
built from them with pydantic-core on first use (well under a millisecond; pydantic-core's compiled module is on
the path anyway: the DynamoDB answers and the SNS envelope are read with its JSON reader, ``runtime.fastcore``).
The validators are the ones the pydantic models compiled to — lax mode, the same coercions, defaults and error
messages — so what is accepted, the values kept and why a record is refused did not change
(``tests/unit/test_events_parser_parity.py`` checks it against those models), and a record is validated straight
from its JSON text in one pass, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from runtime.fastcore import SchemaValidator

#: a pydantic-core schema: the plain dictionaries ``pydantic_core.core_schema``'s helpers build (written out here:
#: importing that module is most of what importing pydantic-core costs, see ``runtime.fastcore``)
Schema = dict[str, Any]
#: a field's type, as a function building its schema
Kind = Callable[[], Schema]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Factory:
    """A field default built anew for every record (``[]``, ``{}``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


# --- field kinds ---------------------------------------------------------------------------------------------------


def STR() -> Schema:
    return {"type": "str"}


def BOOL() -> Schema:
    return {"type": "bool"}


def INT() -> Schema:
    return {"type": "int"}


def optional(kind: Kind) -> Kind:
    """``X | None``."""
    return lambda: {"type": "nullable", "schema": kind()}


def literal(*choices: str) -> Kind:
    return lambda: {"type": "literal", "expected": list(choices)}


def list_of(kind: Kind) -> Kind:
    return lambda: {"type": "list", "items_schema": kind()}


def dict_of(kind: Kind) -> Kind:
    """``dict[str, X]``."""
    return lambda: {"type": "dict", "keys_schema": {"type": "str"}, "values_schema": kind()}


def record(cls: type[Record]) -> Kind:
    """A nested record."""
    return cls.core_schema


# --- records -------------------------------------------------------------------------------------------------------


class Record:
    """A read-only record validated from a JSON object by its ``FIELDS``: ``(attribute, wire key, kind, default)``,
    in the wire format's order (the order problems are reported in)."""

    FIELDS: ClassVar[tuple[tuple[str, str, Kind, Any], ...]] = ()
    EXTRA: ClassVar[bool] = False  # keep unknown keys (``model_extra``) rather than ignore them
    # set by the validator on each instance, next to ``__dict__`` (the fields)
    __slots__ = ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__")
    __pydantic_extra__: dict[str, Any] | None

    @classmethod
    def core_schema(cls) -> Schema:
        """The pydantic-core schema of the record (what pydantic generated for the model it replaces)."""
        fields: dict[str, Schema] = {}
        for attr, key, kind, default in cls.FIELDS:
            schema = kind()
            if type(default) is Factory:
                schema = {"type": "default", "schema": schema, "default_factory": default.make}
            elif default is not REQUIRED:
                schema = {"type": "default", "schema": schema, "default": default}
            field: Schema = {"type": "model-field", "schema": schema}
            if key != attr:
                field.update(validation_alias=key, serialization_alias=key)
            fields[attr] = field
        extra = "allow" if cls.EXTRA else "ignore"
        return {
            "type": "model",
            "cls": cls,
            "schema": {"type": "model-fields", "fields": fields, "model_name": cls.__name__, "extra_behavior": extra},
            "config": {
                "title": cls.__name__,
                "extra_fields_behavior": extra,
                "validate_by_alias": True,
                "validate_by_name": True,
            },
        }

    @classmethod
    def validator(cls) -> SchemaValidator:
        """The record type's validator (built on first use, then kept for the container's life)."""
        built: SchemaValidator | None = cls.__dict__.get("_validator")
        if built is None:
            built = SchemaValidator(cls.core_schema())
            type.__setattr__(cls, "_validator", built)
        return built

    @classmethod
    def parse(cls, data: Any) -> Any:
        """The record ``data`` (a decoded JSON object) describes; raises ``pydantic_core.ValidationError``."""
        return cls.validator().validate_python(data)

    @classmethod
    def parse_json(cls, text: str | bytes) -> Any:
        """The record the JSON text describes, validated in one pass; raises ``pydantic_core.ValidationError``."""
        return cls.validator().validate_json(text)

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """The fields of the object that are not the record's (None when the record ignores them)."""
        extra: dict[str, Any] | None = self.__pydantic_extra__
        return extra

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return NotImplemented
        return other.__dict__ == self.__dict__ and other.model_extra == self.model_extra

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{a}={self.__dict__[a]!r}" for a, _, _, _ in self.FIELDS)
        return f"{type(self).__name__}({shown})"

    def to_dict(self, *, by_alias: bool = True, exclude_none: bool = True, mode: str = "json") -> dict[str, Any]:
        """The record as data: its fields (wire names unless ``by_alias=False``; nested records likewise), then the
        extra fields it kept — what pydantic's ``model_dump`` gave (``mode="json"``: a non-finite float is null).
        Written out rather than by pydantic-core's serializer, which imports the whole ``pydantic_core`` package on
        first use (``runtime.fastcore``)."""
        json_mode = mode == "json"
        out: dict[str, Any] = {}
        values = self.__dict__
        for attr, key, _, _ in self.FIELDS:
            value = values[attr]
            if value is None:
                if exclude_none:
                    continue
            elif type(value) not in _SCALARS:
                value = _plain(value, by_alias, exclude_none, json_mode)
            out[key if by_alias else attr] = value
        extra = self.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                if value is None and exclude_none:
                    continue
                out[key] = value if type(value) in _SCALARS else _plain(value, by_alias, exclude_none, json_mode)
        return out


_SCALARS = frozenset({str, int, bool})  # kept as they are (a float may be non-finite: null in JSON mode)


def _plain(value: Any, by_alias: bool, exclude_none: bool, json_mode: bool) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [v if type(v) is str else _plain(v, by_alias, exclude_none, json_mode) for v in value]
    if kind is dict:
        return {k: _plain(v, by_alias, exclude_none, json_mode) for k, v in value.items()}
    if isinstance(value, Record):
        return value.to_dict(by_alias=by_alias, exclude_none=exclude_none, mode="json" if json_mode else "python")
    if json_mode and kind is float and not math.isfinite(value):
        return None
    return value


_STR_LIST = list_of(STR)
_OPT_STR = optional(STR)


def _list() -> Factory:
    return Factory(list)


class _Detail(Record):
    """A detail object (``bounce``, ``delivery``...): unknown fields are kept (``model_extra``)."""

    EXTRA = True


# --- mail object -------------------------------------------------------------------------------------------------


class Header(Record):
    name: str
    value: str
    FIELDS = (("name", "name", STR, REQUIRED), ("value", "value", STR, ""))


class CommonHeaders(Record):
    from_: list[str]
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: list[str]
    message_id: str | None
    date: str | None
    subject: str | None
    FIELDS = (
        ("from_", "from", _STR_LIST, _list()),
        ("to", "to", _STR_LIST, _list()),
        ("cc", "cc", _STR_LIST, _list()),
        ("bcc", "bcc", _STR_LIST, _list()),
        ("reply_to", "replyTo", _STR_LIST, _list()),
        ("message_id", "messageId", _OPT_STR, None),
        ("date", "date", _OPT_STR, None),
        ("subject", "subject", _OPT_STR, None),
    )


class Mail(Record):
    timestamp: str
    messageId: str
    source: str
    sourceArn: str | None
    sourceIp: str | None
    sendingAccountId: str | None
    callerIdentity: str | None
    destination: list[str]
    headersTruncated: bool | None
    headers: list[Header]
    commonHeaders: CommonHeaders | None
    tags: dict[str, list[str]]
    FIELDS = (
        ("timestamp", "timestamp", STR, REQUIRED),
        ("messageId", "messageId", STR, REQUIRED),
        ("source", "source", STR, ""),
        ("sourceArn", "sourceArn", _OPT_STR, None),
        ("sourceIp", "sourceIp", _OPT_STR, None),
        ("sendingAccountId", "sendingAccountId", _OPT_STR, None),
        ("callerIdentity", "callerIdentity", _OPT_STR, None),
        ("destination", "destination", _STR_LIST, _list()),
        ("headersTruncated", "headersTruncated", optional(BOOL), None),
        ("headers", "headers", list_of(record(Header)), _list()),
        ("commonHeaders", "commonHeaders", optional(record(CommonHeaders)), None),
        ("tags", "tags", dict_of(_STR_LIST), Factory(dict)),
    )

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name)
        return values[0] if values else None


# --- detail objects ----------------------------------------------------------------------------------------------


class BouncedRecipient(Record):
    emailAddress: str
    action: str | None
    status: str | None
    diagnosticCode: str | None
    FIELDS = (
        ("emailAddress", "emailAddress", STR, REQUIRED),
        ("action", "action", _OPT_STR, None),
        ("status", "status", _OPT_STR, None),
        ("diagnosticCode", "diagnosticCode", _OPT_STR, None),
    )


class Bounce(_Detail):
    bounceType: str  # Permanent | Transient | Undetermined (kept open: SES may add values)
    bounceSubType: str
    bouncedRecipients: list[BouncedRecipient]
    timestamp: str
    feedbackId: str
    reportingMTA: str | None
    remoteMtaIp: str | None
    FIELDS = (
        ("bounceType", "bounceType", STR, REQUIRED),
        ("bounceSubType", "bounceSubType", STR, "General"),
        ("bouncedRecipients", "bouncedRecipients", list_of(record(BouncedRecipient)), _list()),
        ("timestamp", "timestamp", STR, REQUIRED),
        ("feedbackId", "feedbackId", STR, ""),
        ("reportingMTA", "reportingMTA", _OPT_STR, None),
        ("remoteMtaIp", "remoteMtaIp", _OPT_STR, None),
    )


class ComplainedRecipient(Record):
    emailAddress: str
    FIELDS = (("emailAddress", "emailAddress", STR, REQUIRED),)


class Complaint(_Detail):
    complainedRecipients: list[ComplainedRecipient]
    timestamp: str
    feedbackId: str
    complaintSubType: str | None
    userAgent: str | None
    complaintFeedbackType: str | None
    arrivalDate: str | None
    FIELDS = (
        ("complainedRecipients", "complainedRecipients", list_of(record(ComplainedRecipient)), _list()),
        ("timestamp", "timestamp", STR, REQUIRED),
        ("feedbackId", "feedbackId", STR, ""),
        ("complaintSubType", "complaintSubType", _OPT_STR, None),
        ("userAgent", "userAgent", _OPT_STR, None),
        ("complaintFeedbackType", "complaintFeedbackType", _OPT_STR, None),
        ("arrivalDate", "arrivalDate", _OPT_STR, None),
    )


class Delivery(_Detail):
    timestamp: str
    processingTimeMillis: int | None
    recipients: list[str]
    smtpResponse: str | None
    reportingMTA: str | None
    remoteMtaIp: str | None
    FIELDS = (
        ("timestamp", "timestamp", STR, REQUIRED),
        ("processingTimeMillis", "processingTimeMillis", optional(INT), None),
        ("recipients", "recipients", _STR_LIST, _list()),
        ("smtpResponse", "smtpResponse", _OPT_STR, None),
        ("reportingMTA", "reportingMTA", _OPT_STR, None),
        ("remoteMtaIp", "remoteMtaIp", _OPT_STR, None),
    )


class Send(_Detail):
    pass


class Reject(_Detail):
    reason: str
    FIELDS = (("reason", "reason", STR, ""),)


class Open(_Detail):
    ipAddress: str | None
    timestamp: str
    userAgent: str | None
    FIELDS = (
        ("ipAddress", "ipAddress", _OPT_STR, None),
        ("timestamp", "timestamp", STR, REQUIRED),
        ("userAgent", "userAgent", _OPT_STR, None),
    )


class Click(_Detail):
    ipAddress: str | None
    timestamp: str
    userAgent: str | None
    link: str
    linkTags: dict[str, list[str]] | None
    FIELDS = (
        ("ipAddress", "ipAddress", _OPT_STR, None),
        ("timestamp", "timestamp", STR, REQUIRED),
        ("userAgent", "userAgent", _OPT_STR, None),
        ("link", "link", STR, ""),
        ("linkTags", "linkTags", optional(dict_of(_STR_LIST)), None),
    )


class RenderingFailure(_Detail):
    templateName: str | None
    errorMessage: str
    FIELDS = (("templateName", "templateName", _OPT_STR, None), ("errorMessage", "errorMessage", STR, ""))


class DelayedRecipient(Record):
    emailAddress: str
    status: str | None
    diagnosticCode: str | None
    FIELDS = (
        ("emailAddress", "emailAddress", STR, REQUIRED),
        ("status", "status", _OPT_STR, None),
        ("diagnosticCode", "diagnosticCode", _OPT_STR, None),
    )


class DeliveryDelay(_Detail):
    timestamp: str
    delayType: str
    expirationTime: str | None
    delayedRecipients: list[DelayedRecipient]
    reportingMTA: str | None
    FIELDS = (
        ("timestamp", "timestamp", STR, REQUIRED),
        ("delayType", "delayType", STR, "General"),
        ("expirationTime", "expirationTime", _OPT_STR, None),
        ("delayedRecipients", "delayedRecipients", list_of(record(DelayedRecipient)), _list()),
        ("reportingMTA", "reportingMTA", _OPT_STR, None),
    )


class TopicPreference(Record):
    topicName: str
    subscriptionStatus: str  # OptIn | OptOut
    FIELDS = (("topicName", "topicName", STR, REQUIRED), ("subscriptionStatus", "subscriptionStatus", STR, REQUIRED))


class TopicPreferences(Record):
    unsubscribeAll: bool
    topicSubscriptionStatus: list[TopicPreference]
    topicDefaultSubscriptionStatus: list[TopicPreference]
    FIELDS = (
        ("unsubscribeAll", "unsubscribeAll", BOOL, False),
        ("topicSubscriptionStatus", "topicSubscriptionStatus", list_of(record(TopicPreference)), _list()),
        (
            "topicDefaultSubscriptionStatus",
            "topicDefaultSubscriptionStatus",
            list_of(record(TopicPreference)),
            _list(),
        ),
    )


class Subscription(_Detail):
    contactList: str
    timestamp: str
    source: str | None
    newTopicPreferences: TopicPreferences | None
    oldTopicPreferences: TopicPreferences | None
    FIELDS = (
        ("contactList", "contactList", STR, ""),
        ("timestamp", "timestamp", STR, REQUIRED),
        ("source", "source", _OPT_STR, None),
        ("newTopicPreferences", "newTopicPreferences", optional(record(TopicPreferences)), None),
        ("oldTopicPreferences", "oldTopicPreferences", optional(record(TopicPreferences)), None),
    )


# --- event-publishing records (configuration sets: ``eventType``) ------------------------------------------------

_MAIL = ("mail", "mail", record(Mail), REQUIRED)


def _event(event_type: str, detail_key: str, detail: type[Record], default: Any = REQUIRED) -> Any:
    return (
        ("eventType", "eventType", literal(event_type), REQUIRED),
        _MAIL,
        (detail_key, detail_key, record(detail), default),
    )


class SendEvent(Record):
    eventType: str
    mail: Mail
    send: Send
    FIELDS = _event("Send", "send", Send, Factory(lambda: Send.parse({})))


class RejectEvent(Record):
    eventType: str
    mail: Mail
    reject: Reject
    FIELDS = _event("Reject", "reject", Reject)


class BounceEvent(Record):
    eventType: str
    mail: Mail
    bounce: Bounce
    FIELDS = _event("Bounce", "bounce", Bounce)


class ComplaintEvent(Record):
    eventType: str
    mail: Mail
    complaint: Complaint
    FIELDS = _event("Complaint", "complaint", Complaint)


class DeliveryEvent(Record):
    eventType: str
    mail: Mail
    delivery: Delivery
    FIELDS = _event("Delivery", "delivery", Delivery)


class OpenEvent(Record):
    eventType: str
    mail: Mail
    open: Open
    FIELDS = _event("Open", "open", Open)


class ClickEvent(Record):
    eventType: str
    mail: Mail
    click: Click
    FIELDS = _event("Click", "click", Click)


class RenderingFailureEvent(Record):
    eventType: str  # "Rendering Failure" or "RenderingFailure"
    mail: Mail
    failure: RenderingFailure
    FIELDS = (
        ("eventType", "eventType", literal("Rendering Failure", "RenderingFailure"), REQUIRED),
        _MAIL,
        ("failure", "failure", record(RenderingFailure), REQUIRED),
    )


class DeliveryDelayEvent(Record):
    eventType: str
    mail: Mail
    deliveryDelay: DeliveryDelay
    FIELDS = _event("DeliveryDelay", "deliveryDelay", DeliveryDelay)


class SubscriptionEvent(Record):
    eventType: str
    mail: Mail
    subscription: Subscription
    FIELDS = _event("Subscription", "subscription", Subscription)


# --- identity feedback notifications (``notificationType``, no tags) ---------------------------------------------


def _notification(notification_type: str, detail_key: str, detail: type[Record]) -> Any:
    return (
        ("notificationType", "notificationType", literal(notification_type), REQUIRED),
        _MAIL,
        (detail_key, detail_key, record(detail), REQUIRED),
    )


class BounceNotification(Record):
    notificationType: str
    mail: Mail
    bounce: Bounce
    FIELDS = _notification("Bounce", "bounce", Bounce)


class ComplaintNotification(Record):
    notificationType: str
    mail: Mail
    complaint: Complaint
    FIELDS = _notification("Complaint", "complaint", Complaint)


class DeliveryNotification(Record):
    notificationType: str
    mail: Mail
    delivery: Delivery
    FIELDS = _notification("Delivery", "delivery", Delivery)


class UnknownEvent(Record):
    """Any record whose type sesame does not know (SES adds types over time). Kept whole (``model_extra``)."""

    EXTRA = True
    eventType: str | None
    notificationType: str | None
    mail: Mail | None
    FIELDS = (
        ("eventType", "eventType", _OPT_STR, None),
        ("notificationType", "notificationType", _OPT_STR, None),
        ("mail", "mail", optional(record(Mail)), None),
    )

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


def _discriminate(value: dict[str, Any]) -> str:
    """The tag of the record type a decoded SES record is parsed as (``MODEL_BY_TAG``)."""
    event_type = value.get("eventType")
    if isinstance(event_type, str):
        event_type = RENDERING_ALIASES.get(event_type, event_type)
        return event_type if event_type in EVENT_TYPES and value.get("mail") is not None else "unknown"
    notification = value.get("notificationType")
    if isinstance(notification, str) and notification in NOTIFICATION_TYPES and value.get("mail") is not None:
        return f"notification:{notification}"
    return "unknown"


MODEL_BY_TAG: dict[str, type[Record]] = {
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
    """Validate a decoded SES record as the record type its ``eventType`` / ``notificationType`` names (an unknown
    one as ``UnknownEvent``). Raises ``pydantic_core.ValidationError``."""
    parsed: AnySesRecord = MODEL_BY_TAG[_discriminate(raw)].parse(raw)
    return parsed
