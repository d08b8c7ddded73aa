"""pydantic models of the SESv2 ``SendEmail`` / ``SendBulkEmail`` requests, mirroring botocore's ``sesv2`` service
model (2019-09-27): AWS member names, required members, enums, length limits and patterns are the same.

Producers write one ``SendEmail`` request per line (seed 003's "campaign file"); ``parse_send_lines`` validates a
whole file and names the line and field of every problem.

Header injection: every address field holds exactly one mailbox, parsed with ``email.utils`` and rebuilt with
``formataddr`` (display names quoted or RFC 2047-encoded as needed), so an unquoted comma or an address posing as a
display name can neither add a recipient the suppression check never saw nor reach SES verbatim; control
characters (CR, LF, NUL, Unicode line separators...) are refused in addresses and subjects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formataddr, getaddresses
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runtime import jsontext
from runtime.emails import InvalidEmailError, normalize_email

MAX_RECIPIENTS = 50  # SES: at most 50 recipients per message (To + Cc + Bcc)
MAX_BULK_ENTRIES = 50
MAX_TEMPLATE_DATA = 262_144
MAX_HEADERS = 15


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def single_line(value: str, what: str) -> str:
    """``value`` if it holds no control character (a CR or LF in a header value starts a new header line)."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain control characters (line breaks, tabs, NUL)")
    return value


def mailbox(value: str) -> str:
    """Exactly one address, as it will appear in a header: parsed with ``email.utils.getaddresses`` and rebuilt with
    ``formataddr``. Raises ValueError for control characters, several addresses (an unquoted comma, an address
    posing as a display name) or an invalid address."""
    single_line(value, "an address")
    found = [(name, address) for name, address in getaddresses([value]) if name or address]
    if len(found) != 1 or not found[0][1]:
        raise ValueError(
            f"must hold exactly one address, found {len(found)}: quote a display name that contains a comma or an "
            'address, like "Smith, John" <john@example.com>'
        )
    name, address = found[0]
    try:
        normalize_email(address)
    except InvalidEmailError as exc:
        raise ValueError(f"{exc}") from exc
    return formataddr((name, address))


def _check_address(value: str) -> str:
    return mailbox(value)


EmailAddress = Annotated[str, Field(min_length=3, max_length=320)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False, defer_build=True)

    def to_api(self) -> dict[str, Any]:
        """The request as boto3 expects it (unset members omitted)."""
        return self.model_dump(exclude_none=True, by_alias=True)


class DestinationShape(_Shape):
    ToAddresses: list[EmailAddress] | None = None
    CcAddresses: list[EmailAddress] | None = None
    BccAddresses: list[EmailAddress] | None = None

    @field_validator("ToAddresses", "CcAddresses", "BccAddresses")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_check_address(address) for address in value]

    @model_validator(mode="after")
    def _not_empty(self) -> DestinationShape:
        total = len(self.all_addresses())
        if total == 0:
            raise ValueError("Destination needs at least one of ToAddresses, CcAddresses, BccAddresses")
        if total > MAX_RECIPIENTS:
            raise ValueError(f"Destination has {total} addresses; SES accepts at most {MAX_RECIPIENTS}")
        return self

    def all_addresses(self) -> list[str]:
        return [*(self.ToAddresses or []), *(self.CcAddresses or []), *(self.BccAddresses or [])]


class ContentPart(_Shape):
    """botocore shape ``Content``."""

    Data: str
    Charset: str | None = None


class SubjectPart(ContentPart):
    """A subject: one header line."""

    @field_validator("Data")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return single_line(value, "Subject")


class BodyShape(_Shape):
    Text: ContentPart | None = None
    Html: ContentPart | None = None

    @model_validator(mode="after")
    def _one(self) -> BodyShape:
        if self.Text is None and self.Html is None:
            raise ValueError("Body needs Text or Html")
        return self


