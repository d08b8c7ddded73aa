"""Campaigns of any size through the Chalice app on moto: recipient files in S3 (JSON lines / CSV) accepted after
cheap checks (202 ``validating``), validated as streams in steps by the per-minute check with the progress in
``GET /campaigns/{id}``, then ``invalid`` (bad rows by line) or launched in chunks; the campaign JSON by S3 URI; a
validation and a launch interrupted mid-way and resumed without counting or sending anyone twice."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from runtime.sender import validation
from tests.support.sender_app import AUTH, BUCKET, REGION, sender_stack

TEMPLATE = {"subject": "Hi {{name}}", "html": "<p>Hi {{name}}</p>"}


@pytest.fixture
def stack(monkeypatch):
    with sender_stack(monkeypatch) as s:
        from chalicelib import sending

        sending.campaign_service().config.launch_chunk_recipients = 100
        # the test client's Lambda context allows 3 s, which leaves the check a 1 s deadline: on a loaded machine a
        # step could stop early; the service's own 45 s budget keeps these tests about outcomes, not speed (tests
        # that stop steps do it with their own clock: stop_every)
        monkeypatch.setattr(sending, "launch_deadline", lambda event: None)
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


def submit(stack, campaign_id, segments, **extra):
    code, body = post(stack, {"campaign_id": campaign_id, "template": TEMPLATE, "segments": segments, **extra})
    assert code == 202, body
    assert body["status"] == "validating" and body["complete"] is False
    assert body["status_url"] == f"/campaigns/{campaign_id}"
    return body


def later(stack, seconds):
    """Move the campaign service's wall clock on (leases of crashed invocations run out)."""
    from chalicelib import sending

    service = sending.campaign_service()
    service._clock = lambda: time.time() + seconds


def test_a_file_campaign_is_accepted_validating_then_validated_launched_in_chunks_and_sent_once(stack):
    a = upload(stack, "recipients/spring-a.jsonl", jsonl(250) + json.dumps({"to_address": "u0@example.org"}) + "\n")
    b = upload(
        stack, "recipients/spring-b.csv", "to_address,name\n" + "".join(f"c{i}@example.org,C{i}\n" for i in range(120))
    )
    submit(stack, "spring-files", [{"list_name": "a", "recipientsS3Uri": a}, {"list_name": "b", "recipientsS3Uri": b}])
    waiting = campaign(stack, "spring-files")
    assert waiting["status"] == waiting["lifecycle"] == "validating"
    assert waiting["validation"]["state"] == "running" and waiting["validation"]["rows_validated"] == 0
    assert [f["file"] for f in waiting["validation"]["files"]] == [a, b]
    assert waiting["launch"]["state"] == "pending" and stack.receive() == []
    tick(stack)  # validates both files, then launches the campaign (its date has come)
    done = campaign(stack, "spring-files")
    assert done["lifecycle"] == "launched" and done["recipients"] == 370
    checked = done["validation"]
    assert checked["state"] == "done" and checked["bad_rows"] == 0 and checked["duplicates_skipped"] == 1
    assert [(f["rows"], f["duplicates"], f["done"]) for f in checked["files"]] == [(250, 1, True), (120, 0, True)]
    launch = done["launch"]
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
    assert not stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="validation/spring-files/").get("Contents")


def test_bad_rows_make_the_campaign_invalid_with_line_numbers_for_the_first_ones_and_a_count_of_the_rest(stack):
    lines = jsonl(10).splitlines()
    lines[2] = '{"to_address": "not-an-address"}'
    lines[4] = "{broken"
    bad = "\n".join(lines) + "\n" + "".join(json.dumps({"name": "no address"}) + "\n" for _ in range(30))
    uri = upload(stack, "recipients/bad.jsonl", bad)
    submit(stack, "bad", [{"list_name": "l", "recipientsS3Uri": uri}])
    tick(stack)
    invalid = campaign(stack, "bad")
    assert invalid["status"] == invalid["lifecycle"] == "invalid"
    assert invalid["launch"]["state"] == "never" and invalid["payload"] is None
    report = invalid["validation"]
    assert report["state"] == "failed" and report["bad_rows"] == 32 and report["recipients"] == 8
    errors = report["errors"]
    assert errors[0].startswith("segments.0.recipientsS3Uri: line 3: to_address:")
    assert errors[1].startswith("segments.0.recipientsS3Uri: line 5: not valid JSON")
    assert len(errors) == 21 and errors[-1] == "segments.0.recipientsS3Uri: 12 more bad rows (32 in all)"
    tick(stack)
    assert stack.receive() == [] and campaign(stack, "bad")["lifecycle"] == "invalid"
    # an invalid campaign can be deleted and its id submitted again with a corrected file
    assert stack.client.http.delete("/campaigns/bad/schedule", headers=AUTH).status_code == 200
    upload(stack, "recipients/bad.jsonl", jsonl(10))
    submit(stack, "bad", [{"list_name": "l", "recipientsS3Uri": uri}])
    tick(stack)
    assert campaign(stack, "bad")["lifecycle"] == "launched"


