"""The bench's contention models: transactions hold their items until commit, single writes do not; the pacing
simulation runs the real reservation algorithm and loses a put whenever another sender wrote since its read."""

from __future__ import annotations

import random

import pytest

from bench.contention import pacing_conflict_rate, transaction_conflict_rate
from bench.meter import WriteOp

COUNTER = ("sesame-x-campaigns", ("spring", "COUNTERS#TOTAL"))
OTHER = ("sesame-x-messages", ("m1", ""))


def counter(table: str, key: tuple[str, str]) -> bool:
    return table.endswith("-campaigns") and key[1] != "META"


def tx(*items: tuple[str, tuple[str, str]]) -> WriteOp:
    return WriteOp("ingest", "TransactWriteItems", True, items)


def rate(ops, *, hold: float, span_emails: int = 1000, attempts: int = 5) -> tuple[float, int]:
    return transaction_conflict_rate(
        ops,
        emails=span_emails,
        emails_per_second=1000.0,
        relevant=counter,
        rng=random.Random(1),
        hold=lambda items, rng: hold,
        attempts=attempts,
    )


def test_transactions_far_apart_never_conflict():
    conflicts, attempts = rate([tx(COUNTER), tx(COUNTER)], hold=1e-9)
    assert (conflicts, attempts) == (0.0, 2)


def test_a_transaction_arriving_while_another_holds_the_item_is_cancelled_and_retried():
    # ten transactions within 1 ms, each holding the counter for 5 ms: all but the first conflict at first, and
    # their retries (60 ms later, spread by the same 1 ms) conflict with each other again
    conflicts, attempts = rate([tx(COUNTER) for _ in range(10)], hold=0.005, span_emails=1, attempts=2)
    assert attempts == 19  # 10 first attempts + 9 retries
    assert conflicts == pytest.approx((9 + 8) / 19)  # 9 first attempts, then all retries but one


def test_single_writes_do_not_hold_items():
    single = WriteOp("sender", "UpdateItem", False, (COUNTER,))
    conflicts, _ = rate([single for _ in range(10)], hold=0.005, span_emails=1)
    assert conflicts == 0.0


def test_writes_that_touch_no_relevant_item_are_left_out():
    conflicts, attempts = rate([tx(OTHER) for _ in range(10)], hold=0.005, span_emails=1)
    assert (conflicts, attempts) == (0.0, 0)


def test_a_single_sender_never_conflicts_and_paces_to_the_rate():
    result = pacing_conflict_rate(senders=1, rate=200.0, want=50, seconds=5.0, rng=random.Random(2))
    assert result.conflict_rate == 0.0
    assert result.sent_per_second <= 200.0


def test_concurrent_senders_lose_puts_to_each_other_and_stay_within_the_rate():
    result = pacing_conflict_rate(senders=20, rate=1000.0, want=50, seconds=5.0, rng=random.Random(2))
    assert 0.0 < result.conflict_rate < 1.0
    assert result.sent_per_second <= 1000.0
