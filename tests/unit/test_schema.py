from __future__ import annotations

from runtime.stores import schema


def test_ses_message_id_encodes_its_send_time():
    sent = schema.ses_message_id_time("010f019033564cde-f72f7f27-aee6-44eb-b35b-f501014a6b55-000000")
    assert sent is not None and schema.iso(sent) == "2024-06-20T01:50:12.190Z"


def test_non_ses_message_id_has_no_time():
    assert schema.ses_message_id_time("local-0123456789abcdef") is None
    assert schema.ses_message_id_time("zzzzzzzzzzzzzzzz-1") is None


def test_counter_update_adds_deltas_and_refreshes_ttl():
    update = schema.counter_update(
        "t",
        "c1",
        schema.COUNTERS_TOTAL,
        {"delivered": 2, "opened_total": 0},
        event_at="2026-01-01T00:00:00.000Z",
        expires_at=123,
    )
    assert "ADD #c0 :c0" in update["UpdateExpression"]
    assert update["ExpressionAttributeNames"]["#c0"] == "delivered"
    assert "opened_total" not in update["ExpressionAttributeNames"].values()
    assert update["ExpressionAttributeValues"][":exp"] == {"N": "123"}


def test_event_id_is_stable_for_the_same_message_text():
    assert schema.event_id_for('{"a":1}') == schema.event_id_for('{"a":1}')
    assert schema.event_id_for('{"a":1}') != schema.event_id_for('{"a":2}')


def test_timestamps_parse_and_render_canonically():
    assert schema.iso(schema.parse_time("2024-06-20T01:50:12.19Z")) == "2024-06-20T01:50:12.190Z"
    assert schema.day_of("2024-06-20T23:59:59.999Z") == "2024-06-20"
