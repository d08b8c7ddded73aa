"""The interleaving property of tests/unit/test_ingest_properties.py, against DynamoTrackingStore on moto.

Any interleaving, duplication and batching of one message's events leaves the DynamoDB tables exactly as the
in-memory store is after applying each event once, in order: summaries (with their history), campaign counters
with their ``first_event_at`` / ``last_event_at`` / ``expires_at``, suppressions and the soft-bounce counter. Fewer
examples than the in-memory property (each one is a few dozen emulated DynamoDB calls), each on freshly created tables.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from runtime.ingest import IngestEngine
from runtime.settings import Settings
from runtime.stores.dynamo import from_item
from runtime.stores.tables import create_tables
from runtime.stores.tracking import DynamoTrackingStore
from tests.unit.test_ingest_properties import apply_all, message_events, state

EXAMPLES = 20


@pytest.fixture(scope="module")
def ddb():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_tables(client, "dev")
            yield client


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": f"sesame-dev-{table}"}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(from_item(i) for i in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class _Tables:
    """The moto tables, read back into the in-memory store's shape (for ``state``)."""

    def __init__(self, ddb: Any) -> None:
        self.messages = {i["message_id"]: i for i in _scan(ddb, "messages")}
        self.campaigns = {(i["campaign_id"], i["sk"]): i for i in _scan(ddb, "campaigns")}
        self.suppressions = {(i["recipient_hash"], i["scope"]): i for i in _scan(ddb, "suppressions")}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), events=message_events())
def test_dynamodb_state_after_any_interleaving_equals_the_in_order_result(ddb, data, events):
    for table in ("messages", "campaigns", "suppressions", "control"):
        ddb.delete_table(TableName=f"sesame-dev-{table}")  # empty tables for each example: moto's transactions
    create_tables(ddb, "dev")  # copy whole tables, so their size is their cost
    in_order = sorted(events, key=lambda e: (e.timestamp, e.event_id))
    expected = state(apply_all([[e] for e in in_order]))

    copies = [e for e in events for _ in range(data.draw(st.integers(1, 2)))]
    shuffled = data.draw(st.permutations(copies))
    s = Settings()
    store = DynamoTrackingStore(
        ddb,
        messages_table=s.messages_table,
        campaigns_table=s.campaigns_table,
        suppressions_table=s.suppressions_table,
        sleep=lambda _: None,
    )
    engine = IngestEngine(store, soft_bounce_limit=1, sleep=lambda _: None)
    i = 0
    while i < len(shuffled):
        size = data.draw(st.integers(1, 6))
        assert not engine.apply(shuffled[i : i + size]).failed
        i += size
    assert state(_Tables(ddb)) == expected
