from __future__ import annotations

import json

import pytest

from runtime.settings import Settings
from runtime.sns import (
    InvalidCertificateUrlError,
    InvalidEnvelopeError,
    SnsEnvelope,
    SnsMalformedError,
    SnsVerifier,
    StaleMessageError,
    UntrustedTopicError,
)
from tests.support.sns import (
    EU_TOPIC_ARN,
    TOPIC_ARN,
    UNTRUSTED_TOPIC_ARN,
    make_signer,
    make_store,
    make_verifier,
    sns_env,
)


@pytest.fixture
def signer(tmp_path):
    return make_signer(tmp_path)


@pytest.mark.parametrize("version", [1, 2])
def test_accepts_notification_signed_with_each_signature_version(signer, version):
    envelope = signer.notification(TOPIC_ARN, json.dumps({"eventType": "Send"}), subject="s", version=version)
    verified = make_verifier(signer).verify(json.dumps(envelope))
    assert isinstance(verified, SnsEnvelope)
    assert verified.SignatureVersion == str(version)
    assert verified.Message == envelope["Message"]
    assert verified.Subject == "s"


@pytest.mark.parametrize("version", [1, 2])
def test_accepts_subscription_and_unsubscribe_confirmations(signer, version):
    verifier = make_verifier(signer)
    sub = verifier.verify(signer.subscription_confirmation(TOPIC_ARN, token="abc", version=version))
    unsub = verifier.verify(signer.unsubscribe_confirmation(TOPIC_ARN, token="abc", version=version))
    assert (sub.Type, sub.Token) == ("SubscriptionConfirmation", "abc")
    assert unsub.Type == "UnsubscribeConfirmation"


def test_accepts_body_as_bytes_and_as_mapping(signer):
    envelope = signer.notification(TOPIC_ARN, "hello")
    verifier = make_verifier(signer)
    assert verifier.verify(json.dumps(envelope).encode()).MessageId == envelope["MessageId"]
    assert verifier.verify(envelope).MessageId == envelope["MessageId"]


def test_rejects_untrusted_topic_before_looking_at_anything_else(signer):
    with pytest.raises(UntrustedTopicError):
        make_verifier(signer).verify({"Type": "Notification", "TopicArn": UNTRUSTED_TOPIC_ARN})


def test_rejects_non_json_body_as_malformed(signer):
    with pytest.raises(SnsMalformedError):
        make_verifier(signer).verify("not json")


def test_max_age_zero_disables_the_age_check(signer):
    envelope = signer.notification(TOPIC_ARN, "old", timestamp="2012-05-02T00:54:06.655Z")
    with pytest.raises(StaleMessageError):
        make_verifier(signer).verify(envelope)
    assert make_verifier(signer, max_age_seconds=0).verify(envelope).Message == "old"


def test_future_timestamp_is_refused_even_when_age_check_is_disabled(signer):
    envelope = signer.notification(TOPIC_ARN, "m", timestamp="2012-05-02T00:54:06.655Z")
    verifier = make_verifier(signer, max_age_seconds=0, clock=lambda: 1_000_000_000.0)  # 2001, before the message
    with pytest.raises(StaleMessageError):
        verifier.verify(envelope)


def test_message_within_max_age_by_the_injected_clock_is_accepted(signer):
    envelope = signer.notification(TOPIC_ARN, "m", timestamp="2012-05-02T00:54:06.655Z")
    sent = 1335920046.655
    assert make_verifier(signer, max_age_seconds=60, clock=lambda: sent + 59).verify(envelope).Message == "m"
    with pytest.raises(StaleMessageError):
        make_verifier(signer, max_age_seconds=60, clock=lambda: sent + 61).verify(envelope)


def test_age_is_measured_up_to_the_queue_receive_time_when_given(signer):
    envelope = signer.notification(TOPIC_ARN, "m", timestamp="2012-05-02T00:54:06.655Z")
    sent = 1335920046.655
    verifier = make_verifier(signer, max_age_seconds=60, clock=lambda: sent + 86400)  # a day of queue backlog
    assert verifier.verify(envelope, received_at=sent + 5).Message == "m"
    with pytest.raises(StaleMessageError):
        verifier.verify(envelope, received_at=sent + 61)  # it was already stale when it reached the queue
    with pytest.raises(StaleMessageError):  # the future check still uses the clock
        make_verifier(signer, max_age_seconds=60, clock=lambda: sent - 3600).verify(envelope, received_at=sent)


