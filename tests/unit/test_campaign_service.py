from __future__ import annotations

import io
import json

import pytest

from runtime.sender.campaign import CampaignError, parse_candidate, template_name_for
from runtime.sender.enqueue import Enqueuer
from runtime.sender.service import CampaignConfig, CampaignService, InMemoryPayloadStore, SchedulingUnavailableError
from runtime.sender.templates import TemplateLoader, TemplatePublisher, TemplateSyncError
from runtime.stores.campaigns import CampaignExistsError, CampaignStateError, InMemoryCampaignStore
from tests.support.sender_fakes import FakeSes, SimClock, client_error, validate


class FakeS3:
    def __init__(self, objects):
        self.objects = objects

    def get_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", 404)
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)].encode())}


class FakeSqs:
    def __init__(self, fail_ids=(), sender_fault=False, flaky=0):
        self.bodies = []
        self.calls = 0
        self.fail_ids = set(fail_ids)
        self.sender_fault = sender_fault
        self.flaky = flaky

    def send_message_batch(self, QueueUrl, Entries):
        self.calls += 1
        assert len(Entries) <= 10
        if self.flaky:
            self.flaky -= 1
            raise client_error("ServiceUnavailable", 503)
        ok, failed = [], []
        for entry in Entries:
            job_id = json.loads(entry["MessageBody"])["job_id"]
            if job_id in self.fail_ids:
                failed.append({"Id": entry["Id"], "Code": "InternalError", "SenderFault": self.sender_fault})
            else:
                self.bodies.append(entry["MessageBody"])
                ok.append({"Id": entry["Id"]})
        return {"Successful": ok, "Failed": failed}


def candidate(n=3, **extra):
    body = {
        "campaign_id": "launch",
        "templateS3Uri": "s3://tpl-bucket/welcome.html",
        "segments": [
            {
                "list_name": "vip",
                "recipients": [{"to_address": f"v{i}@example.org", "name": f"V{i}"} for i in range(n)],
            },
            {
                "list_name": "trial users",
                "template": {"subject": "Trial", "text": "Hi {{name}}"},
                "from_address": "trial@example.com",
                "configuration_set": "transactional",
                "recipients": [{"to_address": "t@example.org", "name": "T", "plan": {"tier": 2}}],
            },
        ],
    }
    body.update(extra)
    return body


def service(sqs=None, payloads=True, objects=None, clock=None, environment="dev", unsubscribe_headers=False):
    ses = {"us-east-1": FakeSes("us-east-1"), "eu-west-1": FakeSes("eu-west-1")}
    default = {("tpl-bucket", "welcome.html"): "<html><title>Welcome!</title><p>Hi {{name}}</p></html>"}
    s3 = FakeS3(default if objects is None else objects)
    sqs = sqs or FakeSqs()
    store = InMemoryCampaignStore()
    payload_store = InMemoryPayloadStore()
    svc = CampaignService(
        config=CampaignConfig(
            regions=["us-east-1", "eu-west-1"],
            default_from="news@example.com",
            unsubscribe_headers=unsubscribe_headers,
        ),
        store=store,
        loader=TemplateLoader(lambda: s3, environment=environment),
        publisher=TemplatePublisher(lambda region: ses[region]),
        enqueuer=lambda: Enqueuer(sqs, "https://sqs/q", sleep=lambda s: None),
        payloads=lambda: payload_store if payloads else None,
        clock=clock or SimClock(),
    )
    return svc, ses, sqs, store, payload_store


