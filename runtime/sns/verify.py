"""SNS message verification: nothing is stored before :meth:`SnsVerifier.verify` returns.

Order (cheap and most decisive first): parse -> ``TopicArn`` allow-list -> required fields, base64 and
``SignatureVersion`` -> age -> strict ``SigningCertURL`` (for the topic's region) -> RSA signature
(PKCS#1 v1.5; version 1 = SHA1withRSA, 2 = SHA256withRSA) over the canonical string to sign.

Hot path on a warm container: one ``json.loads``, a few dictionary lookups, one f-string, one RSA verification
and the envelope's field check. Certificate URLs already validated and loaded are remembered, so the regular
expression and the certificate store run once per certificate, not per message.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from runtime import jsontext
from runtime.fastcore import from_json
from runtime.sns.certs import CertificateStore, FetchFunc, default_fetch
from runtime.sns.errors import (
    InvalidCertificateUrlError,
    InvalidEnvelopeError,
    InvalidSignatureError,
    SnsMalformedError,
    StaleMessageError,
    UnsupportedSignatureVersionError,
    UntrustedTopicError,
)
from runtime.sns.models import KNOWN_TYPES, EnvelopeFieldsError, SnsEnvelope, topic_region
from runtime.sns.urls import validate_cert_url

if TYPE_CHECKING:
    from runtime.settings import Settings

DEFAULT_MAX_AGE_SECONDS = 3600
DEFAULT_MAX_FUTURE_SKEW_SECONDS = 300

_NOTIFICATION_REQUIRED = ("Message", "MessageId", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL")
_CONFIRMATION_REQUIRED = (*_NOTIFICATION_REQUIRED, "SubscribeURL", "Token")
# Fields that must be non-empty (Message may legitimately be short but SNS never sends it empty either).
_NON_EMPTY = frozenset({"MessageId", "Timestamp", "SigningCertURL", "SubscribeURL", "Token"})
# Signed fields SNS never puts a line break in. The string to sign is newline-delimited, so a line break in one of
# them could move content between fields (a Subject into the MessageId...) and still verify. Only Message may
# contain line breaks: it comes first, and every later field is then line-break free, so the split is unique.
_SINGLE_LINE = ("MessageId", "Subject", "Timestamp", "TopicArn", "Type", "SubscribeURL", "Token")
_PADDING = padding.PKCS1v15()
_HASHES: dict[str, hashes.HashAlgorithm] = {"1": hashes.SHA1(), "2": hashes.SHA256()}  # noqa: S303 - SNS v1 is SHA1
_MAX_SIGNATURE_B64 = 2048  # RSA-8192 would be 1368 characters
_URL_CACHE_LIMIT = 256
_TEXT = (str, bytes, bytearray)
# SNS messages are at most 256 KiB; escaping them into the envelope grows them (~3x for control characters).
MAX_BODY_BYTES = 2 * 1024 * 1024


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs: each field as ``Name\\nValue\\n`` in a fixed order.

    Notification: Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type.
    SubscriptionConfirmation / UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token,
    TopicArn, Type. A ``Subject`` of ``null`` counts as absent (as in the AWS SDKs).
    """
    m = message
    if m["Type"] == "Notification":
        subject = m.get("Subject")
        subject_part = "" if subject is None else f"Subject\n{subject}\n"
        text = (
            f"Message\n{m['Message']}\nMessageId\n{m['MessageId']}\n{subject_part}"
            f"Timestamp\n{m['Timestamp']}\nTopicArn\n{m['TopicArn']}\nType\n{m['Type']}\n"
        )
    else:
        text = (
            f"Message\n{m['Message']}\nMessageId\n{m['MessageId']}\nSubscribeURL\n{m['SubscribeURL']}\n"
            f"Timestamp\n{m['Timestamp']}\nToken\n{m['Token']}\nTopicArn\n{m['TopicArn']}\nType\n{m['Type']}\n"
        )
    return text.encode("utf-8")