def test_negative_max_age_is_a_configuration_error(signer):
    with pytest.raises(ValueError):
        make_verifier(signer, max_age_seconds=-1)


@pytest.mark.parametrize("timestamp", ["2024-01-02T03:04:05", "2024-01-02", "not a date"])
def test_timestamp_without_zone_or_time_is_refused(signer, timestamp):
    envelope = signer.notification(TOPIC_ARN, "m", timestamp=timestamp)
    with pytest.raises(InvalidEnvelopeError):
        make_verifier(signer, max_age_seconds=0).verify(envelope)


def test_topic_from_another_region_needs_that_regions_certificate_url(signer):
    envelope = signer.notification(EU_TOPIC_ARN, "m")
    assert envelope["SigningCertURL"].startswith("https://sns.eu-west-1.amazonaws.com/")
    verifier = make_verifier(signer)
    assert verifier.verify(envelope).region == "eu-west-1"
    envelope["SigningCertURL"] = signer.cert_url_for("us-east-1")
    with pytest.raises(InvalidCertificateUrlError):
        verifier.verify(signer.sign(envelope))


def test_china_partition_topic_round_trips(signer):
    topic = "arn:aws-cn:sns:cn-north-1:123456789012:sesame-prod-ses-events"
    assert make_verifier(signer, [topic]).verify(signer.notification(topic, "m")).region == "cn-north-1"


def test_certificate_is_obtained_once_for_many_messages(signer):
    fetched = []

    def fetch(url, timeout):
        fetched.append(url)
        return signer.cert_pem

    verifier = SnsVerifier([TOPIC_ARN], make_store(None, fetch=fetch))
    for _ in range(3):
        verifier.verify(signer.notification(TOPIC_ARN, "m"))
    assert fetched == [signer.cert_url]


def test_unsigned_fields_with_wrong_types_are_refused(signer):
    envelope = signer.notification(TOPIC_ARN, "m")
    envelope["UnsubscribeURL"] = 42
    with pytest.raises(InvalidEnvelopeError):
        make_verifier(signer).verify(envelope)


def test_a_confirmation_with_a_subject_that_is_not_text_is_refused_naming_it(signer):
    envelope = signer.subscription_confirmation(TOPIC_ARN, token="t" * 64)
    envelope["Subject"] = 5
    with pytest.raises(InvalidEnvelopeError, match="^invalid fields: Subject$"):
        make_verifier(signer).verify(envelope)


def test_unsigned_extra_fields_are_kept(signer):
    attributes = {"k": {"Type": "String", "Value": "v"}}
    envelope = signer.notification(TOPIC_ARN, "m", message_attributes=attributes)
    verified = make_verifier(signer).verify(envelope)
    assert verified.model_extra == {"MessageAttributes": attributes}


def test_verify_does_not_modify_the_caller_mapping(signer):
    envelope = signer.notification(TOPIC_ARN, "m")
    snapshot = dict(envelope)
    make_verifier(signer).verify(envelope)
    assert envelope == snapshot


@pytest.mark.parametrize(
    "body",
    ['{"Type": ["Notification"]}', '{"Type": {"a": 1}}', "[]", "null", "42", b"\xff", 7, None, "[" * 100_000],
    ids=["type-list", "type-object", "array", "null", "number", "bad-utf8", "int-body", "none-body", "deep-nesting"],
)
def test_bodies_that_are_not_sns_messages_are_malformed(signer, body):
    with pytest.raises(SnsMalformedError) as raised:
        make_verifier(signer).verify(body)
    assert raised.value.http_status == 400


@pytest.mark.parametrize("topic", [None, 42, ["arn"], ""])
def test_missing_or_non_string_topic_is_untrusted(signer, topic):
    with pytest.raises(UntrustedTopicError) as raised:
        make_verifier(signer).verify({"Type": "Notification", "TopicArn": topic})
    assert raised.value.http_status == 403


def test_empty_allow_list_trusts_no_topic(signer):
    with pytest.raises(UntrustedTopicError):
        make_verifier(signer, topics=[]).verify(signer.notification(TOPIC_ARN, "m"))


