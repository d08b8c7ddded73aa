"""Exactly-once sending under lost answers, crashes and control-table failures (docs/sending.md "Exactly once")."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from runtime.emails import recipient_hash
from runtime.sender.errors import classify
from runtime.sender.jobs import bulk_job
from runtime.sender.ledger import send_id
from runtime.stores.suppressions import Suppression
from tests.support.sender_fakes import Harness, client_error, harness, send_line

VISIBILITY = 360.0  # the deployed send queue: six times the sender's 60 s timeout (infra/messaging.py)


class Killed(BaseException):
    """The Lambda dies (timeout, out of memory): nothing after this point runs, not even ``finally`` cleanups."""


def _run_batch(h: Harness) -> bool | None:
    """One Lambda invocation; False when the handler died (its messages stay until their visibility timeout ends),
    None when nothing is visible."""
    records = h.queue.receive(10)
    if not records:
        return None
    try:
        result = h.consumer.process(records)
    except Killed:
        return False
    h.results.append(result)
    if not result.incomplete:
        h.queue.delete(records)
    return True


def _run_until_idle(h: Harness, max_batches: int = 1000) -> int:
    """Like SQS + Lambda until the queue is empty; returns how many invocations died."""
    kills = 0
    for _ in range(max_batches):
        ran = _run_batch(h)
        if ran is None:
            nxt = h.queue.next_visible()
            if nxt is None:
                return kills
            h.clock.now = max(h.clock.now, nxt)
        elif not ran:
            kills += 1
    raise AssertionError("queue did not drain")


def _bulk(addresses: list[str], job_id: str = "spring.0.0", **extra: object) -> str:
    request = {
        "FromEmailAddress": "news@example.com",
        "ConfigurationSetName": "marketing",
        "DefaultContent": {"Template": {"TemplateName": "spring", "TemplateData": "{}"}},
        "BulkEmailEntries": [{"Destination": {"ToAddresses": [a]}} for a in addresses],
    }
    job = bulk_job(job_id, request, [str(i) for i in range(len(addresses))], campaign_id="spring", list_name="vip")
    return job.model_copy(update=extra).body() if extra else job.body()


def _accepted(h: Harness) -> Counter[str]:
    return h.sent_to()


def test_a_lost_send_answer_is_not_retried_nor_failed_over_and_is_resolved_from_the_send_event():
    lost = {"n": 0}

    def lose_first(op, params):
        lost["n"] += 1
        return ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com") if lost["n"] == 1 else None

    h = harness()
    h.primary.lose = lose_first
    addresses = [f"r{i}@example.org" for i in range(50)]
    h.queue.send(_bulk(addresses))
    _run_until_idle(h)
    assert _accepted(h) == Counter(addresses)  # once each: no botocore re-send, no failover to the backup
    assert not h.backup.calls
    sent = {m["to"][0]: m["message_id"] for m in h.primary.sent}
    recorded = {m["recipient"]: mid for mid, m in h.ledger.messages.items()}
    assert recorded == sent  # SES's own MessageIds, learnt from the Send events
    assert {m["status"] for m in h.ledger.messages.values()} == {"sent"}


def test_every_message_carries_a_per_recipient_send_id_tag_stable_across_attempts():
    throttled = {"n": 0}

    def throttle_twice(op, params):
        throttled["n"] += 1
        return client_error("Throttling") if throttled["n"] <= 2 else None

    h = harness(primary_fail=throttle_twice)
    h.queue.send(_bulk(["a@example.org", "b@example.org"]))
    h.drain()
    ids = [
        {t["Name"]: t["Value"] for t in entry["ReplacementTags"]}["sesame_send_id"]
        for op, params in h.primary.calls
        for entry in params["BulkEmailEntries"]
    ]
    assert ids == [send_id("spring.0.0", "0"), send_id("spring.0.0", "1")] * 3
    assert len(set(ids)) == 2


def test_an_unknown_unit_without_send_event_waits_the_grace_period_and_is_then_sent_once():
    calls = {"n": 0}

    def reset_first(op, params):  # the connection dropped before SES took the request: nothing was sent
        calls["n"] += 1
        return ConnectionClosedError(endpoint_url="https://email") if calls["n"] == 1 else None

    h = harness(grace=600, primary_fail=reset_first)
    h.queue.send(send_line("late@example.org"))
    started = h.clock.now
    _run_until_idle(h)
    assert _accepted(h) == {"late@example.org": 1}
    assert len(h.primary.calls) == 2
    second_call = h.primary.send_times[0][0]
    assert second_call - started >= 600  # never sent again before the grace period ended


def test_unknown_units_are_not_sent_again_while_an_event_dlq_holds_messages():
    h = harness(grace=60, ingest_send_events=False)
    h.primary.fail = lambda op, params: (
        ConnectionClosedError(endpoint_url="https://email") if not h.primary.calls[1:] else None
    )
    h.resolver.pending = True  # a Send event may be parked in the engagement DLQ
    h.queue.send(send_line("careful@example.org"))
    for _ in range(20):
        h.run_once() or setattr(h.clock, "now", h.queue.next_visible() or h.clock.now)
    assert len(h.primary.calls) == 1 and not h.primary.sent
    h.resolver.pending = False  # redriven and applied: still no Send event for it
    _run_until_idle(h)
    assert _accepted(h) == {"careful@example.org": 1}


def test_a_crash_after_ses_accepted_is_resolved_without_sending_again_or_counting_a_later_bounce_as_suppressed():
    h = harness(grace=900)
    h.queue.visibility_timeout = VISIBILITY
    h.primary.lose = lambda op, params: Killed() if len(h.primary.sent) == 1 else None
    h.queue.send(send_line("bounced@example.org"))
    h.queue.send(send_line("fine@example.org", template="other"))
    assert _run_batch(h) is False
    # the recipient hard-bounced meanwhile: SES's Bounce suppressed them before the redelivery
    h.suppressions.items[(recipient_hash("bounced@example.org"), "ALL")] = Suppression(
        recipient_hash("bounced@example.org"), "ALL", "BOUNCE"
    )
    h.primary.lose = None
    _run_until_idle(h)
    assert _accepted(h) == {"bounced@example.org": 1, "fine@example.org": 1}
    statuses = {m["recipient"]: m["status"] for m in h.ledger.messages.values()}
    assert statuses == {"bounced@example.org": "sent", "fine@example.org": "sent"}
    assert not any(c.get("suppressed") for c in h.ledger.counters.values())


def test_a_crash_before_ses_took_the_request_sends_once_after_the_grace_period():
    h = harness(grace=300)
    h.queue.visibility_timeout = VISIBILITY
    h.primary.fail = lambda op, params: Killed() if not h.primary.calls[1:] else None
    h.queue.send(send_line("once@example.org"))
    assert _run_until_idle(h) == 1
    assert _accepted(h) == {"once@example.org": 1}
    assert h.primary.send_times[0][0] >= 300  # waited for a Send event that never came


def test_at_least_once_jobs_are_sent_again_at_once_after_a_lost_answer():
    h = harness(grace=900)
    h.primary.lose = lambda op, params: ConnectionClosedError(endpoint_url="x") if len(h.primary.sent) == 1 else None
    line = json.loads(send_line("code@example.org"))
    h.queue.send(json.dumps({"sesame": 1, "job_id": "otp-1", "email": line, "delivery": "at_least_once"}))
    started = h.clock.now
    _run_until_idle(h)
    assert _accepted(h) == {"code@example.org": 2}  # the duplicate transactional mail chose
    times = sorted(h.primary.send_times + h.backup.send_times)
    assert times[1][0] - started < 60


def test_a_job_whose_record_cannot_be_claimed_is_retried_alone_and_the_others_finish():
    h = harness()
    broken = {"job": "spring.0.1", "left": 1}

    def fail(op, job_id):
        if job_id == broken["job"] and op == "claim" and broken["left"]:
            broken["left"] -= 1
            return client_error("ProvisionedThroughputExceededException")
        return None

    h.ledger.fail = fail
    for n in range(3):
        h.queue.send(_bulk([f"j{n}-{i}@example.org" for i in range(5)], job_id=f"spring.0.{n}"))
    first = h.run_once()
    assert first is not None and len(first.retry) == 1 and len(first.finished) == 2
    h.drain()
    assert set(_accepted(h).values()) == {1} and len(_accepted(h)) == 15


def test_an_outcome_write_failing_after_ses_accepted_leaves_that_job_alone_for_redelivery_without_resending():
    h = harness()
    failing = {"on": True}
    h.ledger.fail = lambda op, job_id: (
        client_error("InternalServerError", 500)
        if op == "mark_done" and job_id == "spring.0.0" and failing["on"]
        else None
    )
    h.queue.send(_bulk([f"a{i}@example.org" for i in range(3)], job_id="spring.0.0"))
    h.queue.send(_bulk([f"b{i}@example.org" for i in range(3)], job_id="spring.0.1"))
    first = h.run_once()
    assert first is not None and len(first.retry) == 1 and len(first.finished) == 1
    failing["on"] = False
    h.drain()
    assert set(_accepted(h).values()) == {1} and len(_accepted(h)) == 6
    assert len(h.ledger.messages) == 6


def test_a_failed_suppression_lookup_holds_back_only_the_units_of_that_list():
    h = harness()
    real = h.suppressions.suppressed
    state = {"fail": True}

    def flaky(hashes, *, list_name=None, campaign_id=None):
        if list_name == "vip" and state["fail"]:
            state["fail"] = False
            raise client_error("ThrottlingException")
        return real(hashes, list_name=list_name, campaign_id=campaign_id)

    h.suppressions.suppressed = flaky  # type: ignore[method-assign]
    h.queue.send(_bulk(["v@example.org"]))
    h.queue.send(send_line("other@example.org", EmailTags=[{"Name": "list_name", "Value": "news"}]))
    first = h.run_once()
    assert first is not None and len(first.requeued) == 1 and len(first.finished) == 1
    h.drain()
    assert _accepted(h) == {"v@example.org": 1, "other@example.org": 1}


def test_pacing_daily_count_equals_what_ses_accepted_under_throttling_and_rejections():
    calls = {"n": 0}

    def flaky(op, params):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            return client_error("Throttling")
        if calls["n"] % 7 == 0:
            return client_error("InternalFailure", 500)  # the backup region takes these
        return None

    h = harness(primary_fail=flaky)
    h.primary.entry_status = lambda entry: (
        "MESSAGE_REJECTED" if "x1" in entry["Destination"]["ToAddresses"][0] else "SUCCESS"
    )
    for n in range(4):
        h.queue.send(_bulk([f"x{n}{i}@example.org" for i in range(20)], job_id=f"spring.0.{n}"))
    h.drain()
    per_region = {ses.region: sum(len(m["to"]) for m in ses.sent) for ses in (h.primary, h.backup)}
    day = datetime.fromtimestamp(h.clock.now, tz=UTC).strftime("%Y-%m-%d")
    for region, accepted in per_region.items():
        assert h.rates.day_count(region, day) == accepted  # summed over the region's pacing shards


def test_lost_answers_are_unknown_and_only_never_sent_errors_fail_over():
    assert classify(ReadTimeoutError(endpoint_url="x")).verdict == "unknown"
    assert classify(ConnectionClosedError(endpoint_url="x")).verdict == "unknown"
    assert classify(RuntimeError("unreadable answer")).verdict == "unknown"
    assert classify(EndpointConnectionError(endpoint_url="x")).verdict == "regional"
    assert classify(client_error("InternalFailure", 500)).verdict == "regional"
    assert classify(client_error("Throttling")).verdict == "throttled"


@pytest.mark.parametrize("status", ["SUCCESS"])
def test_a_bulk_entry_accepted_without_message_id_is_unknown_not_resent(status):
    h = harness(grace=900, ingest_send_events=False)

    def answer_without_id(**params):
        return {"BulkEmailEntryResults": [{"Status": status} for _ in params["BulkEmailEntries"]]}

    h.primary.send_bulk_email = answer_without_id  # type: ignore[method-assign]
    h.queue.send(_bulk(["a@example.org", "b@example.org"]))
    result = h.run_once()
    assert result is not None and result.counts["unknown"] == 2 and result.requeued
    assert not h.backup.calls


def test_duplicate_re_enqueued_copies_are_dropped_so_they_cannot_multiply_while_units_wait():
    h = harness(grace=900, ingest_send_events=False)
    h.primary.fail = lambda op, params: ConnectionClosedError(endpoint_url="x") if not h.primary.calls[1:] else None
    send = h.queue.send

    def requeue_twice(body, delay):  # every SendMessage's answer is lost and botocore sends it again
        send(body, delay)
        send(body, delay)

    h.queue.requeue = requeue_twice
    h.queue.send(send_line("waiting@example.org"))
    depth = []
    while (ran := _run_batch(h)) is not False:
        depth.append(len(h.queue.messages))
        if ran is None:
            if h.queue.next_visible() is None:
                break
            h.clock.now = h.queue.next_visible()
    assert _accepted(h) == {"waiting@example.org": 1}
    assert max(depth) <= 2  # each generation's duplicate is dropped instead of re-enqueuing itself


def test_a_finished_job_is_marked_recorded_by_its_release_and_a_failed_release_only_costs_a_second_record():
    h = harness()
    failing = {"left": 1}

    def fail(op, job_id):
        if op == "release" and job_id == "spring.0.0" and failing["left"]:
            failing["left"] -= 1
            return client_error("InternalServerError", 500)
        return None

    h.ledger.fail = fail
    addresses = [f"a{i}@example.org" for i in range(5)]
    h.queue.send(_bulk(addresses, job_id="spring.0.0"))
    h.queue.send(_bulk([f"b{i}@example.org" for i in range(5)], job_id="spring.0.1"))
    h.drain()
    done, failed = h.ledger.jobs["spring.0.1"], h.ledger.jobs["spring.0.0"]
    assert done["rec"] == {"0", "1", "2", "3", "4"} and "lease_until" not in done and done["fly"] == []
    assert failed["rec"] == set() and set(failed["done"]) == {"0", "1", "2", "3", "4"}  # the release never came
    h.clock.now += 400  # its lease ends; SQS delivers the message again (e.g. a lost delete)
    h.queue.send(_bulk(addresses, job_id="spring.0.0"))
    h.drain()
    assert set(_accepted(h).values()) == {1}  # nothing sent again
    assert failed["rec"] == {"0", "1", "2", "3", "4"}
