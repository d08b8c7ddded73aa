"""The explicit SES record parser (``runtime.events.models``) against the pydantic models it replaced
(``tests/support/ses_pydantic_reference.py``): every documented sample, and every one of them with each field
removed, nulled or given a value of another JSON type, parses to the same record type with the same values, or is
refused with the same problems (locations and messages, in the same order)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import ValidationError

from runtime.events import EventParseError, event_from_message
from runtime.events import models as m
from tests.support import ses_pydantic_reference as ref
from tests.support.ingest import ses_record

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLES = {p.relative_to(EVENTS).as_posix(): json.loads(p.read_text()) for p in sorted(EVENTS.rglob("*.json"))}
SAMPLES.update({f"ses_record:{t}": ses_record(t) for t in (*m.EVENT_TYPES, "RenderingFailure", "Future")})

# values of every JSON type, and the strings and numbers the lax rules treat specially
REPLACEMENTS: list[Any] = [None, 1, 0, 2, 1.0, 1.5, True, False, "x", "12", " 7 ", "1_000", "12.0", "yes", "off"]
REPLACEMENTS += [[], ["x"], [1], [{}], {}, {"a": "b"}, {"a": ["b"]}, {"a": [1]}, "", "١٢", "1e3", 10**30, 1e308 * 10]
_DELETE = object()


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:2]):
            yield (*path, i)
            yield from _paths(item, (*path, i))


def _mutated(sample: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(sample)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def _cases() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sample in SAMPLES.items():
        yield name, sample
        for path in _paths(sample):
            shown = ".".join(map(str, path))
            yield f"{name} -{shown}", _mutated(sample, path, _DELETE)
            for value in REPLACEMENTS:
                yield f"{name} {shown}={value!r}", _mutated(sample, path, value)


def _outcome(validate: Callable[[], Any], dump: Callable[[Any], Any]) -> tuple[str, Any]:
    try:
        parsed = validate()
    except ValidationError as exc:
        return "invalid", [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
    return type(parsed).__name__, dump(parsed)


def _reference(raw: dict[str, Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """(as validated from the decoded object, as validated from its JSON text: the fast path)."""
    model = ref.MODEL_BY_TAG[ref._discriminate(raw)]
    return (
        _outcome(lambda: model.model_validate(raw), lambda r: r.model_dump()),
        _outcome(
            lambda: model.model_validate_json(json.dumps(raw)),
            lambda r: r.model_dump(mode="json", by_alias=True, exclude_none=True),
        ),
    )


def _parsed(raw: dict[str, Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    record = m.MODEL_BY_TAG[m._discriminate(raw)]
    return (
        _outcome(lambda: record.parse(raw), lambda r: r.to_dict(by_alias=False, exclude_none=False, mode="python")),
        _outcome(lambda: record.parse_json(json.dumps(raw)), lambda r: r.to_dict()),
    )


def test_every_sample_and_mutation_parses_as_the_pydantic_models_did():
    mismatches = []
    count = 0
    for name, raw in _cases():
        count += 1
        expected, got = _reference(raw), _parsed(raw)
        if expected != got:
            mismatches.append(f"{name}:\n  pydantic {str(expected)[:1500]}\n  parser   {str(got)[:1500]}")
    assert count > 5000  # the mutations did run
    assert not mismatches, f"{len(mismatches)} of {count} differ:\n" + "\n".join(mismatches[:10])


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.endswith(".json")))
def test_a_parsed_sample_keeps_its_wire_form(name):
    parsed = m.validate_record(SAMPLES[name])
    reference = ref.validate_record(SAMPLES[name])
    assert parsed.to_dict() == reference.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert type(parsed).__name__ == type(reference).__name__


def test_the_first_problem_names_the_refusal():
    record = ses_record("Bounce")
    del record["bounce"]["timestamp"]
    record["bounce"]["bouncedRecipients"] = [{"emailAddress": 5}]
    with pytest.raises(EventParseError, match=r"^SES record invalid at bounce\.bouncedRecipients\.0\.emailAddress: "):
        event_from_message(json.dumps(record))


def test_records_are_read_only():
    parsed = m.validate_record(ses_record("Delivery"))
    with pytest.raises(AttributeError):
        parsed.eventType = "Open"  # type: ignore[misc]
    assert parsed == m.validate_record(ses_record("Delivery"))
