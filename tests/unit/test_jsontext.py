from __future__ import annotations

import pytest
from pydantic_core import from_json

from runtime.jsontext import MAX_DEPTH, JsonTextError, loads


def test_ordinary_json_parses():
    assert loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert loads(b"[1, 2]") == [1, 2]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
def test_nesting_beyond_the_bound_is_a_value_error_naming_it(depth):
    with pytest.raises(JsonTextError, match="nests deeper than"):
        loads("[" * depth + "]" * depth)
    with pytest.raises(ValueError):
        loads('{"k": ' + "{" * depth + "}" * depth + "}")


def test_nesting_up_to_the_bound_is_fine():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


@pytest.mark.parametrize("text", ["{broken", b"\xff\xfe", ""])
def test_not_json_is_a_value_error(text):
    with pytest.raises(JsonTextError):
        loads(text)


@pytest.mark.parametrize("text", ['{"a": "' + "{[" * 100 + '"}', b'{"a": [1, {"b": "[[[[[[[[[[[[[[[[[[[[[[["}]}'])
def test_brackets_inside_strings_are_not_nesting(text):
    assert loads(text, max_depth=3)["a"]


@pytest.mark.parametrize("text", ["[[[[1]]]]", b'{"a": {"b": {"c": {"d": 1}}}}'])
def test_few_brackets_nesting_beyond_a_small_bound_are_refused(text):
    with pytest.raises(JsonTextError):
        loads(text, max_depth=3)


FAST_CASES = [
    '{"a": 1, "b": [true, null, "x"], "a": 2}',
    '{"a": "\\ud800"}',  # a lone surrogate: json takes it, pydantic-core refuses it
    '{"a": "\\udc00\\ud800", "n": NaN, "i": -Infinity, "big": 123456789012345678901234567890, "f": 1e400}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"a": "\xff"}',
    '{"a": 1} trailing',
    "[" * 300 + "]" * 300,
    "[" * 50 + "]" * 50,
    '{"Message": "{\\"eventType\\":\\"Send\\"}", "é": "ü"}',
]


@pytest.mark.parametrize("text", FAST_CASES)
def test_a_fast_parser_first_gives_json_values_and_errors(text):
    def outcome(**kwargs):
        try:
            return repr(loads(text, **kwargs))
        except JsonTextError as exc:
            return f"error: {exc}"

    assert outcome(fast=from_json) == outcome()
