"""Campaign stats cost against moto: DynamoDB requests and read units (``bench.meter``) at 100,000 vs 1,000
messages, and the emulator's median latency.

Counters are seeded the way the ingestion engine keeps them (``COUNTERS#TOTAL``, ``COUNTERS#LIST#<list>``,
``COUNTERS#DAY#<day>``), with the same lists/days layout for both campaigns: the number of counter items depends on
lists and days, never on the number of messages, so one Query answers both.

* ``stats_rru_ratio_100k_vs_1k`` / ``stats_rru_per_call``: read units billed for one stats answer (the check that
  they do not grow with the campaign; the counters' digits do, by a few bytes per item);
* ``stats_requests_ratio_100k_vs_1k`` / ``stats_requests_per_call``: DynamoDB requests;
* ``stats_median_ms_100k`` / ``_1k``: latency against in-process moto (the emulator's speed, not DynamoDB's).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

LISTS = ("news", "promo", "product", "events")
DAYS = tuple(f"2026-05-{d:02d}" for d in range(1, 15))
ROUNDS = 60


def _seed(ddb: Any, table: str, campaign_id: str, messages: int) -> None:
    from runtime.stores.dynamo import to_item
    from runtime.stores.schema import COUNTERS

    def counters(n: int) -> dict[str, int]:
        values = dict.fromkeys(COUNTERS, 0)
        values.update(
            sent=n,
            delivered=n * 96 // 100,
            bounced_hard=n * 2 // 100,
            bounced_soft=n // 100,
            complained=n // 2000,
            opened_unique=n * 35 // 100,
            opened_total=n * 52 // 100,
            clicked_unique=n * 8 // 100,
            clicked_total=n * 11 // 100,
            unsubscribed=n // 500,
        )
        return values

    items: list[dict[str, Any]] = [
        {
            "campaign_id": campaign_id,
            "sk": "META",
            "status": "launched",
            "listing_pk": "CAMPAIGN",
            "created_at": "2026-05-01T08:00:00.000Z",
        },
        {"campaign_id": campaign_id, "sk": "COUNTERS#TOTAL", **counters(messages)},
    ]
    items += [
        {"campaign_id": campaign_id, "sk": f"COUNTERS#LIST#{n}", **counters(messages // len(LISTS))} for n in LISTS
    ]
    items += [{"campaign_id": campaign_id, "sk": f"COUNTERS#DAY#{d}", **counters(messages // len(DAYS))} for d in DAYS]
    for item in items:
        ddb.put_item(TableName=table, Item=to_item(item))


def run() -> dict[str, float]:
    import boto3
    from moto import mock_aws

    from bench.meter import DynamoMeter
    from runtime.query.pagination import PageTokens
    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.service import TrackingQueries
    from runtime.stores.suppressions import InMemorySuppressionStore
    from runtime.stores.tables import create_tables

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        raw = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        create_tables(ddb, "bench")
        table = "sesame-bench-campaigns"
        _seed(ddb, table, "small", 1_000)
        _seed(ddb, table, "large", 100_000)
        calls = {"n": 0}

        def count(**_: Any) -> None:
            calls["n"] += 1

        ddb.meta.events.register("before-call.dynamodb.*", count)
        meter = DynamoMeter(raw)
        meter.attach(ddb)
        reader = DynamoTrackingReader(ddb, TableNames("sesame-bench-messages", table))
        queries = TrackingQueries(reader, InMemorySuppressionStore(), PageTokens("bench-secret"))

        def measure(campaign_id: str) -> tuple[int, float, float]:
            before = calls["n"]
            units = meter.total("RRU")
            doc = queries.campaign_stats(campaign_id, "news", "day")
            requests = calls["n"] - before
            read_units = meter.total("RRU") - units
            meter.enabled = False  # the latency samples time the reader and moto, not the meter
            assert doc["counters"]["sent"] in (1_000, 100_000)
            samples = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                queries.campaign_stats(campaign_id, "news", "day")
                samples.append(time.perf_counter() - start)
            meter.enabled = True
            return requests, read_units, statistics.median(samples)

        measure("small")  # warm-up (imports, moto lazy setup)
        small_requests, small_units, small_latency = measure("small")
        large_requests, large_units, large_latency = measure("large")
        _, _, small_latency2 = measure("small")  # interleave to damp drift
        small_latency = statistics.median([small_latency, small_latency2])

    return {
        "stats_requests_ratio_100k_vs_1k": round(large_requests / small_requests, 3),
        "stats_rru_ratio_100k_vs_1k": round(large_units / small_units, 3),
        "stats_rru_per_call": large_units,
        "stats_requests_per_call": float(large_requests),
        "stats_median_ms_100k": round(large_latency * 1000, 3),
        "stats_median_ms_1k": round(small_latency * 1000, 3),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
