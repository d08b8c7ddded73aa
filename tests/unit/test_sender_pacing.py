from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from runtime.sender.pacing import (
    SHARD_RATE,
    AccountLimits,
    AccountLimitsProvider,
    AccountLimitsUnavailableError,
    InMemoryRateStore,
    Pacer,
    plan,
    recorded_limits,
    shard_count,
    share,
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


def _snapshot(taken_at: float, **region: object) -> dict[str, object]:
    doc = {"region": "us-east-1", "max_send_rate": 14.0, "max_24h_send": 50_000.0, "sent_last_24h": 120.0, **region}
    stamp = datetime.fromtimestamp(taken_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"taken_at": stamp, "regions": [{"region": "eu-west-1", "max_send_rate": 1.0}, doc]}


def test_limits_the_per_minute_check_recorded_are_used_while_fresh_instead_of_get_account():
    calls = []

    class Ses:
        def get_account(self):
            calls.append(1)
            return {"SendQuota": {"MaxSendRate": 20.0, "Max24HourSend": 0, "SentLast24Hours": 0}}

    clock = SimClock(now=1_800_000_000.0)
    snapshots = {"doc": _snapshot(clock.now - 60)}
    provider = AccountLimitsProvider(
        lambda region: Ses(), clock=clock, ttl=300, recorded=lambda r: recorded_limits(snapshots["doc"], r)
    )
    assert provider.get("us-east-1") == AccountLimits(14.0, 50_000.0, 120)
    assert calls == []
    clock.now += 200  # cached as of the snapshot's time: 260 s old, still within the bound
    provider.get("us-east-1")
    assert calls == []
    clock.now += 60  # 320 s old, and the check recorded nothing newer: GetAccount
    assert provider.get("us-east-1") == AccountLimits(20.0, None, 0)
    assert calls == [1]


@pytest.mark.parametrize(
    "snapshot",
    [
        None,
        _snapshot(1_800_000_000.0 - 301),  # older than the bound
        _snapshot(1_800_000_000.0, region="ap-south-1"),  # the region is not in it
        _snapshot(1_800_000_000.0, max_send_rate=None, error="SES GetAccount failed in us-east-1 (Throttling)"),
        {"regions": []},  # no taken_at
    ],
)
def test_missing_stale_or_failed_recorded_limits_fall_back_to_get_account(snapshot):
    class Ses:
        def get_account(self):
            return {"SendQuota": {"MaxSendRate": 20.0, "Max24HourSend": 100.0, "SentLast24Hours": 3}}

    clock = SimClock(now=1_800_000_000.0)
    provider = AccountLimitsProvider(lambda r: Ses(), clock=clock, recorded=lambda r: recorded_limits(snapshot, r))
    assert provider.get("us-east-1") == AccountLimits(20.0, 100.0, 3)


def test_unreadable_recorded_limits_and_a_failing_get_account_send_nothing_unless_the_rate_is_configured():
    class Down:
        def get_account(self):
            raise client_error("ServiceUnavailable", 503)

    def unreadable(region):
        raise client_error("ProvisionedThroughputExceededException", 400)

    with pytest.raises(AccountLimitsUnavailableError):
        AccountLimitsProvider(lambda r: Down(), recorded=unreadable).get("us-east-1")
    configured = AccountLimitsProvider(lambda r: Down(), override_rate=7.0, recorded=unreadable)
    assert configured.get("us-east-1") == AccountLimits(7.0, None)


def test_the_configured_rate_overrides_recorded_limits_too():
    clock = SimClock(now=1_800_000_000.0)
    provider = AccountLimitsProvider(
        lambda r: pytest.fail("GetAccount called"),
        override_rate=3.0,
        clock=clock,
        recorded=lambda r: recorded_limits(_snapshot(clock.now), r),
    )
    assert provider.get("us-east-1") == AccountLimits(3.0, 50_000.0, 120)


def test_the_reads_acquire_starts_with_can_be_made_ahead_once_and_fill_the_caches():
    clock = SimClock(now=1_800_000_000.0)
    reads: list[str] = []

    def recorded(region):
        reads.append("snapshot")
        return recorded_limits(_snapshot(clock.now), region)

    def held():
        reads.append("held")
        return {"2026-01-02"}

    limits = AccountLimitsProvider(lambda r: pytest.fail("GetAccount called"), clock=clock, recorded=recorded)
    pacer = Pacer(InMemoryRateStore(), limits, warmup_start="2026-01-01", clock=clock, warmup_held=held)
    for read in pacer.reads_ahead("us-east-1"):
        read()
    assert reads == ["snapshot", "held"]
    assert pacer.reads_ahead("us-east-1") == []  # cached: nothing left to read ahead
    reservation = pacer.acquire("us-east-1", 5)
    assert reservation.granted == 5 and reads == ["snapshot", "held"]  # acquire used what was read ahead


def test_a_failed_read_ahead_raises_nothing_and_acquire_calls_get_account_once_and_sends_nothing_without_limits():
    calls: list[str] = []

    class Down:
        def get_account(self):
            calls.append("GetAccount")
            raise client_error("ServiceUnavailable", 503)

    def unreadable(region):
        calls.append("snapshot")
        raise client_error("ProvisionedThroughputExceededException", 400)

    pacer = Pacer(InMemoryRateStore(), AccountLimitsProvider(lambda r: Down(), recorded=unreadable))
    (read,) = pacer.reads_ahead("us-east-1")
    read()
    assert calls == ["snapshot"]  # read ahead: the recorded limits only, never GetAccount
    with pytest.raises(AccountLimitsUnavailableError):
        pacer.acquire("us-east-1", 1)
    assert calls == ["snapshot", "GetAccount"]  # the read ahead's miss goes straight to GetAccount, as before
    assert Pacer(InMemoryRateStore(), AccountLimitsProvider(lambda r: Down())).reads_ahead("us-east-1") == []


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
    store = DynamoRateStore(ddb, "control", assume_idle_first=False)  # read, decide, write (every reservation)
    reservation = store.reserve(
        "us-east-1", now=1.0, want=5, minimum=1, rate=5, daily_cap=None, already_sent=0, max_ahead=10
    )
    assert ddb.puts == 2
    assert reservation.granted == 2  # the competitor's 3 recipients at t=0.5 are still in the window
    assert ddb.item["log"]["S"] == "0.500000:3,1.000000:2"


class _Limits(AccountLimitsProvider):
    def __init__(self, limits: AccountLimits, clock: SimClock) -> None:
        super().__init__(lambda r: None, clock=clock)
        self._limits = limits

    def _fetch(self, region):
        return self._limits


@pytest.mark.parametrize(("rate", "expected"), [(1, 1), (14, 1), (99, 1), (100, 2), (1000, 20), (50_000, 20)])
def test_shard_count_gives_every_shard_room_for_a_fifty_recipient_message(rate, expected):
    assert shard_count(rate) == expected
    assert rate < SHARD_RATE or rate / shard_count(rate) >= SHARD_RATE


def test_shares_of_a_total_sum_to_it_exactly():
    for total in (0, 5, 19, 20, 21, 9_800):
        assert sum(share(total, 20, shard) for shard in range(20)) == total


@pytest.mark.parametrize(("rate", "want"), [(1000, 50), (1000, 10), (250, 1), (130, 7)])
def test_sharded_reservations_never_put_more_than_the_rate_in_any_window(rate, want):
    """Many senders through their own Pacers on one store: the busiest one-second window over every shard's
    reservations stays within the rate, and the senders together still reach it."""
    clock = SimClock(now=1000.0)
    store = InMemoryRateStore()
    limits = _Limits(AccountLimits(float(rate), None), clock)
    pacers = [
        Pacer(store, limits, clock=clock, sleep=lambda s: None, rng=random.Random(i), max_wait=1e9) for i in range(20)
    ]
    sends = []
    for i in range(3000):
        reservation = pacers[i % 20].acquire("r", want)
        sends.append((reservation.at, reservation.granted))
        clock.now += 0.0005 * (i % 5)  # senders arriving at different times
    assert len(set(store.states)) == shard_count(rate)  # every shard was used
    assert _busiest(sends) <= rate
    horizon = max(t for t, _ in sends) - 1000.0
    assert sum(n for _, n in sends) / horizon >= 0.95 * rate


def test_a_busy_shard_sends_the_sender_to_a_shard_with_room_or_to_the_earliest_of_those_it_looked_at():
    clock = SimClock(now=1000.0)
    store = InMemoryRateStore()
    limits = _Limits(AccountLimits(1000.0, None), clock)
    order = random.Random(4).sample(range(20), 20)  # the order the pacer below looks at shards

    def fill(shard, at):
        kwargs = {"minimum": 1, "rate": 50.0, "daily_cap": None, "already_sent": 0, "max_ahead": 1e9}
        assert store.reserve("r", now=at, want=50, shard=shard, **kwargs).granted == 50

    fill(order[0], 1000.0)
    first = Pacer(store, limits, clock=clock, sleep=lambda s: None, rng=random.Random(4)).acquire("r", 50)
    assert (first.shard, first.at, first.granted) == (order[1], 1000.0, 50)  # looked further, no waiting

    fill(order[2], 999.7)  # every other shard is full until 1001.0; the third one looked at frees up at 1000.7
    for shard in order[3:]:
        fill(shard, 1000.0)
    queued = Pacer(store, limits, clock=clock, sleep=lambda s: None, rng=random.Random(4)).acquire("r", 50)
    assert (queued.shard, queued.granted) == (order[2], 50)
    assert queued.at == pytest.approx(1000.7, abs=1e-3)


def test_daily_cap_split_over_shards_grants_exactly_the_cap_then_reports_exhaustion():
    clock = SimClock(now=1_780_000_000.0)
    store = InMemoryRateStore()
    limits = _Limits(AccountLimits(1000.0, 1_000.0), clock)
    pacer = Pacer(store, limits, headroom=0.0, clock=clock, sleep=clock.sleep, rng=random.Random(3))
    granted = 0
    for _ in range(200):
        reservation = pacer.acquire("r", 7)
        if reservation.exhausted:
            break
        granted += reservation.granted
    assert granted == 1_000
    assert pacer.acquire("r", 1).exhausted
    day = datetime.fromtimestamp(clock.now, tz=UTC).strftime("%Y-%m-%d")
    assert store.day_count("r", day) == 1_000


def test_daily_count_equals_what_ses_accepted_after_settling_unused_parts():
    clock = SimClock(now=1_780_000_000.0)
    store = InMemoryRateStore()
    pacer = Pacer(store, _Limits(AccountLimits(1000.0, None), clock), clock=clock, sleep=clock.sleep)
    accepted = 0
    for i in range(300):
        reservation = pacer.acquire("r", 10)
        used = reservation.granted - (i % 4)  # SES refused some
        accepted += used
        pacer.settle("r", reservation, used)
        pacer.settle("r", reservation, used)  # a retried settlement changes nothing
    day = datetime.fromtimestamp(clock.now, tz=UTC).strftime("%Y-%m-%d")
    assert store.day_count("r", day) == accepted


def test_only_warm_up_pool_sends_are_capped_by_the_ramp():
    clock = SimClock(now=1_767_225_600.0 + 3600)  # 2026-01-01T01:00Z, day 0 of the warm-up
    store = InMemoryRateStore()

    class Fixed(AccountLimitsProvider):
        def _fetch(self, region):
            return AccountLimits(10.0, 10_000.0)

    pacer = Pacer(store, Fixed(lambda r: None), headroom=0.0, warmup_start="2026-01-01", clock=clock, sleep=clock.sleep)
    assert pacer.daily_cap("r", AccountLimits(10.0, 10_000.0), warmup=False) == 10_000
    granted = 0
    for _ in range(30):
        reservation = pacer.acquire("r", 8, warmup=True)
        if reservation.exhausted:
            break
        granted += reservation.granted
    assert reservation.exhausted and granted == 50  # the ramp's 50 for day 0
    assert pacer.acquire("r", 8, warmup=False).granted == 8  # transactional: the quota only


def test_held_days_keep_the_ramp_on_its_step_and_only_count_since_the_start():
    start = date(2026, 1, 1)
    day5 = date(2026, 1, 6)
    assert warmup_cap("2026-01-01", day5, 100_000, held_days=2) == warmup_cap("2026-01-01", date(2026, 1, 4), 100_000)
    assert warmup_cap("2026-01-01", start, 100_000, held_days=3) == 50  # never below the first step
    clock = SimClock(now=datetime(2026, 1, 6, 12, tzinfo=UTC).timestamp())
    reads: list[int] = []

    def held() -> set[str]:
        reads.append(1)
        return {"2025-12-20", "2026-01-03", "2026-01-04"}  # the first is a previous warm-up's

    class Fixed(AccountLimitsProvider):
        def _fetch(self, region):
            return AccountLimits(10.0, None)

    pacer = Pacer(InMemoryRateStore(), Fixed(lambda r: None), warmup_start="2026-01-01", clock=clock, warmup_held=held)
    assert pacer.daily_cap("r", AccountLimits(10.0, None)) == warmup_cap("2026-01-01", date(2026, 1, 4), None)
    pacer.daily_cap("r", AccountLimits(10.0, None))
    assert len(reads) == 1  # cached for held_ttl

    def broken() -> set[str]:
        raise RuntimeError("control table unavailable")

    clock.now += 301
    pacer.warmup_held = broken
    assert pacer.daily_cap("r", AccountLimits(10.0, None)) == warmup_cap("2026-01-01", date(2026, 1, 4), None)
