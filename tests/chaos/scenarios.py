"""Running one chaos scenario, checking its targets and recording its figures (``.chaos/<scenario>.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.pipeline import ChaosRun, Scenario

REPORT_DIR = Path(os.environ.get("SESAME_CHAOS_DIR") or Path(__file__).resolve().parents[2] / ".chaos")
# what must be zero in every scenario (issue 11): nothing lost, nothing counted twice, nobody sent twice or never
# sent, nothing applied but never forwarded; and the sender's own record of every recipient is right
TARGETS = (
    "events_lost",
    "counted_short",
    "double_counted",
    "sent_twice",
    "never_sent",
    "sender_records_wrong",
    "never_forwarded",
    "forwarded_unapplied",
)


def run_scenario(scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    run = ChaosRun(scenario, monkeypatch, tmp_path)
    with run.running():
        figures = run.run()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{scenario.name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


def check(figures: dict[str, Any]) -> None:
    missed = {key: figures[key] for key in TARGETS if figures[key]}
    assert not missed, f"{figures['scenario']}: {missed} (figures: {figures})"
    assert sum(figures["faults_injected"].values()) > 0, "no fault was injected: the scenario proves nothing"
    assert figures["events"] >= 3 * figures["recipients"] // 2, "too few SES events to judge ingestion"
