"""Campaign counter items written by the consumer of the messages table's stream, exactly once per stream record.

Each stream shard has its own counter items (``<base sort key>#<shard tag>``, ``schema.counter_shard_sk``): one
writer per item, so no two writers ever conflict, and a batch's ``ADD`` is conditioned on the item's ``seq`` — the
last stream sequence number applied to it — being below the batch's first record (``SET seq = <batch's last>``).
A retried batch, or the halves of a bisected one, therefore skip every item they already applied and apply the
rest: exactly once per item, whatever fails in between. Sequence numbers are compared as zero-padded strings.

The item's first/last event times and TTL are kept monotonic afterwards by ``schema.counter_clock_updates``: one
conditional write per item and batch whose events are newer (or older) than the item's times, as the counter
write's old image (``ALL_OLD``) shows — none for an item the write created (``_clock_moves``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.ingest.counting import CounterDelta
from runtime.logs import get_logger
from runtime.stores import dynamo
from runtime.stores.schema import CounterClock, counter_shard_sk, counter_update, ttl_epoch

_log = get_logger(__name__)
SEQUENCE_DIGITS = 48


def sequence_key(sequence_number: str) -> str:
    """A stream sequence number (decimal text, up to 40 digits) as a string that sorts like the number."""
    digits = sequence_number.strip()
    if not digits.isdigit() or len(digits) > SEQUENCE_DIGITS:
        raise ValueError(f"not a stream sequence number: {sequence_number!r}")
    return digits.zfill(SEQUENCE_DIGITS)


def shard_tag(shard_id: str) -> str:
    """A short, stable tag of a stream shard id (the counter items' sort key suffix)."""
    return hashlib.sha256(shard_id.encode("utf-8")).hexdigest()[:10]


class CounterSink(Protocol):
    def apply(self, shard_id: str, first_sequence: str, last_sequence: str, deltas: Iterable[CounterDelta]) -> int:
        """Add ``deltas`` for the records ``first_sequence..last_sequence`` of one shard; returns the items written
        (items that already hold these records are skipped)."""
        ...


class DynamoCounterSink:
    def __init__(
        self,
        client: Any,
        campaigns_table: str,
        *,
        ttl_days: int = 90,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = campaigns_table
        self._ttl_days = ttl_days
        self._attempts = attempts
        self._sleep = sleep

    def apply(self, shard_id: str, first_sequence: str, last_sequence: str, deltas: Iterable[CounterDelta]) -> int:
        tag = shard_tag(shard_id)
        first, last = sequence_key(first_sequence), sequence_key(last_sequence)
        written = 0
        moving: list[tuple[CounterClock, bool, bool]] = []  # items whose last / first times this batch moves
        for delta in deltas:
            sort_key = counter_shard_sk(delta.sort_key, tag)
            expires = ttl_epoch(delta.last_at, self._ttl_days)
            update = counter_update(
                self._table,
                delta.campaign_id,
                sort_key,
                delta.deltas,
                event_at=delta.last_at,
                expires_at=expires,
                first_at=delta.first_at,
            )
            update["UpdateExpression"] = update["UpdateExpression"].replace("SET ", "SET #seq = :seqlast, ", 1)
            update.setdefault("ExpressionAttributeNames", {})["#seq"] = "seq"
            values = update.setdefault("ExpressionAttributeValues", {})
            values[":seqlast"] = {"S": last}
            values[":seqfirst"] = {"S": first}
            update["ConditionExpression"] = "attribute_not_exists(#seq) OR #seq < :seqfirst"
            update["ReturnValues"] = "ALL_OLD"
            old = self._conditional(update)
            if old is None:
                continue
            written += 1
            clock = CounterClock(self._table, delta.campaign_id, sort_key, delta.first_at, delta.last_at, expires)
            advance, rewind = _clock_moves(old, clock)
            if advance or rewind:
                moving.append((clock, advance, rewind))
        failed = dynamo.move_counter_clocks(self._client, moving, sleep=self._sleep)
        if failed:
            _log.warning("counter times not advanced; the next write to those items will", extra={"items": failed})
        return written

    def _conditional(self, update: dict[str, Any]) -> dict[str, Any] | None:
        """The item as it was before (empty: created now) when applied, None when it already holds these records;
        raises after transient retries."""
        for attempt in range(self._attempts):
            try:
                return dict(self._client.update_item(**update).get("Attributes") or {})
            except Exception as exc:
                if dynamo.error_code(exc) == "ConditionalCheckFailedException":
                    return None
                if not dynamo.is_transient(exc) or attempt == self._attempts - 1:
                    raise
                self._sleep(min(0.05 * 2**attempt, 1.0))
        return None  # pragma: no cover - the loop returns or raises


def _clock_moves(old: dict[str, Any], clock: CounterClock) -> tuple[bool, bool]:
    """(advance, rewind): whether the counter write that found ``old`` (wire format; empty when it created the item)
    leaves the item's last event time (and TTL) older, or its first event time newer, than ``clock``'s. A new item
    got them from the write itself (``if_not_exists``). Its one writer (this shard's consumer) knows the item as it
    was; the updates are a maximum and a minimum, so skipping one the item is already past loses nothing, and
    each one skipped is a write unit (a failed condition costs one too)."""
    if not old:
        return False, False
    last = old.get("last_event_at", {}).get("S")
    first = old.get("first_event_at", {}).get("S")
    return last is None or last < clock.last_at, first is None or first > clock.first_at


@dataclass
class InMemoryCounterSink:
    """The fake beside ``DynamoCounterSink``: items as dicts, the same ``seq`` rule."""

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ttl_days: int = 90

    def apply(self, shard_id: str, first_sequence: str, last_sequence: str, deltas: Iterable[CounterDelta]) -> int:
        tag = shard_tag(shard_id)
        first, last = sequence_key(first_sequence), sequence_key(last_sequence)
        written = 0
        for delta in deltas:
            key = (delta.campaign_id, counter_shard_sk(delta.sort_key, tag))
            item = self.items.setdefault(key, {"campaign_id": key[0], "sk": key[1]})
            if "seq" in item and not item["seq"] < first:
                continue
            item["seq"] = last
            delta.add_to(item, self.ttl_days)
            written += 1
        return written
