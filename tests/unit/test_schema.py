from __future__ import annotations

from runtime.stores import schema


def test_ses_message_id_encodes_its_send_time():
    sent = schema.ses_message_id_time("010f019033564cde-f72f7f27-aee6-44eb-b35b-f501014a6b55-000000")
    assert sent is not None and schema.iso(sent) == "2024-06-20T01:50:12.190Z"


def test_non_ses_message_id_has_no_time():
    assert schema.ses_message_id_time("local-0123456789abcdef") is None
    assert schema.ses_message_id_time("zzzzzzzzzzzzzzzz-1") is None


def test_counter_update_adds_deltas_and_sets_times_and_ttl_only_on_a_new_item():
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
    for clause in ("#first = if_not_exists(#first, :first)", "#last = if_not_exists(#last, :last)"):
        assert clause in update["UpdateExpression"]
    assert "#exp = if_not_exists(#exp, :exp)" in update["UpdateExpression"]


def test_counter_clock_moves_last_and_ttl_only_forward_and_first_only_back():
    clock = schema.CounterClock("t", "c1", "COUNTERS#TOTAL", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", 9)
    advance, rewind = schema.counter_clock_updates(clock)
    assert advance["UpdateExpression"] == "SET #last = :last, #exp = :exp"
    assert "#last < :last" in advance["ConditionExpression"]
    assert "attribute_exists(#sk)" in advance["ConditionExpression"]  # never re-creates a deleted counter item
    assert advance["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert rewind["UpdateExpression"] == "SET #first = :first"
    assert "#first > :first" in rewind["ConditionExpression"]


def test_event_id_is_stable_for_the_same_message_text():
    assert schema.event_id_for('{"a":1}') == schema.event_id_for('{"a":1}')
    assert schema.event_id_for('{"a":1}') != schema.event_id_for('{"a":2}')


def test_timestamps_parse_and_render_canonically():
    assert schema.iso(schema.parse_time("2024-06-20T01:50:12.19Z")) == "2024-06-20T01:50:12.190Z"
    assert schema.day_of("2024-06-20T23:59:59.999Z") == "2024-06-20"


def test_campaign_and_list_names_have_one_canonical_form():
    assert schema.canonical_name("Spring Newsletter") == "Spring_Newsletter"
    assert schema.canonical_name("Spring_Newsletter") == "Spring_Newsletter"  # idempotent
    assert schema.canonical_name("é/x") == "__x"
    assert schema.canonical_name("") == schema.UNTAGGED
    assert schema.suppression_scope("list", list_name="Spring Newsletter") == "LIST#Spring_Newsletter"
    assert schema.suppression_scope("campaign", campaign_id="a b") == "CAMPAIGN#a_b"
    assert schema.counters_list_sk("Spring Newsletter") == "COUNTERS#LIST#Spring_Newsletter"


def test_unsubscribe_claims_and_sender_tags_use_the_canonical_form():
    from runtime.sender.tags import format_tag
    from runtime.tokens import UnsubscribeClaim

    claim = UnsubscribeClaim("h" * 64, "list", list_name="Spring Newsletter")
    assert claim.scope_key == "LIST#Spring_Newsletter" == f"LIST#{format_tag('Spring Newsletter')}"
    assert UnsubscribeClaim("h" * 64, "campaign", campaign_id="Q1 promo").scope_key == "CAMPAIGN#Q1_promo"
