"""Pure merge logic of the ingest engine: no I/O, every rule commutative.

Applying a set of events to a message summary gives the same result whatever the order and batching, because
every rule is a min, a max, a sum over distinct event ids, or a set union:

* status: highest rank wins (``runtime.stores.schema.STATUS_RANK``); bounce, complaint, suppression-list drop,
  reject, rendering failure are terminal because they outrank everything else. Which status, counter and suppression
  an event means is decided in one place, :func:`runtime.events.classify.classify`;
* ``first_<type>_at`` min, ``last_<type>_at`` max; counts add up over distinct event ids (dedup: the ids in the
  summary's compact ``history``, :mod:`runtime.stores.history`, one entry per applied event, kept in time order);
* "latest wins" details (bounce type, complaint feedback type, last clicked link, ...) compare
  ``(timestamp, value)``, and the stored ``last_<type>_at`` is the timestamp of the stored value;
* campaign counters are derived per event (``opened_unique``/``clicked_unique`` on the transition to true).

Recipient-level rules (suppressions, the consecutive soft-bounce counter) are in :func:`plan_recipients`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.events.classify import classify
from runtime.events.normalize import NormalizedEvent, address_and_hash
from runtime.stores.history import (
    HISTORY,
    compact_detail,
    compact_times,
    encode_entry,
    entry_id,
    history_of,
    last_time,
    short_id,
    sorted_history,
)
from runtime.stores.schema import STATUS_RANK, UNTAGGED, campaign_shard, campaign_sort_key, ttl_epoch

# ``first_<x>_at`` / ``last_<x>_at`` attribute stem per event type (docs/DESIGN.md)
TIME_FIELD: dict[str, str] = {
    "Send": "send",
    "Delivery": "delivery",
    "Open": "open",
    "Click": "click",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "DeliveryDelay": "delay",
    "Rendering Failure": "rendering_failure",
    "Subscription": "subscription",
}
_TIME_KEYS: dict[str, tuple[str, str]] = {t: (f"first_{s}_at", f"last_{s}_at") for t, s in TIME_FIELD.items()}
# "latest wins" details: event type -> (summary attributes, event attributes)
LATEST_DETAIL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Bounce": (("bounce_type", "bounce_subtype"), ("bounce_type", "bounce_subtype")),
    "Complaint": (("complaint_feedback_type",), ("complaint_feedback_type",)),
    "Reject": (("reject_reason",), ("reject_reason",)),
    "DeliveryDelay": (("delay_type", "delay_expiration"), ("delay_type", "delay_expiration")),
    "Rendering Failure": (("rendering_error",), ("rendering_error",)),
    "Click": (("last_click_link",), ("link",)),
}
# Suppression precedence: a stronger reason replaces a weaker one, never the reverse.
REASON_PRIORITY = {"COMPLAINT": 5, "BOUNCE": 4, "UNSUBSCRIBE": 3, "MANUAL": 3, "SOFT_BOUNCE": 1}
ALL_SCOPE = "ALL"
UNIQUE_COUNTERS = frozenset({"opened_unique", "clicked_unique"})


@dataclass(slots=True)
class MessagePlan:
    """The merge of one message's new events into its summary."""

    message_id: str
    item: dict[str, Any]  # the full new summary
    expected_version: int | None  # version read; None with created=False: an item without a version attribute
    new_events: list[NormalizedEvent]
    duplicates: list[NormalizedEvent]
    created: bool
    counters: list[tuple[str, str, str, str, int]]  # (campaign_id, list_name, event ts, counter, delta)
    untagged: bool


_EPOCH_CACHE: dict[str, int] = {}


def epoch_seconds(timestamp: str) -> int:
    """Epoch seconds of a canonical timestamp (cached per second: a batch repeats the same seconds)."""
    second = timestamp[:19]
    value = _EPOCH_CACHE.get(second)
    if value is None:
        if len(_EPOCH_CACHE) > 8192:
            _EPOCH_CACHE.clear()
        value = _EPOCH_CACHE[second] = ttl_epoch(second + "Z", 0)
    return value


def _max_key(current: tuple[Any, ...] | None, candidate: tuple[Any, ...]) -> bool:
    return current is None or candidate > current


