"""What travels on the send queue, and the per-recipient units the consumer works with.

A queue message body is one of

* a **bare SESv2 SendEmail request** (seed 003's JSON-lines format, one line per message); its job id is the SQS
  message id, so SQS redeliveries are recognised;
* a **sesame job envelope** ``{"sesame": 1, "job_id": ..., "campaign_id": ..., "list_name": ..., "email": {SendEmail
  request}}`` or ``{..., "bulk": {SendBulkEmail request}, "entry_ids": [...]}``. Campaign launches enqueue bulk jobs
  of up to 50 recipients whose ids are deterministic (``<campaign>.<segment>.<chunk>``), so enqueuing a campaign
  twice never sends twice. ``"delivery": "at_least_once"`` (transactional mail: one-time codes, password resets)
  re-sends a message whose SES answer was lost at once instead of waiting for SES's Send event; the default
  ``exactly_once`` never risks a duplicate for speed (docs/sending.md "Exactly once").

``units_of`` expands a job into one ``Unit`` per SendEmail-equivalent message (one per bulk entry); the consumer
regroups units that share sender, template and configuration set into SendBulkEmail calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import getaddresses
from typing import Any, Literal

from runtime import jsontext
from runtime.emails import normalize_email
from runtime.sender.ses_models import (
    MAX_BULK_ENTRIES,
    Choice,
    Const,
    Integer,
    ListOf,
    Loc,
    Member,
    RequestError,
    SendBulkEmailRequest,
    SendEmailRequest,
    Shape,
    Str,
    describe_errors,
)
from runtime.sender.tags import format_tag

JOB_ID_PATTERN = r"^[A-Za-z0-9._:/-]{1,200}$"
# tag names producers use for attribution (seed 003 writes campaignId / segmentId)
CAMPAIGN_TAG_NAMES = ("campaign_id", "campaignId", "campaign")
LIST_TAG_NAMES = ("list_name", "listName", "segmentId", "segment", "list")
DELIVERIES = ("exactly_once", "at_least_once")


class JobError(ValueError):
    """A queue message body is not a valid send request; ``str(exc)`` names the field."""


class CampaignMessage(Exception):
    """The body is a Campaign Candidate (seed 003) rather than a send request; ``data`` is its JSON."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__("campaign candidate")
        self.data = data


_JOB_ID = Str(pattern=JOB_ID_PATTERN)
_NAME = Str(max=256)
# the envelope's members (what ``SendJob.body`` writes); the requests are validated by their own shapes
ENVELOPE = Shape(
    "SendJob",
    {
        "sesame": Member(Const(1)),
        "job_id": Member(_JOB_ID, True),
        "attempt": Member(Integer(ge=0)),
        "campaign_id": Member(_NAME),
        "list_name": Member(_NAME),
        "email": Member(SendEmailRequest.shape),
        "bulk": Member(SendBulkEmailRequest.shape),
        "entry_ids": Member(ListOf(Str())),
        "delivery": Member(Choice(DELIVERIES)),
    },
)


