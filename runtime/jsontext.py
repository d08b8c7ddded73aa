"""The one JSON parser for what arrives from outside (HTTP bodies, JSON lines, queue bodies): nesting is bounded.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input, which a handler catching
``ValueError`` lets through as a 500, and a structure that parses but nests hundreds of levels deep can still exhaust
the stack later (validation, serialisation). :func:`loads` turns both into :class:`JsonTextError`, a ``ValueError``
naming the problem, so every JSON-body route answers 400 like the SES webhook does.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # no request sesame accepts nests deeper than a dozen levels
_CONTAINERS = (dict, list)  # a tuple: ``isinstance(x, dict | list)`` builds the union on every call


class JsonTextError(ValueError):
    """Not JSON, or nested deeper than allowed; ``str(exc)`` names the problem."""


def loads(text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with a bound on nesting; raises :class:`JsonTextError` (a ``ValueError``)."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise JsonTextError(f"JSON nests deeper than {max_depth} levels") from exc
    except UnicodeDecodeError as exc:
        raise JsonTextError("JSON must be UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    if depth_exceeds(value, max_depth):
        raise JsonTextError(f"JSON nests deeper than {max_depth} levels")
    return value


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
