"""Test helpers of the dashboard: the app served over HTTP by chalice's own local server (what ``chalice local`` runs)
on 127.0.0.1, on moto tables seeded through the production writers, and Chromium from Debian driven by Playwright.

Seeding uses the code paths that fill the tables in production, not hand-written items: the campaign store writes
the META item, the sender's ledger records the sent (and suppressed) messages with their counters, the SES event
simulator of the local stack produces the events SES would publish for the mailbox-simulator addresses (duplicates
included), and the ingestion engine applies them.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.emails import recipient_hash
from runtime.stores.schema import iso
from tests.support.api_app import CHALICE_DIR, seed_campaign
from tests.support.api_tables import REGION, table_name

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SESAME_TEST_ARTIFACTS", REPO / "test-artifacts")) / "dashboard"
BUCKET = "sesame-test-campaigns"
DEMO_ID = "demo-spring-sale"
SCHEDULED_ID = "newsletter-june"
EXPIRED_ID = "winter-2025"
FILLERS = 20  # with the three above: 23 campaigns, two pages of 20
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# --------------------------------------------------------------------------------------------------------------
# Chromium


def chromium_path() -> str:
    """Debian's Chromium (or ``SESAME_CHROMIUM``). Missing: a failure in CI, a skip with the reason elsewhere."""
    candidates = [os.environ.get("SESAME_CHROMIUM", ""), "chromium", "chromium-browser"]
    for candidate in candidates:
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    reason = "Chromium not found: install it with `apt-get install -y chromium` (or set SESAME_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so CI must have it", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright over the system browser: no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (it is in the dev extras: make test installs it)", pytrace=False)
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------------------------------------------
# the app over HTTP


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with chalice's LocalDevServer (the server ``chalice local`` runs) on 127.0.0.1, a free port."""
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer

    class QuietHandler(ChaliceRequestHandler):
        def log_message(self, *args: object) -> None:  # no access log on the test output
            return

    config = Config.create(chalice_stage="dev-local", app_name="sesame", project_dir=str(CHALICE_DIR))
    original_class = app.__class__
    # what chalice.local.create_local_server does: current_request becomes thread-local (one thread per request)
    CustomLocalChalice.__bases__ = (LocalChalice, original_class)
    app.__class__ = CustomLocalChalice
    server = LocalDevServer(app, config, "127.0.0.1", 0, handler_cls=QuietHandler)
    # a browser context closed while a request is answered leaves a broken pipe: not an error of the app
    report = server.server.handle_error
    server.server.handle_error = lambda request, address: (
        None if isinstance(sys.exc_info()[1], ConnectionError) else report(request, address)
    )
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)
        app.__class__ = original_class


@contextlib.contextmanager
def stage_proxy(target: str, stage: str = "prod") -> Iterator[str]:
    """A stand-in for API Gateway's stage path on 127.0.0.1: ``/<stage>/x`` is forwarded to ``target/x`` (method,
    headers, body; redirects passed back, not followed); any other path answers 403 "Missing Authentication Token",
    as API Gateway does. Yields the stage's base URL."""
    import http.client
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    upstream = urlsplit(target)
    prefix = f"/{stage}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith(prefix + "/"):
                self._answer(403, {"Content-Type": "application/json"}, b'{"message": "Missing Authentication Token"}')
                return
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path[len(prefix) :], body=body or None, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                skip = ("content-length", "connection", "transfer-encoding", "server", "date")
                kept = {k: v for k, v in response.getheaders() if k.lower() not in skip}
                self._answer(response.status, kept, payload)
            finally:
                connection.close()

        def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------------------------------
# seeding


@dataclass
class Seeded:
    demo_recipients: list[str]
    sent: dict[str, str]  # recipient -> SES message id
    presuppressed: list[str]
    campaigns: list[str] = field(default_factory=list)

    def first(self, scenario: str) -> str:
        return next(r for r in self.demo_recipients if r.startswith(scenario + "+") and r in self.sent)


