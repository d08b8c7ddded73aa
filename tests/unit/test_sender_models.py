from __future__ import annotations

import json

import pytest

from runtime.sender.jobs import JobError, SendJob, parse_job, units_of
from runtime.sender.ses_models import SendBulkEmailRequest, SendEmailRequest, parse_send_line, parse_send_lines
from tests.support.sender_fakes import validate

SEED_LINE = (
    '{"FromEmailAddress":"from@email.com","Destination":{"ToAddresses":["toAddress@email.com"]},'
    '"Content":{"Template":{"TemplateName":"STRING_VALUE","TemplateData":"{}"}},'
    '"EmailTags":[{"Name":"campaignId","Value":"some-campaign"},{"Name":"segmentId","Value":"some-list"}],'
    '"ConfigurationSetName":"myConfigSet"}'
)


def test_seed_campaign_file_line_parses_and_round_trips_to_a_valid_boto_request():
    request = parse_send_line(SEED_LINE)
    assert request.Content.Template is not None
    assert request.Content.Template.TemplateName == "STRING_VALUE"
    validate("SendEmail", request.to_api())


def test_malformed_lines_are_rejected_naming_the_line_and_the_field():
    lines = [
        SEED_LINE,
        "",
        "// comment lines as in the seed are skipped",
        '{"Destination":{"ToAddresses":["x@example.com"]},"Content":{"Simple":{"Subject":{"Data":"s"}}}}',
        '{"Content":{"Template":{"TemplateName":"t","TemplateData":"[1]"}},"Destination":{"ToAddresses":["a@b.co"]}}',
        '{"Content":{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"b"}}},"Raw":{"Data":"eA=="}},'
        '"Destination":{"ToAddresses":["a@b.co"]}}',
        '{"FromEmailAddress":"not an address","Content":{"Raw":{"Data":"eA=="}}}',
        "[1, 2]",
        "{broken",
        '{"Contnt": {}}',
    ]
    good, errors = parse_send_lines(lines)
    assert [n for n, _ in good] == [1]
    text = {e.line: str(e) for e in errors}
    assert text[4] == "line 4: Content.Simple.Body: Field required"
    assert "line 5: Content.Template.TemplateData: TemplateData must be a JSON object text" in text[5]
    assert "Content: Content needs exactly one of Simple, Raw, Template" in text[6]
    assert "line 7: FromEmailAddress: not a valid email address" in text[7]
    assert "must be a JSON object" in text[8]
    assert text[9].startswith("line 9: not valid JSON")
    assert "Contnt: Extra inputs are not permitted" in text[10]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"Destination": {}}, "Destination"),
        ({"Destination": {"ToAddresses": [f"a{i}@example.com" for i in range(51)]}}, "Destination"),
        ({"Content": {"Template": {"TemplateData": "{}"}}}, "Content.Template"),
        (
            {"Content": {"Template": {"TemplateName": "t", "Headers": [{"Name": "Bad Name", "Value": "v"}]}}},
            "Content.Template.Headers.0.Name",
        ),
        ({"Content": {"Raw": {"Data": "%%%"}}}, "Content.Raw.Data"),
        ({"ListManagementOptions": {}}, "ListManagementOptions.ContactListName"),
        ({"ConfigurationOverrides": {"Tracking": {"OpenTrackingEnabled": "YES"}}}, "OpenTrackingEnabled"),
    ],
)
def test_invalid_members_are_named(patch, field):
    data = {**json.loads(SEED_LINE), **patch}
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_send_line(json.dumps(data))


def test_models_accept_what_botocore_accepts_for_simple_raw_and_bulk():
    simple = SendEmailRequest.model_validate(
        {
            "FromEmailAddress": "News <news@example.com>",
            "Destination": {"ToAddresses": ["a@example.com"], "BccAddresses": ["b@example.com"]},
            "ReplyToAddresses": ["help@example.com"],
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Hi", "Charset": "UTF-8"},
                    "Body": {"Html": {"Data": "<p>x</p>"}},
                    "Headers": [{"Name": "X-Campaign", "Value": "1"}],
                }
            },
            "ListManagementOptions": {"ContactListName": "news", "TopicName": "weekly"},
        }
    )
    validate("SendEmail", simple.to_api())
    bulk = SendBulkEmailRequest.model_validate(
        {
            "FromEmailAddress": "news@example.com",
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}},
            "BulkEmailEntries": [{"Destination": {"ToAddresses": ["a@example.com"]}}],
        }
    )
    validate("SendBulkEmail", bulk.to_api())
    with pytest.raises(ValueError, match="BulkEmailEntries"):
        SendBulkEmailRequest.model_validate({**bulk.to_api(), "BulkEmailEntries": []})


def test_queue_body_may_be_a_bare_request_or_a_job_envelope():
    bare = parse_job(SEED_LINE, "sqs-id-1")
    assert bare.job_id == "sqs-sqs-id-1"
    (unit,) = units_of(bare)
    assert unit.campaign_id == "some-campaign"  # from the seed's campaignId tag
    assert unit.list_name == "some-list"  # from segmentId
    envelope = SendJob(job_id="c.0.0", campaign_id="c", list_name="l", email=bare.email)
    assert parse_job(envelope.body(), "other").job_id == "c.0.0"
    with pytest.raises(JobError, match="exactly one of 'email'"):
        parse_job(json.dumps({"sesame": 1, "job_id": "x"}), "id")
    with pytest.raises(JobError, match="not valid JSON"):
        parse_job("nope", "id")


