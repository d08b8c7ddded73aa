"""``InMemoryTrackingStore``: the fake beside ``DynamoTrackingStore``, honouring the same conditions atomically."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from runtime.ingest.counting import aggregate, deltas_of_change
from runtime.ingest.ports import CommitResult, Snapshot, Transaction
from runtime.stores.schema import LISTING_PK, META, SOFTBOUNCE_SCOPE

ALL_SCOPE = "ALL"


class InMemoryTrackingStore:
    """Tables as dicts. ``before_commit`` (tests) runs inside ``commit`` before the conditions are checked, so a test
    can simulate a concurrent writer. The campaign counters are derived from each committed summary change the way
    the messages stream's consumer derives them (``runtime.ingest.counting``), at once and on the base items
    (``COUNTERS#TOTAL``, ...): what the stream consumer's items sum to."""

    def __init__(self, counter_ttl_days: int = 90) -> None:
        self.counter_ttl_days = counter_ttl_days
        self.messages: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[tuple[str, str], dict[str, Any]] = {}
        self.suppressions: dict[tuple[str, str], dict[str, Any]] = {}
        self.before_commit: Callable[[Transaction], None] | None = None
        self.commits = 0
        self.loads = 0

    def load(
        self,
        message_ids: Collection[str],
        softbounce_hashes: Collection[str],
        suppression_hashes: Collection[str],
        *,
        consistent: bool = False,
    ) -> Snapshot:
        self.loads += 1
        snap = Snapshot()
        for mid in message_ids:
            item = self.messages.get(mid)
            if item is not None:
                snap.summaries[mid] = item  # never mutated in place: commits replace items
        for h in softbounce_hashes:
            item = self.suppressions.get((h, SOFTBOUNCE_SCOPE))
            if item is not None:
                snap.softbounce[h] = item
        for h in suppression_hashes:
            item = self.suppressions.get((h, ALL_SCOPE))
            if item is not None:
                snap.suppressions[h] = item
        return snap

    def commit(self, tx: Transaction) -> CommitResult:
        if self.before_commit is not None:
            self.before_commit(tx)
        result = CommitResult(ok=True)
        for plan in tx.messages:
            current = self.messages.get(plan.message_id)
            if plan.created:
                if current is not None:
                    result.conflict_messages.add(plan.message_id)
            elif current is None or current.get("version") != plan.expected_version:
                result.conflict_messages.add(plan.message_id)
        for rp in tx.recipients:
            if rp.suppression is not None:
                seen = self.suppressions.get((rp.recipient_hash, ALL_SCOPE))
                if (seen is not None) != rp.suppression_existed or (
                    seen is not None and seen.get("reason") != rp.suppression_expected_reason
                ):
                    result.conflict_recipients.add(rp.recipient_hash)
            if rp.softbounce is None and not rp.softbounce_delete:
                continue
            current = self.suppressions.get((rp.recipient_hash, SOFTBOUNCE_SCOPE))
            expected = rp.softbounce_expected_version
            if (expected is None and current is not None) or (
                expected is not None and (current is None or current.get("version") != expected)
            ):
                result.conflict_recipients.add(rp.recipient_hash)
        if result.conflict_messages or result.conflict_recipients:
            result.ok = False
            return result
        self.commits += 1
        counted = []
        for plan in tx.messages:
            counted.extend(deltas_of_change(self.messages.get(plan.message_id), plan.item))
            self.messages[plan.message_id] = plan.item
        for rp in tx.recipients:
            key = (rp.recipient_hash, SOFTBOUNCE_SCOPE)
            if rp.softbounce_delete:
                self.suppressions.pop(key, None)
            elif rp.softbounce is not None:
                self.suppressions[key] = rp.softbounce
            if rp.suppression is not None:
                existing = self.suppressions.get((rp.recipient_hash, ALL_SCOPE), {})
                merged = {**existing, **{k: v for k, v in rp.suppression.items() if v is not None}}
                if rp.suppression.get("expires_at") is None:
                    merged.pop("expires_at", None)
                self.suppressions[(rp.recipient_hash, ALL_SCOPE)] = merged
        for (campaign, sort_key), delta in aggregate(counted).items():
            item = self.campaigns.setdefault((campaign, sort_key), {"campaign_id": campaign, "sk": sort_key})
            delta.add_to(item, self.counter_ttl_days)  # as the stream consumer's writes keep them
        return result

    def ensure_campaign(self, campaign_id: str, created_at: str, data_expires_at: int) -> bool:
        key = (campaign_id, META)
        if key in self.campaigns:
            return False
        self.campaigns[key] = {
            "campaign_id": campaign_id,
            "sk": META,
            "status": "external",
            "listing_pk": LISTING_PK,
            "created_at": created_at,
            "data_expires_at": data_expires_at,
        }
        return True

    # --- test helpers ---------------------------------------------------------------------------------------------

    def counters(self, campaign_id: str, sort_key: str) -> dict[str, int]:
        item = self.campaigns.get((campaign_id, sort_key), {})
        return {k: v for k, v in item.items() if isinstance(v, int) and k != "expires_at"}
