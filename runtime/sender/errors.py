"""What an SES failure means for the message: retry later (throttled), give up (permanent), try the backup region
(the primary region's SES is failing), or *unknown* (the request may have reached SES and been accepted).

Only an answer that proves nothing was sent may lead to another send: an error response from SES (throttling,
rejection, a 5xx error document) or a connection that was never established. A connection reset or a read
timeout after the request went out is **unknown**: SES may have accepted it. The send client therefore never
retries by itself (botocore ``max_attempts=1``) and unknown units wait for SES's own Send events (docs/sending.md
"Exactly once").
"""

from __future__ import annotations

import re
from typing import Literal

from runtime.emails import mask_email

# ``paused``: never an SES answer — the unit's campaign or configuration set is paused (runtime.sender.control,
# runtime.reputation): it waits on the queue and is sent after the resume
Verdict = Literal["throttled", "quota", "permanent", "regional", "transient", "unknown", "paused"]

THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException", "RequestLimitExceeded"}
)
PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "NotFoundException",
        "ValidationException",
        "InvalidParameterValue",
        "ConfigurationSetDoesNotExistException",
        "TemplateDoesNotExistException",
    }
)
REGIONAL_CODES = frozenset(
    {
        "SendingPausedException",
        "AccountSendingPausedException",
        "AccountSuspendedException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# SendBulkEmail per-entry statuses (botocore BulkEmailStatus)
BULK_STATUS: dict[str, Verdict] = {
    "MESSAGE_REJECTED": "permanent",
    "MAIL_FROM_DOMAIN_NOT_VERIFIED": "permanent",
    "CONFIGURATION_SET_NOT_FOUND": "permanent",
    "TEMPLATE_NOT_FOUND": "permanent",
    "INVALID_SENDING_POOL_NAME": "permanent",
    "INVALID_PARAMETER": "permanent",
    "ACCOUNT_THROTTLED": "throttled",
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": "quota",
    "ACCOUNT_SUSPENDED": "regional",
    "ACCOUNT_SENDING_PAUSED": "regional",
    "CONFIGURATION_SET_SENDING_PAUSED": "regional",
    "TRANSIENT_FAILURE": "transient",
    "FAILED": "transient",
}
# SES error messages can name addresses ("The following identities failed the check in region ...: a@b.c");
# reasons are logged and stored on job records, so addresses in them are masked
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[A-Za-z0-9.-]+")
# raised before a byte of the request left (no connection, no credentials): nothing can have been sent
_NEVER_SENT_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ProxyConnectionError",
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
    }
)


# A plain slotted class, not a dataclass: built at import by every sender cold start, where a dataclass compiles its
# generated methods (~0.3-0.5 ms a class). Not compared or hashed.
class Classified:
    __slots__ = ("code", "message", "verdict")

    def __init__(self, verdict: Verdict, code: str, message: str) -> None:
        self.verdict = verdict
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"Classified(verdict={self.verdict!r}, code={self.code!r}, message={self.message!r})"

    @property
    def reason(self) -> str:
        """The ``failure_reason`` recorded for permanent failures (never contains an address)."""
        message = _ADDRESS.sub(lambda m: mask_email(m.group(0)), self.message)
        return f"{self.code}: {message}"[:500]


def classify(exc: BaseException) -> Classified:
    """Classify an exception raised by an SES client call."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or type(exc).__name__)
        message = str(error.get("Message") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        # SES reports the exhausted daily quota as a throttling error ("Daily message quota exceeded.")
        throttling = code in THROTTLING_CODES or status == 429
        if throttling and "quota" in message.lower() and "daily" in message.lower():
            return Classified("quota", code, message)
        if code in THROTTLING_CODES or status == 429:
            return Classified("throttled", code, message)
        if code in REGIONAL_CODES or status >= 500:
            return Classified("regional", code, message)
        if code in PERMANENT_CODES or 400 <= status < 500:
            return Classified("permanent", code, message)
        return Classified("transient", code, message)
    name = type(exc).__name__
    if name == "ParamValidationError":
        return Classified("permanent", "BadRequestException", str(exc).replace("\n", " "))
    if name in _NEVER_SENT_ERRORS:
        return Classified("regional", name, str(exc))
    # a reset connection, a read timeout, an unreadable answer, anything else: the request may have been accepted
    return Classified("unknown", name, str(exc))


def classify_bulk_status(status: str, error: str | None) -> Classified:
    return Classified(BULK_STATUS.get(status, "transient"), status, error or "")
