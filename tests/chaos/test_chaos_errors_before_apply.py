"""Throttling and 5xx answers instead of applying the request (SES, DynamoDB, SQS, and the user's API): retried
where they prove nothing happened, re-enqueued or redelivered otherwise, dead-lettered and redriven at the end."""

from __future__ import annotations

import pytest

from tests.chaos.pipeline import Scenario
from tests.chaos.scenarios import check, run_scenario


@pytest.mark.chaos
@pytest.mark.parametrize(("rate", "seed"), [(0.2, 21), (0.6, 22)])
def test_throttling_and_5xx_before_apply_lose_nothing_and_send_nobody_twice(monkeypatch, tmp_path, rate, seed):
    figures = run_scenario(Scenario("before", rate, seed), monkeypatch, tmp_path)
    check(figures)
    assert figures["faults_injected"].get("throttle") and figures["faults_injected"].get("5xx")
