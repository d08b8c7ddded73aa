"""The suppression list: who must never (or not for a while) be emailed again, per scope.

Table ``suppressions`` (docs/DESIGN.md): key ``recipient_hash`` (sha256 of the normalised address) + ``scope``
(``ALL`` | ``LIST#<list>`` | ``CAMPAIGN#<campaign>``; ``SOFTBOUNCE`` is the soft-bounce counter, never a
suppression). The plain ``email`` attribute is personal data and is removed by erasure; the hashed entry stays so the
person is never emailed again.

``SuppressionStore`` is the port; ``DynamoSuppressionStore`` the adapter over the low-level DynamoDB client and
``InMemorySuppressionStore`` the fake used by unit tests and other areas' tests. Both honour the same behaviour:

* ``suppressed`` answers "which of these recipients may not receive this send" over the ALL / LIST# / CAMPAIGN#
  scopes (in DynamoDB one eventually consistent ``Query`` of each address's partition, ``QUERY_WORKERS`` at a
  time), ignoring items whose TTL has passed but which DynamoDB has not deleted yet;
* ``put`` upserts (``created_at`` kept), ``delete`` overrides, ``erase`` strips personal data;
* ``record_unsubscribe`` writes an UNSUBSCRIBE suppression and the campaign's ``unsubscribed`` counters in one
  ``TransactWriteItems`` so the count happens exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

from runtime.stores import dynamo
from runtime.stores.schema import SOFTBOUNCE_SCOPE, CounterClock, iso, suppression_scope

Reason = Literal["BOUNCE", "COMPLAINT", "UNSUBSCRIBE", "MANUAL", "SOFT_BOUNCE"]
REASONS: tuple[str, ...] = get_args(Reason)
ALL_SCOPE = "ALL"
REASON_INDEX = "reason-index"
QUERY_WORKERS = 8  # a lookup's per-address Queries made at once (within botocore's 10 pooled connections)
# Order of precedence when a recipient is suppressed under several scopes (the broadest wins).
_SCOPE_ORDER = ("ALL", "LIST#", "CAMPAIGN#")

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SuppressionStoreError(RuntimeError):
    """A suppression write failed for a reason other than a transient one (bad input, unknown table)."""


@dataclass(frozen=True, slots=True)
class Suppression:
    recipient_hash: str
    scope: str = ALL_SCOPE
    reason: str = "MANUAL"
    email: str | None = None
    source_message_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    expires_at: int | None = None  # epoch seconds; only temporary (soft-bounce) suppressions have one
    erased_at: str | None = None  # set on the ALL entry by GDPR erasure: the sender then records no address

    @property
    def list_name(self) -> str | None:
        return self.scope.removeprefix("LIST#") if self.scope.startswith("LIST#") else None

    @property
    def campaign_id(self) -> str | None:
        return self.scope.removeprefix("CAMPAIGN#") if self.scope.startswith("CAMPAIGN#") else None

    def is_active(self, now_epoch: float) -> bool:
        """False once the TTL has passed (DynamoDB deletes expired items lazily, up to days later)."""
        return self.expires_at is None or self.expires_at > now_epoch

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (API responses)."""
        return {
            "recipient_hash": self.recipient_hash,
            "scope": self.scope,
            "reason": self.reason,
            "email": self.email,
            "source_message_id": self.source_message_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Suppression:
        expires = data.get("expires_at")
        return cls(
            recipient_hash=str(data["recipient_hash"]),
            scope=str(data.get("scope", ALL_SCOPE)),
            reason=str(data.get("reason", "MANUAL")),
            email=data.get("email"),
            source_message_id=data.get("source_message_id"),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            expires_at=int(expires) if expires is not None else None,
            erased_at=data.get("erased_at"),
        )


def scopes_for(list_name: str | None = None, campaign_id: str | None = None) -> list[str]:
    """The scope keys that can block a send attributed to ``list_name`` / ``campaign_id``."""
    scopes = [ALL_SCOPE]
    if list_name:
        scopes.append(suppression_scope("list", list_name=list_name))
    if campaign_id:
        scopes.append(suppression_scope("campaign", campaign_id=campaign_id))
    return scopes


def _precedence(scope: str) -> int:
    for rank, prefix in enumerate(_SCOPE_ORDER):
        if scope == prefix or (prefix.endswith("#") and scope.startswith(prefix)):
            return rank
    return len(_SCOPE_ORDER)


def _validate(suppression: Suppression) -> None:
    if suppression.reason not in REASONS:
        raise SuppressionStoreError(f"reason must be one of {', '.join(REASONS)}")
    if suppression.scope == SOFTBOUNCE_SCOPE or _precedence(suppression.scope) == len(_SCOPE_ORDER):
        raise SuppressionStoreError("scope must be ALL, LIST#<list> or CAMPAIGN#<campaign>")
    if len(suppression.recipient_hash) != 64:
        raise SuppressionStoreError("recipient_hash must be a sha256 hex digest")


class SuppressionStore(Protocol):
    def suppressed(
        self, recipient_hashes: Iterable[str], list_name: str | None = None, campaign_id: str | None = None
    ) -> dict[str, Suppression]:
        """Active suppressions blocking each recipient for this list/campaign (broadest scope wins)."""
        ...

    def get(self, recipient_hash: str, scope: str = ALL_SCOPE) -> Suppression | None: ...

    def put(self, suppression: Suppression) -> Suppression:
        """Upsert: reason/email/expiry replaced, ``created_at`` kept; returns the stored item."""
        ...

    def delete(self, recipient_hash: str, scope: str = ALL_SCOPE) -> bool:
        """Remove one suppression (manual override); True if something was deleted."""
        ...

    def list_for_recipient(self, recipient_hash: str) -> list[Suppression]:
        """Every suppression of a recipient (expired ones included, so GDPR access sees everything)."""
        ...

    def list_by_reason(
        self, reason: str, limit: int = 50, cursor: dict[str, str] | None = None
    ) -> tuple[list[Suppression], dict[str, str] | None]:
        """A page of suppressions with ``reason``, newest first, and the cursor of the next page (or None)."""
        ...

    def erase(self, recipient_hash: str, *, source: str | None = None) -> int:
        """Strip ``email`` from every item of the recipient and make sure a permanent ALL-scope entry exists.

        Returns the number of items touched. The entry's reason is kept if one exists (a temporary one becomes
        permanent), else it is MANUAL.
        """
        ...

    def record_unsubscribe(
        self,
        suppression: Suppression,
        counter_updates: Sequence[Mapping[str, Any]] = (),
        clocks: Sequence[CounterClock] = (),
    ) -> bool:
        """Write an UNSUBSCRIBE suppression unless a permanent one already holds that scope, together with the
        counter updates (``schema.counter_update`` dicts), atomically. True if written (and counted); then the
        counter items' times move on to ``clocks`` (never backwards: ``schema.counter_clock_updates``)."""
        ...


# --------------------------------------------------------------------------------------------------------------
# DynamoDB adapter


def _key(recipient_hash: str, scope: str) -> dict[str, Any]:
    return {"recipient_hash": {"S": recipient_hash}, "scope": {"S": scope}}


def _is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
        if reasons:
            return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) and all(
                r.get("Code") in ("None", "ConditionalCheckFailed", None) for r in reasons
            )
        return "ConditionalCheckFailed" in str(exc)
    return False


