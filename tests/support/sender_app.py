"""The Chalice app on moto for the sender's functional tests: tables, the send queue, the campaign bucket, a
verified SES identity, and helpers that drive the SQS handler with real Lambda-shaped events."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime.auth import hash_api_key
from runtime.stores.tables import create_tables
from tests.support.sender_fakes import FakeSes

CHALICE_DIR = Path(__file__).resolve().parents[2] / "chalice_app"
if str(CHALICE_DIR) not in sys.path:
    sys.path.insert(0, str(CHALICE_DIR))

REGION = "us-east-1"
BACKUP = "eu-west-1"
ENV = "ftest"
API_KEY = "ssm_sender-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
UNSUB_SECRET = "sender-functional-secret-0123456789"
QUEUE = f"sesame-{ENV}-send"
BUCKET = "sesame-ftest-campaigns"


@dataclass
class SenderStack:
    client: Any  # chalice.test.Client
    ddb: Any
    sqs: Any
    s3: Any
    ses: Any  # moto sesv2 (primary)
    queue_url: str
    fakes: dict[str, FakeSes]

    def table(self, logical: str) -> str:
        return f"sesame-{ENV}-{logical}"

    def receive(self, limit: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=limit,
            AttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return list(response.get("Messages", []))

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        arn = f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}"
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1")
                    },
                    "messageAttributes": {
                        name: {"stringValue": a.get("StringValue"), "dataType": a.get("DataType", "String")}
                        for name, a in (m.get("MessageAttributes") or {}).items()
                    },
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def deliver_all(self, max_batches: int = 200) -> list[Any]:
        """Receive and hand batches to the ``sender`` Lambda like the event source mapping does (delete on
        success; on an error the messages stay for redelivery). Returns the invoke responses."""
        responses = []
        for _ in range(max_batches):
            messages = self.receive()
            if not messages:
                return responses
            try:
                response = self.client.lambda_.invoke("sender", self.sqs_event(messages))
            except Exception as exc:  # the handler raised: Lambda leaves the batch for redelivery
                responses.append(exc)
                continue
            responses.append(response)
            if "errorMessage" not in (response.payload or {}):
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        raise AssertionError("queue did not drain")

    def message_items(self) -> list[dict[str, Any]]:
        from runtime.stores.dynamo import from_item

        return [from_item(i) for i in self.ddb.scan(TableName=self.table("messages"))["Items"]]

    def counters(self, campaign_id: str, sk: str = "COUNTERS#TOTAL") -> dict[str, Any]:
        from runtime.stores.dynamo import from_item

        item = self.ddb.get_item(
            TableName=self.table("campaigns"), Key={"campaign_id": {"S": campaign_id}, "sk": {"S": sk}}
        ).get("Item")
        return from_item(item) if item else {}


def _env(monkeypatch: pytest.MonkeyPatch, queue_url: str, **extra: str) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SESAME_SECRETS_PARAMETER"):
        monkeypatch.delenv(var, raising=False)
    values = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SESAME_ENVIRONMENT": ENV,
        "SESAME_API_KEY_HASHES": hash_api_key(API_KEY),
        "SESAME_UNSUBSCRIBE_SECRETS": UNSUB_SECRET,
        "SESAME_UNSUBSCRIBE_BASE_URL": "https://mail.example.com",
        "SESAME_SEND_QUEUE_URL": queue_url,
        "SESAME_CAMPAIGN_BUCKET": BUCKET,
        "SESAME_DEFAULT_FROM": "news@example.com",
        "SESAME_CONFIGURATION_SETS": json.dumps({"marketing": f"sesame-{ENV}-marketing"}),
        "SESAME_BACKUP_REGION": BACKUP,
        "SESAME_BACKUP_CONFIGURATION_SETS": json.dumps({"marketing": f"sesame-{ENV}-marketing-backup"}),
        "SESAME_MAX_SEND_RATE": "500",
        "SESAME_LOG_LEVEL": "WARNING",
        **extra,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@contextmanager
def sender_stack(monkeypatch: pytest.MonkeyPatch, *, fake_ses: bool = True, **extra: str) -> Iterator[SenderStack]:
    """The app on moto. With ``fake_ses`` SES is a recording fake per region (moto 5.2.5 implements neither
    templates nor SendBulkEmail); otherwise moto's SESv2 (SendEmail with Simple/Raw content only)."""
    from chalice.test import Client

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_tables(ddb, ENV)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        ses = boto3.client("sesv2", region_name=REGION)
        ses.create_email_identity(EmailIdentity="example.com")
        _env(monkeypatch, queue_url, **extra)
        import app as app_module
        from chalicelib import sending, wiring

        fakes = {REGION: FakeSes(REGION), BACKUP: FakeSes(BACKUP)}
        if fake_ses:
            monkeypatch.setattr(sending, "_ses", lambda region: fakes[region])
            monkeypatch.setattr(sending, "_send_ses", lambda region: fakes[region])
        # chalice.test gives every invocation 3 s (Lambda's default timeout); the deployed sender has 60 s. The
        # deadline logic is unit-tested; here a loaded CI machine must not turn it into flaky re-enqueues.
        monkeypatch.setattr(sending, "invocation_deadline", lambda event: None)
        wiring.reset()
        try:
            with Client(app_module.app, project_dir=str(CHALICE_DIR)) as client:
                yield SenderStack(client, ddb, sqs, s3, ses, queue_url, fakes)
        finally:
            wiring.reset()


def candidate(recipients: int = 3, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "campaign_id": "spring-2026",
        "template": {
            "subject": "Hello {{first_name}}",
            "html": "<p>Hi {{first_name}}</p>",
            "text": "Hi {{first_name}}",
        },
        "segments": [
            {
                "list_name": "vip",
                "recipients": [{"to_address": f"vip{i}@example.org", "first_name": f"V{i}"} for i in range(recipients)],
            },
            {
                "list_name": "news letter",
                "template": {"subject": "News", "html": "<p>News for {{first_name}}</p>"},
                "recipients": [{"to_address": "reader@example.org", "first_name": "R"}],
            },
        ],
    }
    body.update(extra)
    return body