def test_immediate_campaign_resolves_defaults_per_segment_and_enqueues_bulk_jobs():
    svc, ses, sqs, store, _ = service()
    result = svc.submit(candidate(n=120))
    assert result["status"] == "launched" and result["complete"]
    assert (result["recipients"], result["jobs"], result["segments"]) == (121, 4, 2)
    jobs = [json.loads(b) for b in sqs.bodies]
    assert [j["job_id"] for j in jobs] == ["launch.0.0", "launch.0.1", "launch.0.2", "launch.1.0"]
    vip, trial = jobs[0]["bulk"], jobs[3]["bulk"]
    assert vip["FromEmailAddress"] == "news@example.com"  # settings default
    assert vip["ConfigurationSetName"] == "marketing"
    assert vip["DefaultContent"]["Template"]["TemplateName"] == "sesame-dev-launch-default"
    assert trial["FromEmailAddress"] == "trial@example.com"
    assert trial["ConfigurationSetName"] == "transactional"
    assert trial["DefaultContent"]["Template"]["TemplateName"] == "sesame-dev-launch-segment1"
    data = json.loads(
        trial["BulkEmailEntries"][0]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    assert data == {"name": "T", "plan": {"tier": 2}}
    assert jobs[3]["list_name"] == "trial_users"
    for job in jobs:
        validate("SendBulkEmail", job["bulk"])
    for region in ("us-east-1", "eu-west-1"):
        assert ses[region].templates["sesame-dev-launch-default"] == {
            "Subject": "Welcome!",
            "Html": "<html><title>Welcome!</title><p>Hi {{name}}</p></html>",
        }
        assert ses[region].templates["sesame-dev-launch-segment1"] == {"Subject": "Trial", "Text": "Hi {{name}}"}
    assert store.get("launch").status == "launched"


def test_template_names_carry_the_environment():
    svc, ses, sqs, *_ = service(environment="prod")
    svc.submit(candidate())
    assert set(ses["us-east-1"].templates) == {"sesame-prod-launch-default", "sesame-prod-launch-segment1"}
    names = {json.loads(b)["bulk"]["DefaultContent"]["Template"]["TemplateName"] for b in sqs.bodies}
    assert names == {"sesame-prod-launch-default", "sesame-prod-launch-segment1"}


def test_a_template_that_exists_with_other_content_is_never_overwritten():
    svc, ses, sqs, store, _ = service()
    ses["us-east-1"].templates["sesame-dev-launch-default"] = {"Subject": "someone else's", "Html": "theirs"}
    with pytest.raises(TemplateSyncError) as raised:
        svc.submit(candidate())
    assert not raised.value.retryable and "sesame-dev-launch-default" in str(raised.value)
    assert ses["us-east-1"].templates["sesame-dev-launch-default"]["Subject"] == "someone else's"
    assert "UpdateEmailTemplate" not in [op for region in ses.values() for op, _ in region.calls]
    assert sqs.bodies == [] and store.get("launch") is None


def test_a_retried_submission_finds_its_own_templates_and_goes_on():
    svc, ses, sqs, store, _ = service()
    # the first attempt created the templates (in both regions), then died before recording the campaign
    ses["us-east-1"].templates["sesame-dev-launch-default"] = {
        "Subject": "Welcome!",
        "Html": "<html><title>Welcome!</title><p>Hi {{name}}</p></html>",
    }
    ses["eu-west-1"].templates["sesame-dev-launch-segment1"] = {"Subject": "Trial", "Text": "Hi {{name}}"}
    result = svc.submit(candidate())
    assert result["complete"] and store.get("launch").status == "launched"
    assert "UpdateEmailTemplate" not in [op for region in ses.values() for op, _ in region.calls]


def test_unreadable_s3_template_is_a_campaign_error_naming_the_uri():
    svc, *_ = service(objects={})
    with pytest.raises(CampaignError, match=r"templateS3Uri: cannot read s3://tpl-bucket/welcome.html \(NoSuchKey\)"):
        svc.submit(candidate())


def test_s3_html_without_title_needs_a_subject_and_json_templates_carry_theirs():
    objects = {
        ("tpl-bucket", "welcome.html"): "<p>no title</p>",
        ("tpl-bucket", "t.json"): '{"subject": "J", "html": "<b>x</b>"}',
    }
    svc, ses, *_ = service(objects=objects)
    with pytest.raises(CampaignError, match="subject"):
        svc.submit(candidate())
    svc.submit(candidate(subject="Given"))
    assert ses["us-east-1"].templates["sesame-dev-launch-default"]["Subject"] == "Given"
    svc2, ses2, *_ = service(objects=objects)
    svc2.submit(candidate(templateS3Uri="s3://tpl-bucket/t.json"))
    assert ses2["us-east-1"].templates["sesame-dev-launch-default"] == {"Subject": "J", "Html": "<b>x</b>"}


def test_partial_enqueue_failure_reports_exactly_which_recipients_were_not_enqueued():
    sqs = FakeSqs(fail_ids={"launch.0.1"})
    svc, *_ = service(sqs=sqs)
    result = svc.submit(candidate(n=120))
    assert result["complete"] is False
    (missing,) = result["not_enqueued"]
    assert missing["job_id"] == "launch.0.1"
    assert missing["list_name"] == "vip"
    assert missing["to_addresses"] == [f"v{i}@example.org" for i in range(50, 100)]
    assert result["enqueued_jobs"] == 3
    assert result["not_enqueued_jobs"] == ["launch.0.1"]


def test_transient_sqs_failures_are_retried():
    sqs = FakeSqs(flaky=2)
    svc, *_ = service(sqs=sqs)
    result = svc.submit(candidate())
    assert result["complete"] and len(sqs.bodies) == 2


def test_validation_failure_has_no_side_effects():
    svc, ses, sqs, store, _ = service()
    bad = candidate()
    bad["segments"][1]["recipients"][0]["to_address"] = "nope"
    with pytest.raises(CampaignError, match=r"segments\.1\.recipients\.0\.to_address"):
        svc.submit(bad)
    assert not sqs.bodies and not ses["us-east-1"].calls and not store.items


def test_duplicate_campaign_id_is_refused():
    svc, *_ = service()
    svc.submit(candidate())
    with pytest.raises(CampaignExistsError):
        svc.submit(candidate())


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"campaign_id": "bad id!"}, "campaign_id"),
        ({"date": "next tuesday"}, "date must be ISO-8601"),
        ({"segments": []}, "segments"),
        ({"template": {"subject": "x", "html": "y"}}, "give only one of templateS3Uri, template, template_name"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"reply_to": ["nope"]}, "reply_to"),
    ],
)
def test_invalid_candidates_name_the_field(patch, message):
    with pytest.raises(CampaignError, match=message):
        parse_candidate({**candidate(), **patch})


