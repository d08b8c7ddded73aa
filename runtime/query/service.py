"""The tracking API's use cases, independent of HTTP: validation, pagination, expiry answers, erasure.

``TrackingQueries`` takes a ``TrackingReader``, a ``SuppressionStore`` and ``PageTokens``; it returns JSON-ready
dicts and raises ``runtime.query.errors`` exceptions, which the Chalice blueprint maps to 4xx answers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.emails import InvalidEmailError, normalize_email, recipient_hash
from runtime.query import stats
from runtime.query.errors import ExpiredError, InvalidQueryError, NotFoundError
from runtime.query.pagination import PageTokens
from runtime.query.reader import TrackingReader
from runtime.stores.history import expand_times, public_events
from runtime.stores.schema import (
    COUNTERS_TOTAL,
    META,
    STATUS_RANK,
    canonical_name,
    ses_message_id_time,
    suppression_scope,
)
from runtime.stores.suppressions import ALL_SCOPE, REASONS, Suppression, SuppressionStore

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_ID_LENGTH = 256
_HIDDEN_MESSAGE_FIELDS = frozenset(
    {"event_ids", "history", "version", "status_rank", "status_key", "campaign_shard", "campaign_sk"}
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as exc:
        raise InvalidQueryError(f"limit must be an integer between 1 and {MAX_LIMIT}") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be an integer between 1 and {MAX_LIMIT}")
    return limit


def parse_email(value: str) -> str:
    """Normalised address from a path parameter; InvalidQueryError (400) naming the problem."""
    try:
        return normalize_email(value)
    except InvalidEmailError as exc:
        raise InvalidQueryError(f"email: {exc}") from exc


BREAKDOWNS = ("day", "list")


def parse_by(value: str | None) -> set[str]:
    """``by`` of the stats route: comma-separated ``day`` (per-day series) and/or ``list`` (every list's block)."""
    parts = {part.strip() for part in (value or "").split(",")} - {""}
    unknown = parts - set(BREAKDOWNS)
    if unknown:
        raise InvalidQueryError("by must be day, list or day,list")
    return parts


def check_id(name: str, value: str) -> str:
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise InvalidQueryError(f"{name} must be 1 to {MAX_ID_LENGTH} printable characters")
    return value


def parse_scope(scope: str | None, list_name: str | None, campaign_id: str | None) -> str:
    """``all`` (default) | ``list`` (needs list_name) | ``campaign`` (needs campaign_id), or a raw scope key."""
    value = (scope or "all").strip()
    if value.upper() == ALL_SCOPE:
        return ALL_SCOPE
    if value == "list" or value.startswith("LIST#"):
        name = list_name or value.removeprefix("LIST#")
        if not name or name == "list":
            raise InvalidQueryError("scope 'list' needs list_name")
        return suppression_scope("list", list_name=check_id("list_name", name))
    if value == "campaign" or value.startswith("CAMPAIGN#"):
        name = campaign_id or value.removeprefix("CAMPAIGN#")
        if not name or name == "campaign":
            raise InvalidQueryError("scope 'campaign' needs campaign_id")
        return suppression_scope("campaign", campaign_id=check_id("campaign_id", name))
    raise InvalidQueryError("scope must be all, list or campaign")


def public_message(item: Mapping[str, Any]) -> dict[str, Any]:
    full = expand_times(item)  # ``last_<x>_at`` is stored only when it differs from ``first_<x>_at``
    out = {k: (sorted(v) if isinstance(v, set) else v) for k, v in full.items() if k not in _HIDDEN_MESSAGE_FIELDS}
    return out


def public_event(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k not in ("event_key",)}
    detail = out.get("detail")
    if isinstance(detail, str):
        with contextlib.suppress(ValueError):
            out["detail"] = json.loads(detail)
    return out


class TrackingQueries:
    def __init__(
        self,
        reader: TrackingReader,
        suppressions: SuppressionStore,
        tokens: PageTokens,
        *,
        event_ttl_days: int = 90,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.reader = reader
        self.suppressions = suppressions
        self.tokens = tokens
        self.event_ttl_days = event_ttl_days
        self.clock = clock

    # messages -------------------------------------------------------------------------------------------------

    def message(self, message_id: str) -> dict[str, Any]:
        check_id("message_id", message_id)
        summary = self.reader.get_message(message_id)
        if summary is None:
            sent = ses_message_id_time(message_id)
            if sent is not None and sent + timedelta(days=self.event_ttl_days) < self.clock():
                raise ExpiredError(
                    f"no data: message {message_id} was sent on {sent.date().isoformat()}, "
                    f"tracking data is kept {self.event_ttl_days} days"
                )
            raise NotFoundError(f"no message with id {message_id}")
        events = [public_event(e) for e in public_events(summary)]
        return {"message": public_message(summary), "events": events}

    # campaigns ------------------------------------------------------------------------------------------------

    def campaigns(self, limit: str | None, next_token: str | None) -> dict[str, Any]:
        size = parse_limit(limit)
        binding = "campaigns"
        metas, cursor = self.reader.list_campaigns(size, self.tokens.decode(next_token, binding))
        totals = self.reader.campaign_totals([str(m["campaign_id"]) for m in metas])
        items = []
        for meta in metas:
            cid = str(meta["campaign_id"])
            total = totals.get(cid)
            expired = stats.is_expired(meta, total, self.clock(), self.event_ttl_days)
            items.append({**stats.public_meta(meta), "data_expired": expired, **stats.block(total)})
        return {"items": items, "next_token": self.tokens.encode(cursor, binding)}

    def campaign_stats(self, campaign_id: str, list_name: str | None, by: str | None) -> dict[str, Any]:
        check_id("campaign_id", campaign_id)
        if list_name is not None:
            list_name = canonical_name(check_id("list_name", list_name))  # as the counters are keyed
        breakdowns = parse_by(by)
        items = self.reader.campaign_items(campaign_id)  # the one read
        meta = next((i for i in items if i.get("sk") == META), None)
        total = stats.merge_counter_items(items).get(COUNTERS_TOTAL)
        if meta is None and total is None:
            raise NotFoundError(f"no campaign with id {campaign_id}")
        if meta is not None and stats.is_expired(meta, total, self.clock(), self.event_ttl_days):
            raise ExpiredError(
                f"no data: the statistics of campaign {campaign_id} are older than {self.event_ttl_days} days"
            )
        return stats.campaign_stats(
            campaign_id, items, list_name=list_name, by_day="day" in breakdowns, by_list="list" in breakdowns
        )

    def campaign_messages(
        self, campaign_id: str, status: str | None, limit: str | None, next_token: str | None
    ) -> dict[str, Any]:
        check_id("campaign_id", campaign_id)
        if status and status not in STATUS_RANK:
            raise InvalidQueryError(f"status must be one of {', '.join(STATUS_RANK)}")
        size = parse_limit(limit)
        binding = f"campaign-messages\n{campaign_id}\n{status or ''}"
        cursor = self.tokens.decode(next_token, binding)
        items, next_cursor = self.reader.campaign_messages(campaign_id, status or None, size, cursor)
        if not items and cursor is None:
            meta = self.reader.campaign_meta(campaign_id)
            if meta is None:
                raise NotFoundError(f"no campaign with id {campaign_id}")
            if (
                stats.is_expired(meta, None, self.clock(), self.event_ttl_days)
                and str(meta.get("status", "")) not in stats.NOT_STARTED
            ):
                raise ExpiredError(f"no data: the messages of campaign {campaign_id} are past their retention")
        return {"items": [public_message(i) for i in items], "next_token": self.tokens.encode(next_cursor, binding)}

    # recipients -----------------------------------------------------------------------------------------------

    def recipient_messages(self, email: str, limit: str | None, next_token: str | None) -> dict[str, Any]:
        address = parse_email(email)
        h = recipient_hash(address)
        binding = f"recipient-messages\n{h}"
        items, cursor = self.reader.recipient_messages(h, parse_limit(limit), self.tokens.decode(next_token, binding))
        result: dict[str, Any] = {
            "recipient_hash": h,
            "items": [public_message(i) for i in items],
            "next_token": self.tokens.encode(cursor, binding),
        }
        if next_token in (None, ""):
            result["suppressions"] = [s.to_dict() for s in self.suppressions.list_for_recipient(h)]
        return result

    def recipient_events(self, email: str, limit: str | None, next_token: str | None) -> dict[str, Any]:
        address = parse_email(email)
        h = recipient_hash(address)
        binding = f"recipient-events\n{h}"
        items, cursor = self.reader.recipient_events(h, parse_limit(limit), self.tokens.decode(next_token, binding))
        return {
            "recipient_hash": h,
            "items": [public_event(i) for i in items],
            "next_token": self.tokens.encode(cursor, binding),
        }

    def erase_recipient(self, email: str) -> dict[str, Any]:
        """GDPR erasure: summaries and history deleted, suppressions stripped of the address, and a permanent
        hashed ALL-scope suppression kept so the person is never emailed again."""
        address = parse_email(email)
        h = recipient_hash(address)
        deleted = self.reader.erase_recipient(h)
        touched = self.suppressions.erase(h)
        return {
            "recipient_hash": h,
            "deleted_messages": deleted["messages"],
            "deleted_events": deleted["events"],
            "suppressions_anonymised": touched,
            "suppressed": True,
        }

    # suppressions ---------------------------------------------------------------------------------------------

    def get_suppressions(self, email: str) -> dict[str, Any]:
        address = parse_email(email)
        h = recipient_hash(address)
        items = self.suppressions.list_for_recipient(h)
        if not items:
            raise NotFoundError("this address is not suppressed")
        now = self.clock().timestamp()
        return {
            "recipient_hash": h,
            "suppressed": any(s.is_active(now) for s in items),
            "items": [{**s.to_dict(), "active": s.is_active(now)} for s in items],
        }

    def put_suppression(self, email: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        address = parse_email(email)
        data = dict(body or {})
        unknown = set(data) - {"scope", "list_name", "campaign_id", "reason"}
        if unknown:
            raise InvalidQueryError(f"unknown field(s): {', '.join(sorted(unknown))}")
        for name in ("scope", "list_name", "campaign_id", "reason"):
            if name in data and data[name] is not None and not isinstance(data[name], str):
                raise InvalidQueryError(f"{name} must be a string")
        scope = parse_scope(data.get("scope"), data.get("list_name"), data.get("campaign_id"))
        reason = data.get("reason") or "MANUAL"
        if reason not in REASONS:
            raise InvalidQueryError(f"reason must be one of {', '.join(REASONS)}")
        stored = self.suppressions.put(
            Suppression(recipient_hash(address), scope=scope, reason=reason, email=address, expires_at=None)
        )
        return stored.to_dict()

    def delete_suppression(
        self, email: str, scope: str | None, list_name: str | None, campaign_id: str | None
    ) -> dict[str, Any]:
        address = parse_email(email)
        key = parse_scope(scope, list_name, campaign_id)
        if not self.suppressions.delete(recipient_hash(address), key):
            raise NotFoundError(f"no suppression with scope {key} for this address")
        return {"deleted": True, "scope": key}

    def list_suppressions(self, reason: str | None, limit: str | None, next_token: str | None) -> dict[str, Any]:
        if not reason:
            raise InvalidQueryError(f"reason is required, one of {', '.join(REASONS)}")
        if reason not in REASONS:
            raise InvalidQueryError(f"reason must be one of {', '.join(REASONS)}")
        binding = f"suppressions\n{reason}"
        items, cursor = self.suppressions.list_by_reason(
            reason, parse_limit(limit), self.tokens.decode(next_token, binding)
        )
        return {"items": [s.to_dict() for s in items], "next_token": self.tokens.encode(cursor, binding)}
