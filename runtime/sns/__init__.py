"""SNS message verification (signature v1/v2, strict SigningCertURL, topic allow-list), certificates,
subscription confirmation, and a local signer for tests and the local stack.

Public API::

    from runtime.sns import SnsVerifier, CertificateStore, SnsEnvelope, SnsVerificationError
"""

from __future__ import annotations

from runtime.sns.certs import CertificateStore, default_fetch
from runtime.sns.errors import (
    CertificateNotFoundError,
    CertificateUnavailableError,
    ConfirmationFailedError,
    InvalidCertificateError,
    InvalidCertificateUrlError,
    InvalidEnvelopeError,
    InvalidSignatureError,
    SnsError,
    SnsMalformedError,
    SnsVerificationError,
    StaleMessageError,
    UnsupportedSignatureVersionError,
    UntrustedTopicError,
)
from runtime.sns.models import SnsEnvelope
from runtime.sns.urls import validate_cert_url
from runtime.sns.verify import SnsVerifier, string_to_sign

__all__ = [
    "CertificateNotFoundError",
    "CertificateStore",
    "CertificateUnavailableError",
    "ConfirmationFailedError",
    "InvalidCertificateError",
    "InvalidCertificateUrlError",
    "InvalidEnvelopeError",
    "InvalidSignatureError",
    "SnsEnvelope",
    "SnsError",
    "SnsMalformedError",
    "SnsVerificationError",
    "SnsVerifier",
    "StaleMessageError",
    "UnsupportedSignatureVersionError",
    "UntrustedTopicError",
    "default_fetch",
    "string_to_sign",
    "validate_cert_url",
]