def merge_message(
    existing: Mapping[str, Any] | None, events: Sequence[NormalizedEvent], ttl_days: int
) -> MessagePlan | None:
    """Merge ``events`` (one message) into ``existing``; None when every event is a duplicate."""
    entries = history_of(existing)  # the summary's entries; the new events' are added to this list below
    seen: set[str] = {entry_id(text) for text in entries}  # its dedup marks (history.applied_ids)
    new: list[NormalizedEvent] = []
    dups: list[NormalizedEvent] = []
    for event in events:
        mark = short_id(event.event_id)
        if mark in seen:
            dups.append(event)
        else:
            seen.add(mark)
            new.append(event)
    if not new:
        return None
    first = new[0]
    item: dict[str, Any] = dict(existing) if existing else {"message_id": first.message_id}
    item.pop("event_ids", None)  # the former dedup set: the history's ids are the marks now
    # attribution and identity: fill what the sender did not record (messages sent outside sesame)
    if not item.get("recipient") and first.recipient:
        item["recipient"] = first.recipient
        item["recipient_hash"] = address_and_hash(first.recipient)[1]
    tagged = next((e for e in new if e.campaign_id), None)
    if tagged is not None and item.get("campaign_id") in (None, "", UNTAGGED):
        item["campaign_id"] = tagged.campaign_id
        item["list_name"] = tagged.list_name or UNTAGGED
    if not item.get("campaign_id"):
        item["campaign_id"] = UNTAGGED
    if not item.get("list_name"):
        item["list_name"] = UNTAGGED
    for attr, value in (
        ("config_set", first.config_set),
        ("from_address", first.from_address),
        ("subject", first.subject),
        ("sent_at", first.sent_at),
        ("send_id", first.send_id),  # resolves the sender's unknown sends (runtime/sender/resolve.py)
    ):
        if value and not item.get(attr):
            item[attr] = value

    rank = int(item.get("status_rank", -1))
    status = item.get("status")
    newest = ""
    had_open = bool(item.get("unique_open"))
    had_click = bool(item.get("unique_click"))
    opens = clicks = 0
    counters: list[tuple[str, str, str, str, int]] = []
    campaign = str(item["campaign_id"])
    list_name = str(item["list_name"])
    for event in new:
        counted = len(counters)
        etype = event.event_type
        ts = event.timestamp
        if ts > newest:
            newest = ts
        day = ts  # counters carry the event time; the DAY item is its date
        kind = classify(event)
        new_status = kind.status
        if new_status is not None and STATUS_RANK[new_status] > rank:
            rank = STATUS_RANK[new_status]
            status = new_status
        keys = _TIME_KEYS.get(etype)
        if keys is not None:
            first_key, last_key = keys
            current_first = item.get(first_key)
            if current_first is not None and last_key not in item:  # stored only when it differs from the first
                item[last_key] = current_first
            if current_first is None or ts < current_first:
                item[first_key] = ts
            latest = LATEST_DETAIL.get(etype)
            current_last = item.get(last_key)
            if latest is not None:
                summary_attrs, event_attrs = latest
                values = tuple(getattr(event, a) or "" for a in event_attrs)
                current = (
                    (current_last, *(item.get(a) or "" for a in summary_attrs)) if current_last is not None else None
                )
                if _max_key(current, (ts, *values)):
                    for attr, value in zip(summary_attrs, values, strict=True):
                        item[attr] = value
            if current_last is None or ts > current_last:
                item[last_key] = ts
        if etype == "Open":
            opens += 1
            counters.append((campaign, list_name, day, "opened_total", 1))
            if not had_open:
                had_open = True
                counters.append((campaign, list_name, day, "opened_unique", 1))
        elif etype == "Click":
            clicks += 1
            counters.append((campaign, list_name, day, "clicked_total", 1))
            if not had_click:
                had_click = True
                counters.append((campaign, list_name, day, "clicked_unique", 1))
        else:
            counters.append((campaign, list_name, day, kind.counter, 1))
            if etype == "Subscription" and event.unsubscribed:
                counters.append((campaign, list_name, day, "unsubscribed", 1))
        # the entry keeps the counters this event adds whatever the order of arrival: ``*_unique`` depend on which
        # open/click came first, so they are the summary's (``unique_open``/``unique_click``), not an entry's
        own = (c[3] for c in counters[counted:] if c[3] not in UNIQUE_COUNTERS)
        entries.append(encode_entry(ts, etype, event.event_id, own, compact_detail(etype, event.detail)))
    item[HISTORY] = sorted_history(entries)
    compact_times(item)
    if not item.get("sent_at"):
        # SES events carry the send time (mail.timestamp); without it the first event's time stands in, so every
        # summary is in the recipient-index (recipient pages, erasure)
        item["sent_at"] = min(e.timestamp for e in new)
    if clicks:  # last_click_at (max) and last_click_link (its link) were kept above
        item["click_count"] = int(item.get("click_count", 0)) + clicks
        item["unique_click"] = True
    if opens:
        item["open_count"] = int(item.get("open_count", 0)) + opens
        item["unique_open"] = True
    if status is not None:
        item["status"] = status
        item["status_rank"] = rank
    # campaign-index keys, stable: the shard changes only if the attribution does (untagged -> tagged, once), the
    # sort key is written once
    shard = campaign_shard(campaign, first.message_id)
    if item.get("campaign_shard") != shard:
        item["campaign_shard"] = shard
    if not item.get("campaign_sk"):
        item["campaign_sk"] = campaign_sort_key(str(item.get("sent_at") or newest), first.message_id)
    item.pop("status_key", None)
    expires = epoch_seconds(newest) + ttl_days * 86400 if newest else None
    if expires is not None and expires > int(item.get("expires_at", 0)):
        item["expires_at"] = expires
    version = existing.get("version") if existing else None
    expected = int(version) if version is not None else None
    item["version"] = (expected or 0) + 1
    return MessagePlan(
        message_id=first.message_id,
        item=item,
        expected_version=expected,
        new_events=new,
        duplicates=dups,
        created=existing is None,
        counters=counters,
        untagged=campaign == UNTAGGED,
    )


