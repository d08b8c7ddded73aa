"""The sender's bookkeeping: idempotency per job, message records, campaign counters.

Job record (control table, ``pk`` = ``SENDJOB#<job id>``, ``sk`` = ``JOB``):

* ``lease_until``/``owner``: one invocation works on a job at a time, even when SQS delivers it twice (the owner is
  per invocation, so a retried claim of the same invocation is recognised);
* ``fly``: the in-flight marks, one per claim (``<owner>|<claimed at>|<lease end>``), appended by the claim itself —
  so they are written before any SES call at no extra write — and removed by a clean release. A mark of another
  owner found at claim time means an earlier invocation ended without recording everything it may have sent: every
  unit of the job without an outcome is then *unknown* for that window;
* ``done`` (unit id -> outcome, written right after the SES call: a unit found there is never sent again), each
  ``kind|message id|region|reason`` without empty trailing fields, the region left out when it is the record's home
  region ``rg`` (the sender's own, set by the first claim; ``-`` for none);
* ``unk`` (unit id -> ``<since>|<until>|<region>``): units whose SES answer was lost; they wait for SES's Send event
  (docs/sending.md "Exactly once");
* ``rec`` (unit ids whose message item and counters are written);
* ``copy``: the ``attempt`` number of the job's live re-enqueued copy (written by the release that follows the
  re-enqueue, no extra write). A copy with a lower number is an outdated duplicate — an SQS ``SendMessage`` whose
  answer was lost and that botocore sent again, or an original whose delete failed — and is dropped, so duplicates
  cannot multiply while units wait.

Recording works per chunk of a job's units. A chunk that moves campaign counters (``suppressed``, ``failed``,
``cancelled``; ``sent`` is counted by ``count_events`` from the Send event's history entry, through the messages
stream) is one ``TransactWriteItems``: the job record's ``rec`` marks (conditional on the first unit not being
recorded yet), the ``messages`` items and the counter ``ADD``s — so a counter is never applied twice or lost, even
if the Lambda dies between steps; retries of one chunk reuse one ``ClientRequestToken``, so DynamoDB answers a retry
of a transaction that was applied (its answer lost) with success instead of applying it again. A chunk of ``sent``
units only (nearly all of them) has nothing that must not be applied twice: each message item is one plain
``UpdateItem`` (idempotent, one write unit instead of the transaction's two; ``RECORD_WORKERS`` at a time), then the
``rec`` marks
(``DynamoLedger._record_plain`` has the argument) — written by the job's release in the same update when the sender
asks so (``record(..., defer_marks=True)``): the job record is billed per KB of its size, which by then holds every
outcome of the job (~4 KB for 50 units), so its writes after the SES calls are one for the outcomes and one for the
marks and the release together. Message items follow docs/DESIGN.md "Writers of the messages
table": ``ADD version 1``, status ``sent`` only via ``if_not_exists`` (events may arrive first).

Every control-table call gets bounded application-level retries (``dynamo.with_retries``) on top of botocore's; they
are all idempotent (``SET`` of the same values, conditions that recognise their own earlier write).
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from runtime.stores import dynamo
from runtime.stores.history import HISTORY, encode_entry
from runtime.stores.schema import (
    STATUS_RANK,
    UNTAGGED,
    campaign_shard,
    campaign_sort_key,
    counter_sort_keys,
    counter_update,
    iso,
    send_event_id,
)

OutcomeKind = Literal["sent", "failed", "suppressed", "cancelled"]
RECORD_CHUNK = 40  # units per recording transaction (their message items + counter items + the job: <= 100 items)
RECORD_WORKERS = 10  # message items written at once (botocore's default connection pool per client)
MARKS_PER_UPDATE = 200  # ``rec`` marks per plain update of the job record (its expression stays well under 4 KB)
JOB_TTL_SECONDS = 14 * 86_400
NO_REGION = "-"  # an outcome without a region, in a job record that names its home region


class JobBusyError(RuntimeError):
    """Another invocation holds the job's lease (SQS delivered it twice): leave it on the queue."""


