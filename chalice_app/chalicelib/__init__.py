"""Chalice blueprints (HTTP edge and event handlers) and the composition root (``wiring``).

Importing this package is the first thing every Lambda function of the app does (each handler lives in a
``chalicelib`` module, and ``app.py`` imports them), so the interpreter's garbage-collector setting is made here:
a young generation of ``GC_YOUNG_THRESHOLD`` container allocations instead of CPython's 700. A cold start allocates
a few hundred thousand long-lived objects (botocore's service models, endpoint rules and client classes, pydantic's
validators, the modules themselves) and holds no garbage cycles worth collecting; with the default threshold the
collector runs hundreds of times and walks that growing heap again and again: the sender's first invocation took
~770 ms with it and ~460 ms without (``bench/bench_coldstart.py`` on the 2-core development machine). The older
generations keep their default ratios (10, 10), so a long-lived container still collects cyclic garbage, only in
larger steps.
"""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 10_000

if gc.get_threshold()[0] < GC_YOUNG_THRESHOLD:
    gc.set_threshold(GC_YOUNG_THRESHOLD)
