"""The one JSON parser for what arrives from outside (HTTP bodies, JSON lines, queue bodies): nesting is bounded.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input, which a handler catching
``ValueError`` lets through as a 500, and a structure that parses but nests hundreds of levels deep can still exhaust
the stack later (validation, serialisation). :func:`loads` turns both into :class:`JsonTextError`, a ``ValueError``
naming the problem, so every JSON-body route answers 400 like the SES webhook does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64  # no request sesame accepts nests deeper than a dozen levels
_CONTAINERS = (dict, list)  # a tuple: ``isinstance(x, dict | list)`` builds the union on every call


class JsonTextError(ValueError):
    """Not JSON, or nested deeper than allowed; ``str(exc)`` names the problem."""


def loads(
    text: str | bytes | bytearray,
    *,
    max_depth: int = MAX_DEPTH,
    fast: Callable[[str | bytes | bytearray], Any] | None = None,
) -> Any:
    """``json.loads`` with a bound on nesting; raises :class:`JsonTextError` (a ``ValueError``).

    ``fast``: a parser tried first whose every success equals ``json.loads``' value and which fails (any
    ``ValueError``) on the rest of what ``json.loads`` accepts — ``pydantic_core.from_json`` (about twice as fast on
    an SNS envelope; it refuses lone surrogates, a BOM, deep nesting). On its failure ``json.loads`` decides, so
    values and errors are ``json.loads``' either way."""
    value: Any = _NOT_PARSED
    if fast is not None:
        try:
            value = fast(text)
        except (ValueError, RecursionError):
            value = _NOT_PARSED
    if value is _NOT_PARSED:
        value = _json_loads(text, max_depth)
    if depth_exceeds(value, max_depth):
        raise JsonTextError(f"JSON nests deeper than {max_depth} levels")
    return value


_NOT_PARSED = object()


def _json_loads(text: str | bytes | bytearray, max_depth: int) -> Any:
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise JsonTextError(f"JSON nests deeper than {max_depth} levels") from exc
    except UnicodeDecodeError as exc:
        raise JsonTextError("JSON must be UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when containers nest more than ``max_depth`` levels (iterative: no recursion of its own)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        for child in children:
            if type(child) in _CONTAINERS or isinstance(child, _CONTAINERS):
                stack.append((child, depth + 1))
    return False
