from __future__ import annotations

import boto3
from moto import mock_aws

from runtime.stores.tables import TABLES, create_tables


def test_every_table_is_created_with_ttl_and_its_indexes():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = create_tables(client, "test")
        assert set(names) == {spec.env_var() for spec in TABLES}
        messages = client.describe_table(TableName="sesame-test-messages")["Table"]
        assert {ix["IndexName"] for ix in messages["GlobalSecondaryIndexes"]} == {"recipient-index", "campaign-index"}
        ttl = client.describe_time_to_live(TableName="sesame-test-messages")["TimeToLiveDescription"]
        assert ttl["AttributeName"] == "expires_at"
