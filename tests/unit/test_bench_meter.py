"""The bench meter's arithmetic against the DynamoDB Developer Guide's own rules and worked examples
(CapacityUnitCalculations, ProvisionedThroughput "Capacity unit consumption", GSI "Write capacity units",
transaction-apis "Capacity management", WorkingWithItems "conditional writes", TTL with global tables)."""

from __future__ import annotations

import math

import pytest

from bench.meter import (
    IndexSchema,
    TableSchema,
    index_write,
    item_size,
    number_size,
    read_units,
    sns_publish_requests,
    sqs_requests,
    ttl_charges,
    value_size,
    write_charges,
    write_units,
)

KB = 1024


def sized(total: int, name: str = "a", **extra: dict) -> dict:
    """An item of exactly ``total`` bytes: one string attribute ``name`` padded to the size (plus ``extra``)."""
    rest = item_size(extra)
    return {**extra, name: {"S": "x" * (total - rest - len(name))}}


# --- item sizes -------------------------------------------------------------------------------------------------


def test_string_size_is_name_plus_utf8_bytes():
    assert item_size({"name": {"S": "abc"}}) == 4 + 3
    assert item_size({"é": {"S": "ü"}}) == 2 + 2  # UTF-8 bytes, not characters


def test_number_size_is_one_byte_per_two_significant_digits_plus_one():
    assert number_size("1") == 2
    assert number_size("123") == 3
    assert number_size("1234") == 3
    assert number_size("12345") == 4
    assert number_size("1780000000") == 3  # trailing zeroes trimmed: 178
    assert number_size("0.0012") == 2  # leading zeroes trimmed: 12
    assert number_size("-1.50") == 2
    assert number_size("0") == 2


def test_binary_size_counts_raw_bytes_not_base64():
    assert value_size({"B": b"\x00" * 10}) == 10
    assert value_size({"B": "AAAAAAAAAAAAAA=="}) == 10  # wire JSON form of the same 10 bytes


def test_boolean_and_null_are_one_byte():
    assert item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == (2 + 1) + (2 + 1)


def test_list_and_map_carry_three_bytes_plus_one_per_element():
    assert item_size({"m": {"M": {}}}) == 1 + 3  # empty map: name + 3
    assert item_size({"l": {"L": []}}) == 1 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "ab"}}}}) == 1 + 3 + (1 + 1 + 2)


def test_sets_are_the_sum_of_their_elements():
    assert item_size({"ids": {"SS": ["ab", "cde"]}}) == 3 + 5
    assert item_size({"ns": {"NS": ["1", "123"]}}) == 2 + 2 + 3


# --- writes -----------------------------------------------------------------------------------------------------


def test_write_units_round_each_item_up_to_the_next_kb():
    assert write_units(500) == 1
    assert write_units(KB) == 1
    assert write_units(KB + 1) == 2
    assert write_units(int(1.6 * KB)) == 2  # "put or delete an item of 1.6 KB ... rounds up to 2 KB"
    assert write_units(0) == 1  # deleting a missing item still costs a write


def test_batch_write_rounds_per_item_documented_example():
    # "BatchWriteItem writes a 500-byte item and a 3.5 KB item, DynamoDB calculates the size as 5 KB"
    assert write_units(500) + write_units(int(3.5 * KB)) == 5


TABLE = TableSchema("t", "pk", None, (), "expires_at")


def test_update_costs_the_larger_of_before_and_after():
    before = sized(3 * KB, pk={"S": "k"})
    after = sized(500, pk={"S": "k"})
    [base, _] = write_charges("p", TABLE, ("k", ""), before, after)  # base + replication
    assert base.line == "WRU" and base.units == 3


def test_transactional_write_costs_two_units_per_kb_documented_example():
    # "each transaction writes three 500-byte items ... Each item requires two WCUs ... six WCUs"
    charges = [
        c
        for i in range(3)
        for c in write_charges("p", TABLE, (str(i), ""), None, sized(500, pk={"S": str(i)}), transactional=True)
        if c.line == "WRU"
    ]
    assert sum(c.units for c in charges) == 6
    # "if your item size is 2 KB, you require 2 write request units ... or 4 ... for a transactional write"
    [two_kb] = [c for c in write_charges("p", TABLE, ("k", ""), None, sized(2 * KB, pk={"S": "k"})) if c.line == "WRU"]
    [two_kb_tx] = [
        c
        for c in write_charges("p", TABLE, ("k", ""), None, sized(2 * KB, pk={"S": "k"}), transactional=True)
        if c.line == "WRU"
    ]
    assert (two_kb.units, two_kb_tx.units) == (2, 4)


