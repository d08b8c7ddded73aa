"""The SNS message envelope, as delivered to HTTPS endpoints and (non-raw) to SQS queues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

SnsMessageType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
KNOWN_TYPES: frozenset[str] = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})
SIGNATURE_VERSIONS: frozenset[str] = frozenset({"1", "2"})

_REQUIRED = ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL")
_OPTIONAL = ("Subject", "SubscribeURL", "Token", "UnsubscribeURL")
_FIELDS = frozenset((*_REQUIRED, *_OPTIONAL))


class EnvelopeFieldsError(ValueError):
    """Fields of an SNS message missing or of the wrong type; ``fields`` names them (sorted)."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = sorted(fields)
        super().__init__(f"invalid fields: {', '.join(self.fields)}")


class SnsEnvelope:
    """An SNS message with AWS's field names (read-only). Extra fields (``MessageAttributes``...) are kept in
    ``model_extra``.

    Instances returned by :meth:`runtime.sns.SnsVerifier.verify` have been verified: topic allow-listed, shape,
    age, certificate URL and signature all checked.

    A plain class checked by hand (not a pydantic model: importing pydantic and building the model's validator
    cost the webhook and the SQS consumers' cold starts more than the rest of their SNS verification).
    """

    __slots__ = (
        "Message",
        "MessageId",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
        "Subject",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
        "UnsubscribeURL",
        "model_extra",
    )
    Type: SnsMessageType
    MessageId: str
    TopicArn: str
    Message: str
    Timestamp: str
    SignatureVersion: Literal["1", "2"]
    Signature: str
    SigningCertURL: str
    Subject: str | None
    SubscribeURL: str | None
    Token: str | None
    UnsubscribeURL: str | None
    model_extra: dict[str, Any]

    def __init__(self, **fields: Any) -> None:
        self._fill(self.check(fields))

    def _fill(self, data: Mapping[str, Any]) -> None:
        setter = object.__setattr__
        for name in _REQUIRED:
            setter(self, name, data[name])
        for name in _OPTIONAL:
            setter(self, name, data.get(name))
        setter(self, "model_extra", {k: v for k, v in data.items() if k not in _FIELDS})

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> SnsEnvelope:
        """A copy with some fields replaced (not checked again: tests build forgeries with it)."""
        data = {name: getattr(self, name) for name in (*_REQUIRED, *_OPTIONAL)}
        data.update(self.model_extra)
        data.update(update or {})
        copy = object.__new__(SnsEnvelope)
        copy._fill(data)
        return copy

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> SnsEnvelope:
        """The envelope of a decoded SNS message; raises :class:`EnvelopeFieldsError`."""
        return cls(**data)

    @staticmethod
    def check(data: Mapping[str, Any]) -> Mapping[str, Any]:
        """``data`` if every field has its type (the required ones strings, ``Type`` and ``SignatureVersion``
        known values, the optional ones strings or null), else :class:`EnvelopeFieldsError` naming the others."""
        bad = [name for name in _REQUIRED if type(data.get(name)) is not str]
        bad += [name for name in _OPTIONAL if data.get(name) is not None and type(data[name]) is not str]
        if "Type" not in bad and data["Type"] not in KNOWN_TYPES:
            bad.append("Type")
        if "SignatureVersion" not in bad and data["SignatureVersion"] not in SIGNATURE_VERSIONS:
            bad.append("SignatureVersion")
        if bad:
            raise EnvelopeFieldsError(bad)
        return data

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SnsEnvelope is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("SnsEnvelope is read-only")

    def __eq__(self, other: object) -> bool:
        if type(other) is not SnsEnvelope:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:  # of the declared fields (the extra ones may be unhashable), as the pydantic model
        return hash(tuple(getattr(self, name) for name in (*_REQUIRED, *_OPTIONAL)))

    def __repr__(self) -> str:
        return f"SnsEnvelope(Type={self.Type!r}, MessageId={self.MessageId!r}, TopicArn={self.TopicArn!r})"

    @property
    def region(self) -> str:
        """The topic's region (``arn:aws:sns:<region>:<account>:<name>``)."""
        return topic_region(self.TopicArn)

    @property
    def is_notification(self) -> bool:
        return self.Type == "Notification"


def topic_region(topic_arn: str) -> str:
    """Region part of a topic ARN, ``""`` when the ARN is not shaped like one."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns":
        return ""
    return parts[3]
