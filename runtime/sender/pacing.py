"""Pacing: never more than the account's MaxSendRate recipients in any one-second window, across every concurrent
Lambda, and never past the daily quota (or the IP warm-up cap).

Mechanism: **sharded sliding-window reservation logs** in the control table (items ``RATE#<region>[#<shard>]`` /
``WINDOW``, keys in ``runtime.stores.schema``). The rate R is split over ``shard_count(R)`` shards (one per 50/s, at
most 20), each pacing ``R / shards``: the shards' windows sum to at most R, and every shard's window still fits SES's
largest message (50 recipients). A sender reserves on a random shard and, when that shard has no room within
``PROMPT`` seconds, looks at up to ``PROBES`` shards and takes the earliest: at 1,000/s twenty concurrent senders
rarely meet on one item (``bench.contention``), where one shared item conflicted on most writes.

Each shard: a sender asks for up to ``want`` recipients; ``plan`` finds the earliest instant ``t`` (not before the last
reservation) at which the reservations in ``(t - 1 s, t]`` leave room, grants what fits, appends ``(t, granted)``
and the caller sleeps until ``t`` before calling SES. Because reservations are appended in time order, the window
ending at ``t`` is the fullest window containing ``t``, so **every** one-second window holds at most ``floor(R)``
recipients — a token bucket would allow up to twice that after an idle period. Reservations in the future mean
waiting callers never poll. The read-modify-write is a conditional put on a ``version`` attribute (optimistic
concurrency), retried on conflict; a cold container's first reservation writes what an idle shard would give in one
conditional update instead (``DynamoRateStore``). docs/sending.md explains why this was chosen over reserved
concurrency.

Each shard carries its part of the UTC day's send count. The daily cap (and SES's ``SentLast24Hours``) is split over
the shards in whole parts that sum to it (``share``), so the shards' grants never sum past the cap; a sender whose
shard has spent its part looks at the others before reporting the quota exhausted. The day's count is the sum over
the shards (``day_count``).

**Blocks**: the consumer reserves once for all the single-recipient calls of a batch and makes them at the granted
instant concurrently (``SenderConfig.parallel_sends``), as one SendBulkEmail would be: a reservation per batch, not
per email, is what lets single-recipient traffic reach the configured rate.

Idempotency: every reservation carries an id (``Reservation.id``, kept in its log entry), so a write whose answer was
lost and that botocore or the caller sent again is recognised (the re-sent conditional put fails, the re-read log
holds the id: that reservation is returned instead of a second one). What SES did not accept (throttled, rejected,
failed over) is given back with ``settle``: one transaction that writes a ``SETTLE#<id>`` marker (so a retried
settlement is applied once) and subtracts the unused recipients from the day's count — so the daily count equals
the emails SES accepted (plus those whose answer was lost, which may have been sent).
"""

from __future__ import annotations

import functools
import math
import random
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from runtime.logs import get_logger
from runtime.stores import dynamo, schema
from runtime.stores.schema import parse_time

log = get_logger(__name__)

WINDOW = 1.0
_EPS = 1e-6
WARMUP_DAYS = 30
WARMUP_FIRST_DAY = 50
SETTLE_TTL_SECONDS = 2 * 86_400
SHARD_RATE = 50.0  # recipients/s per shard: SES's largest message (50 recipients) always fits a shard's window
MAX_SHARDS = 20
PROBES = 3  # shards a sender looks at before taking the earliest grant
PROMPT = 0.05  # a grant this soon is taken without looking at other shards (seconds)

Entry = tuple[float, int, str]  # (when, recipients, reservation id)


def shard_count(rate: float) -> int:
    """Shards pacing ``rate`` recipients/s: one per ``SHARD_RATE``, at least 1, at most ``MAX_SHARDS``."""
    return max(1, min(MAX_SHARDS, math.floor(rate / SHARD_RATE + _EPS)))


def share(total: int, shards: int, shard: int) -> int:
    """Shard ``shard``'s part of ``total`` split over ``shards``: the parts sum to ``total`` exactly."""
    return total // shards + (1 if shard < total % shards else 0)