def test_a_csv_quoted_field_may_span_lines_and_an_unclosed_quote_is_a_bad_row(stack):
    good = upload(
        stack,
        "recipients/multi.csv",
        'to_address,name\r\na@example.org,"Line one\r\nline two"\r\nb@example.org,"B ""quoted"""\r\n',
    )
    submit(stack, "multi", [{"list_name": "l", "recipientsS3Uri": good}])
    tick(stack)
    assert campaign(stack, "multi")["lifecycle"] == "launched"
    stack.deliver_all()
    data = {
        m["to"][0]: json.loads(m["detail"]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"])
        for m in stack.fakes[REGION].sent
    }
    assert data == {"a@example.org": {"name": "Line one\r\nline two"}, "b@example.org": {"name": 'B "quoted"'}}
    bad = upload(stack, "recipients/open.csv", 'to_address,name\nc@example.org,C\nd@example.org,"never closed\n')
    submit(stack, "open-quote", [{"list_name": "l", "recipientsS3Uri": bad}])
    tick(stack)
    report = campaign(stack, "open-quote")["validation"]
    assert report["errors"] == [
        "segments.0.recipientsS3Uri: line 3: a quoted field is not closed (its closing quote is missing)"
    ]


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        (f"s3://{BUCKET}/elsewhere/list.jsonl", "upload the file under"),
        ("s3://someone-elses-bucket/recipients/list.jsonl", "upload the file under"),
        (f"s3://{BUCKET}/recipients/missing.jsonl", "does not exist"),
        (f"s3://{BUCKET}/recipients/list.txt", "extension"),
        (f"s3://{BUCKET}/recipients/empty.jsonl", "the file is empty"),
        (f"s3://{BUCKET}/recipients/noheader.csv", "the CSV header must name a to_address column"),
        (f"s3://{BUCKET}/recipients/huge.jsonl", "a recipient file holds at most 1000 (split it"),
    ],
)
def test_unusable_recipient_files_are_400_naming_the_segment_inside_the_request(stack, uri, problem):
    from chalicelib import sending

    sending.campaign_service().config.max_file_bytes = 1000
    stack.s3.put_object(Bucket=BUCKET, Key="recipients/list.txt", Body=b"x")
    stack.s3.put_object(Bucket=BUCKET, Key="recipients/empty.jsonl", Body=b"")
    stack.s3.put_object(Bucket=BUCKET, Key="recipients/noheader.csv", Body=b"email,name\nx@example.org,X\n")
    stack.s3.put_object(Bucket=BUCKET, Key="recipients/huge.jsonl", Body=jsonl(100).encode())
    code, body = post(stack, {"template": TEMPLATE, "segments": [{"list_name": "l", "recipientsS3Uri": uri}]})
    assert code == 400
    assert "segments.0.recipientsS3Uri" in body["Message"] and problem in body["Message"]


def test_inline_and_file_segments_mix_in_one_campaign_and_the_stored_inline_recipients_are_removed(stack):
    uri = upload(stack, "recipients/a.jsonl", jsonl(3))
    segments = [
        {"list_name": "a", "recipientsS3Uri": uri},
        {
            "list_name": "b",
            "recipients": [
                {"to_address": "x@example.org", "name": "X"},
                {"to_address": "Y <y@example.org>", "name": "Y"},
                {"to_address": "X@Example.org", "name": "again"},
            ],
        },
    ]
    submit(stack, "mixed", segments)
    stored = "campaigns/mixed/segment-1.jsonl"
    assert stack.s3.get_object(Bucket=BUCKET, Key=stored)["Body"].read().count(b"\n") == 3
    tick(stack)
    done = campaign(stack, "mixed")
    assert done["lifecycle"] == "launched" and done["recipients"] == 5
    assert done["validation"]["files"][1]["file"] == f"s3://{BUCKET}/{stored}"
    assert done["validation"]["duplicates_skipped"] == 1  # x@example.org twice in list b: one email
    stack.deliver_all()
    sent = sent_to(stack)
    assert sorted(sent) == ["Y <y@example.org>", "u0@example.org", "u1@example.org", "u2@example.org", "x@example.org"]
    x = next(m for m in stack.fakes[REGION].sent if m["to"] == ["x@example.org"])
    data = x["detail"]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    assert json.loads(data) == {"name": "X"}
    # the inline recipients (personal data) are not kept once every job is on the queue
    assert not stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=stored).get("Contents")