class MessageHeader(_Shape):
    Name: str = Field(min_length=1, max_length=126, pattern=r"^[!-9;-@A-~]+$")
    Value: str = Field(min_length=1, max_length=995, pattern=r"^[ -~]*$")


class MessageTag(_Shape):
    """Tags are sanitised to SES's character set at send time (``runtime.sender.tags``)."""

    Name: str = Field(min_length=1)
    Value: str


class Attachment(_Shape):
    RawContent: str
    FileName: str = Field(max_length=255)
    ContentDisposition: Literal["ATTACHMENT", "INLINE"] | None = None
    ContentDescription: str | None = Field(default=None, max_length=1000)
    ContentId: str | None = Field(default=None, min_length=1, max_length=78)
    ContentTransferEncoding: Literal["BASE64", "QUOTED_PRINTABLE", "SEVEN_BIT"] | None = None
    ContentType: str | None = Field(default=None, min_length=1, max_length=78)


class Message(_Shape):
    """botocore shape ``Message`` (``Content.Simple``)."""

    Subject: SubjectPart
    Body: BodyShape
    Headers: list[MessageHeader] | None = Field(default=None, max_length=MAX_HEADERS)
    Attachments: list[Attachment] | None = None


class RawMessage(_Shape):
    Data: str  # base64 of the MIME message (a blob in the service model)

    @field_validator("Data")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("Raw.Data must be the base64-encoded MIME message") from exc
        return value

    def mime(self) -> bytes:
        return base64.b64decode(self.Data)


class EmailTemplateContent(_Shape):
    Subject: str | None = None
    Text: str | None = None
    Html: str | None = None

    @field_validator("Subject")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else single_line(value, "Subject")


