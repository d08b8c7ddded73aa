"""The ingest engine: apply SES events exactly once (pure merge + a store port + fake and DynamoDB stores)."""

from __future__ import annotations

from runtime.ingest.engine import CREATED, DUPLICATE, UPDATED, ApplyResult, IngestEngine
from runtime.ingest.memory import InMemoryTrackingStore
from runtime.ingest.ports import Snapshot, TrackingStore, TrackingStoreUnavailableError, Transaction

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
