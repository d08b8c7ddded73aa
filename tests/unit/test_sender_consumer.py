from __future__ import annotations

import base64
import json
import random
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from runtime.emails import recipient_hash
from runtime.sender.headers import UnsubscribeHeaders
from runtime.sender.jobs import bulk_job
from runtime.sender.ledger import InMemoryLedger, JobBusyError
from runtime.stores.suppressions import Suppression
from runtime.tokens import TokenSigner
from tests.support.sender_fakes import SECRET, client_error, harness, send_line


def _bulk_jobs(addresses: list[str], campaign: str = "spring", list_name: str = "vip") -> list[str]:
    bodies = []
    for chunk_no, start in enumerate(range(0, len(addresses), 50)):
        chunk = addresses[start : start + 50]
        request = {
            "FromEmailAddress": "news@example.com",
            "ConfigurationSetName": "marketing",
            "DefaultContent": {"Template": {"TemplateName": "spring-vip", "TemplateData": "{}"}},
            "BulkEmailEntries": [
                {
                    "Destination": {"ToAddresses": [a]},
                    "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": '{"n": "1"}'}},
                }
                for a in chunk
            ],
        }
        ids = [str(start + i) for i in range(len(chunk))]
        job = bulk_job(f"{campaign}.0.{chunk_no}", request, ids, campaign_id=campaign, list_name=list_name)
        bodies.append(job.body())
    return bodies


def test_ten_thousand_recipients_with_ten_percent_suppressed_sends_nothing_to_suppressed():
    h = harness(rate=100_000)
    addresses = [f"r{i}@example.org" for i in range(10_000)]
    suppressed = set(addresses[::10])
    for i, address in enumerate(sorted(suppressed)):
        scope = "ALL" if i % 2 else "LIST#vip"
        h.suppressions.items[(recipient_hash(address), scope)] = Suppression(recipient_hash(address), scope, "BOUNCE")
    for body in _bulk_jobs(addresses):
        h.queue.send(body)
    h.drain()
    sent = h.sent_to()
    assert not suppressed & set(sent)
    assert set(sent) == set(addresses) - suppressed
    assert max(sent.values()) == 1
    assert h.ledger.counters[("spring", "COUNTERS#TOTAL")] == {"suppressed": 1_000}  # sent: from Send events
    statuses = Counter(m["status"] for m in h.ledger.messages.values())
    assert statuses == {"sent": 9_000, "suppressed": 1_000}
    # SendBulkEmail with up to 50 entries: at most ceil(9000/50) + a few partial groups
    assert len(h.primary.calls) <= 200


def test_suppression_is_one_batched_read_per_campaign_and_list_in_a_batch():
    h = harness()
    for body in _bulk_jobs([f"r{i}@example.org" for i in range(500)]):
        h.queue.send(body)
    h.run_once()
    # 10 jobs x 50 recipients x 3 scopes = 1500 keys -> 15 BatchGetItem calls of 100 keys, in one lookup
    assert h.suppressions.batch_calls == 15


def test_throttling_on_thirty_percent_of_calls_still_sends_every_message_exactly_once():
    rng = random.Random(3)

    def throttle(op, params):
        return client_error("TooManyRequestsException", 429) if rng.random() < 0.3 else None

    h = harness(primary_fail=throttle, backup_region="")
    h.primary.entry_status = lambda entry: "ACCOUNT_THROTTLED" if rng.random() < 0.05 else "SUCCESS"
    addresses = [f"t{i}@example.org" for i in range(1_000)]
    for body in _bulk_jobs(addresses):
        h.queue.send(body)
    for i in range(200):
        h.queue.send(send_line(f"line{i}@example.org"))
    h.drain()
    sent = h.sent_to()
    assert set(sent) == set(addresses) | {f"line{i}@example.org" for i in range(200)}
    assert max(sent.values()) == 1
    assert h.queue.dlq == []
    assert sum(len(r.requeued) for r in h.results) > 0  # some were re-enqueued with a delay, not failed


def test_throttled_messages_are_re_enqueued_fresh_so_the_receive_count_never_reaches_the_dlq():
    calls = {"n": 0}

    def throttle_first_twenty(op, params):
        calls["n"] += 1
        return client_error("Throttling", 400) if calls["n"] <= 20 else None

    h = harness(primary_fail=throttle_first_twenty, backup_region="")
    h.queue.max_receive_count = 2
    h.queue.send(send_line("patient@example.org"))
    h.drain()
    assert h.sent_to() == {"patient@example.org": 1}
    assert h.queue.dlq == []