def test_failed_conditional_write_is_still_billed():
    # missing item: one unit; existing item: the units of its size (1 KB -> 1, 2 KB -> 2)
    assert [c.units for c in write_charges("p", TABLE, ("k", ""), None, None, succeeded=False)] == [1]
    one = sized(KB, pk={"S": "k"})
    two = sized(2 * KB, pk={"S": "k"})
    assert [c.units for c in write_charges("p", TABLE, ("k", ""), one, None, succeeded=False)] == [1]
    assert [c.units for c in write_charges("p", TABLE, ("k", ""), two, None, succeeded=False)] == [2]
    assert all(c.line == "WRU" for c in write_charges("p", TABLE, ("k", ""), two, None, succeeded=False))


# --- global secondary indexes ----------------------------------------------------------------------------------------

GSI_TABLE = TableSchema(
    "msgs",
    "id",
    None,
    (
        IndexSchema("by-campaign", "campaign", "status", "ALL"),
        IndexSchema("by-recipient", "recipient", None, "KEYS_ONLY"),
        IndexSchema("by-list", "list", None, "INCLUDE", ("subject",)),
    ),
)


def base_item(**attrs: str) -> dict:
    return {"id": {"S": "m1"}, **{k: {"S": v} for k, v in attrs.items()}}


def test_new_item_defining_an_index_key_costs_one_index_put():
    effect = index_write(GSI_TABLE.indexes[0], GSI_TABLE, None, base_item(campaign="c", status="sent"))
    assert (effect.effect, effect.units, effect.partitions) == ("put", 1, (("c", 1),))


def test_item_missing_an_index_key_is_not_in_the_sparse_index():
    # the index has a sort key: an item without it is not written to the index at all
    effect = index_write(GSI_TABLE.indexes[0], GSI_TABLE, None, base_item(campaign="c"))
    assert (effect.effect, effect.units) == ("none", 0)


def test_changing_an_index_key_costs_a_delete_and_a_put():
    before = base_item(campaign="c", status="sent#1")
    after = base_item(campaign="c", status="delivered#1")
    effect = index_write(GSI_TABLE.indexes[0], GSI_TABLE, before, after)
    assert (effect.effect, effect.units) == ("re-key", 2)
    assert effect.partitions == (("c", 1), ("c", 1))


def test_removing_an_index_key_costs_one_index_delete():
    before = base_item(campaign="c", status="s")
    effect = index_write(GSI_TABLE.indexes[0], GSI_TABLE, before, base_item(campaign="c"))
    assert (effect.effect, effect.units) == ("delete", 1)


def test_update_not_touching_an_index_costs_nothing_there():
    before = base_item(other="a")
    after = base_item(other="b")
    assert index_write(GSI_TABLE.indexes[0], GSI_TABLE, before, after).units == 0


def test_changing_only_a_projected_attribute_costs_one_index_update():
    before = base_item(campaign="c", status="s", note="a")
    after = base_item(campaign="c", status="s", note="b")
    effect = index_write(GSI_TABLE.indexes[0], GSI_TABLE, before, after)  # ALL projects note
    assert (effect.effect, effect.units) == ("update", 1)


def test_changing_an_attribute_a_keys_only_index_does_not_project_costs_nothing_there():
    before = base_item(recipient="r", note="a")
    after = base_item(recipient="r", note="b")
    assert index_write(GSI_TABLE.indexes[1], GSI_TABLE, before, after).effect == "none"


def test_include_projection_costs_only_when_an_included_attribute_changes():
    before = base_item(list="l", subject="hi", note="a")
    assert index_write(GSI_TABLE.indexes[2], GSI_TABLE, before, base_item(list="l", subject="hi", note="b")).units == 0
    assert index_write(GSI_TABLE.indexes[2], GSI_TABLE, before, base_item(list="l", subject="yo", note="a")).units == 1


def test_index_entries_are_sized_by_their_projection():
    big = {**base_item(campaign="c", status="s", recipient="r"), "blob": {"S": "x" * (3 * KB)}}
    assert index_write(GSI_TABLE.indexes[0], GSI_TABLE, None, big).units == 4  # ALL: the whole 3+ KB item
    assert index_write(GSI_TABLE.indexes[1], GSI_TABLE, None, big).units == 1  # KEYS_ONLY: id + recipient


def test_item_write_charges_base_and_every_affected_index():
    charges = write_charges("p", GSI_TABLE, ("m1", ""), None, base_item(campaign="c", status="s", recipient="r"))
    local = {(c.index, c.units) for c in charges if c.line == "WRU"}
    assert local == {(None, 1), ("by-campaign", 1), ("by-recipient", 1)}


# --- replication and TTL -------------------------------------------------------------------------------------------


