"""A local SNS signer: the test CA of the tests, benchmarks and the local stack.

It generates an RSA-2048 key and a self-signed certificate, writes the certificate as
``<cert_dir>/SimpleNotificationService-<hex>.pem`` (the file name a real SigningCertURL ends with), and signs
envelopes exactly as SNS does (v1 SHA1withRSA or v2 SHA256withRSA over :func:`runtime.sns.verify.string_to_sign`).
Point ``SNS_CERT_DIR`` at ``cert_dir`` and the production verifier accepts its messages through the real code path,
with no download.

Key generation costs ~0.1 s, so the default key is generated once per process and shared by every signer that is
not given one; pass ``key`` (or use :meth:`LocalSnsSigner.load_or_create`) to persist a key across processes.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from runtime.sns.models import topic_region
from runtime.sns.urls import sns_host
from runtime.sns.verify import string_to_sign

_HASHES: dict[int, hashes.HashAlgorithm] = {1: hashes.SHA1(), 2: hashes.SHA256()}  # noqa: S303 - SNS v1 is SHA1
KEY_FILE_NAME = "local-sns-signer-key.pem"


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _process_key(slot: int) -> rsa.RSAPrivateKey:
    return generate_key()


def shared_key(slot: int = 0) -> rsa.RSAPrivateKey:
    """A key generated once per process per ``slot`` (tests use slot 1 for a second, "other" signer)."""
    return _process_key(slot)


@functools.cache
def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> bytes:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sesame local SNS test CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # valid from 2000: the verifier judges a certificate at the message's Timestamp, and tests and the local
        # stack sign messages dated in the past (a test CA's wide window is harmless)
        .not_valid_before(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _usable_certificate(path: str, spki: bytes) -> bytes | None:
    """The PEM at ``path`` if it certifies the key ``spki`` and is valid for at least another day."""
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
        certificate = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError):
        return None
    key = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if key != spki or certificate.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
        return None
    return pem


def _iso_now() -> str:
    return _format_timestamp(dt.datetime.now(dt.UTC))


def _format_timestamp(value: dt.datetime | str | None) -> str:
    if value is None:
        return _iso_now()
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class LocalSnsSigner:
    """Signs SNS envelopes with a local key; its certificate lives in ``cert_dir``.

    ``region`` is the default region for :attr:`cert_url`; envelopes use their topic's region, like SNS.
    """

    def __init__(
        self,
        cert_dir: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        *,
        region: str = "us-east-1",
        common_name: str = "sns.amazonaws.com",
    ) -> None:
        self._key = key if key is not None else shared_key()
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Named by the public key, so every process signing with one key agrees on the SigningCertURL.
        self._file_name = f"SimpleNotificationService-{hashlib.sha256(spki).hexdigest()[:32]}.pem"
        self._cert_dir = cert_dir or tempfile.mkdtemp(prefix="sesame-sns-certs-")
        self._region = region
        os.makedirs(self._cert_dir, exist_ok=True)
        path = os.path.join(self._cert_dir, self._file_name)
        existing = _usable_certificate(path, spki)
        if existing is not None:
            self._cert_pem = existing
        else:
            self._cert_pem = _self_signed(self._key, common_name)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as handle:
                handle.write(self._cert_pem)
            os.replace(tmp, path)  # atomic: a concurrent reader never sees half a certificate

    @classmethod
    def load_or_create(cls, key_path: str, cert_dir: str, *, region: str = "us-east-1") -> LocalSnsSigner:
        """A signer whose key persists in ``key_path`` (created on first use, mode 0600), certificate in ``cert_dir``.

        Keep ``key_path`` outside ``cert_dir``: the cert dir is configuration, the key is a secret.
        """
        try:
            with open(key_path, "rb") as handle:
                loaded = serialization.load_pem_private_key(handle.read(), password=None)
        except FileNotFoundError:
            key = generate_key()
            os.makedirs(os.path.dirname(os.path.abspath(key_path)), exist_ok=True)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            return cls(cert_dir, key, region=region)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key")
        return cls(cert_dir, loaded, region=region)

    # -- identity --------------------------------------------------------------------------------------------

    @property
    def cert_dir(self) -> str:
        return self._cert_dir

    @property
    def cert_file_name(self) -> str:
        return self._file_name

    @property
    def cert_pem(self) -> bytes:
        return self._cert_pem

    @property
    def cert_url(self) -> str:
        """SigningCertURL for the signer's default region."""
        return self.cert_url_for(self._region)

    def cert_url_for(self, region: str) -> str:
        return f"https://{sns_host(region)}/{self._file_name}"

    # -- signing -----------------------------------------------------------------------------------------------

    def sign(self, envelope: dict[str, Any], version: int | str | None = None) -> dict[str, Any]:
        """(Re)sign ``envelope`` in place and return it: sets SignatureVersion (kept unless ``version`` given),
        SigningCertURL (the topic region's URL, unless already set) and Signature."""
        chosen = int(version if version is not None else envelope.get("SignatureVersion", 2))
        envelope["SignatureVersion"] = str(chosen)
        envelope.setdefault("SigningCertURL", self.cert_url_for(topic_region(envelope["TopicArn"]) or self._region))
        signature = self._key.sign(string_to_sign(envelope), padding.PKCS1v15(), _HASHES[chosen])
        envelope["Signature"] = base64.b64encode(signature).decode("ascii")
        return envelope

    def notification(
        self,
        topic_arn: str,
        message: str,
        subject: str | None = None,
        message_id: str | None = None,
        timestamp: dt.datetime | str | None = None,
        version: int = 2,
        *,
        subscription_arn: str | None = None,
        message_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A signed ``Notification`` exactly as SNS delivers it (HTTPS body, or a non-raw SQS message body)."""
        region = topic_region(topic_arn) or self._region
        envelope: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn,
        }
        if subject is not None:
            envelope["Subject"] = subject
        envelope["Message"] = message
        envelope["Timestamp"] = _format_timestamp(timestamp)
        envelope["SignatureVersion"] = str(version)
        envelope["Signature"] = ""
        envelope["SigningCertURL"] = self.cert_url_for(region)
        sub_arn = subscription_arn or f"{topic_arn}:{uuid.UUID(int=0)}"
        envelope["UnsubscribeURL"] = f"https://{sns_host(region)}/?Action=Unsubscribe&SubscriptionArn={sub_arn}"
        if message_attributes:
            envelope["MessageAttributes"] = message_attributes
        return self.sign(envelope)

    def subscription_confirmation(
        self,
        topic_arn: str,
        token: str | None = None,
        message_id: str | None = None,
        timestamp: dt.datetime | str | None = None,
        version: int = 2,
    ) -> dict[str, Any]:
        """A signed ``SubscriptionConfirmation`` with SNS's SubscribeURL (ConfirmSubscription for this topic)."""
        return self._confirmation("SubscriptionConfirmation", topic_arn, token, message_id, timestamp, version)

    def unsubscribe_confirmation(
        self,
        topic_arn: str,
        token: str | None = None,
        message_id: str | None = None,
        timestamp: dt.datetime | str | None = None,
        version: int = 2,
    ) -> dict[str, Any]:
        """A signed ``UnsubscribeConfirmation`` (its SubscribeURL would re-subscribe: never visit it)."""
        return self._confirmation("UnsubscribeConfirmation", topic_arn, token, message_id, timestamp, version)

    def _confirmation(
        self,
        kind: str,
        topic_arn: str,
        token: str | None,
        message_id: str | None,
        timestamp: dt.datetime | str | None,
        version: int,
    ) -> dict[str, Any]:
        region = topic_region(topic_arn) or self._region
        token = token or os.urandom(64).hex()
        if kind == "SubscriptionConfirmation":
            text = (
                f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            )
        else:
            text = (
                f"You have chosen to deactivate subscription to the topic {topic_arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included in this "
                "message."
            )
        envelope: dict[str, Any] = {
            "Type": kind,
            "MessageId": message_id or str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": text,
            "SubscribeURL": (
                f"https://{sns_host(region)}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
            ),
            "Timestamp": _format_timestamp(timestamp),
            "SignatureVersion": str(version),
            "Signature": "",
            "SigningCertURL": self.cert_url_for(region),
        }
        return self.sign(envelope)

    def notification_json(self, topic_arn: str, message: str, **kwargs: Any) -> str:
        """The HTTPS/SQS body of :meth:`notification` as SNS serialises it."""
        return json.dumps(self.notification(topic_arn, message, **kwargs))