def test_primary_region_failing_sends_through_backup_with_backup_configuration_set():
    h = harness(primary_fail=lambda op, params: client_error("InternalFailure", 500))
    for i in range(30):
        h.queue.send(send_line(f"f{i}@example.org"))
    h.drain()
    assert not h.primary.sent
    assert len(h.backup.sent) == 30
    assert {m["config_set"] for m in h.backup.sent} == {"sesame-test-marketing-backup"}
    assert {m["region"] for m in h.ledger.messages.values()} == {"eu-west-1"}
    assert all(m["config_set"] == "sesame-test-marketing-backup" for m in h.ledger.messages.values())


def test_sending_paused_and_connection_errors_fail_over_too():
    from botocore.exceptions import EndpointConnectionError

    errors = iter([client_error("SendingPausedException"), EndpointConnectionError(endpoint_url="https://x")])
    h = harness(primary_fail=lambda op, params: next(errors, None))
    h.queue.send(send_line("a@example.org"))
    h.run_once()
    h.queue.send(send_line("b@example.org"))
    h.clock.now += 60  # after the failover cooldown the primary is tried again
    h.run_once()
    assert [m["to"] for m in h.backup.sent] == [["a@example.org"], ["b@example.org"]]


def test_after_a_regional_failure_the_primary_is_skipped_during_the_cooldown():
    h = harness(primary_fail=lambda op, params: client_error("ServiceUnavailable", 503))
    h.queue.send(send_line("a@example.org"))
    h.run_once()
    primary_calls = len(h.primary.calls)
    h.queue.send(send_line("b@example.org"))
    h.run_once()
    assert len(h.primary.calls) == primary_calls
    assert len(h.backup.sent) == 2


def test_both_regions_failing_leaves_messages_for_the_dlq_and_sends_nothing():
    down = lambda op, params: client_error("InternalFailure", 500)  # noqa: E731
    h = harness(primary_fail=down, backup_fail=down)
    h.queue.send(send_line("a@example.org"))
    h.drain()
    assert h.sent_to() == {}
    assert len(h.queue.dlq) == 1
    assert h.ledger.messages == {}


def test_permanent_errors_are_recorded_as_failed_with_reason_and_not_retried():
    h = harness(primary_fail=lambda op, params: client_error("MessageRejected", 400, "Email address is not verified"))
    h.queue.send(send_line("x@example.org"))
    h.drain()
    assert len(h.primary.calls) == 1
    assert not h.backup.calls
    (item,) = h.ledger.messages.values()
    assert item["status"] == "failed"
    assert item["failure_reason"].startswith("MessageRejected: Email address is not verified")
    assert h.ledger.counters[("spring_sale", "COUNTERS#TOTAL")] == {"failed": 1}
    assert h.queue.dlq == []


def test_permanent_bulk_entry_status_fails_only_that_entry():
    h = harness()
    h.primary.entry_status = lambda e: "MESSAGE_REJECTED" if "bad" in e["Destination"]["ToAddresses"][0] else "SUCCESS"
    for body in _bulk_jobs(["good1@example.org", "bad@example.org", "good2@example.org"]):
        h.queue.send(body)
    h.drain()
    assert set(h.sent_to()) == {"good1@example.org", "good2@example.org"}
    statuses = {m["recipient"]: m["status"] for m in h.ledger.messages.values()}
    assert statuses["bad@example.org"] == "failed"


def test_redelivered_message_is_not_sent_again():
    h = harness()
    h.queue.send(send_line("once@example.org"))
    records = h.queue.receive()
    h.consumer.process(records)
    h.consumer.process(records)  # SQS delivered it again (e.g. the delete was lost)
    assert h.sent_to() == {"once@example.org": 1}
    assert len(h.ledger.messages) == 1 and next(iter(h.ledger.messages.values()))["version"] == 1


def test_second_concurrent_delivery_is_left_on_the_queue_while_the_job_is_leased():
    ledger = InMemoryLedger(clock=lambda: 100.0)
    ledger.claim("job-1", "owner-a", 300)
    with pytest.raises(JobBusyError):
        ledger.claim("job-1", "owner-b", 300)