def test_duplicate_list_names_are_refused():
    body = candidate()
    body["segments"][1]["list_name"] = "vip"
    with pytest.raises(CampaignError, match="distinct list_name"):
        parse_candidate(body)


def test_future_campaign_is_stored_and_launched_when_due_then_never_relaunched():
    clock = SimClock(now=1_800_000_000.0)
    svc, _, sqs, store, payloads = service(clock=clock)
    result = svc.submit(candidate(date="2027-01-20T10:00:00Z"))
    assert result["status"] == "scheduled" and result["launch_at"] == "2027-01-20T10:00:00.000Z"
    assert not sqs.bodies
    assert svc.launch_due() == []
    clock.now = 1_800_000_000.0 + 86_400 * 400
    (launched,) = svc.launch_due()
    assert launched["status"] == "launched" and launched["complete"]
    assert len(sqs.bodies) == 2
    assert svc.launch_due() == []


def test_failed_scheduled_launch_goes_back_to_scheduled_and_retries():
    clock = SimClock(now=1_800_000_000.0)
    sqs = FakeSqs(fail_ids={"launch.1.0"}, sender_fault=True)
    svc, _, _, store, _ = service(sqs=sqs, clock=clock)
    svc.submit(candidate(date="2027-01-20T10:00:00Z"))
    clock.now += 86_400 * 400
    (first,) = svc.launch_due()
    assert first["status"] == "scheduled" and first["complete"] is False
    sqs.fail_ids.clear()
    (second,) = svc.launch_due()
    assert second["status"] == "launched"


def test_redate_and_delete_only_before_launch():
    clock = SimClock(now=1_800_000_000.0)
    svc, *_ = service(clock=clock)
    svc.submit(candidate(date="2027-01-20"))
    assert svc.redate("launch", "2027-02-01T08:30:00+01:00")["launch_at"] == "2027-02-01T07:30:00.000Z"
    with pytest.raises(CampaignError, match="date"):
        svc.redate("launch", "whenever")
    assert svc.delete("launch")["status"] == "deleted"
    with pytest.raises(CampaignStateError):
        svc.redate("launch", "now")
    svc.submit(candidate())  # an id of a deleted campaign can be used again
    with pytest.raises(CampaignStateError):
        svc.delete("launch")


def test_scheduling_without_a_payload_bucket_is_refused_before_side_effects():
    svc, ses, *_ = service(payloads=False, clock=SimClock(now=1_800_000_000.0))
    with pytest.raises(SchedulingUnavailableError):
        svc.submit(candidate(date="2027-01-20"))
    assert not ses["us-east-1"].calls


def test_template_rejected_by_ses_is_not_retryable_and_throttling_is():
    svc, ses, *_ = service()
    ses["us-east-1"].fail = lambda op, p: client_error("BadRequestException")
    with pytest.raises(TemplateSyncError) as bad:
        svc.submit(candidate())
    assert not bad.value.retryable
    ses["us-east-1"].fail = lambda op, p: client_error("TooManyRequestsException", 429)
    with pytest.raises(TemplateSyncError) as busy:
        svc.submit(candidate(campaign_id="other"))
    assert busy.value.retryable


def test_template_names_are_ses_safe_and_bounded():
    name = template_name_for("x" * 128, "segment12", environment="staging")
    assert name.startswith("sesame-staging-")  # inside the role's template/sesame-<env>-* permission
    assert len(name) <= 64
    assert all(c.isalnum() or c in "-_" for c in name)


