"""The bench meter on a real botocore client against moto: each call is judged from the item images before and
after it, so GSI effects, transactions, conditional failures, replication and TTL are billed as AWS would."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bench.meter import DynamoMeter

TABLE = "meter-test"


@pytest.fixture
def metered(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        raw.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "campaign", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "recipient", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-campaign",
                    "KeySchema": [
                        {"AttributeName": "campaign", "KeyType": "HASH"},
                        {"AttributeName": "status", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": "by-recipient",
                    "KeySchema": [{"AttributeName": "recipient", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
        )
        raw.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
        client = boto3.client("dynamodb", region_name="us-east-1")
        meter = DynamoMeter(raw)
        meter.attach(client)
        yield client, meter


def units(meter: DynamoMeter, line: str = "WRU") -> dict[str | None, float]:
    out: dict[str | None, float] = {}
    for charge in meter.charges:
        if charge.line == line:
            out[charge.index] = out.get(charge.index, 0) + charge.units
    meter.charges.clear()
    return out


def test_new_item_bills_base_and_the_indexes_it_enters(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}, "campaign": {"S": "c"}, "status": {"S": "sent"}})
    assert units(meter) == {None: 1, "by-campaign": 1}


def test_update_of_the_index_sort_key_bills_a_delete_and_a_put(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}, "campaign": {"S": "c"}, "status": {"S": "sent"}})
    meter.charges.clear()
    client.update_item(
        TableName=TABLE,
        Key={"id": {"S": "m1"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "delivered"}},
    )
    assert units(meter) == {None: 1, "by-campaign": 2}


def test_update_of_an_attribute_the_keys_only_index_does_not_project_is_free_there(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}, "recipient": {"S": "r"}, "n": {"N": "1"}})
    meter.charges.clear()
    client.update_item(
        TableName=TABLE,
        Key={"id": {"S": "m1"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert units(meter) == {None: 1}


def test_transaction_bills_two_units_per_item_and_its_index_writes_once(metered):
    client, meter = metered
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"id": {"S": "a"}, "campaign": {"S": "c"}, "status": {"S": "s"}}}},
            {"Put": {"TableName": TABLE, "Item": {"id": {"S": "b"}, "blob": {"S": "x" * 1500}}}},
        ]
    )
    assert units(meter) == {None: 2 + 4, "by-campaign": 1}
    assert meter.writes[-1].transactional and len(meter.writes[-1].items) == 2


def test_failed_condition_is_billed_and_changes_nothing(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}, "blob": {"S": "x" * 1500}})
    meter.charges.clear()
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}}, ConditionExpression="attribute_not_exists(id)")
    assert units(meter) == {None: 2}  # the existing 1.5 KB item
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.delete_item(TableName=TABLE, Key={"id": {"S": "nope"}}, ConditionExpression="attribute_exists(id)")
    assert units(meter) == {None: 1}


def test_cancelled_transaction_bills_each_item_once(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item={"id": {"S": "m1"}})
    meter.charges.clear()
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"id": {"S": "m1"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
                {"Put": {"TableName": TABLE, "Item": {"id": {"S": "m2"}}}},
            ]
        )
    assert units(meter) == {None: 2}
    assert client.get_item(TableName=TABLE, Key={"id": {"S": "m2"}}).get("Item") is None


def test_batch_write_rounds_each_item(metered):
    client, meter = metered
    client.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": {"id": {"S": "a"}, "v": {"S": "x" * 500}}}},
                {"PutRequest": {"Item": {"id": {"S": "b"}, "v": {"S": "x" * 3500}}}},
            ]
        }
    )
    assert units(meter) == {None: 1 + 4}


def test_identical_rewrite_is_billed_but_not_replicated(metered):
    client, meter = metered
    item = {"id": {"S": "a"}, "campaign": {"S": "c"}, "status": {"S": "s"}}
    client.put_item(TableName=TABLE, Item=item)
    assert units(meter, "rWRU") == {None: 1}
    client.put_item(TableName=TABLE, Item=item)
    assert units(meter, "rWRU") == {}
    client.put_item(TableName=TABLE, Item={**item, "status": {"S": "t"}})
    assert units(meter, "rWRU") == {None: 1}


def test_reads_bill_by_consistency_and_rounding(metered):
    client, meter = metered
    for i in range(3):
        client.put_item(
            TableName=TABLE,
            Item={"id": {"S": f"m{i}"}, "campaign": {"S": "c"}, "status": {"S": f"s{i}"}, "v": {"S": "x" * 1500}},
        )
    meter.charges.clear()
    client.get_item(TableName=TABLE, Key={"id": {"S": "m0"}}, ConsistentRead=True)
    client.get_item(TableName=TABLE, Key={"id": {"S": "missing"}})
    assert units(meter, "RRU") == {None: 1.5}
    client.batch_get_item(RequestItems={TABLE: {"Keys": [{"id": {"S": f"m{i}"}} for i in range(3)]}})
    assert units(meter, "RRU") == {None: 1.5}  # each ~1.5 KB item rounds to 4 KB, eventually consistent
    client.query(
        TableName=TABLE,
        IndexName="by-campaign",
        KeyConditionExpression="campaign = :c",
        ExpressionAttributeValues={":c": {"S": "c"}},
        ProjectionExpression="id",
    )
    assert units(meter, "RRU") == {"by-campaign": 1.0}  # ~4.6 KB summed -> 8 KB, halved; projection ignored


def test_finalize_bills_future_ttl_deletes_in_the_replica_only(metered):
    client, meter = metered
    item = {"id": {"S": "a"}, "campaign": {"S": "c"}, "status": {"S": "s"}, "ttl": {"N": "1"}}
    client.put_item(TableName=TABLE, Item=item)
    client.put_item(TableName=TABLE, Item={"id": {"S": "b"}})  # no TTL attribute: never expires
    meter.charges.clear()
    meter.finalize()
    lines = sorted((c.line, c.index, c.units) for c in meter.charges)
    assert lines == [("rWRU", None, 1), ("replica_WRU", "by-campaign", 1)]


def test_a_disabled_meter_lets_calls_pass_unbilled(metered):
    client, meter = metered
    meter.enabled = False
    client.put_item(TableName=TABLE, Item={"id": {"S": "a"}})
    assert meter.charges == [] and meter.calls == []
