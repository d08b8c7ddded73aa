"""Handlers killed right after their k-th write (a Lambda timeout or crash between steps): the redelivery must
resolve what the dead invocation sent from SES's Send events instead of sending it again."""

from __future__ import annotations

import pytest

from tests.chaos.pipeline import Scenario
from tests.chaos.scenarios import check, run_scenario


@pytest.mark.chaos
@pytest.mark.parametrize(("rate", "seed"), [(0.2, 31), (0.6, 32)])
def test_handlers_killed_mid_batch_lose_nothing_and_send_nobody_twice(monkeypatch, tmp_path, rate, seed):
    figures = run_scenario(Scenario("killed", rate, seed), monkeypatch, tmp_path)
    check(figures)
    assert figures["killed"] >= 1