@dataclass(frozen=True, slots=True)
class SendJob:
    """A job: one SendEmail request (``email``) or one SendBulkEmail request (``bulk``, its entries named by
    ``entry_ids``), validated when built (``RequestError`` naming the problem)."""

    job_id: str
    attempt: int = 0
    campaign_id: str | None = None
    list_name: str | None = None
    email: SendEmailRequest | None = None
    bulk: SendBulkEmailRequest | None = None
    entry_ids: list[str] | None = None
    delivery: Literal["exactly_once", "at_least_once"] = "exactly_once"
    sesame: Literal[1] = 1

    def __post_init__(self) -> None:
        errors: list[tuple[Loc, str]] = []
        _JOB_ID.parse(self.job_id, ("job_id",), errors)
        Integer(ge=0).parse(self.attempt, ("attempt",), errors)
        for name in ("campaign_id", "list_name"):
            if getattr(self, name) is not None:
                _NAME.parse(getattr(self, name), (name,), errors)
        Choice(DELIVERIES).parse(self.delivery, ("delivery",), errors)
        for name, kind in (("email", SendEmailRequest), ("bulk", SendBulkEmailRequest)):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), kind):
                errors.append(((name,), f"Input should be an instance of {kind.__name__}"))
        if not errors:
            if (self.email is None) == (self.bulk is None):
                errors.append(((), "a job carries exactly one of 'email' (SendEmail) or 'bulk' (SendBulkEmail)"))
            elif self.bulk is not None:
                entries = len(self.bulk.data["BulkEmailEntries"])
                ids = self.entry_ids or [str(i) for i in range(entries)]
                if len(ids) != entries or len(set(ids)) != len(ids):
                    errors.append(((), "entry_ids must name every BulkEmailEntries item once"))
        if errors:
            raise RequestError(errors)

    @property
    def at_least_once(self) -> bool:
        return self.delivery == "at_least_once"

    @classmethod
    def model_validate(cls, data: Any) -> SendJob:
        """A job envelope (``body()``'s JSON, parsed) -> ``SendJob``; ``RequestError`` names every problem."""
        fields = ENVELOPE.validate(data)
        fields.pop("sesame", None)
        if "email" in fields:
            fields["email"] = SendEmailRequest(fields["email"])
        if "bulk" in fields:
            fields["bulk"] = SendBulkEmailRequest(fields["bulk"])
        return cls(**fields)

    @classmethod
    def model_validate_json(cls, text: str) -> SendJob:
        return cls.model_validate(jsontext.loads(text))

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> SendJob:
        """The job with ``update``'s members changed (validated again)."""
        return replace(self, **dict(update or {}))

    def body(self) -> str:
        """The job as a queue message body: its members in order, unset ones omitted (``delivery`` only when
        ``at_least_once``), compact UTF-8 JSON."""
        out: dict[str, Any] = {"sesame": 1, "job_id": self.job_id, "attempt": self.attempt}
        if self.campaign_id is not None:
            out["campaign_id"] = self.campaign_id
        if self.list_name is not None:
            out["list_name"] = self.list_name
        if self.email is not None:
            out["email"] = self.email.data
        if self.bulk is not None:
            out["bulk"] = self.bulk.data
        if self.entry_ids is not None:
            out["entry_ids"] = self.entry_ids
        if self.at_least_once:
            out["delivery"] = self.delivery
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def parse_job(body: str, sqs_message_id: str) -> SendJob:
    """Queue message body -> ``SendJob``; raises ``JobError`` naming the problem."""
    try:
        data = jsontext.loads(body)
    except jsontext.JsonTextError as exc:  # not JSON, or nested deeper than a send request ever is
        raise JobError(f"message body: {exc}") from exc
    if not isinstance(data, dict):
        raise JobError("message body must be a JSON object")
    if "segments" in data and "Content" not in data and "sesame" not in data:
        raise CampaignMessage(data)
    try:
        if "sesame" in data:
            return SendJob.model_validate(data)
        if "BulkEmailEntries" in data:
            return SendJob(job_id=f"sqs-{sqs_message_id}", bulk=SendBulkEmailRequest.model_validate(data))
        return SendJob(job_id=f"sqs-{sqs_message_id}", email=SendEmailRequest.model_validate(data))
    except RequestError as exc:
        raise JobError("; ".join(describe_errors(exc))) from exc