def seed_dashboard_data(ddb: Any, recipients: int = 80) -> Seeded:
    import boto3

    from runtime.events.normalize import event_from_message
    from runtime.ingest.engine import IngestEngine
    from runtime.local.simulator import (
        SentMail,
        SesEventSimulator,
        SimulatorOptions,
        demo_recipients,
        fake_ses_message_id,
        scenario_for,
    )
    from runtime.sender.ledger import Attribution, DynamoLedger, Outcome, local_message_id
    from runtime.stores.campaigns import CampaignRecord, DynamoCampaignStore
    from runtime.stores.suppressions import DynamoSuppressionStore, Suppression
    from runtime.stores.tracking import DynamoTrackingStore

    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(hours=3)
    campaigns = DynamoCampaignStore(ddb, table_name("campaigns"))
    suppressions = DynamoSuppressionStore(ddb, table_name("suppressions"))

    # other campaigns first (older), so the demo is the newest: 20 fillers, an expired one, a scheduled one
    for i in range(FILLERS):
        created = iso(now - timedelta(days=2 + i))
        seed_campaign(ddb, f"weekly-{i + 1:02d}", messages=200 + 10 * i, created_at=created, days=(created[:10],))
    seed_campaign(
        ddb,
        EXPIRED_ID,
        counters=False,
        created_at="2025-01-10T09:00:00.000Z",
        data_expires_at=int(now.timestamp()) - 60,
    )
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    payload_key = f"campaigns/{SCHEDULED_ID}/jobs.jsonl"
    s3.put_object(Bucket=BUCKET, Key=payload_key, Body=b"")
    campaigns.create(
        CampaignRecord(
            campaign_id=SCHEDULED_ID,
            status="scheduled",
            launch_at=iso(now + timedelta(days=7)),
            created_at=iso(now - timedelta(hours=4)),
            payload_bucket=BUCKET,
            payload_key=payload_key,
            segments=1,
            recipients=500,
            jobs=10,
            list_names=["newsletter"],
        )
    )

    # the demo campaign: created, sent through the ledger, events applied by the ingestion engine
    addresses = demo_recipients(recipients, seed=7)
    successes = [a for a in addresses if scenario_for(a).value == "success"]
    presuppressed = successes[:3]
    for email in presuppressed:
        suppressions.put(Suppression(recipient_hash(email), reason="MANUAL", email=email))
    campaigns.create(
        CampaignRecord(
            campaign_id=DEMO_ID,
            status="launched",
            launch_at=iso(started),
            created_at=iso(started),
            launched_at=iso(started),
            segments=2,
            recipients=len(addresses),
            jobs=4,
            enqueued_jobs=4,
            list_names=["newsletter", "customers"],
        )
    )
    rng = random.Random(7)
    ledger = DynamoLedger(
        ddb,
        control_table=table_name("control"),
        messages_table=table_name("messages"),
        campaigns_table=table_name("campaigns"),
        clock=lambda: started.timestamp(),
        sleep=lambda _: None,
    )
    mails: list[SentMail] = []
    entries = []
    for i, email in enumerate(addresses):
        list_name = "newsletter" if i % 2 == 0 else "customers"
        attribution = Attribution(
            recipient=email,
            recipient_hash=recipient_hash(email),
            campaign_id=DEMO_ID,
            list_name=list_name,
            config_set="sesame-test-marketing",
            from_address="Sesame Demo <demo@example.com>",
            subject="Spring is here",
        )
        if email in presuppressed:
            entries.append(
                (f"u{i}", Outcome("suppressed", local_message_id("job", f"u{i}"), reason="ALL"), attribution)
            )
            continue
        sent_at = started + timedelta(seconds=i)
        message_id = fake_ses_message_id(sent_at, rng)
        entries.append((f"u{i}", Outcome("sent", message_id, REGION), attribution))
        mails.append(
            SentMail(
                message_id=message_id,
                recipient=email,
                sent_at=sent_at,
                subject="Spring is here",
                configuration_set="sesame-test-marketing",
                campaign_id=DEMO_ID,
                list_name=list_name,
            )
        )
    ledger.claim("job", "seed", 60)  # as the sender consumer does: lease the job, record its outcomes
    ledger.record("job", entries)
    ledger.mark_done("job", {unit: outcome for unit, outcome, _ in entries})
    ledger.release("job", "seed")
    store = DynamoTrackingStore(
        ddb,
        messages_table=table_name("messages"),
        campaigns_table=table_name("campaigns"),
        suppressions_table=table_name("suppressions"),
        sleep=lambda _: None,
    )
    engine = IngestEngine(store, sleep=lambda _: None)
    events = SesEventSimulator(SimulatorOptions(seed=7, duplicate_rate=0.05, out_of_order=True)).schedule(mails)
    normalized = [event_from_message(e.message_text()) for e in events]
    for start in range(0, len(normalized), 50):
        result = engine.apply(normalized[start : start + 50])
        assert not result.failed, result.failed
    return Seeded(
        demo_recipients=addresses,
        sent={m.recipient: m.message_id for m in mails},
        presuppressed=presuppressed,
        campaigns=[DEMO_ID, SCHEDULED_ID, EXPIRED_ID] + [f"weekly-{i + 1:02d}" for i in range(FILLERS)],
    )