def test_unsubscribe_secrets_read_failing_beside_the_claims_leaves_jobs_unsent_released_and_retried():
    reads: list[int] = []

    def headers_source() -> UnsubscribeHeaders:
        reads.append(1)
        if len(reads) == 1:
            raise RuntimeError("SSM GetParameter failed")
        return UnsubscribeHeaders(TokenSigner([SECRET]), "https://mail.example.com", "unsubscribe@example.com")

    h = harness(headers_source=headers_source)
    h.queue.send(send_line("reader@example.org"))
    started = h.clock.now
    first = h.run_once()
    assert first is not None and len(first.retry) == 1 and first.incomplete
    assert not h.primary.sent and not h.backup.sent
    job = next(iter(h.ledger.jobs.values()))
    assert not job.get("fly") and not job.get("lease_until")  # released clean: no unit waits as unknown
    h.drain()
    assert h.sent_to() == Counter({"reader@example.org": 1})
    assert len(reads) == 2  # asked again by the next batch, then kept
    assert h.clock.now - started < 900  # redelivered, not held for the unknown-unit grace
    detail = h.primary.sent[0]["detail"]
    headers = detail.get("ReplacementHeaders") or detail["Template"]["Headers"]
    assert any(x["Name"] == "List-Unsubscribe" for x in headers)
    h.queue.send(send_line("solo@example.org"))
    h.drain()
    assert len(reads) == 2


def test_unsubscribe_headers_are_rfc_8058_conformant_and_token_verifies():
    h = harness()
    h.queue.send(send_line("Reader@Example.org"))
    h.queue.send(send_line("solo@example.org", template="other"))
    h.drain()
    for message in h.primary.sent:
        detail = message["detail"]
        headers = detail.get("ReplacementHeaders") or detail.get("Template", {}).get("Headers")
        by_name = {x["Name"]: x["Value"] for x in headers}
        assert by_name["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        targets = [t.strip().strip("<>") for t in by_name["List-Unsubscribe"].split(",")]
        https = [t for t in targets if t.startswith("https://")]
        assert len(https) == 1
        assert any(t.startswith("mailto:") for t in targets)
        token = parse_qs(urlparse(https[0]).query)["token"][0]
        claim = TokenSigner([SECRET]).verify(token)
        assert claim.recipient_hash == recipient_hash(message["to"][0])
        assert claim.scope == "list"
        assert claim.list_name == "vip_list"


def test_raw_messages_get_unsubscribe_headers_injected_into_the_mime():
    h = harness()
    mime = b"From: news@example.com\r\nTo: raw@example.org\r\nSubject: hi\r\n\r\nbody"
    h.queue.send(
        json.dumps(
            {
                "FromEmailAddress": "news@example.com",
                "Destination": {"ToAddresses": ["raw@example.org"]},
                "Content": {"Raw": {"Data": base64.b64encode(mime).decode()}},
            }
        )
    )
    h.drain()
    raw = base64.b64decode(h.primary.sent[0]["detail"]["Raw"]["Data"])
    assert raw.startswith(b"List-Unsubscribe: <https://mail.example.com/unsubscribe?token=")
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFrom:" in raw


def test_producer_supplied_list_unsubscribe_is_kept():
    h = harness()
    line = json.loads(send_line("own@example.org"))
    line["Content"]["Template"]["Headers"] = [{"Name": "List-Unsubscribe", "Value": "<https://own.example/u>"}]
    h.queue.send(json.dumps(line))
    h.drain()
    headers = h.primary.sent[0]["detail"]["Template"]["Headers"]
    assert headers == [{"Name": "List-Unsubscribe", "Value": "<https://own.example/u>"}]


def test_tags_are_sanitised_and_attribution_tags_always_present():
    h = harness()
    line = json.loads(send_line("tags@example.org"))
    line["EmailTags"] = [{"Name": "campaign id!", "Value": "Black Friday 50% off"}, {"Name": "x", "Value": "é" * 300}]
    h.queue.send(json.dumps(line))
    h.drain()
    tags = {t["Name"]: t["Value"] for t in h.primary.sent[0]["params"]["EmailTags"]}
    assert tags["campaign_id_"] == "Black_Friday_50__off"
    assert tags["x"] == "_" * 256
    assert tags["campaign_id"] == "untagged"
    assert tags["list_name"] == "untagged"
    for name, value in tags.items():
        assert all(c.isalnum() or c in "_-" for c in name + value)
        assert len(value) <= 256


def test_daily_quota_reached_leaves_messages_queued_not_failed():
    h = harness(daily_quota=5)
    for i in range(8):
        h.queue.send(send_line(f"q{i}@example.org"))
    result = h.run_once()
    assert len(h.sent_to()) == 5
    assert result is not None and len(result.deferred) == 3
    assert len(h.queue.messages) == 3  # still on the queue, invisible for a while
    assert all(m["status"] == "sent" for m in h.ledger.messages.values())


def test_message_without_from_address_or_default_is_failed_with_reason():
    h = harness()
    h.consumer.config.default_from = ""
    line = json.loads(send_line("nofrom@example.org"))
    del line["FromEmailAddress"]
    h.queue.send(json.dumps(line))
    h.drain()
    (item,) = h.ledger.messages.values()
    assert item["status"] == "failed"
    assert "FromEmailAddress" in item["failure_reason"]
    assert not h.primary.calls


def test_unparseable_message_ends_in_the_dlq_without_blocking_the_rest():
    h = harness()
    h.queue.send('{"Content": "nope"}')
    h.queue.send(send_line("fine@example.org"))
    h.drain()
    assert h.sent_to() == {"fine@example.org": 1}
    assert h.queue.dlq == ['{"Content": "nope"}']


def test_consumer_pacing_keeps_every_one_second_window_under_the_rate():
    h = harness(rate=40)
    for body in _bulk_jobs([f"p{i}@example.org" for i in range(600)]):
        h.queue.send(body)
    h.drain()
    times = sorted(h.primary.send_times)
    busiest = max(sum(n for t, n in times if start <= t < start + 1) for start, _ in times)
    assert busiest <= 40
    assert len(h.sent_to()) == 600


def test_suppressed_address_is_dropped_and_the_token_belongs_to_the_one_recipient_left():
    h = harness()
    gone = "first@example.org"
    h.suppressions.items[(recipient_hash(gone), "ALL")] = Suppression(recipient_hash(gone), "ALL", "COMPLAINT")
    line = json.loads(send_line(gone))
    line["Destination"] = {"ToAddresses": [gone], "CcAddresses": ["second@example.org"]}
    h.queue.send(json.dumps(line))
    h.drain()
    (message,) = h.primary.sent
    assert message["to"] == ["second@example.org"]
    headers = {x["Name"]: x["Value"] for x in message["detail"]["Template"]["Headers"]}
    token = parse_qs(urlparse(headers["List-Unsubscribe"].split(",")[0].strip("<>")).query)["token"][0]
    assert TokenSigner([SECRET]).verify(token).recipient_hash == recipient_hash("second@example.org")


@pytest.mark.parametrize(
    "destination",
    [
        {"ToAddresses": ["a@example.org", "b@example.org"]},
        {"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"]},
        {"ToAddresses": ["a@example.org"], "BccAddresses": ["b@example.org", "c@example.org"]},
    ],
)
def test_a_message_to_several_recipients_is_refused_rather_than_sharing_one_unsubscribe_link(destination):
    h = harness()
    line = json.loads(send_line("a@example.org"))
    line["Destination"] = destination
    h.queue.send(json.dumps(line))
    h.drain()
    assert h.primary.sent == [] and h.backup.sent == []  # another recipient's one-click would unsubscribe "a"
    (item,) = h.ledger.messages.values()
    assert item["status"] == "failed"
    assert "one recipient per message" in item["failure_reason"]
    assert "b@example.org" not in item["failure_reason"]


