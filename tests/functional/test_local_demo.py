"""End to end: ``python -m runtime.local --once`` with 100 recipients, duplicates and reordering on.

The demo's report comes from the tracking API; every number must equal the ground truth implied by the mailbox
simulator addresses the campaign was sent to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.local.simulator import Scenario, SentMail, SesEventSimulator, SimulatorOptions, scenario_for

REPO = Path(__file__).resolve().parents[2]
RECIPIENTS = 100
# the guardrails judge a window only from this many emails on (default 500, above the fixture's 100 recipients): set
# through the app's own stage variable, as `sesame:guardrailMinVolume` sets it in a deployment
GUARDRAIL_MIN_VOLUME = 50


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state = tmp_path_factory.mktemp("local-demo")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime.local",
            "--once",
            "--recipients",
            str(RECIPIENTS),
            "--duplicates",
            "0.15",
            "--presuppressed",
            "0.03",
            "--state-dir",
            str(state),
        ],
        cwd=REPO,
        env={**os.environ, "SESAME_GUARDRAIL_MIN_VOLUME": str(GUARDRAIL_MIN_VOLUME)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    result = json.loads((state / "report.json").read_text())
    result["stdout"] = proc.stdout
    result["progress"] = proc.stderr  # the step lines
    result["state"] = state
    return result


def _by_scenario(recipients: list[str]) -> dict[Scenario, int]:
    counts = dict.fromkeys(Scenario, 0)
    for r in recipients:
        counts[scenario_for(r)] += 1
    return counts


@pytest.mark.slow
def test_demo_report_numbers_equal_the_simulator_ground_truth(demo: dict[str, Any]) -> None:
    report = demo["report"]
    counters = report["counters"]
    sent = [m["recipient"] for m in demo["sent"]]
    presuppressed = demo["presuppressed"]
    kinds = _by_scenario(sent)

    assert presuppressed, "some recipients are suppressed before the launch"
    assert not set(presuppressed) & set(sent), "suppressed recipients are never sent to"
    assert len(sent) + len(presuppressed) == RECIPIENTS
    assert counters["suppressed"] == len(presuppressed)
    assert counters["delivered"] == kinds[Scenario.SUCCESS] + kinds[Scenario.OOTO] + kinds[Scenario.COMPLAINT]
    # a suppression-list drop is neither a hard bounce nor a reason for a sesame suppression (docs/events.md)
    assert counters["bounced_hard"] == kinds[Scenario.BOUNCE]
    assert counters["bounced_soft"] == 0
    assert counters["complained"] == kinds[Scenario.COMPLAINT]
    assert counters["ses_suppressed"] == report["ses_suppressed"] == kinds[Scenario.SUPPRESSIONLIST]
    assert report["suppression_list"] == {
        "BOUNCE": kinds[Scenario.BOUNCE],
        "COMPLAINT": kinds[Scenario.COMPLAINT],
        "MANUAL": len(presuppressed),
    }

    # engagement is random per message but fixed by the seed: recompute it independently from the recorded ids
    sim = demo["simulator"]
    truth = SesEventSimulator(SimulatorOptions(seed=sim["seed"])).ground_truth(
        [SentMail(m["message_id"], m["recipient"], datetime.now(UTC)) for m in demo["sent"]]
    )
    assert truth.opened_unique > 0 and truth.clicked_unique > 0
    assert (counters["opened_unique"], counters["clicked_unique"]) == (truth.opened_unique, truth.clicked_unique)
    assert (counters["opened_total"], counters["clicked_total"]) == (truth.opened_total, truth.clicked_total)
    assert counters["delayed"] == truth.delayed
    # each accepted message is counted once, although both the sender and the Send event know about it
    assert counters["sent"] == len(sent), "campaign 'sent' counter counts each message once"


@pytest.mark.slow
def test_demo_delivered_duplicates_out_of_order_through_sqs_and_the_webhook(demo: dict[str, Any]) -> None:
    delivery = demo["report"]["delivery"]
    truth_events = demo["ground_truth"]["events"]
    assert demo["simulator"]["out_of_order"] is True
    assert delivery["published"] > truth_events, "duplicates were delivered"
    assert delivery["sqs_messages"]["sesame-dev-critical"] > 0
    assert delivery["sqs_messages"]["sesame-dev-engagement"] > 0
    assert delivery["webhook_posts"] > 0
    assert set(delivery["webhook_status"]) == {"200"}, "every signed webhook delivery was accepted"
    assert demo["poller"]["failures"] == {}


@pytest.mark.slow
def test_demo_prints_the_funnel_and_writes_a_self_contained_html_report(demo: dict[str, Any]) -> None:
    out = demo["stdout"]
    for label in ("Sent", "Delivered", "Opened", "Clicked", "delivery rate", "open rate"):
        assert label in out
    page = (demo["state"] / "report.html").read_text()
    assert "<svg" in page and "Funnel" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), "no external assets"


@pytest.mark.slow
def test_chalice_local_access_log_holds_no_address_or_token(demo: dict[str, Any]) -> None:
    import re
    import urllib.parse

    log = (Path(demo["state"]) / "chalice_local.log").read_text()
    assert "/suppressions/" in log  # the demo's PUT /suppressions/{email} calls went through chalice local
    for email in demo["presuppressed"]:
        local_part = email.split("@")[0]
        assert email not in log and urllib.parse.quote(email) not in log and local_part not in log
    assert not re.search(r"token=(?!\[redacted\])[A-Za-z0-9._-]{8,}", log)


@pytest.mark.slow
def test_demo_sends_transactional_messages_with_one_result_per_recipient(demo: dict[str, Any]) -> None:
    messages = demo["report"]["transactional"]
    assert [m["http_status"] for m in messages] == [207] * 4  # one address was suppressed up front
    assert [m["status"] for m in messages] == ["sent", "sent", "sent", "suppressed"]
    assert messages[3]["recipient"] in demo["presuppressed"]
    assert [m["status_now"] for m in messages] == ["sent", "sent", "sent", "suppressed"]
    assert all(m["message_id"] for m in messages)


@pytest.mark.slow
def test_demo_prints_the_guardrail_trip_then_resumes_the_paused_set_as_an_operator_would(demo: dict[str, Any]) -> None:
    out = demo["progress"]
    line = next(x for x in out.splitlines() if "] guardrails: us-east-1 bounce" in x)
    # the demo's mix (10 % bounce@ of the sent) is above the 4 % pause level once the window holds enough mail
    assert "paused: configuration_set sesame-dev-marketing (guardrail: bounce rate" in line, line
    tripped = out.index(line)
    resumed = out.index("guardrails: resumed configuration set sesame-dev-marketing as an operator would")
    assert tripped < resumed
