"""Test helpers: the messages stream's counter consumer run on moto, and the counter items as the stats read them.

In a deployment the ``count_events`` function counts from the stream; on moto a test runs the same code
(``runtime.local.streams`` + ``runtime.stores.counters``) when it wants to look at counters.
"""

from __future__ import annotations

from typing import Any

from runtime.local.streams import StreamReader, drain_counters, streams_client
from runtime.query.stats import merge_counter_items
from runtime.stores import dynamo
from runtime.stores.counters import DynamoCounterSink

_READERS: dict[str, StreamReader] = {}


def count_stream(ddb: Any, *, env: str = "dev") -> int:
    """Count every messages-stream record not counted yet (the count_events Lambda's work)."""
    arn = ddb.describe_table(TableName=f"sesame-{env}-messages")["Table"]["LatestStreamArn"]
    reader = _READERS.get(arn)
    if reader is None:
        reader = _READERS[arn] = StreamReader(streams_client(ddb.meta.region_name), arn)
    return drain_counters(reader, DynamoCounterSink(ddb, f"sesame-{env}-campaigns", sleep=lambda _: None))


def counter_items(ddb: Any, campaign_id: str, *, env: str = "dev") -> dict[str, dict[str, Any]]:
    """After counting the stream: the campaign's counter items summed per base key (``COUNTERS#TOTAL``, ...)."""
    count_stream(ddb, env=env)
    items = ddb.query(
        TableName=f"sesame-{env}-campaigns",
        KeyConditionExpression="campaign_id = :c",
        ExpressionAttributeValues={":c": {"S": campaign_id}},
    )["Items"]
    return merge_counter_items(dynamo.from_item(i) for i in items)


def counter_item(ddb: Any, campaign_id: str, sort_key: str, *, env: str = "dev") -> dict[str, Any] | None:
    return counter_items(ddb, campaign_id, env=env).get(sort_key)
