"""Cost model: metered usage (``bench.meter.Usage``) -> US dollars per million emails tracked.

Prices assumed: us-east-1 public list prices (2025), no free tier, no savings plans or reserved capacity.

* DynamoDB on-demand write request unit (WRU): $0.625 per million — base-table and GSI write units in the sending
  region;
* DynamoDB on-demand read request unit (RRU): $0.125 per million — read units (eventually consistent = 0.5);
* DynamoDB replicated write request unit (rWRU): $0.625 per million — per extra region, each changing base-table
  write and each TTL delete;
* DynamoDB WRU in a replica region: $0.625 per million — per extra region, the replica's GSI upkeep (replicated
  writes and TTL deletes);
* SNS standard topic publish: $0.50 per million — SES event publishes, each 64 KB chunk one request;
* SNS payload-based message filtering: $0.09 per GB scanned — each SES event scanned by each subscription's
  ``MessageBody`` filter policy; none since SES routes the critical and the engagement types to their own topics
  (``infra/messaging.py``), the line stays so a filter policy added later is priced;
* SNS delivery to SQS: free;
* SQS standard request: $0.40 per million — every API request, each 64 KB chunk of payload one request: the
  deliveries SNS makes into the queues, the Lambda event source mapping's ReceiveMessage and DeleteMessageBatch, the
  app's own SendMessageBatch;
* Lambda request: $0.20 per million invocations (x86);
* Lambda duration: $0.0000166667 per GB-second — modelled duration x configured memory (see ``bench.bench_units``:
  CPU scaled to the configured memory's CPU share + ``LATENCY_MS`` per AWS call the handler waits for + its sleeps).

``LATENCY_MS`` holds the typical in-region latencies assumed for those calls (assumptions, not measurements).

Left out and stated here: SES itself ($0.10 per 1,000 emails = $100 per million, identical in every design), DynamoDB
storage (reported separately by the bench as ``usd_per_million_emails_storage``: $0.25 per GB-month, items + 100 bytes
per item and per index entry, + 48 bytes per item for global tables, for the retention), point-in-time recovery,
streams reads by the replication service (free), CloudWatch logs and metrics, API Gateway (one call per campaign,
not per email), data transfer (in-region), KMS, the SQS pollers' idle long-polls (a fixed cost per queue, not per
email), and the first million free SQS/SNS/Lambda requests.

Two regions = the sending region's costs + one replica region's (rWRU, replica GSI upkeep, replicated TTL deletes);
the second region's own Lambdas, queues and topic see no traffic from the first region's sending.

Where a million emails' dollars go (``make bench``, this model; before -> after the sender's sent units were recorded
without a transaction and summaries fell under 1 KB; per-email units by table and index: docs/DESIGN.md "Billed units
per email"): DynamoDB WRU $4.76 -> $3.74 (7.61 -> 5.99 units), RRU $0.35, SNS publishes $1.26, SNS payload filtering
$0.48, SQS requests $1.23, Lambda $0.45: $8.52 -> $7.50 in one region; replicated writes and replica GSI upkeep add
$6.19 -> $5.72 for a second region ($14.71 -> $13.22). Then the sender's record carries the Send event (ingestion no
longer writes it: WRU 5.99 -> 5.00 units, $3.74 -> $3.13; rWRU 5.13 -> 4.14) and the two event topics by class
need no payload filtering ($0.48 -> $0): $7.48 -> $6.32 in one region, $13.20 -> $11.42 in two. Then the sender and
the event consumers at 256 MB instead of 512 (they mostly wait; back to back at the same load): Lambda GB-seconds
$0.30 -> $0.18, $6.27 -> $6.15 in one region, $11.37 -> $11.25 in two. Then (loads ~3.3-3.4, docs/DESIGN.md
"Billed units per email"): deliveries read SOFTBOUNCE items eventually consistent (RRU $0.347 -> $0.284), the job
record's recorded marks ride on its release and its outcomes omit its home region (sender control WRU 0.336 ->
0.200), count_events writes counter times only when a batch moves them (0.054 -> 0.032), and the sender's
suppression Queries and message-item writes are made at once (its invocation's modelled wait ~8.9 s -> ~2.9 s;
``waited_ms`` counts overlapping calls once): WRU $3.126 -> $3.028, Lambda GB-seconds $0.194 -> $0.155,
$6.17 -> $5.97 in one region, $11.26 -> $10.96 in two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.meter import Usage

MILLION = 1_000_000
GB = 1024**3

PRICES: dict[str, float] = {
    "WRU": 0.625 / MILLION,
    "RRU": 0.125 / MILLION,
    "rWRU": 0.625 / MILLION,
    "replica_WRU": 0.625 / MILLION,
    "sns_publish": 0.50 / MILLION,
    "sns_filter_gb": 0.09,
    "sqs_request": 0.40 / MILLION,
    "lambda_request": 0.20 / MILLION,
    "lambda_gb_second": 0.0000166667,
    "storage_gb_month": 0.25,
}
SES_PER_MILLION = 100.0  # stated, not included

# Typical in-region latencies (ms) of the calls a Lambda makes and waits for (assumptions, not measurements).
LATENCY_MS: dict[tuple[str, str], float] = {
    ("dynamodb", "GetItem"): 5,
    ("dynamodb", "PutItem"): 6,
    ("dynamodb", "UpdateItem"): 6,
    ("dynamodb", "DeleteItem"): 6,
    ("dynamodb", "BatchGetItem"): 8,
    ("dynamodb", "Query"): 8,
    ("dynamodb", "BatchWriteItem"): 10,
    ("dynamodb", "TransactWriteItems"): 20,
    ("sqs", "*"): 10,
    ("ssm", "*"): 10,
    ("sesv2", "SendBulkEmail"): 150,
    ("sesv2", "*"): 60,
}


def aws_call_latency_ms(service: str, operation: str) -> float:
    return LATENCY_MS.get((service, operation), LATENCY_MS.get((service, "*"), 10.0))


def waited_ms(calls: Iterable[Sequence[Any]], latency: Callable[[str, str], float] = aws_call_latency_ms) -> float:
    """The modelled AWS latency a handler waits for, from its calls ``(service, operation, start, end, thread)``.
    Calls made one after another add up; calls made at once (a handler's threads) overlap in time, and a group of
    overlapping calls costs its busiest thread's sum — so concurrency counts where it happened, and only there.
    Both benches use it: a first invocation's calls (``bench.bench_coldstart``) and each invocation's
    (``bench.bench_units``). Earlier they summed every call: right while no handler made calls at once."""
    total, group_end = 0.0, float("-inf")
    per_thread: dict[Any, float] = {}
    for service, operation, start, end, thread in sorted(calls, key=lambda c: c[2]):
        if per_thread and start >= group_end:  # no overlap with the group so far: it is over
            total += max(per_thread.values())
            per_thread, group_end = {}, float("-inf")
        per_thread[thread] = per_thread.get(thread, 0.0) + latency(service, operation)
        group_end = max(group_end, end)
    return total + (max(per_thread.values()) if per_thread else 0.0)


@dataclass(frozen=True)
class CostLine:
    name: str
    units_per_email: float
    usd_per_million_emails: float


def cost_lines(usage: Usage, regions: int = 1) -> list[CostLine]:
    """Every priced line, per email and in USD per million emails, for ``regions`` regions (1 or more)."""
    extra = max(0, regions - 1)
    dynamo = usage.dynamo

    def line(name: str, total: float, price: float) -> CostLine:
        per_email = usage.per_email(total)
        return CostLine(name, per_email, per_email * price * MILLION)

    lines = [
        line("DynamoDB WRU", dynamo.total("WRU"), PRICES["WRU"]),
        line("DynamoDB RRU", dynamo.total("RRU"), PRICES["RRU"]),
    ]
    if extra:
        lines.append(line(f"DynamoDB rWRU x{extra}", dynamo.total("rWRU") * extra, PRICES["rWRU"]))
        lines.append(
            line(f"DynamoDB replica GSI WRU x{extra}", dynamo.total("replica_WRU") * extra, PRICES["replica_WRU"])
        )
    lines += [
        line("SNS publishes", usage.sns_publishes, PRICES["sns_publish"]),
        line("SNS payload filtering (KB scanned)", usage.sns_filter_bytes / 1024, PRICES["sns_filter_gb"] * 1024 / GB),
        line("SQS requests", usage.sqs.total(), PRICES["sqs_request"]),
        line("Lambda invocations", sum(usage.lambda_invocations.values()), PRICES["lambda_request"]),
        line("Lambda GB-seconds", sum(usage.lambda_gb_seconds.values()), PRICES["lambda_gb_second"]),
    ]
    return lines


def usd_per_million_emails(usage: Usage, regions: int = 1) -> float:
    return sum(line.usd_per_million_emails for line in cost_lines(usage, regions))
