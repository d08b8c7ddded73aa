"""The messages stream's counter consumer: counts from summary changes, exactly once per counter item under
retried and bisected batches (runtime.ingest.counting, runtime.ingest.stream, runtime.stores.counters)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.ingest.counting import aggregate, deltas_of_change
from runtime.ingest.stream import count_records
from runtime.stores.counters import InMemoryCounterSink, sequence_key
from runtime.stores.dynamo import to_item
from runtime.stores.history import encode_entry

TS = "2026-05-01T10:00:00.000Z"


def summary(*entries: tuple[str, str, list[str]], campaign: str = "c1", list_name: str = "news", **extra: Any):
    history = [
        encode_entry(ts, kind, f"id{i:02d}{kind}", counters, {}) for i, (ts, kind, counters) in enumerate(entries)
    ]
    return {"message_id": "m1", "campaign_id": campaign, "list_name": list_name, "history": history, **extra}


def record(seq: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"SequenceNumber": str(seq), "Keys": {"message_id": {"S": "m1"}}}
    if old is not None:
        body["OldImage"] = to_item(old)
    if new is not None:
        body["NewImage"] = to_item(new)
    name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    return {"eventName": name, "dynamodb": body}


def totals(sink: InMemoryCounterSink, base: str = "COUNTERS#TOTAL") -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, sk), item in sink.items.items():
        if sk.rsplit("#", 1)[0] == base:
            for name, value in item.items():
                if isinstance(value, int) and name != "expires_at":
                    out[name] = out.get(name, 0) + value
    return out


def test_a_write_counts_only_the_entries_it_added_and_the_first_open():
    old = summary((TS, "Send", ["sent"]), (TS, "Delivery", ["delivered"]))
    new = summary((TS, "Send", ["sent"]), (TS, "Delivery", ["delivered"]), (TS, "Open", ["opened_total"]))
    counted = sorted(e.counter for e in deltas_of_change(old, new))
    assert counted == ["opened_total", "opened_unique"]
    again = summary(*[(TS, "Send", ["sent"]), (TS, "Delivery", ["delivered"])], unique_open=True)
    assert deltas_of_change(old, old) == [] and deltas_of_change(again, again) == []


def test_the_senders_record_and_deletes_count_nothing():
    assert deltas_of_change(None, {"message_id": "m1", "campaign_id": "c1", "status": "sent"}) == []
    assert deltas_of_change(summary((TS, "Send", ["sent"])), None) == []


def test_aggregate_sums_per_total_list_and_day_with_the_time_span():
    changes = deltas_of_change(
        None,
        summary(
            ("2026-05-01T10:00:00.000Z", "Send", ["sent"]), ("2026-05-02T09:00:00.000Z", "Delivery", ["delivered"])
        ),
    )
    items = aggregate(changes)
    assert set(items) == {
        ("c1", "COUNTERS#TOTAL"),
        ("c1", "COUNTERS#LIST#news"),
        ("c1", "COUNTERS#DAY#2026-05-01"),
        ("c1", "COUNTERS#DAY#2026-05-02"),
    }
    total = items[("c1", "COUNTERS#TOTAL")]
    assert total.deltas == {"sent": 1, "delivered": 1}
    assert (total.first_at, total.last_at) == ("2026-05-01T10:00:00.000Z", "2026-05-02T09:00:00.000Z")


def test_sequence_keys_sort_like_the_numbers():
    assert sequence_key("9") < sequence_key("10") < sequence_key("111300000000005093467478")


def _stream(n: int) -> list[dict[str, Any]]:
    """n writes of one message: each adds one open."""
    out, old = [], None
    for i in range(n):
        entries = [(f"2026-05-01T10:00:{j:02d}.000Z", "Open", ["opened_total"]) for j in range(i + 1)]
        new = summary(*entries)
        out.append(record(100 + i, old, new))
        old = new
    return out


class FailingSink(InMemoryCounterSink):
    """Applies the first ``allow`` items of a call, then fails (a crash in the middle of a batch)."""

    def __init__(self, allow: int) -> None:
        super().__init__()
        self.allow = allow

    def apply(self, shard_id, first_sequence, last_sequence, deltas):  # type: ignore[no-untyped-def]
        items = list(deltas)
        written = super().apply(shard_id, first_sequence, last_sequence, items[: self.allow])
        if self.allow < len(items):
            raise RuntimeError("killed")
        return written


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), cut=st.integers(0, 3), data=st.data())
def test_retried_and_bisected_batches_count_every_record_exactly_once(n, cut, data):
    records = _stream(n)
    once = InMemoryCounterSink()
    count_records("shard-1", records, once)
    expected = totals(once)
    assert expected["opened_total"] == n and expected["opened_unique"] == 1

    sink = FailingSink(allow=cut)
    with contextlib.suppress(RuntimeError):  # the first attempt dies after writing `cut` items
        count_records("shard-1", records, sink)
    sink.allow = 99

    # Lambda retries: the whole batch again, or its halves (bisect), recursively, in order
    def run(batch: list[dict[str, Any]]) -> None:
        if len(batch) > 1 and data.draw(st.booleans()):
            middle = len(batch) // 2
            run(batch[:middle])
            run(batch[middle:])
        else:
            count_records("shard-1", batch, sink)

    run(records)
    count_records("shard-1", records, sink)  # a duplicate delivery of the whole batch changes nothing
    assert totals(sink) == expected
    for base in ("COUNTERS#LIST#news", "COUNTERS#DAY#2026-05-01"):
        assert totals(sink, base) == totals(once, base)


def test_each_shard_has_its_own_items_so_writers_never_share_one():
    sink = InMemoryCounterSink()
    count_records("shard-a", _stream(2), sink)
    count_records("shard-b", [record(5, None, summary((TS, "Delivery", ["delivered"])))], sink)
    keys = {sk for (_, sk) in sink.items}
    assert len({k for k in keys if k.startswith("COUNTERS#TOTAL#")}) == 2
    assert totals(sink)["delivered"] == 1 and totals(sink)["opened_total"] == 2
