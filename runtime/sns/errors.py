"""Errors raised by SNS verification, certificate loading and subscription confirmation.

Every error carries the HTTP status the webhook should answer with (``http_status``):

* ``SnsMalformedError`` (400): not JSON, not an object, or no known ``Type``.
* ``SnsVerificationError`` (403) and its subclasses: anything that fails verification, including an untrusted
  topic. SNS does not retry 4xx, and neither should the SQS consumer (drop with a log line and a metric).
* ``CertificateUnavailableError`` / ``ConfirmationFailedError`` (503): transient, a retry could succeed (the SNS
  host unreachable, timing out or answering 5xx/429). A certificate the host says it does not have (403/404/410) is
  ``CertificateNotFoundError``, a verification failure (403).
"""

from __future__ import annotations


class SnsError(Exception):
    """Base class of every error of :mod:`runtime.sns`."""

    http_status: int = 500
    #: short machine-readable reason, used as a log field and metric dimension
    reason: str = "sns_error"


class SnsMalformedError(SnsError):
    """The body is not an SNS message at all (not JSON, not an object, no known ``Type``)."""

    http_status = 400
    reason = "malformed"


class SnsVerificationError(SnsError):
    """The message failed verification; nothing may be stored. Answer 403."""

    http_status = 403
    reason = "verification_failed"


class UntrustedTopicError(SnsVerificationError):
    """``TopicArn`` is missing or not in ``SNS_ALLOWED_TOPIC_ARNS``."""

    reason = "untrusted_topic"


class InvalidEnvelopeError(SnsVerificationError):
    """A required field is missing or has the wrong type/format (signed fields, timestamp)."""

    reason = "invalid_envelope"


class UnsupportedSignatureVersionError(SnsVerificationError):
    """``SignatureVersion`` is not ``"1"`` (SHA1withRSA) or ``"2"`` (SHA256withRSA)."""

    reason = "unsupported_signature_version"


class StaleMessageError(SnsVerificationError):
    """``Timestamp`` is older than ``SNS_MAX_AGE_SECONDS`` or too far in the future."""

    reason = "stale_message"


class InvalidCertificateUrlError(SnsVerificationError):
    """``SigningCertURL`` is not exactly ``https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<hex>.pem``
    (for the topic's region). Such a URL is never fetched."""

    reason = "invalid_cert_url"


class InvalidCertificateError(SnsVerificationError):
    """The certificate is not usable for verification (expired, not yet valid, not an RSA key)."""

    reason = "invalid_certificate"


class CertificateNotFoundError(SnsVerificationError):
    """The certificate URL is well-formed, but the SNS host answers that it has no such certificate (403, 404 or
    410). SNS publishes a certificate before it signs with it, so no genuine message names a missing one: refuse
    (403, dropped), do not retry. A host that cannot answer right now is ``CertificateUnavailableError`` (503)."""

    reason = "certificate_not_found"


class InvalidSignatureError(SnsVerificationError):
    """The signature is not valid base64 or does not verify against the certificate's key."""

    reason = "invalid_signature"


class CertificateUnavailableError(SnsError):
    """The signing certificate could not be obtained right now (download failed, timed out, unreadable).

    Transient: the webhook answers 5xx so SNS retries; the SQS consumer leaves the record for redelivery.
    """

    http_status = 503
    reason = "certificate_unavailable"


class ConfirmationFailedError(SnsError):
    """Confirming a subscription failed in a way a retry could fix (API error, network)."""

    http_status = 503
    reason = "confirmation_failed"
