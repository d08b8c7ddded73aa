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

**Pacing reservations** (:func:`pacing_conflict_rate`). The real decision function
(``runtime.sender.pacing._decide``) over one shared item, read and then written with a ``version`` condition, by N
senders, each looping: strongly consistent GetItem (median 4 ms), PutItem under the condition (median 6 ms),
sleep until the granted instant, one SES call (40-120 ms), again. Latencies lognormal (sigma 0.3); DynamoDB
evaluates a request halfway through its latency. A put whose condition finds a newer version fails and the sender
re-reads at once (``DynamoRateStore`` retries without backoff). Result: failed puts / all puts.
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


def _lognormal(median: float, rng: random.Random, sigma: float = 0.3) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def pacing_conflict_rate(
    *,
    senders: int,
    rate: float,
    want: int,
    seconds: float,
    rng: random.Random,
    decide: Callable[..., tuple[Any, dict[str, Any] | None]] | None = None,
    start: float = 1_780_000_000.0,
    max_ahead: float = 20.0,
) -> PacingResult:
    """Simulate ``senders`` sharing one reservation item for ``seconds`` at ``rate`` recipients/s."""
    if decide is None:
        from runtime.sender.pacing import _decide as decide  # the algorithm the Lambda runs
    state: dict[str, Any] = {}
    version = 0
    puts = failed = sent = 0
    queue: list[tuple[float, int, int, str, Any]] = []
    seq = 0

    def push(at: float, worker: int, action: str, data: Any = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, seq, worker, action, data))

    for worker in range(senders):
        push(start + rng.random() * 0.05, worker, "read")
    end = start + seconds
    while queue:
        now, _, worker, action, data = heapq.heappop(queue)
        if action == "read":
            if now >= end:
                continue
            get = _lognormal(0.004, rng)
            push(now + get / 2, worker, "read-eval", get)
        elif action == "read-eval":  # the item as DynamoDB returns it; the sender decides when it arrives
            get = data
            arrived = now + get / 2
            reservation, new_state = decide(
                dict(state),
                now=arrived,
                want=want,
                minimum=1,
                rate=rate,
                daily_cap=None,
                already_sent=0,
                max_ahead=max_ahead,
            )
            if new_state is None:
                push(arrived + max(reservation.wait, 0.05), worker, "read")
                continue
            put = _lognormal(0.006, rng)
            push(arrived + put / 2, worker, "put-eval", (version, new_state, reservation, put))
        elif action == "put-eval":
            seen, new_state, reservation, put = data
            puts += 1
            answered = now + put / 2
            if seen != version:  # ConditionalCheckFailed: someone wrote since our read
                failed += 1
                push(answered, worker, "read")
                continue
            state, version = new_state, version + 1
            if reservation.at < end:
                sent += reservation.granted
            ses_call = 0.04 + rng.random() * 0.08
            push(max(answered, reservation.at) + ses_call, worker, "read")
    return PacingResult(failed / puts if puts else 0.0, puts, sent / seconds)
