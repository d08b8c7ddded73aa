from __future__ import annotations

from datetime import date

import pytest

from runtime.sender.pacing import (
    AccountLimits,
    AccountLimitsProvider,
    AccountLimitsUnavailableError,
    InMemoryRateStore,
    Pacer,
    plan,
    warmup_cap,
)
from tests.support.sender_fakes import SimClock, client_error


def _busiest(sends: list[tuple[float, int]]) -> int:
    return max(sum(n for t, n in sends if start <= t < start + 1.0) for start, _ in sends)


@pytest.mark.parametrize(("rate", "want"), [(14, 10), (14.5, 50), (100, 50), (120, 50), (3, 1), (1000, 50)])
def test_no_one_second_window_ever_holds_more_than_the_rate(rate, want):
    store = InMemoryRateStore()
    sends = []
    now = 0.0
    for i in range(300):
        reservation = store.reserve(
            "r", now=now, want=want, minimum=1, rate=rate, daily_cap=None, already_sent=0, max_ahead=1e9
        )
        sends.append((reservation.at, reservation.granted))
        now += 0.001 * (i % 7)  # callers arriving at different times
    assert _busiest(sends) <= int(rate)
    horizon = sends[-1][0]
    assert sum(n for t, n in sends if t < horizon) / horizon >= 0.95 * int(rate)


def test_reservation_too_far_ahead_is_refused_without_changing_state():
    entries = [(10.0, 5)]
    assert plan(entries, now=10.0, want=5, minimum=5, rate=5, max_ahead=0.5) is None
    granted = plan(entries, now=10.0, want=5, minimum=5, rate=5, max_ahead=2.0)
    assert granted is not None and granted.at > 11.0


def test_unit_larger_than_the_rate_is_sent_alone_in_an_empty_window():
    p = plan([], now=0.0, want=3, minimum=3, rate=1, max_ahead=10)
    assert p is not None and p.granted == 3


def test_daily_cap_stops_granting_and_reports_exhaustion():
    store = InMemoryRateStore()
    kwargs = {"minimum": 1, "rate": 100, "daily_cap": 10, "already_sent": 0, "max_ahead": 10}
    first = store.reserve("r", now=0.0, want=8, **kwargs)
    second = store.reserve("r", now=0.0, want=8, **kwargs)
    third = store.reserve("r", now=0.0, want=1, **kwargs)
    assert (first.granted, second.granted) == (8, 2)
    assert third.exhausted and not third.granted


def test_daily_counter_resets_on_a_new_utc_day():
    store = InMemoryRateStore()
    kwargs = {"minimum": 1, "rate": 100, "daily_cap": 5, "already_sent": 0, "max_ahead": 10}
    assert store.reserve("r", now=86_400 * 100 + 10, want=5, **kwargs).granted == 5
    assert store.reserve("r", now=86_400 * 100 + 20, want=1, **kwargs).exhausted
    assert store.reserve("r", now=86_400 * 101 + 1, want=5, **kwargs).granted == 5


def test_pacer_sleeps_until_the_reserved_instant():
    clock = SimClock(now=1000.0)

    class Fixed(AccountLimitsProvider):
        def _fetch(self, region):
            return AccountLimits(10.0, None)

    pacer = Pacer(InMemoryRateStore(), Fixed(lambda r: None, clock=clock), clock=clock, sleep=clock.sleep)
    assert pacer.acquire("r", 10).granted == 10
    assert clock.now == 1000.0
    assert pacer.acquire("r", 10).granted == 10
    assert clock.now > 1001.0  # waited for the first second's sends to leave the window


def test_account_limits_come_from_get_account_are_cached_and_overridable():
    calls = []

    class Ses:
        def get_account(self):
            calls.append(1)
            return {"SendQuota": {"MaxSendRate": 14.0, "Max24HourSend": 50_000.0, "SentLast24Hours": 120.0}}

    clock = SimClock()
    provider = AccountLimitsProvider(lambda region: Ses(), clock=clock, ttl=300)
    assert provider.get("us-east-1") == AccountLimits(14.0, 50_000.0, 120)
    provider.get("us-east-1")
    assert len(calls) == 1
    clock.now += 301
    provider.get("us-east-1")
    assert len(calls) == 2
    assert AccountLimitsProvider(lambda r: Ses(), override_rate=3.0).get("x").max_send_rate == 3.0


def test_a_failed_get_account_uses_the_configured_rate_or_is_an_error_never_a_sandbox_guess():
    class Moto:
        def get_account(self):
            raise client_error("NotImplemented", 501)

    assert AccountLimitsProvider(lambda r: Moto(), override_rate=50).get("x") == AccountLimits(50, None)
    with pytest.raises(AccountLimitsUnavailableError, match="GetAccount failed in x"):
        AccountLimitsProvider(lambda r: Moto()).get("x")


def test_warmup_ramps_over_thirty_days_then_stops():
    caps = [
        warmup_cap("2026-01-01", date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + d), 100_000)
        for d in range(31)
    ]
    assert caps[0] == 50
    assert caps[29] == 100_000
    assert all(a is not None and b is not None and a < b for a, b in zip(caps[:29], caps[1:29]))
    assert caps[30] is None
    assert warmup_cap("", date(2026, 1, 5), None) is None


def test_pacer_daily_cap_combines_quota_headroom_and_warmup():
    clock = SimClock(now=1_767_225_600.0 + 3600)  # 2026-01-01T01:00Z

    class Fixed(AccountLimitsProvider):
        def _fetch(self, region):
            return AccountLimits(10.0, 10_000.0)

    pacer = Pacer(InMemoryRateStore(), Fixed(lambda r: None), headroom=0.02, clock=clock)
    assert pacer.daily_cap("r", AccountLimits(10.0, 10_000.0)) == pytest.approx(9_800.0)
    pacer.warmup_start = "2026-01-01"
    assert pacer.daily_cap("r", AccountLimits(10.0, 10_000.0)) == 50


def test_dynamo_rate_store_retries_when_another_sender_changed_the_item():
    from runtime.sender.pacing import DynamoRateStore

    class Ddb:
        def __init__(self):
            self.item = None
            self.puts = 0
            self.conflicts = 1

        def get_item(self, **kwargs):
            return {"Item": self.item} if self.item else {}

        def put_item(self, Item, **kwargs):
            self.puts += 1
            if self.conflicts:
                self.conflicts -= 1
                self.item = {**Item, "version": {"N": "7"}, "log": {"S": "0.500000:3"}}
                raise client_error("ConditionalCheckFailedException")
            assert kwargs["ExpressionAttributeValues"][":v"] == {"N": "7"}
            self.item = Item

    ddb = Ddb()
    store = DynamoRateStore(ddb, "control")
    reservation = store.reserve(
        "us-east-1", now=1.0, want=5, minimum=1, rate=5, daily_cap=None, already_sent=0, max_ahead=10
    )
    assert ddb.puts == 2
    assert reservation.granted == 2  # the competitor's 3 recipients at t=0.5 are still in the window
    assert ddb.item["log"]["S"] == "0.500000:3,1.000000:2"