def test_a_message_to_several_recipients_with_the_producers_own_list_unsubscribe_is_sent_as_is():
    h = harness()
    own = {"Name": "List-Unsubscribe", "Value": "<https://producer.example/u?list=news>"}
    line = json.loads(send_line("a@example.org"))
    line["Destination"] = {"ToAddresses": ["a@example.org", "b@example.org"]}
    line["Content"]["Template"]["Headers"] = [own]
    h.queue.send(json.dumps(line))
    h.drain()
    (message,) = h.primary.sent
    assert message["to"] == ["a@example.org", "b@example.org"]
    assert message["detail"]["Template"]["Headers"] == [own]


def test_raw_message_without_destination_is_screened_and_sent_to_its_mime_recipients():
    h = harness()
    gone = "gone@example.org"
    h.suppressions.items[(recipient_hash(gone), "ALL")] = Suppression(recipient_hash(gone), "ALL", "BOUNCE")
    mime = b"From: news@example.com\nTo: Mime <mime@example.org>, gone@example.org\nSubject: hi\n\nbody"
    h.queue.send(json.dumps({"Content": {"Raw": {"Data": base64.b64encode(mime).decode()}}}))
    h.drain()
    (call,) = [params for op, params in h.primary.calls if op == "SendEmail"]
    assert call["Destination"] == {"ToAddresses": ["mime@example.org"]}
    assert b"\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\nFrom:" in base64.b64decode(
        call["Content"]["Raw"]["Data"]
    )