# Plan, Reservation, InMemoryRateStore and Pacer are plain classes, not dataclasses: every sender cold start builds
# them at import, and a dataclass compiles its generated methods then (~0.3-0.5 ms a class). None is compared.


class Plan:
    __slots__ = ("at", "entries", "granted")

    def __init__(self, at: float, granted: int, entries: tuple[Entry, ...]) -> None:
        self.at = at  # when the granted recipients may be sent (epoch seconds)
        self.granted = granted
        self.entries = entries  # the new log


def plan(
    entries: Sequence[tuple[float, int] | Entry],
    now: float,
    want: int,
    minimum: int,
    rate: float,
    max_ahead: float,
    reservation_id: str = "",
) -> Plan | None:
    """Earliest reservation for ``minimum..want`` recipients, or None if it would start later than ``max_ahead``.

    ``entries`` is the log of (time, count[, id]) reservations in time order. A single unit larger than the whole
    window (``minimum > floor(rate)``) is allowed alone in an otherwise empty window.
    """
    cap = max(1, math.floor(rate * WINDOW + _EPS))
    live: list[Entry] = [(e[0], e[1], e[2] if len(e) > 2 else "") for e in entries if e[0] > now - WINDOW]
    t = max(now, live[-1][0] if live else now)
    while True:
        window = [e for e in live if e[0] > t - WINDOW + _EPS / 2]
        used = sum(e[1] for e in window)
        free = cap - used
        if free >= minimum or (not window and minimum > cap):
            break
        t = window[0][0] + WINDOW + _EPS
    if t - now > max_ahead:
        return None
    granted = max(minimum, min(want, free)) if free >= minimum else minimum
    return Plan(t, granted, (*live, (round(t, 6), granted, reservation_id)))


class Reservation:
    __slots__ = ("at", "day", "exhausted", "granted", "id", "shard", "wait")

    def __init__(
        self,
        at: float = 0.0,
        granted: int = 0,
        exhausted: bool = False,  # daily quota (or warm-up cap) reached: leave the messages queued
        wait: float = 0.0,  # when not granted and not exhausted: how long until capacity (defer the work)
        id: str = "",  # the reservation's id (its log entry; what ``settle`` refers to)
        day: str = "",  # the UTC day whose count holds it
        shard: int = 0,  # the pacing shard whose log and day count hold it
    ) -> None:
        self.at = at
        self.granted = granted
        self.exhausted = exhausted
        self.wait = wait
        self.id = id
        self.day = day
        self.shard = shard

    def on_shard(self, shard: int) -> Reservation:
        """The same reservation, held by ``shard``."""
        return Reservation(self.at, self.granted, self.exhausted, self.wait, self.id, self.day, shard)

    def __repr__(self) -> str:
        return (
            f"Reservation(at={self.at!r}, granted={self.granted!r}, exhausted={self.exhausted!r}, wait={self.wait!r},"
            f" id={self.id!r}, day={self.day!r}, shard={self.shard!r})"
        )


def new_reservation_id() -> str:
    return uuid.uuid4().hex[:12]


class RateStore(Protocol):
    def reserve(
        self,
        region: str,
        *,
        now: float,
        want: int,
        minimum: int,
        rate: float,
        daily_cap: float | None,
        already_sent: int,
        max_ahead: float,
        reservation_id: str = "",
        shard: int = 0,
    ) -> Reservation: ...

    def settle(self, region: str, *, reservation_id: str, unused: int, day: str, now: float, shard: int = 0) -> bool:
        """Give ``unused`` recipients of a reservation back to the day's count, once; True when applied now."""
        ...


def _find(entries: Sequence[tuple[float, int] | Entry], reservation_id: str) -> Entry | None:
    if not reservation_id:
        return None
    for entry in entries:
        if len(entry) > 2 and entry[2] == reservation_id:
            return entry
    return None


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


