"""The transactional send API (``POST /messages``): request model, validation against SESv2 ``SendEmail`` shapes, and
the service that sends through the sender core (docs/sending.md "Transactional send API").

One message per recipient (``to`` addresses, or ``recipients`` with per-recipient template data), each a send job
of the sender (``runtime.sender.jobs``) processed at once by a ``SenderConsumer`` inside the request: the same
suppression check, List-Unsubscribe for marketing mail, pacing, failover and exactly-once ledger as the send queue,
with per-recipient ``sesame_send_id`` tags. What cannot be sent within the request's budget (pacing, daily quota,
throttling, a lost SES answer) is put on the send queue and answered ``queued``: its ``message_id`` (``queued-…``)
resolves at once through ``GET /messages/{id}`` and follows the job to the SES message once sent.

``Idempotency-Key``: a conditional write of the key before anything is sent (``runtime.stores.requests``); the same
key with the same body within 24 h replays the first answer, with another body it is a conflict. Job ids derive
from the key, so even a request that died half-way and is retried with the key sends each recipient once.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runtime import jsontext
from runtime.emails import mask_email, recipient_hash
from runtime.logs import get_logger
from runtime.sender.consumer import BatchResult, QueueRecord
from runtime.sender.inline_template import MAX_SUBJECT, InlineTemplate
from runtime.sender.jobs import SendJob
from runtime.sender.ledger import Outcome
from runtime.sender.ses_models import (
    MAX_HEADERS,
    MAX_RECIPIENTS,
    MAX_TEMPLATE_DATA,
    RequestError,
    SendEmailRequest,
    describe_errors,
    mailbox,
    single_line,
)
from runtime.stores.requests import IdempotencyStore, QueuedMessage, QueuedMessageStore
from runtime.stores.schema import iso, queued_message_id

log = get_logger(__name__)

MAX_MESSAGES = 50  # messages (recipients) per request: sent within one API call's time
TRANSACTIONAL = "transactional"
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_HEADER_NAME = re.compile(r"^[!-9;-@A-~]{1,126}$")
_HEADER_VALUE = re.compile(r"^[ -~]{1,995}$")
_IDEMPOTENCY_KEY = re.compile(r"^[ -~]{1,255}$")
RESERVED_TAGS = frozenset({"campaign_id", "list_name", "sesame_send_id"})
# headers SES composes from the request itself (or signs): set them through the request's own fields
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "sender",
        "return-path",
        "message-id",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "dkim-signature",
        "received",
    }
)
UNSUBSCRIBE_HEADERS = 2  # List-Unsubscribe + List-Unsubscribe-Post, added to marketing mail
IDEMPOTENCY_LEASE_SECONDS = 120.0  # longer than any request may run (API Gateway: 29 s)


class MessageRequestError(ValueError):
    """The request is invalid; ``problems`` name each field (answered 400)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class IdempotencyConflictError(RuntimeError):
    """The ``Idempotency-Key`` was used with another body, or its first request is still running (409)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RecipientEntry(_Model):
    to: str
    data: dict[str, Any] | None = None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return mailbox(value)


def _addresses(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [mailbox(value)]
    out = []
    for index, address in enumerate(value):
        try:
            out.append(mailbox(address))
        except ValueError as exc:
            raise ValueError(f"#{index}: {exc}") from exc  # _describe turns it into the path ``to.<index>``
    return out


def _template_data(data: dict[str, Any] | None) -> str | None:
    if data is None:
        return None
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_TEMPLATE_DATA:
        raise ValueError(f"is {len(text)} characters as JSON; SES accepts at most {MAX_TEMPLATE_DATA}")
    return text


class MessagesRequest(_Model):
    """``POST /messages`` body (API field names; the SES request is built from it)."""

    from_: str | None = Field(default=None, alias="from")
    to: str | list[str] | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None
    recipients: list[RecipientEntry] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT)
    html: str | None = None
    text: str | None = None
    template: str | InlineTemplate | None = None
    template_data: dict[str, Any] | None = None
    reply_to: str | list[str] | None = None
    tags: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    configuration_set: str = TRANSACTIONAL
    campaign_id: str | None = None
    list_name: str | None = Field(default=None, min_length=1, max_length=256)
    delivery: Literal["exactly_once", "at_least_once"] = "exactly_once"

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return None if value is None else mailbox(value)

    @field_validator("to", "reply_to")
    @classmethod
    def _address_list(cls, value: str | list[str] | None) -> list[str] | None:
        found = _addresses(value)
        if found is not None and not found:
            raise ValueError("give at least one address")
        if found is not None and len(found) > MAX_MESSAGES:
            raise ValueError(f"{len(found)} addresses; at most {MAX_MESSAGES} per request")
        return found

    @field_validator("cc", "bcc")
    @classmethod
    def _copies(cls, value: list[str] | None) -> list[str] | None:
        return _addresses(value)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        return None if value is None else single_line(value, "subject")

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str | InlineTemplate | None) -> str | InlineTemplate | None:
        if isinstance(value, str) and not value:
            raise ValueError("give a template name, or an inline template {subject, html, text}")
        return value

    @field_validator("template_data")
    @classmethod
    def _data(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        _template_data(value)
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, tag in (value or {}).items():
            if not _TAG.match(name):
                raise ValueError(f"tag name {name!r}: SES allows 1-256 ASCII letters, digits, '_' and '-'")
            if name in RESERVED_TAGS:
                raise ValueError(f"tag {name!r} is set by sesame: use the request's campaign_id / list_name fields")
            if not isinstance(tag, str) or not _TAG.match(tag):
                raise ValueError(f"tag {name!r}: its value must be 1-256 ASCII letters, digits, '_' and '-'")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r}: 1-126 printable ASCII characters, no ':' or space")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is composed by SES from the request's own fields")
            if not isinstance(text, str) or not _HEADER_VALUE.match(text):
                raise ValueError(f"header {name!r}: the value must be 1-995 printable ASCII characters")
            if len(name) + len(text) > 996:
                raise ValueError(f"header {name!r}: name and value together exceed SES's 996 characters")
        if value and len(value) > MAX_HEADERS:
            raise ValueError(f"{len(value)} headers; SES accepts at most {MAX_HEADERS}")
        return value

    @field_validator("configuration_set")
    @classmethod
    def _config_set(cls, value: str) -> str:
        if not _CONFIG_SET.match(value):
            raise ValueError("1-64 ASCII letters, digits, '_' and '-' (a logical name such as 'transactional')")
        return value

    @field_validator("campaign_id")
    @classmethod
    def _campaign(cls, value: str | None) -> str | None:
        if value is not None and not _CAMPAIGN_ID.match(value):
            raise ValueError("1-128 ASCII letters, digits, '_' and '-'")
        return value

    @model_validator(mode="after")
    def _shape(self) -> MessagesRequest:
        problems: list[str] = []
        if (self.to is None) == (self.recipients is None):
            problems.append("to: give 'to' (addresses) or 'recipients' ([{to, data}]), exactly one of them")
        messages = len(self.to or self.recipients or [])
        if (self.cc or self.bcc) and messages > 1:
            problems.append("cc: cc/bcc are copies of one message; give a single 'to' address with them")
        if messages == 1 and 1 + len(self.cc or []) + len(self.bcc or []) > MAX_RECIPIENTS:
            problems.append(f"cc: a message goes to at most {MAX_RECIPIENTS} addresses (to + cc + bcc)")
        simple = self.subject is not None or self.html is not None or self.text is not None
        if self.template is not None and simple:
            problems.append("template: give either a template or subject with html/text, not both")
        elif self.template is None:
            if self.subject is None:
                problems.append("subject: required (or give a template)")
            if not self.html and not self.text:
                problems.append("html: give html or text (or a template)")
            if self.template_data is not None:
                problems.append("template_data: only with a template")
            if any(r.data is not None for r in self.recipients or []):
                problems.append("recipients: per-recipient data needs a template")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def marketing(self) -> bool:
        """Mail that gets List-Unsubscribe: every configuration set but ``transactional``."""
        return self.configuration_set != TRANSACTIONAL

    def messages(self) -> list[tuple[str, str | None]]:
        """``(recipient, template data JSON)`` per message."""
        if self.recipients is not None:
            out = []
            for entry in self.recipients:
                data = {**(self.template_data or {}), **(entry.data or {})} if entry.data else self.template_data
                out.append((entry.to, _template_data(data)))
            return out
        common = _template_data(self.template_data)
        return [(address, common) for address in (self.to or [])]


def parse_request(data: Any, *, unsubscribe_headers: bool) -> MessagesRequest:
    """Validate a ``POST /messages`` body; raises ``MessageRequestError`` naming every field."""
    if not isinstance(data, dict):
        raise MessageRequestError(["body: a JSON object is required"])
    try:
        request = MessagesRequest.model_validate(data)
    except ValidationError as exc:
        raise MessageRequestError(_describe(exc)) from exc
    problems: list[str] = []
    own_unsubscribe = any(name.lower() == "list-unsubscribe" for name in request.headers or {})
    adds_headers = request.marketing and unsubscribe_headers and not own_unsubscribe
    if adds_headers and (request.cc or request.bcc):
        problems.append(
            "cc: marketing mail gets a one-click unsubscribe link for one person; send cc/bcc as transactional "
            "mail or give each recipient their own message"
        )
    if adds_headers and len(request.headers or {}) > MAX_HEADERS - UNSUBSCRIBE_HEADERS:
        problems.append(
            f"headers: marketing mail carries List-Unsubscribe and List-Unsubscribe-Post; at most "
            f"{MAX_HEADERS - UNSUBSCRIBE_HEADERS} headers of your own"
        )
    if problems:
        raise MessageRequestError(problems)
    return request


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for text in describe_errors(exc):
        where, _, message = text.partition(": ")
        where = where.replace("from_", "from")
        # a union member's name (str / list[str] / InlineTemplate) is noise in the path
        parts = [p for p in where.split(".") if p not in ("str", "list[str]", "InlineTemplate", "function-after[]")]
        if where == "request":  # a model-level check: its message already names the fields
            problems.extend(message.split("; "))
            continue
        index = re.match(r"#(\d+): ", message)
        if index:
            parts.append(index.group(1))
            message = message[index.end() :]
        problems.append(f"{'.'.join(parts) or 'body'}: {message}")
    return list(dict.fromkeys(problems))


def ses_request(request: MessagesRequest, to: str, template_data: str | None) -> SendEmailRequest:
    """The SESv2 ``SendEmail`` request of one message (validated against the botocore-shaped model)."""
    destination: dict[str, Any] = {"ToAddresses": [to]}
    if request.cc:
        destination["CcAddresses"] = request.cc
    if request.bcc:
        destination["BccAddresses"] = request.bcc
    headers = [{"Name": k, "Value": v} for k, v in (request.headers or {}).items()]
    content: dict[str, Any]
    if request.template is None:
        body: dict[str, Any] = {}
        if request.html:
            body["Html"] = {"Data": request.html, "Charset": "UTF-8"}
        if request.text:
            body["Text"] = {"Data": request.text, "Charset": "UTF-8"}
        content = {"Simple": {"Subject": {"Data": request.subject, "Charset": "UTF-8"}, "Body": body}}
        if headers:
            content["Simple"]["Headers"] = headers
    else:
        template: dict[str, Any]
        if isinstance(request.template, str):
            template = {"TemplateName": request.template}
        else:
            template = {"TemplateContent": request.template.content()}
        template["TemplateData"] = template_data or "{}"
        if headers:
            template["Headers"] = headers
        content = {"Template": template}
    data: dict[str, Any] = {"Destination": destination, "Content": content}
    if request.from_:
        data["FromEmailAddress"] = request.from_
    if request.reply_to:
        data["ReplyToAddresses"] = request.reply_to
    if request.tags:
        data["EmailTags"] = [{"Name": k, "Value": v} for k, v in request.tags.items()]
    data["ConfigurationSetName"] = request.configuration_set
    try:
        return SendEmailRequest.model_validate(data)
    except RequestError as exc:  # the API checks mirror these; anything left is named in SES terms
        raise MessageRequestError(describe_errors(exc, prefix="ses.")) from exc


def build_jobs(request: MessagesRequest, batch_id: str) -> list[tuple[str, SendJob]]:
    """``(recipient as given, job)`` per message; job ids ``<batch>-<n>`` (deterministic per idempotency key)."""
    out = []
    for number, (to, data) in enumerate(request.messages()):
        job = SendJob(
            job_id=f"{batch_id}-{number}",
            campaign_id=request.campaign_id,
            list_name=request.list_name,
            email=ses_request(request, to, data),
            delivery=request.delivery,
        )
        out.append((to, job))
    return out


# -- the service ---------------------------------------------------------------------------------------------------
class SendsNow(Protocol):
    """The sender core run inside the request (``SenderConsumer.process``)."""

    def process(self, records: list[QueueRecord], deadline: float | None = None) -> BatchResult: ...


class JobQueue(Protocol):
    def put(self, bodies: list[str]) -> list[str]:
        """Enqueue job bodies on the send queue; returns the bodies that could not be enqueued."""
        ...


class JobOutcomes(Protocol):
    def outcomes(self, job_id: str) -> dict[str, Outcome]: ...


class QueueUnavailableError(RuntimeError):
    """Messages could not be sent at once and the send queue refused them (503; retry with the same key)."""


@dataclass(frozen=True)
class SendAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass
class MessageServiceConfig:
    budget_seconds: float = 8.0  # time spent sending inside the request; the rest is queued
    unsubscribe_headers: bool = False  # List-Unsubscribe is configured (marketing mail gets it)


def _result(recipient: str, outcome: Outcome | None, job_id: str, queued_reason: str = "") -> dict[str, Any]:
    if outcome is None:
        return {
            "recipient": recipient,
            "status": "queued",
            "message_id": queued_message_id(job_id),
            "error": None,
        }
    error = None
    if outcome.kind == "failed":
        error = outcome.reason or "failed"
    elif outcome.kind == "suppressed":
        error = f"recipient is suppressed ({outcome.reason or 'ALL'})"
    return {"recipient": recipient, "status": outcome.kind, "message_id": outcome.message_id, "error": error}


class MessageService:
    def __init__(
        self,
        *,
        config: MessageServiceConfig,
        sender: Callable[[bool], SendsNow],  # marketing? -> the consumer (with or without List-Unsubscribe)
        queue: Callable[[], JobQueue],
        ledger: JobOutcomes,
        queued: QueuedMessageStore,
        idempotency: IdempotencyStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._sender = sender
        self._queue = queue
        self._ledger = ledger
        self._queued = queued
        self._idempotency = idempotency
        self._clock = clock

    def send(self, data: Any, *, idempotency_key: str | None, caller: str) -> SendAnswer:
        """``caller``: what identifies the API key (its digest), so two callers' keys never collide."""
        request = parse_request(data, unsubscribe_headers=self.config.unsubscribe_headers)
        if idempotency_key is None:
            return self._send(request, "api-" + uuid.uuid4().hex)
        if not _IDEMPOTENCY_KEY.match(idempotency_key):
            raise MessageRequestError(["Idempotency-Key: 1-255 printable ASCII characters"])
        key_hash = hashlib.sha256(f"{caller}\n{idempotency_key}".encode()).hexdigest()
        body_hash = hashlib.sha256(
            json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        owner = uuid.uuid4().hex
        held = self._idempotency.begin(key_hash, body_hash, owner, IDEMPOTENCY_LEASE_SECONDS)
        if held is not None:
            if held.body_hash != body_hash:
                raise IdempotencyConflictError(
                    "Idempotency-Key was already used with a different body within 24 hours; use a new key"
                )
            if held.state == "pending":
                raise IdempotencyConflictError(
                    "a request with this Idempotency-Key is still being processed; retry shortly"
                )
            return SendAnswer(held.status_code, jsontext.loads(held.answer), replayed=True)
        try:
            answer = self._send(request, "api-" + key_hash[:40])
        except BaseException:
            # nothing worth replaying: give the key back, so a retry with it runs again (its job ids are the same,
            # so what this attempt sent is recognised and not sent twice)
            try:
                self._idempotency.abandon(key_hash, owner)
            except Exception as exc:  # the lease ends by itself
                log.warning("idempotency key not released", extra={"error": type(exc).__name__})
            raise
        self._idempotency.complete(key_hash, owner, answer.status_code, json.dumps(answer.body, separators=(",", ":")))
        return answer

    def _send(self, request: MessagesRequest, batch_id: str) -> SendAnswer:
        pairs = build_jobs(request, batch_id)
        jobs = {job.job_id: job for _, job in pairs}
        # receive_count 2: a quota stop re-enqueues with a delay instead of extending a visibility we do not hold
        records = [QueueRecord(job.job_id, "", job.body(), 2) for job in jobs.values()]
        result = self._sender(request.marketing).process(records, deadline=self._clock() + self.config.budget_seconds)
        outcomes = {job_id: result.outcomes.get(job_id, {}).get("0") for job_id in jobs}
        # jobs the consumer left "for redelivery" are not on any queue: put them there now
        left = [jobs[j].body() for j in dict.fromkeys([*result.retry, *result.deferred]) if outcomes.get(j) is None]
        if left:
            refused = self._queue().put(left)
            if refused:
                raise QueueUnavailableError(f"{len(refused)} message(s) could neither be sent nor queued")
        now = iso(datetime.fromtimestamp(self._clock(), tz=UTC))
        queued = [
            QueuedMessage(
                message_id=queued_message_id(job_id),
                job_id=job_id,
                recipient_masked=mask_email(to),
                recipient_hash=recipient_hash(to),
                campaign_id=job.campaign_id,
                list_name=job.list_name,
                queued_at=now,
            )
            for to, job in pairs
            for job_id in [job.job_id]
            if outcomes[job_id] is None
        ]
        if queued:
            self._queued.put_queued(queued)
        results = [_result(to, outcomes[job.job_id], job.job_id) for to, job in pairs]
        statuses = {r["status"] for r in results}
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("sent", "queued", "suppressed", "failed")}
        log.info("messages sent", extra={"batch_id": batch_id, **counts})
        code = 200 if statuses <= {"sent", "queued"} else 207
        return SendAnswer(code, {"batch_id": batch_id, "results": results, "counts": counts})

    def resolve(self, job_id: str) -> Outcome | None:
        """The outcome of a queued message's job once the sender has one (sent, failed or suppressed)."""
        return self._ledger.outcomes(job_id).get("0")
