"""The SNS forgery corpus: named attacks on a genuine signed envelope, and the outcome each must get.

Each :class:`Attack` takes a genuine envelope (a fresh dict from :func:`genuine_envelope`, or
:func:`genuine_confirmation` when ``base == "confirmation"``) and the genuine signer, and returns the forged body
(``str``, ``bytes`` or ``dict``). ``ATTACKS`` are verification failures: the verifier raises ``expected`` (an
``SnsVerificationError`` subclass) and the webhook answers 403 with zero writes. ``MALFORMED`` are bodies that are
not SNS messages at all (400). The verifier is configured with ``tests.support.sns.ALLOWED_TOPIC_ARNS`` and the
signer's cert dir (see ``tests.support.sns.make_verifier`` / ``sns_env``).

Usage (webhook)::

    signer = make_signer(tmp_path)
    for attack in ATTACKS:
        body = as_body(attack.build(signer))
        assert client.http.post("/webhooks/ses", body=body, headers=...).status_code == attack.status
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from runtime.sns.errors import (
    InvalidCertificateUrlError,
    InvalidEnvelopeError,
    InvalidSignatureError,
    SnsError,
    SnsMalformedError,
    StaleMessageError,
    UnsupportedSignatureVersionError,
    UntrustedTopicError,
)
from runtime.sns.signing import LocalSnsSigner
from tests.support.sns import OTHER_ALLOWED_TOPIC_ARN, TOPIC_ARN, UNTRUSTED_TOPIC_ARN, other_signer

Envelope = dict[str, Any]
Forged = str | bytes | Envelope
SUBJECT = "Amazon SES Email Event Notification"

# A realistic SES event (Bounce, campaign-tagged) so that a forgery that slipped through would be written.
SES_EVENT: dict[str, Any] = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": {
        "timestamp": "2017-08-05T00:40:02.012Z",
        "source": "Sender Name <sender@example.com>",
        "sendingAccountId": "123456789012",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "tags": {"campaign_id": ["forged-campaign"], "list_name": ["forged-list"]},
    },
}


def genuine_envelope(signer: LocalSnsSigner) -> Envelope:
    """A genuine v2 Notification for ``TOPIC_ARN`` with a Subject and an SES Bounce event."""
    return signer.notification(TOPIC_ARN, json.dumps(SES_EVENT), subject=SUBJECT, version=2)


def genuine_confirmation(signer: LocalSnsSigner) -> Envelope:
    return signer.subscription_confirmation(TOPIC_ARN, token="f" * 64, version=2)


@dataclass(frozen=True)
class Attack:
    name: str
    description: str
    forge: Callable[[Envelope, LocalSnsSigner], Forged]
    expected: type[SnsError]
    status: int = 403
    base: Literal["notification", "confirmation"] = "notification"

    def build(self, signer: LocalSnsSigner) -> Forged:
        """The forged body, starting from a fresh genuine envelope signed by ``signer``."""
        base = genuine_envelope(signer) if self.base == "notification" else genuine_confirmation(signer)
        return self.forge(base, signer)


def as_body(forged: Forged) -> str | bytes:
    """The HTTP body of a forged message (dicts serialised as SNS does)."""
    return json.dumps(forged) if isinstance(forged, dict) else forged


# -- helpers ---------------------------------------------------------------------------------------------------


def _set(**fields: Any) -> Callable[[Envelope, LocalSnsSigner], Forged]:
    def forge(env: Envelope, signer: LocalSnsSigner) -> Forged:
        env.update(fields)
        return env

    return forge


def _drop(name: str) -> Callable[[Envelope, LocalSnsSigner], Forged]:
    def forge(env: Envelope, signer: LocalSnsSigner) -> Forged:
        del env[name]
        return env

    return forge


def _cert_url(template: str) -> Callable[[Envelope, LocalSnsSigner], Forged]:
    """Replace SigningCertURL; ``{name}`` is the genuine certificate's file name."""

    def forge(env: Envelope, signer: LocalSnsSigner) -> Forged:
        env["SigningCertURL"] = template.format(name=signer.cert_file_name)
        return env

    return forge


def _resigned(**fields: Any) -> Callable[[Envelope, LocalSnsSigner], Forged]:
    """Set fields (callables are called at forge time) and sign again with the GENUINE key: only the check under
    test can refuse it."""

    def forge(env: Envelope, signer: LocalSnsSigner) -> Forged:
        env.update({key: value() if callable(value) else value for key, value in fields.items()})
        return signer.sign(env)

    return forge


def _iso(delta: dt.timedelta) -> Callable[[], str]:
    def stamp() -> str:
        value = dt.datetime.now(dt.UTC) + delta
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

    return stamp


