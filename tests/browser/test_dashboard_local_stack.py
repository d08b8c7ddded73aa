"""`make local` end to end in a browser: the local stack (moto_server, the Pulumi-declared dev stack, `chalice local`,
a small demo campaign) prints the dashboard URL with the local key, and that URL shows the demo campaign with the
counts the API returns."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from playwright.sync_api import expect

from tests.support.dashboard import ARTIFACTS, chromium, chromium_path

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 240


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def test_make_local_prints_the_dashboard_url_which_shows_the_demo_campaign(tmp_path):
    chromium_path()  # skip (or fail in CI) before starting the stack
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.local", "--recipients", "30", "--quiet", "--state-dir", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    output: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, output), daemon=True).start()
    seen: list[str] = []
    try:
        url = ""
        while not url:
            line = output.get(timeout=STARTUP_TIMEOUT_S)
            assert line is not None, "the local stack exited:\n" + "".join(seen[-40:])
            seen.append(line)
            if line.startswith("dashboard:"):
                url = line.split(None, 1)[1].strip()
        key = (tmp_path / "api-key").read_text().strip()
        api = url.split("/dashboard#", 1)[0]
        assert url == f"{api}/dashboard#key={key}" and api.startswith("http://127.0.0.1:")
        request = urllib.request.Request(f"{api}/campaigns", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            demo = json.loads(response.read())["items"][0]
        assert demo["campaign_id"].startswith("demo-") and demo["counters"]["sent"] > 0

        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            row = page.locator(f'tr[data-key="{demo["campaign_id"]}"]')
            expect(row).to_be_visible()
            assert int(row.locator('[data-field="sent"]').inner_text().replace(",", "")) == demo["counters"]["sent"]
            assert "key=" not in page.url
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "make-local.png"), full_page=True)
            context.close()
            assert errors == []
    finally:
        proc.send_signal(signal.SIGTERM)  # the stack stops its children (moto_server, chalice local) on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