def test_a_bad_file_beside_inline_segments_stores_nothing(stack):
    segments = [
        {"list_name": "a", "recipientsS3Uri": f"s3://{BUCKET}/recipients/missing.jsonl"},
        {"list_name": "b", "recipients": [{"to_address": "x@example.org"}]},
    ]
    code, body = post(stack, {"campaign_id": "mixed-bad", "template": TEMPLATE, "segments": segments})
    assert code == 400 and "segments.0.recipientsS3Uri" in body["Message"]
    assert not stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="campaigns/mixed-bad/").get("Contents")


def test_the_campaign_json_itself_may_be_given_by_s3_uri(stack):
    members = upload(stack, "recipients/members.jsonl", jsonl(5))
    document = {
        "campaign_id": "by-uri",
        "template": TEMPLATE,
        "segments": [{"list_name": "m", "recipientsS3Uri": members}],
    }
    uri = upload(stack, "recipients/by-uri.json", json.dumps(document))
    code, body = post(stack, {"campaignS3Uri": uri})
    assert code == 202, body
    assert body["campaign_id"] == "by-uri" and body["status"] == "validating"
    tick(stack)
    assert campaign(stack, "by-uri")["launch"]["recipients_enqueued"] == 5
    code, body = post(stack, {"campaignS3Uri": uri, "date": "now"})
    assert code == 400 and "give the whole campaign in the file" in body["Message"]


def test_a_future_dated_file_campaign_is_validated_at_once_and_launched_at_its_date(stack):
    uri = upload(stack, "recipients/future.jsonl", jsonl(20))
    submit(stack, "future", [{"list_name": "l", "recipientsS3Uri": uri}], date="2099-01-01T09:00:00Z")
    tick(stack)
    validated = campaign(stack, "future")
    assert validated["lifecycle"] == "scheduled" and validated["recipients"] == 20
    assert validated["launch_at"].startswith("2099-01-01T09:00:00") and stack.receive() == []
    redated = stack.client.http.patch("/campaigns/future/schedule", headers=AUTH, body=json.dumps({"date": "now"}))
    assert redated.status_code == 200, redated.body
    tick(stack)
    assert campaign(stack, "future")["lifecycle"] == "launched"


def stop_every(monkeypatch, records):
    """Each validation step reads ``records`` records, then finds its deadline passed (as a 60 s Lambda would)."""
    from runtime.sender import service as service_module

    monkeypatch.setattr(validation, "CHECK_EVERY", records)

    class OneCheckPerStep(validation.FileValidator):
        def __init__(self, source, **kwargs):
            calls = iter(range(1_000_000))
            kwargs["clock"] = lambda: 0.0 if next(calls) == 0 else float("inf")
            super().__init__(source, **kwargs)

    monkeypatch.setattr(service_module, "FileValidator", OneCheckPerStep)