def _decide(
    state: dict[str, Any],
    *,
    now: float,
    want: int,
    minimum: int,
    rate: float,
    daily_cap: float | None,
    already_sent: int,
    max_ahead: float,
    reservation_id: str = "",
) -> tuple[Reservation, dict[str, Any] | None]:
    """Pure decision on the stored state; returns the reservation and the new state (None = unchanged).

    A state whose log already holds ``reservation_id`` (an earlier write of this very reservation was applied) returns
    that reservation unchanged."""
    day = _day(now)
    mine = _find(state.get("entries", ()), reservation_id)
    if mine is not None:
        return Reservation(at=mine[0], granted=mine[1], id=reservation_id, day=str(state.get("day") or day)), None
    day_sent = int(state.get("day_sent", 0)) if state.get("day") == day else 0
    if daily_cap is not None:
        left = math.floor(daily_cap) - max(day_sent, already_sent)
        if left < minimum:
            return Reservation(exhausted=True), None
        want = min(want, left)
    entries = state.get("entries", ())
    p = plan(entries, now, want, minimum, rate, max_ahead, reservation_id)
    if p is None:  # how long until there is room (the caller may look elsewhere, or defer the work)
        later = plan(entries, now, want, minimum, rate, math.inf)
        return Reservation(wait=later.at - now if later is not None else max_ahead), None
    return Reservation(at=p.at, granted=p.granted, id=reservation_id, day=day), {
        "entries": p.entries,
        "day": day,
        "day_sent": day_sent + p.granted,
    }


