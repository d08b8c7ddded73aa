"""Campaigns of any size through the Chalice app on moto: recipient files in S3 (JSON lines / CSV) validated as
streams, the campaign JSON by S3 URI, and the chunked launch with its progress in ``GET /campaigns/{id}``,
interrupted mid-way and resumed by the per-minute check without sending anyone twice."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.support.sender_app import AUTH, BUCKET, REGION, sender_stack

TEMPLATE = {"subject": "Hi {{name}}", "html": "<p>Hi {{name}}</p>"}


@pytest.fixture
def stack(monkeypatch):
    with sender_stack(monkeypatch) as s:
        from chalicelib import sending

        sending.campaign_service().config.launch_chunk_recipients = 100
        yield s


def upload(stack, key, text):
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode("utf-8"))
    return f"s3://{BUCKET}/{key}"


def jsonl(n, prefix="u"):
    return "".join(json.dumps({"to_address": f"{prefix}{i}@example.org", "name": f"N{i}"}) + "\n" for i in range(n))


def post(stack, body):
    response = stack.client.http.post("/campaigns", headers=AUTH, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def campaign(stack, campaign_id):
    response = stack.client.http.get(f"/campaigns/{campaign_id}", headers=AUTH)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def tick(stack):
    event = stack.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region="us-east-1"
    )
    return stack.client.lambda_.invoke("check_for_campaign", event)


def sent_to(stack) -> Counter:
    return Counter(a for m in stack.fakes[REGION].sent for a in m["to"])


def test_a_file_campaign_is_validated_launched_in_chunks_and_sent_once(stack):
    a = upload(stack, "recipients/spring-a.jsonl", jsonl(250) + json.dumps({"to_address": "u0@example.org"}) + "\n")
    b = upload(
        stack, "recipients/spring-b.csv", "to_address,name\n" + "".join(f"c{i}@example.org,C{i}\n" for i in range(120))
    )
    code, body = post(
        stack,
        {
            "campaign_id": "spring-files",
            "template": TEMPLATE,
            "segments": [{"list_name": "a", "recipientsS3Uri": a}, {"list_name": "b", "recipientsS3Uri": b}],
        },
    )
    assert code == 201, body
    assert body["status"] == "launched" and body["duplicates_skipped"] == 1
    launch = campaign(stack, "spring-files")["launch"]
    assert launch["mode"] == "chunked" and launch["state"] == "done"
    assert launch["recipients_total"] == launch["recipients_enqueued"] == 370
    assert launch["chunks"] == 5  # 100 + 100 + 50 from the first file, 100 + 20 from the second
    stack.deliver_all()
    sent = sent_to(stack)
    assert len(sent) == 370 and set(sent.values()) == {1}
    # per-recipient data from the CSV columns
    entry = next(m for m in stack.fakes[REGION].sent if m["to"] == ["c7@example.org"])
    assert json.loads(entry["detail"]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]) == {
        "name": "C7"
    }


def test_bad_rows_are_400_with_line_numbers_for_the_first_ones_and_a_count_of_the_rest(stack):
    lines = jsonl(10).splitlines()
    lines[2] = '{"to_address": "not-an-address"}'
    lines[4] = "{broken"
    bad = "\n".join(lines) + "\n" + "".join(json.dumps({"name": "no address"}) + "\n" for _ in range(30))
    uri = upload(stack, "recipients/bad.jsonl", bad)
    code, body = post(
        stack, {"campaign_id": "bad", "template": TEMPLATE, "segments": [{"list_name": "l", "recipientsS3Uri": uri}]}
    )
    assert code == 400
    errors = body["errors"]
    assert errors[0].startswith("segments.0.recipientsS3Uri: line 3: to_address:")
    assert errors[1].startswith("segments.0.recipientsS3Uri: line 5: not valid JSON")
    assert len(errors) == 21 and errors[-1] == "segments.0.recipientsS3Uri: 12 more bad rows (32 in all)"
    assert stack.receive() == []
    assert stack.client.http.get("/campaigns/bad", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        (f"s3://{BUCKET}/elsewhere/list.jsonl", "upload the file under"),
        ("s3://someone-elses-bucket/recipients/list.jsonl", "upload the file under"),
        (f"s3://{BUCKET}/recipients/missing.jsonl", "does not exist"),
        (f"s3://{BUCKET}/recipients/list.txt", "extension"),
    ],
)
def test_unusable_recipient_files_are_400_naming_the_segment(stack, uri, problem):
    stack.s3.put_object(Bucket=BUCKET, Key="recipients/list.txt", Body=b"x")
    code, body = post(stack, {"template": TEMPLATE, "segments": [{"list_name": "l", "recipientsS3Uri": uri}]})
    assert code == 400
    assert "segments.0.recipientsS3Uri" in body["Message"] and problem in body["Message"]


def test_mixing_inline_and_file_segments_is_400(stack):
    uri = upload(stack, "recipients/a.jsonl", jsonl(3))
    segments = [
        {"list_name": "a", "recipientsS3Uri": uri},
        {"list_name": "b", "recipients": [{"to_address": "x@example.org"}]},
    ]
    code, body = post(stack, {"template": TEMPLATE, "segments": segments})
    assert code == 400 and "not a mix" in body["Message"]


def test_the_campaign_json_itself_may_be_given_by_s3_uri(stack):
    members = upload(stack, "recipients/members.jsonl", jsonl(5))
    document = {
        "campaign_id": "by-uri",
        "template": TEMPLATE,
        "segments": [{"list_name": "m", "recipientsS3Uri": members}],
    }
    uri = upload(stack, "recipients/by-uri.json", json.dumps(document))
    code, body = post(stack, {"campaignS3Uri": uri})
    assert code == 201, body
    assert body["campaign_id"] == "by-uri" and body["launch"]["recipients_enqueued"] == 5
    code, body = post(stack, {"campaignS3Uri": uri, "date": "now"})
    assert code == 400 and "give the whole campaign in the file" in body["Message"]


def test_a_launch_interrupted_mid_way_is_resumed_by_the_check_without_duplicates(stack, monkeypatch):
    from chalicelib import sending

    service = sending.campaign_service()
    store = service._store
    real = store.advance_launch
    calls = {"n": 0}

    def killed_on_the_third_commit(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("Lambda killed between the enqueue and the cursor commit")
        return real(*args)

    monkeypatch.setattr(store, "advance_launch", killed_on_the_third_commit)
    uri = upload(stack, "recipients/big.jsonl", jsonl(450))
    response = stack.client.http.post(
        "/campaigns",
        headers=AUTH,
        body=json.dumps(
            {"campaign_id": "resumed", "template": TEMPLATE, "segments": [{"list_name": "l", "recipientsS3Uri": uri}]}
        ),
    )
    assert response.status_code == 500  # the invocation died
    progress = campaign(stack, "resumed")
    assert progress["lifecycle"] == "launching"
    assert progress["launch"]["recipients_enqueued"] == 200 and progress["launch"]["state"] == "running"
    assert progress["launch"]["cursor"]["line"] == 201
    monkeypatch.setattr(store, "advance_launch", real)
    # within the crashed invocation's lease nothing happens; after it, the per-minute check resumes at the cursor
    tick(stack)
    assert campaign(stack, "resumed")["launch"]["recipients_enqueued"] == 200
    monkeypatch.setattr(service, "_clock", lambda: time.time() + 120)
    tick(stack)
    final = campaign(stack, "resumed")
    assert final["lifecycle"] == "launched" and final["launch"]["recipients_enqueued"] == 450
    stack.deliver_all()
    sent = sent_to(stack)
    assert len(sent) == 450 and set(sent.values()) == {1}  # the third chunk was enqueued twice, sent once


def test_a_launch_stopped_by_its_time_budget_continues_on_the_next_check(stack):
    from chalicelib import sending

    service = sending.campaign_service()
    service.config.launch_budget_seconds = 0.0  # the submission enqueues nothing: all of it is left to the check
    uri = upload(stack, "recipients/later.jsonl", jsonl(230))
    code, body = post(
        stack, {"campaign_id": "later", "template": TEMPLATE, "segments": [{"list_name": "l", "recipientsS3Uri": uri}]}
    )
    assert code == 202, body
    assert body["launch"] == {**body["launch"], "state": "running", "recipients_enqueued": 0, "recipients_total": 230}
    tick(stack)
    assert campaign(stack, "later")["launch"]["state"] == "done"
    stack.deliver_all()
    assert len(sent_to(stack)) == 230
