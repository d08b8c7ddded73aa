"""Test helpers of the api area: the Chalice app on moto tables, and seeders writing items the way the sender and
the ingestion engine do (docs/DESIGN.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from runtime.auth import hash_api_key
from runtime.emails import recipient_hash
from runtime.stores.dynamo import to_item
from runtime.stores.history import encode_entry
from runtime.stores.schema import COUNTERS, campaign_shard, campaign_sort_key
from tests.support.api_tables import ENV, REGION, moto_tables, table_name

CHALICE_DIR = Path(__file__).resolve().parents[2] / "chalice_app"
if str(CHALICE_DIR) not in sys.path:
    sys.path.insert(0, str(CHALICE_DIR))

API_KEY = "ssm_test-key-0123456789"
OTHER_KEY = "ssm_wrong-key-0123456789"
UNSUB_SECRET = "unsubscribe-secret-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ORIGIN = "https://dash.example.com"


def app_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SESAME_SECRETS_PARAMETER", "SESAME_FORWARD_URL"):
        monkeypatch.delenv(var, raising=False)
    values = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SESAME_ENVIRONMENT": ENV,
        "SESAME_API_KEY_HASHES": hash_api_key(API_KEY),
        "SESAME_PAGINATION_SECRET": "pagination-secret-0123456789",
        "SESAME_UNSUBSCRIBE_SECRETS": UNSUB_SECRET,
        "SESAME_CORS_ORIGINS": ORIGIN,
        "SESAME_LOG_LEVEL": "WARNING",
        **extra,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@contextmanager
def api_client(monkeypatch: pytest.MonkeyPatch, **extra: str) -> Iterator[tuple[Any, Any]]:
    """``(chalice.test.Client, low-level dynamodb client)`` with every table created on moto."""
    from chalice.test import Client

    app_env(monkeypatch, **extra)
    with moto_tables() as ddb:
        import app as app_module
        from chalicelib import wiring

        wiring.reset()
        try:
            with Client(app_module.app, project_dir=str(CHALICE_DIR)) as client:
                yield client, ddb
        finally:
            wiring.reset()


def put(ddb: Any, logical: str, item: dict[str, Any]) -> None:
    ddb.put_item(TableName=table_name(logical), Item=to_item(item))


def seed_message(
    ddb: Any,
    message_id: str,
    email: str,
    *,
    campaign_id: str = "c1",
    list_name: str = "news",
    status: str = "delivered",
    sent_at: str = "2026-05-01T10:00:00.000Z",
    events: int = 2,
) -> None:
    h = recipient_hash(email)
    put(
        ddb,
        "messages",
        {
            "message_id": message_id,
            "recipient": email,
            "recipient_hash": h,
            "campaign_id": campaign_id,
            "list_name": list_name,
            "status": status,
            "campaign_shard": campaign_shard(campaign_id, message_id),
            "campaign_sk": campaign_sort_key(sent_at, message_id),
            "sent_at": sent_at,
            "subject": "Hello",
            "history": [
                encode_entry(
                    f"2026-05-01T10:0{i}:30.000Z",
                    ["Send", "Delivery", "Open"][i % 3],
                    f"e{message_id}{i}",
                    [],
                    {"destination": [email]},
                )
                for i in range(events)
            ],
            "version": 3,
        },
    )


def seed_campaign(
    ddb: Any,
    campaign_id: str,
    *,
    messages: int = 1000,
    lists: tuple[str, ...] = ("news", "promo"),
    days: tuple[str, ...] = ("2026-05-01", "2026-05-02"),
    created_at: str = "2026-05-01T09:00:00.000Z",
    status: str = "launched",
    counters: bool = True,
    data_expires_at: int | None = None,
) -> None:
    """META plus TOTAL / LIST# / DAY# counters for ``messages`` sends, the shape the ingestion engine keeps."""
    meta: dict[str, Any] = {
        "campaign_id": campaign_id,
        "sk": "META",
        "status": status,
        "created_at": created_at,
        "listing_pk": "CAMPAIGN",
        "name": f"Campaign {campaign_id}",
    }
    if data_expires_at is not None:
        meta["data_expires_at"] = data_expires_at
    put(ddb, "campaigns", meta)
    if not counters:
        return

    def block(n: int) -> dict[str, int]:
        base = {name: 0 for name in COUNTERS}
        base.update(
            sent=n,
            delivered=n * 95 // 100,
            bounced_hard=n * 2 // 100,
            bounced_soft=n // 100,
            complained=n // 1000,
            opened_unique=n * 40 // 100,
            opened_total=n * 60 // 100,
            clicked_unique=n * 10 // 100,
            clicked_total=n * 15 // 100,
            unsubscribed=n // 200,
        )
        return base

    extra = {"first_event_at": "2026-05-01T10:00:00.000Z", "last_event_at": "2026-05-02T10:00:00.000Z"}
    put(ddb, "campaigns", {"campaign_id": campaign_id, "sk": "COUNTERS#TOTAL", **block(messages), **extra})
    for name in lists:
        put(
            ddb,
            "campaigns",
            {"campaign_id": campaign_id, "sk": f"COUNTERS#LIST#{name}", **block(messages // len(lists))},
        )
    for day in days:
        put(ddb, "campaigns", {"campaign_id": campaign_id, "sk": f"COUNTERS#DAY#{day}", **block(messages // len(days))})
