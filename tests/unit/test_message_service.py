"""``runtime.sender.messages``: POST /messages' validation and service on the sender core, with in-memory fakes
(SES validated against botocore's model, a simulated clock, the in-memory ledger, rate store and queue)."""

from __future__ import annotations

import json

import pytest

from runtime.emails import recipient_hash
from runtime.sender.messages import (
    IdempotencyConflictError,
    MessageRequestError,
    MessageService,
    MessageServiceConfig,
    build_jobs,
    parse_request,
)
from runtime.stores.requests import InMemoryIdempotencyStore, InMemoryQueuedMessageStore
from runtime.stores.suppressions import Suppression
from tests.support.sender_fakes import client_error, harness


class Queue:
    def __init__(self, h, refuse=False):
        self.h, self.refuse = h, refuse

    def put(self, bodies):
        if self.refuse:
            return list(bodies)
        for body in bodies:
            self.h.queue.send(body)
        return []


def service(h, *, budget=8.0, refuse=False):
    queued = InMemoryQueuedMessageStore()
    svc = MessageService(
        config=MessageServiceConfig(budget_seconds=budget, unsubscribe_headers=True),
        sender=lambda marketing: h.consumer,
        queue=lambda: Queue(h, refuse),
        ledger=h.ledger,
        queued=queued,
        idempotency=InMemoryIdempotencyStore(clock=h.clock),
        clock=h.clock,
    )
    return svc, queued


def body(**extra):
    return {"from": "shop@example.com", "to": ["ada@example.org"], "subject": "Receipt", "text": "Thanks", **extra}


def test_one_job_per_recipient_with_deterministic_ids_and_the_ses_shape():
    request = parse_request(body(to=["a@example.org", "b@example.org"], tags={"k": "v"}), unsubscribe_headers=True)
    jobs = build_jobs(request, "api-abc")
    assert [job.job_id for _, job in jobs] == ["api-abc-0", "api-abc-1"]
    email = jobs[1][1].email.to_api()
    assert email["Destination"] == {"ToAddresses": ["b@example.org"]}
    assert email["Content"]["Simple"]["Subject"] == {"Data": "Receipt", "Charset": "UTF-8"}
    assert email["EmailTags"] == [{"Name": "k", "Value": "v"}]
    assert email["ConfigurationSetName"] == "transactional"


def test_inline_template_and_per_recipient_data_become_template_content_and_data():
    request = parse_request(
        {
            "from": "shop@example.com",
            "template": {"subject": "Hi {{n}}", "text": "Hi {{n}}"},
            "template_data": {"shop": "S"},
            "recipients": [{"to": "a@example.org", "data": {"n": "A"}}],
        },
        unsubscribe_headers=False,
    )
    ((_, job),) = build_jobs(request, "api-x")
    template = job.email.to_api()["Content"]["Template"]
    assert template["TemplateContent"] == {"Subject": "Hi {{n}}", "Text": "Hi {{n}}"}
    assert json.loads(template["TemplateData"]) == {"shop": "S", "n": "A"}


def test_every_field_problem_is_named():
    with pytest.raises(MessageRequestError) as error:
        parse_request(
            body(to=["ok@example.org", "nope"], reply_to="also-bad", tags={"a:b": "c"}), unsubscribe_headers=False
        )
    fields = {p.split(":")[0] for p in error.value.problems}
    assert {"to.1", "reply_to", "tags"} <= fields


def test_marketing_mail_leaves_room_for_the_two_unsubscribe_headers():
    headers = {f"X-H{i}": "v" for i in range(14)}
    parse_request(body(headers=headers), unsubscribe_headers=True)  # transactional: 14 of 15 is fine
    with pytest.raises(MessageRequestError, match="headers: marketing mail"):
        parse_request(body(headers=headers, configuration_set="marketing"), unsubscribe_headers=True)
    # with its own List-Unsubscribe nothing is added
    own = {"List-Unsubscribe": "<https://x.example/u>", **{f"X-H{i}": "v" for i in range(13)}}
    parse_request(body(headers=own, configuration_set="marketing"), unsubscribe_headers=True)