def _copy(value: Any) -> Any:
    """A copy of JSON-shaped data (units are regrouped and edited; the validated request stays as it was)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass(slots=True)
class Unit:
    """One message to one destination, in SES API form (plain dicts: cheap to copy and regroup)."""

    job_id: str
    unit_id: str
    campaign_id: str | None
    list_name: str | None
    addressing: dict[str, Any]  # FromEmailAddress, ReplyToAddresses, ... (no ConfigurationSetName)
    config_set: str | None
    destination: dict[str, list[str]]
    kind: Literal["template", "simple", "raw"]
    content: dict[str, Any]  # Template (without TemplateData/Headers) | Simple (without Headers) | Raw
    template_data: str | None = None
    headers: list[dict[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    list_management: dict[str, Any] | None = None
    groupable: bool = True
    _recipient: str | None = None
    _hash: str | None = None

    def set_destination(self, destination: dict[str, list[str]]) -> None:
        self.destination = destination
        self._recipient = self._hash = None

    @property
    def key(self) -> str:
        return f"{self.job_id}/{self.unit_id}"

    @property
    def recipients(self) -> list[str]:
        d = self.destination
        return [*d.get("ToAddresses", []), *d.get("CcAddresses", []), *d.get("BccAddresses", [])]

    @property
    def recipient(self) -> str:
        """The primary recipient (first To address): attribution and the unsubscribe token are theirs."""
        if self._recipient is None:
            first = self.recipients[0] if self.recipients else ""
            try:
                self._recipient = normalize_email(first)
            except ValueError:
                self._recipient = first.strip().lower()
        return self._recipient

    @property
    def recipient_hash(self) -> str:
        if self._hash is None:
            self._hash = hashlib.sha256(self.recipient.encode("utf-8")).hexdigest()
        return self._hash

    def group_key(self) -> str | None:
        """Units with the same key can share one SendBulkEmail call; None = send alone."""
        if self.kind != "template" or not self.groupable or self.list_management is not None:
            return None
        return json.dumps([self.addressing, self.config_set, self.content], sort_keys=True, separators=(",", ":"))


def _attribution(explicit: str | None, tags: Iterable[tuple[str, str]], names: tuple[str, ...]) -> str | None:
    """The campaign / list a unit belongs to, in tag form (what SES events will carry back)."""
    if explicit:
        return format_tag(explicit)
    found = {name: value for name, value in tags}
    for name in names:
        if found.get(name):
            return format_tag(found[name])
    return None


def _addressing(data: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "FromEmailAddress",
        "FromEmailAddressIdentityArn",
        "ReplyToAddresses",
        "FeedbackForwardingEmailAddress",
        "FeedbackForwardingEmailAddressIdentityArn",
        "EndpointId",
        "TenantName",
        "ConfigurationOverrides",
    )
    return {k: _copy(data[k]) for k in keep if k in data}


def _tags(tags: Iterable[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    return [(t["Name"], t["Value"]) for t in tags or []]


def units_of(job: SendJob) -> list[Unit]:
    if job.email is not None:
        return [_email_unit(job, job.email.data)]
    assert job.bulk is not None
    return _bulk_units(job, job.bulk.data)


def _email_unit(job: SendJob, request: Mapping[str, Any]) -> Unit:
    tags = _tags(request.get("EmailTags"))
    content = request["Content"]
    template_data: str | None = None
    headers: list[dict[str, str]] = []
    groupable = True
    if "Template" in content:
        kind: Literal["template", "simple", "raw"] = "template"
        body = _copy(content["Template"])
        template_data = body.pop("TemplateData", None)
        headers = body.pop("Headers", [])
        groupable = "Attachments" not in body
    elif "Simple" in content:
        kind = "simple"
        body = _copy(content["Simple"])
        headers = body.pop("Headers", [])
    else:
        kind = "raw"
        body = _copy(content["Raw"])
    # Raw without Destination: SES uses the MIME recipients, and so do suppression and attribution
    destination = _copy(request["Destination"]) if "Destination" in request else _mime_destination(body["Data"])
    return Unit(
        job_id=job.job_id,
        unit_id="0",
        campaign_id=_attribution(job.campaign_id, tags, CAMPAIGN_TAG_NAMES),
        list_name=_attribution(job.list_name, tags, LIST_TAG_NAMES),
        addressing=_addressing(request),
        config_set=request.get("ConfigurationSetName"),
        destination=destination,
        kind=kind,
        content=body,
        template_data=template_data,
        headers=headers,
        tags=tags,
        list_management=_copy(request["ListManagementOptions"]) if "ListManagementOptions" in request else None,
        groupable=groupable,
    )


def _mime_destination(raw_b64: str) -> dict[str, list[str]]:
    from email.parser import BytesHeaderParser  # only a Raw message without Destination needs it (cold start)

    headers = BytesHeaderParser().parsebytes(base64.b64decode(raw_b64))
    destination: dict[str, list[str]] = {}
    for header, member in (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses")):
        addresses = [address for _, address in getaddresses(headers.get_all(header, [])) if address]
        if addresses:
            destination[member] = addresses
    return destination or {"ToAddresses": []}


def _bulk_units(job: SendJob, request: Mapping[str, Any]) -> list[Unit]:
    template = _copy(request["DefaultContent"]["Template"])
    default_data = template.pop("TemplateData", None)
    default_headers = template.pop("Headers", [])
    default_tags = _tags(request.get("DefaultEmailTags"))
    entries = request["BulkEmailEntries"]
    ids = job.entry_ids or [str(i) for i in range(len(entries))]
    addressing = _addressing(request)
    units = []
    for unit_id, entry in zip(ids, entries, strict=True):
        tags = default_tags + _tags(entry.get("ReplacementTags"))
        data = default_data
        replaced = ((entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}).get(
            "ReplacementTemplateData"
        )
        if replaced:
            data = replaced
        headers = list(default_headers) + [dict(h) for h in entry.get("ReplacementHeaders") or []]
        units.append(
            Unit(
                job_id=job.job_id,
                unit_id=unit_id,
                campaign_id=_attribution(job.campaign_id, tags, CAMPAIGN_TAG_NAMES),
                list_name=_attribution(job.list_name, tags, LIST_TAG_NAMES),
                addressing=addressing,
                config_set=request.get("ConfigurationSetName"),
                destination=_copy(entry["Destination"]),
                kind="template",
                content=template,
                template_data=data,
                headers=headers,
                tags=tags,
                groupable="Attachments" not in template,
            )
        )
    return units


def rebuild_job(job: SendJob, pending: list[Unit], *, attempt: int) -> SendJob:
    """The same job carrying only ``pending`` units (re-enqueued after throttling or a quota stop)."""
    keep = {u.unit_id for u in pending}
    if job.bulk is not None:
        entries = job.bulk.data["BulkEmailEntries"]
        ids = job.entry_ids or [str(i) for i in range(len(entries))]
        pairs = [(i, e) for i, e in zip(ids, entries, strict=True) if i in keep]
        bulk = job.bulk.with_entries([e for _, e in pairs])
        return replace(job, bulk=bulk, entry_ids=[i for i, _ in pairs], attempt=attempt)
    return replace(job, attempt=attempt)


def bulk_job(
    job_id: str,
    request: dict[str, Any],
    entry_ids: list[str],
    *,
    campaign_id: str | None,
    list_name: str | None,
) -> SendJob:
    """A validated bulk job (``request`` in SendBulkEmail API form, at most 50 entries)."""
    if len(entry_ids) > MAX_BULK_ENTRIES:
        raise JobError(f"a bulk job holds at most {MAX_BULK_ENTRIES} entries")
    return SendJob(
        job_id=job_id,
        campaign_id=campaign_id,
        list_name=list_name,
        bulk=SendBulkEmailRequest.model_validate(request),
        entry_ids=entry_ids,
    )