# --- recipient level: suppressions and the consecutive soft-bounce counter ---------------------------------------


@dataclass(slots=True)
class RecipientPlan:
    """What the new events of a batch change for one recipient (``recipient_hash``)."""

    recipient_hash: str
    message_ids: set[str] = field(default_factory=set)  # messages whose events drive the change (same transaction)
    softbounce: dict[str, Any] | None = None  # new SOFTBOUNCE item
    softbounce_delete: bool = False
    softbounce_expected_version: int | None = None  # None: the item must not exist yet
    suppression: dict[str, Any] | None = None  # new ALL-scope suppression attributes (None: unchanged)
    # what the ALL-scope suppression looked like when read (the write's condition: nobody changed it meanwhile)
    suppression_existed: bool = False
    suppression_expected_reason: str | None = None

    @property
    def writes(self) -> int:
        return int(self.softbounce is not None or self.softbounce_delete) + int(self.suppression is not None)


@dataclass(slots=True)
class _Inputs:
    emails: set[str] = field(default_factory=set)
    soft: list[tuple[str, str, str]] = field(default_factory=list)  # (ts, event_id, message_id)
    deliveries: list[str] = field(default_factory=list)
    summary_deliveries: list[str] = field(default_factory=list)
    candidates: list[tuple[str, str, str, int | None]] = field(default_factory=list)  # reason, ts, message, expiry
    message_ids: set[str] = field(default_factory=set)


def recipient_keys(events: Iterable[NormalizedEvent]) -> tuple[set[str], set[str]]:
    """(hashes whose SOFTBOUNCE item the batch needs, hashes whose ALL suppression it needs)."""
    softbounce: set[str] = set()
    suppression: set[str] = set()
    for event in events:
        if event.event_type == "Delivery":
            softbounce.update(event.recipient_hashes)
            continue
        kind = classify(event)
        if kind.soft_bounce:  # may reach the limit: a SOFT_BOUNCE suppression
            softbounce.update(event.recipient_hashes)
            suppression.update(event.recipient_hashes)
        elif kind.suppression is not None:
            suppression.update(event.recipient_hashes)
    return softbounce, suppression


def plan_recipients(
    plans: Iterable[MessagePlan],
    softbounce_items: Mapping[str, Mapping[str, Any]],
    suppression_items: Mapping[str, Mapping[str, Any]],
    *,
    soft_bounce_limit: int,
    soft_bounce_suppress_days: int,
) -> dict[str, RecipientPlan]:
    """Suppressions and soft-bounce counters implied by the new events of ``plans``."""
    inputs: dict[str, _Inputs] = {}
    # deliveries to recipients without a SOFTBOUNCE item: they matter only if the batch also soft-bounces them
    other_deliveries: dict[str, list[tuple[str, str]]] = {}
    for plan in plans:
        for event in plan.new_events:
            etype = event.event_type
            if etype not in ("Delivery", "Bounce", "Complaint", "Subscription"):
                continue
            kind = classify(event)
            if etype != "Delivery" and not kind.soft_bounce and kind.suppression is None:
                continue
            for email, h in zip(event.recipients, event.recipient_hashes, strict=False):
                if etype == "Delivery":
                    if h in softbounce_items:
                        rec = inputs.setdefault(h, _Inputs())
                        rec.deliveries.append(event.timestamp)
                        rec.message_ids.add(plan.message_id)
                    else:
                        other_deliveries.setdefault(h, []).append((event.timestamp, plan.message_id))
                    continue
                rec = inputs.setdefault(h, _Inputs())
                if kind.soft_bounce:
                    rec.soft.append((event.timestamp, event.event_id, plan.message_id))
                    delivered = last_time(plan.item, "delivery")
                    if plan.item.get("recipient_hash") == h and delivered:
                        rec.summary_deliveries.append(str(delivered))
                else:
                    assert kind.suppression is not None
                    rec.candidates.append((kind.suppression, event.timestamp, plan.message_id, None))
                rec.emails.add(email)
                rec.message_ids.add(plan.message_id)
    for h, deliveries in other_deliveries.items():
        rec_soft = inputs.get(h)
        if rec_soft is not None and rec_soft.soft:  # same result as applying the bounce and the delivery one by one
            for ts, mid in deliveries:
                rec_soft.deliveries.append(ts)
                rec_soft.message_ids.add(mid)
    out: dict[str, RecipientPlan] = {}
    for h, rec in inputs.items():
        plan_r = RecipientPlan(recipient_hash=h, message_ids=rec.message_ids)
        item = softbounce_items.get(h)
        if rec.soft or (item is not None and rec.deliveries):
            _plan_softbounce(plan_r, rec, item, soft_bounce_limit, soft_bounce_suppress_days)
        if rec.candidates:
            _plan_suppression(plan_r, rec, suppression_items.get(h))
        if plan_r.writes:
            out[h] = plan_r
    return out


