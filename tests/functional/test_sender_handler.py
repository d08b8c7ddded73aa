from __future__ import annotations

import json

import pytest

from runtime.emails import recipient_hash
from runtime.sender.consumer import BatchIncompleteError
from runtime.stores.suppressions import DynamoSuppressionStore, Suppression
from tests.support.sender_app import AUTH, BACKUP, ENV, REGION, candidate, sender_stack
from tests.support.sender_fakes import client_error


def simple_line(to: str, **extra) -> str:
    return json.dumps(
        {
            "FromEmailAddress": "news@example.com",
            "Destination": {"ToAddresses": [to]},
            "Content": {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}},
            "EmailTags": [{"Name": "campaign_id", "Value": "weekly"}, {"Name": "list_name", "Value": "news"}],
            "ConfigurationSetName": "marketing",
            **extra,
        }
    )


def test_bare_send_email_line_is_sent_through_moto_ses_and_recorded(monkeypatch):
    with sender_stack(monkeypatch, fake_ses=False) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("reader@example.org"))
        responses = stack.deliver_all()
        assert all("errorMessage" not in (r.payload or {}) for r in responses)
        (item,) = stack.message_items()
        assert item["status"] == "sent"
        assert item["recipient"] == "reader@example.org"
        assert item["recipient_hash"] == recipient_hash("reader@example.org")
        assert item["region"] == REGION
        assert item["campaign_id"] == "weekly" and item["list_name"] == "news"
        assert item["subject"] == "Hello"
        assert not item["message_id"].startswith("local-")
        assert "sent" not in stack.counters("weekly")  # counted by ingestion from the SES Send event
        assert stack.receive() == []


def test_suppressed_recipient_is_not_sent_and_recorded_as_suppressed(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        store = DynamoSuppressionStore(stack.ddb, f"sesame-{ENV}-suppressions")
        store.put(Suppression(recipient_hash("gone@example.org"), "LIST#news", "UNSUBSCRIBE"))
        for to in ("gone@example.org", "here@example.org"):
            stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line(to))
        stack.deliver_all()
        assert [m["to"] for m in stack.fakes[REGION].sent] == [["here@example.org"]]
        statuses = {i["recipient"]: i["status"] for i in stack.message_items()}
        assert statuses == {"gone@example.org": "suppressed", "here@example.org": "sent"}
        counters = stack.counters("weekly")
        assert counters["suppressed"] == 1 and "sent" not in counters


def test_primary_region_failure_fails_over_to_backup_with_its_configuration_set(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        stack.fakes[REGION].fail = lambda op, params: client_error("InternalFailure", 500)
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("far@example.org"))
        stack.deliver_all()
        (sent,) = stack.fakes[BACKUP].sent
        assert sent["config_set"] == f"sesame-{ENV}-marketing-backup"
        (item,) = stack.message_items()
        assert item["region"] == BACKUP
        assert item["config_set"] == f"sesame-{ENV}-marketing-backup"


def test_throttled_message_is_re_enqueued_with_a_delay_and_the_batch_succeeds(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        stack.fakes[REGION].fail = lambda op, params: client_error("TooManyRequestsException", 429)
        stack.fakes[BACKUP].fail = stack.fakes[REGION].fail
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("later@example.org"))
        messages = stack.receive()
        response = stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        assert "errorMessage" not in (response.payload or {})
        # the original is replaced by a delayed copy that carries attempt 1; nothing was recorded as failed
        attrs = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
        assert int(attrs["ApproximateNumberOfMessagesDelayed"]) + int(attrs["ApproximateNumberOfMessages"]) >= 1
        assert stack.message_items() == []


def test_permanent_failure_is_recorded_with_reason_and_not_retried(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        stack.fakes[REGION].fail = lambda op, params: client_error("MailFromDomainNotVerifiedException", 400, "nope")
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("never@example.org"))
        stack.deliver_all()
        (item,) = stack.message_items()
        assert item["status"] == "failed"
        assert item["failure_reason"] == "MailFromDomainNotVerifiedException: nope"
        assert item["message_id"].startswith("local-")
        assert len(stack.fakes[REGION].calls) == 1


def test_a_batch_with_an_unretryable_body_raises_after_deleting_the_finished_messages(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="not json")
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("ok@example.org"))
        messages = stack.receive()
        assert len(messages) == 2
        with pytest.raises(BatchIncompleteError):
            stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        # the sent one was deleted by the handler itself; only the bad body remains (for the DLQ)
        stack.sqs.change_message_visibility(
            QueueUrl=stack.queue_url,
            ReceiptHandle=next(m for m in messages if m["Body"] == "not json")["ReceiptHandle"],
            VisibilityTimeout=0,
        )
        remaining = stack.receive()
        assert [m["Body"] for m in remaining] == ["not json"]
        assert [m["to"] for m in stack.fakes[REGION].sent] == [["ok@example.org"]]