def test_throttled_entries_of_a_regionally_failing_call_fail_over_too():
    h = harness()
    statuses = iter(["ACCOUNT_SENDING_PAUSED", "ACCOUNT_THROTTLED"])
    h.primary.entry_status = lambda entry: next(statuses, "SUCCESS")
    for body in _bulk_jobs(["a@example.org", "b@example.org", "c@example.org"]):
        h.queue.send(body)
    h.drain()
    assert sorted(a for m in h.backup.sent for a in m["to"]) == ["a@example.org", "b@example.org"]
    assert [a for m in h.primary.sent for a in m["to"]] == ["c@example.org"]
    assert max(h.sent_to().values()) == 1


def test_two_copies_of_one_job_in_a_batch_send_once():
    h = harness()
    (body,) = _bulk_jobs(["dup@example.org"])
    h.queue.send(body)
    h.queue.send(body)
    h.drain()
    assert h.sent_to() == {"dup@example.org": 1}
    assert h.queue.dlq == []


def test_work_left_when_the_invocation_runs_out_of_time_is_re_enqueued_not_lost():
    h = harness(rate=50)
    for body in _bulk_jobs([f"late{i}@example.org" for i in range(500)]):
        h.queue.send(body)
    records = h.queue.receive()
    result = h.consumer.process(records, deadline=h.clock.now + 2.5)
    assert 0 < len(h.sent_to()) < 500
    assert len(result.requeued) > 0
    h.queue.delete(records)
    h.drain()
    assert len(h.sent_to()) == 500 and max(h.sent_to().values()) == 1


def test_counter_items_are_summed_so_a_transaction_touches_each_item_once():
    from runtime.sender.ledger import Attribution, Outcome, counter_items

    def entry(list_name, kind):
        return ("u", Outcome(kind, "m"), Attribution("a@b.co", "h", "c1", list_name, None, None, None))

    items = counter_items([entry("l1", "failed"), entry("l2", "failed"), entry("l2", "suppressed")], "2026-01-02")
    assert items[("c1", "COUNTERS#TOTAL")] == {"failed": 2, "suppressed": 1}
    assert items[("c1", "COUNTERS#DAY#2026-01-02")] == {"failed": 2, "suppressed": 1}
    assert items[("c1", "COUNTERS#LIST#l1")] == {"failed": 1}
    assert len(items) == 4


def test_two_consumers_sharing_the_rate_log_stay_under_the_rate_together():
    from runtime.sender.consumer import SenderConsumer

    h = harness(rate=30)
    c = h.consumer
    second = SenderConsumer(
        config=c.config,
        ses=c._ses,
        suppressions=h.suppressions,
        ledger=h.ledger,
        pacer=c._pacer,  # same store: the shared DynamoDB item in production
        queue=h.queue,
        headers=None,
        clock=h.clock,
        sleep=h.clock.sleep,
    )
    for body in _bulk_jobs([f"two{i}@example.org" for i in range(400)]):
        h.queue.send(body)
    consumers = [c, second]
    turn = 0
    while h.queue.messages:
        records = h.queue.receive(2)
        if not records:
            h.clock.now = h.queue.next_visible()
            continue
        result = consumers[turn % 2].process(records)
        turn += 1
        if not result.incomplete:
            h.queue.delete(records)
    times = sorted(h.primary.send_times)
    assert max(sum(n for t, n in times if start <= t < start + 1) for start, _ in times) <= 30
    assert len(h.sent_to()) == 400 and max(h.sent_to().values()) == 1


def test_failure_reasons_naming_addresses_are_stored_and_logged_masked(caplog: pytest.LogCaptureFixture):
    message = (
        "Email address is not verified. The following identities failed the check in region US-EAST-1: "
        "news@example.com, x@example.org"
    )
    h = harness(primary_fail=lambda op, params: client_error("MessageRejected", 400, message))
    h.queue.send(send_line("x@example.org"))
    with caplog.at_level("DEBUG"):
        h.drain()
    (item,) = h.ledger.messages.values()
    assert item["failure_reason"].startswith("MessageRejected: Email address is not verified")
    assert "x***@example.org" in item["failure_reason"]
    assert "x@example.org" not in item["failure_reason"]
    assert "news@example.com" not in item["failure_reason"]
    logged = " ".join(str(vars(r)) for r in caplog.records)
    assert "send failed permanently" in logged
    assert "x@example.org" not in logged
    assert "news@example.com" not in logged


