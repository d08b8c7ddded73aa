"""Campaign statistics from the campaign counter items (pure functions).

The campaigns table holds, per campaign, ``META`` plus ``COUNTERS#TOTAL``, ``COUNTERS#LIST#<list>`` and
``COUNTERS#DAY#<day>`` items — each of them possibly several times, once per writer: the base item (the sender's
and the unsubscribe endpoint's counters) and one per stream shard that counted events (``<base>#<shard tag>``,
docs/DESIGN.md "Counters"). One Query on ``campaign_id`` returns all of them and :func:`merge_counter_items` sums
them, so stats cost one read whatever the number of messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from runtime.stores.schema import COUNTERS, COUNTERS_TOTAL, META, counter_base_sk, parse_time

LIST_PREFIX = "COUNTERS#LIST#"
DAY_PREFIX = "COUNTERS#DAY#"
# statuses of a META item whose campaign has not produced events yet (zeros are the truthful answer)
NOT_STARTED = frozenset({"scheduled", "launching", "draft", "created"})


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 6) if denominator > 0 else 0.0


def merge_counter_items(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Counter items summed per base sort key (``COUNTERS#TOTAL``, ...): counters added, ``first_event_at`` the
    minimum, ``last_event_at`` and ``expires_at`` the maximum. Other items (``META``) are left out."""
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        sk = str(item.get("sk", ""))
        if not sk.startswith("COUNTERS#"):
            continue
        base = counter_base_sk(sk)
        into = merged.setdefault(base, {"campaign_id": item.get("campaign_id"), "sk": base})
        for name in COUNTERS:
            if item.get(name) is not None:
                into[name] = int(into.get(name, 0)) + int(item[name])
        for name, pick in (("first_event_at", min), ("last_event_at", max), ("expires_at", max)):
            value = item.get(name)
            if value is not None:
                into[name] = value if into.get(name) is None else pick(into[name], value)
    return merged


def counters_of(item: Mapping[str, Any] | None) -> dict[str, int]:
    """Every counter named in docs/DESIGN.md (0 when absent) plus the ``bounced`` sum."""
    source = item or {}
    counts = {name: int(source.get(name, 0) or 0) for name in COUNTERS}
    counts["bounced"] = counts["bounced_hard"] + counts["bounced_soft"] + counts["bounced_undetermined"]
    return counts


def rates_of(counts: Mapping[str, int]) -> dict[str, float]:
    """Delivery and bounce over sent; open, click, complaint and unsubscribe over delivered (as SES reports them)."""
    sent = counts.get("sent", 0)
    delivered = counts.get("delivered", 0)
    return {
        "delivery_rate": _ratio(delivered, sent),
        "bounce_rate": _ratio(counts.get("bounced", 0), sent),
        "open_rate": _ratio(counts.get("opened_unique", 0), delivered),
        "click_rate": _ratio(counts.get("clicked_unique", 0), delivered),
        "click_to_open_rate": _ratio(counts.get("clicked_unique", 0), counts.get("opened_unique", 0)),
        "complaint_rate": _ratio(counts.get("complained", 0), delivered),
        "unsubscribe_rate": _ratio(counts.get("unsubscribed", 0), delivered),
    }


def block(item: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = counters_of(item)
    source = item or {}
    return {
        "counters": counts,
        "rates": rates_of(counts),
        "first_event_at": source.get("first_event_at"),
        "last_event_at": source.get("last_event_at"),
    }


def public_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The META item without table plumbing (GSI keys)."""
    hidden = {"sk", "listing_pk", "schedule_pk", "version"}
    return {k: v for k, v in meta.items() if k not in hidden}


def is_expired(meta: Mapping[str, Any], total: Mapping[str, Any] | None, now: datetime, ttl_days: int) -> bool:
    """True when the campaign is known (META) but its counters have gone past their TTL."""
    if total is not None:
        return False
    data_expires_at = meta.get("data_expires_at")
    if data_expires_at is not None:
        try:
            return float(data_expires_at) <= now.timestamp()
        except (TypeError, ValueError):
            return False
    if str(meta.get("status", "")) in NOT_STARTED:
        return False
    reference = meta.get("launch_at") or meta.get("created_at")
    if not reference:
        return False
    try:
        return parse_time(str(reference)) + timedelta(days=ttl_days) <= now
    except ValueError:
        return False


def campaign_stats(
    campaign_id: str,
    items: Iterable[Mapping[str, Any]],
    *,
    list_name: str | None = None,
    by_day: bool = False,
    by_list: bool = False,
) -> dict[str, Any]:
    """Build the stats document from the items of one campaign Query (META and COUNTERS#...).

    ``list_name`` adds that list's block (``list``), ``by_list`` every list's (``by_list``, by name), ``by_day`` the
    per-day series (``series``): all from the same items, so a dashboard gets everything in one request.
    """
    meta: Mapping[str, Any] = {}
    total: Mapping[str, Any] | None = None
    lists: dict[str, Mapping[str, Any]] = {}
    days: dict[str, Mapping[str, Any]] = {}
    listed = list(items)
    meta = next((i for i in listed if i.get("sk") == META), {})
    for sk, item in merge_counter_items(listed).items():
        if sk == COUNTERS_TOTAL:
            total = item
        elif sk.startswith(LIST_PREFIX):
            lists[sk.removeprefix(LIST_PREFIX)] = item
        elif sk.startswith(DAY_PREFIX):
            days[sk.removeprefix(DAY_PREFIX)] = item
    doc: dict[str, Any] = {
        "campaign_id": campaign_id,
        "status": meta.get("status"),
        "name": meta.get("name"),
        **block(total),
        "lists": sorted(lists),
    }
    if list_name is not None:
        doc["list"] = {"list_name": list_name, **block(lists.get(list_name))}
    if by_list:
        doc["by_list"] = [{"list_name": name, **block(lists[name])} for name in sorted(lists)]
    if by_day:
        doc["series"] = [{"day": day, **block(days[day])} for day in sorted(days)]
    return doc