def test_pacing_beyond_the_budget_queues_the_rest_with_ids_that_exist_at_once():
    h = harness(rate=1.0)  # one email per second: 12 recipients need 12 s, the request has 8
    svc, queued = service(h, budget=8.0)
    to = [f"u{i}@example.org" for i in range(12)]
    start = h.clock.now
    answer = svc.send(body(to=to), idempotency_key=None, caller="c")
    statuses = [r["status"] for r in answer.body["results"]]
    assert answer.status_code == 200
    assert 8 <= statuses.count("sent") <= 9 and statuses.count("sent") + statuses.count("queued") == 12
    assert h.clock.now - start <= 9.0
    queued_ids = {r["message_id"] for r in answer.body["results"] if r["status"] == "queued"}
    assert set(queued.items) == queued_ids
    assert all(
        item.recipient_masked.startswith("u") and "***" in item.recipient_masked for item in queued.items.values()
    )
    h.drain()
    assert sorted(h.sent_to()) == sorted(to)  # each exactly once
    assert all(count == 1 for count in h.sent_to().values())
    for item in queued.items.values():
        outcome = svc.resolve(item.job_id)
        assert outcome is not None and outcome.kind == "sent"


def test_daily_quota_exhaustion_queues_instead_of_failing():
    h = harness(daily_quota=1.0)
    svc, _ = service(h)
    answer = svc.send(body(to=["a@example.org", "b@example.org"]), idempotency_key=None, caller="c")
    assert answer.status_code == 200
    assert sorted(r["status"] for r in answer.body["results"]) == ["queued", "sent"]


def test_a_lost_ses_answer_is_queued_and_never_sent_twice():
    h = harness(grace=60.0)
    from botocore.exceptions import ReadTimeoutError

    h.primary.lose = lambda op, params: ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")
    svc, _ = service(h)
    answer = svc.send(body(), idempotency_key=None, caller="c")
    (result,) = answer.body["results"]
    assert result["status"] == "queued"
    h.primary.lose = None
    h.drain()
    assert h.sent_to()["ada@example.org"] == 1  # resolved from its Send event, not sent again
    job_id = next(iter(h.ledger.jobs))
    assert svc.resolve(job_id).kind == "sent"


def test_suppressed_and_failed_recipients_make_a_207():
    h = harness()
    h.suppressions.put(Suppression(recipient_hash("b@example.org"), "ALL", "BOUNCE"))
    h.primary.fail = lambda op, params: (
        client_error("MessageRejected") if params["Destination"]["ToAddresses"] == ["c@example.org"] else None
    )
    svc, _ = service(h)
    answer = svc.send(body(to=["a@example.org", "b@example.org", "c@example.org"]), idempotency_key=None, caller="c")
    assert answer.status_code == 207
    assert [r["status"] for r in answer.body["results"]] == ["sent", "suppressed", "failed"]
    assert answer.body["counts"] == {"sent": 1, "queued": 0, "suppressed": 1, "failed": 1}


def test_when_the_queue_refuses_what_could_not_be_sent_the_key_is_given_back():
    down = client_error("ServiceUnavailable", 503)
    h = harness(primary_fail=lambda op, p: down, backup_fail=lambda op, p: down)
    svc, _ = service(h, refuse=True)
    from runtime.sender.messages import QueueUnavailableError

    with pytest.raises(QueueUnavailableError):
        svc.send(body(), idempotency_key="k", caller="c")
    assert svc._idempotency.records == {}
    h.primary.fail = h.backup.fail = None
    svc2, _ = service(h)
    svc2._idempotency = svc._idempotency
    answer = svc2.send(body(), idempotency_key="k", caller="c")
    assert answer.body["results"][0]["status"] == "sent"


def test_idempotency_key_replays_conflicts_and_is_scoped_to_the_caller():
    h = harness()
    svc, _ = service(h)
    first = svc.send(body(), idempotency_key="k", caller="c1")
    replay = svc.send(body(), idempotency_key="k", caller="c1")
    assert replay.replayed and replay.body == first.body and replay.status_code == first.status_code
    with pytest.raises(IdempotencyConflictError, match="different body"):
        svc.send(body(subject="Other"), idempotency_key="k", caller="c1")
    other = svc.send(body(subject="Other"), idempotency_key="k", caller="c2")
    assert not other.replayed
    assert h.sent_to()["ada@example.org"] == 2
