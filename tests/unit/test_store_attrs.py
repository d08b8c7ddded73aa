"""The lean attribute codec (runtime/stores/attrs.py) maps values exactly as boto3's serializers did."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from runtime.stores import attrs
from runtime.stores.dynamo import from_item, to_item


def _plain(value: Any) -> Any:  # what the stores did with boto3's Decimals
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(["", "a", "é", "x" * 30, "sent|0100abc"])
    if kind == 1:
        return rng.randrange(-(10**12), 10**12)
    if kind == 2:
        return Decimal(str(round(rng.uniform(-1e6, 1e6), rng.randrange(0, 6))))
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return None
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(4))}
    if kind == 7:
        return set(rng.sample(["a", "b", "c", "d"], rng.randrange(1, 4)))
    if kind == 8:
        return {rng.randrange(100) for _ in range(rng.randrange(1, 4))}
    return (rng.randrange(5), "t")


def test_serialising_and_reading_back_match_boto3_on_random_values() -> None:
    rng = random.Random(12)
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    for _ in range(5000):
        value = _value(rng)
        wire = serializer.serialize(value)
        assert attrs.serialize(value) == wire
        assert attrs.deserialize(wire) == _plain(deserializer.deserialize(wire))


@pytest.mark.parametrize(
    ("text", "expected"), [("1", 1), ("1.0", 1), ("1e2", 100), ("-0.5", -0.5), ("1.5E-3", 0.0015), ("0", 0)]
)
def test_numbers_read_as_int_when_whole_else_float(text: str, expected: float) -> None:
    value = attrs.deserialize({"N": text})
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("value", [1.5, Decimal("Infinity"), Decimal("NaN"), 10**40, object()])
def test_values_dynamodb_cannot_hold_are_refused_as_boto3_refuses_them(value: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017 - boto3 raises TypeError or a decimal trap
        TypeSerializer().serialize(value)
    with pytest.raises(Exception):  # noqa: B017
        attrs.serialize(value)


def test_items_drop_none_and_take_floats_as_decimals() -> None:
    item = to_item({"a": None, "b": 0.1, "c": "x", "d": {"e": None}})
    assert item == {"b": {"N": "0.1"}, "c": {"S": "x"}, "d": {"M": {"e": {"NULL": True}}}}
    assert from_item(item) == {"b": 0.1, "c": "x", "d": {"e": None}}


_JSON = json.JSONEncoder(separators=(",", ":")).encode  # what the ingestion client sends (runtime.stores.direct)


def test_item_json_is_the_text_of_the_attribute_map_on_random_items() -> None:
    rng = random.Random(21)
    for _ in range(3000):
        item = {f"a{i}": _value(rng) for i in range(rng.randrange(8))}
        item["f"] = rng.choice([0.1, -2.5, 3.0, None])  # top-level floats as Decimal(str(value)), None dropped
        item["h"] = [rng.choice(["2026-05-04T09:00:00.000Z|Send|ab|0|", "é\u2028", '"q"\\']) for _ in range(3)]
        item["é"] = rng.choice(["\x00", "\ud800", "plain"])  # control characters and lone surrogates: escaped alike
        assert attrs.item_json(item) == _JSON(to_item(item))


@pytest.mark.parametrize("value", [Decimal("Infinity"), 10**40, object(), {"nested": 1.5}])
def test_item_json_refuses_what_to_item_refuses(value: Any) -> None:
    with pytest.raises(Exception) as expected:  # noqa: B017 - TypeError or a decimal trap, as attrs.serialize
        to_item({"v": value})
    with pytest.raises(expected.type):
        attrs.item_json({"v": value})


def test_item_json_refuses_bytes_which_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        attrs.item_json({"b": b"\x00"})
