"""The SigV4 signer (runtime/stores/sigv4.py) signs as AWS specifies and as botocore signs."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

from runtime.stores.sigv4 import SigV4Signer, amz_date, canonical_query, signing_key

# AWS's SigV4 test suite (aws-sig-v4-test-suite): credentials, instant and scope of every case
SUITE_ACCESS = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"


def _suite_authorization(method: str) -> str:
    return SigV4Signer("us-east-1", "service").authorization(
        method=method,
        host="example.amazonaws.com",
        path="/",
        query="",
        headers={"X-Amz-Date": SUITE_DATE},
        body=b"",
        date=SUITE_DATE,
        access_key=SUITE_ACCESS,
        secret_key=SUITE_SECRET,
    )


def test_get_vanilla_matches_the_aws_test_suite() -> None:
    assert _suite_authorization("GET") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_post_vanilla_matches_the_aws_test_suite() -> None:
    assert _suite_authorization("POST") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    )


def test_signing_key_matches_the_documented_derivation_example() -> None:
    # "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference)
    key = signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def _botocore_authorization(
    body: bytes, headers: dict[str, str], when: dt.datetime, token: str | None, url: str
) -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    credentials = botocore.credentials.Credentials("AKIDEXAMPLE", "secret/key+x", token)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        botocore.auth.SigV4Auth(credentials, "dynamodb", "eu-west-1").add_auth(request)
    return request


def test_dynamodb_request_is_signed_exactly_as_botocore_signs_it() -> None:
    when = dt.datetime(2026, 5, 4, 9, 30, 12)
    body = b'{"TableName":"sesame-prod-messages","Item":{"message_id":{"S":"0100-abc"}}}'
    for token in (None, "IQoJb3JpZ2luX2VjE//session+token=="):
        base = {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}
        for url, host in (
            ("https://dynamodb.eu-west-1.amazonaws.com/", "dynamodb.eu-west-1.amazonaws.com"),
            ("http://127.0.0.1:4566/", "127.0.0.1:4566"),
        ):
            expected = _botocore_authorization(body, base, when, token, url)
            headers = {**base, "X-Amz-Date": amz_date(when)}
            if token:
                headers["X-Amz-Security-Token"] = token
            assert expected.headers["X-Amz-Date"] == headers["X-Amz-Date"]
            ours = SigV4Signer("eu-west-1", "dynamodb").authorization(
                method="POST",
                host=host,
                path="/",
                query="",
                headers=headers,
                body=body,
                date=headers["X-Amz-Date"],
                access_key="AKIDEXAMPLE",
                secret_key="secret/key+x",
            )
            assert ours == expected.headers["Authorization"]


def test_signing_key_is_derived_again_for_a_new_day_or_a_refreshed_secret() -> None:
    signer = SigV4Signer("us-east-1", "dynamodb")

    def sign(date: str, secret: str) -> str:
        return signer.authorization(
            method="POST",
            host="h",
            path="/",
            query="",
            headers={"X-Amz-Date": date},
            body=b"{}",
            date=date,
            access_key="AK",
            secret_key=secret,
        )

    first = sign("20260504T235959Z", "s1")
    assert sign("20260504T235959Z", "s1") == first
    fresh = SigV4Signer("us-east-1", "dynamodb")
    for date, secret in (("20260505T000000Z", "s1"), ("20260505T000000Z", "s2"), ("20260504T235959Z", "s1")):
        assert sign(date, secret) == fresh.authorization(
            method="POST",
            host="h",
            path="/",
            query="",
            headers={"X-Amz-Date": date},
            body=b"{}",
            date=date,
            access_key="AK",
            secret_key=secret,
        )


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query({"b": "x y", "a": "1/2", "A~": "é"}) == "A~=%C3%A9&a=1%2F2&b=x%20y"


def test_json_post_form_signs_as_the_general_form() -> None:
    signer = SigV4Signer("eu-west-1", "dynamodb")
    body = b'{"TableName":"t"}'
    for token in (None, "IQoJb3JpZ2luX2VjE//token=="):
        headers = {
            "X-Amz-Target": "DynamoDB_20120810.PutItem",
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Date": "20260504T093012Z",
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        general = signer.authorization(
            method="POST",
            host="dynamodb.eu-west-1.amazonaws.com",
            path="/",
            query="",
            headers=headers,
            body=body,
            date="20260504T093012Z",
            access_key="AK",
            secret_key="sk",
        )
        assert general == signer.json_post_authorization(
            host="dynamodb.eu-west-1.amazonaws.com",
            content_type="application/x-amz-json-1.0",
            target="DynamoDB_20120810.PutItem",
            body=body,
            date="20260504T093012Z",
            token=token,
            access_key="AK",
            secret_key="sk",
        )
