"""The lean DynamoDB wire path (runtime/stores/wire.py) sends and reads exactly what botocore's own path does."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from runtime.clients import client_config
from runtime.stores.dynamo import to_item
from runtime.stores.wire import ItemJson, lean, plain_params, request_json


def _client(lean_path: bool) -> Any:
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=client_config(validate=False),
    )
    return lean(client) if lean_path else client


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConsistentRead": True}),
    (
        "UpdateItem",
        {
            "TableName": "t",
            "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}},
            "UpdateExpression": "ADD #c :one SET #m = :m",
            "ExpressionAttributeNames": {"#c": "sent", "#m": "meta"},
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":m": {"M": {"l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]}, "ss": {"SS": ["a", "b"]}}},
            },
            "ReturnValues": "ALL_OLD",
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "p"}, "n": {"N": "1.5"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "q"}}, "ConditionExpression": "x"}},
            ],
            "ClientRequestToken": "tok",
        },
    ),
    ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}], "ConsistentRead": True}}}),
]


@pytest.mark.parametrize(("operation", "params"), REQUESTS)
def test_requests_carry_the_same_json_and_target_as_botocore_writes(operation: str, params: dict[str, Any]) -> None:
    sent: dict[bool, Any] = {}
    for lean_path in (False, True):
        client = _client(lean_path)
        model = client.meta.service_model.operation_model(operation)
        request = client._serializer.serialize_to_request(params, model)
        sent[lean_path] = (request["method"], request["url_path"], request["headers"], json.loads(request["body"]))
    assert sent[True] == sent[False]


def _answer(client: Any, operation: str, body: bytes, status: int = 200) -> Any:
    parser = client._endpoint._response_parser_factory.create_parser("json")
    shape = client.meta.service_model.operation_model(operation)
    shape = shape.output_shape if status < 300 else None
    return parser.parse({"status_code": status, "headers": {"x-amzn-requestid": "r1"}, "body": body}, shape)


ANSWERS = [
    ("GetItem", {"Item": {"pk": {"S": "a"}, "n": {"N": "3"}, "m": {"M": {"x": {"L": [{"NULL": True}]}}}}}),
    ("UpdateItem", {"Attributes": {"sent": {"N": "7"}}, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}}),
    ("BatchGetItem", {"Responses": {"t": [{"pk": {"S": "a"}}]}, "UnprocessedKeys": {}}),
    ("TransactWriteItems", {}),
    ("GetItem", {"Item": {"pk": {"S": "a"}, "b": {"B": "AAE="}}}),  # a blob: botocore's path (bytes)
    ("PutItem", {}),
    ("GetItem", {"Item": {"pk": {"S": "\ud800 lone surrogate"}, "n": {"N": "1e400"}}}),  # json reads what jiter won't
    ("Query", {"Items": [{"pk": {"S": "é ✓ \u2028"}}], "Count": 1, "ScannedCount": 1}),
]


@pytest.mark.parametrize(("operation", "answer"), ANSWERS)
def test_answers_read_back_as_botocore_reads_them(operation: str, answer: dict[str, Any]) -> None:
    body = json.dumps(answer).encode()
    read = [_answer(_client(lean_path), operation, body) for lean_path in (False, True)]
    assert read[1] == read[0]
    assert read[1]["ResponseMetadata"]["RequestId"] == "r1"


def test_errors_are_left_to_botocore() -> None:
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"})
    read = [_answer(_client(lean_path), "PutItem", body.encode(), status=400) for lean_path in (False, True)]
    assert read[1] == read[0]
    assert read[1]["Error"]["Code"] == "ConditionalCheckFailedException"


def test_bytes_in_a_request_take_botocore_path_with_base64() -> None:
    client = _client(True)
    model = client.meta.service_model.operation_model("PutItem")
    request = client._serializer.serialize_to_request({"TableName": "t", "Item": {"b": {"B": b"\x00\x01"}}}, model)
    assert json.loads(request["body"])["Item"]["b"] == {"B": "AAE="}


SUMMARY = {"message_id": "0100-abc", "version": 3, "history": ["2026-05-04T09:00:00.000Z|Send|ab|0|"], "x": None}
SOFTBOUNCE = {"recipient_hash": "h", "scope": "SOFTBOUNCE", "count": 2, "bounces": {"a#1#m", "b#2#m"}}


def _with_items(item_json: bool) -> list[tuple[str, dict[str, Any]]]:
    item = ItemJson if item_json else to_item
    return [
        ("PutItem", {"TableName": "t", "Item": item(SUMMARY), "ConditionExpression": "version = :seen",
                     "ExpressionAttributeValues": {":seen": {"N": "2"}}}),
        ("TransactWriteItems", {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": item(SUMMARY), "ConditionExpression": "attribute_not_exists(m)"}},
                {"Put": {"TableName": "s", "Item": item(SOFTBOUNCE)}},
                {"Delete": {"TableName": "s", "Key": {"recipient_hash": {"S": "h"}, "scope": {"S": "ALL"}}}},
            ],
            "ClientRequestToken": "tok",
        }),
    ]  # fmt: skip


def test_items_given_as_json_text_are_sent_as_the_same_request_body() -> None:
    for (operation, ours), (_, plain) in zip(_with_items(True), _with_items(False), strict=True):
        assert request_json(operation, ours) == json.dumps(plain, separators=(",", ":"))
        assert plain_params(operation, ours) == plain
        assert plain_params(operation, plain) is plain


def test_items_given_as_json_text_keep_what_json_refuses_for_botocore() -> None:
    operation, params = _with_items(True)[0]
    with pytest.raises(TypeError):
        request_json(operation, {**params, "ExpressionAttributeValues": {":b": {"B": b"\x00"}}})
    with pytest.raises(TypeError):
        ItemJson({"b": b"\x00"})