class DynamoSuppressionStore:
    """``SuppressionStore`` over a low-level DynamoDB client (``wiring.client("dynamodb", region)``)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._sleep = sleep
        self.requests = 0  # DynamoDB calls made (benchmarks and tests)

    @property
    def table_name(self) -> str:
        return self._table

    def suppressed(
        self, recipient_hashes: Iterable[str], list_name: str | None = None, campaign_id: str | None = None
    ) -> dict[str, Suppression]:
        hashes = list(dict.fromkeys(h for h in recipient_hashes if h))
        if not hashes:
            return {}
        scopes = scopes_for(list_name, campaign_id)
        # one eventually consistent Query per address (its partition: every scope and the SOFTBOUNCE item, a few
        # hundred bytes = half a read unit) instead of a strongly consistent read per scope (3 units): a suppression
        # written in the last second may be missed, as a send already in flight would miss it anyway
        names = {f":s{i}": {"S": scope} for i, scope in enumerate(scopes)}

        def partition(h: str) -> tuple[list[dict[str, Any]], int]:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "recipient_hash = :h",
                "FilterExpression": f"#scope IN ({', '.join(names)})",
                "ExpressionAttributeNames": {"#scope": "scope"},
                "ExpressionAttributeValues": {":h": {"S": h}, **names},
            }
            found: list[dict[str, Any]] = []
            requests = 0
            while True:
                requests += 1
                response = self._client.query(**kwargs)
                found.extend(response.get("Items", []))
                if not response.get("LastEvaluatedKey"):
                    return found, requests
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

        # the addresses' Queries are independent: made QUERY_WORKERS at a time (a 500-address batch then waits for
        # ~63 reads one after another, not 500); the first failure is raised once they are all done
        if len(hashes) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(QUERY_WORKERS, len(hashes)), thread_name_prefix="lookup") as pool:
                answers = list(pool.map(partition, hashes))
        else:
            answers = [partition(h) for h in hashes]
        items = [item for found, _ in answers for item in found]
        self.requests += sum(requests for _, requests in answers)
        now = self._clock().timestamp()
        found: dict[str, Suppression] = {}
        for raw in items:
            item = Suppression.from_plain(dynamo.from_item(raw))
            if not item.is_active(now):
                continue
            current = found.get(item.recipient_hash)
            if current is None or _precedence(item.scope) < _precedence(current.scope):
                found[item.recipient_hash] = item
        return found

    def get(self, recipient_hash: str, scope: str = ALL_SCOPE) -> Suppression | None:
        self.requests += 1
        response = self._client.get_item(TableName=self._table, Key=_key(recipient_hash, scope), ConsistentRead=True)
        raw = response.get("Item")
        if not raw:
            return None
        item = Suppression.from_plain(dynamo.from_item(raw))
        return item if item.is_active(self._clock().timestamp()) else None

    def put(self, suppression: Suppression) -> Suppression:
        _validate(suppression)
        now = iso(self._clock())
        names = {
            "#reason": "reason",
            "#created": "created_at",
            "#updated": "updated_at",
            "#exp": "expires_at",
        }
        values: dict[str, Any] = {":reason": {"S": suppression.reason}, ":now": {"S": now}}
        sets = ["#reason = :reason", "#created = if_not_exists(#created, :now)", "#updated = :now"]
        removes: list[str] = []
        if suppression.email:
            names["#email"] = "email"
            values[":email"] = {"S": suppression.email}
            sets.append("#email = :email")
        if suppression.source_message_id:
            names["#src"] = "source_message_id"
            values[":src"] = {"S": suppression.source_message_id}
            sets.append("#src = :src")
        if suppression.expires_at is not None:
            values[":exp"] = {"N": str(int(suppression.expires_at))}
            sets.append("#exp = :exp")
        else:
            removes.append("#exp")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.requests += 1
        response = self._client.update_item(
            TableName=self._table,
            Key=_key(suppression.recipient_hash, suppression.scope),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return Suppression.from_plain(dynamo.from_item(response["Attributes"]))

    def delete(self, recipient_hash: str, scope: str = ALL_SCOPE) -> bool:
        self.requests += 1
        response = self._client.delete_item(
            TableName=self._table, Key=_key(recipient_hash, scope), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def _query_all(self, recipient_hash: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "recipient_hash = :h",
            "ExpressionAttributeValues": {":h": {"S": recipient_hash}},
            "ConsistentRead": True,
        }
        while True:
            self.requests += 1
            response = self._client.query(**kwargs)
            items.extend(dynamo.from_item(raw) for raw in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_for_recipient(self, recipient_hash: str) -> list[Suppression]:
        return [
            Suppression.from_plain(item)
            for item in self._query_all(recipient_hash)
            if item.get("scope") != SOFTBOUNCE_SCOPE
        ]

    def list_by_reason(
        self, reason: str, limit: int = 50, cursor: dict[str, str] | None = None
    ) -> tuple[list[Suppression], dict[str, str] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": REASON_INDEX,
            "KeyConditionExpression": "#r = :r",
            "ExpressionAttributeNames": {"#r": "reason"},
            "ExpressionAttributeValues": {":r": {"S": reason}},
            "ScanIndexForward": False,
            "Limit": max(1, min(int(limit), 1000)),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {k: {"S": str(v)} for k, v in cursor.items()}
        self.requests += 1
        response = self._client.query(**kwargs)
        page = [Suppression.from_plain(dynamo.from_item(raw)) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = {k: str(dynamo.from_item({k: v})[k]) for k, v in last.items()} if last else None
        return page, next_cursor

    def erase(self, recipient_hash: str, *, source: str | None = None) -> int:
        touched = 0
        has_permanent_all = False
        for item in self._query_all(recipient_hash):
            scope = str(item["scope"])
            if scope == ALL_SCOPE and item.get("expires_at") is None:
                has_permanent_all = True
            if "email" in item:
                self.requests += 1
                self._client.update_item(
                    TableName=self._table,
                    Key=_key(recipient_hash, scope),
                    UpdateExpression="REMOVE #email",
                    ExpressionAttributeNames={"#email": "email"},
                )
                touched += 1
        # the ALL entry is (re)written even when a permanent one exists: ``erased_at`` tells the sender to record
        # messages it drops for this person without their address (queued or scheduled sends after the erasure)
        now = iso(self._clock())
        self.requests += 1
        self._client.update_item(
            TableName=self._table,
            Key=_key(recipient_hash, ALL_SCOPE),
            UpdateExpression=(
                "SET #reason = if_not_exists(#reason, :manual), #created = if_not_exists(#created, :now), "
                "#updated = :now, #erased = :now REMOVE #exp, #email"
            ),
            ExpressionAttributeNames={
                "#reason": "reason",
                "#created": "created_at",
                "#updated": "updated_at",
                "#erased": "erased_at",
                "#exp": "expires_at",
                "#email": "email",
            },
            ExpressionAttributeValues={":manual": {"S": "MANUAL"}, ":now": {"S": now}},
        )
        if not has_permanent_all:
            touched += 1
        return touched

    def record_unsubscribe(
        self,
        suppression: Suppression,
        counter_updates: Sequence[Mapping[str, Any]] = (),
        clocks: Sequence[CounterClock] = (),
    ) -> bool:
        _validate(suppression)
        now = self._clock()
        stamp = iso(now)
        item = {
            "recipient_hash": suppression.recipient_hash,
            "scope": suppression.scope,
            "reason": suppression.reason,
            "email": suppression.email,
            "source_message_id": suppression.source_message_id,
            "created_at": stamp,
            "updated_at": stamp,
        }
        put = {
            "Put": {
                "TableName": self._table,
                "Item": dynamo.to_item(item),
                # absent, or only a temporary (soft-bounce) suppression: an unsubscribe makes it permanent
                "ConditionExpression": "attribute_not_exists(recipient_hash) OR attribute_exists(expires_at)",
            }
        }
        transact = [put] + [{"Update": dict(update)} for update in counter_updates]
        self.requests += 1
        try:
            self._client.transact_write_items(TransactItems=transact)
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        if clocks:
            kwargs: dict[str, Any] = {} if self._sleep is None else {"sleep": self._sleep}
            self.requests += len(clocks)
            dynamo.advance_counter_clocks(self._client, clocks, **kwargs)
        return True


# --------------------------------------------------------------------------------------------------------------
# In-memory fake


@dataclass
class InMemorySuppressionStore:
    """Dict-backed ``SuppressionStore`` with the same semantics (expired items ignored, ``created_at`` kept)."""

    clock: Clock = _utcnow
    items: dict[tuple[str, str], Suppression] = field(default_factory=dict)
    counter_updates: list[Mapping[str, Any]] = field(default_factory=list)
    counter_clocks: list[CounterClock] = field(default_factory=list)
    batch_calls: int = 0

    def suppressed(
        self, recipient_hashes: Iterable[str], list_name: str | None = None, campaign_id: str | None = None
    ) -> dict[str, Suppression]:
        hashes = list(dict.fromkeys(h for h in recipient_hashes if h))
        scopes = scopes_for(list_name, campaign_id)
        self.batch_calls += -(-len(hashes) * len(scopes) // dynamo.BATCH_GET_LIMIT)
        now = self.clock().timestamp()
        found: dict[str, Suppression] = {}
        for h in hashes:
            for scope in scopes:  # broadest first
                item = self.items.get((h, scope))
                if item is not None and item.is_active(now):
                    found[h] = item
                    break
        return found

    def get(self, recipient_hash: str, scope: str = ALL_SCOPE) -> Suppression | None:
        item = self.items.get((recipient_hash, scope))
        return item if item is not None and item.is_active(self.clock().timestamp()) else None

    def put(self, suppression: Suppression) -> Suppression:
        _validate(suppression)
        now = iso(self.clock())
        old = self.items.get((suppression.recipient_hash, suppression.scope))
        stored = replace(
            suppression,
            email=suppression.email or (old.email if old else None),
            source_message_id=suppression.source_message_id or (old.source_message_id if old else None),
            created_at=old.created_at if old and old.created_at else now,
            updated_at=now,
            erased_at=old.erased_at if old else None,
        )
        self.items[(stored.recipient_hash, stored.scope)] = stored
        return stored

    def delete(self, recipient_hash: str, scope: str = ALL_SCOPE) -> bool:
        return self.items.pop((recipient_hash, scope), None) is not None

    def list_for_recipient(self, recipient_hash: str) -> list[Suppression]:
        return sorted((s for (h, _), s in self.items.items() if h == recipient_hash), key=lambda s: s.scope)

    def list_by_reason(
        self, reason: str, limit: int = 50, cursor: dict[str, str] | None = None
    ) -> tuple[list[Suppression], dict[str, str] | None]:
        ordered = sorted(
            (s for s in self.items.values() if s.reason == reason),
            key=lambda s: (s.created_at or "", s.recipient_hash, s.scope),
            reverse=True,
        )
        if cursor:
            mark = (cursor.get("created_at", ""), cursor.get("recipient_hash", ""), cursor.get("scope", ""))
            ordered = [s for s in ordered if (s.created_at or "", s.recipient_hash, s.scope) < mark]
        page = ordered[: max(1, limit)]
        if len(ordered) > len(page):
            last = page[-1]
            return page, {
                "reason": reason,
                "created_at": last.created_at or "",
                "recipient_hash": last.recipient_hash,
                "scope": last.scope,
            }
        return page, None

    def erase(self, recipient_hash: str, *, source: str | None = None) -> int:
        touched = 0
        for key, item in list(self.items.items()):
            if key[0] == recipient_hash and item.email is not None:
                self.items[key] = replace(item, email=None)
                touched += 1
        current = self.items.get((recipient_hash, ALL_SCOPE))
        now = iso(self.clock())
        if current is None or current.expires_at is not None:
            self.items[(recipient_hash, ALL_SCOPE)] = Suppression(
                recipient_hash=recipient_hash,
                scope=ALL_SCOPE,
                reason=current.reason if current else "MANUAL",
                source_message_id=current.source_message_id if current else None,
                created_at=current.created_at if current else now,
                updated_at=now,
                erased_at=now,
            )
            touched += 1
        else:
            self.items[(recipient_hash, ALL_SCOPE)] = replace(current, updated_at=now, erased_at=now)
        return touched

    def record_unsubscribe(
        self,
        suppression: Suppression,
        counter_updates: Sequence[Mapping[str, Any]] = (),
        clocks: Sequence[CounterClock] = (),
    ) -> bool:
        _validate(suppression)
        old = self.items.get((suppression.recipient_hash, suppression.scope))
        if old is not None and old.expires_at is None:
            return False
        now = iso(self.clock())
        self.items[(suppression.recipient_hash, suppression.scope)] = replace(
            suppression, created_at=now, updated_at=now, expires_at=None
        )
        self.counter_updates.extend(counter_updates)
        self.counter_clocks.extend(clocks)
        return True
