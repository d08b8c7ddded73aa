"""Run every bench/bench_*.py module's ``run()`` and print the merged figures as one JSON object.

Progress goes to stderr; stdout carries only the JSON object. ``python -m bench ingest sender`` runs a subset.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv]
    figures: dict[str, object] = {}
    for name in names:
        start = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        figures.update(module.run())
        print(f"bench: {name} done in {time.perf_counter() - start:.1f}s", file=sys.stderr, flush=True)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
