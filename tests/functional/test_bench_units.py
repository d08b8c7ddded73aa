"""The units bench drives the real sender and ingestion code: a small campaign goes all the way through, every
email accepted by SES is metered on both sides, and the replayed ingestion consumes exactly the recorded answers.
(No figure is asserted: the data-model work is meant to change them; the bench must keep running.)"""

from __future__ import annotations

from bench import bench_units
from bench.cost_model import usd_per_million_emails


def test_a_small_campaign_runs_through_the_metered_real_path(tmp_path):
    run = bench_units.drive(str(tmp_path), recipients=40, fast_moto=False)
    usage = run.usage
    assert usage.emails == 40
    assert run.ingest_events >= 40 * 2  # a Send and (nearly always) a Delivery per email, plus opens/clicks
    phases = bench_units.phase_totals(run)
    assert phases["sender"]["WRU"] > 0 and phases["ingest"]["WRU"] > 0 and phases["ingest"]["RRU"] > 0
    assert phases["ttl"].get("WRU", 0.0) == 0.0 and phases["ttl"]["rWRU"] > 0  # expiry is free only locally
    assert usage.sns_publishes == run.ingest_events
    bench_units.lambda_usage(run, bench_units.function_memory())
    assert usage.lambda_invocations["sender"] >= 1 and usage.lambda_invocations["engagement_events"] >= 1
    assert usd_per_million_emails(usage, 2) > usd_per_million_emails(usage, 1) > 0
    assert bench_units.ingest_cpu_per_event(run, repeats=1) > 0  # raises unless every recorded answer was used
    assert "| sender | messages |" in bench_units.units_table(run)
