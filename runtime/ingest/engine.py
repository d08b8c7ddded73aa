"""The apply engine: exactly-once application of SES events under at-least-once, out-of-order delivery.

For a batch: one ``load`` (BatchGetItem) of the summaries and recipient items -> pure merge
(:mod:`runtime.ingest.merge`; each summary carries its compact event history) -> transactions of at most 100
items, each holding some messages' summaries (whose history entries are the dedup marks, written under a
``version`` condition) and the recipient items those messages change. The campaign counters follow from those
writes: the messages stream's consumer (``count_events``, ``runtime.ingest.stream``) counts the history entries each
write added, so a counter is never applied without its dedup mark, or the reverse. When a condition fails (a
concurrent writer), only the conflicting keys are re-read and the failed transactions' messages merged again;
duplicates found then change nothing.

Forwarding (``handover``): the events a merge finds new are handed to forwarding *before* anything is written, and
a failed hand-over fails them (they are retried). So every event that is ever committed was handed over by the
apply that committed it, whatever happens afterwards (a lost transaction answer, a conflict that turns it into a
"duplicate", a crash after the commit): no applied event goes unforwarded. The price is a rare second hand-over
when an apply dies between hand-over and commit; forwarded batches carry event ids for the receiver to drop it.
This depends only on the merge step, not on how the writes are shaped (docs/DESIGN.md "Forwarding").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.events.normalize import NormalizedEvent
from runtime.ingest.merge import (
    MessagePlan,
    RecipientPlan,
    merge_message,
    plan_recipients,
    recipient_keys,
)
from runtime.ingest.ports import (
    TRANSACTION_ITEM_LIMIT,
    TrackingStore,
    TrackingStoreUnavailableError,
    Transaction,
)
from runtime.logs import get_logger
from runtime.stores.schema import (
    UNTAGGED,
    ttl_epoch,
)

_log = get_logger(__name__)

CREATED = "created"
UPDATED = "updated"
DUPLICATE = "duplicate"


@dataclass(slots=True)
class ApplyResult:
    outcomes: dict[str, str] = field(default_factory=dict)  # event_id -> created | updated | duplicate
    applied: list[NormalizedEvent] = field(default_factory=list)  # newly applied events (not duplicates)
    failed: dict[str, str] = field(default_factory=dict)  # event_id -> reason (transient: retry later)
    untagged_messages: int = 0
    transactions: int = 0
    repeated_in_batch: int = 0  # the same event more than once in one batch (counted as duplicates)

    def count(self, outcome: str) -> int:
        extra = self.repeated_in_batch if outcome == DUPLICATE else 0
        return extra + sum(1 for o in self.outcomes.values() if o == outcome)


class IngestEngine:
    def __init__(
        self,
        store: TrackingStore,
        *,
        event_ttl_days: int = 90,
        soft_bounce_limit: int = 3,
        soft_bounce_suppress_days: int = 30,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        handover: Callable[[Sequence[NormalizedEvent]], None] | None = None,
    ) -> None:
        self.store = store
        self.handover = handover
        self.ttl_days = event_ttl_days
        self.soft_bounce_limit = soft_bounce_limit
        self.soft_bounce_suppress_days = soft_bounce_suppress_days
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._known_campaigns: set[str] = set()

    def apply(self, events: Iterable[NormalizedEvent]) -> ApplyResult:
        """Apply a batch exactly once. Transient store failures are reported per event in ``result.failed``."""
        result = ApplyResult()
        by_message: dict[str, list[NormalizedEvent]] = defaultdict(list)
        seen: set[str] = set()
        for event in events:
            if event.event_id in seen:
                result.repeated_in_batch += 1
                continue
            seen.add(event.event_id)
            by_message[event.message_id].append(event)
        if not by_message:
            return result
        softbounce_hashes, suppression_hashes = recipient_keys(e for evs in by_message.values() for e in evs)
        try:
            snapshot = self.store.load(by_message.keys(), softbounce_hashes, suppression_hashes)
        except TrackingStoreUnavailableError as exc:
            self._fail_all(result, by_message, f"load: {exc}")
            return result

        pending = set(by_message)
        handed: set[str] = set()  # event ids already handed to forwarding by this apply
        new_campaigns: dict[str, str] = {}
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(min(0.05 * 2**attempt, 1.0))
            plans: dict[str, MessagePlan] = {}
            recorded_sends: list[NormalizedEvent] = []  # Send events found applied (the sender records most)
            for mid in pending:
                plan = merge_message(snapshot.summaries.get(mid), by_message[mid], self.ttl_days)
                if plan is None:
                    for event in by_message[mid]:
                        result.outcomes[event.event_id] = DUPLICATE
                    dups: Iterable[NormalizedEvent] = by_message[mid]
                else:
                    plans[mid] = plan
                    dups = plan.duplicates
                if not attempt:
                    recorded_sends.extend(e for e in dups if e.event_type == "Send")
            pending = set(plans)
            if recorded_sends and self.handover is not None:
                # A message's Send entry is usually written by the sender with its record of the message
                # (runtime.sender.ledger._with_send_entry), so the Send event is found applied and needs no write —
                # but it was never handed to forwarding: hand it over now (again, for an SNS redelivery of a Send
                # ingestion applied itself: forwarding is at least once, receivers drop repeated event ids).
                try:
                    self.handover(recorded_sends)
                except Exception as exc:  # not handed over: SQS brings them back
                    _log.warning("forwarding hand-over failed", extra={"error": type(exc).__name__})
                    for event in recorded_sends:
                        result.outcomes.pop(event.event_id, None)
                        result.failed[event.event_id] = f"forwarding: {exc}"
                    self._fail_all(result, {m: by_message[m] for m in pending}, f"forwarding: {exc}")
                    return result
            if not plans:
                break
            recipients = plan_recipients(
                plans.values(),
                snapshot.softbounce,
                snapshot.suppressions,
                soft_bounce_limit=self.soft_bounce_limit,
                soft_bounce_suppress_days=self.soft_bounce_suppress_days,
            )
            unhanded = [e for plan in plans.values() for e in plan.new_events if e.event_id not in handed]
            if unhanded and self.handover is not None:
                try:
                    self.handover(unhanded)
                except Exception as exc:  # not handed over -> not applied: SQS brings them back
                    _log.warning("forwarding hand-over failed", extra={"error": type(exc).__name__})
                    self._fail_all(result, {m: by_message[m] for m in pending}, f"forwarding: {exc}")
                    return result
                handed.update(e.event_id for e in unhanded)
            conflicts_m: set[str] = set()
            conflicts_r: set[str] = set()
            for tx in self._transactions(plans, recipients):
                try:
                    outcome = self.store.commit(tx)
                except TrackingStoreUnavailableError as exc:  # the store already retried: report, don't loop
                    _log.warning("tracking transaction failed", extra={"error": str(exc)[:200]})
                    unavailable = {plan.message_id for plan in tx.messages}
                    pending -= unavailable
                    self._fail_all(result, {m: by_message[m] for m in unavailable}, f"store unavailable: {exc}")
                    continue
                if not outcome.ok:
                    conflicts_m |= outcome.conflict_messages
                    conflicts_r |= outcome.conflict_recipients
                    continue
                result.transactions += 1
                for plan in tx.messages:
                    pending.discard(plan.message_id)
                    self._record(result, plan)
                    campaign = str(plan.item.get("campaign_id") or UNTAGGED)
                    if campaign not in self._known_campaigns:
                        ts = min(e.timestamp for e in plan.new_events)
                        new_campaigns[campaign] = min(new_campaigns.get(campaign, ts), ts)
            if not pending:
                break
            if conflicts_m or conflicts_r:
                reload_hashes = set(conflicts_r)
                for mid in conflicts_m:
                    for event in by_message[mid]:
                        reload_hashes.update(event.recipient_hashes)
                sb = reload_hashes & (softbounce_hashes | conflicts_r)
                sp = reload_hashes & suppression_hashes
                try:
                    fresh = self.store.load(conflicts_m, sb, sp, consistent=True)
                except TrackingStoreUnavailableError:
                    continue
                snapshot.update(fresh, conflicts_m, reload_hashes)
                _log.info(
                    "tracking write conflict; reloaded",
                    extra={"messages": len(conflicts_m), "recipients": len(conflicts_r), "attempt": attempt + 1},
                )
        if pending:
            self._fail_all(result, {m: by_message[m] for m in pending}, "store unavailable after retries")
        self._ensure_campaigns(new_campaigns)
        if result.untagged_messages:
            _log.warning("events without a campaign_id tag counted as untagged", extra=_untagged_fields(result))
        return result

    # --- helpers --------------------------------------------------------------------------------------------------

    def _record(self, result: ApplyResult, plan: MessagePlan) -> None:
        for i, event in enumerate(plan.new_events):
            result.outcomes[event.event_id] = CREATED if plan.created and i == 0 else UPDATED
            result.applied.append(event)
        for event in plan.duplicates:
            result.outcomes[event.event_id] = DUPLICATE
        if plan.untagged:
            result.untagged_messages += 1

    @staticmethod
    def _fail_all(result: ApplyResult, by_message: dict[str, list[NormalizedEvent]], reason: str) -> None:
        for events in by_message.values():
            for event in events:
                if event.event_id not in result.outcomes:
                    result.failed[event.event_id] = reason

    def _transactions(self, plans: dict[str, MessagePlan], recipients: dict[str, RecipientPlan]) -> list[Transaction]:
        """A message whose events change no recipient item is one write of its own (a conditional put: the summary
        holds its dedup marks, and the campaign counters follow from that write through the table's stream).
        Messages that change recipient items (bounces, complaints, unsubscribes, the deliveries that reset a
        soft-bounce count) are packed into transactions of <= 100 items, keeping messages that share a recipient
        item together."""
        parent: dict[str, str] = {mid: mid for mid in plans}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for rp in recipients.values():
            mids = [m for m in rp.message_ids if m in parent]
            for other in mids[1:]:
                parent[find(other)] = find(mids[0])
        groups: dict[str, list[str]] = defaultdict(list)
        for mid in plans:
            groups[find(mid)].append(mid)
        group_recipients: dict[str, list[RecipientPlan]] = defaultdict(list)
        for rp in recipients.values():
            anchor = next((m for m in rp.message_ids if m in parent), None)
            if anchor is not None:
                group_recipients[find(anchor)].append(rp)

        transactions: list[Transaction] = []
        units: list[tuple[list[MessagePlan], list[RecipientPlan]]] = []
        for root, mids in groups.items():
            group_plans = [plans[m] for m in mids]
            rps = group_recipients.get(root, [])
            if not rps:
                transactions.extend(Transaction([plan], []) for plan in group_plans)
            elif _TxBuilder().fits(group_plans, rps):
                units.append((group_plans, rps))
            else:
                # Too big for one transaction (many messages sharing a recipient): split it. Still exactly once:
                # the SOFTBOUNCE item is a set of bounce ids under a version condition, so a retried message can
                # neither count twice nor overwrite a newer counter.
                units.append((group_plans[:1], rps))
                transactions.extend(Transaction([plan], []) for plan in group_plans[1:])
        current = _TxBuilder()
        for group_plans, rps in units:
            if current.size and not current.fits(group_plans, rps):
                transactions.append(current.build())
                current = _TxBuilder()
            current.add(group_plans, rps)
        if current.size:
            transactions.append(current.build())
        return transactions

    def _ensure_campaigns(self, campaigns: dict[str, str]) -> None:
        for campaign, first_at in campaigns.items():
            try:
                self.store.ensure_campaign(campaign, first_at, ttl_epoch(first_at, self.ttl_days))
            except TrackingStoreUnavailableError as exc:  # retried with the campaign's next batch
                _log.warning("campaign META write failed", extra={"campaign_id": campaign, "error": str(exc)[:200]})
                continue
            self._known_campaigns.add(campaign)


class _TxBuilder:
    def __init__(self) -> None:
        self.messages: list[MessagePlan] = []
        self.recipients: list[RecipientPlan] = []
        self.size = 0

    def fits(self, plans: list[MessagePlan], recipients: list[RecipientPlan]) -> bool:
        extra = len(plans) + sum(r.writes for r in recipients)
        return self.size + extra <= TRANSACTION_ITEM_LIMIT

    def add(self, plans: list[MessagePlan], recipients: list[RecipientPlan]) -> None:
        self.messages.extend(plans)
        self.recipients.extend(recipients)
        self.size += len(plans) + sum(r.writes for r in recipients)

    def build(self) -> Transaction:
        return Transaction(self.messages, self.recipients)


def _untagged_fields(result: ApplyResult) -> dict[str, Any]:
    return {"untagged_messages": result.untagged_messages, "campaign_id": UNTAGGED}