class LedgerUnavailableError(RuntimeError):
    """Recording kept conflicting with concurrent writers (transient: the message is retried)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    message_id: str
    region: str = ""
    reason: str = ""  # failure reason or suppression scope

    def encode(self, home: str = "") -> str:
        """``kind|message id|region|reason`` without trailing empty fields (``decode`` restores them). ``home``: the
        job record's home region (``rg``), left out as well (an empty region is then written ``-``): a job's 50
        ``sent`` outcomes with SES's 60-character message ids then fit its record in 4 KB, one write unit less for
        each of its writes after the SES calls."""
        region = self.region
        if home:
            region = "" if region == home else (region or NO_REGION)
        return "|".join((self.kind, self.message_id, region, self.reason)).rstrip("|")

    @classmethod
    def decode(cls, text: str, home: str = "") -> Outcome:
        kind, message_id, region, reason = ([*text.split("|", 3), "", "", ""])[:4]
        if kind not in ("sent", "failed", "suppressed", "cancelled"):
            raise ValueError(f"unknown outcome {kind!r}")
        if home:
            region = home if not region else ("" if region == NO_REGION else region)
        return cls(kind, message_id, region, reason)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Attribution:
    """What the messages item records about one unit."""

    recipient: str
    recipient_hash: str
    campaign_id: str | None
    list_name: str | None
    config_set: str | None
    from_address: str | None
    subject: str | None


@dataclass(frozen=True, slots=True)
class Window:
    """When an SES call for a unit may have been accepted without sesame learning its answer (epoch seconds)."""

    since: float
    until: float
    region: str = ""

    def encode(self) -> str:
        return f"{self.since:.3f}|{self.until:.3f}|{self.region}"

    @classmethod
    def decode(cls, text: str) -> Window:
        since, until, region = ([*text.split("|", 2), "", ""])[:3]
        return cls(float(since), float(until), region)

    def merge(self, other: Window | None) -> Window:
        if other is None:
            return self
        region = self.region if self.region == other.region else ""
        return Window(min(self.since, other.since), max(self.until, other.until), region)


@dataclass(frozen=True, slots=True)
class JobState:
    done: dict[str, Outcome]
    recorded: frozenset[str]
    unknown: dict[str, Window] = field(default_factory=dict)  # lost answers, persisted (units without outcome)
    stale: Window | None = None  # an earlier invocation ended unclean: units without outcome may have been sent
    copy: int = 0  # the attempt number of the job's live re-enqueued copy (older copies are duplicates)


def _mark(owner: str, now: float, until: float) -> str:
    return f"{owner}|{now:.3f}|{until:.3f}"


def _stale_window(marks: Sequence[str], owner: str) -> Window | None:
    """The hull of the in-flight marks other invocations left (ours, possibly twice after a retry, excluded)."""
    window: Window | None = None
    for mark in marks:
        parts = mark.split("|")
        if len(parts) != 3 or parts[0] == owner:
            continue
        try:
            found = Window(float(parts[1]), float(parts[2]))
        except ValueError:
            continue
        window = found.merge(window)
    return window


def _state(
    done: dict[str, Outcome],
    recorded: frozenset[str],
    unknown: dict[str, Window],
    stale: Window | None,
    copy: int = 0,
) -> JobState:
    return JobState(done, recorded, {u: w for u, w in unknown.items() if u not in done}, stale, copy)


def local_message_id(job_id: str, unit_id: str) -> str:
    """Deterministic id of a message that never reached SES (suppressed, failed): ``local-<32 hex>``."""
    return "local-" + hashlib.sha256(f"{job_id}/{unit_id}".encode()).hexdigest()[:32]


def send_id(job_id: str, unit_id: str) -> str:
    """The per-recipient send id (SES message tag ``sesame_send_id``): the same for every attempt of one unit, so any
    Send event carrying it proves SES accepted the unit (docs/sending.md "Exactly once")."""
    return hashlib.sha256(f"send/{job_id}/{unit_id}".encode()).hexdigest()[:24]


class Ledger(Protocol):
    def claim(self, job_id: str, owner: str, lease_seconds: float) -> JobState:
        """Take the job's lease and append this invocation's in-flight mark; raises JobBusyError."""
        ...

    def mark_done(self, job_id: str, outcomes: dict[str, Outcome]) -> None: ...

    def mark_unknown(self, job_id: str, windows: dict[str, Window]) -> None: ...

    def record(
        self, job_id: str, entries: Sequence[tuple[str, Outcome, Attribution]], *, defer_marks: bool = False
    ) -> frozenset[str]:
        """Write the message items (and counters) of ``entries`` and mark their units recorded. ``defer_marks``: the
        marks of units recorded without a transaction are left to the ``release`` that follows (returned here, to
        pass as its ``recorded``), so the job record is not written once more just for them."""
        ...

    def outcomes(self, job_id: str) -> dict[str, Outcome]:
        """The job's recorded outcomes (unit id -> outcome), read without claiming it (strongly consistent)."""
        ...

    def release(
        self,
        job_id: str,
        owner: str,
        *,
        clean: bool = True,
        copy: int | None = None,
        recorded: Collection[str] = (),
    ) -> None:
        """Give the lease back; ``clean`` (everything this invocation may have sent is in ``done``/``unk``) also
        removes the in-flight marks; ``copy``: the attempt number of the copy just re-enqueued; ``recorded``: units
        whose message items are written (``record(..., defer_marks=True)``), marked in the same update."""
        ...