@pytest.mark.parametrize("rate", ["3"])
def test_pacing_state_lives_in_the_control_table(monkeypatch, rate):
    with sender_stack(monkeypatch, SESAME_MAX_SEND_RATE=rate) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("p@example.org"))
        stack.deliver_all()
        item = stack.ddb.get_item(
            TableName=f"sesame-{ENV}-control", Key={"pk": {"S": f"RATE#{REGION}"}, "sk": {"S": "WINDOW"}}
        )["Item"]
        assert item["day_sent"]["N"] == "1"
        assert item["version"]["N"] == "1"


def test_a_job_leased_by_another_invocation_is_left_on_the_queue(monkeypatch):
    from runtime.sender.ledger import DynamoLedger

    with sender_stack(monkeypatch) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("busy@example.org"))
        messages = stack.receive()
        ledger = DynamoLedger(
            stack.ddb,
            control_table=f"sesame-{ENV}-control",
            messages_table=f"sesame-{ENV}-messages",
            campaigns_table=f"sesame-{ENV}-campaigns",
        )
        ledger.claim(f"sqs-{messages[0]['MessageId']}", "another-lambda", 300)
        with pytest.raises(BatchIncompleteError):
            stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        assert stack.fakes[REGION].sent == []
        ledger.release(f"sqs-{messages[0]['MessageId']}", "another-lambda")
        stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        assert [m["to"] for m in stack.fakes[REGION].sent] == [["busy@example.org"]]


def test_a_campaign_candidate_put_on_the_send_queue_is_expanded_and_sent_once(monkeypatch):
    from tests.support.sender_app import candidate

    with sender_stack(monkeypatch) as stack:
        body = candidate(recipients=4)
        del body["campaign_id"]  # gets a stable id derived from the SQS message id
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))
        messages = stack.receive()
        stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        stack.client.lambda_.invoke("sender", stack.sqs_event(messages))  # a redelivery changes nothing
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        stack.deliver_all()
        sent = sorted(a for m in stack.fakes[REGION].sent for a in m["to"])
        assert sent == ["reader@example.org"] + [f"vip{i}@example.org" for i in range(4)]
        campaigns = {i["campaign_id"] for i in stack.message_items()}
        assert len(campaigns) == 1 and next(iter(campaigns)).startswith("q-")


def test_an_invalid_campaign_on_the_queue_is_left_for_the_dlq(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"segments": []}))
        messages = stack.receive()
        with pytest.raises(BatchIncompleteError):
            stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        assert stack.fakes[REGION].calls == []


def test_message_queued_for_an_erased_recipient_is_dropped_and_recorded_without_their_address(monkeypatch):
    from tests.support.sender_app import AUTH

    with sender_stack(monkeypatch) as stack:
        store = DynamoSuppressionStore(stack.ddb, f"sesame-{ENV}-suppressions")
        # already unsubscribed from everything before asking for erasure: the ALL entry exists and is permanent
        store.put(
            Suppression(recipient_hash("forget.me@example.org"), "ALL", "UNSUBSCRIBE", email="forget.me@example.org")
        )
        erased = stack.client.http.delete("/recipients/forget.me@example.org", headers=AUTH)
        assert erased.status_code == 200
        for to in ("forget.me@example.org", "here@example.org"):
            stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line(to))
        stack.deliver_all()
        assert [m["to"] for m in stack.fakes[REGION].sent] == [["here@example.org"]]
        items = {i["recipient_hash"]: i for i in stack.message_items()}
        dropped = items[recipient_hash("forget.me@example.org")]
        assert dropped["status"] == "suppressed"
        assert "forget.me" not in json.dumps(dropped, default=str)
        assert items[recipient_hash("here@example.org")]["recipient"] == "here@example.org"


def test_the_ses_client_that_sends_makes_one_attempt_while_template_calls_keep_botocore_retries(monkeypatch):
    with sender_stack(monkeypatch, fake_ses=False):
        from chalicelib import sending

        assert sending._send_ses(REGION).meta.config.retries["total_max_attempts"] == 1
        assert sending._ses(REGION).meta.config.retries["total_max_attempts"] > 1
        assert sending.consumer()._ses is sending._send_ses


