"""The demo report (text funnel, self-contained HTML) and the local stack's command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.local.__main__ import build_parser
from runtime.local.demo import campaign_request
from runtime.local.report import Report, funnel_text, render_html, render_text

REPO = Path(__file__).resolve().parents[2]


def _report(**counters: int) -> Report:
    base = {"sent": 200, "delivered": 180, "opened_unique": 90, "clicked_unique": 30, "bounced_hard": 20}
    base.update(counters)
    return Report(
        campaign_id="demo<1>",
        recipients=204,
        counters=base,
        rates={"delivery_rate": 0.9, "open_rate": 0.5},
        suppression_list={"BOUNCE": 20, "MANUAL": 4},
        ses_suppressed=8,
        delivery={"published": 700, "sqs_messages": {"sesame-dev-critical": 40}, "webhook_posts": 40},
        timings={"total": 12.5},
    )


def test_funnel_bars_shrink_with_each_stage_and_show_percentages() -> None:
    lines = funnel_text(_report().counters, width=20)
    filled = [line.count("█") for line in lines]
    assert filled == [20, 18, 9, 3]
    assert lines[1].rstrip().endswith("90.0%")


def test_funnel_of_an_empty_campaign_has_no_division_by_zero() -> None:
    assert all("0.0%" in line for line in funnel_text({}, width=10))


def test_text_report_names_counters_rates_and_delivery_paths() -> None:
    text = render_text(_report())
    for expected in ("delivery rate (of sent)", "90.00%", "bounced, permanent", "MANUAL", "-> SQS sesame-dev-critical"):
        assert expected in text


def test_html_report_is_self_contained_and_escapes_names() -> None:
    page = render_html(_report())
    assert "demo&lt;1&gt;" in page and "demo<1>" not in page
    assert page.count("<rect") == 4 and "<svg" in page
    assert "<script" not in page and "src=" not in page and "<link" not in page


def test_campaign_request_follows_the_campaign_candidate_format() -> None:
    recipients = [f"success+r{i}@simulator.amazonses.com" for i in range(5)]
    body = campaign_request("spring", recipients, "s3://bucket/t.html")
    assert body["campaign_id"] == "spring" and body["templateS3Uri"] == "s3://bucket/t.html"
    assert [s["list_name"] for s in body["segments"]] == ["newsletter", "customers"]
    sent = [r["to_address"] for s in body["segments"] for r in s["recipients"]]
    assert sent == recipients


def test_command_line_defaults_match_the_documented_demo() -> None:
    args = build_parser().parse_args([])
    assert (args.recipients, args.once, args.duplicates, args.in_order) == (1000, False, 0.05, False)


def test_help_runs_without_starting_anything() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "runtime.local", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "--once" in out and "--recipients" in out


def test_help_states_the_defaults_docs_local_md_documents() -> None:
    text = " ".join(build_parser().format_help().split())
    for expected in ("default 1000", "default 7", "default 0.05", "default 0.02", "default: .local"):
        assert expected in text


def test_moto_runner_help_keeps_its_list_of_changes_readable(capsys: pytest.CaptureFixture[str]) -> None:
    from runtime.local import moto_runner

    with pytest.raises(SystemExit):
        moto_runner.main(["--help"])
    out = capsys.readouterr().out
    assert "two changes" not in out
    assert "\n* ``TCP_NODELAY``" in out and "\n* ``TransactWriteItems``" in out


def test_text_report_shows_how_the_webhook_answered_as_the_troubleshooting_guide_says() -> None:
    report = _report()
    report.delivery = {**report.delivery, "webhook_status": {"200": 38, "403": 2}}
    lines = render_text(report).splitlines()
    assert any("answered HTTP 200" in line and line.rstrip().endswith("38") for line in lines)
    assert any("answered HTTP 403" in line and line.rstrip().endswith("2") for line in lines)


def test_campaign_request_of_a_single_recipient_is_a_valid_campaign() -> None:
    from runtime.sender.campaign import parse_candidate

    body = campaign_request("solo", ["success+r00000@simulator.amazonses.com"], "s3://sesame-bucket/t.html")
    candidate = parse_candidate(body)
    assert [len(s.recipients) for s in candidate.segments] == [1]


def test_progress_counters_reach_a_pipe_every_few_seconds_not_on_every_update() -> None:
    import io

    from runtime.local.demo import Progress

    now = [100.0]
    stream = io.StringIO()  # not a terminal, like `make local | tee` or a CI log
    progress = Progress(False, stream, clock=lambda: now[0])
    for t, n in ((100.0, 10), (101.0, 20), (104.0, 30), (105.5, 40), (106.0, 50)):
        now[0] = t
        progress.update(f"published {n} events")
    lines = stream.getvalue().splitlines()
    assert [line.split()[-2] for line in lines] == ["10", "40"]
    assert "\r" not in stream.getvalue()
