"""The consumer of the messages table's stream: campaign counters, exactly once (docs/DESIGN.md "Counters").

The event source mapping (home region only: a global table's home replica stream carries every region's writes)
delivers the records of one stream shard in order, in tumbling windows, so every invocation names its shard
(``shardId``). :func:`count_records` turns a batch into counter deltas (``runtime.ingest.counting``: the history
entries each write added) and hands them to a :class:`runtime.stores.counters.CounterSink`, which applies each
counter item at most once per record range. A failed invocation raises: Lambda retries the batch (and bisects it),
and the items already written skip it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.ingest.counting import aggregate, deltas_of_change
from runtime.stores import dynamo
from runtime.stores.counters import CounterSink


@dataclass(frozen=True, slots=True)
class CountResult:
    records: int
    increments: int
    items_written: int


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    raw = (record.get("dynamodb") or {}).get(name)
    return dynamo.from_item(raw) if raw else None


def count_records(shard_id: str, records: Sequence[Mapping[str, Any]], sink: CounterSink) -> CountResult:
    """Count one batch of stream records (Lambda's DynamoDB event ``Records``, in stream order) of ``shard_id``."""
    if not records:
        return CountResult(0, 0, 0)
    sequences = sorted((str(r["dynamodb"]["SequenceNumber"]) for r in records), key=int)
    counted = []
    for record in records:
        if record.get("eventName") == "REMOVE":
            continue  # TTL or erasure: what was counted stays counted
        counted.extend(deltas_of_change(_image(record, "OldImage"), _image(record, "NewImage")))
    items = aggregate(counted)
    written = sink.apply(shard_id, sequences[0], sequences[-1], items.values()) if items else 0
    return CountResult(len(records), len(counted), written)
