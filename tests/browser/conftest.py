"""Browser tests of the dashboard: Debian's Chromium, headless, driven by Playwright (no browser download).

Without Chromium these tests skip with the reason on a developer machine and fail in CI (``CI`` set): .ci/run
installs it. Screenshots of each view go to ``test-artifacts/dashboard/`` (git-ignored; ``SESAME_TEST_ARTIFACTS``
moves it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.api_app import API_KEY, app_env
from tests.support.api_tables import moto_tables
from tests.support.dashboard import ARTIFACTS, BUCKET, Seeded, chromium, chromium_path, seed_dashboard_data, serve


@dataclass
class Site:
    url: str
    ddb: Any
    seeded: Seeded

    def call(self, method: str, path: str, key: str = API_KEY, body: Any = None) -> tuple[int, Any]:
        """The API over HTTP, as the dashboard calls it."""
        headers = {"Authorization": f"Bearer {key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body


@dataclass
class Browse:
    """A page in a fresh browser context, with what it logged and requested."""

    page: Any
    context: Any
    site: Site
    problems: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def open(self, hash_path: str = "", key: str | None = API_KEY) -> None:
        fragment = f"#key={key}" if key is not None else ""
        self.page.goto(f"{self.site.url}/dashboard{fragment}")
        if hash_path:
            self.go(hash_path)

    def go(self, hash_path: str) -> None:
        self.page.evaluate("(h) => { location.hash = h; }", hash_path)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    chromium_path()  # skip (or fail in CI) before seeding anything
    mp = pytest.MonkeyPatch()
    try:
        app_env(mp, SESAME_CAMPAIGN_BUCKET=BUCKET)
        with moto_tables() as ddb:
            import app as app_module
            from chalicelib import wiring

            wiring.reset()
            try:
                seeded = seed_dashboard_data(ddb)
                with serve(app_module.app) as url:
                    yield Site(url, ddb, seeded)
            finally:
                wiring.reset()
    finally:
        mp.undo()


def _new_browse(browser: Any, site: Site, **context_args: Any) -> Browse:
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US", "timezone_id": "UTC", **context_args}
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    browse = Browse(page, context, site)

    def on_console(message: Any) -> None:
        # the browser reports every 4xx/5xx answer as "Failed to load resource": expected ones are asserted by tests
        if message.type == "error" and "Failed to load resource" not in message.text:
            browse.problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: browse.problems.append(f"page error: {error}"))
    page.on("request", lambda request: browse.requests.append(request))
    return browse


@pytest.fixture
def browse(browser: Any, site: Site) -> Iterator[Browse]:
    b = _new_browse(browser, site)
    yield b
    b.context.close()
    assert b.problems == [], "the page logged errors (CSP or Trusted Types violations, exceptions)"


@pytest.fixture
def phone(browser: Any, site: Site) -> Iterator[Browse]:
    b = _new_browse(browser, site, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    yield b
    b.context.close()
    assert b.problems == []
