"""Campaign counters from the changes of message summaries (pure: no I/O).

Every write of a summary that applies events adds their entries to its ``history`` (``runtime.stores.history``);
each entry names the counters its event adds. The difference between a summary before and after a write — the
``OLD_IMAGE``/``NEW_IMAGE`` of the messages table's stream record — is therefore exactly the counters that write
applied: the entries it added, plus ``opened_unique``/``clicked_unique`` when the summary got its first open/click.
A write that applied nothing new (the sender's record, a retried write) adds no entry and counts nothing.

:func:`deltas_of_change` gives one change's deltas; :func:`aggregate` sums a batch of changes per counter item
(campaign total, list, UTC day), with the span of event times each item's clock must cover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.stores.history import added_entries, history_of
from runtime.stores.schema import UNTAGGED, counter_sort_keys, ttl_epoch

_UNIQUE = (("Open", "unique_open", "opened_unique"), ("Click", "unique_click", "clicked_unique"))


@dataclass(frozen=True, slots=True)
class CountedEvent:
    """One counter increment: campaign, list, event time (its UTC day is the DAY item), counter name."""

    campaign_id: str
    list_name: str
    timestamp: str
    counter: str


def deltas_of_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[CountedEvent]:
    """The counter increments one write of a summary applied (``new`` None: a delete — TTL or erasure — counts
    nothing)."""
    if not new:
        return []
    added = added_entries(old, new)
    if not added:
        return []
    campaign = str(new.get("campaign_id") or UNTAGGED)
    list_name = str(new.get("list_name") or UNTAGGED)
    out = [CountedEvent(campaign, list_name, e.timestamp, c) for e in added for c in e.counters]
    before = {text.split("|", 2)[1] for text in history_of(old)}
    for event_type, flag, counter in _UNIQUE:
        firsts = [e for e in added if e.event_type == event_type]
        if firsts and event_type not in before and not (old or {}).get(flag):
            out.append(CountedEvent(campaign, list_name, firsts[0].timestamp, counter))
    return out


@dataclass(slots=True)
class CounterDelta:
    """What a batch adds to one counter item: ``deltas`` and the event times it covers."""

    campaign_id: str
    sort_key: str  # the item's base key (COUNTERS#TOTAL, COUNTERS#LIST#<list>, COUNTERS#DAY#<day>)
    deltas: dict[str, int] = field(default_factory=dict)
    first_at: str = ""
    last_at: str = ""

    def expires_at(self, ttl_days: int) -> int:
        return ttl_epoch(self.last_at, ttl_days)

    def add_to(self, item: dict[str, Any], ttl_days: int) -> None:
        """Apply to an in-memory counter item (the fakes) as DynamoDB applies ``schema.counter_update`` and then
        ``schema.counter_clock_updates``: the deltas added; the first event time the minimum, the last one and the
        TTL the maximum, whatever the arrival order."""
        for name, n in self.deltas.items():
            item[name] = item.get(name, 0) + n
        if "first_event_at" not in item or self.first_at < item["first_event_at"]:
            item["first_event_at"] = self.first_at
        if "last_event_at" not in item or self.last_at > item["last_event_at"]:
            item["last_event_at"] = self.last_at
            item["expires_at"] = max(self.expires_at(ttl_days), int(item.get("expires_at", 0)))


def aggregate(counted: Iterable[CountedEvent]) -> dict[tuple[str, str], CounterDelta]:
    """Sum increments per counter item ``(campaign, base sort key)``."""
    items: dict[tuple[str, str], CounterDelta] = {}
    for event in counted:
        for sort_key in counter_sort_keys(event.list_name, event.timestamp[:10]):
            item = items.get((event.campaign_id, sort_key))
            if item is None:
                item = items[(event.campaign_id, sort_key)] = CounterDelta(
                    event.campaign_id, sort_key, first_at=event.timestamp, last_at=event.timestamp
                )
            item.deltas[event.counter] = item.deltas.get(event.counter, 0) + 1
            item.first_at = min(item.first_at, event.timestamp)
            item.last_at = max(item.last_at, event.timestamp)
    return items
