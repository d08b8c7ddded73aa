"""``DirectDynamo`` (runtime/stores/direct.py) sends what botocore sends and reads answers as botocore does.

No network: a ``before-send`` handler on the botocore client (where moto, the chaos suite and the bench's replay
answer too) records each request and answers it from a script.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectionClosedError

import runtime.stores.direct as direct_module
from runtime.clients import client_config
from runtime.stores.direct import DirectDynamo
from runtime.stores.dynamo import to_item
from runtime.stores.wire import ItemJson, lean

WHEN = dt.datetime(2026, 5, 4, 9, 30, 12)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Script:
    """Answers requests in order: (status, body) or an exception to raise instead of answering."""

    def __init__(self, *answers: tuple[int, dict[str, Any]] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, Any]] = []

    def __call__(self, request: Any, event_name: str, **_: Any) -> Any:
        self.requests.append((event_name, request))
        answer = self.answers.pop(0) if self.answers else (200, {})
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        raw = json.dumps(body).encode()
        headers = {"x-amzn-RequestId": "REQ1", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Raw(raw))


def _client(script: Script, *, token: str | None = "session-token", endpoint_url: str | None = None) -> Any:
    session = botocore.session.Session()
    client = session.create_client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret/key",
        aws_session_token=token,
        endpoint_url=endpoint_url,
        config=client_config(validate=False),
    )
    client.meta.events.register("before-send.dynamodb", script)
    return client


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(direct_module, "_now", lambda: WHEN.replace(tzinfo=dt.UTC).timestamp())
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=WHEN):
        yield


PUT = {
    "TableName": "sesame-prod-messages",
    "Item": {"message_id": {"S": "0100-abc"}, "version": {"N": "3"}, "h": {"L": [{"M": {"t": {"S": "Delivery"}}}]}},
    "ConditionExpression": "version = :seen",
    "ExpressionAttributeValues": {":seen": {"N": "2"}},
}
TRANSACT = {
    "TransactItems": [
        {"Put": {"TableName": "sesame-prod-messages", "Item": {"message_id": {"S": "m"}}}},
        {
            "Update": {
                "TableName": "sesame-prod-suppressions",
                "Key": {"recipient_hash": {"S": "h"}, "scope": {"S": "ALL"}},
                "UpdateExpression": "SET #a = :a",
                "ExpressionAttributeNames": {"#a": "reason"},
                "ExpressionAttributeValues": {":a": {"S": "BOUNCE"}},
            }
        },
    ],
    "ClientRequestToken": "tok-1",
}
BATCH_GET = {"RequestItems": {"sesame-prod-messages": {"Keys": [{"message_id": {"S": "m"}}], "ConsistentRead": False}}}


@pytest.mark.parametrize(
    ("method", "params"), [("put_item", PUT), ("transact_write_items", TRANSACT), ("batch_get_item", BATCH_GET)]
)
@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize("endpoint_url", [None, "http://localhost:4566"])
def test_request_is_the_one_botocore_sends(
    method: str, params: dict[str, Any], token: str | None, endpoint_url: str | None
) -> None:
    """Byte for byte as a botocore client with the lean wire path (the same JSON text: signatures comparable), and
    the same JSON as botocore's own serialiser."""
    sent = {}
    for name in ("botocore", "lean", "direct"):
        script = Script()
        client = _client(script, token=token, endpoint_url=endpoint_url)
        target = {"botocore": client, "lean": lean(client), "direct": DirectDynamo(client)}[name]
        getattr(target, method)(**params)
        (_, request), *_ = script.requests
        sent[name] = request
    ours, theirs = sent["direct"], sent["lean"]
    assert json.loads(ours.body) == json.loads(sent["botocore"].body)
    assert ours.url.rstrip("/") == theirs.url.rstrip("/")
    assert ours.method == theirs.method == "POST"
    assert ours.body == theirs.body
    for header in ("X-Amz-Target", "Content-Type", "X-Amz-Date", "Authorization", "Content-Length"):
        value = theirs.headers[header]
        assert ours.headers[header] == (value.decode() if isinstance(value, bytes) else value), header
    assert ours.headers.get("X-Amz-Security-Token") == (token and theirs.headers["X-Amz-Security-Token"].decode())


def test_success_is_parsed_as_botocore_parses_it() -> None:
    answer = {"Responses": {"t": [{"pk": {"S": "a"}, "n": {"N": "1.5"}, "l": {"L": [{"BOOL": True}]}}]}}
    results = []
    for wrap in (lambda c: c, DirectDynamo):
        client = wrap(_client(Script((200, answer))))
        results.append(client.batch_get_item(**BATCH_GET))
    assert results[0] == results[1]


def test_blob_answer_is_read_by_botocore_as_bytes() -> None:
    answer = {"Item": {"pk": {"S": "a"}, "b": {"B": "eHg="}}}
    got = DirectDynamo(_client(Script((200, answer)))).get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert got["Item"]["b"] == {"B": b"xx"}