def _message_update(
    table: str, outcome: Outcome, attribution: Attribution, now_iso: str, expires_at: int, send_id_value: str = ""
) -> dict[str, Any]:
    status = outcome.kind
    campaign = attribution.campaign_id or UNTAGGED
    values: dict[str, Any] = {
        ":recipient": {"S": attribution.recipient},
        ":hash": {"S": attribution.recipient_hash},
        ":campaign": {"S": campaign},
        ":list": {"S": attribution.list_name or UNTAGGED},
        ":status": {"S": status},
        ":rank": {"N": str(STATUS_RANK[status])},
        ":cshard": {"S": campaign_shard(campaign, outcome.message_id)},
        ":csk": {"S": campaign_sort_key(now_iso, outcome.message_id)},
        ":exp": {"N": str(expires_at)},
        ":sent": {"S": now_iso},
        ":one": {"N": "1"},
    }
    names = {
        "#status": "status",
        "#rank": "status_rank",
        "#csk": "campaign_sk",
        "#exp": "expires_at",
    }
    # campaign-index keys: the shard follows the campaign (set here), the sort key is written once (an event that
    # arrived first may have set it already): the index gets one write per message, never a re-key
    sets = [
        "recipient = :recipient",
        "recipient_hash = :hash",
        "campaign_id = :campaign",
        "campaign_shard = :cshard",
        "list_name = :list",
        "#status = if_not_exists(#status, :status)",
        "#rank = if_not_exists(#rank, :rank)",
        "#csk = if_not_exists(#csk, :csk)",
        "#exp = if_not_exists(#exp, :exp)",
        # the send time (recipient-index sort key; suppressed/failed included), written once: SES's own time when an
        # event came first, and the first attempt's when a chunk is recorded again (``DynamoLedger._record_plain``)
        "sent_at = if_not_exists(sent_at, :sent)",
    ]
    optional = {
        "config_set": attribution.config_set,
        "region": outcome.region or None,
        "from_address": attribution.from_address,
        "subject": attribution.subject,
        "failure_reason": outcome.reason if status == "failed" else None,
        "suppression_scope": outcome.reason if status == "suppressed" else None,
        # the events' sesame_send_id: written here so the first event does not change the recipient-index entry
        "send_id": send_id_value if status == "sent" else None,
    }
    for i, (name, value) in enumerate(optional.items()):
        if value:
            names[f"#o{i}"] = name
            values[f":o{i}"] = {"S": value[:1000]}
            sets.append(f"#o{i} = :o{i}")
    return {
        "TableName": table,
        "Key": {"message_id": {"S": outcome.message_id}},
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD version :one",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _with_send_entry(update: dict[str, Any], message_id: str, now_iso: str) -> dict[str, Any]:
    """``update`` (a ``sent`` unit's message item) that also records the message's Send event — its history entry
    (id ``schema.send_event_id``, the ``sent`` counter: ``count_events`` counts it from this write) and
    ``first_send_at`` — if no event has been applied to the item yet (``attribute_not_exists(history)``). Ingestion
    then finds the Send event's id in the history and writes nothing for it. When the condition fails (an event came
    first, or this very write was applied and its answer lost), the caller sends ``update`` alone: an item with a
    history has either this entry already or gets the Send event from ingestion, never both."""
    entry = encode_entry(now_iso, "Send", send_event_id(message_id), ("sent",), {})
    expression = update["UpdateExpression"].replace(
        " ADD version", ", #hist = :hist, first_send_at = if_not_exists(first_send_at, :sent) ADD version", 1
    )
    return {
        **update,
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_not_exists(#hist)",
        "ExpressionAttributeNames": {**update["ExpressionAttributeNames"], "#hist": HISTORY},
        "ExpressionAttributeValues": {**update["ExpressionAttributeValues"], ":hist": {"L": [{"S": entry}]}},
        # a failed condition answers with the item: when it already holds what ``update`` sets (this very write was
        # applied and its answer lost), the plain update is not needed
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


_SET_CLAUSE = re.compile(r", (?=[#\w]+ = )")


def _already_holds(item: dict[str, Any], update: dict[str, Any]) -> bool:
    """Whether ``item`` (wire format) holds every value ``update`` (a ``_message_update``) sets, and every attribute
    it sets ``if_not_exists``: sending ``update`` would then only move ``version`` on."""
    names, values = update["ExpressionAttributeNames"], update["ExpressionAttributeValues"]
    sets = update["UpdateExpression"].removeprefix("SET ").split(" ADD ", 1)[0]
    for clause in _SET_CLAUSE.split(sets):
        target, source = clause.split(" = ", 1)
        attribute = names.get(target, target)
        if source.startswith("if_not_exists("):
            if attribute not in item:
                return False
        elif item.get(attribute) != values[source]:
            return False
    return True


# Counters the sender owns. ``sent`` is counted by the messages stream's consumer (``count_events``) from the Send
# entry of the message's history — written by the sender's own record of the message (``_with_send_entry``) or, when
# an event came first or the unit was recorded in a transaction, by the ingestion engine applying the Send event
# (exactly once per message, also for mail sent outside sesame); counting it here as well would count it twice.
SENDER_COUNTERS = frozenset({"suppressed", "failed", "cancelled"})


def counter_deltas(entries: Sequence[tuple[str, Outcome, Attribution]]) -> dict[tuple[str, str], dict[str, int]]:
    """``{(campaign, list): {"suppressed": n, "failed": n, "cancelled": n}}`` for a set of outcomes (``sent``
    excluded)."""
    deltas: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, outcome, attribution in entries:
        if outcome.kind in SENDER_COUNTERS:
            deltas[(attribution.campaign_id or UNTAGGED, attribution.list_name or UNTAGGED)][outcome.kind] += 1
    return {k: dict(v) for k, v in deltas.items()}


def counter_items(
    entries: Sequence[tuple[str, Outcome, Attribution]], day: str
) -> dict[tuple[str, str], dict[str, int]]:
    """Deltas per counter item ``(campaign, sort key)``, summed — one transaction may not touch an item twice."""
    items: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (campaign, list_name), deltas in counter_deltas(entries).items():
        for sort_key in counter_sort_keys(list_name, day):
            for name, delta in deltas.items():
                items[(campaign, sort_key)][name] += delta
    return {k: dict(v) for k, v in items.items()}


def _each_at_once(calls: Sequence[Callable[[], None]], workers: int) -> None:
    """Make ``calls`` with at most ``workers`` at a time (boto3 clients are thread-safe; botocore pools 10
    connections per client by default); raises the first failure after cancelling the calls not started yet. One
    call (or one worker) runs in this thread."""
    if len(calls) <= 1 or workers <= 1:
        for call in calls:
            call()
        return
    from concurrent.futures import ThreadPoolExecutor  # only a sender recording several units needs threads

    with ThreadPoolExecutor(max_workers=min(workers, len(calls)), thread_name_prefix="record") as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _is_code(exc: Exception, *codes: str) -> bool:
    return dynamo.error_code(exc) in codes


class DynamoLedger:
    def __init__(
        self,
        client: Any,
        *,
        control_table: str,
        messages_table: str,
        campaigns_table: str,
        ttl_days: int = 90,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        region: str = "",
    ) -> None:
        """``region``: the sender's own region, named by the job records it creates as their home region (``rg``):
        outcomes in it are stored without it (``Outcome.encode``)."""
        self._client = client
        self._control = control_table
        self._region = region
        self._homes: dict[str, str] = {}  # job id -> its record's home region, learnt at claim
        self._messages = messages_table
        self._campaigns = campaigns_table
        self._ttl_days = ttl_days
        self._clock = clock
        self._sleep = sleep

    def _key(self, job_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"SENDJOB#{job_id}"}, "sk": {"S": "JOB"}}

    def _retrying(self, call: Callable[[], Any]) -> Any:
        return dynamo.with_retries(call, sleep=self._sleep)

    def claim(self, job_id: str, owner: str, lease_seconds: float) -> JobState:
        now = self._clock()
        until = now + lease_seconds
        kwargs = {
            "TableName": self._control,
            "Key": self._key(job_id),
            "UpdateExpression": (
                "SET lease_until = :until, #owner = :owner, done = if_not_exists(done, :empty), "
                "rec = if_not_exists(rec, :empty), unk = if_not_exists(unk, :empty), "
                "fly = list_append(if_not_exists(fly, :nil), :mark), expires_at = :exp"
                + (", rg = if_not_exists(rg, :rg)" if self._region else "")
            ),
            # a retry of this very claim (its answer lost) passes: the owner is this invocation's
            "ConditionExpression": "attribute_not_exists(lease_until) OR lease_until < :now OR #owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {
                ":until": {"N": str(round(until, 3))},
                ":now": {"N": str(round(now, 3))},
                ":owner": {"S": owner},
                ":empty": {"M": {}},
                ":nil": {"L": []},
                ":mark": {"L": [{"S": _mark(owner, now, until)}]},
                ":exp": {"N": str(int(now) + JOB_TTL_SECONDS)},
                **({":rg": {"S": self._region}} if self._region else {}),
            },
            "ReturnValues": "ALL_NEW",
        }
        try:
            response = self._retrying(lambda: self._client.update_item(**kwargs))
        except Exception as exc:
            if _is_code(exc, "ConditionalCheckFailedException"):
                raise JobBusyError(f"job {job_id} is leased by another invocation") from exc
            raise
        item = response.get("Attributes", {})
        home = self._homes[job_id] = item.get("rg", {}).get("S", "")
        done = {k: Outcome.decode(v["S"], home) for k, v in item.get("done", {}).get("M", {}).items()}
        recorded = frozenset(item.get("rec", {}).get("M", {}).keys())
        unknown = {k: Window.decode(v["S"]) for k, v in item.get("unk", {}).get("M", {}).items()}
        marks = [m["S"] for m in item.get("fly", {}).get("L", []) if "S" in m]
        copy = int(item.get("copy", {}).get("N", "0"))
        return _state(done, recorded, unknown, _stale_window(marks, owner), copy)

    def _set_map(self, job_id: str, attribute: str, values: dict[str, str]) -> None:
        if not values:
            return
        names = {f"#u{i}": unit for i, unit in enumerate(values)}
        encoded = {f":u{i}": {"S": text} for i, text in enumerate(values.values())}
        kwargs = {
            "TableName": self._control,
            "Key": self._key(job_id),
            "UpdateExpression": "SET " + ", ".join(f"{attribute}.#u{i} = :u{i}" for i in range(len(values))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": encoded,
        }
        self._retrying(lambda: self._client.update_item(**kwargs))

    def mark_done(self, job_id: str, outcomes: dict[str, Outcome]) -> None:
        # the home region as the claim read it (none known: every region written out, read right either way)
        home = self._homes.get(job_id, "")
        self._set_map(job_id, "done", {unit: outcome.encode(home) for unit, outcome in outcomes.items()})

    def mark_unknown(self, job_id: str, windows: dict[str, Window]) -> None:
        self._set_map(job_id, "unk", {unit: window.encode() for unit, window in windows.items()})

    def record(
        self, job_id: str, entries: Sequence[tuple[str, Outcome, Attribution]], *, defer_marks: bool = False
    ) -> frozenset[str]:
        deferred: set[str] = set()
        # every unit sent: no transaction, so no chunking for its item limit
        chunk = RECORD_CHUNK if counter_deltas(entries) else MARKS_PER_UPDATE
        # the release carries the marks of one chunk's size at most (its expression stays well under 4 KB)
        defer = defer_marks and len(entries) <= MARKS_PER_UPDATE
        for start in range(0, len(entries), chunk):
            deferred |= self._record_chunk(job_id, entries[start : start + chunk], defer_marks=defer)
        return frozenset(deferred)

    def _record_chunk(
        self, job_id: str, entries: Sequence[tuple[str, Outcome, Attribution]], *, defer_marks: bool = False
    ) -> set[str]:
        """Record one chunk; returns the units whose marks were left to the release (``defer_marks``)."""
        now = self._clock()
        now_iso = iso(datetime.fromtimestamp(now, tz=UTC))
        expires_at = int(now) + self._ttl_days * 86_400
        names = {f"#r{i}": unit_id for i, (unit_id, _, _) in enumerate(entries)}
        job_update = {
            "TableName": self._control,
            "Key": self._key(job_id),
            "UpdateExpression": "SET " + ", ".join(f"rec.#r{i} = :t" for i in range(len(entries))),
            "ConditionExpression": "attribute_not_exists(rec.#r0)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":t": {"BOOL": True}},
        }
        updates = [
            _message_update(self._messages, outcome, attribution, now_iso, expires_at, send_id(job_id, unit_id))
            for unit_id, outcome, attribution in entries
        ]
        counters = counter_items(entries, now_iso[:10])
        if not counters:
            sends = [
                _with_send_entry(update, outcome.message_id, now_iso) if outcome.kind == "sent" else None
                for update, (_, outcome, _) in zip(updates, entries, strict=True)
            ]
            self._record_plain(None if defer_marks else job_update, updates, sends)
            return {unit_id for unit_id, _, _ in entries} if defer_marks else set()
        items: list[dict[str, Any]] = [{"Update": job_update}, *({"Update": u} for u in updates)]
        for (campaign, sort_key), deltas in counters.items():
            update = counter_update(self._campaigns, campaign, sort_key, deltas, event_at=None, expires_at=None)
            items.append({"Update": update})
        # one token for every retry of this chunk: DynamoDB answers a retry of an applied transaction with success
        token = str(uuid.uuid4())
        for attempt in range(6):
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
                return set()
            except Exception as exc:
                if _is_code(exc, "TransactionCanceledException"):
                    reasons = dynamo.cancellation_reasons(exc)
                    if reasons and reasons[0] == "ConditionalCheckFailed":
                        return set()  # this chunk was recorded by an earlier attempt
                elif not dynamo.is_transient(exc):
                    raise
                self._sleep(min(0.05 * 2**attempt, 1.0))
        raise LedgerUnavailableError(f"recording job {job_id} kept failing")

    def _record_plain(
        self,
        job_update: dict[str, Any] | None,
        updates: Sequence[dict[str, Any]],
        sends: Sequence[dict[str, Any] | None] = (),
    ) -> None:
        """A chunk without counters (every unit ``sent``): each message item alone, then the job's ``rec`` marks
        (``job_update``; None: the release that follows writes them, ``DynamoLedger.release``).

        No transaction is needed because every write here is idempotent: a message update sets the same values
        again (``status``/``status_rank``/``campaign_sk``/``expires_at`` only if absent) and ``ADD version 1`` only
        moves the optimistic-concurrency token on (an ingestion write that read the older version fails its
        condition and merges again). The first write of an item also records the message's Send event (``sends``:
        ``_with_send_entry``, conditional on the item having no history yet), the one history entry the counter
        consumer counts for it; a repeat finds the history and sends the plain update, which adds no entry (unless
        the failed condition's answer shows the item holds everything already: a repeat of an applied write).
        A lost answer after commit is therefore harmless when the update is sent again (botocore, ``with_retries``),
        and so is a Lambda that dies between the message items and the marks: the next attempt finds the units
        done but not recorded and writes the same items again. The marks are written last (a ``SET`` of ``true``:
        idempotent too), so a unit marked recorded always has its message item. Marks left to the release are not
        written when the release is not (its owner condition fails: another invocation took the lease over, or the
        Lambda died first): the next attempt then finds those units done but not recorded, the same case."""

        def write(update: dict[str, Any], send: dict[str, Any] | None) -> None:
            if send is not None:
                try:
                    self._update(send)
                    return
                except Exception as exc:
                    if not _is_code(exc, "ConditionalCheckFailedException"):
                        raise
                    old = (getattr(exc, "response", None) or {}).get("Item")
                    if old and _already_holds(old, update):
                        return  # an earlier attempt of this write was applied (its answer lost)
            self._update(update)

        # the items are independent: written concurrently (the marks wait for all of them)
        _each_at_once(
            [
                functools.partial(write, update, sends[i] if i < len(sends) else None)
                for i, update in enumerate(updates)
            ],
            RECORD_WORKERS,
        )
        if job_update is not None:
            self._update({k: v for k, v in job_update.items() if k != "ConditionExpression"})  # a SET of the same marks

    def _update(self, kwargs: dict[str, Any]) -> None:
        self._retrying(lambda: self._client.update_item(**kwargs))

    def outcomes(self, job_id: str) -> dict[str, Outcome]:
        response = self._retrying(
            lambda: self._client.get_item(
                TableName=self._control, Key=self._key(job_id), ConsistentRead=True, ProjectionExpression="done, rg"
            )
        )
        item = response.get("Item", {})
        home = item.get("rg", {}).get("S", "")
        return {k: Outcome.decode(v["S"], home) for k, v in item.get("done", {}).get("M", {}).items()}

    def release(
        self,
        job_id: str,
        owner: str,
        *,
        clean: bool = True,
        copy: int | None = None,
        recorded: Collection[str] = (),
    ) -> None:
        values: dict[str, Any] = {":owner": {"S": owner}}
        names: dict[str, str] = {"#owner": "owner"}
        sets: list[str] = []
        if copy is not None:
            sets.append("#copy = :copy")
            names["#copy"] = "copy"
            values[":copy"] = {"N": str(copy)}
        # the ``rec`` marks ``record(..., defer_marks=True)`` left: one write of the job record instead of two (it
        # bills its size per KB, and by then it holds every outcome of the job)
        for i, unit_id in enumerate(sorted(recorded)):
            sets.append(f"rec.#r{i} = :t")
            names[f"#r{i}"] = unit_id
            values[":t"] = {"BOOL": True}
        expression = "REMOVE lease_until, fly" if clean else "REMOVE lease_until"
        if sets:
            expression = "SET " + ", ".join(sets) + " " + expression
        kwargs = {
            "TableName": self._control,
            "Key": self._key(job_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        self._homes.pop(job_id, None)
        try:
            self._retrying(lambda: self._client.update_item(**kwargs))
        except Exception as exc:
            if not _is_code(exc, "ConditionalCheckFailedException"):
                raise


def _new_job() -> dict[str, Any]:
    return {"done": {}, "rec": set(), "unk": {}, "fly": []}


@dataclass
class InMemoryLedger:
    """Same semantics in memory (unit tests, the bench). ``fail(operation, job_id)`` may return an exception to
    raise instead of performing a call (a control-table failure that outlasted the retries)."""

    clock: Callable[[], float] = time.time
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[tuple[str, str], dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    calls: int = 0
    fail: Callable[[str, str], Exception | None] | None = None

    def _check(self, operation: str, job_id: str) -> None:
        error = self.fail(operation, job_id) if self.fail is not None else None
        if error is not None:
            raise error

    def claim(self, job_id: str, owner: str, lease_seconds: float) -> JobState:
        self._check("claim", job_id)
        self.calls += 1
        now = self.clock()
        job = self.jobs.setdefault(job_id, _new_job())
        if job.get("lease_until", 0) >= now and job.get("owner") != owner:
            raise JobBusyError(f"job {job_id} is leased by another invocation")
        job["lease_until"], job["owner"] = now + lease_seconds, owner
        job["fly"].append(_mark(owner, now, now + lease_seconds))
        stale = _stale_window(job["fly"], owner)
        return _state(dict(job["done"]), frozenset(job["rec"]), dict(job["unk"]), stale, job.get("copy", 0))

    def mark_done(self, job_id: str, outcomes: dict[str, Outcome]) -> None:
        if outcomes:
            self._check("mark_done", job_id)
            self.calls += 1
            self.jobs.setdefault(job_id, _new_job())["done"].update(outcomes)

    def mark_unknown(self, job_id: str, windows: dict[str, Window]) -> None:
        if windows:
            self._check("mark_unknown", job_id)
            self.calls += 1
            self.jobs.setdefault(job_id, _new_job())["unk"].update(windows)

    def record(
        self, job_id: str, entries: Sequence[tuple[str, Outcome, Attribution]], *, defer_marks: bool = False
    ) -> frozenset[str]:
        job = self.jobs.setdefault(job_id, _new_job())
        fresh = [e for e in entries if e[0] not in job["rec"]]
        if not fresh:
            return frozenset()
        self._check("record", job_id)
        self.calls += -(-len(fresh) // RECORD_CHUNK)
        now_iso = iso(datetime.fromtimestamp(self.clock(), tz=UTC))
        # as DynamoLedger: the marks of the chunks recorded without a transaction may be left to the release
        defer = defer_marks and len(fresh) <= MARKS_PER_UPDATE
        size = RECORD_CHUNK if counter_deltas(fresh) else MARKS_PER_UPDATE
        deferred: set[str] = set()
        for start in range(0, len(fresh), size):
            part = fresh[start : start + size]
            plain = not counter_deltas(part)
            for unit_id, _, _ in part:
                (deferred.add if defer and plain else job["rec"].add)(unit_id)
        for _, outcome, attribution in fresh:
            item = self.messages.setdefault(outcome.message_id, {"version": 0})
            item.setdefault("status", outcome.kind)
            item.update(
                recipient=attribution.recipient,
                recipient_hash=attribution.recipient_hash,
                campaign_id=attribution.campaign_id or UNTAGGED,
                list_name=attribution.list_name or UNTAGGED,
                region=outcome.region,
                config_set=attribution.config_set,
                at=now_iso,
            )
            if outcome.kind == "failed":
                item["failure_reason"] = outcome.reason
            item["version"] += 1
        for key, deltas in counter_items(fresh, now_iso[:10]).items():
            bucket = self.counters[key]
            for name, delta in deltas.items():
                bucket[name] = bucket.get(name, 0) + delta
        return frozenset(deferred)

    def outcomes(self, job_id: str) -> dict[str, Outcome]:
        return dict(self.jobs.get(job_id, {}).get("done", {}))

    def release(
        self,
        job_id: str,
        owner: str,
        *,
        clean: bool = True,
        copy: int | None = None,
        recorded: Collection[str] = (),
    ) -> None:
        self._check("release", job_id)
        job = self.jobs.get(job_id)
        if job and job.get("owner") == owner:
            job.pop("lease_until", None)
            job["rec"].update(recorded)
            if clean:
                job["fly"] = []
            if copy is not None:
                job["copy"] = copy
