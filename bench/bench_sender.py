"""Sender benchmark: CPU per email, SES calls per email, and pacing accuracy.

* ``sender_us_per_email`` — process CPU time of the consumer per recipient for a 10,000-recipient templated
  campaign (200 bulk jobs on the queue, 10 per batch), SES answering instantly (a fake client with the real
  response shapes), suppression/ledger/rate state in memory. Includes parsing and validating every queue message,
  the suppression lookup, one HMAC-signed unsubscribe token per recipient, tags, request building and bookkeeping.
* ``sender_ses_calls_per_email`` — every SES API call (template creation + sends) for the same campaign submitted
  through the campaign service and drained through the consumer, divided by the recipients.
* ``pacing_max_window_ratio`` / ``pacing_avg_ratio`` — eight simulated concurrent senders sharing one reservation
  log (the algorithm the DynamoDB item runs), each asking for 50 recipients per call and busy 40-120 ms per SES call,
  for 10 simulated seconds at R = 200/s: the busiest one-second window over R, and the 10-second average over R.
  A simulated clock makes this exact and fast; the store is the same code the Lambda uses, minus DynamoDB I/O.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RECIPIENTS = 10_000
RATE = 200.0


def _campaign(n: int) -> dict[str, Any]:
    return {
        "campaign_id": "bench",
        "template": {"subject": "Hello {{first_name}}", "html": "<p>Hi {{first_name}}, {{offer}}</p>"},
        "segments": [
            {
                "list_name": "customers",
                "recipients": [
                    {"to_address": f"user{i}@example.org", "first_name": f"U{i}", "offer": "20% off"} for i in range(n)
                ],
            }
        ],
    }


def _bench_consumer() -> tuple[float, float]:
    from runtime.sender.enqueue import Enqueuer
    from runtime.sender.service import CampaignConfig, CampaignService, InMemoryPayloadStore
    from runtime.sender.templates import TemplateLoader, TemplatePublisher
    from runtime.stores.campaigns import InMemoryCampaignStore
    from tests.support.sender_fakes import harness

    h = harness(rate=1_000_000.0, backup_region="", validate_requests=False)

    class Sqs:
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
            for entry in Entries:
                h.queue.send(entry["MessageBody"])
            return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    service = CampaignService(
        config=CampaignConfig(regions=["us-east-1"], default_from="news@example.com"),
        store=InMemoryCampaignStore(),
        loader=TemplateLoader(lambda: None),
        publisher=TemplatePublisher(lambda region: h.primary),
        enqueuer=lambda: Enqueuer(Sqs(), "bench"),
        payloads=lambda: InMemoryPayloadStore(),
    )
    result = service.submit(_campaign(RECIPIENTS))
    assert result["complete"], result
    start = time.process_time()
    h.drain()
    cpu = time.process_time() - start
    sent = sum(len(m["to"]) for m in h.primary.sent)
    assert sent == RECIPIENTS, sent
    ses_calls = len(h.primary.calls)  # CreateEmailTemplate + SendBulkEmail calls
    return cpu / RECIPIENTS * 1e6, ses_calls / RECIPIENTS


def _bench_pacing(workers: int = 8, seconds: float = 10.0, want: int = 50) -> tuple[float, float]:
    from runtime.sender.pacing import InMemoryRateStore

    rng = random.Random(11)
    store = InMemoryRateStore()
    ready = [(rng.random() * 0.01, w) for w in range(workers)]
    heapq.heapify(ready)
    sends: list[tuple[float, int]] = []
    while ready:
        now, worker = heapq.heappop(ready)
        if now >= seconds:
            continue
        reservation = store.reserve(
            "bench", now=now, want=want, minimum=1, rate=RATE, daily_cap=None, already_sent=0, max_ahead=20.0
        )
        sends.append((reservation.at, reservation.granted))
        heapq.heappush(ready, (reservation.at + 0.04 + rng.random() * 0.08, worker))
    in_run = sorted((t, n) for t, n in sends if t < seconds)
    busiest = 0
    j = 0
    total = 0
    for i in range(len(in_run)):  # two-pointer sweep over windows [t_i, t_i + 1)
        while j < len(in_run) and in_run[j][0] < in_run[i][0] + 1.0:
            total += in_run[j][1]
            j += 1
        busiest = max(busiest, total)
        total -= in_run[i][1]
    average = sum(n for _, n in in_run) / seconds
    return busiest / RATE, average / RATE


def run() -> dict[str, Any]:
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    us_per_email, calls_per_email = _bench_consumer()
    max_ratio, avg_ratio = _bench_pacing()
    return {
        "sender_us_per_email": round(us_per_email, 1),
        "sender_ses_calls_per_email": round(calls_per_email, 4),
        "pacing_max_window_ratio": round(max_ratio, 3),
        "pacing_avg_ratio": round(avg_ratio, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
