from __future__ import annotations

import json

import pytest

from runtime.sns import SnsEnvelope, SnsMalformedError, StaleMessageError, UntrustedTopicError
from tests.support.sns import TOPIC_ARN, UNTRUSTED_TOPIC_ARN, make_signer, make_verifier


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