def test_units_of_bulk_job_carry_entry_ids_data_and_default_tags():
    body = {
        "sesame": 1,
        "job_id": "c.1.0",
        "campaign_id": "c",
        "list_name": "l",
        "entry_ids": ["7", "9"],
        "bulk": {
            "FromEmailAddress": "news@example.com",
            "DefaultEmailTags": [{"Name": "team", "Value": "growth"}],
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": '{"a": "default"}'}},
            "BulkEmailEntries": [
                {"Destination": {"ToAddresses": ["x@example.com"]}},
                {
                    "Destination": {"ToAddresses": ["y@example.com"]},
                    "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": '{"a": "y"}'}},
                },
            ],
        },
    }
    units = units_of(parse_job(json.dumps(body), "id"))
    assert [u.unit_id for u in units] == ["7", "9"]
    assert [u.template_data for u in units] == ['{"a": "default"}', '{"a": "y"}']
    assert units[0].tags == [("team", "growth")]
    assert units[0].group_key() == units[1].group_key() is not None


# --- header injection: one address per field, no control characters --------------------------------------------

BASE = {
    "FromEmailAddress": "news@example.com",
    "Destination": {"ToAddresses": ["to@example.com"]},
    "Content": {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "line one\nline two"}}}},
}
SMUGGLED = [
    "Evil <a@example.com>\r\nBcc: victim@example.org",  # CR/LF: a new header line
    "Evil\n <a@example.com>",  # folded display name
    "Name, Evil <a@example.com>",  # unquoted comma: two addresses
    "a@example.com <b@example.com>",  # an address posing as a display name: two addresses
    "<a@example.com> <b@example.com>",
    "x <a@example.com>, y@example.org",  # an extra address the suppression check never saw
    "a@example.com\x00",
    "a@example.com\u2028",
]


def _request(**patch):
    data = json.loads(json.dumps(BASE))
    data.update(patch)
    return data


@pytest.mark.parametrize("address", SMUGGLED)
@pytest.mark.parametrize("field", ["ToAddresses", "CcAddresses", "BccAddresses", "ReplyToAddresses", "From"])
def test_addresses_smuggling_header_lines_or_extra_recipients_are_refused(field, address):
    if field == "From":
        data = _request(FromEmailAddress=address)
    elif field == "ReplyToAddresses":
        data = _request(ReplyToAddresses=[address])
    else:
        data = _request(Destination={"ToAddresses": ["to@example.com"], field: [address]})
    with pytest.raises(ValueError) as raised:
        parse_send_line(json.dumps(data))
    assert ("FromEmailAddress" if field == "From" else field) in str(raised.value)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ('"Smith, John" <john@example.com>', '"Smith, John" <john@example.com>'),
        ("Jane <jane@example.com>", "Jane <jane@example.com>"),
        ("Zoë <zoe@example.com>", "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>"),  # RFC 2047, as SES requires
        ("plain@example.com", "plain@example.com"),
    ],
)
def test_addresses_are_parsed_and_rebuilt_with_email_utils(given, sent):
    request = parse_send_line(json.dumps(_request(Destination={"ToAddresses": [given]}, FromEmailAddress=given)))
    assert request.to_api()["Destination"]["ToAddresses"] == [sent]
    assert request.to_api()["FromEmailAddress"] == sent
    validate("SendEmail", request.to_api())


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.org", "Hi\nthere", "Hi\x07", "Hi\u2029"])
def test_subjects_with_control_characters_are_refused(subject):
    simple = _request()
    simple["Content"]["Simple"]["Subject"]["Data"] = subject
    with pytest.raises(ValueError, match="Subject"):
        parse_send_line(json.dumps(simple))
    inline = _request(Content={"Template": {"TemplateContent": {"Subject": subject, "Text": "t"}}})
    with pytest.raises(ValueError, match="Subject"):
        parse_send_line(json.dumps(inline))


def test_a_suppressed_address_written_with_a_display_name_is_still_caught(tmp_path):
    from runtime.emails import recipient_hash
    from runtime.stores.suppressions import Suppression
    from tests.support.sender_fakes import harness, send_line

    h = harness()
    h.suppressions.items[(recipient_hash("jane@example.org"), "ALL")] = Suppression(
        recipient_hash("jane@example.org"), "ALL", "COMPLAINT"
    )
    line = json.loads(send_line("x@example.org"))
    line["Destination"] = {"ToAddresses": ['"Doe, Jane" <Jane@Example.org>']}
    h.queue.send(json.dumps(line))
    h.drain()
    assert h.primary.sent == []


def test_a_queue_body_or_json_line_nested_too_deep_is_a_job_error_not_a_crash():
    deep = "[" * 50_000 + "]" * 50_000
    with pytest.raises(JobError, match="nests deeper"):
        parse_job(deep, "id")
    with pytest.raises(ValueError, match="nests deeper"):
        parse_send_line('{"Content": ' + deep + "}")
