"""The ingest engine: apply SES events exactly once (pure merge + a store port + fake and DynamoDB stores).

The names below are imported on first use (PEP 562): a Lambda importing ``runtime.ingest.engine`` runs this package
first, and must not pay for the in-memory store (tests and the local stack) on its cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.ingest.engine import CREATED, DUPLICATE, UPDATED, ApplyResult, IngestEngine
    from runtime.ingest.memory import InMemoryTrackingStore
    from runtime.ingest.ports import Snapshot, TrackingStore, TrackingStoreUnavailableError, Transaction

_HOMES = {
    "CREATED": "engine",
    "DUPLICATE": "engine",
    "UPDATED": "engine",
    "ApplyResult": "engine",
    "IngestEngine": "engine",
    "InMemoryTrackingStore": "memory",
    "Snapshot": "ports",
    "TrackingStore": "ports",
    "TrackingStoreUnavailableError": "ports",
    "Transaction": "ports",
}

__all__ = [
    "CREATED",
    "DUPLICATE",
    "UPDATED",
    "ApplyResult",
    "InMemoryTrackingStore",
    "IngestEngine",
    "Snapshot",
    "TrackingStore",
    "TrackingStoreUnavailableError",
    "Transaction",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
