from __future__ import annotations

import json

import pytest

from runtime.ingest.pipeline import Decoded, decode, decode_batch
from runtime.sns.errors import InvalidSignatureError, SnsMalformedError, SnsVerificationError
from tests.support.ingest import ses_record
from tests.support.sns import TOPIC_ARN, make_signer, make_verifier
from tests.support.sns_forgeries import ATTACKS, as_body


@pytest.fixture
def signer(tmp_path):
    return make_signer(tmp_path)


def test_decode_verifies_then_parses_an_ses_event(signer):
    body = signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Bounce")))
    decoded = decode(make_verifier(signer), body)
    assert decoded.event is not None and decoded.event.event_type == "Bounce"
    assert decoded.is_critical and not decoded.is_confirmation


def test_decode_rejects_a_tampered_message_before_parsing(signer):
    envelope = signer.notification(TOPIC_ARN, json.dumps(ses_record("Open")))
    envelope["Message"] = json.dumps(ses_record("Complaint"))
    with pytest.raises(InvalidSignatureError):
        decode(make_verifier(signer), json.dumps(envelope))


def test_verified_non_event_is_ignorable_not_an_error(signer):
    body = signer.notification_json(TOPIC_ARN, "Successfully validated SNS topic for Amazon SES event publishing.")
    decoded = decode(make_verifier(signer), body)
    assert decoded.event is None and decoded.ignored


def test_confirmation_is_decoded_without_an_event(signer):
    decoded = decode(make_verifier(signer), json.dumps(signer.subscription_confirmation(TOPIC_ARN)))
    assert decoded.is_confirmation and decoded.event is None


def test_decode_batch_matches_one_by_one_decoding_with_errors_in_place(signer):
    verifier = make_verifier(signer)
    bodies = [
        signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Delivery", message_id="m1"))),
        as_body(ATTACKS[0].build(signer)),
        "not json",
        signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Open", message_id="m2")), version=1),
        signer.notification_json(TOPIC_ARN, "plain text"),
    ]
    results = decode_batch(verifier, bodies)
    assert len(results) == 5
    assert isinstance(results[0], Decoded) and results[0].event.message_id == "m1"
    assert isinstance(results[1], SnsVerificationError)
    assert isinstance(results[2], SnsMalformedError)
    assert isinstance(results[3], Decoded) and results[3].event.event_type == "Open"
    assert isinstance(results[4], Decoded) and results[4].event is None
    assert results[0].event == decode(verifier, bodies[0]).event


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.000Z"])
def test_out_of_range_event_timestamp_is_ignorable_and_does_not_break_the_batch(signer, stamp):
    odd = ses_record("Bounce", message_id="odd")
    odd["bounce"]["timestamp"] = stamp
    bodies = [
        signer.notification_json(TOPIC_ARN, json.dumps(odd)),
        signer.notification_json(TOPIC_ARN, json.dumps(ses_record("Bounce", message_id="fine"))),
    ]
    first, second = decode_batch(make_verifier(signer), bodies)
    assert isinstance(first, Decoded) and first.event is None and first.ignored
    assert isinstance(second, Decoded) and second.event is not None and second.event.message_id == "fine"
