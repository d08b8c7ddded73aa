"""Property tests: any content round-trips through signer and verifier; any change to signed content or to the
certificate URL is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.sns import (
    InvalidCertificateUrlError,
    InvalidEnvelopeError,
    InvalidSignatureError,
    SnsError,
    SnsVerificationError,
    validate_cert_url,
)
from tests.support.sns import TOPIC_ARN, make_signer, make_verifier

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.text(min_size=1, max_size=300)
single_line = st.text(  # SNS subjects: no line breaks (no lone surrogates either, like st.text())
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=100
)


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return make_signer(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def verifier(signer):
    return make_verifier(signer)


@SETTINGS
@given(message=texts, subject=st.none() | single_line, version=st.sampled_from([1, 2]))
def test_any_message_and_subject_round_trip(signer, verifier, message, subject, version):
    envelope = signer.notification(TOPIC_ARN, message, subject=subject, version=version)
    verified = verifier.verify(envelope)
    assert (verified.Message, verified.Subject) == (message, subject)


@SETTINGS
@given(
    message=texts,
    field=st.sampled_from(["Message", "MessageId", "Subject"]),
    replacement=st.text(max_size=50),
)
def test_any_change_to_a_signed_field_is_refused(signer, verifier, message, field, replacement):
    envelope = signer.notification(TOPIC_ARN, message, subject="subject", message_id="mid")
    if envelope[field] == replacement or (field == "MessageId" and not replacement):
        return  # not a change (or an empty id, refused earlier for another reason)
    envelope[field] = replacement
    # a line break where SNS never puts one is refused before the signature is even checked
    shifted = field != "Message" and ("\n" in replacement or "\r" in replacement)
    with pytest.raises(InvalidEnvelopeError if shifted else InvalidSignatureError):
        verifier.verify(envelope)


@SETTINGS
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_nothing_around_a_valid_certificate_url_is_accepted(signer, prefix, suffix):
    url = signer.cert_url
    if not prefix and not suffix:
        assert validate_cert_url(url).file_name == signer.cert_file_name
        return
    with pytest.raises(InvalidCertificateUrlError):
        validate_cert_url(prefix + url + suffix)


@SETTINGS
@given(position=st.integers(min_value=0, max_value=200), char=st.characters())
def test_single_character_changes_to_the_host_or_scheme_are_refused(signer, position, char):
    url = signer.cert_url
    head = url.index("/SimpleNotificationService-")  # scheme and host: every change must be refused
    position %= head
    changed = url[:position] + char + url[position + 1 :]
    if changed == url:
        return
    with pytest.raises(InvalidCertificateUrlError):
        validate_cert_url(changed, region="us-east-1")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature"]
FIELDS += ["SigningCertURL", "SubscribeURL", "Token", "UnsubscribeURL"]


@SETTINGS
@given(replacements=st.dictionaries(st.sampled_from(FIELDS), json_values | st.text(), max_size=4))
def test_field_replacements_raise_sns_errors_only_and_never_pass_changed_signed_content(signer, verifier, replacements):
    envelope = signer.notification(TOPIC_ARN, "m", subject="s")
    original = dict(envelope)
    envelope.update(replacements)
    try:
        verified = verifier.verify(json.dumps(envelope))
    except SnsError:
        return
    signed = ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp"]
    assert all(getattr(verified, name) == original[name] for name in signed)


@pytest.mark.parametrize("field", ["Message", "Subject", "MessageId"])
def test_lone_surrogate_in_a_signed_field_is_refused_not_a_crash(signer, verifier, field):
    envelope = signer.notification(TOPIC_ARN, "m", subject="s")
    body = json.dumps(envelope).replace(f'"{field}": "', f'"{field}": "\\ud800', 1)
    with pytest.raises(SnsVerificationError):
        verifier.verify(body)
