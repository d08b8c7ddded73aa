from __future__ import annotations

import pytest

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
