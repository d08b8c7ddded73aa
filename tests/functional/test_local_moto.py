"""The local stack's moto runner keeps AWS semantics while being fast (it runs as its own process here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from runtime.local.processes import start_moto


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    proc, url = start_moto(Path(tmp_path_factory.mktemp("moto")))
    try:
        yield lambda service: boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        proc.stop()


ITEM = {
    "k": {"S": "a"},
    "n": {"N": "1.5"},
    "ss": {"SS": ["x", "y"]},
    "m": {"M": {"l": {"L": [{"N": "2"}, {"BOOL": True}, {"NULL": True}]}}},
    "b": {"B": b"\x00\x01"},
}


@pytest.fixture(scope="module")
def table(aws: Any) -> str:
    aws("dynamodb").create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws("dynamodb").put_item(TableName="t", Item=ITEM)
    return "t"


def test_batch_get_returns_every_attribute_type_unchanged(aws: Any, table: str) -> None:
    got = aws("dynamodb").batch_get_item(RequestItems={table: {"Keys": [{"k": {"S": "a"}}, {"k": {"S": "none"}}]}})
    assert got["Responses"][table] == [ITEM]


def test_cancelled_transaction_leaves_every_item_as_it_was(aws: Any, table: str) -> None:
    ddb = aws("dynamodb")
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"k": {"S": "a"}},
                        "UpdateExpression": "SET n = :v",
                        "ExpressionAttributeValues": {":v": {"N": "99"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"k": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"k": {"S": "a2"}},
                        "UpdateExpression": "SET n = :v",
                        "ConditionExpression": "attribute_exists(k)",
                        "ExpressionAttributeValues": {":v": {"N": "1"}},
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert ddb.get_item(TableName=table, Key={"k": {"S": "a"}})["Item"] == ITEM
    assert "Item" not in ddb.get_item(TableName=table, Key={"k": {"S": "new"}})
    assert "Item" not in ddb.get_item(TableName=table, Key={"k": {"S": "a2"}})


def test_committed_transaction_applies_every_write(aws: Any, table: str) -> None:
    ddb = aws("dynamodb")
    ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": {"k": {"S": "c"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Put": {"TableName": table, "Item": {"k": {"S": "d"}}, "ConditionExpression": "attribute_not_exists(k)"}},
        ]
    )
    assert ddb.get_item(TableName=table, Key={"k": {"S": "c"}})["Item"]["n"] == {"N": "1"}
    assert ddb.get_item(TableName=table, Key={"k": {"S": "d"}})["Item"] == {"k": {"S": "d"}}


def test_sesv2_templates_bulk_sends_and_account_work_like_ses(aws: Any) -> None:
    ses = aws("sesv2")
    ses.create_email_identity(EmailIdentity="example.com")
    ses.create_email_template(TemplateName="t", TemplateContent={"Subject": "Hi {{name}}", "Html": "<p>{{name}}</p>"})
    with pytest.raises(ses.exceptions.AlreadyExistsException):
        ses.create_email_template(TemplateName="t", TemplateContent={"Subject": "x"})
    ses.update_email_template(TemplateName="t", TemplateContent={"Subject": "Hello {{name}}", "Text": "{{name}}"})
    assert ses.get_email_template(TemplateName="t")["TemplateContent"]["Subject"] == "Hello {{name}}"
    results = ses.send_bulk_email(
        FromEmailAddress="news@example.com",
        DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        BulkEmailEntries=[
            {
                "Destination": {"ToAddresses": ["success@simulator.amazonses.com"]},
                "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": '{"name": "Ann"}'}},
            },
            {"Destination": {"ToAddresses": ["bounce@simulator.amazonses.com"]}},
        ],
    )["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS", "FAILED"]
    assert results[0]["MessageId"].startswith("0100") and results[0]["MessageId"].endswith("-000000")
    assert "name" in results[1]["Error"]
    quota = ses.get_account()["SendQuota"]
    assert quota["MaxSendRate"] > 0 and quota["SentLast24Hours"] >= 1
    ses.delete_email_template(TemplateName="t")
    with pytest.raises(ses.exceptions.NotFoundException):
        ses.get_email_template(TemplateName="t")


def test_sqs_visibility_and_redrive_still_follow_sqs(aws: Any) -> None:
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName="work",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url), "an in-flight message is invisible"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    assert second[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert "Messages" not in sqs.receive_message(QueueUrl=url), "after maxReceiveCount it moved to the DLQ"
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq)["Messages"]] == ["m"]
