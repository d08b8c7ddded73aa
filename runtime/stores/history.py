"""The compact event history kept inside a message summary (attribute ``history``, a List of strings).

One entry per applied event: ``<timestamp>|<event type>|<event id>|<counters>|<detail JSON>``, where the event id
is the first 16 hex digits of ``schema.event_id_for`` (64 bits: unique among one message's events), ``counters``
are the campaign counters the event added, except ``opened_unique``/``clicked_unique`` (they follow the summary's
first open/click, whichever event arrived first) (comma-separated positions in ``runtime.stores.schema.COUNTERS``, whose
order is therefore fixed: new counters go at its end) and ``detail`` is the SES detail object of the event — whole
for the rare types (bounces, complaints, rejects, delays, rendering failures, subscriptions, unknown types), reduced
for the frequent ones (Send: nothing, Delivery: ``smtpResponse``, Open: nothing, Click: ``link``), so a summary
with its history stays under one 1 KB write unit (about 900 bytes for a sent, delivered and opened message).

The entries are the summary's dedup marks (an event id found there was applied), what ``GET /messages/{id}`` and
``GET /recipients/{email}/events`` answer, and what the counter consumer of the table's stream counts (the entries
a write added, old image vs new image). Entries are only ever added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.stores.schema import COUNTERS

HISTORY = "history"
_SEP = "|"
# what the answers show of the frequent event types (docs/api.md); the rare ones keep SES's whole detail
_KEPT_DETAIL: dict[str, tuple[str, ...]] = {
    "Send": (),
    "Delivery": ("smtpResponse",),
    "Open": (),
    "Click": ("link",),
}
_MAX_KEPT_TEXT = 200
ID_LENGTH = 16
_COUNTER_POSITION = {name: str(i) for i, name in enumerate(COUNTERS)}
_ENCODE_SORTED = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode  # json.dumps builds one per call


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    timestamp: str
    event_type: str
    event_id: str
    counters: tuple[str, ...]
    detail: dict[str, Any]


def compact_detail(event_type: str, detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of an event's SES detail the history keeps (everything for the rare types)."""
    source = dict(detail or {})
    kept = _KEPT_DETAIL.get(event_type)
    if kept is None:
        return source
    out: dict[str, Any] = {}
    for name in kept:
        value = source.get(name)
        if value not in (None, ""):
            out[name] = value[:_MAX_KEPT_TEXT] if isinstance(value, str) else value
    return out


def encode_entry(
    timestamp: str, event_type: str, event_id: str, counters: Iterable[str], detail: Mapping[str, Any]
) -> str:
    kind = event_type.replace(_SEP, "/")  # an unknown type's raw name is the only free text before the detail
    body = _ENCODE_SORTED(dict(detail)) if detail else ""
    codes = ",".join(_COUNTER_POSITION[name] for name in counters)
    return _SEP.join((timestamp, kind, short_id(event_id), codes, body))


def short_id(event_id: str) -> str:
    """The id an entry keeps of an event (and the API answers)."""
    return event_id[:ID_LENGTH]


def decode_entry(text: str) -> HistoryEntry:
    timestamp, kind, event_id, counters, body = [*text.split(_SEP, 4), "", "", "", ""][:5]
    try:
        detail = json.loads(body) if body else {}
    except ValueError:
        detail = {}
    return HistoryEntry(
        timestamp,
        kind,
        event_id,
        tuple(COUNTERS[int(c)] for c in counters.split(",") if c.isdigit() and int(c) < len(COUNTERS)),
        detail if isinstance(detail, dict) else {},
    )


def entry_id(text: str) -> str:
    """The event id of an encoded entry (without decoding its detail)."""
    parts = text.split(_SEP, 3)
    return parts[2] if len(parts) > 2 else ""


def history_of(summary: Mapping[str, Any] | None) -> list[str]:
    if not summary:
        return []
    value = summary.get(HISTORY) or []
    return [str(v) for v in value]


def applied_ids(summary: Mapping[str, Any] | None) -> set[str]:
    """The ids of the events a summary holds (its dedup marks)."""
    return {entry_id(text) for text in history_of(summary)}


def added_entries(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[HistoryEntry]:
    """The entries ``new`` holds that ``old`` does not (what one write of the summary applied)."""
    before = applied_ids(old)
    return [decode_entry(text) for text in history_of(new) if entry_id(text) not in before]


# ``first_<x>_at`` / ``last_<x>_at`` of a summary: the latter is stored only when it differs (a message has one Send
# and, nearly always, one Delivery: the second timestamp would only repeat the first and push summaries past 1 KB)
TIME_STEMS = (
    "send",
    "delivery",
    "open",
    "click",
    "bounce",
    "complaint",
    "reject",
    "delay",
    "rendering_failure",
    "subscription",
)
TIME_PAIRS = tuple((f"first_{stem}_at", f"last_{stem}_at") for stem in TIME_STEMS)


def last_time(summary: Mapping[str, Any], stem: str) -> Any:
    """``last_<stem>_at`` of a summary (its ``first_<stem>_at`` when not stored: they are equal then)."""
    value = summary.get(f"last_{stem}_at")
    return summary.get(f"first_{stem}_at") if value is None else value


def compact_times(summary: dict[str, Any]) -> None:
    """Drop every ``last_<x>_at`` equal to its ``first_<x>_at`` (the stored form; :func:`expand_times` undoes it)."""
    for first, last in TIME_PAIRS:
        if last in summary and summary[last] == summary.get(first):
            del summary[last]


def expand_times(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary with every ``last_<x>_at`` present (as the API answers it)."""
    out = dict(summary)
    for first, last in TIME_PAIRS:
        if last not in out and out.get(first) is not None:
            out[last] = out[first]
    return out


def public_events(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The summary's events as the API answers them (newest first): what the former history items held."""
    out: list[dict[str, Any]] = []
    for text in history_of(summary):
        entry = decode_entry(text)
        out.append(
            {
                "message_id": summary.get("message_id"),
                "event_id": entry.event_id,
                "event_type": entry.event_type,
                "timestamp": entry.timestamp,
                "recipient_hash": summary.get("recipient_hash"),
                "campaign_id": summary.get("campaign_id"),
                "list_name": summary.get("list_name"),
                "detail": entry.detail,
            }
        )
    out.sort(key=lambda e: (str(e["timestamp"]), str(e["event_id"])), reverse=True)
    return out


def _order(text: str) -> tuple[str, str]:
    """(timestamp, event id) of an encoded entry: one split for both."""
    parts = text.split(_SEP, 3)
    return parts[0], parts[2] if len(parts) > 2 else ""


def sorted_history(entries: Sequence[str]) -> list[str]:
    """Entries in time order (then id): the stored order, whatever order the events arrived in."""
    return sorted(entries, key=_order)