def test_blob_parameters_are_sent_by_botocore() -> None:
    script = Script()
    DirectDynamo(_client(script)).put_item(TableName="t", Item={"pk": {"S": "a"}, "b": {"B": b"xx"}})
    (_, request), *_ = script.requests
    assert json.loads(request.body)["Item"]["b"] == {"B": "eHg="}


def test_failed_condition_raises_the_clients_own_exception() -> None:
    client = _client(Script((400, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"})))
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as caught:
        DirectDynamo(client).put_item(**PUT)
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_cancelled_transaction_carries_its_cancellation_reasons() -> None:
    body = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled [ConditionalCheckFailed, None]",
        "CancellationReasons": [{"Code": "ConditionalCheckFailed", "Message": "failed"}, {"Code": "None"}],
    }
    errors = []
    for wrap in (lambda c: c, DirectDynamo):
        with pytest.raises(ClientError) as caught:
            wrap(_client(Script((400, body)))).transact_write_items(**TRANSACT)
        errors.append(caught.value)
    assert type(errors[0]).__name__ == type(errors[1]).__name__ == "TransactionCanceledException"
    assert errors[1].response["CancellationReasons"] == errors[0].response["CancellationReasons"]
    assert errors[1].response["Error"] == errors[0].response["Error"]


def test_throttling_is_retried_by_botocores_standard_retry_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    throttled = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
    script = Script(throttled, (500, {"__type": "InternalServerError"}), (200, {}))
    delays: list[float] = []
    got = DirectDynamo(_client(script), sleep=delays.append).put_item(**PUT)
    assert len(script.requests) == 3
    assert len(delays) == 2 and all(d >= 0 for d in delays)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_lost_connection_is_retried_then_given_up_as_botocore_does() -> None:
    lost = ConnectionClosedError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")
    script = Script(lost, (200, {}))
    DirectDynamo(_client(script), sleep=lambda _: None).put_item(**PUT)
    assert len(script.requests) == 2

    always = Script(*[lost] * 10)
    with pytest.raises(ConnectionClosedError):
        DirectDynamo(_client(always), sleep=lambda _: None).put_item(**PUT)
    assert len(always.requests) == 5  # standard mode, max_attempts=4 retries (runtime.clients)


def test_validation_error_is_not_retried() -> None:
    script = Script((400, {"__type": "com.amazon.coral.validate#ValidationException", "message": "bad"}))
    with pytest.raises(ClientError) as caught:
        DirectDynamo(_client(script), sleep=lambda _: None).put_item(**PUT)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert len(script.requests) == 1


def test_refreshed_credentials_sign_the_next_request() -> None:
    script = Script()
    client = _client(script)
    direct = DirectDynamo(client)
    direct.put_item(**PUT)
    credentials = client._request_signer._credentials
    credentials.access_key, credentials.secret_key, credentials.token = "AKNEW", "new-secret", "new-token"
    direct.put_item(**PUT)
    first, second = (request for _, request in script.requests)
    assert "Credential=AKIDEXAMPLE/" in first.headers["Authorization"]
    assert "Credential=AKNEW/" in second.headers["Authorization"]
    assert second.headers["X-Amz-Security-Token"] == "new-token"
    assert first.headers["Authorization"] != second.headers["Authorization"]


def test_table_given_by_arn_goes_through_botocore() -> None:
    script = Script()
    client = _client(script)
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/sesame-prod-messages"
    DirectDynamo(client).put_item(**{**PUT, "TableName": arn})
    (_, request), *_ = script.requests
    assert request.url.startswith("https://123456789012.ddb.eu-west-1.amazonaws.com")


def test_other_attributes_are_the_botocore_clients() -> None:
    client = _client(Script())
    direct = DirectDynamo(lean(client))
    assert direct.meta is client.meta
    assert direct.exceptions is client.exceptions
    assert direct.can_paginate("scan") is True


def test_an_item_given_as_json_text_is_sent_as_its_attribute_map_would_be() -> None:
    summary = {"message_id": "0100-abc", "version": 3, "h": ["2026-05-04T09:00:00.000Z|Send|ab|0|"]}
    bodies = []
    for item in (to_item(summary), ItemJson(summary)):
        script = Script()
        DirectDynamo(_client(script)).put_item(**{**PUT, "Item": item})
        (_, request), *_ = script.requests
        bodies.append(request.body)
    assert bodies[0] == bodies[1]
    assert json.loads(bodies[1])["Item"]["h"] == {"L": [{"S": "2026-05-04T09:00:00.000Z|Send|ab|0|"}]}


def test_an_item_given_as_json_text_reaches_botocore_as_its_attribute_map() -> None:
    script = Script()
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/sesame-prod-messages"  # botocore sends it (see above)
    DirectDynamo(_client(script)).put_item(TableName=arn, Item=ItemJson({"message_id": "m", "n": 2}))
    (_, request), *_ = script.requests
    assert json.loads(request.body)["Item"] == {"message_id": {"S": "m"}, "n": {"N": "2"}}