def test_from_settings_uses_the_sns_env_vars(signer):
    settings = Settings.from_env(sns_env(signer, [TOPIC_ARN]))
    verifier = SnsVerifier.from_settings(settings, fetch=lambda url, timeout: pytest.fail("downloaded"))
    assert verifier.allowed_topic_arns == frozenset({TOPIC_ARN})
    assert verifier.verify(signer.notification_json(TOPIC_ARN, "m")).Message == "m"


def test_oversized_body_is_refused_before_parsing(signer):
    from runtime.sns.verify import MAX_BODY_BYTES

    with pytest.raises(SnsMalformedError):
        make_verifier(signer).verify(" " * (MAX_BODY_BYTES + 1))


def test_largest_sns_message_is_accepted(signer):
    message = json.dumps({"data": "\u00e9" * (128 * 1024)})  # 256 KiB of UTF-8, escaped to 6 bytes/char in JSON
    body = json.dumps(signer.notification(TOPIC_ARN, message))
    assert make_verifier(signer).verify(body).Message == message


# --- the certificate is judged at the message's Timestamp --------------------------------------------------------


def _certificate_valid(signer, not_before: str, not_after: str) -> None:
    """Replace the signer's certificate (same key, same file name) with one valid only from/to these dates."""
    import datetime as dt
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from runtime.sns.signing import shared_key

    key = shared_key(0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.fromisoformat(not_before))
        .not_valid_after(dt.datetime.fromisoformat(not_after))
        .sign(key, hashes.SHA256())
    )
    (Path(signer.cert_dir) / signer.cert_file_name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


SIGNED_AT = "2012-05-02T00:54:06.655Z"
SIGNED_EPOCH = 1335920046.655


def test_a_genuine_message_redriven_after_its_certificate_expired_still_verifies(signer):
    _certificate_valid(signer, "2012-05-01T00:00:00+00:00", "2012-06-01T00:00:00+00:00")
    envelope = signer.notification(TOPIC_ARN, "m", timestamp=SIGNED_AT)
    redrive_day = SIGNED_EPOCH + 60 * 86400  # two months later, the certificate long expired
    verifier = make_verifier(signer, max_age_seconds=3600, clock=lambda: redrive_day)
    assert verifier.verify(envelope, received_at=SIGNED_EPOCH + 5).Message == "m"  # it first arrived fresh
    with pytest.raises(StaleMessageError):  # the age check is a separate question, still asked
        verifier.verify(envelope)


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        ("2012-05-03T00:00:00+00:00", "2012-06-01T00:00:00+00:00"),  # not valid yet when the message was signed
        ("2012-04-01T00:00:00+00:00", "2012-05-01T00:00:00+00:00"),  # already expired when it was signed
    ],
)
def test_a_certificate_not_valid_at_the_message_timestamp_is_refused_whatever_the_clock(signer, not_before, not_after):
    from runtime.sns import InvalidCertificateError

    _certificate_valid(signer, not_before, not_after)
    envelope = signer.notification(TOPIC_ARN, "m", timestamp=SIGNED_AT)
    with pytest.raises(InvalidCertificateError):
        make_verifier(signer, max_age_seconds=0, clock=lambda: SIGNED_EPOCH + 10).verify(envelope)


def test_certificate_validity_allows_a_few_minutes_of_skew_around_the_timestamp(signer):
    _certificate_valid(signer, "2012-05-02T00:57:00+00:00", "2012-06-01T00:00:00+00:00")  # ~3 minutes later
    envelope = signer.notification(TOPIC_ARN, "m", timestamp=SIGNED_AT)
    assert make_verifier(signer, max_age_seconds=0, clock=lambda: SIGNED_EPOCH).verify(envelope).Message == "m"


@pytest.mark.parametrize("field", ["Subject", "Token", "SubscribeURL"])
def test_optional_fields_of_another_type_are_named_in_the_refusal(signer, field):
    envelope = signer.notification(TOPIC_ARN, "m")
    envelope.pop("Subject", None)
    envelope[field] = ["not", "a", "string"]
    with pytest.raises(InvalidEnvelopeError, match=f"^(invalid fields: {field}|{field} is not a string)$"):
        make_verifier(signer).verify(envelope)