class InMemoryRateStore:
    """One process's shared state (tests, the bench, and the local stack's single consumer)."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}  # "<region>#<shard>" -> state
        self.settled: set[str] = set()
        self.calls = 0

    def reserve(
        self,
        region: str,
        *,
        now: float,
        want: int,
        minimum: int,
        rate: float,
        daily_cap: float | None,
        already_sent: int,
        max_ahead: float,
        reservation_id: str = "",
        shard: int = 0,
    ) -> Reservation:
        self.calls += 1
        key = schema.rate_pk(region, shard)
        result, new_state = _decide(
            self.states.get(key, {}),
            now=now,
            want=want,
            minimum=minimum,
            rate=rate,
            daily_cap=daily_cap,
            already_sent=already_sent,
            max_ahead=max_ahead,
            reservation_id=reservation_id,
        )
        if new_state is not None:
            self.states[key] = new_state
        return result.on_shard(shard) if result.granted else result

    def settle(self, region: str, *, reservation_id: str, unused: int, day: str, now: float, shard: int = 0) -> bool:
        key = schema.rate_pk(region, shard)
        if unused <= 0 or not reservation_id or f"{key}/{reservation_id}" in self.settled:
            return False
        self.calls += 1
        self.settled.add(f"{key}/{reservation_id}")
        state = self.states.get(key)
        if state is None or state.get("day") != day:
            return False
        state["day_sent"] = int(state.get("day_sent", 0)) - unused
        return True

    def day_count(self, region: str, day: str) -> int:
        """The day's send count: the sum over the region's shards."""
        return sum(
            int(state.get("day_sent", 0))
            for shard in range(MAX_SHARDS)
            if (state := self.states.get(schema.rate_pk(region, shard))) is not None and state.get("day") == day
        )


class RateContentionError(RuntimeError):
    """The shared rate item kept changing under us (transient: retry the batch)."""


class DynamoRateStore:
    """Each pacing shard's reservation log as one control-table item, updated with optimistic concurrency.

    A reservation reads the shard's item (strongly consistent), decides, and writes it back on the condition that
    its ``version`` did not move. The store's **first** reservation (a cold start's: it knows nothing of the shard)
    skips the read instead: it writes the reservation it would make on an *idle* shard — today's item with no
    reservation in the last second, or no item yet — as one conditional ``UpdateItem`` that holds only if the item
    is that (``last_at``, its newest reservation, at least a second old; the day's count leaving room for the grant).
    Then the decision on the stored item would have been the same, so one write replaces a read and a write. When
    the condition fails, the answer carries the item as stored (``ReturnValuesOnConditionCheckFailure``) and the
    usual decide-and-write goes on from it: two calls, as before. Only the first reservation guesses: a busy shard
    would refuse most guesses, and a refused write costs a write unit where the read costs half a read unit.
    ``assume_idle_first=False`` always reads first.

    A lost answer of the guessed write is recognised like the put's: the write sent again fails its condition (its
    own reservation is now the newest, less than a second old) and the item in the answer holds its id."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        attempts: int = 20,
        sleep: Callable[[float], None] = time.sleep,
        assume_idle_first: bool = True,
    ) -> None:
        self._client = client
        self._table = table_name
        self._attempts = attempts
        self._sleep = sleep
        self._assume_idle = assume_idle_first

    @staticmethod
    def _key(region: str, shard: int = 0) -> dict[str, Any]:
        return {"pk": {"S": schema.rate_pk(region, shard)}, "sk": {"S": schema.RATE_WINDOW_SK}}

    def reserve(
        self,
        region: str,
        *,
        now: float,
        want: int,
        minimum: int,
        rate: float,
        daily_cap: float | None,
        already_sent: int,
        max_ahead: float,
        reservation_id: str = "",
        shard: int = 0,
    ) -> Reservation:
        key = self._key(region, shard)
        decision: dict[str, Any] = {
            "now": now,
            "want": want,
            "minimum": minimum,
            "rate": rate,
            "daily_cap": daily_cap,
            "already_sent": already_sent,
            "max_ahead": max_ahead,
            "reservation_id": reservation_id,
        }
        stored: dict[str, Any] | None = None  # the item as a refused write's answer gave it (no read needed)
        if self._assume_idle:
            self._assume_idle = False
            guessed = self._reserve_if_idle(key, **decision)
            if isinstance(guessed, Reservation):
                return guessed.on_shard(shard)
            stored = guessed
        for _ in range(self._attempts):
            item = stored
            if item is None:
                item = dynamo.with_retries(
                    lambda: self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True),
                    sleep=self._sleep,
                ).get("Item")
            stored = None
            version = int(item["version"]["N"]) if item and "version" in item else None
            state: dict[str, Any] = {}
            if item:
                state = {
                    "entries": _parse_entries(item.get("log", {}).get("S", "")),
                    "day": item.get("day", {}).get("S", ""),
                    "day_sent": int(item.get("day_sent", {}).get("N", "0")),
                }
            result, new_state = _decide(state, **decision)
            if result.granted:
                result = result.on_shard(shard)
            if new_state is None:
                return result
            new_item = {
                **key,
                "log": {"S": _format_entries(new_state["entries"])},
                "last_at": {"N": _time_n(new_state["entries"][-1][0])},
                "day": {"S": new_state["day"]},
                "day_sent": {"N": str(new_state["day_sent"])},
                "version": {"N": str((version or 0) + 1)},
                "expires_at": {"N": str(int(now) + 3 * 86_400)},
            }
            condition: dict[str, Any]
            if version is None:
                condition = {"ConditionExpression": "attribute_not_exists(pk)"}
            else:
                condition = {
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(version)}},
                }
            try:
                # a re-sent put (lost answer) fails its condition: the next read finds the reservation's id
                put = functools.partial(self._client.put_item, TableName=self._table, Item=new_item, **condition)
                dynamo.with_retries(put, sleep=self._sleep)
            except Exception as exc:  # botocore ClientError
                if dynamo.error_code(exc) == "ConditionalCheckFailedException":
                    continue
                raise
            return result
        raise RateContentionError(f"rate item {key['pk']['S']} changed {self._attempts} times in a row")

    def _reserve_if_idle(
        self, key: dict[str, Any], *, now: float, daily_cap: float | None, **decision: Any
    ) -> Reservation | dict[str, Any] | None:
        """The reservation an idle shard gives, written in one conditional UpdateItem that holds only if the shard
        is idle: the reservation, or the item as stored when it is not (None: not known, read it)."""
        day = _day(now)
        result, new_state = _decide({"day": day}, now=now, daily_cap=daily_cap, **decision)
        if new_state is None:  # nothing to write even on an idle shard (the cap): the stored item decides
            return None
        entries = new_state["entries"]
        values: dict[str, Any] = {
            ":log": {"S": _format_entries(entries)},
            ":last": {"N": _time_n(entries[-1][0])},
            ":day": {"S": day},
            ":granted": {"N": str(result.granted)},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":expires": {"N": str(int(now) + 3 * 86_400)},
            # no reservation after this instant: none is in the window ``plan`` looks at (rounded down: stricter)
            ":idle": {"N": _time_n(math.floor((now - WINDOW) * 1e6) / 1e6)},
        }
        condition = "#day = :day AND last_at <= :idle"
        if daily_cap is not None:  # the day's count leaves room for the grant (``_decide``'s ``left``)
            condition += " AND day_sent <= :room"
            values[":room"] = {"N": str(math.floor(daily_cap) - result.granted)}
        request = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": (
                "SET #log = :log, last_at = :last, #day = :day, expires_at = :expires, "
                "version = if_not_exists(version, :zero) + :one ADD day_sent :granted"
            ),
            "ConditionExpression": f"attribute_not_exists(pk) OR ({condition})",
            "ExpressionAttributeNames": {"#log": "log", "#day": "day"},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            dynamo.with_retries(lambda: self._client.update_item(**request), sleep=self._sleep)
        except Exception as exc:  # botocore ClientError
            if dynamo.error_code(exc) == "ConditionalCheckFailedException":
                stored = (getattr(exc, "response", None) or {}).get("Item")
                return stored if isinstance(stored, dict) and stored else None
            raise
        return result

    def settle(self, region: str, *, reservation_id: str, unused: int, day: str, now: float, shard: int = 0) -> bool:
        if unused <= 0 or not reservation_id:
            return False
        key = self._key(region, shard)
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": key["pk"],
                        "sk": {"S": schema.rate_settle_sk(reservation_id)},
                        "unused": {"N": str(unused)},
                        "expires_at": {"N": str(int(now) + SETTLE_TTL_SECONDS)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "UpdateExpression": "ADD day_sent :neg, version :one",
                    "ConditionExpression": "#day = :day",
                    "ExpressionAttributeNames": {"#day": "day"},
                    "ExpressionAttributeValues": {":neg": {"N": str(-unused)}, ":one": {"N": "1"}, ":day": {"S": day}},
                }
            },
        ]
        token = str(uuid.uuid4())  # every retry of this settlement: DynamoDB applies it once
        for attempt in range(self._attempts):
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
                return True
            except Exception as exc:
                code = dynamo.error_code(exc)
                if code == "TransactionCanceledException":
                    reasons = dynamo.cancellation_reasons(exc)
                    if "ConditionalCheckFailed" in reasons:
                        return False  # settled already, or the day (and its count) has moved on
                elif not dynamo.is_transient(exc):
                    raise
                self._sleep(min(0.05 * 2**attempt, 1.0))
        raise RateContentionError(f"settling reservation {reservation_id} on {key['pk']['S']} kept failing")

    def day_count(self, region: str, day: str) -> int:
        """The day's send count: the sum over the region's shards (one BatchGetItem; operators and tests)."""
        request: dict[str, Any] = {
            self._table: {"Keys": [self._key(region, shard) for shard in range(MAX_SHARDS)], "ConsistentRead": True}
        }
        items: list[dict[str, Any]] = []
        for attempt in range(self._attempts):
            response = self._client.batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(self._table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            self._sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise RateContentionError(f"reading the day count of {region} kept being throttled")
        return sum(int(i.get("day_sent", {}).get("N", "0")) for i in items if i.get("day", {}).get("S") == day)


def _parse_entries(text: str) -> list[Entry]:
    out: list[Entry] = []
    for part in text.split(","):
        if part:
            t, n, ident = ([*part.split(":", 2), ""])[:3]
            out.append((float(t), int(n), ident))
    return out


def _time_n(t: float) -> str:
    """A reservation instant as a DynamoDB number, as the log writes it (microseconds)."""
    return f"{t:.6f}"


def _format_entries(entries: Sequence[Entry]) -> str:
    return ",".join(f"{t:.6f}:{n}:{ident}" if ident else f"{t:.6f}:{n}" for t, n, ident in entries)


class AccountLimitsUnavailableError(RuntimeError):
    """GetAccount failed and no send rate is configured: the account's limits are unknown."""


@dataclass(frozen=True, slots=True)
class AccountLimits:
    max_send_rate: float
    max_24_hour_send: float | None  # None = unknown or unlimited
    sent_last_24_hours: int = 0


RecordedLimits = tuple[float, AccountLimits]  # (when GetAccount answered, epoch seconds; the limits it gave)


def recorded_limits(snapshot: Mapping[str, Any] | None, region: str) -> RecordedLimits | None:
    """``region``'s account limits as the per-minute check recorded them in its reputation snapshot (its
    ``regions[]`` hold each region's GetAccount answer, ``taken_at`` when; ``runtime.reputation.service``), or None
    when the snapshot is missing, the region absent or its GetAccount failed there."""
    if not snapshot:
        return None
    try:
        taken_at = parse_time(str(snapshot["taken_at"])).timestamp()
        doc = next(d for d in snapshot.get("regions") or () if isinstance(d, dict) and d.get("region") == region)
        rate = float(doc.get("max_send_rate") or 0)
        max24 = float(doc.get("max_24h_send") or 0)
        sent = int(float(doc.get("sent_last_24h") or 0))
    except (KeyError, StopIteration, TypeError, ValueError):
        return None
    if doc.get("error") or rate <= 0:
        return None
    return taken_at, AccountLimits(rate, max24 if max24 > 0 else None, sent)


class AccountLimitsProvider:
    """The account's limits per region, cached for ``ttl`` seconds; ``SESAME_MAX_SEND_RATE`` overrides the rate.

    ``recorded`` (optional): the limits the per-minute check recorded for a region with their time
    (``recorded_limits`` over the control table's reputation snapshot: one ``GetItem``, where ``GetAccount`` is an
    SES call several times slower on a cold start); used when at most ``ttl`` old — the same staleness the cache
    already allows — and ``GetAccount`` is called when they are older, missing, or cannot be read. A failed
    GetAccount without the override is an error (``AccountLimitsUnavailableError``): the sender then sends nothing
    and re-enqueues, rather than guessing the sandbox's 1/s."""

    def __init__(
        self,
        ses_client: Callable[[str], Any],
        *,
        override_rate: float | None = None,
        clock: Callable[[], float] = time.time,
        ttl: float = 300.0,
        recorded: Callable[[str], RecordedLimits | None] | None = None,
    ) -> None:
        self._client = ses_client
        self._override = override_rate
        self._clock = clock
        self._ttl = ttl
        self._recorded = recorded
        self._cache: dict[str, tuple[float, AccountLimits]] = {}
        self._ahead: dict[str, RecordedLimits | None] = {}  # read_ahead's answers, for the next get()

    def read_needed(self, region: str) -> bool:
        """Whether ``get(region)`` would read the recorded limits (not cached, not read ahead)."""
        cached = self._cache.get(region)
        fresh = cached is not None and self._clock() - cached[0] < self._ttl
        return self._recorded is not None and not fresh and region not in self._ahead

    def read_ahead(self, region: str) -> None:
        """Read the recorded limits now, for the next ``get(region)`` (a caller with other reads to make first makes
        this one with them). ``get`` then uses them, or calls GetAccount at once when they were missing, old or
        unreadable — one recorded read either way, as without reading ahead. Never raises."""
        self._ahead[region] = self._read_recorded(region, self._clock())

    def get(self, region: str) -> AccountLimits:
        now = self._clock()
        cached = self._cache.get(region)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        if region in self._ahead:  # read ahead (a miss there goes to GetAccount, as a miss here does)
            found = self._ahead.pop(region)
            if found is not None and not -self._ttl < now - found[0] < self._ttl:
                found = None
        else:
            found = self._read_recorded(region, now)
        if found is not None:
            self._cache[region] = found
            return found[1]
        limits = self._fetch(region)
        self._cache[region] = (now, limits)
        return limits

    def _read_recorded(self, region: str, now: float) -> RecordedLimits | None:
        if self._recorded is None:
            return None
        try:
            found = self._recorded(region)
        except Exception as exc:  # the control table unreadable: GetAccount decides
            log.warning("recorded account limits unreadable", extra={"region": region, "error": type(exc).__name__})
            return None
        if found is None or not -self._ttl < now - found[0] < self._ttl:
            return None  # missing, or older than the cache would keep them (or from a clock far ahead)
        at, limits = found
        if self._override is not None:
            limits = replace(limits, max_send_rate=self._override)
        return at, limits

    def _fetch(self, region: str) -> AccountLimits:
        try:
            quota = self._client(region).get_account()["SendQuota"]
        except Exception as exc:  # no permission, or SES down: an error unless the rate is configured
            if self._override is None:
                log.error(
                    "GetAccount failed; nothing is sent in this region", extra={"region": region, "error": str(exc)}
                )
                raise AccountLimitsUnavailableError(f"SES GetAccount failed in {region}") from exc
            return AccountLimits(self._override, None)
        max24 = float(quota.get("Max24HourSend", 0) or 0)
        rate = float(self._override or quota.get("MaxSendRate") or 1.0)
        return AccountLimits(rate, max24 if max24 > 0 else None, int(quota.get("SentLast24Hours", 0) or 0))


def warmup_cap(start: str, today: date, target: float | None, held_days: int = 0) -> float | None:
    """Daily cap on day ``today`` of a 30-day IP warm-up that began on ``start`` (ISO date); None when not warming.

    Geometric ramp from 50 on day 0 to ``target`` (the daily quota, or 1,000,000 when unknown) on day 29.
    ``held_days``: the days since ``start`` on which the ramp held (a guardrail had paused a configuration set of
    the warm-up pool); they do not count, so the ramp stays on its step instead of advancing.
    """
    if not start:
        return None
    first = date.fromisoformat(start[:10])
    day = (today - first).days - max(0, held_days)
    if day < 0:
        return float(WARMUP_FIRST_DAY)
    if day >= WARMUP_DAYS:
        return None
    goal = max(float(WARMUP_FIRST_DAY), target or 1_000_000.0)
    return float(round(WARMUP_FIRST_DAY * (goal / WARMUP_FIRST_DAY) ** (day / (WARMUP_DAYS - 1))))


class Pacer:
    """Asks the shared store for capacity and waits until the granted instant.

    ``warmup_held``: the days (ISO dates) the warm-up ramp held (runtime.stores.reputation ``warmup_held_days``); read
    at most every ``held_ttl`` seconds, and a failed read keeps the last count (the ramp is a guard, not the quota)."""

    def __init__(
        self,
        store: RateStore,
        limits: AccountLimitsProvider,
        headroom: float = 0.02,
        warmup_start: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 20.0,
        rng: random.Random | None = None,
        warmup_held: Callable[[], Collection[str]] = frozenset,
        held_ttl: float = 300.0,
    ) -> None:
        self.store = store
        self.limits = limits
        self.headroom = headroom
        self.warmup_start = warmup_start
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.rng = rng if rng is not None else random.Random()
        self.warmup_held = warmup_held
        self.held_ttl = held_ttl
        self._held: tuple[float, int] | None = None

    def held_days(self) -> int:
        now = self.clock()
        if self._held is not None and now - self._held[0] < self.held_ttl:
            return self._held[1]
        try:
            start = self.warmup_start[:10]
            count = sum(1 for day in self.warmup_held() if day >= start)  # a previous warm-up's holds do not count
        except Exception as exc:
            log.warning("could not read the warm-up hold days", extra={"error": type(exc).__name__})
            count = self._held[1] if self._held is not None else 0
        self._held = (now, count)
        return count

    def reads_ahead(self, region: str) -> list[Callable[[], Any]]:
        """The DynamoDB reads ``acquire(region)`` would start with and that depend on nothing else: the recorded
        account limits and the warm-up hold days, when not cached. A caller with other reads to make first makes
        these at the same time (``SenderConsumer`` with its control and suppression reads), so a cold start waits for
        one round trip instead of one more per read. Neither raises (a failed read is handled as ``acquire`` handles
        it), and ``acquire`` uses their answers; GetAccount, when the recorded limits are missing or old, is still
        called by ``acquire`` itself."""
        reads: list[Callable[[], Any]] = []
        if self.limits.read_needed(region):
            reads.append(functools.partial(self.limits.read_ahead, region))
        if self.warmup_start and (self._held is None or self.clock() - self._held[0] >= self.held_ttl):
            reads.append(self.held_days)
        return reads

    def daily_cap(self, region: str, limits: AccountLimits, *, warmup: bool = True) -> float | None:
        """The day's cap: the quota less the headroom and, with ``warmup`` (a send through the warm-up pool), at most
        the ramp's step for today."""
        cap = limits.max_24_hour_send * (1 - self.headroom) if limits.max_24_hour_send is not None else None
        if not warmup or not self.warmup_start:
            return cap
        today = datetime.fromtimestamp(self.clock(), tz=UTC).date()
        ramp = warmup_cap(self.warmup_start, today, cap, self.held_days())
        if ramp is not None:
            cap = ramp if cap is None else min(cap, ramp)
        return cap

    def acquire(self, region: str, want: int, minimum: int = 1, *, warmup: bool = True) -> Reservation:
        """Reserve ``minimum..want`` recipients and sleep until they may be sent.

        ``warmup``: the recipients go through a configuration set of the warm-up pool, so the ramp caps them too;
        transactional sends pass False and are capped by the quota only.

        Looks at a random shard first; when it has no room within ``PROMPT`` seconds, at up to ``PROBES`` shards
        (reads only: a shard is written only when its grant is taken), then takes the earliest grant. A shard whose
        part of the daily cap is spent is skipped; the quota is exhausted only when every shard's part is."""
        limits = self.limits.get(region)
        shards = shard_count(limits.max_send_rate)
        cap = self.daily_cap(region, limits, warmup=warmup)
        rate = limits.max_send_rate / shards
        reservation_id = new_reservation_id()

        def ask(shard: int, max_ahead: float) -> Reservation:
            return self.store.reserve(
                region,
                now=self.clock(),
                want=want,
                minimum=minimum,
                rate=rate,
                daily_cap=None if cap is None else share(math.floor(cap), shards, shard),
                already_sent=share(limits.sent_last_24_hours, shards, shard),
                max_ahead=max_ahead,
                reservation_id=reservation_id,
                shard=shard,
            )

        if shards == 1:
            reservation = ask(0, self.max_wait)
        else:
            reservation = Reservation(exhausted=True)  # what is left when every shard's part of the day is spent
            best: tuple[float, int] | None = None  # (wait, shard) of the busy shard with room soonest
            busy = 0
            for shard in self.rng.sample(range(shards), shards):
                reservation = ask(shard, PROMPT)
                if reservation.granted:
                    break
                if not reservation.exhausted:
                    busy += 1
                    if best is None or reservation.wait < best[0]:
                        best = (reservation.wait, shard)
                    if busy >= PROBES:
                        break
            if not reservation.granted and best is not None:
                reservation = ask(best[1], self.max_wait)
        now = self.clock()
        if reservation.granted and reservation.at > now:
            self.sleep(reservation.at - now)
        return reservation

    def settle(self, region: str, reservation: Reservation, accepted: int) -> None:
        """Give back what SES did not accept of ``reservation`` (never raises: the count is only a guard)."""
        unused = reservation.granted - accepted
        if unused <= 0 or not reservation.id:
            return
        try:
            self.store.settle(
                region,
                reservation_id=reservation.id,
                unused=unused,
                day=reservation.day,
                now=self.clock(),
                shard=reservation.shard,
            )
        except Exception as exc:
            log.warning(
                "could not give back unused send capacity", extra={"region": region, "error": type(exc).__name__}
            )