def test_json_lines_submission_enqueues_each_line_with_deterministic_ids():
    svc, _, sqs, *_ = service()
    line = json.dumps(
        {
            "FromEmailAddress": "a@example.com",
            "Destination": {"ToAddresses": ["b@example.org"]},
            "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
        }
    )
    first = svc.submit_lines([line, line])
    second = svc.submit_lines([line, line])
    assert first["requests"] == 2 and first["complete"]
    assert first["batch_id"] == second["batch_id"]
    ids = [json.loads(b)["job_id"] for b in sqs.bodies]
    assert ids[:2] == ids[2:] and ids[0] != ids[1]


def test_json_lines_to_several_recipients_are_refused_upfront_when_sesame_adds_list_unsubscribe():
    svc, _, sqs, *_ = service(unsubscribe_headers=True)
    one = {
        "FromEmailAddress": "a@example.com",
        "Destination": {"ToAddresses": ["b@example.org"]},
        "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
    }
    several = {**one, "Destination": {"ToAddresses": ["b@example.org"], "CcAddresses": ["c@example.org"]}}
    with pytest.raises(CampaignError) as raised:
        svc.submit_lines([json.dumps(one), json.dumps(several)])
    assert "line 2" in str(raised.value) and "one recipient per message" in str(raised.value)
    assert sqs.bodies == []
    own = {"Name": "List-Unsubscribe", "Value": "<mailto:u@example.com>"}
    several["Content"] = {"Simple": {**one["Content"]["Simple"], "Headers": [own]}}
    assert svc.submit_lines([json.dumps(several)])["complete"]  # the producer's own header: their choice
    plain, *_ = service(unsubscribe_headers=False)
    assert plain.submit_lines([json.dumps({**one, "Destination": several["Destination"]})])["complete"]


def test_backup_region_template_failure_is_a_warning_not_a_refusal():
    svc, ses, sqs, *_ = service()
    ses["eu-west-1"].fail = lambda op, p: client_error("ServiceUnavailable", 503)
    result = svc.submit(candidate())
    assert result["complete"] and len(sqs.bodies) == 2
    assert result["warnings"] and "eu-west-1" in result["warnings"][0]


def test_immediate_launch_interrupted_mid_enqueue_is_resumed_by_the_minute_check():
    clock = SimClock(now=1_800_000_000.0)

    class Crashing(FakeSqs):
        def send_message_batch(self, QueueUrl, Entries):
            raise RuntimeError("Lambda killed")

    svc, _, sqs, store, _ = service(clock=clock)
    good_enqueuer = svc._enqueuer
    svc._enqueuer = lambda: Enqueuer(Crashing(), "q", sleep=lambda s: None, attempts=1)
    result = svc.submit(candidate())
    assert result["complete"] is False  # every job reported as not enqueued
    assert store.get("launch").status == "launched"
    # a crash *inside* the service (not a reported failure) leaves "launching" with a lease and a stored payload:
    record = store.get("launch")
    from dataclasses import replace

    store.items["launch"] = replace(record, status="launching", lease_until="2000-01-01T00:00:00.000Z")
    svc._enqueuer = good_enqueuer
    (resumed,) = svc.launch_due()
    assert resumed["status"] == "launched" and resumed["complete"]
    assert len(sqs.bodies) == 2


def test_an_address_listed_twice_in_a_segment_gets_one_email():
    svc, _, sqs, *_ = service()
    body = candidate(n=2)
    body["segments"][0]["recipients"].append({"to_address": "V0@Example.org", "name": "again"})
    result = svc.submit(body)
    assert result["duplicates_skipped"] == 1
    assert result["recipients"] == 3
    entries = [e for b in sqs.bodies for e in json.loads(b)["bulk"]["BulkEmailEntries"]]
    assert len(entries) == 3


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("from_address",), "News <news@example.com>\r\nBcc: victim@example.org"),
        (("reply_to",), ["help@example.com, other@example.org"]),
        (("segments", 0, "recipients", 0, "to_address"), "Vip, Evil <v0@example.org>"),
        (("subject",), "Welcome\r\nBcc: victim@example.org"),
        (("segments", 1, "template", "subject"), "Trial\nX-Injected: 1"),
    ],
)
def test_campaign_fields_smuggling_header_lines_or_addresses_are_refused(path, value):
    body = candidate()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    svc, ses, sqs, *_ = service()
    with pytest.raises(CampaignError):
        svc.submit(body)
    assert sqs.bodies == [] and not ses["us-east-1"].templates


def test_html_title_whitespace_is_folded_into_a_one_line_subject():
    objects = {("tpl-bucket", "welcome.html"): "<html><title>\n  Welcome,\n  {{name}}!\n</title><p>x</p></html>"}
    svc, ses, *_ = service(objects=objects)
    svc.submit(candidate())
    assert ses["us-east-1"].templates["sesame-dev-launch-default"]["Subject"] == "Welcome, {{name}}!"
