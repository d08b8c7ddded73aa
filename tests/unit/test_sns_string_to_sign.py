from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from runtime.sns import string_to_sign
from runtime.sns.signing import shared_key
from tests.support.sns import TOPIC_ARN, make_signer

NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Subject": "My First Message",
    "Message": "Hello world!",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "SignatureVersion": "1",
    "Signature": "ignored",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:x",
}

CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37f",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=2336412f37f",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
    "Signature": "ignored",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
}


def test_notification_string_to_sign_lists_fields_in_order_including_subject():
    assert string_to_sign(NOTIFICATION) == (
        b"Message\nHello world!\n"
        b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        b"Subject\nMy First Message\n"
        b"Timestamp\n2012-05-02T00:54:06.655Z\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\nNotification\n"
    )


@pytest.mark.parametrize("subject", ["absent", None])
def test_notification_without_subject_leaves_subject_out_of_string_to_sign(subject):
    message = dict(NOTIFICATION)
    if subject == "absent":
        del message["Subject"]
    else:
        message["Subject"] = None
    assert string_to_sign(message) == (
        b"Message\nHello world!\n"
        b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        b"Timestamp\n2012-05-02T00:54:06.655Z\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\nNotification\n"
    )


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_confirmation_string_to_sign_includes_subscribe_url_and_token(kind):
    assert string_to_sign({**CONFIRMATION, "Type": kind}) == (
        b"Message\nYou have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
        b"MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
        b"SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=2336412f37f\n"
        b"Timestamp\n2012-04-26T20:45:04.751Z\n"
        b"Token\n2336412f37f\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\n" + kind.encode() + b"\n"
    )


def test_string_to_sign_encodes_non_ascii_message_as_utf8():
    message = {**NOTIFICATION, "Message": "caf\u00e9 \u2713"}
    assert b"Message\ncaf\xc3\xa9 \xe2\x9c\x93\n" in string_to_sign(message)


@pytest.mark.parametrize(("version", "algorithm"), [(1, hashes.SHA1()), (2, hashes.SHA256())])
def test_signer_signs_the_canonical_string_with_the_version_hash(tmp_path, version, algorithm):
    envelope = make_signer(tmp_path).notification(TOPIC_ARN, "m", subject="s", version=version)
    signature = base64.b64decode(envelope["Signature"])
    # independent check with the raw key: raises InvalidSignature if signer and canonical form disagree
    shared_key().public_key().verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm)
    assert envelope["SignatureVersion"] == str(version)


def test_signer_produces_sns_shaped_envelopes(tmp_path):
    signer = make_signer(tmp_path)
    note = signer.notification(TOPIC_ARN, "m", message_id="id-1", timestamp="2024-01-02T03:04:05.678Z")
    assert list(note) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    assert note["SigningCertURL"] == f"https://sns.us-east-1.amazonaws.com/{signer.cert_file_name}"
    assert (tmp_path / signer.cert_file_name).read_bytes() == signer.cert_pem
    confirmation = signer.subscription_confirmation(TOPIC_ARN, token="tok")
    assert confirmation["SubscribeURL"] == (
        f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok"
    )


def test_signer_uses_the_topic_region_and_china_partition_host(tmp_path):
    signer = make_signer(tmp_path)
    cn = signer.notification("arn:aws-cn:sns:cn-north-1:123456789012:t", "m")
    assert cn["SigningCertURL"] == f"https://sns.cn-north-1.amazonaws.com.cn/{signer.cert_file_name}"