def test_a_changing_write_is_replicated_once_per_extra_region_with_its_index_upkeep():
    charges = write_charges("p", GSI_TABLE, ("m1", ""), None, base_item(campaign="c", status="s"))
    assert [(c.line, c.units) for c in charges if c.line == "rWRU"] == [("rWRU", 1)]
    assert [(c.index, c.units) for c in charges if c.line == "replica_WRU"] == [("by-campaign", 1)]


def test_a_transactional_write_is_replicated_at_one_unit_per_kb():
    charges = write_charges("p", TABLE, ("k", ""), None, sized(2 * KB, pk={"S": "k"}), transactional=True)
    assert [(c.line, c.units) for c in charges] == [("WRU", 4), ("rWRU", 2)]


def test_a_write_that_changes_nothing_is_billed_here_but_not_replicated():
    item = base_item(campaign="c", status="s")
    charges = write_charges("p", GSI_TABLE, ("m1", ""), item, dict(item))
    assert [(c.line, c.index, c.units) for c in charges] == [("WRU", None, 1)]


def test_ttl_delete_is_free_locally_and_a_replicated_delete_in_each_replica():
    item = {**base_item(campaign="c", status="s"), "expires_at": {"N": "1780000000"}}
    charges = ttl_charges("ttl", GSI_TABLE, item)
    assert not [c for c in charges if c.line == "WRU"]
    assert [(c.line, c.index, c.units) for c in charges] == [("rWRU", None, 1), ("replica_WRU", "by-campaign", 1)]


# --- reads ------------------------------------------------------------------------------------------------------


def test_read_units_documented_examples():
    assert read_units(int(3.5 * KB), consistent=True) == 1  # 3.5 KB rounds to 4 KB
    assert read_units(10 * KB, consistent=True) == 3  # 10 KB rounds to 12 KB
    assert read_units(8 * KB, consistent=True) == 2  # "8 KB: 2 strongly consistent"
    assert read_units(8 * KB, consistent=False) == 1  # "... 1 eventually consistent"
    assert 2 * read_units(8 * KB, consistent=True) == 4  # "... 4 for a transactional read"
    assert read_units(80 * KB, consistent=False) == 10  # "eventually consistent ... 80 KB ... 10 capacity units"


def test_batch_get_rounds_each_item_documented_example():
    # "BatchGetItem reads a 1.5 KB item and a 6.5 KB item, DynamoDB calculates the size as 12 KB"
    assert read_units(int(1.5 * KB), consistent=True) + read_units(int(6.5 * KB), consistent=True) == 3


def test_query_rounds_the_sum_of_items_documented_examples():
    assert read_units(int(40.8 * KB), consistent=True) == 11  # 40.8 KB -> 44 KB
    assert read_units(1500 * 64, consistent=True) == 24  # 1500 items of 64 bytes = 96 KB


def test_reading_a_missing_item_still_costs_a_minimum_read():
    assert read_units(0, consistent=True) == 1
    assert read_units(0, consistent=False) == 0.5


# --- messaging --------------------------------------------------------------------------------------------------


def test_sqs_bills_each_64_kb_chunk_of_payload_as_a_request():
    assert sqs_requests("SendMessage", {"MessageBody": "x" * 1000}, {}) == 1
    assert sqs_requests("SendMessage", {"MessageBody": "x" * (256 * KB)}, {}) == 4  # the documented 256 KB example
    entries = [{"Id": str(i), "MessageBody": "x" * (10 * KB)} for i in range(10)]
    assert sqs_requests("SendMessageBatch", {"Entries": entries}, {}) == math.ceil(100 / 64)
    received = {"Messages": [{"Body": "x" * (30 * KB)} for _ in range(3)]}
    assert sqs_requests("ReceiveMessage", {}, received) == 2
    assert sqs_requests("ReceiveMessage", {}, {}) == 1  # an empty receive is still a request
    assert sqs_requests("DeleteMessageBatch", {"Entries": [{}] * 10}, {}) == 1


def test_sqs_message_attributes_count_towards_the_payload():
    params = {
        "MessageBody": "x" * (64 * KB - 10),
        "MessageAttributes": {"attr": {"DataType": "String", "StringValue": "0123456789"}},
    }
    assert sqs_requests("SendMessage", params, {}) == 2


def test_sns_bills_each_64_kb_chunk_as_a_publish():
    assert sns_publish_requests(3 * KB) == 1
    assert sns_publish_requests(64 * KB + 1) == 2


@pytest.mark.parametrize("bad", ["abc", ""])
def test_a_malformed_number_is_rejected(bad):
    with pytest.raises(ValueError):
        number_size(bad)
