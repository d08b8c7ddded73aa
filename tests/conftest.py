"""Suite-wide hooks: the chaos suite's per-scenario figures are printed at the end of the run (``make test``,
``make chaos``) from the JSON files the scenarios wrote into ``.chaos/`` (or ``$SESAME_CHAOS_DIR``).

In-process moto gets the local stack's DynamoDB patches (``runtime.local.moto_runner.patch_moto``) for the whole
suite. DynamoDB applies each write atomically and numbers a shard's stream records strictly in order; moto does
neither when threads write at once: it checks a condition, then writes, and numbers the stream record from the
length of the shard's list before appending it. The sender writes its message items several at a time, so two
stream records could share a sequence number, and the counter consumer (which skips a batch whose first sequence
number is not above the last one an item applied) would then skip a whole batch of counts — seen once as a
dashboard test's campaign with 16 of its 77 sends counted. The patches make every write and its stream record one
step under a lock, as the chaos suite, the bench and ``make local`` already run."""

from __future__ import annotations

import json
import time
from typing import Any

from runtime.local import moto_runner

moto_runner.patch_moto()

_STARTED = time.time()
COLUMNS = (
    ("scenario", "scenario"),
    ("seed", "seed"),
    ("events", "events"),
    ("events_lost", "lost"),
    ("double_counted", "double-counted"),
    ("sent_twice", "sent twice"),
    ("never_sent", "never sent"),
    ("forwarded_twice", "fwd twice"),
    ("never_forwarded", "never fwd"),
    ("redriven", "redriven"),
    ("seconds", "s"),
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.chaos.scenarios import REPORT_DIR

    files = sorted(p for p in REPORT_DIR.glob("*.json") if p.stat().st_mtime >= _STARTED)
    if not files:
        return
    rows = [json.loads(p.read_text()) for p in files]
    terminalreporter.section("chaos suite (figures after DLQ redrive; .chaos/*.json)")
    widths = [max(len(title), *(len(str(r.get(key, ""))) for r in rows)) for key, title in COLUMNS]
    terminalreporter.write_line("  ".join(title.rjust(w) for (_, title), w in zip(COLUMNS, widths, strict=True)))
    for row in rows:
        cells = [str(row.get(key, "")).rjust(w) for (key, _), w in zip(COLUMNS, widths, strict=True)]
        terminalreporter.write_line("  ".join(cells))