def _tamper_message(env: Envelope, signer: LocalSnsSigner) -> Forged:
    event = json.loads(env["Message"])
    event["bounce"]["bounceType"] = "Transient"
    env["Message"] = json.dumps(event)
    return env


def _tamper_timestamp(env: Envelope, signer: LocalSnsSigner) -> Forged:
    stamp = dt.datetime.fromisoformat(env["Timestamp"]) - dt.timedelta(seconds=1)
    env["Timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return env


def _add_subject(env: Envelope, signer: LocalSnsSigner) -> Forged:
    del env["Subject"]
    signer.sign(env)
    env["Subject"] = "Injected subject"
    return env


def _type_to_unsubscribe(env: Envelope, signer: LocalSnsSigner) -> Forged:
    env["Type"] = "UnsubscribeConfirmation"
    env["Token"] = "0" * 64
    env["SubscribeURL"] = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}"
    return env


def _v1_claimed_as_v2(env: Envelope, signer: LocalSnsSigner) -> Forged:
    signer.sign(env, version=1)
    env["SignatureVersion"] = "2"
    return env


def _truncated_signature(env: Envelope, signer: LocalSnsSigner) -> Forged:
    env["Signature"] = env["Signature"][:172]  # valid base64 (a multiple of 4), half the signature
    return env


def _signature_from_other_key(env: Envelope, signer: LocalSnsSigner) -> Forged:
    attacker = other_signer(signer)
    attacker.sign(env)  # keeps the genuine SigningCertURL, signs with another key
    return env


def _other_known_certificate(env: Envelope, signer: LocalSnsSigner) -> Forged:
    attacker = other_signer(signer)  # its certificate is in the cert dir too, under its own name
    env["SigningCertURL"] = attacker.cert_url_for("us-east-1")
    return env


def _signature_of_other_message(env: Envelope, signer: LocalSnsSigner) -> Forged:
    other = signer.notification(TOPIC_ARN, json.dumps({"eventType": "Delivery"}), subject=SUBJECT)
    env["Signature"] = other["Signature"]
    return env


def _untrusted_topic(env: Envelope, signer: LocalSnsSigner) -> Forged:
    attacker = other_signer(signer)
    return attacker.notification(UNTRUSTED_TOPIC_ARN, env["Message"], subject=SUBJECT)


def _untrusted_confirmation(env: Envelope, signer: LocalSnsSigner) -> Forged:
    return signer.subscription_confirmation(UNTRUSTED_TOPIC_ARN, token="e" * 64)


def _subject_shifted_into_message_id(env: Envelope, signer: LocalSnsSigner) -> Forged:
    """The string to sign is newline-delimited: a MessageId carrying ``\nSubject\n<subject>`` with the Subject
    removed gives the very same string, so the genuine signature still verifies."""
    env["MessageId"] = f"{env['MessageId']}\nSubject\n{env.pop('Subject')}"
    return env


def _duplicate_message_key(env: Envelope, signer: LocalSnsSigner) -> Forged:
    body = json.dumps(env)
    evil = json.dumps(json.dumps({**SES_EVENT, "eventType": "Complaint"}))
    return body[:-1] + f', "Message": {evil}}}'


# -- the corpus --------------------------------------------------------------------------------------------------

S3 = "https://s3.amazonaws.com/attacker-bucket/{name}"