def parse_timestamp(value: str) -> float:
    """Epoch seconds of an SNS ``Timestamp`` (ISO-8601 with a zone, e.g. ``2012-05-02T00:54:06.655Z``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEnvelopeError("Timestamp is not an ISO-8601 date-time") from exc
    if parsed.tzinfo is None or len(value) < 20:
        raise InvalidEnvelopeError("Timestamp must be an ISO-8601 date-time with a time zone")
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError) as exc:
        raise InvalidEnvelopeError("Timestamp is out of range") from exc


def _load(body: str | bytes | bytearray | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, _TEXT):
        if len(body) > MAX_BODY_BYTES:
            raise SnsMalformedError("body is larger than an SNS message can be")
        try:
            # the shared bounded parser (absurd nesting is malformed: 400, never a 500), pydantic-core's JSON reader
            # first (the same values, about twice as fast as json's on an envelope: its Message is escaped text)
            data = jsontext.loads(body, fast=from_json)
        except jsontext.JsonTextError as exc:
            raise SnsMalformedError(f"body: {exc}") from exc
    elif isinstance(body, Mapping):
        data = body
    else:
        raise SnsMalformedError("body must be a JSON object")
    if isinstance(data, dict):
        return data
    if isinstance(data, Mapping):
        return dict(data)
    raise SnsMalformedError("body must be a JSON object")


class SnsVerifier:
    """Verifies SNS messages for a set of allowed topics.

    ``max_age_seconds`` (``SNS_MAX_AGE_SECONDS``) rejects older messages, ``0`` disables the age check;
    timestamps more than ``max_future_skew_seconds`` ahead of ``clock()`` are always rejected.
    """

    def __init__(
        self,
        allowed_topic_arns: Sequence[str],
        certificates: CertificateStore,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
        *,
        max_future_skew_seconds: int = DEFAULT_MAX_FUTURE_SKEW_SECONDS,
    ) -> None:
        if max_age_seconds < 0:
            raise ValueError("max_age_seconds must be >= 0 (0 disables the age check)")
        self._allowed = frozenset(arn for arn in allowed_topic_arns if arn)
        self._regions = {arn: topic_region(arn) for arn in self._allowed}
        self._certs = certificates
        self._max_age = max_age_seconds
        self._max_skew = max_future_skew_seconds
        self._clock = clock
        self._url_regions: dict[str, str] = {}  # SigningCertURL -> region, for URLs that validated

    @classmethod
    def from_settings(
        cls, settings: Settings, *, fetch: FetchFunc = default_fetch, clock: Callable[[], float] = time.time
    ) -> SnsVerifier:
        """The verifier the app uses: ``SNS_ALLOWED_TOPIC_ARNS``, ``SNS_CERT_DIR``, ``SNS_MAX_AGE_SECONDS``.

        The certificate store uses the process-level cache, so building a verifier per invocation is cheap.
        """
        store = CertificateStore(settings.sns_cert_dir or None, fetch=fetch, clock=clock)
        return cls(settings.sns_allowed_topic_arns, store, max_age_seconds=settings.sns_max_age_seconds, clock=clock)

    @property
    def allowed_topic_arns(self) -> frozenset[str]:
        return self._allowed

    def is_allowed_topic(self, topic_arn: object) -> bool:
        return type(topic_arn) is str and topic_arn in self._allowed

    def verify(
        self, body: str | bytes | bytearray | Mapping[str, Any], *, received_at: float | None = None
    ) -> SnsEnvelope:
        """Verify one SNS message and return it as a model, or raise an ``SnsError``.

        ``SnsMalformedError`` (400) when the body is not an SNS message; a ``SnsVerificationError`` subclass
        (403) when it fails verification; ``CertificateUnavailableError`` (503) when the certificate cannot be
        obtained right now.

        ``received_at`` (epoch seconds): when a trusted queue received the message (an SQS record's
        ``SentTimestamp``). The age check then measures the delay from SNS to the queue, not to now, so a queue
        backlog or a retry never turns a message that arrived fresh into a stale one (and drops it). The
        future-timestamp check always uses the clock.
        """
        data = _load(body)

        msg_type = data.get("Type")
        if type(msg_type) is not str or msg_type not in KNOWN_TYPES:
            raise SnsMalformedError("Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation")

        topic_arn = data.get("TopicArn")
        if type(topic_arn) is not str or topic_arn not in self._allowed:
            raise UntrustedTopicError("TopicArn is not an allowed topic (SNS_ALLOWED_TOPIC_ARNS)")

        self._check_shape(data, msg_type)
        version: str = data["SignatureVersion"]
        signature = self._decode_signature(data["Signature"])

        timestamp = parse_timestamp(data["Timestamp"])
        now = self._clock()
        age_at = now if received_at is None else min(now, received_at)
        if self._max_age and age_at - timestamp > self._max_age:
            raise StaleMessageError("Timestamp is older than SNS_MAX_AGE_SECONDS")
        if timestamp - now > self._max_skew:
            raise StaleMessageError("Timestamp is in the future")

        cert_url: str = data["SigningCertURL"]
        region = self._regions[topic_arn]
        cached_region = self._url_regions.get(cert_url)
        if cached_region is None:
            cached_region = validate_cert_url(cert_url).region
        if cached_region != region:
            raise InvalidCertificateUrlError("SigningCertURL region does not match the topic's region")
        # the certificate must have been valid when SNS signed the message (its Timestamp, give or take a few
        # minutes), not necessarily now: a genuine message redriven after a certificate rotation still verifies
        key = self._certs.public_key(cert_url, at=timestamp)
        if cert_url not in self._url_regions:
            if len(self._url_regions) >= _URL_CACHE_LIMIT:
                self._url_regions.clear()
            self._url_regions[cert_url] = cached_region

        try:
            signed = string_to_sign(data)
        except UnicodeEncodeError as exc:  # lone surrogates ("\ud800") parse as JSON but have no UTF-8 form
            raise InvalidEnvelopeError("signed fields are not valid Unicode text") from exc
        try:
            key.verify(signature, signed, _PADDING, _HASHES[version])
        except InvalidSignature as exc:
            raise InvalidSignatureError("Signature does not verify against the signing certificate") from exc

        try:
            return SnsEnvelope.model_validate(data)
        except EnvelopeFieldsError as exc:
            raise InvalidEnvelopeError(str(exc)) from exc

    @staticmethod
    def _check_shape(data: Mapping[str, Any], msg_type: str) -> None:
        required = _NOTIFICATION_REQUIRED if msg_type == "Notification" else _CONFIRMATION_REQUIRED
        for name in required:
            value = data.get(name)
            if type(value) is not str:
                if name == "SignatureVersion" and value is not None:
                    raise UnsupportedSignatureVersionError("SignatureVersion must be the string 1 or 2")
                raise InvalidEnvelopeError(f"{name} is missing or not a string")
            if not value and name in _NON_EMPTY:
                raise InvalidEnvelopeError(f"{name} is empty")
        if msg_type == "Notification":
            subject = data.get("Subject")
            if subject is not None and type(subject) is not str:
                raise InvalidEnvelopeError("Subject is not a string")
        for name in _SINGLE_LINE:
            value = data.get(name)
            if type(value) is str and ("\n" in value or "\r" in value):
                raise InvalidEnvelopeError(f"{name} contains a line break (SNS never sends one there)")
        if data["SignatureVersion"] not in _HASHES:
            raise UnsupportedSignatureVersionError("SignatureVersion must be 1 (SHA1withRSA) or 2 (SHA256withRSA)")

    @staticmethod
    def _decode_signature(value: str) -> bytes:
        if len(value) > _MAX_SIGNATURE_B64:
            raise InvalidSignatureError("Signature is too long")
        try:
            signature = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSignatureError("Signature is not valid base64") from exc
        if not signature:
            raise InvalidSignatureError("Signature is empty")
        return signature