def _plan_softbounce(
    plan: RecipientPlan, rec: _Inputs, item: Mapping[str, Any] | None, limit: int, suppress_days: int
) -> None:
    known = [str(item["last_delivery_at"])] if item and item.get("last_delivery_at") else []
    last_delivery = max([*known, *rec.deliveries, *rec.summary_deliveries], default="")
    entries = set(item.get("bounces") or ()) if item else set()
    entries.update(f"{ts}#{eid}#{mid}" for ts, eid, mid in rec.soft)
    entries = {e for e in entries if e.split("#", 1)[0] > last_delivery}
    version = int(item.get("version", 0)) if item else None
    if not entries and not rec.soft and (item is None or not item.get("count")):
        return  # nothing counted before or now: a delivery need not be recorded
    # Reset to zero keeps the item (with last_delivery_at) so a late, older soft bounce is still recognised as
    # older than the delivery; the TTL removes it eventually.
    latest = max(entries) if entries else ""
    latest_ts, _, latest_mid = latest.split("#", 2) if entries else ("", "", "")
    new: dict[str, Any] = {
        "recipient_hash": plan.recipient_hash,
        "scope": "SOFTBOUNCE",
        "count": len(entries),
        "expires_at": ttl_epoch(max(latest_ts, last_delivery), suppress_days),
    }
    if entries:
        new["bounces"] = entries
    if last_delivery:
        new["last_delivery_at"] = last_delivery
    unchanged = (
        item is not None and all(item.get(k) == v for k, v in new.items()) and (("bounces" in item) == bool(entries))
    )
    if not unchanged:
        new["version"] = (version or 0) + 1
        plan.softbounce = new
        plan.softbounce_expected_version = version
    if rec.soft and len(entries) >= limit:
        rec.candidates.append(("SOFT_BOUNCE", latest_ts, latest_mid, ttl_epoch(latest_ts, suppress_days)))


def _plan_suppression(plan: RecipientPlan, rec: _Inputs, existing: Mapping[str, Any] | None) -> None:
    plan.suppression_existed = existing is not None
    plan.suppression_expected_reason = (
        str(existing["reason"]) if existing is not None and existing.get("reason") is not None else None
    )
    # strongest reason; among equals the earliest event (then the smallest message id) is the source
    reason, _, source, _ = min(rec.candidates, key=lambda c: (-REASON_PRIORITY[c[0]], c[1], c[2]))
    first_ts = min(c[1] for c in rec.candidates)
    last_ts = max(c[1] for c in rec.candidates)
    soft_expiry = max((c[3] for c in rec.candidates if c[3] is not None), default=None)
    expired = existing is not None and existing.get("expires_at") is not None
    if expired and existing is not None and int(existing["expires_at"]) <= ttl_epoch(last_ts, 0):
        existing = None  # an expired temporary suppression DynamoDB has not deleted yet counts as absent
    expires: int | None = None
    if existing is not None:
        current = str(existing.get("reason", "MANUAL"))
        if REASON_PRIORITY.get(current, 3) >= REASON_PRIORITY[reason]:
            reason, source = current, str(existing.get("source_message_id") or source)
        created = min(str(existing.get("created_at") or first_ts), first_ts)
        updated = max(str(existing.get("updated_at") or last_ts), last_ts)
        if reason == current and existing.get("expires_at") is not None:
            expires = int(existing["expires_at"])
    else:
        created, updated = first_ts, last_ts
    if reason == "SOFT_BOUNCE" and soft_expiry is not None:
        expires = max(expires or 0, soft_expiry)
    email = (existing.get("email") if existing else None) or min(rec.emails, default=None)
    new: dict[str, Any] = {
        "recipient_hash": plan.recipient_hash,
        "scope": ALL_SCOPE,
        "reason": reason,
        "source_message_id": source,
        "created_at": created,
        "updated_at": updated,
        "expires_at": expires,
    }
    if email:
        new["email"] = email
    if existing is not None and all(existing.get(k) == v for k, v in new.items()):
        return
    plan.suppression = new
