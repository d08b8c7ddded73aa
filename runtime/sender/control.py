"""Campaign control (issue 13): ``GET /campaigns/{id}`` (status and counts) and ``PATCH`` pause / resume / cancel.

Public status, from the ``META`` item's lifecycle (``runtime.stores.campaigns``) and its operator ``control``:

* ``cancelled`` / ``paused`` — the control, whatever the lifecycle;
* ``validating`` / ``invalid`` — its recipient files are being validated / had bad rows (never sent);
* ``scheduled`` / ``launching`` — waiting for its date / being enqueued;
* ``running`` — launched, recipients still to be sent; ``completed`` — every recipient has an outcome (sent,
  suppressed, failed or cancelled by the sender).

Transitions (``PATCH {"status": ...}``): ``paused`` from validating/scheduled/launching/running (a paused validation
stops where it is); ``running`` (resume) from paused
— a campaign whose date has not come goes back to ``scheduled`` (or ``validating``); ``cancelled`` from any state
but completed and invalid. Asking for
the status a campaign already has is idempotent (200, nothing written); anything else is a conflict (409). The sender
reads the control of each campaign in a batch (``CampaignStore.controls``): paused units wait on the queue, cancelled
ones are recorded ``cancelled`` and never sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from runtime.stores.campaigns import CampaignRecord, CampaignStateError, CampaignStore
from runtime.stores.schema import iso

PUBLIC_STATUSES = ("validating", "invalid", "scheduled", "launching", "running", "paused", "cancelled", "completed")
REQUESTABLE = ("paused", "running", "cancelled")
# counters of a campaign's recipients that have an outcome at the sender (sent is counted from SES's Send events)
SETTLED_COUNTERS = ("sent", "suppressed", "failed", "cancelled")
PUBLIC_COUNTERS = (
    "sent",
    "delivered",
    "bounced",
    "complained",
    "rejected",
    "suppressed",
    "failed",
    "cancelled",
    "opened_unique",
    "clicked_unique",
    "unsubscribed",
)


class CampaignControlError(ValueError):
    """The request body is not a valid control request (400)."""


class CampaignUnknownError(LookupError):
    """No such campaign submitted through sesame (404)."""


class CampaignTransitionError(RuntimeError):
    """The campaign cannot make that transition (409)."""


def public_status(record: CampaignRecord, counts: Mapping[str, int]) -> str:
    if record.control in ("paused", "cancelled"):
        return record.control
    if record.status in ("validating", "invalid", "scheduled", "launching"):
        return record.status
    settled = sum(int(counts.get(name, 0)) for name in SETTLED_COUNTERS)
    if record.recipients and not record.not_enqueued and settled >= record.recipients:
        return "completed"
    return "running"


class CampaignControl:
    def __init__(
        self,
        store: CampaignStore,
        counts: Callable[[str], Mapping[str, int]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``counts``: the campaign's summed counters (the tracking store's stats read, ``bounced`` included)."""
        self._store = store
        self._counts = counts
        self._clock = clock

    def _now(self) -> str:
        return iso(datetime.fromtimestamp(self._clock(), tz=UTC))

    def _record(self, campaign_id: str) -> CampaignRecord:
        record = self._store.get(campaign_id)
        if record is None or record.status in ("deleted", "external"):
            raise CampaignUnknownError(f"campaign {campaign_id} not found")
        return record

    def describe(self, campaign_id: str) -> dict[str, Any]:
        return self._describe(self._record(campaign_id))

    def _describe(self, record: CampaignRecord, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
        if counts is None:
            counts = self._counts(record.campaign_id)
        status = public_status(record, counts)
        doc = record.to_dict()
        doc["lifecycle"] = doc.pop("status")  # the scheduler's own state (validating | scheduled | launching | ...)
        doc["status"] = status
        doc["counts"] = {name: int(counts.get(name, 0)) for name in PUBLIC_COUNTERS}
        doc["control"] = (
            {
                "status": record.control,
                "reason": record.control_reason,
                "at": record.control_at,
                "by": record.control_by,
            }
            if record.control
            else None
        )
        return doc

    def change(self, campaign_id: str, body: Any, *, by: str = "api") -> dict[str, Any]:
        if not isinstance(body, dict) or "status" not in body:
            raise CampaignControlError('status: give {"status": "paused" | "running" | "cancelled"}')
        wanted = body["status"]
        if wanted not in REQUESTABLE:
            raise CampaignControlError(f"status: must be one of {', '.join(REQUESTABLE)}, got {str(wanted)[:40]!r}")
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise CampaignControlError("reason: a string of at most 500 characters")
        return self.apply(campaign_id, wanted, reason=reason or f"{wanted} by operator", by=by)

    def apply(self, campaign_id: str, wanted: str, *, reason: str, by: str) -> dict[str, Any]:
        """Move the campaign to ``wanted`` (``paused`` | ``running`` | ``cancelled``); idempotent."""
        record = self._record(campaign_id)
        counts = self._counts(campaign_id)
        current = public_status(record, counts)
        if wanted == "running" and current in ("validating", "scheduled", "launching", "running"):
            return self._describe(record, counts)
        if wanted == current:
            return self._describe(record, counts)
        if current in ("completed", "invalid"):
            raise CampaignTransitionError(f"campaign {campaign_id} is {current}; there is nothing left to {wanted}")
        if current == "cancelled":
            raise CampaignTransitionError(f"campaign {campaign_id} is cancelled; a cancelled campaign stays cancelled")
        if wanted == "running":  # resume (current is paused)
            allowed: tuple[str, ...] = ("paused",)
            control = ""
        elif wanted == "paused":
            allowed = ("",)
            control = "paused"
        else:
            allowed = ("", "paused")
            control = "cancelled"
        try:
            updated = self._store.set_control(
                campaign_id, control, reason=reason, at=self._now(), by=by, allowed=allowed
            )
        except CampaignStateError as exc:
            raise CampaignTransitionError(str(exc)) from exc
        return self._describe(updated, counts)
