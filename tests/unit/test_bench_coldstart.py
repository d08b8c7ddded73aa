"""bench_coldstart's modelled wait for AWS: calls one after another add up, concurrent ones (threads) overlap."""

from __future__ import annotations

from bench.cost_model import waited_ms

LATENCY = {"GetItem": 5.0, "GetAccount": 60.0, "PutItem": 6.0, "Query": 8.0}


def _latency(service: str, operation: str) -> float:
    return LATENCY[operation]


def test_calls_made_one_after_another_add_up():
    calls = [["dynamodb", "GetItem", 0.0, 1.0, 1], ["sesv2", "GetAccount", 1.0, 2.0, 1], ["x", "PutItem", 2.5, 3, 1]]
    assert waited_ms(calls, _latency) == 71.0


def test_overlapping_calls_of_other_threads_cost_their_busiest_thread():
    calls = [
        ["ssm", "GetItem", 0.0, 1.0, 1],  # alone first
        ["sesv2", "GetAccount", 1.0, 5.0, 2],  # these three overlap: thread 2 waits 60, thread 3 waits 8 + 5
        ["dynamodb", "Query", 1.1, 2.0, 3],
        ["dynamodb", "GetItem", 2.1, 3.0, 3],
        ["dynamodb", "PutItem", 6.0, 7.0, 1],  # after the group
    ]
    assert waited_ms(calls, _latency) == 5.0 + 60.0 + 6.0


def test_a_group_lasts_while_any_of_its_calls_is_in_flight_and_costs_its_busiest_thread():
    calls = [
        ["sesv2", "GetAccount", 0.0, 3.0, 1],
        ["dynamodb", "Query", 0.5, 1.5, 2],
        ["dynamodb", "Query", 1.6, 2.5, 2],  # thread 2's next call, still while GetAccount is in flight
    ]
    assert waited_ms(calls, _latency) == 60.0  # max(60, 8 + 8)
    after = [*calls[:2], ["dynamodb", "Query", 3.5, 4.0, 2]]  # begun once nothing else was in flight: it adds
    assert waited_ms(after, _latency) == 68.0
    assert waited_ms([], _latency) == 0.0
