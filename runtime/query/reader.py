"""Reads (and, for GDPR erasure, deletes) the tracking tables: the port, a DynamoDB adapter and an in-memory fake.

Items come back as plain Python dicts (``runtime.stores.dynamo.from_item``); cursors are the string-only
``LastEvaluatedKey`` maps, which ``runtime.query.pagination`` wraps into signed tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.stores import dynamo
from runtime.stores.history import history_of, public_events
from runtime.stores.schema import COUNTERS_TOTAL, LISTING_PK, META, campaign_shards

Cursor = dict[str, str] | None
Page = tuple[list[dict[str, Any]], Cursor]

RECIPIENT_INDEX = "recipient-index"
CAMPAIGN_INDEX = "campaign-index"
LISTING_INDEX = "listing-index"
# a campaign listing filtered by status examines at most this many index entries per page (then answers with what
# it found and a token to continue): the index holds keys only, the status is read from the summaries
MAX_EXAMINED_PER_PAGE = 500


@dataclass(frozen=True)
class TableNames:
    messages: str
    campaigns: str


class TrackingReader(Protocol):
    def get_message(self, message_id: str) -> dict[str, Any] | None: ...

    def campaign_items(self, campaign_id: str) -> list[dict[str, Any]]:
        """META and every COUNTERS# item of a campaign: exactly one Query."""
        ...

    def campaign_meta(self, campaign_id: str) -> dict[str, Any] | None: ...

    def list_campaigns(self, limit: int, cursor: Cursor) -> Page:
        """META items, newest ``created_at`` first."""
        ...

    def campaign_totals(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``COUNTERS#TOTAL`` of each campaign (one BatchGetItem per 100)."""
        ...

    def campaign_messages(self, campaign_id: str, status: str | None, limit: int, cursor: Cursor) -> Page:
        """Summaries of a campaign, newest ``campaign_sk`` (send time) first, optionally of one status. A page may
        hold fewer than ``limit`` items and still have a cursor (a filtered page examines a bounded number)."""
        ...

    def recipient_messages(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        """Summaries of a recipient, newest ``sent_at`` first."""
        ...

    def recipient_events(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        """The events of a recipient's messages (each summary's history), newest message first and newest event
        first within a message."""
        ...

    def erase_recipient(self, recipient_hash: str) -> dict[str, int]:
        """Delete every summary (with its history) of the recipient; returns ``{"messages": n, "events": m}``."""
        ...


def _plain_cursor(last: dict[str, Any] | None) -> Cursor:
    if not last:
        return None
    plain = dynamo.from_item(last)
    return {k: str(v) for k, v in plain.items()}


def _raw_cursor(cursor: Cursor) -> dict[str, Any] | None:
    return {k: {"S": v} for k, v in cursor.items()} if cursor else None


def _events_of_messages(
    page_of: Callable[[int, Cursor], Page],
    key_of: Callable[[dict[str, Any]], dict[str, str]],
    limit: int,
    cursor: Cursor,
) -> Page:
    """A recipient's events from their summaries' histories: newest message first, newest event first within one.

    The cursor is the message cursor *before* the message being answered (``m.``-prefixed keys) and how many of that
    message's events earlier pages answered (``skip``), so a page may end in the middle of a message."""
    state = dict(cursor or {})
    after: Cursor = {k[2:]: v for k, v in state.items() if k.startswith("m.")} or None
    skip = int(state.get("skip") or 0)
    out: list[dict[str, Any]] = []

    def mark(position: Cursor, skipped: int) -> dict[str, str]:
        return {**{f"m.{k}": v for k, v in (position or {}).items()}, "skip": str(skipped)}

    while True:
        summaries, next_after = page_of(limit, after)
        for summary in summaries:
            events = public_events(summary)[skip:]
            room = limit - len(out)
            if len(events) > room:
                out.extend(events[:room])
                return out, mark(after, skip + room)
            out.extend(events)
            skip = 0
            after = key_of(summary)
            if len(out) == limit:
                return out, (mark(after, 0) if (next_after or summary is not summaries[-1]) else None)
        if next_after is None:
            return out, None
        after = next_after


class DynamoTrackingReader:
    """``TrackingReader`` over the low-level DynamoDB client. ``requests`` counts calls (benchmarks, tests)."""

    def __init__(self, client: Any, tables: TableNames, *, sleep: Callable[[float], None] | None = None) -> None:
        self._client = client
        self._tables = tables
        self._sleep = sleep
        self.requests = 0

    def _query(self, **kwargs: Any) -> dict[str, Any]:
        self.requests += 1
        response: dict[str, Any] = self._client.query(**kwargs)
        return response

    def _page(self, limit: int, cursor: Cursor, **kwargs: Any) -> Page:
        kwargs["Limit"] = limit
        start = _raw_cursor(cursor)
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._query(**kwargs)
        return [dynamo.from_item(i) for i in response.get("Items", [])], _plain_cursor(response.get("LastEvaluatedKey"))

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        self.requests += 1
        response = self._client.get_item(TableName=self._tables.messages, Key={"message_id": {"S": message_id}})
        item = response.get("Item")
        return dynamo.from_item(item) if item else None

    def campaign_items(self, campaign_id: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._tables.campaigns,
            "KeyConditionExpression": "campaign_id = :c",
            "ExpressionAttributeValues": {":c": {"S": campaign_id}},
        }
        items: list[dict[str, Any]] = []
        while True:  # a single page unless the campaign has years of day counters (1 MB per page)
            response = self._query(**kwargs)
            items.extend(dynamo.from_item(i) for i in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def campaign_meta(self, campaign_id: str) -> dict[str, Any] | None:
        self.requests += 1
        response = self._client.get_item(
            TableName=self._tables.campaigns, Key={"campaign_id": {"S": campaign_id}, "sk": {"S": META}}
        )
        item = response.get("Item")
        return dynamo.from_item(item) if item else None

    def list_campaigns(self, limit: int, cursor: Cursor) -> Page:
        return self._page(
            limit,
            cursor,
            TableName=self._tables.campaigns,
            IndexName=LISTING_INDEX,
            KeyConditionExpression="listing_pk = :p",
            ExpressionAttributeValues={":p": {"S": LISTING_PK}},
            ScanIndexForward=False,
        )

    def campaign_totals(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(campaign_ids))
        if not ids:
            return {}
        keys = [{"campaign_id": {"S": c}, "sk": {"S": COUNTERS_TOTAL}} for c in ids]
        self.requests += -(-len(keys) // dynamo.BATCH_GET_LIMIT)
        kwargs: dict[str, Any] = {} if self._sleep is None else {"sleep": self._sleep}
        raw = dynamo.batch_get(self._client, {self._tables.campaigns: keys}, **kwargs)[self._tables.campaigns]
        return {str(item["campaign_id"]): item for item in (dynamo.from_item(r) for r in raw)}

    def _get_many(self, table: str, keys: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
        """BatchGetItem of ``keys`` (raw key maps), eventually consistent; items by their key values."""
        if not keys:
            return {}
        unique = list({tuple(sorted((k, v["S"]) for k, v in key.items())): key for key in keys}.values())
        self.requests += -(-len(unique) // dynamo.BATCH_GET_LIMIT)
        kwargs: dict[str, Any] = {"consistent": False}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        raw = dynamo.batch_get(self._client, {table: unique}, **kwargs)[table]
        names = sorted(keys[0])
        return {tuple(r[n]["S"] for n in names): dynamo.from_item(r) for r in raw}

    def campaign_messages(self, campaign_id: str, status: str | None, limit: int, cursor: Cursor) -> Page:
        """The campaign-index is sharded (``<campaign>#<n>``) and holds keys only: each round queries every shard
        for the next entries below the cursor (``campaign_sk`` < ``before``), merges them newest first, reads those
        summaries (BatchGetItem) and keeps the ones of the status asked for. The cursor is the last entry examined,
        so pages neither skip nor repeat, whatever the shards hold."""
        before = (cursor or {}).get("before")
        found: list[dict[str, Any]] = []
        examined = 0
        while True:
            want = limit - len(found)
            entries: list[tuple[str, str]] = []  # (campaign_sk, message_id)
            exhausted = True
            for shard in campaign_shards(campaign_id):
                condition = "campaign_shard = :p"
                values: dict[str, Any] = {":p": {"S": shard}}
                if before:
                    condition += " AND campaign_sk < :b"
                    values[":b"] = {"S": before}
                response = self._query(
                    TableName=self._tables.messages,
                    IndexName=CAMPAIGN_INDEX,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ScanIndexForward=False,
                    Limit=want,
                )
                items = response.get("Items", [])
                entries.extend((i["campaign_sk"]["S"], i["message_id"]["S"]) for i in items)
                if response.get("LastEvaluatedKey") or len(items) >= want:
                    exhausted = False
            entries.sort(reverse=True)
            if len(entries) > want:
                exhausted = False  # entries beyond this round's take remain
            taken = entries[:want]
            if not taken:
                return found, None
            fetched = self._get_many(self._tables.messages, [{"message_id": {"S": mid}} for _, mid in taken])
            for _, mid in taken:
                item = fetched.get((mid,))
                if item is None or item.get("campaign_id") != campaign_id:
                    continue  # deleted meanwhile (erasure, TTL) or re-attributed
                if status and item.get("status") != status:
                    continue
                found.append(item)
            before = taken[-1][0]
            examined += len(taken)
            if exhausted:
                return found, None
            if len(found) >= limit or examined >= MAX_EXAMINED_PER_PAGE:
                return found, {"before": before}

    def recipient_messages(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        return self._recipient_page(self._tables.messages, recipient_hash, limit, cursor)

    def recipient_events(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        return _events_of_messages(
            lambda size, after: self._recipient_page(self._tables.messages, recipient_hash, size, after),
            lambda m: {
                "message_id": str(m["message_id"]),
                "recipient_hash": recipient_hash,
                "sent_at": str(m["sent_at"]),
            },
            limit,
            cursor,
        )

    def _recipient_page(self, table: str, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        """Newest first, through the table's ``recipient-index`` (it holds keys, so the page's items are then read
        with one BatchGetItem)."""
        entries, next_cursor = self._page(
            limit,
            cursor,
            TableName=table,
            IndexName=RECIPIENT_INDEX,
            KeyConditionExpression="recipient_hash = :h",
            ExpressionAttributeValues={":h": {"S": recipient_hash}},
            ScanIndexForward=False,
        )
        fetched = self._get_many(table, [{"message_id": {"S": str(e["message_id"])}} for e in entries])
        return [fetched[(str(e["message_id"]),)] for e in entries if (str(e["message_id"]),) in fetched], next_cursor

    def _all_keys(self, table: str, recipient_hash: str, attributes: list[str]) -> list[dict[str, Any]]:
        names = {f"#k{i}": a for i, a in enumerate(attributes)}
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": RECIPIENT_INDEX,
            "KeyConditionExpression": "recipient_hash = :h",
            "ExpressionAttributeValues": {":h": {"S": recipient_hash}},
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        keys: list[dict[str, Any]] = []
        while True:
            response = self._query(**kwargs)
            keys.extend({a: item[a] for a in attributes if a in item} for item in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                return keys
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def erase_recipient(self, recipient_hash: str) -> dict[str, int]:
        message_keys = self._all_keys(self._tables.messages, recipient_hash, ["message_id"])
        # every summary has ``sent_at`` (the ingestion engine sets it from the first event when no event carried the
        # send time), so the recipient-index finds them all; their history goes with them
        summaries = self._get_many(self._tables.messages, message_keys)
        events = sum(len(history_of(item)) for item in summaries.values())
        kwargs: dict[str, Any] = {} if self._sleep is None else {"sleep": self._sleep}
        if message_keys:
            self.requests += dynamo.batch_write(self._client, self._tables.messages, deletes=message_keys, **kwargs)
        return {"messages": len(message_keys), "events": events}


# --------------------------------------------------------------------------------------------------------------
# In-memory fake


@dataclass
class InMemoryTrackingReader:
    """Dict-backed ``TrackingReader``: items are plain dicts shaped like the DynamoDB items."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    campaigns: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: int = 0

    def add_campaign_item(self, item: dict[str, Any]) -> None:
        self.campaigns[(str(item["campaign_id"]), str(item["sk"]))] = item

    @staticmethod
    def _paginate(
        items: Iterable[dict[str, Any]], order: Callable[[dict[str, Any]], str], limit: int, cursor: Cursor
    ) -> Page:
        ordered = sorted(items, key=order, reverse=True)
        if cursor:
            mark = cursor.get("_pos", "")
            ordered = [i for i in ordered if order(i) < mark]
        page = ordered[:limit]
        next_cursor = {"_pos": order(page[-1])} if len(ordered) > len(page) else None
        return page, next_cursor

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        self.requests += 1
        return self.messages.get(message_id)

    def campaign_items(self, campaign_id: str) -> list[dict[str, Any]]:
        self.requests += 1
        return [item for (c, _), item in sorted(self.campaigns.items()) if c == campaign_id]

    def campaign_meta(self, campaign_id: str) -> dict[str, Any] | None:
        self.requests += 1
        return self.campaigns.get((campaign_id, META))

    def list_campaigns(self, limit: int, cursor: Cursor) -> Page:
        self.requests += 1
        metas = [i for (_, sk), i in self.campaigns.items() if sk == META and i.get("listing_pk") == LISTING_PK]
        return self._paginate(metas, lambda i: f"{i.get('created_at', '')}#{i['campaign_id']}", limit, cursor)

    def campaign_totals(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.requests += 1
        return {c: self.campaigns[(c, COUNTERS_TOTAL)] for c in campaign_ids if (c, COUNTERS_TOTAL) in self.campaigns}

    def campaign_messages(self, campaign_id: str, status: str | None, limit: int, cursor: Cursor) -> Page:
        self.requests += 1
        mine = sorted(
            (
                m
                for m in self.messages.values()
                if m.get("campaign_id") == campaign_id
                and "campaign_sk" in m
                and (not status or m.get("status") == status)
            ),
            key=lambda m: str(m["campaign_sk"]),
            reverse=True,
        )
        before = (cursor or {}).get("before")
        if before:
            mine = [m for m in mine if str(m["campaign_sk"]) < before]
        page = mine[:limit]
        return page, ({"before": str(page[-1]["campaign_sk"])} if len(mine) > limit else None)

    def recipient_messages(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        self.requests += 1
        mine = [m for m in self.messages.values() if m.get("recipient_hash") == recipient_hash and "sent_at" in m]
        return self._paginate(mine, lambda m: f"{m['sent_at']}#{m['message_id']}", limit, cursor)

    def recipient_events(self, recipient_hash: str, limit: int, cursor: Cursor) -> Page:
        return _events_of_messages(
            lambda size, after: self.recipient_messages(recipient_hash, size, after),
            lambda m: {"_pos": f"{m['sent_at']}#{m['message_id']}"},
            limit,
            cursor,
        )

    def erase_recipient(self, recipient_hash: str) -> dict[str, int]:
        ids = {mid for mid, m in self.messages.items() if m.get("recipient_hash") == recipient_hash}
        events = sum(len(history_of(self.messages[mid])) for mid in ids)
        for mid in ids:
            del self.messages[mid]
        return {"messages": len(ids), "events": events}
