"""Contention models: what concurrency does to the writes a workload makes, where moto (one thread, instant
answers) can never show it.

**Counter transactions** (:func:`transaction_conflict_rate`). DynamoDB serialises transactions per item: from
prepare to commit a ``TransactWriteItems`` holds each of its items, and any other transaction (or single write)
reaching one of those items meanwhile is cancelled with ``TransactionConflict`` (transaction-apis "Transaction
conflict handling"). Model: the metered run's write requests that touch the items of interest, started at random
(Poisson) instants over the time the workload takes at the quoted email rate — the event source mapping runs many
Lambdas at once, so batches overlap freely; each transaction holds its items for its own latency, lognormal with a
median of 8 ms + 0.25 ms per item (sigma 0.4: ~23 ms for a 60-item batch). A cancelled request is retried as the
code does (the store's backoff ``min(0.05 * 2**attempt, 1 s)``, after the ~10 ms the cancellation takes to come
back). Result: conflicted attempts / all attempts.


**Pacing reservations** (:func:`pacing_conflict_rate`). N senders run ``Pacer.acquire``'s shard choice and
``DynamoRateStore.reserve``'s read-decide-write loop with the real decision function
(``runtime.sender.pacing._decide``) over one item per pacing shard: strongly consistent GetItem (median 4 ms),
PutItem under the ``version`` condition (median 6 ms), sleep until the granted instant, the SES calls (40-120 ms,
concurrent within a block), again. Latencies lognormal (sigma 0.3); DynamoDB evaluates a request halfway through its
latency, so two senders that read the same version both decide and the later put fails, as on DynamoDB. Result:
failed puts / all puts; also what the senders achieved, the reads per reservation and the busiest one-second window
of reserved instants (at most the rate).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.meter import WriteOp

RETRY_ATTEMPTS = 5  # DynamoTrackingStore(attempts=5); the ledger allows 6, the first 5 decide the figure


def tx_hold_seconds(items: int, rng: random.Random) -> float:
    return (0.008 + 0.00025 * items) * math.exp(rng.gauss(0.0, 0.4))


def transaction_conflict_rate(
    ops: Sequence[WriteOp],
    *,
    emails: int,
    emails_per_second: float,
    relevant: Callable[[str, tuple[str, str]], bool],
    rng: random.Random,
    hold: Callable[[int, random.Random], float] = tx_hold_seconds,
    attempts: int = RETRY_ATTEMPTS,
    rounds: int = 1,
) -> tuple[float, int]:
    """(conflicted attempts / attempts, attempts) for the requests of ``ops`` that touch a ``relevant`` item,
    over ``rounds`` independent random placements of the same requests (a small run, many placements)."""
    chosen = [op for op in ops if any(relevant(table, key) for table, key in op.items)]
    if not chosen:
        return 0.0, 0
    span = emails / emails_per_second
    tried = conflicted = 0
    for _ in range(rounds):
        queue: list[tuple[float, int, int, int]] = []  # (time, seq, op index, attempt)
        for index in range(len(chosen)):
            heapq.heappush(queue, (rng.uniform(0.0, span), index, index, 0))
        seq = len(chosen)
        held_until: dict[tuple[str, tuple[str, str]], float] = {}
        while queue:
            now, _, index, attempt = heapq.heappop(queue)
            op = chosen[index]
            tried += 1
            if any(held_until.get(item, -1.0) > now for item in op.items):
                conflicted += 1
                if attempt + 1 < attempts:
                    seq += 1
                    heapq.heappush(queue, (now + 0.010 + min(0.05 * 2**attempt, 1.0), seq, index, attempt + 1))
                continue
            if op.transactional:
                until = now + hold(len(op.items), rng)
                for item in op.items:
                    held_until[item] = until
    return conflicted / tried, tried


@dataclass(frozen=True)
class PacingResult:
    conflict_rate: float
    puts: int
    sent_per_second: float  # what the senders achieved (check: at most the configured rate)
    reads_per_reservation: float = 0.0  # GetItems per reservation taken (probing shards costs reads)
    busiest_window: int = 0  # most recipients reserved in any one-second window (check: at most the rate)


def _lognormal(median: float, rng: random.Random, sigma: float = 0.3) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


Step = tuple[Any, ...]


def pacing_conflict_rate(
    *,
    senders: int,
    rate: float,
    want: int,
    seconds: float,
    rng: random.Random,
    per_call: int | None = None,
    start: float = 1_780_000_000.0,
    max_ahead: float = 20.0,
) -> PacingResult:
    """Simulate ``senders`` pacing through the control table for ``seconds`` at ``rate`` recipients/s.

    Each sender reserves ``want`` recipients at a time (a 50-entry SendBulkEmail, or a block: the ten
    single-recipient calls of an SQS batch) exactly as ``Pacer.acquire`` and ``DynamoRateStore.reserve`` do — the
    same shard count, random probe order, ``PROMPT``/``PROBES`` rule and decision function, over one item per shard
    read with a strongly consistent GetItem and written with a conditional PutItem on its ``version`` (a put whose
    condition finds a newer version fails and the sender re-reads at once). Then it sleeps until the granted instant
    and makes its SES calls of ``per_call`` recipients concurrently (40-120 ms each; the block takes the slowest)."""
    from runtime.sender import pacing  # the algorithm the Lambda runs

    per_call = per_call or want
    shards = pacing.shard_count(rate)
    states: list[dict[str, Any]] = [{} for _ in range(shards)]
    versions = [0] * shards
    counts = {"puts": 0, "failed": 0, "reads": 0, "reservations": 0}
    sends: list[tuple[float, int]] = []
    end = start + seconds

    def reserve_on(shard: int, ahead: float, rid: str) -> Any:
        while True:
            now, state, version = yield ("get", shard)
            result, new_state = pacing._decide(
                state,
                now=now,
                want=want,
                minimum=1,
                rate=rate / shards,
                daily_cap=None,
                already_sent=0,
                max_ahead=ahead,
                reservation_id=rid,
            )
            if new_state is None:
                return result
            _, ok = yield ("put", shard, version, new_state)
            if ok:
                return result

    def sender(rng: random.Random) -> Any:
        now = yield ("sleep", 0.0)
        while now < end:
            rid = pacing.new_reservation_id()
            if shards == 1:
                reservation = yield from reserve_on(0, max_ahead, rid)
            else:
                best: tuple[float, int] | None = None
                for busy, shard in enumerate(rng.sample(range(shards), shards), 1):  # no daily cap: none exhausted
                    reservation = yield from reserve_on(shard, pacing.PROMPT, rid)
                    if reservation.granted:
                        break
                    if best is None or reservation.wait < best[0]:
                        best = (reservation.wait, shard)
                    if busy >= pacing.PROBES:
                        break
                if not reservation.granted and best is not None:
                    reservation = yield from reserve_on(best[1], max_ahead, rid)
            if not reservation.granted:
                now = yield ("sleep", max(reservation.wait, 0.05))
                continue
            counts["reservations"] += 1
            calls = max(1, math.ceil(reservation.granted / per_call))
            sends.append((reservation.at, reservation.granted))
            now = yield ("sleep", max(0.0, reservation.at - now))
            now = yield ("sleep", max(0.04 + rng.random() * 0.08 for _ in range(calls)))

    queue: list[tuple[float, int, int, Any]] = []  # (time, seq, worker, value sent into it)
    workers = [sender(random.Random(rng.random())) for _ in range(senders)]
    seq = 0

    def schedule(at: float, worker: int, value: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, seq, worker, value))

    for i, gen in enumerate(workers):
        next(gen)
        schedule(start + rng.random() * 0.05, i, None)
    while queue:
        now, _, i, value = heapq.heappop(queue)
        if isinstance(value, tuple) and value and value[0] == "eval":  # DynamoDB evaluates the request
            _, step, latency = value
            if step[0] == "get":
                counts["reads"] += 1
                shard = step[1]
                schedule(now + latency / 2, i, (now + latency / 2, dict(states[shard]), versions[shard]))
            else:
                _, shard, seen, new_state = step
                counts["puts"] += 1
                ok = seen == versions[shard]
                if ok:
                    states[shard], versions[shard] = new_state, versions[shard] + 1
                else:
                    counts["failed"] += 1
                schedule(now + latency / 2, i, (now + latency / 2, ok))
            continue
        try:
            step = workers[i].send(now if value is None else value)
        except StopIteration:
            continue
        if step[0] == "sleep":
            schedule(now + step[1], i, None)
        else:
            latency = _lognormal(0.004 if step[0] == "get" else 0.006, rng)
            schedule(now + latency / 2, i, ("eval", step, latency))
    in_time = [(t, n) for t, n in sends if t < end]
    busiest = max((sum(n for t, n in in_time if s <= t < s + 1.0) for s, _ in in_time), default=0)
    return PacingResult(
        conflict_rate=counts["failed"] / counts["puts"] if counts["puts"] else 0.0,
        puts=counts["puts"],
        sent_per_second=sum(n for _, n in in_time) / seconds,
        reads_per_reservation=counts["reads"] / max(1, counts["reservations"]),
        busiest_window=busiest,
    )
