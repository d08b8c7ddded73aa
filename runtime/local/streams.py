"""Reading a DynamoDB stream the way Lambda's event source mapping does, for the local stack, the tests and the
bench (moto's streams): every shard in order from its start, each poll returning the records not yet read.

``StreamReader.poll`` gives ``(shard id, records)`` batches in Lambda's record format (the ``Records`` of a
DynamoDB event: ``eventName``, ``dynamodb`` with ``Keys``/``OldImage``/``NewImage``/``SequenceNumber``);
``drain_counters`` runs the counter consumer (``runtime.ingest.stream.count_records``) over them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.ingest.stream import CountResult, count_records
from runtime.stores.counters import CounterSink

BATCH_SIZE = 100


def streams_client(region: str, **kwargs: Any) -> Any:
    """A DynamoDB Streams client for moto (account-id endpoint routing off: moto serves the regional endpoint)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodbstreams", region_name=region, config=Config(account_id_endpoint_mode="disabled"), **kwargs
    )


class StreamReader:
    def __init__(self, streams_client: Any, stream_arn: str, *, batch_size: int = BATCH_SIZE) -> None:
        self._client = streams_client
        self._arn = stream_arn
        self._batch_size = batch_size
        self._after: dict[str, str] = {}  # shard id -> last sequence number read

    @classmethod
    def for_table(cls, dynamodb_client: Any, streams_client: Any, table: str) -> StreamReader:
        arn = dynamodb_client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        return cls(streams_client, arn)

    def poll(self) -> list[tuple[str, list[dict[str, Any]]]]:
        batches: list[tuple[str, list[dict[str, Any]]]] = []
        shards = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._after:
                kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._after[shard_id]}
            else:
                kwargs = {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = self._client.get_shard_iterator(StreamArn=self._arn, ShardId=shard_id, **kwargs)["ShardIterator"]
            records: list[dict[str, Any]] = []
            while iterator:
                page = self._client.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(page.get("Records", []))
                iterator = page.get("NextShardIterator") if page.get("Records") else None
            for start in range(0, len(records), self._batch_size):
                batches.append((shard_id, records[start : start + self._batch_size]))
            if records:
                self._after[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        return batches


def drain_counters(
    reader: StreamReader, sink: CounterSink, invoke: Callable[[Callable[[], CountResult]], Any] | None = None
) -> int:
    """Count every record not yet read; ``invoke`` wraps each batch's call (the bench meters it as an invocation).
    Returns the number of records."""
    n = 0
    for shard_id, records in reader.poll():
        call = lambda shard_id=shard_id, records=records: count_records(shard_id, records, sink)  # noqa: E731
        (invoke or (lambda f: f()))(call)
        n += len(records)
    return n
