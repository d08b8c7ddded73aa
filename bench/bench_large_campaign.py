"""Large-campaign benchmark: a 1,000,000-recipient campaign from recipient files, validated and launched in chunks.

Runs the real ``CampaignService`` (submission: the cheap checks of each file and the launch plan, answered
``validating``; then the per-minute check's invocations, each with a 45 s deadline as the 60 s Lambda would have:
validation steps resumed from the stored cursor and state, then the chunked launch, until the cursor reaches the end)
in a **fresh interpreter**, so its peak RSS is the campaign's alone:

* recipient files: two JSON-lines files (700,000 and 300,000 recipients with personalisation data, ~80 MB) on
  local disk behind the ``ObjectSource`` port (``LocalObjectSource``: the same streaming reads as S3's ranged
  ``GetObject``, without an emulator holding 80 MB in memory);
* the send queue: the real ``Enqueuer`` (``SendMessageBatch`` of 10, 256 KiB per call) over a fake SQS client that
  counts messages and bytes and keeps nothing;
* the campaign META item, payload and validation state: the in-memory stores.

Keys: ``large_campaign_recipients`` (1,000,000), ``large_campaign_launch_seconds`` (validation + chunked enqueue,
wall time; target <= 120), ``large_campaign_peak_rss_mb`` (ru_maxrss of that interpreter; target <= 256), plus
``large_campaign_validate_seconds`` (time spent in validation steps, all invocations),
``large_campaign_submit_seconds`` (the request: must stay far under API Gateway's 29 s),
``large_campaign_invocations`` (per-minute check invocations after the submission),
``large_campaign_longest_invocation_seconds`` (the longest of them: under the 60 s function timeout) and
``large_campaign_jobs`` (bulk jobs of <= 50 put on the queue).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RECIPIENTS = 1_000_000
SPLIT = (700_000, 300_000)
BUCKET = "sesame-bench-campaigns"
STEP_SECONDS = 45.0  # the per-minute check's budget per invocation (60 s Lambda minus recording time)


class CountingSqs:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        self.messages += len(Entries)
        self.bytes += sum(len(e["MessageBody"]) for e in Entries)
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}


class NoPublisher:
    def publish(self, specs: list[Any], regions: list[str]) -> list[str]:
        return []


def _write_file(path: Path, start: int, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(start, start + count):
            out.write(
                json.dumps({"to_address": f"user{i}@example.org", "first_name": f"Name{i}", "tier": i % 5}) + "\n"
            )


def child(workdir: str) -> dict[str, Any]:
    import resource

    from runtime.sender.enqueue import Enqueuer
    from runtime.sender.recipients import LocalObjectSource
    from runtime.sender.service import CampaignConfig, CampaignService, InMemoryPayloadStore
    from runtime.sender.templates import TemplateLoader
    from runtime.stores.campaigns import InMemoryCampaignStore

    source = LocalObjectSource()
    start = 0
    segments = []
    for index, count in enumerate(SPLIT):
        path = Path(workdir) / f"part{index}.jsonl"
        _write_file(path, start, count)
        start += count
        key = f"recipients/bench/part{index}.jsonl"
        source.put(BUCKET, key, path)
        segments.append({"list_name": f"part{index}", "recipientsS3Uri": f"s3://{BUCKET}/{key}"})
    sqs = CountingSqs()
    store = InMemoryCampaignStore()
    payloads = InMemoryPayloadStore(BUCKET)
    service = CampaignService(
        config=CampaignConfig(regions=["us-east-1"], default_from="news@example.com"),
        store=store,
        loader=TemplateLoader(lambda: None, environment="bench"),
        publisher=NoPublisher(),  # type: ignore[arg-type]
        enqueuer=lambda: Enqueuer(sqs, "https://sqs.us-east-1.amazonaws.com/1/sesame-bench-send"),
        payloads=lambda: payloads,
        sources=lambda: source,
    )
    candidate = {
        "campaign_id": "bench-large",
        "template": {"subject": "Hello {{first_name}}", "html": "<p>Hi {{first_name}} ({{tier}})</p>"},
        "segments": segments,
    }
    validating = {"seconds": 0.0}
    validate_due = service.validate_due

    def timed_validate_due(deadline: float | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return validate_due(deadline, **kwargs)
        finally:
            validating["seconds"] += time.perf_counter() - started

    service.validate_due = timed_validate_due  # type: ignore[method-assign]
    began = time.perf_counter()
    answer = service.submit(candidate)
    submitted = time.perf_counter()
    assert answer["status"] == "validating", answer
    invocations = 0
    longest = 0.0
    record = store.get("bench-large")
    assert record is not None
    while record.status in ("validating", "scheduled", "launching"):
        time.sleep(0.002)  # a step releases its lease "now": the next check may claim it
        started = time.perf_counter()
        service.launch_due(deadline=time.monotonic() + STEP_SECONDS)
        longest = max(longest, time.perf_counter() - started)
        invocations += 1
        record = store.get("bench-large")
        assert record is not None
        assert invocations < 20, record
    elapsed = time.perf_counter() - began
    assert record.status == "launched", (record.status, record.launch_error, record.validation[:500])
    assert record.launch_enqueued == RECIPIENTS and record.recipients == RECIPIENTS
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "large_campaign_recipients": record.launch_enqueued,
        "large_campaign_launch_seconds": round(elapsed, 1),
        "large_campaign_submit_seconds": round(submitted - began, 2),
        "large_campaign_validate_seconds": round(validating["seconds"], 1),
        "large_campaign_invocations": invocations,
        "large_campaign_longest_invocation_seconds": round(longest, 1),
        "large_campaign_jobs": sqs.messages,
        "large_campaign_sqs_calls": sqs.calls,
        "large_campaign_peak_rss_mb": round(peak_kb / 1024, 1),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sesame-bench-large-") as workdir:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.bench_large_campaign", "--child", workdir],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SESAME_LOG_LEVEL": "WARNING"},
        )
    if completed.returncode != 0:
        raise RuntimeError(f"large-campaign bench failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
    else:
        print(json.dumps(run(), sort_keys=True))
