"""The counter consumer of the messages table's stream (``count_events``): campaign counters, exactly once.

Deployed with an event source mapping on the home region's ``messages`` stream only (a global table's home replica
stream carries every region's writes), in tumbling windows so each invocation names its ``shardId``; the mapping
retries a failed batch and bisects it, and ``runtime.stores.counters`` skips what an earlier attempt applied
(docs/DESIGN.md "Counters").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import first_invocation_ends_cold_start, wiring
from runtime import logs

if TYPE_CHECKING:  # imported on first use (cold start)
    from runtime.stores.counters import DynamoCounterSink

bp = Blueprint(__name__)
log = logs.get_logger("sesame.counters")

COUNTER_BATCH_SIZE = 500
# the stream ARN is the deployment's (the stack wires the event source mapping to it); Chalice needs one at
# decoration time, so a placeholder of the right shape stands in when none is set
STREAM_ARN = os.environ.get(
    "SESAME_MESSAGES_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:123456789012:table/sesame-dev-messages/stream/1970-01-01T00:00:00.000",
)
_sink: DynamoCounterSink | None = None


def sink() -> DynamoCounterSink:
    global _sink
    if _sink is None:
        from runtime.stores.counters import DynamoCounterSink

        s = wiring.settings()
        _sink = DynamoCounterSink(wiring.client("dynamodb"), s.campaigns_table, ttl_days=s.event_ttl_days)
    return _sink


@wiring.on_reset
def _reset() -> None:
    global _sink
    _sink = None


@bp.on_dynamodb_record(stream_arn=STREAM_ARN, batch_size=COUNTER_BATCH_SIZE)
@first_invocation_ends_cold_start
def count_events(event: Any) -> dict[str, Any]:
    from runtime.ingest.stream import count_records

    raw = event.to_dict()
    shard_id = str(raw.get("shardId") or "")
    if not shard_id:
        raise RuntimeError("the stream event names no shardId: the event source mapping needs a tumbling window")
    result = count_records(shard_id, raw.get("Records") or [], sink())
    log.info(
        "counted", extra={"records": result.records, "increments": result.increments, "items": result.items_written}
    )
    return {"state": {}}  # the tumbling window's state: nothing is carried between invocations
