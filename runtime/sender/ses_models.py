"""The SESv2 ``SendEmail`` / ``SendBulkEmail`` requests, validated by explicit parsing against shapes that mirror
botocore's ``sesv2`` service model (2019-09-27): AWS member names, required members, enums, length limits and
patterns are the same.

No pydantic here: these requests are parsed on the sender's path (every queue message), where importing pydantic
and building the models' validators cost ~130 ms of each cold start. A validated request keeps its API form (the
dict botocore is given); ``SendEmailRequest`` / ``SendBulkEmailRequest`` are read-only views over it with attribute
access by AWS member name (``request.Content.Template.TemplateName``; an unset member is None). Problems are named
the way pydantic names them (``Content.Simple.Body: Field required``, ``Contnt: Extra inputs are not permitted``),
all of them, in member order; a shape's own rules (``Content needs exactly one of Simple, Raw, Template``) are
checked once its members are valid.

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
import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formataddr, getaddresses
from typing import Any

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


# -- errors ------------------------------------------------------------------------------------------------------
Loc = tuple[str | int, ...]


class RequestError(ValueError):
    """A request is not valid; ``problems()`` names each (``Content.Template.TemplateData: ...``). ``errors()`` gives
    them as pydantic does (``loc``, ``msg``), so ``describe_errors`` serves both."""

    def __init__(self, errors: list[tuple[Loc, str]]) -> None:
        self._errors = errors
        super().__init__("; ".join(self.problems()))

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": loc, "msg": msg} for loc, msg in self._errors]

    def problems(self, prefix: str = "") -> list[str]:
        return describe_errors(self, prefix)


def describe_errors(exc: Any, prefix: str = "") -> list[str]:
    """Human text for each error of a ``RequestError`` or a pydantic ``ValidationError``, naming the field path
    (``Content.Template.TemplateData: ...``)."""
    problems = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        message = str(err["msg"]).removeprefix("Value error, ")
        where = f"{prefix}{path}" if path else prefix.rstrip(".: ") or "request"
        problems.append(f"{where}: {message}")
    return problems


# -- shapes ------------------------------------------------------------------------------------------------------
# Plain slotted classes, not dataclasses: every sender cold start builds them at import, and a dataclass compiles its
# generated methods then (~0.3-0.5 ms a class); these are only constructed (at import) and parsed with.
def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Str:
    __slots__ = ("check", "max", "min", "pattern")

    def __init__(
        self,
        min: int | None = None,
        max: int | None = None,
        pattern: str | None = None,
        check: Callable[[str], str] | None = None,  # raises ValueError naming the problem; returns the value to keep
    ) -> None:
        self.min = min
        self.max = max
        self.pattern = pattern
        self.check = check

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if not isinstance(value, str):
            errors.append((loc, "Input should be a valid string"))
            return None
        if self.min is not None and len(value) < self.min:
            errors.append((loc, f"String should have at least {_plural(self.min, 'character')}"))
            return None
        if self.max is not None and len(value) > self.max:
            errors.append((loc, f"String should have at most {_plural(self.max, 'character')}"))
            return None
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            errors.append((loc, f"String should match pattern '{self.pattern}'"))
            return None
        if self.check is not None:
            try:
                return self.check(value)
            except ValueError as exc:
                errors.append((loc, str(exc)))
                return None
        return value


class Choice:
    __slots__ = ("choices",)

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if value in self.choices and isinstance(value, str):
            return value
        quoted = [f"'{c}'" for c in self.choices]
        errors.append((loc, f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}"))
        return None


class Const:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if value == self.value and type(value) is type(self.value):
            return value
        errors.append((loc, f"Input should be {self.value!r}"))
        return None


class Integer:
    __slots__ = ("ge",)

    def __init__(self, ge: int | None = None) -> None:
        self.ge = ge

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append((loc, "Input should be a valid integer"))
            return None
        if self.ge is not None and value < self.ge:
            errors.append((loc, f"Input should be greater than or equal to {self.ge}"))
            return None
        return value


class ListOf:
    __slots__ = ("check", "item", "max", "min")

    def __init__(
        self,
        item: Spec,
        min: int | None = None,
        max: int | None = None,
        check: Callable[[list[Any]], list[Any]] | None = None,  # on the whole valid list (problems name the list)
    ) -> None:
        self.item = item
        self.min = min
        self.max = max
        self.check = check

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if not isinstance(value, list | tuple):
            errors.append((loc, "Input should be a valid list"))
            return None
        before = len(errors)
        out = [self.item.parse(v, (*loc, i), errors) for i, v in enumerate(value)]
        if len(errors) > before:
            return None
        if self.min is not None and len(out) < self.min:
            errors.append(
                (loc, f"List should have at least {_plural(self.min, 'item')} after validation, not {len(out)}")
            )
            return None
        if self.max is not None and len(out) > self.max:
            errors.append(
                (loc, f"List should have at most {_plural(self.max, 'item')} after validation, not {len(out)}")
            )
            return None
        if self.check is not None:
            try:
                return self.check(out)
            except ValueError as exc:
                errors.append((loc, str(exc)))
                return None
        return out


class Member:
    __slots__ = ("required", "spec")

    def __init__(self, spec: Spec, required: bool = False) -> None:
        self.spec = spec
        self.required = required


class Shape:
    """A structure: its members in botocore's order, and its own rules (``rules``: raise ValueError) checked once the
    members are valid. Unknown members are refused; a member given as null is unset."""

    __slots__ = ("members", "name", "rules")

    def __init__(
        self,
        name: str,
        members: dict[str, Member] | None = None,
        rules: tuple[Callable[[dict[str, Any]], None], ...] = (),
    ) -> None:
        self.name = name
        self.members = members if members is not None else {}
        self.rules = rules

    def parse(self, value: Any, loc: Loc, errors: list[tuple[Loc, str]]) -> Any:
        if isinstance(value, View):
            value = value.data
        if not isinstance(value, Mapping):
            errors.append((loc, f"Input should be a valid dictionary or instance of {self.name}"))
            return None
        before = len(errors)
        out: dict[str, Any] = {}
        for name, member in self.members.items():
            if name not in value:
                if member.required:
                    errors.append(((*loc, name), "Field required"))
                continue
            given = value[name]
            if given is None and not member.required:
                continue  # null: unset
            parsed = member.spec.parse(given, (*loc, name), errors)
            if parsed is not None:
                out[name] = parsed
        for name in value:
            if name not in self.members:
                errors.append(((*loc, str(name)), "Extra inputs are not permitted"))
        if len(errors) > before:
            return None
        for rule in self.rules:
            try:
                rule(out)
            except ValueError as exc:
                errors.append((loc, str(exc)))
                return None
        return out

    def validate(self, value: Any) -> dict[str, Any]:
        errors: list[tuple[Loc, str]] = []
        parsed = self.parse(value, (), errors)
        if errors:
            raise RequestError(errors)
        assert isinstance(parsed, dict)
        return parsed


Spec = Str | Choice | Const | Integer | ListOf | Shape


# -- the sesv2 shapes ----------------------------------------------------------------------------------------------
def _addresses(destination: Mapping[str, Any]) -> list[str]:
    return [
        *(destination.get("ToAddresses") or []),
        *(destination.get("CcAddresses") or []),
        *(destination.get("BccAddresses") or []),
    ]


def _destination_rules(destination: dict[str, Any]) -> None:
    total = len(_addresses(destination))
    if total == 0:
        raise ValueError("Destination needs at least one of ToAddresses, CcAddresses, BccAddresses")
    if total > MAX_RECIPIENTS:
        raise ValueError(f"Destination has {total} addresses; SES accepts at most {MAX_RECIPIENTS}")


def _template_data(value: str) -> str:
    if len(value) > MAX_TEMPLATE_DATA:
        raise ValueError(f"TemplateData is longer than {MAX_TEMPLATE_DATA} characters")
    try:
        parsed = jsontext.loads(value)
    except jsontext.JsonTextError as exc:
        raise ValueError(f"TemplateData must be a JSON object text: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError("TemplateData must be a JSON object text")
    return value


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("Raw.Data must be the base64-encoded MIME message") from exc
    return value


def _subject(value: str) -> str:
    return single_line(value, "Subject")


def _exactly_one(what: str, names: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def rule(shape: dict[str, Any]) -> None:
        if sum(1 for n in names if n in shape) != 1:
            raise ValueError(f"{what} needs exactly one of {', '.join(names)}")

    return rule


def _body_rule(body: dict[str, Any]) -> None:
    if "Text" not in body and "Html" not in body:
        raise ValueError("Body needs Text or Html")


_ADDRESS = Str(min=3, max=320, check=mailbox)
_ADDRESSES = ListOf(Str(min=3, max=320), check=lambda addresses: [mailbox(a) for a in addresses])
DESTINATION = Shape(
    "DestinationShape",
    {"ToAddresses": Member(_ADDRESSES), "CcAddresses": Member(_ADDRESSES), "BccAddresses": Member(_ADDRESSES)},
    (_destination_rules,),
)
CONTENT_PART = Shape("ContentPart", {"Data": Member(Str(), True), "Charset": Member(Str())})
SUBJECT_PART = Shape("SubjectPart", {"Data": Member(Str(check=_subject), True), "Charset": Member(Str())})
BODY = Shape("BodyShape", {"Text": Member(CONTENT_PART), "Html": Member(CONTENT_PART)}, (_body_rule,))
HEADER = Shape(
    "MessageHeader",
    {
        "Name": Member(Str(min=1, max=126, pattern=r"^[!-9;-@A-~]+$"), True),
        "Value": Member(Str(min=1, max=995, pattern=r"^[ -~]*$"), True),
    },
)
HEADERS = ListOf(HEADER, max=MAX_HEADERS)
TAG = Shape("MessageTag", {"Name": Member(Str(min=1), True), "Value": Member(Str(), True)})
ATTACHMENT = Shape(
    "Attachment",
    {
        "RawContent": Member(Str(), True),
        "FileName": Member(Str(max=255), True),
        "ContentDisposition": Member(Choice(("ATTACHMENT", "INLINE"))),
        "ContentDescription": Member(Str(max=1000)),
        "ContentId": Member(Str(min=1, max=78)),
        "ContentTransferEncoding": Member(Choice(("BASE64", "QUOTED_PRINTABLE", "SEVEN_BIT"))),
        "ContentType": Member(Str(min=1, max=78)),
    },
)
MESSAGE = Shape(
    "Message",
    {
        "Subject": Member(SUBJECT_PART, True),
        "Body": Member(BODY, True),
        "Headers": Member(HEADERS),
        "Attachments": Member(ListOf(ATTACHMENT)),
    },
)
RAW = Shape("RawMessage", {"Data": Member(Str(check=_base64), True)})
TEMPLATE_CONTENT = Shape(
    "EmailTemplateContent",
    {"Subject": Member(Str(check=_subject)), "Text": Member(Str()), "Html": Member(Str())},
)
TEMPLATE = Shape(
    "TemplateShape",
    {
        "TemplateName": Member(Str(min=1)),
        "TemplateArn": Member(Str(min=1)),
        "TemplateContent": Member(TEMPLATE_CONTENT),
        "TemplateData": Member(Str(check=_template_data)),
        "Headers": Member(HEADERS),
        "Attachments": Member(ListOf(ATTACHMENT)),
    },
    (_exactly_one("Template", ("TemplateName", "TemplateArn", "TemplateContent")),),
)
EMAIL_CONTENT = Shape(
    "EmailContent",
    {"Simple": Member(MESSAGE), "Raw": Member(RAW), "Template": Member(TEMPLATE)},
    (_exactly_one("Content", ("Simple", "Raw", "Template")),),
)
LIST_MANAGEMENT = Shape(
    "ListManagementOptionsShape", {"ContactListName": Member(Str(), True), "TopicName": Member(Str())}
)
_ENABLED = Choice(("ENABLED", "DISABLED"))
TRACKING = Shape(
    "TrackingConfigurationOverrides",
    {"OpenTrackingEnabled": Member(_ENABLED), "ClickTrackingEnabled": Member(_ENABLED)},
)
OVERRIDES = Shape("ConfigurationOverridesShape", {"Tracking": Member(TRACKING)})
_ADDRESSING = {
    "FromEmailAddress": Member(_ADDRESS),
    "FromEmailAddressIdentityArn": Member(Str(min=1)),
    "ReplyToAddresses": Member(_ADDRESSES),
    "FeedbackForwardingEmailAddress": Member(_ADDRESS),
    "FeedbackForwardingEmailAddressIdentityArn": Member(Str(min=1)),
    "ConfigurationSetName": Member(Str()),
    "EndpointId": Member(Str()),
    "TenantName": Member(Str(min=1)),
    "ConfigurationOverrides": Member(OVERRIDES),
}


def _destination_unless_raw(request: dict[str, Any]) -> None:
    if "Destination" not in request and "Raw" not in request["Content"]:
        raise ValueError("Destination is required unless Content is Raw")


SEND_EMAIL = Shape(
    "SendEmailRequest",
    {
        **_ADDRESSING,
        "Destination": Member(DESTINATION),
        "Content": Member(EMAIL_CONTENT, True),
        "EmailTags": Member(ListOf(TAG)),
        "ListManagementOptions": Member(LIST_MANAGEMENT),
    },
    (_destination_unless_raw,),
)
REPLACEMENT_TEMPLATE = Shape("ReplacementTemplateShape", {"ReplacementTemplateData": Member(Str(check=_template_data))})
BULK_ENTRY = Shape(
    "BulkEmailEntry",
    {
        "Destination": Member(DESTINATION, True),
        "ReplacementTags": Member(ListOf(TAG)),
        "ReplacementEmailContent": Member(
            Shape("ReplacementEmailContentShape", {"ReplacementTemplate": Member(REPLACEMENT_TEMPLATE)})
        ),
        "ReplacementHeaders": Member(HEADERS),
    },
)
SEND_BULK_EMAIL = Shape(
    "SendBulkEmailRequest",
    {
        **_ADDRESSING,
        "DefaultEmailTags": Member(ListOf(TAG)),
        "DefaultContent": Member(Shape("BulkEmailContent", {"Template": Member(TEMPLATE, True)}), True),
        "BulkEmailEntries": Member(ListOf(BULK_ENTRY, min=1, max=MAX_BULK_ENTRIES), True),
    },
)


# -- validated requests ----------------------------------------------------------------------------------------------
class View:
    """A read-only view over validated API data: members by AWS name (unset = None; a structure is a ``View``, a
    list of structures a list of them); ``to_api()`` is the data as boto3 takes it (a copy)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "data", data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _view(self.data.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, View) and other.data == self.data

    def __hash__(self) -> int:
        return hash(json.dumps(self.data, sort_keys=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"

    def to_api(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


def _view(value: Any) -> Any:
    if isinstance(value, dict):
        return View(value)
    if isinstance(value, list):
        return [_view(v) for v in value]
    return value


class SendEmailRequest(View):
    """botocore ``SendEmailRequest`` (required: ``Content``), validated."""

    __slots__ = ()
    shape = SEND_EMAIL

    @classmethod
    def model_validate(cls, data: Any) -> SendEmailRequest:
        """Validate ``data`` (API form); raises ``RequestError`` naming every problem."""
        return cls(cls.shape.validate(data))


class SendBulkEmailRequest(View):
    """botocore ``SendBulkEmailRequest`` (required: ``DefaultContent``, ``BulkEmailEntries``), validated."""

    __slots__ = ()
    shape = SEND_BULK_EMAIL

    @classmethod
    def model_validate(cls, data: Any) -> SendBulkEmailRequest:
        return cls(cls.shape.validate(data))

    def with_entries(self, entries: Sequence[dict[str, Any]]) -> SendBulkEmailRequest:
        """The same request carrying ``entries`` (validated entries of this request: no validation again)."""
        return SendBulkEmailRequest({**self.data, "BulkEmailEntries": list(entries)})


def all_addresses(destination: Mapping[str, Any] | None) -> list[str]:
    """Every recipient of a Destination (To, Cc, Bcc)."""
    return _addresses(destination or {})


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
    return SendEmailRequest.model_validate(data)


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
