"""The tracking store port: what the ingest engine needs from storage, and the units it writes atomically."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.ingest.merge import MessagePlan, RecipientPlan

TRANSACTION_ITEM_LIMIT = 100  # DynamoDB TransactWriteItems


class TrackingStoreUnavailableError(RuntimeError):
    """The store kept failing transiently (throttling, conflicts, network) after retries: retry the work later."""


@dataclass(slots=True)
class Snapshot:
    """What one ``load`` read: summaries by message id, SOFTBOUNCE counters and ALL suppressions by hash."""

    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    softbounce: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppressions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def update(self, other: Snapshot, message_ids: Collection[str], hashes: Collection[str]) -> None:
        """Replace the given keys with ``other``'s view (absent there = absent now)."""
        for mid in message_ids:
            _replace(self.summaries, other.summaries, mid)
        for h in hashes:
            _replace(self.softbounce, other.softbounce, h)
            _replace(self.suppressions, other.suppressions, h)


def _replace(target: dict[str, dict[str, Any]], source: dict[str, dict[str, Any]], key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


@dataclass(slots=True)
class Transaction:
    """Writes that must happen together or not at all: summaries (with their dedup marks) and the recipient items
    their new events change. One summary alone is a single conditional write. Campaign counters are not written
    here: the counter consumer of the messages table's stream derives them from the summaries' changes."""

    messages: list[MessagePlan] = field(default_factory=list)
    recipients: list[RecipientPlan] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.messages) + sum(r.writes for r in self.recipients)


@dataclass(slots=True)
class CommitResult:
    """``ok`` or the keys whose conditions failed (reload them) / ``retry`` for a transient cancellation."""

    ok: bool
    conflict_messages: set[str] = field(default_factory=set)
    conflict_recipients: set[str] = field(default_factory=set)


class TrackingStore(Protocol):
    def load(
        self,
        message_ids: Collection[str],
        softbounce_hashes: Collection[str],
        suppression_hashes: Collection[str],
        *,
        consistent: bool = False,
    ) -> Snapshot:
        """Read summaries and recipient items (one BatchGetItem per 100 keys in DynamoDB).

        Summaries may be read eventually consistent unless ``consistent``: every write that follows is conditional
        on what was read (a stale summary fails its ``version`` condition and is re-read with ``consistent``), and a
        stale summary can only lack events, never show one that was not applied.

        SOFTBOUNCE items may be read eventually consistent too. A stale one that is written back fails its condition
        (``version``, or ``attribute_not_exists`` when it looked absent) and is re-read with ``consistent``. A stale
        one that leads to no write — a delivery finds no item, or an item without a count — leaves the item exactly
        as applying the batch at the moment the read reflects would have: the batch changed nothing there, so
        whatever was written since stands, as it does when a delivery is applied before a soft bounce that comes
        later (deliveries to recipients without a count are never recorded: docs/events.md). ALL suppressions are
        read strongly (their merge keeps what it read, e.g. the address an erasure masked, under a condition on the
        ``reason`` only)."""
        ...

    def commit(self, tx: Transaction) -> CommitResult:
        """Write ``tx`` atomically with its version conditions. Raises TrackingStoreUnavailableError."""
        ...

    def ensure_campaign(self, campaign_id: str, created_at: str, data_expires_at: int) -> bool:
        """Create the campaign's META item (status ``external``) unless one exists; True when created."""
        ...
