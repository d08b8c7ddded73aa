"""Ingestion through ``DirectDynamo`` (the ingestion Lambdas' client) leaves DynamoDB exactly as through botocore.

The same event batches — new summaries, updates, duplicates, soft bounces that suppress, a hard bounce, a complaint,
a conflicting writer between read and write — applied on moto once with a botocore client and once with
``DirectDynamo`` over it: every item of every table is the same, and so is every apply's outcome.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from moto import mock_aws

from runtime.clients import client_config
from runtime.ingest import IngestEngine
from runtime.settings import Settings
from runtime.stores.direct import DirectDynamo
from runtime.stores.dynamo import to_item
from runtime.stores.tables import create_tables
from runtime.stores.tracking import DynamoTrackingStore
from runtime.stores.wire import lean
from tests.support.ingest import ses_event

TABLES = ("messages", "campaigns", "suppressions", "control")


def _batches() -> list[list[Any]]:
    def ev(kind: str, mid: str, minute: int, **kwargs: Any) -> Any:
        return ses_event(kind, message_id=mid, ts=f"2024-06-20T01:{minute:02d}:00.000Z", **kwargs)

    other = {"recipient": "someone.else@example.org"}
    return [
        [ev("Send", "m1", 1), ev("Send", "m2", 1, **other), ev("Send", "m3", 1)],
        [ev("Delivery", "m1", 2), ev("Open", "m1", 3), ev("Click", "m1", 4), ev("Delivery", "m2", 2, **other)],
        [ev("Delivery", "m1", 2), ev("Open", "m1", 3)],  # redelivered: duplicates
        [ev("Bounce", "m3", 5, bounce_type="Transient"), ev("Open", "m2", 6, **other)],
        [ev("Bounce", "m4", 7, bounce_type="Transient"), ev("Bounce", "m5", 8, bounce_type="Transient")],
        [ev("Complaint", "m2", 9, **other), ev("Bounce", "m6", 10, bounce_type="Permanent", campaign="autumn")],
        [ev("Open", "m1", 11, nonce="again"), ev("Delivery", "m3", 12)],
    ]


def _run(direct: bool) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    s = Settings()
    with mock_aws():
        client = botocore.session.get_session().create_client(
            "dynamodb", region_name="us-east-1", config=client_config(validate=False)
        )
        create_tables(client, "dev")
        ingest_client = DirectDynamo(lean(client)) if direct else client
        store = DynamoTrackingStore.from_settings(ingest_client, s)
        engine = IngestEngine(store, soft_bounce_limit=2, sleep=lambda _: None)
        outcomes = []
        for i, batch in enumerate(_batches()):
            if i == 3:  # a writer between this apply's read and its write: the condition fails, the engine merges
                real_load = store.load

                def load_then_write(*args: Any, real_load: Any = real_load, **kwargs: Any) -> Any:
                    snapshot = real_load(*args, **kwargs)
                    summary = dict(snapshot.summaries["m2"])
                    summary["version"] = int(summary["version"]) + 1
                    client.put_item(TableName=s.messages_table, Item=to_item(summary))
                    store.load = real_load  # type: ignore[method-assign]
                    return snapshot

                store.load = load_then_write  # type: ignore[method-assign]
            result = engine.apply(batch)
            assert not result.failed
            outcomes.append(result.outcomes)
        if direct:  # every request took the direct road (none handed back to botocore)
            routes = ingest_client._routes
            assert {op for op, _ in routes} >= {"BatchGetItem", "PutItem", "TransactWriteItems"}
            assert all(route is not None for route in routes.values())
        tables = {}
        for name in TABLES:
            items = client.scan(TableName=f"sesame-dev-{name}", ConsistentRead=True)["Items"]
            tables[name] = sorted(items, key=repr)
    return tables, outcomes


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)


def test_ingestion_through_direct_client_leaves_the_same_items_and_outcomes_as_botocore(aws_env: None) -> None:
    botocore_tables, botocore_outcomes = _run(direct=False)
    direct_tables, direct_outcomes = _run(direct=True)
    assert botocore_tables["messages"] and botocore_tables["suppressions"]
    assert "duplicate" in botocore_outcomes[2].values()
    assert direct_outcomes == botocore_outcomes
    assert direct_tables == botocore_tables
