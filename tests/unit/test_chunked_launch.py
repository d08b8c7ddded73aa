"""The chunked launcher: deterministic bulk jobs per chunk, cursor committed after the enqueue, resumable after a
crash at any point without sending anyone twice (the sender's ledger keys on job ids)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from runtime.sender.enqueue import EnqueueReport
from runtime.sender.jobs import parse_job, units_of
from runtime.sender.launch import ChunkedLauncher, Cursor, LaunchPlan, SegmentPlan, bulk_jobs
from runtime.sender.recipients import LocalObjectSource, read_rows, validate_file

B = "sesame-test-campaigns"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.001
        return self.now


class Progress:
    def __init__(self, cursor: str):
        self.cursor = cursor
        self.recipients = 0
        self.jobs = 0
        self.lose_next = False

    def advance_launch(self, campaign_id, expected, cursor, recipients, jobs):
        if self.cursor != expected:
            return False
        self.cursor, self.recipients, self.jobs = cursor, self.recipients + recipients, self.jobs + jobs
        return True


class Queue:
    def __init__(self):
        self.bodies: list[str] = []
        self.refuse_after: int | None = None

    def enqueue(self, jobs):
        report = EnqueueReport()
        for job in jobs:
            if self.refuse_after is not None and len(self.bodies) >= self.refuse_after:
                report.failed[job.job_id] = "ServiceUnavailable: injected"
                continue
            self.bodies.append(job.body())
            report.enqueued.append(job.job_id)
        return report

    def recipients(self) -> Counter:
        sent = Counter()
        seen_jobs = set()
        for body in self.bodies:
            job = parse_job(body, "x")
            if job.job_id in seen_jobs:  # the sender's ledger: a job id already done is not sent again
                continue
            seen_jobs.add(job.job_id)
            for unit in units_of(job):
                sent[unit.recipients[0]] += 1
        return sent


def plan_for(source: LocalObjectSource, keys: list[str]) -> LaunchPlan:
    segments = []
    for index, key in enumerate(keys):
        report = validate_file(source, B, key)
        segments.append(
            SegmentPlan(
                index=index,
                list_name=f"list{index}",
                template_name=f"sesame-test-c1-segment{index}",
                from_address="news@example.com",
                configuration_set="marketing",
                bucket=B,
                key=key,
                fmt=report.fmt,
                etag=report.etag,
                header=report.header,
                data_start=report.data_start,
                first_line=report.first_line,
                rows=report.rows,
                skip=report.duplicate_lines,
            )
        )
    return LaunchPlan("c1", segments, reply_to=["help@example.com"])


def two_files(n: int = 1234) -> LocalObjectSource:
    source = LocalObjectSource()
    rows = b"".join(json.dumps({"to_address": f"u{i}@example.org", "i": i}).encode() + b"\n" for i in range(n))
    source.put(B, "recipients/a.jsonl", rows + b'{"to_address": "u0@example.org"}\n')  # a duplicate, skipped
    csv = "to_address,name\n" + "".join(f"c{i}@example.org,C{i}\n" for i in range(300))
    source.put(B, "recipients/b.csv", csv.encode())
    return source


def test_bulk_jobs_are_valid_send_jobs_with_line_ids():
    source = two_files(60)
    plan = plan_for(source, ["recipients/a.jsonl"])
    rows = [row for row, *_ in read_rows(source, plan.segments[0], 0, 1, frozenset())][:60]
    jobs = bulk_jobs(plan, plan.segments[0], rows)
    assert [job.job_id for job in jobs] == ["c1.0.L1", "c1.0.L51"]
    job = parse_job(jobs[0].body(), "x")
    assert job.campaign_id == "c1" and job.list_name == "list0"
    units = units_of(job)
    assert len(units) == 50 and units[0].unit_id == "1" and json.loads(units[0].template_data) == {"i": 0}
    assert job.bulk.ReplyToAddresses == ["help@example.com"]


def test_a_launch_runs_in_steps_to_the_end_and_enqueues_everyone_once():
    source = two_files()
    plan = plan_for(source, ["recipients/a.jsonl", "recipients/b.csv"])
    progress = Progress(plan.start().encode())
    queue = Queue()
    clock = Clock()
    launcher = ChunkedLauncher(
        source=source, enqueuer=lambda: queue, progress=progress, clock=clock, chunk_recipients=200
    )
    steps = 0
    cursor = plan.start()
    while True:
        steps += 1
        result = launcher.run(plan, cursor, deadline=clock.now + 0.004)  # a few chunks per step
        cursor = result.cursor
        if result.done:
            break
    assert steps >= 3  # it took several invocations
    sent = queue.recipients()
    assert len(sent) == 1234 + 300 and set(sent.values()) == {1}
    assert progress.recipients == 1534 and Cursor.decode(progress.cursor).segment == 2


def test_a_crash_between_enqueue_and_commit_is_resumed_without_duplicates():
    source = two_files()
    plan = plan_for(source, ["recipients/a.jsonl", "recipients/b.csv"])
    progress = Progress(plan.start().encode())
    queue = Queue()
    real = progress.advance_launch
    calls = {"n": 0}

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("Lambda killed after the enqueue, before the commit")
        return real(*args)

    progress.advance_launch = crash_on_third
    launcher = ChunkedLauncher(source=source, enqueuer=lambda: queue, progress=progress, chunk_recipients=100)
    with pytest.raises(RuntimeError, match="killed"):
        launcher.run(plan, plan.start(), deadline=float("inf"))
    assert progress.recipients == 200  # two chunks committed, the third enqueued but not committed
    progress.advance_launch = real
    result = launcher.run(plan, Cursor.decode(progress.cursor), deadline=float("inf"))
    assert result.done
    job_ids = [parse_job(b, "x").job_id for b in queue.bodies]
    assert len(job_ids) - len(set(job_ids)) == 2  # the third chunk's two jobs went on the queue twice...
    sent = queue.recipients()
    assert len(sent) == 1534 and set(sent.values()) == {1}  # ...and nobody is sent twice
    assert progress.recipients == 1534


def test_sqs_refusing_a_chunk_leaves_the_cursor_for_the_next_step():
    source = two_files()
    plan = plan_for(source, ["recipients/a.jsonl"])
    progress = Progress(plan.start().encode())
    queue = Queue()
    queue.refuse_after = 5
    launcher = ChunkedLauncher(source=source, enqueuer=lambda: queue, progress=progress, chunk_recipients=200)
    result = launcher.run(plan, plan.start(), deadline=float("inf"))
    assert not result.done and "not enqueued" in result.error and result.retryable
    assert progress.recipients == 200  # the first chunk (4 jobs) went through; the second stays at the cursor
    queue.refuse_after = None
    assert launcher.run(plan, Cursor.decode(progress.cursor), deadline=float("inf")).done
    assert len(queue.recipients()) == 1234


def test_a_file_replaced_after_validation_stops_the_launch():
    source = two_files()
    plan = plan_for(source, ["recipients/a.jsonl"])
    source.put(B, "recipients/a.jsonl", b'{"to_address": "someone-else@example.org"}\n')
    progress = Progress(plan.start().encode())
    result = ChunkedLauncher(source=source, enqueuer=Queue, progress=progress).run(plan, plan.start(), float("inf"))
    assert not result.done and not result.retryable and "changed" in result.error