def test_validation_runs_in_steps_across_checks_with_progress_and_resumes_after_a_crash_without_double_counting(
    stack, monkeypatch
):
    stop_every(monkeypatch, 100)  # each step: 100 records pass the first check, the second check stops it
    rows = jsonl(450) + json.dumps({"to_address": "u3@example.org", "name": "again"}) + "\n" + "{bad\n"
    uri = upload(stack, "recipients/steps.jsonl", rows)
    submit(stack, "steps", [{"list_name": "l", "recipientsS3Uri": uri}])
    tick(stack)
    first = campaign(stack, "steps")["validation"]
    assert first["state"] == "running" and first["rows_validated"] == 200 and first["recipients"] == 200
    assert first["files"][0]["bytes_validated"] == len(jsonl(200).encode())
    # the next step dies half-way through reading (the Lambda was killed): nothing of it is committed
    from runtime.sender import recipients

    real_parse = recipients.parse_row
    parsed = {"n": 0}

    def killed(*args):
        parsed["n"] += 1
        if parsed["n"] == 150:
            raise RuntimeError("Lambda killed mid-validation")
        return real_parse(*args)

    monkeypatch.setattr(validation, "parse_row", killed)
    with pytest.raises(RuntimeError, match="killed"):
        tick(stack)
    assert campaign(stack, "steps")["validation"]["rows_validated"] == 200
    monkeypatch.setattr(validation, "parse_row", real_parse)
    tick(stack)  # within the dead invocation's lease: nothing happens
    assert campaign(stack, "steps")["validation"]["rows_validated"] == 200
    later(stack, 700)
    for _ in range(3):
        tick(stack)
    final = campaign(stack, "steps")
    assert final["lifecycle"] == "invalid"
    report = final["validation"]
    assert (report["recipients"], report["duplicates_skipped"], report["bad_rows"]) == (450, 1, 1)
    assert report["files"][0]["errors"] == [
        "line 452: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    ]
    assert stack.receive() == []


def test_a_validated_file_campaign_in_steps_sends_everyone_once(stack, monkeypatch):
    stop_every(monkeypatch, 64)
    a = upload(stack, "recipients/s-a.jsonl", jsonl(300) + json.dumps({"to_address": "U7@example.org"}) + "\n")
    b = upload(
        stack, "recipients/s-b.csv", "to_address,name\n" + "".join(f"u{i}@example.org,B{i}\n" for i in range(90))
    )
    submit(stack, "s", [{"list_name": "a", "recipientsS3Uri": a}, {"list_name": "b", "recipientsS3Uri": b}])
    for _ in range(10):
        tick(stack)
        if campaign(stack, "s")["lifecycle"] != "validating":
            break
    done = campaign(stack, "s")
    assert done["lifecycle"] == "launched", done
    assert done["validation"]["duplicates_skipped"] == 1 and done["recipients"] == 390
    stack.deliver_all()
    sent = Counter(a for m in stack.fakes[REGION].sent for a in m["to"])
    # the same person in two lists gets one email per list (as inline segments); within a list, one
    assert sum(sent.values()) == 390 and sent["u7@example.org"] == 2 and sent["U7@example.org"] == 0


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
    submit(stack, "resumed", [{"list_name": "l", "recipientsS3Uri": uri}])
    with pytest.raises(RuntimeError, match="killed"):
        tick(stack)  # validation, then the launch, which dies at its third chunk
    progress = campaign(stack, "resumed")
    assert progress["lifecycle"] == "launching"
    assert progress["launch"]["recipients_enqueued"] == 200 and progress["launch"]["state"] == "running"
    assert progress["launch"]["cursor"]["line"] == 201
    monkeypatch.setattr(store, "advance_launch", real)
    # within the crashed invocation's lease nothing happens; after it, the per-minute check resumes at the cursor
    tick(stack)
    assert campaign(stack, "resumed")["launch"]["recipients_enqueued"] == 200
    later(stack, 700)
    tick(stack)
    final = campaign(stack, "resumed")
    assert final["lifecycle"] == "launched" and final["launch"]["recipients_enqueued"] == 450
    stack.deliver_all()
    sent = sent_to(stack)
    assert len(sent) == 450 and set(sent.values()) == {1}  # the third chunk was enqueued twice, sent once


def test_a_validating_campaign_can_be_paused_resumed_and_deleted(stack, monkeypatch):
    stop_every(monkeypatch, 10)
    uri = upload(stack, "recipients/p.jsonl", jsonl(100))
    submit(stack, "p", [{"list_name": "l", "recipientsS3Uri": uri}])
    tick(stack)
    assert campaign(stack, "p")["validation"]["rows_validated"] == 20
    paused = stack.client.http.patch("/campaigns/p", headers=AUTH, body=json.dumps({"status": "paused"}))
    assert paused.status_code == 200 and json.loads(paused.body)["status"] == "paused"
    tick(stack)
    assert campaign(stack, "p")["validation"]["rows_validated"] == 20  # a paused validation stays where it is
    resumed = stack.client.http.patch("/campaigns/p", headers=AUTH, body=json.dumps({"status": "running"}))
    assert json.loads(resumed.body)["status"] == "validating"
    tick(stack)
    assert campaign(stack, "p")["validation"]["rows_validated"] == 40
    assert stack.client.http.delete("/campaigns/p/schedule", headers=AUTH).status_code == 200
    tick(stack)
    assert stack.client.http.get("/campaigns/p", headers=AUTH).status_code == 404
    for prefix in ("campaigns/p/", "validation/p/"):
        assert not stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents")
