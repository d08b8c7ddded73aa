"""The sender under campaign control (issue 13): paused units wait and are sent once after resume, even when an SES
answer was lost before the pause; cancelled units are recorded and never sent; a guardrail-paused configuration set
holds its units; a failed control read sends nothing."""

from __future__ import annotations

from collections import Counter

from botocore.exceptions import ReadTimeoutError

from runtime.sender.jobs import bulk_job
from tests.support.sender_fakes import Harness, harness


def _bulk(addresses: list[str], job_id: str = "spring.0.0", campaign_id: str = "spring") -> str:
    request = {
        "FromEmailAddress": "news@example.com",
        "ConfigurationSetName": "marketing",
        "DefaultContent": {"Template": {"TemplateName": "spring", "TemplateData": "{}"}},
        "BulkEmailEntries": [{"Destination": {"ToAddresses": [a]}} for a in addresses],
    }
    return bulk_job(
        job_id, request, [str(i) for i in range(len(addresses))], campaign_id=campaign_id, list_name="vip"
    ).body()


def _batches(h: Harness, count: int) -> None:
    for _ in range(count):
        if h.run_once() is None:
            nxt = h.queue.next_visible()
            if nxt is None:
                return
            h.clock.now = max(h.clock.now, nxt)


def test_paused_campaign_units_wait_and_are_sent_once_after_resume():
    controls = {"spring": "paused"}
    h = harness(controls=controls)
    addresses = [f"r{i}@example.org" for i in range(30)]
    h.queue.send(_bulk(addresses))
    h.queue.send(_bulk(["other@example.org"], job_id="autumn.0.0", campaign_id="autumn"))
    _batches(h, 20)
    assert h.sent_to() == Counter(["other@example.org"])  # another campaign is not held up
    assert h.ledger.messages and all(m["recipient"] == "other@example.org" for m in h.ledger.messages.values())
    assert h.queue.next_visible() is not None  # the paused job is still on the queue
    del controls["spring"]
    h.drain()
    assert h.sent_to() == Counter([*addresses, "other@example.org"])


def test_a_lost_answer_before_a_pause_is_resolved_and_never_sent_twice_after_resume():
    lost = {"n": 0}

    def lose_first(op, params):
        lost["n"] += 1
        return ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com") if lost["n"] == 1 else None

    controls: dict[str, str] = {}
    h = harness(controls=controls)
    h.primary.lose = lose_first
    addresses = [f"r{i}@example.org" for i in range(60)]
    h.queue.send(_bulk(addresses[:50]))
    h.queue.send(_bulk(addresses[50:], job_id="spring.0.1"))
    h.run_once()  # the first bulk call's answer is lost (SES accepted it); the rest of the batch goes on
    controls["spring"] = "paused"
    _batches(h, 10)
    sent_while_paused = h.sent_to()
    assert set(sent_while_paused.values()) == {1}
    controls.clear()
    h.drain()
    assert h.sent_to() == Counter(addresses)  # each exactly once
    assert len(h.ledger.messages) == 60 and {m["status"] for m in h.ledger.messages.values()} == {"sent"}


def test_cancelled_campaign_units_are_recorded_cancelled_and_counted_never_sent():
    h = harness(controls={"spring": "cancelled"})
    h.queue.send(_bulk([f"r{i}@example.org" for i in range(5)]))
    h.drain()
    assert h.sent_to() == Counter()
    assert {m["status"] for m in h.ledger.messages.values()} == {"cancelled"}
    assert all(mid.startswith("local-") for mid in h.ledger.messages)
    assert h.ledger.counters[("spring", "COUNTERS#TOTAL")]["cancelled"] == 5


def test_units_of_a_guardrail_paused_configuration_set_wait_until_it_is_resumed():
    paused = {"sesame-test-marketing"}
    h = harness(paused_config_sets=paused)
    h.queue.send(_bulk(["a@example.org", "b@example.org"]))
    _batches(h, 10)
    assert h.sent_to() == Counter()
    paused.clear()
    h.drain()
    assert h.sent_to() == Counter(["a@example.org", "b@example.org"])


def test_a_failed_control_read_sends_nothing_and_retries_later():
    state = {"fail": True}

    def controls(ids):
        if state["fail"]:
            raise RuntimeError("dynamodb unavailable")
        return {}

    h = harness(controls={})
    h.consumer._controls = controls
    h.queue.send(_bulk(["a@example.org"]))
    _batches(h, 3)
    assert h.sent_to() == Counter()
    state["fail"] = False
    h.drain()
    assert h.sent_to() == Counter(["a@example.org"])


def test_the_control_reads_and_the_suppression_lookup_are_made_at_once():
    import threading

    h = harness(controls={}, paused_config_sets=set())
    together = threading.Barrier(3, timeout=10)  # one after another, the first read would wait for the others forever

    def waiting(call):
        def wait(*args, **kwargs):
            together.wait()
            return call(*args, **kwargs)

        return wait

    h.consumer._controls = waiting(h.consumer._controls)
    h.consumer._paused_config_sets = waiting(h.consumer._paused_config_sets)
    h.suppressions.suppressed = waiting(h.suppressions.suppressed)
    h.queue.send(_bulk(["a@example.org", "b@example.org"]))
    h.drain()
    assert h.sent_to() == Counter(["a@example.org", "b@example.org"])
