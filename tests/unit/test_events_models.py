from __future__ import annotations

import json

import pytest

from runtime.emails import recipient_hash
from runtime.events import EventParseError, event_from_message, parse_record
from runtime.events import models as m
from tests.support.ingest import fixture_event, fixture_text, ses_record

EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


@pytest.mark.parametrize(
    ("name", "model", "event_type", "timestamp"),
    [
        ("send", m.SendEvent, "Send", "2016-10-14T05:02:16.645Z"),
        ("reject", m.RejectEvent, "Reject", "2016-10-14T17:38:15.211Z"),
        ("bounce", m.BounceEvent, "Bounce", "2017-08-05T00:41:02.669Z"),
        ("complaint", m.ComplaintEvent, "Complaint", "2017-08-05T00:41:02.669Z"),
        ("delivery", m.DeliveryEvent, "Delivery", "2016-10-19T23:21:04.133Z"),
        ("open", m.OpenEvent, "Open", "2017-08-09T22:00:19.652Z"),
        ("click", m.ClickEvent, "Click", "2017-08-09T23:51:25.570Z"),
        ("rendering_failure", m.RenderingFailureEvent, "Rendering Failure", "2018-01-22T18:43:06.197Z"),
        ("delivery_delay", m.DeliveryDelayEvent, "DeliveryDelay", "2020-06-16T00:25:40.095Z"),
        ("subscription", m.SubscriptionEvent, "Subscription", "2022-01-12T01:00:17.910Z"),
    ],
)
def test_documented_example_parses_to_its_model_and_event_time(name, model, event_type, timestamp):
    record, _ = parse_record(fixture_text(name))
    assert isinstance(record, model)
    event = fixture_event(name)
    assert event.event_type == event_type
    assert event.timestamp == timestamp
    assert event.source_format == "event"
    assert event.recipients == ("recipient@example.com",)
    assert event.recipient_hashes == (recipient_hash("recipient@example.com"),)


def test_all_ten_event_types_have_a_fixture():
    names = ["send", "reject", "bounce", "complaint", "delivery", "open", "click", "rendering_failure"]
    names += ["delivery_delay", "subscription"]
    assert {fixture_event(n).event_type for n in names} == set(m.EVENT_TYPES)


def test_bounce_detail_fields_are_kept():
    record, _ = parse_record(fixture_text("bounce"))
    assert isinstance(record, m.BounceEvent)
    assert record.bounce.bouncedRecipients[0].diagnosticCode == "smtp; 550 5.1.1 user unknown"
    assert record.bounce.reportingMTA == "dsn; mta.example.com"
    event = fixture_event("bounce")
    assert (event.bounce_type, event.bounce_subtype) == ("Permanent", "General")
    assert (event.campaign_id, event.list_name) == ("spring-sale", "newsletter")
    assert event.detail["feedbackId"].startswith("01000157c44f053b")


def test_complaint_click_delay_subscription_details_are_flattened():
    assert fixture_event("complaint").complaint_feedback_type == "abuse"
    click = fixture_event("click")
    assert click.link.endswith("send-email-smtp.html")
    assert click.link_tags == {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]}
    delay = fixture_event("delivery_delay")
    assert (delay.delay_type, delay.delay_expiration) == ("TransientCommunicationFailure", "2020-06-16T00:25:40.914Z")
    sub = fixture_event("subscription")
    assert sub.contact_list == "ContactListName"
    assert sub.unsubscribe_all is True
    assert sub.topics_opted_out == ("ExampleTopicName",)
    assert sub.unsubscribed is True  # unsubscribeAll went from false to true
    assert fixture_event("reject").reject_reason == "Bad content"
    failure = fixture_event("rendering_failure")
    assert failure.template_name == "MyTemplate"
    assert "attributeName" in failure.rendering_error
    delivery = fixture_event("delivery")
    assert delivery.processing_time_millis == 11893
    assert delivery.smtp_response == "250 2.6.0 Message received"