ATTACKS: list[Attack] = [
    # signed content tampered with
    Attack("tampered_message", "Message changed after signing", _tamper_message, InvalidSignatureError),
    Attack("tampered_message_id", "MessageId changed", _set(MessageId="forged-id"), InvalidSignatureError),
    Attack("tampered_timestamp", "Timestamp moved by one second", _tamper_timestamp, InvalidSignatureError),
    Attack(
        "tampered_topic_arn",
        "TopicArn switched to another allowed topic",
        _set(TopicArn=OTHER_ALLOWED_TOPIC_ARN),
        InvalidSignatureError,
    ),
    Attack("tampered_subject", "Subject changed", _set(Subject="Changed"), InvalidSignatureError),
    Attack(
        "subject_shifted_into_message_id",
        "line break in MessageId moves the signed Subject into it (same string to sign)",
        _subject_shifted_into_message_id,
        InvalidEnvelopeError,
    ),
    Attack(
        "line_break_in_subject",
        "Subject with a line break, signed",
        _resigned(Subject="Amazon SES\nMessageId\nx"),
        InvalidEnvelopeError,
    ),
    Attack(
        "carriage_return_in_message_id",
        "MessageId with a carriage return, signed",
        _resigned(MessageId="abc\rdef"),
        InvalidEnvelopeError,
    ),
    Attack(
        "line_break_in_token",
        "confirmation Token with a line break, signed",
        _resigned(Token="f" * 32 + "\nTopicArn\nx"),
        InvalidEnvelopeError,
        base="confirmation",
    ),
    Attack(
        "added_unsigned_subject", "Subject added to a message signed without one", _add_subject, InvalidSignatureError
    ),
    Attack("removed_signed_subject", "signed Subject removed", _drop("Subject"), InvalidSignatureError),
    Attack("nulled_signed_subject", "signed Subject set to null", _set(Subject=None), InvalidSignatureError),
    Attack(
        "type_swapped_to_subscription_confirmation",
        "Type changed; confirmation fields missing",
        _set(Type="SubscriptionConfirmation"),
        InvalidEnvelopeError,
    ),
    Attack(
        "type_swapped_to_unsubscribe_confirmation",
        "Type changed with Token/SubscribeURL added",
        _type_to_unsubscribe,
        InvalidSignatureError,
    ),
    Attack(
        "duplicate_json_key_last_wins",
        "a second Message key appended to the JSON",
        _duplicate_message_key,
        InvalidSignatureError,
    ),
    Attack("message_not_a_string", "Message replaced by an object", _set(Message=SES_EVENT), InvalidEnvelopeError),
    Attack("missing_message_id", "MessageId removed", _drop("MessageId"), InvalidEnvelopeError),
    # signature and its version
    Attack(
        "signature_v2_claimed_as_v1", "SHA256 signature labelled v1", _set(SignatureVersion="1"), InvalidSignatureError
    ),
    Attack("signature_v1_claimed_as_v2", "SHA1 signature labelled v2", _v1_claimed_as_v2, InvalidSignatureError),
    Attack(
        "signature_version_3", "unknown SignatureVersion", _set(SignatureVersion="3"), UnsupportedSignatureVersionError
    ),
    Attack(
        "signature_version_integer",
        "SignatureVersion as a number",
        _set(SignatureVersion=2),
        UnsupportedSignatureVersionError,
    ),
    Attack("missing_signature_version", "SignatureVersion removed", _drop("SignatureVersion"), InvalidEnvelopeError),
    Attack("missing_signature", "Signature removed", _drop("Signature"), InvalidEnvelopeError),
    Attack("empty_signature", "Signature empty", _set(Signature=""), InvalidSignatureError),
    Attack("bad_base64_signature", "Signature not base64", _set(Signature="not*base64!"), InvalidSignatureError),
    Attack("truncated_signature", "half of the signature", _truncated_signature, InvalidSignatureError),
    Attack(
        "signature_from_other_key",
        "signed by another key, genuine SigningCertURL",
        _signature_from_other_key,
        InvalidSignatureError,
    ),
    Attack(
        "other_known_certificate",
        "genuine signature, SigningCertURL of another certificate in the cert dir",
        _other_known_certificate,
        InvalidSignatureError,
    ),
    Attack(
        "signature_of_other_message",
        "signature copied from another genuine message",
        _signature_of_other_message,
        InvalidSignatureError,
    ),
    # SigningCertURL
    Attack("missing_signing_cert_url", "SigningCertURL removed", _drop("SigningCertURL"), InvalidEnvelopeError),
    Attack(
        "cert_url_http",
        "plain http",
        _cert_url("http://sns.us-east-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack("cert_url_file_scheme", "file: scheme", _cert_url("file:///etc/ssl/{name}"), InvalidCertificateUrlError),
    Attack(
        "cert_url_lookalike_suffix_host",
        "amazonaws.com followed by an attacker domain",
        _cert_url("https://sns.us-east-1.amazonaws.com.evil.example/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_userinfo_host_confusion",
        "SNS host as userinfo of an attacker host",
        _cert_url("https://sns.us-east-1.amazonaws.com@evil.example/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_host_in_path",
        "SNS host name as a path segment",
        _cert_url("https://evil.com/sns.us-east-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_userinfo_on_sns_host",
        "credentials in the URL",
        _cert_url("https://user:pass@sns.us-east-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_explicit_port_443",
        "explicit port",
        _cert_url("https://sns.us-east-1.amazonaws.com:443/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_other_port",
        "non-standard port",
        _cert_url("https://sns.us-east-1.amazonaws.com:8443/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack("cert_url_s3_hosted", "certificate on S3 (the django-ses CVE)", _cert_url(S3), InvalidCertificateUrlError),
    Attack(
        "cert_url_s3_virtual_host",
        "bucket named like the SNS host",
        _cert_url("https://sns.us-east-1.amazonaws.com.s3.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_not_pem",
        "file is not .pem",
        _cert_url("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.crt"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_pem_then_suffix",
        ".pem followed by another extension",
        _cert_url("https://sns.us-east-1.amazonaws.com/{name}.txt"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_extra_path_segment",
        "certificate in a sub-folder",
        _cert_url("https://sns.us-east-1.amazonaws.com/attacker/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_path_traversal",
        "dot segments in the path",
        _cert_url("https://sns.us-east-1.amazonaws.com/x/../{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_encoded_slash",
        "percent-encoded path separator",
        _cert_url("https://sns.us-east-1.amazonaws.com/evil%2F{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_query_string",
        "query string appended",
        _cert_url("https://sns.us-east-1.amazonaws.com/{name}?redirect=https://evil.example/x.pem"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_fragment",
        "fragment appended",
        _cert_url("https://sns.us-east-1.amazonaws.com/{name}#fragment"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_uppercase_host",
        "host in upper case",
        _cert_url("https://SNS.US-EAST-1.AMAZONAWS.COM/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_trailing_dot_host",
        "fully-qualified host with trailing dot",
        _cert_url("https://sns.us-east-1.amazonaws.com./{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_unicode_lookalike_host",
        "Cyrillic letter in the host",
        _cert_url("https://sns.us-east-1.\u0430mazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_backslash_trick",
        "backslash parsed differently by different URL parsers",
        _cert_url("https://evil.example\\@sns.us-east-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_trailing_newline",
        "newline after the URL",
        _cert_url("https://sns.us-east-1.amazonaws.com/{name}\n"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_wrong_region",
        "valid SNS URL of another region than the topic's",
        _cert_url("https://sns.eu-west-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_cn_suffix_outside_china",
        ".com.cn host for a non-China region",
        _cert_url("https://sns.us-east-1.amazonaws.com.cn/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_other_aws_service",
        "SQS host instead of SNS",
        _cert_url("https://sqs.us-east-1.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_no_region",
        "global-looking SNS host",
        _cert_url("https://sns.amazonaws.com/{name}"),
        InvalidCertificateUrlError,
    ),
    Attack(
        "cert_url_wrong_file_name",
        "file name without the SimpleNotificationService prefix",
        _cert_url("https://sns.us-east-1.amazonaws.com/attacker-0123456789abcdef.pem"),
        InvalidCertificateUrlError,
    ),
    # topic, age
    Attack("untrusted_topic", "self-signed message for an attacker's topic", _untrusted_topic, UntrustedTopicError),
    Attack("missing_topic_arn", "TopicArn removed", _drop("TopicArn"), UntrustedTopicError),
    Attack(
        "untrusted_topic_confirmation",
        "SubscriptionConfirmation for a topic not on the allow-list",
        _untrusted_confirmation,
        UntrustedTopicError,
        base="confirmation",
    ),
    Attack(
        "stale_timestamp",
        "genuinely signed, two hours old (replay)",
        _resigned(Timestamp=_iso(dt.timedelta(hours=-2))),
        StaleMessageError,
    ),
    Attack(
        "future_timestamp",
        "genuinely signed, one day ahead",
        _resigned(Timestamp=_iso(dt.timedelta(days=1))),
        StaleMessageError,
    ),
    Attack("malformed_timestamp", "Timestamp not a date", _resigned(Timestamp="yesterday"), InvalidEnvelopeError),
    Attack(
        "confirmation_token_swapped",
        "SubscriptionConfirmation with another Token",
        _set(Token="0" * 64),
        InvalidSignatureError,
        base="confirmation",
    ),
]

MALFORMED: list[Attack] = [
    Attack("not_json", "plain text body", lambda env, s: "this is not json", SnsMalformedError, 400),
    Attack("empty_body", "empty body", lambda env, s: "", SnsMalformedError, 400),
    Attack("invalid_utf8", "bytes that are not UTF-8", lambda env, s: b"\xff\xfe\x00{", SnsMalformedError, 400),
    Attack("json_array", "a JSON array", lambda env, s: json.dumps([env]), SnsMalformedError, 400),
    Attack("json_string", "a JSON string", lambda env, s: json.dumps(json.dumps(env)), SnsMalformedError, 400),
    Attack("unknown_type", "Type not an SNS type", _set(Type="Forgery"), SnsMalformedError, 400),
    Attack("type_wrong_case", "Type in lower case", _set(Type="notification"), SnsMalformedError, 400),
    Attack("missing_type", "no Type", _drop("Type"), SnsMalformedError, 400),
]

ALL_ATTACKS: list[Attack] = ATTACKS + MALFORMED
