"""The SNS message envelope, as delivered to HTTPS endpoints and (non-raw) to SQS queues."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SnsMessageType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
KNOWN_TYPES: frozenset[str] = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


class SnsEnvelope(BaseModel):
    """An SNS message with AWS's field names. Extra fields (``MessageAttributes``...) are kept.

    Instances returned by :meth:`runtime.sns.SnsVerifier.verify` have been verified: topic allow-listed, shape,
    age, certificate URL and signature all checked.
    """

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    Type: SnsMessageType
    MessageId: str
    TopicArn: str
    Message: str
    Timestamp: str
    SignatureVersion: Literal["1", "2"]
    Signature: str
    SigningCertURL: str
    Subject: str | None = None
    SubscribeURL: str | None = None
    Token: str | None = None
    UnsubscribeURL: str | None = None

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