def test_mail_object_fields():
    record, _ = parse_record(fixture_text("send"))
    assert record.mail.messageId == EXAMPLE_ID
    assert record.mail.commonHeaders is not None and record.mail.commonHeaders.from_ == ["sender@example.com"]
    assert record.mail.headers[0].name == "From"
    assert record.mail.tag("ses:configuration-set") == "ConfigSet"
    assert fixture_event("send").config_set == "ConfigSet"


@pytest.mark.parametrize(
    ("name", "model", "event_type"),
    [
        ("notification_bounce", m.BounceNotification, "Bounce"),
        ("notification_complaint", m.ComplaintNotification, "Complaint"),
        ("notification_delivery", m.DeliveryNotification, "Delivery"),
    ],
)
def test_identity_notifications_parse_without_tags(name, model, event_type):
    record, _ = parse_record(fixture_text(name))
    assert isinstance(record, model)
    event = fixture_event(name)
    assert event.event_type == event_type
    assert event.source_format == "notification"
    assert event.campaign_id is None and event.list_name is None


def test_identity_bounce_concerns_only_the_bounced_recipients():
    event = fixture_event("notification_bounce")
    assert event.recipients == ("jane@example.com", "richard@example.com")
    assert event.recipient == "jane@example.com"


def test_unknown_event_type_parses_to_unknown_event_and_keeps_its_detail():
    record, _ = parse_record(fixture_text("unknown_type"))
    assert isinstance(record, m.UnknownEvent)
    event = fixture_event("unknown_type")
    assert event.event_type == "FutureThing"
    assert event.is_unknown
    assert event.timestamp == "2024-06-20T01:51:00.000Z"
    assert event.detail["futureThing"]["newField"] == 42


def test_extra_fields_anywhere_are_tolerated():
    record = ses_record("Delivery")
    record["brandNewTopLevel"] = {"x": 1}
    record["mail"]["newMailField"] = [1, 2]
    record["delivery"]["newDeliveryField"] = "y"
    event = event_from_message(json.dumps(record))
    assert event.event_type == "Delivery"
    assert event.detail["newDeliveryField"] == "y"


def test_rendering_failure_spelled_without_space_is_accepted():
    record = ses_record("Rendering Failure")
    record["eventType"] = "RenderingFailure"
    assert event_from_message(json.dumps(record)).event_type == "Rendering Failure"


@pytest.mark.parametrize(
    "text",
    [
        "Successfully validated SNS topic for Amazon SES event publishing.",
        "[1, 2]",
        json.dumps({"eventType": "Bounce"}),
        json.dumps({"eventType": "Bounce", "mail": {"messageId": "x", "timestamp": "2024-01-01T00:00:00.000Z"}}),
        json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}),
    ],
)
def test_non_event_messages_raise_parse_error(text):
    with pytest.raises(EventParseError):
        event_from_message(text)


def test_event_id_is_stable_for_the_same_message_text():
    text = fixture_text("open")
    assert event_from_message(text).event_id == event_from_message(text).event_id
    assert len(event_from_message(text).event_id) == 32


def test_normalized_event_is_json_ready_for_forwarding():
    data = fixture_event("click").to_json_dict()
    assert json.loads(json.dumps(data))["link"].startswith("http://docs.aws.amazon.com")
    assert data["recipient_hashes"] == [recipient_hash("recipient@example.com")]


def test_subscription_change_that_opts_nothing_new_out_is_not_an_unsubscribe():
    record = ses_record("Subscription", unsubscribe_all=False)
    record["subscription"]["newTopicPreferences"]["topicSubscriptionStatus"] = [
        {"topicName": "news", "subscriptionStatus": "OptOut"},
        {"topicName": "offers", "subscriptionStatus": "OptIn"},
    ]
    record["subscription"]["oldTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [{"topicName": "news", "subscriptionStatus": "OptOut"}],
    }
    event = event_from_message(json.dumps(record))
    assert event.topics_opted_out == ("news",)
    assert event.unsubscribed is False