def test_a_bare_line_redriven_from_the_dlq_is_the_same_job_and_not_sent_again(monkeypatch):
    from runtime import dlq

    with sender_stack(monkeypatch) as stack:
        dead = stack.sqs.create_queue(QueueName=f"sesame-{ENV}-send-dlq")["QueueUrl"]
        dead_arn = stack.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]
        policy = {"deadLetterTargetArn": dead_arn["QueueArn"], "maxReceiveCount": "1"}
        stack.sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("once@example.org"))
        (message,) = stack.receive()
        stack.client.lambda_.invoke("sender", stack.sqs_event([message]))  # sent; its delete never happens
        stack.sqs.change_message_visibility(
            QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        assert stack.receive() == []  # moved to the DLQ with its MessageId
        assert dlq.redrive(stack.sqs, dead, to=stack.queue_url) == {"moved": 1, "failed": 0}
        stack.deliver_all()
        assert sum(len(m["to"]) for m in stack.fakes[REGION].sent) == 1


def test_the_warm_up_ramp_caps_marketing_sends_but_never_transactional_ones(monkeypatch):
    from datetime import UTC, datetime

    sets = {"marketing": f"sesame-{ENV}-marketing", "transactional": f"sesame-{ENV}-transactional"}
    with sender_stack(
        monkeypatch,
        SESAME_CONFIGURATION_SETS=json.dumps(sets),
        SESAME_BACKUP_CONFIGURATION_SETS=json.dumps({k: f"{v}-backup" for k, v in sets.items()}),
        SESAME_WARMUP_CONFIGURATION_SETS="marketing",
        SESAME_WARMUP_START=datetime.now(UTC).date().isoformat(),  # day 0 of the ramp: 50 a day
    ) as stack:
        for fake in stack.fakes.values():  # SES has counted the day's 50 already; the quota is far away
            fake.account["SendQuota"] = {"MaxSendRate": 500.0, "Max24HourSend": 1_000_000.0, "SentLast24Hours": 50.0}
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("news@example.org"))
        stack.sqs.send_message(
            QueueUrl=stack.queue_url,
            MessageBody=simple_line("receipt@example.org", ConfigurationSetName="transactional"),
        )
        messages = stack.receive()
        assert len(messages) == 2
        with pytest.raises(BatchIncompleteError, match="1 message"):  # the marketing one stays for SQS
            stack.client.lambda_.invoke("sender", stack.sqs_event(messages))
        sent = [(m["to"], m["config_set"]) for r in (REGION, BACKUP) for m in stack.fakes[r].sent]
        assert sent == [(["receipt@example.org"], f"sesame-{ENV}-transactional")]
        statuses = {i["recipient"]: i["status"] for i in stack.message_items()}
        assert statuses.get("receipt@example.org") == "sent"
        assert statuses.get("news@example.org") != "sent"  # it waits for the ramp's next day, on the queue


def test_the_sender_uses_the_account_limits_the_per_minute_check_recorded_instead_of_get_account(monkeypatch):
    with sender_stack(monkeypatch) as stack:
        monkeypatch.delenv("SESAME_MAX_SEND_RATE")  # no configured rate: the account's limits decide
        ses_up = {"now": False}
        for fake in stack.fakes.values():
            answer = fake.get_account

            def get_account(answer=answer):
                if not ses_up["now"]:
                    raise client_error("ServiceUnavailable", 503)
                return answer()

            monkeypatch.setattr(fake, "get_account", get_account)
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("first@example.org"))
        stack.deliver_all()
        assert stack.fakes[REGION].sent == []  # GetAccount failing and nothing recorded: nothing is sent

        ses_up["now"] = True
        from chalicelib import operate

        monkeypatch.setattr(operate.reputation(), "_ses", lambda region: stack.fakes[region])  # moto lacks GetAccount
        event = stack.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
        )
        stack.client.lambda_.invoke("check_for_campaign", event)  # records the limits with its reputation snapshot
        ses_up["now"] = False

        from chalicelib import wiring

        wiring.reset()  # a cold sender: no limits cached
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=simple_line("second@example.org"))
        stack.deliver_all()
        # (the first message, re-enqueued with a short delay, may be back and sent now too)
        assert ["second@example.org"] in [m["to"] for m in stack.fakes[REGION].sent]


def test_a_minute_with_no_campaign_waiting_does_not_build_the_campaign_service(monkeypatch):
    from chalicelib import sending

    with sender_stack(monkeypatch) as stack:
        event = stack.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
        )
        stack.client.lambda_.invoke("check_for_campaign", event)
        assert sending.campaign_service.cache_info().currsize == 0  # its modules stay off this cold start
        response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(candidate()))
        assert response.status_code == 201, response.body  # launched at once (no date): nothing waits either
        assert sending.campaign_service.cache_info().currsize == 1