def test_a_message_with_too_many_headers_fails_alone_not_with_the_bulk_call_it_would_share():
    from botocore.exceptions import ParamValidationError

    def botocore_check(op, params):
        lists = [params.get("Content", {}).get("Template", {}).get("Headers", [])]
        lists += [e.get("ReplacementHeaders", []) for e in params.get("BulkEmailEntries", [])]
        if any(len(headers) > 15 for headers in lists):
            return ParamValidationError(report="Invalid length for parameter ReplacementHeaders, valid max length: 15")
        return None

    h = harness(primary_fail=botocore_check, validate_requests=False)
    many = [{"Name": f"X-Custom-{i}", "Value": "v"} for i in range(14)]
    h.queue.send(send_line("crowded@example.org", Content={"Template": {"TemplateName": "welcome", "Headers": many}}))
    h.queue.send(send_line("fine@example.org"))
    h.drain()
    assert h.sent_to() == Counter({"fine@example.org": 1})
    statuses = {m["recipient"]: m for m in h.ledger.messages.values()}
    assert statuses["crowded@example.org"]["status"] == "failed"
    assert "16 message headers" in statuses["crowded@example.org"]["failure_reason"]
    assert statuses["fine@example.org"]["status"] == "sent"


def test_ses_daily_quota_answer_stops_the_batch_and_leaves_messages_queued():
    def quota(op, params):
        return client_error("TooManyRequestsException", 429, "Daily message quota exceeded.")

    h = harness(primary_fail=quota, backup_region="")
    for i in range(4):
        h.queue.send(send_line(f"d{i}@example.org", template=f"template-{i}"))  # four separate calls
    result = h.run_once()
    assert result is not None
    assert len(h.primary.calls) == 1  # no inline retries, no further attempts once the quota is gone
    assert len(result.deferred) == 4
    assert len(h.queue.messages) == 4 and h.queue.dlq == []
    assert h.ledger.messages == {}


def _singles(n: int, prefix: str = "s") -> list[str]:
    """SendEmail lines that cannot share a SendBulkEmail (each its own template)."""
    return [send_line(f"{prefix}{i}@example.org", template=f"t{i}") for i in range(n)]


def test_single_recipient_calls_of_a_batch_are_paced_as_one_block_and_made_concurrently():
    h = harness(parallel_sends=10)
    for body in _singles(10):
        h.queue.send(body)
    result = h.run_once()
    assert result is not None and len(result.finished) == 10
    assert len(h.sent_to()) == 10
    assert [op for op, _ in h.primary.calls] == ["SendEmail"] * 10
    assert h.rates.calls == 1  # one reservation for the ten calls
    assert len({t for t, _ in h.primary.send_times}) == 1  # all made at the granted instant


def test_without_blocks_every_single_recipient_call_is_reserved_on_its_own():
    h = harness(parallel_sends=1)
    for body in _singles(10):
        h.queue.send(body)
    h.run_once()
    assert len(h.sent_to()) == 10
    assert h.rates.calls == 10


def test_a_block_larger_than_the_rate_is_split_and_every_window_stays_under_the_rate():
    h = harness(rate=4, parallel_sends=10)
    for body in _singles(30):
        h.queue.send(body)
    h.drain()
    assert len(h.sent_to()) == 30
    times = sorted(h.primary.send_times)
    assert max(sum(n for t, n in times if start <= t < start + 1) for start, _ in times) <= 4


def test_a_refused_call_in_a_block_fails_only_its_own_unit_and_gives_its_capacity_back():
    def fail(op, params):
        if params["Destination"]["ToAddresses"] == ["s3@example.org"]:
            return client_error("MessageRejected", 400)
        return None

    h = harness(parallel_sends=10, primary_fail=fail)
    for body in _singles(10):
        h.queue.send(body)
    h.drain()
    assert set(h.sent_to()) == {f"s{i}@example.org" for i in range(10)} - {"s3@example.org"}
    statuses = Counter(m["status"] for m in h.ledger.messages.values())
    assert statuses == {"sent": 9, "failed": 1}
    assert h.rates.day_count("us-east-1", datetime.fromtimestamp(h.clock.now, tz=UTC).strftime("%Y-%m-%d")) == 9
