"""Chalice blueprints (HTTP edge and event handlers) and the composition root (``wiring``).

Importing this package is the first thing every Lambda function of the app does (each handler lives in a
``chalicelib`` module, and ``app.py`` imports them), so the interpreter's garbage-collector policy for the cold start
is set here. A cold start allocates a few hundred thousand long-lived objects (botocore's service models, endpoint
rules and client classes, pydantic's validators, the modules themselves) and holds no garbage cycles worth
collecting, yet every collection walks that growing heap again:

- In a Lambda container (``AWS_LAMBDA_FUNCTION_NAME`` set) the collector is off from this import until the end of
  the function's first invocation (``first_invocation_ends_cold_start`` on every Lambda entry point): then
  ``gc.freeze()`` moves everything the cold start built into the permanent generation, which later collections never
  walk, and the collector is switched back on. With the collector on, building the SSM and DynamoDB clients alone
  spent ~55 ms in collections (one second-generation pass over ~100k model objects ~35 ms) on the 2-core
  development machine (``bench/bench_coldstart.py``). What the first invocation leaves as cyclic garbage is frozen
  with it (one event's worth, never collected); reference counting frees everything else as usual.
- Everywhere (and after the cold start), a young generation of ``GC_YOUNG_THRESHOLD`` container allocations instead
  of CPython's 700: with the default the collector ran hundreds of times during a cold start (the sender's first
  invocation took ~770 ms with it and ~460 ms without). The older generations keep their default ratios (10, 10), so a
  long-lived container still collects cyclic garbage, only in larger steps.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import Any, TypeVar

GC_YOUNG_THRESHOLD = 10_000

if gc.get_threshold()[0] < GC_YOUNG_THRESHOLD:
    gc.set_threshold(GC_YOUNG_THRESHOLD)

#: True while a Lambda container is in its cold start (from this import to the end of its first invocation).
_cold = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
if _cold:
    gc.disable()

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def end_cold_start() -> None:
    """Freeze what the cold start built and switch the collector back on (once; a no-op outside a cold start)."""
    global _cold
    if _cold:
        _cold = False
        gc.freeze()
        gc.enable()


def first_invocation_ends_cold_start(handler: _Handler) -> _Handler:
    """Decorator for a Lambda entry point (under Chalice's decorator): its first invocation, however it ends,
    ends the cold start (``end_cold_start``)."""

    @functools.wraps(handler)
    def entry(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if _cold:
                end_cold_start()

    entry.ends_cold_start = True  # type: ignore[attr-defined]
    return entry  # type: ignore[return-value]


def cold_start_middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """The same for the API function (``app.app``): Chalice middleware around every route."""
    try:
        return get_response(event)
    finally:
        if _cold:
            end_cold_start()
