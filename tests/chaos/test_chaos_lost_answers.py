"""Answers lost after the request was applied (connection closed on the way back): botocore re-sends what it may,
the application must recognise its own earlier writes, and the sender must not send a recipient twice."""

from __future__ import annotations

import pytest

from tests.chaos.pipeline import Scenario
from tests.chaos.scenarios import check, run_scenario


@pytest.mark.chaos
@pytest.mark.parametrize(("rate", "seed"), [(0.2, 11), (0.6, 12)])
def test_lost_answers_lose_nothing_count_nothing_twice_and_send_nobody_twice(monkeypatch, tmp_path, rate, seed):
    figures = run_scenario(Scenario("lost", rate, seed), monkeypatch, tmp_path)
    check(figures)
    assert figures["faults_injected"]["lost"] >= 20
