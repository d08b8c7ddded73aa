"""The user documentation names only routes the Chalice app serves, with the methods it serves them with."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| ([A-Z, ]+) \| (.+?) \|")


def _app_routes() -> dict[str, set[str]]:
    if str(REPO / "chalice_app") not in sys.path:
        sys.path.insert(0, str(REPO / "chalice_app"))
    import app as chalice_app_module

    return {path: set(entries) - {"OPTIONS"} for path, entries in chalice_app_module.app.routes.items()}


def _documented_routes() -> list[tuple[set[str], str]]:
    rows = []
    for line in (REPO / "docs" / "api.md").read_text().splitlines():
        match = ROW.match(line)
        if not match or match.group(1).strip() == "method":
            continue
        methods = {m.strip() for m in match.group(1).split(",")}
        for path in re.findall(r"`([^`]+)`", match.group(2)):
            rows.append((methods, path.split("?", 1)[0]))
    return rows


def test_api_md_route_table_matches_the_methods_the_app_serves() -> None:
    served = _app_routes()
    documented = _documented_routes()
    assert len(documented) >= 15
    for methods, path in documented:
        assert path in served, f"docs/api.md lists {path}, which the app does not serve"
        assert methods <= served[path], f"docs/api.md: {path} is served with {sorted(served[path])}, not {methods}"
