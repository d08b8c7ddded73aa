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
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from runtime import jsontext
from runtime.emails import normalize_email
from runtime.sender.ses_models import (
    MAX_BULK_ENTRIES,
    SendBulkEmailRequest,
    SendEmailRequest,
    describe_errors,
)
from runtime.sender.tags import format_tag

JOB_ID_PATTERN = r"^[A-Za-z0-9._:/-]{1,200}$"
# tag names producers use for attribution (seed 003 writes campaignId / segmentId)
CAMPAIGN_TAG_NAMES = ("campaign_id", "campaignId", "campaign")
LIST_TAG_NAMES = ("list_name", "listName", "segmentId", "segment", "list")


class JobError(ValueError):
    """A queue message body is not a valid send request; ``str(exc)`` names the field."""


class CampaignMessage(Exception):
    """The body is a Campaign Candidate (seed 003) rather than a send request; ``data`` is its JSON."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__("campaign candidate")
        self.data = data


class SendJob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    sesame: Literal[1] = 1
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    attempt: int = Field(default=0, ge=0)
    campaign_id: str | None = Field(default=None, max_length=256)
    list_name: str | None = Field(default=None, max_length=256)
    email: SendEmailRequest | None = None
    bulk: SendBulkEmailRequest | None = None
    entry_ids: list[str] | None = None
    delivery: Literal["exactly_once", "at_least_once"] = "exactly_once"

    @property
    def at_least_once(self) -> bool:
        return self.delivery == "at_least_once"

    @model_validator(mode="after")
    def _one_request(self) -> SendJob:
        if (self.email is None) == (self.bulk is None):
            raise ValueError("a job carries exactly one of 'email' (SendEmail) or 'bulk' (SendBulkEmail)")
        if self.bulk is not None:
            ids = self.entry_ids or [str(i) for i in range(len(self.bulk.BulkEmailEntries))]
            if len(ids) != len(self.bulk.BulkEmailEntries) or len(set(ids)) != len(ids):
                raise ValueError("entry_ids must name every BulkEmailEntries item once")
        return self

    def body(self) -> str:
        return self.model_dump_json(exclude_none=True, exclude=None if self.at_least_once else {"delivery"})


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
    except ValidationError as exc:
        raise JobError("; ".join(describe_errors(exc))) from exc


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


def _addressing(request: SendEmailRequest | SendBulkEmailRequest) -> dict[str, Any]:
    data = request.to_api()
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
    return {k: data[k] for k in keep if k in data}


def units_of(job: SendJob) -> list[Unit]:
    if job.email is not None:
        return [_email_unit(job, job.email)]
    assert job.bulk is not None
    return _bulk_units(job, job.bulk)


def _email_unit(job: SendJob, request: SendEmailRequest) -> Unit:
    tags = [(t.Name, t.Value) for t in request.EmailTags or []]
    content = request.Content
    template_data: str | None = None
    headers: list[dict[str, str]] = []
    groupable = True
    if content.Template is not None:
        kind: Literal["template", "simple", "raw"] = "template"
        body = content.Template.to_api()
        template_data = body.pop("TemplateData", None)
        headers = body.pop("Headers", [])
        groupable = "Attachments" not in body
    elif content.Simple is not None:
        kind = "simple"
        body = content.Simple.to_api()
        headers = body.pop("Headers", [])
    else:
        assert content.Raw is not None
        kind = "raw"
        body = content.Raw.to_api()
    # Raw without Destination: SES uses the MIME recipients, and so do suppression and attribution
    destination = request.Destination.to_api() if request.Destination is not None else _mime_destination(body["Data"])
    return Unit(
        job_id=job.job_id,
        unit_id="0",
        campaign_id=_attribution(job.campaign_id, tags, CAMPAIGN_TAG_NAMES),
        list_name=_attribution(job.list_name, tags, LIST_TAG_NAMES),
        addressing=_addressing(request),
        config_set=request.ConfigurationSetName,
        destination=destination,
        kind=kind,
        content=body,
        template_data=template_data,
        headers=headers,
        tags=tags,
        list_management=request.ListManagementOptions.to_api() if request.ListManagementOptions else None,
        groupable=groupable,
    )


def _mime_destination(raw_b64: str) -> dict[str, list[str]]:
    headers = BytesHeaderParser().parsebytes(base64.b64decode(raw_b64))
    destination: dict[str, list[str]] = {}
    for header, member in (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses")):
        addresses = [address for _, address in getaddresses(headers.get_all(header, [])) if address]
        if addresses:
            destination[member] = addresses
    return destination or {"ToAddresses": []}


def _bulk_units(job: SendJob, request: SendBulkEmailRequest) -> list[Unit]:
    template = request.DefaultContent.Template.to_api()
    default_data = template.pop("TemplateData", None)
    default_headers = template.pop("Headers", [])
    default_tags = [(t.Name, t.Value) for t in request.DefaultEmailTags or []]
    ids = job.entry_ids or [str(i) for i in range(len(request.BulkEmailEntries))]
    addressing = _addressing(request)
    units = []
    for unit_id, entry in zip(ids, request.BulkEmailEntries, strict=True):
        tags = default_tags + [(t.Name, t.Value) for t in entry.ReplacementTags or []]
        replacement = entry.ReplacementEmailContent
        data = default_data
        if replacement and replacement.ReplacementTemplate and replacement.ReplacementTemplate.ReplacementTemplateData:
            data = replacement.ReplacementTemplate.ReplacementTemplateData
        headers = list(default_headers) + [h.to_api() for h in entry.ReplacementHeaders or []]
        units.append(
            Unit(
                job_id=job.job_id,
                unit_id=unit_id,
                campaign_id=_attribution(job.campaign_id, tags, CAMPAIGN_TAG_NAMES),
                list_name=_attribution(job.list_name, tags, LIST_TAG_NAMES),
                addressing=addressing,
                config_set=request.ConfigurationSetName,
                destination=entry.Destination.to_api(),
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
        ids = job.entry_ids or [str(i) for i in range(len(job.bulk.BulkEmailEntries))]
        pairs = [(i, e) for i, e in zip(ids, job.bulk.BulkEmailEntries, strict=True) if i in keep]
        bulk = job.bulk.model_copy(update={"BulkEmailEntries": [e for _, e in pairs]})
        return job.model_copy(update={"bulk": bulk, "entry_ids": [i for i, _ in pairs], "attempt": attempt})
    return job.model_copy(update={"attempt": attempt})


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
