"""``POST /messages`` through the Chalice test client on moto (DynamoDB, SQS), SES as the recording fake that
validates every request against botocore's sesv2 model."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.sender_app import AUTH, BACKUP, REGION, sender_stack
from tests.support.sender_fakes import client_error

FROM = "Receipts <receipts@example.com>"


@pytest.fixture
def stack(monkeypatch):
    with sender_stack(monkeypatch) as s:
        yield s


def post(stack, body, headers=None, key=None):
    h = dict(AUTH if headers is None else headers)
    if key is not None:
        h["Idempotency-Key"] = key
    response = stack.client.http.post(
        "/messages", headers=h, body=json.dumps(body) if not isinstance(body, str) else body
    )
    return response.status_code, json.loads(response.body or b"{}"), response.headers


def get_message(stack, message_id):
    response = stack.client.http.get(f"/messages/{message_id}", headers=AUTH)
    return response.status_code, json.loads(response.body)


def receipt(**extra):
    body = {
        "from": FROM,
        "to": ["ada@example.org"],
        "subject": "Your receipt",
        "text": "Thanks!",
        "html": "<p>Thanks</p>",
    }
    body.update(extra)
    return body


def sent(stack, region=REGION):
    return stack.fakes[region].sent


def test_post_messages_without_a_key_is_401_and_with_a_wrong_key_403(stack):
    code, _, headers = post(stack, receipt(), headers={"Content-Type": "application/json"})
    assert code == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    code, _, _ = post(stack, receipt(), headers={**AUTH, "Authorization": "Bearer ssm_wrong"})
    assert code == 403
    assert sent(stack) == []


def test_sends_each_recipient_now_and_answers_200_with_ses_message_ids_that_resolve(stack):
    code, body, _ = post(stack, receipt(to=["ada@example.org", "bob@example.org"], tags={"kind": "receipt"}))
    assert code == 200, body
    assert [r["recipient"] for r in body["results"]] == ["ada@example.org", "bob@example.org"]
    assert {r["status"] for r in body["results"]} == {"sent"}
    assert body["counts"] == {"sent": 2, "queued": 0, "suppressed": 0, "failed": 0}
    ses_ids = {m["message_id"] for m in sent(stack)}
    assert {r["message_id"] for r in body["results"]} == ses_ids
    for result in body["results"]:
        status, answer = get_message(stack, result["message_id"])
        assert status == 200
        assert answer["message"]["status"] == "sent"
    calls = sent(stack)
    assert len(calls) == 2 and all(len(m["to"]) == 1 for m in calls)
    params = calls[0]["params"]
    assert params["FromEmailAddress"] == FROM
    assert params["ConfigurationSetName"] == "transactional"
    assert calls[0]["tags"]["kind"] == "receipt" and calls[0]["tags"]["sesame_send_id"]
    # transactional mail carries no List-Unsubscribe
    assert "Headers" not in params["Content"]["Simple"]


def test_marketing_mail_gets_list_unsubscribe_and_the_campaign_tags(stack):
    code, body, _ = post(stack, receipt(configuration_set="marketing", campaign_id="promo-1", list_name="deals"))
    assert code == 200, body
    (message,) = sent(stack)
    headers = {h["Name"]: h["Value"] for h in message["params"]["Content"]["Simple"]["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<https://mail.example.com/unsubscribe?token=")
    assert message["tags"]["campaign_id"] == "promo-1" and message["tags"]["list_name"] == "deals"
    assert message["config_set"] == "sesame-ftest-marketing"


def test_templated_messages_with_per_recipient_data_go_through_one_bulk_call(stack):
    body = {
        "from": FROM,
        "template": {"subject": "Hi {{name}}", "html": "<p>Hi {{name}}, {{plan}}</p>"},
        "template_data": {"plan": "pro"},
        "recipients": [{"to": "ada@example.org", "data": {"name": "Ada"}}, {"to": "bob@example.org"}],
    }
    code, answer, _ = post(stack, body)
    assert code == 200, answer
    ops = [op for op, _ in stack.fakes[REGION].calls]
    assert ops == ["SendBulkEmail"]
    data = {
        m["to"][0]: json.loads(m["detail"]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"])
        for m in sent(stack)
    }
    assert data == {"ada@example.org": {"plan": "pro", "name": "Ada"}, "bob@example.org": {"plan": "pro"}}


def test_partially_suppressed_request_is_207_with_a_result_per_recipient(stack):
    response = stack.client.http.put(
        "/suppressions/bob@example.org", headers=AUTH, body=json.dumps({"scope": "all", "reason": "MANUAL"})
    )
    assert response.status_code in (200, 201), response.body
    code, body, _ = post(stack, receipt(to=["ada@example.org", "bob@example.org"]))
    assert code == 207, body
    ada, bob = body["results"]
    assert ada["status"] == "sent" and ada["error"] is None
    assert bob["status"] == "suppressed" and "suppressed" in bob["error"]
    assert bob["message_id"].startswith("local-")
    assert [m["to"] for m in sent(stack)] == [["ada@example.org"]]
    status, answer = get_message(stack, bob["message_id"])
    assert status == 200 and answer["message"]["status"] == "suppressed"
    print("207 answer:", json.dumps(body, indent=1))


def test_a_permanent_ses_rejection_is_failed_with_the_reason_in_a_207(stack):
    def fail(op, params):
        if params["Destination"]["ToAddresses"] == ["bad@example.org"]:
            return client_error("MessageRejected", message="Email address is not verified")
        return None

    stack.fakes[REGION].fail = fail
    code, body, _ = post(stack, receipt(to=["ada@example.org", "bad@example.org"]))
    assert code == 207, body
    assert [r["status"] for r in body["results"]] == ["sent", "failed"]
    assert body["results"][1]["error"].startswith("MessageRejected")
    status, answer = get_message(stack, body["results"][1]["message_id"])
    assert status == 200 and answer["message"]["status"] == "failed"


def test_when_ses_cannot_send_now_the_message_is_queued_resolves_at_once_and_later_follows_the_send(stack):
    down = client_error("ServiceUnavailable", status=503)
    for region in (REGION, BACKUP):
        stack.fakes[region].fail = lambda op, params: down
    code, body, _ = post(stack, receipt())
    assert code == 200, body
    (result,) = body["results"]
    assert result["status"] == "queued" and result["message_id"].startswith("queued-")
    status, answer = get_message(stack, result["message_id"])
    assert status == 200
    assert answer["message"]["status"] == "queued"
    assert answer["message"]["recipient"] == "a***@example.org"  # the queued item keeps no full address
    # SES is back: the sender Lambda sends the queued job, and the queued id now answers the SES message
    for region in (REGION, BACKUP):
        stack.fakes[region].fail = None
    stack.deliver_all()
    (message,) = sent(stack)
    status, answer = get_message(stack, result["message_id"])
    assert status == 200
    assert answer["message"]["message_id"] == message["message_id"]
    assert answer["message"]["status"] == "sent"
    assert answer["message"]["queued_id"] == result["message_id"]


def test_throttling_beyond_the_inline_retries_queues_the_message_with_a_delay(stack):
    stack.fakes[REGION].fail = lambda op, params: client_error("TooManyRequestsException", status=429)
    code, body, _ = post(stack, receipt())
    assert code == 200
    assert body["results"][0]["status"] == "queued"
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesDelayed"]) + int(attributes["ApproximateNumberOfMessages"]) == 1


def test_same_idempotency_key_and_body_replays_the_first_answer_and_sends_nothing(stack):
    first = post(stack, receipt(to=["ada@example.org", "bob@example.org"]), key="order-1001")
    second = post(stack, receipt(to=["ada@example.org", "bob@example.org"]), key="order-1001")
    assert first[0] == second[0] == 200
    assert first[1] == second[1]
    assert second[2].get("Idempotent-Replayed") == "true"
    assert len(sent(stack)) == 2


def test_same_idempotency_key_with_another_body_is_409(stack):
    assert post(stack, receipt(), key="order-1002")[0] == 200
    code, body, _ = post(stack, receipt(subject="Another"), key="order-1002")
    assert code == 409
    assert "different body" in body["Message"]
    assert len(sent(stack)) == 1


def test_idempotency_keys_of_different_api_keys_do_not_collide(stack, monkeypatch):
    from chalicelib import sending, wiring

    from runtime.auth import hash_api_key

    monkeypatch.setenv(
        "SESAME_API_KEY_HASHES",
        f"{hash_api_key('ssm_sender-test-key-0123456789')},{hash_api_key('ssm_other-0123456789')}",
    )
    wiring.reset()
    monkeypatch.setattr(sending, "_send_ses", lambda region: stack.fakes[region])
    assert post(stack, receipt(), key="k")[0] == 200
    other = {**AUTH, "Authorization": "Bearer ssm_other-0123456789"}
    assert post(stack, receipt(subject="Other"), headers=other, key="k")[0] == 200
    assert len(sent(stack)) == 2


def test_a_concurrent_duplicate_is_409_while_the_first_request_holds_the_key(stack):
    from chalicelib import sending

    service = sending.message_service()
    # the first request took the key (its conditional write) and is still sending
    import hashlib

    from runtime.auth import hash_api_key

    caller = hash_api_key(AUTH["Authorization"].split()[1])
    key_hash = hashlib.sha256(f"{caller}\norder-7".encode()).hexdigest()
    body = receipt()
    body_hash = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert service._idempotency.begin(key_hash, body_hash, "first-request", 120) is None
    code, answer, _ = post(stack, body, key="order-7")
    assert code == 409
    assert "still being processed" in answer["Message"]
    assert sent(stack) == []


def test_a_request_that_died_after_sending_is_retried_with_its_key_without_sending_twice(stack, monkeypatch):
    from chalicelib import sending

    service = sending.message_service()
    store = service._idempotency
    real_complete = store.complete

    def die(*args, **kwargs):
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(store, "complete", die)
    # the invocation dies after sending, before the answer is stored (Chalice turns the crash into a 500)
    assert post(stack, receipt(to=["ada@example.org", "bob@example.org"]), key="order-9")[0] == 500
    assert len(sent(stack)) == 2
    monkeypatch.setattr(store, "complete", real_complete)
    # within the first request's lease the key is still held
    assert post(stack, receipt(to=["ada@example.org", "bob@example.org"]), key="order-9")[0] == 409
    # after it, the retry takes over: same job ids, the ledger knows both were sent
    monkeypatch.setattr(store, "_clock", lambda: time.time() + 300)
    code, body, _ = post(stack, receipt(to=["ada@example.org", "bob@example.org"]), key="order-9")
    assert code == 200, body
    assert len(sent(stack)) == 2
    assert {r["message_id"] for r in body["results"]} == {m["message_id"] for m in sent(stack)}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ([1, 2], "body"),
        ({"from": FROM, "subject": "x", "text": "y"}, "to"),
        (receipt(to=["not-an-address"]), "to.0"),
        (receipt(to="Ada <a@example.org>, Eve <e@example.org>"), "to"),
        (receipt(**{"from": "x"}), "from"),
        (receipt(subject="two\r\nBcc: eve@example.org"), "subject"),
        (receipt(tags={"kind": "a b"}), "tags"),
        (receipt(tags={"campaign_id": "x"}), "tags"),
        (receipt(headers={"Bcc": "eve@example.org"}), "headers"),
        (receipt(headers={"X-Bad:Name": "v"}), "headers"),
        (receipt(headers={"X-Long": "v" * 996}), "headers"),
        (receipt(headers={f"X-H{i}": "v" for i in range(16)}), "headers"),
        (receipt(to=[f"u{i}@example.org" for i in range(51)]), "to"),
        (receipt(to=["a@example.org", "b@example.org"], cc=["c@example.org"]), "cc"),
        (receipt(template="welcome"), "template"),
        (receipt(subject="s" * 999), "subject: String should have at most 998 characters"),
        (
            {"from": FROM, "to": ["a@example.org"], "template": {"subject": "s" * 999, "html": "<p>x</p>"}},
            "template.subject: String should have at most 998 characters",
        ),
        (
            {"from": FROM, "to": ["a@example.org"], "template": "welcome", "template_data": {"x": "y" * 262_144}},
            "template_data",
        ),
        ({"from": FROM, "to": ["a@example.org"], "text": "no subject"}, "subject"),
        (receipt(template_data={"a": 1}), "template_data"),
        (receipt(configuration_set="no spaces"), "configuration_set"),
        (receipt(campaign_id="bad id!"), "campaign_id"),
        (receipt(unknown_field=1), "unknown_field"),
        (receipt(configuration_set="marketing", cc=["c@example.org"]), "cc"),
    ],
)
def test_an_invalid_request_is_400_naming_the_field_and_sends_nothing(stack, body, field):
    code, answer, _ = post(stack, body)
    assert code == 400, answer
    assert answer["Code"] == "BadRequestError"
    assert field in answer["Message"], answer["Message"]
    assert sent(stack) == []
    assert stack.receive() == []


def test_an_invalid_idempotency_key_is_400(stack):
    code, answer, _ = post(stack, receipt(), key="x" * 300)
    assert code == 400
    assert "Idempotency-Key" in answer["Message"]
