"""The "Campaign Candidate" JSON of seed 003, validated, resolved and expanded into send jobs.

Accepted shape (seed field names kept; the extensions are optional)::

    {
      "campaign_id": "spring-2026",            # optional: generated when absent; [A-Za-z0-9_-], <= 128
      "date": "2026-03-01T09:00:00Z",          # optional: ISO-8601 date/time; absent, "now" or past = launch now
      "templateS3Uri": "s3://bucket/key.html", # default template (HTML, or JSON {subject, html, text})
      "template": {"subject": "...", "html": "...", "text": "..."},  # or inline (instead of templateS3Uri)
      "template_name": "existing-ses-template",                       # or an SES template that already exists
      "subject": "Hello {{first_name}}",       # subject for S3 HTML templates (else the HTML <title>)
      "from_address": "News <news@example.com>", "reply_to": ["help@example.com"],
      "configuration_set": "marketing",        # logical (mapped per region) or physical name
      "segments": [
        {"list_name": "vip", "templateS3Uri": "...", "template": {...}, "template_name": "...", "subject": "...",
         "from_address": "...", "configuration_set": "...",
         "recipients": [{"to_address": "a@example.com", "first_name": "Ada", ...}]}
      ]
    }

Every recipient's other fields become its template data. Defaults resolve segment -> campaign -> settings
(``SESAME_DEFAULT_FROM``, ``SESAME_DEFAULT_CONFIGURATION_SET``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runtime.emails import normalize_email
from runtime.sender.inline_template import MAX_SUBJECT, InlineTemplate
from runtime.sender.jobs import SendJob, bulk_job
from runtime.sender.ses_models import MAX_BULK_ENTRIES, MAX_TEMPLATE_DATA, describe_errors, mailbox, single_line
from runtime.sender.tags import format_tag

CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
MAX_JOB_BYTES = 200_000  # keep each queue message well under SQS's 256 KiB
MAX_RECIPIENTS = 1_000_000


class CampaignError(ValueError):
    """The campaign is invalid; ``problems`` name each field (``segments[0].recipients[3].to_address: ...``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
        self.problems = problems


class _TemplateChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    templateS3Uri: str | None = Field(default=None, pattern=S3_URI_PATTERN)
    template: InlineTemplate | None = None
    template_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT)
    from_address: str | None = None
    configuration_set: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return None if value is None else mailbox(value)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        return None if value is None else single_line(value, "subject")

    @model_validator(mode="after")
    def _one_template(self) -> _TemplateChoice:
        given = [n for n in ("templateS3Uri", "template", "template_name") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of templateS3Uri, template, template_name (got {', '.join(given)})")
        return self

    def has_template(self) -> bool:
        return any(getattr(self, n) is not None for n in ("templateS3Uri", "template", "template_name"))


class Recipient(BaseModel):
    """``to_address`` plus personalisation fields (any JSON values), which become the template data."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    to_address: str

    @field_validator("to_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return mailbox(value)

    def data(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Segment(_TemplateChoice):
    list_name: str = Field(min_length=1, max_length=256)
    recipients: list[Recipient] | None = Field(default=None, min_length=1)
    # or a recipient file (JSON lines / CSV) in the campaign bucket: runtime/sender/recipients.py
    recipientsS3Uri: str | None = Field(default=None, pattern=S3_URI_PATTERN)

    @model_validator(mode="after")
    def _one_source(self) -> Segment:
        if (self.recipients is None) == (self.recipientsS3Uri is None):
            raise ValueError("give recipients (inline) or recipientsS3Uri (a JSON-lines or CSV file), exactly one")
        return self

    @property
    def inline(self) -> list[Recipient]:
        return self.recipients or []


class CampaignCandidate(_TemplateChoice):
    campaign_id: str | None = Field(default=None, pattern=CAMPAIGN_ID_PATTERN)
    date: str | None = None
    reply_to: list[str] | None = None
    segments: list[Segment] = Field(min_length=1)

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [mailbox(address) for address in value]

    @field_validator("date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() != "now":
            parse_launch_date(value)
        return value

    @property
    def uses_files(self) -> bool:
        return any(s.recipientsS3Uri is not None for s in self.segments)

    @model_validator(mode="after")
    def _limits(self) -> CampaignCandidate:
        total = sum(len(s.inline) for s in self.segments)
        if total > MAX_RECIPIENTS:
            raise ValueError(f"a campaign holds at most {MAX_RECIPIENTS} recipients (got {total})")
        names = [format_tag(s.list_name) for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError("segments must have distinct list_name values (after tag sanitising)")
        for index, segment in enumerate(self.segments):
            if not segment.has_template() and not self.has_template():
                raise ValueError(
                    f"segments[{index}] has no template and the campaign has no default "
                    "(give templateS3Uri, template or template_name)"
                )
        return self


def parse_launch_date(value: str) -> datetime:
    """ISO-8601 date or date-time -> aware UTC datetime (a bare date means 00:00 UTC; naive times are UTC)."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError as exc:
        raise ValueError(f"date must be ISO-8601 (e.g. 2026-03-01T09:00:00Z), got {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_candidate(data: Any) -> CampaignCandidate:
    if not isinstance(data, dict):
        raise CampaignError(["body must be a JSON object (a Campaign Candidate)"])
    try:
        return CampaignCandidate.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(describe_errors(exc)) from exc


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """One SES template a campaign needs: created/updated from ``content``, or an existing ``name``."""

    name: str
    content: dict[str, str] | None  # SES EmailTemplateContent (Subject, Html, Text) or None = already exists
    source: str  # "inline", "s3://...", "existing"


def template_prefix(environment: str) -> str:
    """Every SES template the app creates starts with this (the IAM role may create only these: infra/iam.py)."""
    return f"sesame-{environment}-"


def template_name_for(campaign_id: str, scope: str, *, environment: str) -> str:
    """SES template names: ``sesame-<env>-<campaign>-<scope>`` in [A-Za-z0-9_-], kept short (hash suffix when long).

    Templates are account-wide and per region: the environment in the name keeps environments that share an account
    (dev and prod) from ever touching each other's campaign content."""
    name = format_tag(f"{template_prefix(environment)}{campaign_id}-{scope}")
    if len(name) <= 64:
        return name
    return name[:47] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ResolvedSegment:
    index: int
    list_name: str
    template: TemplateSpec
    from_address: str
    configuration_set: str
    recipients: list[Recipient]


@dataclass(frozen=True, slots=True)
class Expansion:
    campaign_id: str
    segments: list[ResolvedSegment]
    jobs: list[SendJob]
    recipients_by_job: dict[str, list[str]]  # job id -> to_address of each entry (for "not enqueued" reports)
    duplicates: int = 0  # repeated addresses within a segment, sent once

    @property
    def recipient_count(self) -> int:
        return sum(len(s.recipients) for s in self.segments) - self.duplicates


def new_campaign_id() -> str:
    return "c-" + uuid.uuid4().hex[:20]


def resolve(
    candidate: CampaignCandidate,
    *,
    templates: dict[str, TemplateSpec],
    default_from: str,
    default_configuration_set: str,
) -> list[ResolvedSegment]:
    """Resolve every segment's template, sender and configuration set. ``templates`` maps a template source key
    (``campaign`` or ``segment:<index>``) to its spec (loaded by ``runtime.sender.templates``)."""
    problems = []
    resolved = []
    for index, segment in enumerate(candidate.segments):
        key = f"segment:{index}" if segment.has_template() else "campaign"
        from_address = segment.from_address or candidate.from_address or default_from
        if not from_address:
            problems.append(f"segments[{index}].from_address: no sender (set from_address or SESAME_DEFAULT_FROM)")
            continue
        resolved.append(
            ResolvedSegment(
                index=index,
                list_name=format_tag(segment.list_name),
                template=templates[key],
                from_address=from_address,
                configuration_set=segment.configuration_set or candidate.configuration_set or default_configuration_set,
                recipients=segment.inline,
            )
        )
    if problems:
        raise CampaignError(problems)
    return resolved


def expand(campaign_id: str, segments: list[ResolvedSegment], reply_to: list[str] | None = None) -> Expansion:
    """Bulk jobs of at most 50 recipients (and ~200 KB) each, with deterministic ids ``<campaign>.<seg>.<chunk>``."""
    jobs: list[SendJob] = []
    recipients_by_job: dict[str, list[str]] = {}
    problems: list[str] = []
    duplicates = 0
    for segment in segments:
        base: dict[str, Any] = {
            "FromEmailAddress": segment.from_address,
            "ConfigurationSetName": segment.configuration_set,
            "DefaultContent": {"Template": {"TemplateName": segment.template.name, "TemplateData": "{}"}},
        }
        if reply_to:
            base["ReplyToAddresses"] = reply_to
        chunks: list[list[tuple[str, dict[str, Any], str]]] = [[]]
        size = 0
        seen: set[str] = set()
        for i, recipient in enumerate(segment.recipients):
            address = normalize_email(recipient.to_address)
            if address in seen:  # the same person twice in one list gets one email (the first entry's data)
                duplicates += 1
                continue
            seen.add(address)
            data = json.dumps(recipient.data(), separators=(",", ":"), ensure_ascii=False)
            if len(data) > MAX_TEMPLATE_DATA or len(data) > MAX_JOB_BYTES:
                problems.append(f"segments[{segment.index}].recipients[{i}]: personalisation data is too large")
                continue
            entry = {
                "Destination": {"ToAddresses": [recipient.to_address]},
                "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": data}},
            }
            entry_size = len(data) + len(recipient.to_address) + 120
            if len(chunks[-1]) == MAX_BULK_ENTRIES or size + entry_size > MAX_JOB_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append((str(i), entry, recipient.to_address))
            size += entry_size
        for chunk_no, chunk in enumerate(c for c in chunks if c):
            job_id = f"{campaign_id}.{segment.index}.{chunk_no}"
            request = {**base, "BulkEmailEntries": [entry for _, entry, _ in chunk]}
            ids = [i for i, _, _ in chunk]
            jobs.append(bulk_job(job_id, request, ids, campaign_id=campaign_id, list_name=segment.list_name))
            recipients_by_job[job_id] = [address for _, _, address in chunk]
    if problems:
        raise CampaignError(problems)
    return Expansion(campaign_id, segments, jobs, recipients_by_job, duplicates)