def _template_data(value: str | None) -> str | None:
    if value is None:
        return value
    if len(value) > MAX_TEMPLATE_DATA:
        raise ValueError(f"TemplateData is longer than {MAX_TEMPLATE_DATA} characters")
    try:
        parsed = jsontext.loads(value)
    except jsontext.JsonTextError as exc:
        raise ValueError(f"TemplateData must be a JSON object text: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError("TemplateData must be a JSON object text")
    return value


class TemplateShape(_Shape):
    TemplateName: str | None = Field(default=None, min_length=1)
    TemplateArn: str | None = Field(default=None, min_length=1)
    TemplateContent: EmailTemplateContent | None = None
    TemplateData: str | None = None
    Headers: list[MessageHeader] | None = Field(default=None, max_length=MAX_HEADERS)
    Attachments: list[Attachment] | None = None

    @field_validator("TemplateData")
    @classmethod
    def _data(cls, value: str | None) -> str | None:
        return _template_data(value)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> TemplateShape:
        given = [n for n in ("TemplateName", "TemplateArn", "TemplateContent") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("Template needs exactly one of TemplateName, TemplateArn, TemplateContent")
        return self

    def identity(self) -> str:
        """What makes two templated sends share a template (the SendBulkEmail grouping key)."""
        if self.TemplateContent is not None:
            return "content:" + json.dumps(self.TemplateContent.to_api(), sort_keys=True)
        return f"name:{self.TemplateName}" if self.TemplateName else f"arn:{self.TemplateArn}"


class EmailContent(_Shape):
    Simple: Message | None = None
    Raw: RawMessage | None = None
    Template: TemplateShape | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EmailContent:
        given = [n for n in ("Simple", "Raw", "Template") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("Content needs exactly one of Simple, Raw, Template")
        return self


class ListManagementOptionsShape(_Shape):
    ContactListName: str
    TopicName: str | None = None


class TrackingConfigurationOverrides(_Shape):
    OpenTrackingEnabled: Literal["ENABLED", "DISABLED"] | None = None
    ClickTrackingEnabled: Literal["ENABLED", "DISABLED"] | None = None


class ConfigurationOverridesShape(_Shape):
    Tracking: TrackingConfigurationOverrides | None = None


class _Addressing(_Shape):
    FromEmailAddress: EmailAddress | None = None
    FromEmailAddressIdentityArn: str | None = Field(default=None, min_length=1)
    ReplyToAddresses: list[EmailAddress] | None = None
    FeedbackForwardingEmailAddress: EmailAddress | None = None
    FeedbackForwardingEmailAddressIdentityArn: str | None = Field(default=None, min_length=1)
    ConfigurationSetName: str | None = None
    EndpointId: str | None = None
    TenantName: str | None = Field(default=None, min_length=1)
    ConfigurationOverrides: ConfigurationOverridesShape | None = None

    @field_validator("FromEmailAddress", "FeedbackForwardingEmailAddress")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    @field_validator("ReplyToAddresses")
    @classmethod
    def _reply_to(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_check_address(address) for address in value]


class SendEmailRequest(_Addressing):
    """botocore ``SendEmailRequest`` (required: ``Content``)."""

    Destination: DestinationShape | None = None
    Content: EmailContent
    EmailTags: list[MessageTag] | None = None
    ListManagementOptions: ListManagementOptionsShape | None = None

    @model_validator(mode="after")
    def _destination_unless_raw(self) -> SendEmailRequest:
        if self.Destination is None and self.Content.Raw is None:
            raise ValueError("Destination is required unless Content is Raw")
        return self


class ReplacementTemplateShape(_Shape):
    ReplacementTemplateData: str | None = None

    @field_validator("ReplacementTemplateData")
    @classmethod
    def _data(cls, value: str | None) -> str | None:
        return _template_data(value)


class ReplacementEmailContentShape(_Shape):
    ReplacementTemplate: ReplacementTemplateShape | None = None


class BulkEmailEntry(_Shape):
    Destination: DestinationShape
    ReplacementTags: list[MessageTag] | None = None
    ReplacementEmailContent: ReplacementEmailContentShape | None = None
    ReplacementHeaders: list[MessageHeader] | None = Field(default=None, max_length=MAX_HEADERS)


class BulkEmailContent(_Shape):
    Template: TemplateShape


class SendBulkEmailRequest(_Addressing):
    """botocore ``SendBulkEmailRequest`` (required: ``DefaultContent``, ``BulkEmailEntries``)."""

    DefaultEmailTags: list[MessageTag] | None = None
    DefaultContent: BulkEmailContent
    BulkEmailEntries: list[BulkEmailEntry] = Field(min_length=1, max_length=MAX_BULK_ENTRIES)


def describe_errors(exc: ValidationError, prefix: str = "") -> list[str]:
    """Human text for each pydantic error, naming the field path (``Content.Template.TemplateData: ...``)."""
    problems = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        message = str(err["msg"]).removeprefix("Value error, ")
        where = f"{prefix}{path}" if path else prefix.rstrip(".: ") or "request"
        problems.append(f"{where}: {message}")
    return problems


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


def parse_send_line(text: str) -> SendEmailRequest:
    """One JSON line -> ``SendEmailRequest``; raises ``ValueError`` naming the field."""
    data = jsontext.loads(text)  # JsonTextError (a ValueError): not JSON, or nested too deep
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object (one SESv2 SendEmail request)")
    try:
        return SendEmailRequest.model_validate(data)
    except ValidationError as exc:
        raise ValueError("; ".join(describe_errors(exc))) from exc


def parse_send_lines(lines: Iterable[str]) -> tuple[list[tuple[int, SendEmailRequest]], list[LineError]]:
    """Validate a JSON-lines file of SendEmail requests: ``([(line number, request)], [errors])``.

    Blank lines and ``//`` comment lines (as in the seed's example) are skipped; numbering is 1-based.
    """
    good: list[tuple[int, SendEmailRequest]] = []
    errors: list[LineError] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("//"):
            continue
        try:
            good.append((number, parse_send_line(text)))
        except ValueError as exc:
            errors.append(LineError(number, str(exc)))
    return good, errors
