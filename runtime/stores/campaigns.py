"""Campaign ``META`` items (campaigns table, ``sk`` = ``META``): the scheduler's record of each campaign.

Lifecycle: a campaign whose recipients are S3 files starts ``validating`` (``schedule_pk`` = ``VALIDATING``: the
per-minute check claims it with a lease and validates the files in steps, committing its cursor with
``advance_validation``) and ends ``invalid`` (bad rows; never launched) or ``scheduled``. ``scheduled``
(``schedule_pk`` = ``SCHEDULED``, found by the per-minute check through ``schedule-index``) -> ``launching``
(claimed with a lease; still indexed so a crashed launch is picked up again) -> ``launched`` (``schedule_pk``
removed). ``deleted`` is allowed only before launch. Campaigns sent immediately are written directly as
``launched``. Counter items (``COUNTERS#...``) are written by the sender (``suppressed``, ``failed``,
``cancelled``), the unsubscribe endpoint and the messages stream's consumer ``count_events``
(``runtime.stores.counters``: the counters of SES events), never here.

Operator control (issue 13) is a separate attribute, ``control`` (``paused`` | ``cancelled``, with
``control_reason``, ``control_at``, ``control_by``), written only by :meth:`DynamoCampaignStore.set_control` and
never by ``save``, so the launcher's lifecycle writes and an operator's pause cannot overwrite each other. A paused or
cancelled campaign leaves ``schedule-index`` (the per-minute check neither sees nor claims it); resuming a campaign
still ``scheduled`` (or ``launching`` with a stored payload) puts it back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from runtime.stores import dynamo
from runtime.stores.schema import LISTING_PK, META, SCHEDULE_PK, VALIDATING_PK, iso

STATUSES = ("validating", "invalid", "scheduled", "launching", "launched", "deleted", "failed")
CONTROLS = ("paused", "cancelled")


class CampaignExistsError(RuntimeError):
    """A campaign with this id already exists."""


class CampaignStateError(RuntimeError):
    """The campaign is not in a state that allows the change (e.g. re-dating a launched campaign)."""


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    campaign_id: str
    status: str
    launch_at: str
    created_at: str
    updated_at: str = ""
    payload_bucket: str = ""
    payload_key: str = ""
    segments: int = 0
    recipients: int = 0
    jobs: int = 0
    enqueued_jobs: int = 0
    not_enqueued: list[str] = field(default_factory=list)  # job ids
    launched_at: str = ""
    lease_until: str = ""
    list_names: list[str] = field(default_factory=list)
    config_sets: list[str] = field(default_factory=list)  # the configuration sets its segments send through
    # operator control, written by ``set_control`` only (``to_item``/``save`` never touch it)
    control: str = ""  # "" | paused | cancelled
    control_reason: str = ""
    control_at: str = ""
    control_by: str = ""
    # chunked launch of recipient files (runtime/sender/launch.py); launch_total 0 = jobs enqueued in one go
    launch_total: int = 0  # recipients to enqueue
    launch_cursor: str = ""  # "<segment>|<byte offset>|<line>", committed after each chunk's enqueue
    launch_enqueued: int = 0  # recipients enqueued so far
    launch_jobs: int = 0
    launch_chunks: int = 0
    launch_error: str = ""  # why the last step stopped early
    # validation of recipient files across invocations (runtime/sender/validation.py), written only by create and
    # advance_validation: the cursor "<segment>|<byte offset>|<line>" ("" = not a file campaign) and the progress
    # document (JSON: per file rows / bad rows / duplicates so far, the first bad rows by line)
    validation_cursor: str = ""
    validation: str = ""

    def validation_progress(self) -> dict[str, Any] | None:
        """Validation progress (``GET /campaigns/{id}``): per file and in all, with the first bad rows."""
        if not self.validation:
            return None
        doc: dict[str, Any] = json.loads(self.validation)
        files = doc.get("files", [])
        state = "running" if self.status == "validating" else ("failed" if self.status == "invalid" else "done")
        errors: list[str] = []
        for f in files:
            field_name = f"segments.{f['segment']}.recipientsS3Uri"
            errors.extend(f"{field_name}: {e}" for e in f.get("errors", []))
            if f.get("bad_rows", 0) > len(f.get("errors", [])):
                more = f["bad_rows"] - len(f.get("errors", []))
                errors.append(f"{field_name}: {more} more bad rows ({f['bad_rows']} in all)")
        return {
            "state": state,
            "rows_validated": sum(f.get("rows", 0) + f.get("bad_rows", 0) + f.get("duplicates", 0) for f in files),
            "recipients": sum(f.get("rows", 0) for f in files),
            "bad_rows": sum(f.get("bad_rows", 0) for f in files),
            "duplicates_skipped": sum(f.get("duplicates", 0) for f in files),
            "files": files,
            "errors": errors,
        }

    def launch(self) -> dict[str, Any]:
        """Launch progress (``GET /campaigns/{id}``)."""
        if self.status in ("validating", "invalid"):
            return {
                "mode": "chunked",
                "state": "pending" if self.status == "validating" else "never",
                "recipients_total": self.launch_total,
                "recipients_enqueued": 0,
                "progress": 0.0,
                "jobs_enqueued": 0,
                "chunks": 0,
                "cursor": None,
                "last_error": None,
            }
        if not self.launch_total:
            state = {"scheduled": "pending", "launching": "running", "launched": "done"}.get(self.status, self.status)
            return {
                "mode": "single",
                "state": state,
                "jobs": self.jobs,
                "jobs_enqueued": self.enqueued_jobs,
                "recipients_total": self.recipients,
            }
        state = {"scheduled": "pending", "launching": "running", "launched": "done"}.get(self.status, self.status)
        cursor = None
        if self.launch_cursor:
            segment, offset, line = (int(x) for x in self.launch_cursor.split("|"))
            cursor = {"segment": segment, "byte_offset": offset, "line": line}
        return {
            "mode": "chunked",
            "state": state,
            "recipients_total": self.launch_total,
            "recipients_enqueued": self.launch_enqueued,
            "progress": round(self.launch_enqueued / self.launch_total, 4),
            "jobs_enqueued": self.launch_jobs,
            "chunks": self.launch_chunks,
            "cursor": cursor,
            "last_error": self.launch_error or None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "status": self.status,
            "launch_at": self.launch_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "launched_at": self.launched_at or None,
            "segments": self.segments,
            "recipients": self.recipients,
            "jobs": self.jobs,
            "enqueued_jobs": self.enqueued_jobs,
            "not_enqueued_jobs": list(self.not_enqueued),
            "list_names": list(self.list_names),
            "config_sets": list(self.config_sets),
            "payload": f"s3://{self.payload_bucket}/{self.payload_key}" if self.payload_key else None,
            "launch": self.launch(),
            "validation": self.validation_progress(),
        }

    def to_item(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "campaign_id": self.campaign_id,
            "sk": META,
            "listing_pk": LISTING_PK,
            "status": self.status,
            "launch_at": self.launch_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "payload_bucket": self.payload_bucket or None,
            "payload_key": self.payload_key or None,
            "segments": self.segments,
            "recipients": self.recipients,
            "jobs": self.jobs,
            "enqueued_jobs": self.enqueued_jobs,
            "not_enqueued": list(self.not_enqueued) or None,
            "launched_at": self.launched_at or None,
            "lease_until": self.lease_until or None,
            "list_names": list(self.list_names) or None,
            "launch_total": self.launch_total or None,
            "launch_cursor": self.launch_cursor or None,
            "launch_enqueued": self.launch_enqueued if self.launch_total else None,
            "launch_jobs": self.launch_jobs if self.launch_total else None,
            "launch_chunks": self.launch_chunks if self.launch_total else None,
            "launch_error": self.launch_error or None,
            "config_sets": list(self.config_sets) or None,
            "validation_cursor": self.validation_cursor or None,
            "validation": self.validation or None,
        }
        if self.status == "scheduled" or (self.status == "launching" and self.payload_key):
            data["schedule_pk"] = SCHEDULE_PK  # a launch with a stored payload can be resumed by the check
        elif self.status == "validating":
            data["schedule_pk"] = VALIDATING_PK  # the check validates the files in steps (validating())
        return dynamo.to_item(data)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> CampaignRecord:
        d = dynamo.from_item(item)
        return cls(
            campaign_id=d["campaign_id"],
            status=d.get("status", "external"),
            launch_at=d.get("launch_at", ""),
            created_at=d.get("created_at", ""),
            updated_at=d.get("updated_at", ""),
            payload_bucket=d.get("payload_bucket", ""),
            payload_key=d.get("payload_key", ""),
            segments=int(d.get("segments", 0)),
            recipients=int(d.get("recipients", 0)),
            jobs=int(d.get("jobs", 0)),
            enqueued_jobs=int(d.get("enqueued_jobs", 0)),
            not_enqueued=list(d.get("not_enqueued", [])),
            launched_at=d.get("launched_at", ""),
            lease_until=d.get("lease_until", ""),
            list_names=list(d.get("list_names", [])),
            launch_total=int(d.get("launch_total", 0)),
            launch_cursor=d.get("launch_cursor", ""),
            launch_enqueued=int(d.get("launch_enqueued", 0)),
            launch_jobs=int(d.get("launch_jobs", 0)),
            launch_chunks=int(d.get("launch_chunks", 0)),
            launch_error=d.get("launch_error", ""),
            config_sets=list(d.get("config_sets", [])),
            validation_cursor=d.get("validation_cursor", "") or "",
            validation=d.get("validation", "") or "",
            control=d.get("control", "") or "",
            control_reason=d.get("control_reason", "") or "",
            control_at=d.get("control_at", "") or "",
            control_by=d.get("control_by", "") or "",
        )


class CampaignStore(Protocol):
    def create(self, record: CampaignRecord) -> None: ...

    def get(self, campaign_id: str) -> CampaignRecord | None: ...

    def due(self, now: str, limit: int = 25) -> list[CampaignRecord]: ...

    def claim_launch(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None: ...

    def save(self, record: CampaignRecord, *, expect_status: tuple[str, ...]) -> CampaignRecord: ...

    def validating(self, limit: int = 25) -> list[CampaignRecord]:
        """Campaigns whose recipient files are being validated (``schedule-index``, partition ``VALIDATING``)."""
        ...

    def list(self, limit: int = 50) -> list[CampaignRecord]: ...

    def claim_validation(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None:
        """Take the validation lease (status ``validating``, no lease or an expired one, no operator control, the
        payload in ``payload_bucket``); None when another invocation holds it or the campaign moved on."""
        ...

    def advance_validation(self, campaign_id: str, expected: str, cursor: str, progress: str) -> bool:
        """Move ``validation_cursor`` from ``expected`` to ``cursor`` and store ``progress`` (one conditional write,
        only while ``validating``); False when the stored cursor is neither (another invocation moved it)."""
        ...

    def advance_launch(self, campaign_id: str, expected: str, cursor: str, recipients: int, jobs: int) -> bool:
        """Move ``launch_cursor`` from ``expected`` to ``cursor`` and add the counts (one conditional write); False
        when the stored cursor is neither (another invocation moved it)."""
        ...

    def set_control(
        self, campaign_id: str, control: str, *, reason: str, at: str, by: str, allowed: tuple[str, ...]
    ) -> CampaignRecord:
        """Set (``paused``/``cancelled``) or clear (``""``) the operator control, only while the stored control is
        one of ``allowed`` ("" = none) and the campaign exists and is not deleted; returns the record as stored.
        Raises :class:`CampaignStateError` when the condition fails."""
        ...

    def controls(self, campaign_ids: Collection[str]) -> dict[str, str]:
        """The control (``paused``/``cancelled``) of each campaign that has one (the sender's per-batch check)."""
        ...


def _now() -> str:
    return iso(datetime.now(UTC))


def _code(exc: Exception) -> str | None:
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return str(code) if code else None


# written only by advance_launch / advance_validation (and create): a save() of a record read before a chunk must not
# set them back
_LAUNCH_PROGRESS = frozenset(
    {"launch_cursor", "launch_enqueued", "launch_jobs", "launch_chunks", "validation_cursor", "validation"}
)


class DynamoCampaignStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, campaign_id: str) -> dict[str, Any]:
        return {"campaign_id": {"S": campaign_id}, "sk": {"S": META}}

    def create(self, record: CampaignRecord) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(campaign_id) OR #s = :deleted OR #s = :external",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":deleted": {"S": "deleted"}, ":external": {"S": "external"}},
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise CampaignExistsError(f"campaign {record.campaign_id} already exists") from exc
            raise

    def get(self, campaign_id: str) -> CampaignRecord | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(campaign_id), ConsistentRead=True).get("Item")
        return CampaignRecord.from_item(item) if item else None

    def due(self, now: str, limit: int = 25) -> list[CampaignRecord]:
        response = self._client.query(
            TableName=self._table,
            IndexName="schedule-index",
            KeyConditionExpression="schedule_pk = :s AND launch_at <= :now",
            ExpressionAttributeValues={":s": {"S": SCHEDULE_PK}, ":now": {"S": now}},
            Limit=limit,
        )
        return [CampaignRecord.from_item(i) for i in response.get("Items", [])]

    def validating(self, limit: int = 25) -> list[CampaignRecord]:
        response = self._client.query(
            TableName=self._table,
            IndexName="schedule-index",
            KeyConditionExpression="schedule_pk = :s",
            ExpressionAttributeValues={":s": {"S": VALIDATING_PK}},
            Limit=limit,
        )
        return [CampaignRecord.from_item(i) for i in response.get("Items", [])]

    def claim_validation(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None:
        return self._claim(
            campaign_id,
            condition="#s = :validating AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            update="SET lease_until = :lease, updated_at = :now",
            values={":validating": {"S": "validating"}, ":lease": {"S": lease_until}, ":now": {"S": now}},
            payload_bucket=payload_bucket,
        )

    def advance_validation(self, campaign_id: str, expected: str, cursor: str, progress: str) -> bool:
        try:
            dynamo.with_retries(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key=self._key(campaign_id),
                    UpdateExpression="SET validation_cursor = :new, validation = :p, updated_at = :now",
                    ConditionExpression="validation_cursor = :old AND #s = :validating",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":new": {"S": cursor},
                        ":old": {"S": expected},
                        ":p": {"S": progress},
                        ":now": {"S": _now()},
                        ":validating": {"S": "validating"},
                    },
                )
            )
            return True
        except Exception as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        # a retry of our own write whose answer was lost finds the cursor already moved to ``cursor``
        current = self.get(campaign_id)
        return current is not None and current.validation_cursor == cursor

    def claim_launch(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None:
        """Move scheduled (or a launch whose lease ran out) to launching; None if someone else has it.

        With ``payload_bucket``, only a campaign whose payload is stored there can be claimed. The campaigns table
        is a global table: a conditional write is checked against this region's replica only, and replication is
        last-writer-wins, so two regions claiming one campaign could both succeed. Keying the claim by the payload's
        (regional) bucket makes exactly one region — the one the campaign was submitted in — able to claim it."""
        return self._claim(
            campaign_id,
            condition="(#s = :scheduled OR (#s = :launching AND lease_until < :now))",
            update="SET #s = :launching, lease_until = :lease, updated_at = :now",
            values={
                ":launching": {"S": "launching"},
                ":scheduled": {"S": "scheduled"},
                ":lease": {"S": lease_until},
                ":now": {"S": now},
            },
            payload_bucket=payload_bucket,
        )

    def _claim(
        self, campaign_id: str, *, condition: str, update: str, values: dict[str, Any], payload_bucket: str | None
    ) -> CampaignRecord | None:
        """One conditional lease write on a campaign without an operator's control; the record as stored, or None
        when the condition fails (another invocation holds the lease, the campaign moved on, or it is paused)."""
        condition += " AND attribute_not_exists(#ctl)"
        if payload_bucket is not None:
            condition += " AND payload_bucket = :bucket"
            values = {**values, ":bucket": {"S": payload_bucket}}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#ctl": "control"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return CampaignRecord.from_item(response["Attributes"])

    def save(self, record: CampaignRecord, *, expect_status: tuple[str, ...]) -> CampaignRecord:
        """Write the record's attributes with UpdateItem (attributes other writers own, such as the ingestion
        engine's ``data_expires_at``, are kept), only if the stored status is one of ``expect_status``."""
        item = record.to_item()
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = []
        for i, (name, value) in enumerate(item.items()):
            if name in ("campaign_id", "sk") or name in _LAUNCH_PROGRESS:
                continue
            names[f"#a{i}"] = name
            values[f":a{i}"] = value
            sets.append(f"#a{i} = :a{i}")
        removable = ("schedule_pk", "lease_until", "not_enqueued", "payload_bucket", "payload_key", "launch_error")
        removes = [n for n in removable if n not in item]
        for i, name in enumerate(removes):
            names[f"#r{i}"] = name
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        names["#st"] = "status"
        for i, status in enumerate(expect_status):
            values[f":e{i}"] = {"S": status}
        condition = " OR ".join(f"#st = :e{i}" for i in range(len(expect_status)))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(record.campaign_id),
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(campaign_id) AND ({condition})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise CampaignStateError(
                    f"campaign {record.campaign_id} is not {' or '.join(expect_status)} any more"
                ) from exc
            raise
        return record

    def advance_launch(self, campaign_id: str, expected: str, cursor: str, recipients: int, jobs: int) -> bool:
        try:
            dynamo.with_retries(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key=self._key(campaign_id),
                    UpdateExpression=(
                        "SET launch_cursor = :new, updated_at = :now "
                        "ADD launch_enqueued :r, launch_jobs :j, launch_chunks :c"
                    ),
                    ConditionExpression="launch_cursor = :old AND #s = :launching",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":new": {"S": cursor},
                        ":old": {"S": expected},
                        ":now": {"S": _now()},
                        ":launching": {"S": "launching"},
                        ":r": {"N": str(recipients)},
                        ":j": {"N": str(jobs)},
                        ":c": {"N": "1" if recipients else "0"},
                    },
                )
            )
            return True
        except Exception as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        # a retry of our own write whose answer was lost finds the cursor already moved to ``cursor``
        current = self.get(campaign_id)
        return current is not None and current.launch_cursor == cursor

    def list(self, limit: int = 50) -> list[CampaignRecord]:
        response = self._client.query(
            TableName=self._table,
            IndexName="listing-index",
            KeyConditionExpression="listing_pk = :p",
            ExpressionAttributeValues={":p": {"S": LISTING_PK}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [CampaignRecord.from_item(i) for i in response.get("Items", [])]

    def set_control(
        self, campaign_id: str, control: str, *, reason: str, at: str, by: str, allowed: tuple[str, ...]
    ) -> CampaignRecord:
        names = {"#st": "status", "#c": "control", "#sp": "schedule_pk"}
        values: dict[str, Any] = {":deleted": {"S": "deleted"}, ":now": {"S": at}}
        allowed_set = [c for c in allowed if c]
        parts = ["attribute_not_exists(#c)"] if "" in allowed else []
        for i, value in enumerate(allowed_set):
            values[f":al{i}"] = {"S": value}
            parts.append(f"#c = :al{i}")
        condition = f"attribute_exists(campaign_id) AND #st <> :deleted AND ({' OR '.join(parts) or 'false'})"
        if control:
            values.update({":c": {"S": control}, ":r": {"S": reason[:500]}, ":by": {"S": by[:100]}})
            expression = (
                "SET #c = :c, control_reason = :r, control_at = :now, control_by = :by, updated_at = :now REMOVE #sp"
            )
        else:
            expression = "SET updated_at = :now REMOVE #c, control_reason, control_at, control_by"
            del names["#sp"]
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise CampaignStateError(f"campaign {campaign_id} changed meanwhile; read it and try again") from exc
            raise
        record = CampaignRecord.from_item(response["Attributes"])
        if not control and record.status == "validating":
            with contextlib.suppress(CampaignStateError):  # the check validates it again
                self._put_back_on_schedule(campaign_id, VALIDATING_PK, ("validating",))
        elif not control and (record.status == "scheduled" or (record.status == "launching" and record.payload_key)):
            # back on schedule-index: the per-minute check launches it when due (as before the pause); a pause that
            # came in between keeps it off (the condition fails, which is what that pause wants)
            with contextlib.suppress(CampaignStateError):
                self._put_back_on_schedule(campaign_id, SCHEDULE_PK, ("scheduled", "launching"))
        return record

    def _put_back_on_schedule(self, campaign_id: str, partition: str, statuses: tuple[str, ...]) -> None:
        values = {":s": {"S": partition}} | {f":st{i}": {"S": status} for i, status in enumerate(statuses)}
        wanted = " OR ".join(f"#st = :st{i}" for i in range(len(statuses)))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression="SET #sp = :s",
                ConditionExpression=f"attribute_not_exists(#c) AND ({wanted})",
                ExpressionAttributeNames={"#st": "status", "#c": "control", "#sp": "schedule_pk"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise CampaignStateError(f"campaign {campaign_id} changed meanwhile") from exc
            raise

    def controls(self, campaign_ids: Collection[str]) -> dict[str, str]:
        """One ``BatchGetItem`` per 100 campaigns, projecting only ``control`` (strongly consistent: a pause is seen
        by the next batch; unprocessed keys are asked again)."""
        found: dict[str, str] = {}
        ids = sorted(set(campaign_ids))
        for start in range(0, len(ids), 100):
            keys: list[dict[str, Any]] = [self._key(c) for c in ids[start : start + 100]]
            for _ in range(5):
                response = self._client.batch_get_item(
                    RequestItems={
                        self._table: {
                            "Keys": keys,
                            "ProjectionExpression": "campaign_id, #c",
                            "ExpressionAttributeNames": {"#c": "control"},
                            "ConsistentRead": True,
                        }
                    }
                )
                for item in response.get("Responses", {}).get(self._table, []):
                    control = item.get("control", {}).get("S", "")
                    if control:
                        found[item["campaign_id"]["S"]] = control
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
            if keys:
                raise dynamo.DynamoUnavailableError("campaign controls: keys left unprocessed")
        return found


@dataclass
class InMemoryCampaignStore:
    items: dict[str, CampaignRecord] = field(default_factory=dict)
    clock: Callable[[], str] = _now

    def create(self, record: CampaignRecord) -> None:
        current = self.items.get(record.campaign_id)
        if current is not None and current.status not in ("deleted", "external"):
            raise CampaignExistsError(f"campaign {record.campaign_id} already exists")
        self.items[record.campaign_id] = record

    def get(self, campaign_id: str) -> CampaignRecord | None:
        return self.items.get(campaign_id)

    def due(self, now: str, limit: int = 25) -> list[CampaignRecord]:
        found = [
            r
            for r in self.items.values()
            if (r.status == "scheduled" or (r.status == "launching" and r.payload_key))
            and r.launch_at <= now
            and not r.control
        ]
        return sorted(found, key=lambda r: r.launch_at)[:limit]

    def validating(self, limit: int = 25) -> list[CampaignRecord]:
        found = [r for r in self.items.values() if r.status == "validating" and not r.control]
        return sorted(found, key=lambda r: r.launch_at)[:limit]

    def claim_validation(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None:
        r = self.items.get(campaign_id)
        if r is None or r.status != "validating" or r.control or (r.lease_until and r.lease_until >= now):
            return None
        if payload_bucket is not None and r.payload_bucket != payload_bucket:
            return None
        claimed = replace(r, lease_until=lease_until, updated_at=now)
        self.items[campaign_id] = claimed
        return claimed

    def advance_validation(self, campaign_id: str, expected: str, cursor: str, progress: str) -> bool:
        current = self.items.get(campaign_id)
        if current is None or current.status != "validating" or current.validation_cursor != expected:
            return current is not None and current.validation_cursor == cursor
        self.items[campaign_id] = replace(current, validation_cursor=cursor, validation=progress)
        return True

    def claim_launch(
        self, campaign_id: str, now: str, lease_until: str, *, payload_bucket: str | None = None
    ) -> CampaignRecord | None:
        r = self.items.get(campaign_id)
        if r is None or not (r.status == "scheduled" or (r.status == "launching" and r.lease_until < now)):
            return None
        if r.control:
            return None
        if payload_bucket is not None and r.payload_bucket != payload_bucket:
            return None
        claimed = replace(r, status="launching", lease_until=lease_until, updated_at=now)
        self.items[campaign_id] = claimed
        return claimed

    def save(self, record: CampaignRecord, *, expect_status: tuple[str, ...]) -> CampaignRecord:
        current = self.items.get(record.campaign_id)
        if current is None or current.status not in expect_status:
            raise CampaignStateError(f"campaign {record.campaign_id} is not {' or '.join(expect_status)} any more")
        kept = {name: getattr(current, name) for name in _LAUNCH_PROGRESS}
        self.items[record.campaign_id] = replace(record, **kept)
        return record

    def advance_launch(self, campaign_id: str, expected: str, cursor: str, recipients: int, jobs: int) -> bool:
        current = self.items.get(campaign_id)
        if current is None or current.status != "launching" or current.launch_cursor != expected:
            return current is not None and current.launch_cursor == cursor
        self.items[campaign_id] = replace(
            current,
            launch_cursor=cursor,
            launch_enqueued=current.launch_enqueued + recipients,
            launch_jobs=current.launch_jobs + jobs,
            launch_chunks=current.launch_chunks + (1 if recipients else 0),
        )
        return True

    def list(self, limit: int = 50) -> list[CampaignRecord]:
        return sorted(self.items.values(), key=lambda r: r.created_at, reverse=True)[:limit]

    def set_control(
        self, campaign_id: str, control: str, *, reason: str, at: str, by: str, allowed: tuple[str, ...]
    ) -> CampaignRecord:
        r = self.items.get(campaign_id)
        if r is None or r.status == "deleted" or r.control not in allowed:
            raise CampaignStateError(f"campaign {campaign_id} changed meanwhile; read it and try again")
        if control:
            updated = replace(r, control=control, control_reason=reason, control_at=at, control_by=by, updated_at=at)
        else:
            updated = replace(r, control="", control_reason="", control_at="", control_by="", updated_at=at)
        self.items[campaign_id] = updated
        return updated

    def controls(self, campaign_ids: Collection[str]) -> dict[str, str]:
        return {c: r.control for c in campaign_ids if (r := self.items.get(c)) is not None and r.control}
