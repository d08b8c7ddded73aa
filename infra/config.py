"""Typed, validated stack config: read from the ``sesame:`` namespace (and ``aws:region``) before any resource
registers. Every error names the Pulumi config key (``sesame:regions: ...``).

Pulumi.yaml's ``config:`` block documents the same keys with their defaults; docs/configuration.md explains them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAMESPACE = "sesame"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_FUNCTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")

#: Lambda functions of the Chalice app whose timeouts size the queues they consume (see docs/deploy.md).
SENDER_FUNCTION = "sender"
CRITICAL_FUNCTION = "critical_events"
ENGAGEMENT_FUNCTION = "engagement_events"
FORWARD_FUNCTION = "forward_events"
CAMPAIGN_SCHEDULER_FUNCTION = "check_for_campaign"


class ConfigError(pulumi.RunError):
    """The stack config is invalid; the message names every offending key."""


def _hostname(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"must be a DNS name like example.com, got {value!r}")
    return value


class FunctionConfig(BaseModel):
    """Timeout and memory of one Chalice Lambda function (written into the Chalice stage)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: int = Field(ge=1, le=900)
    memory: int = Field(default=512, ge=128, le=10240)


class ConfigurationSetConfig(BaseModel):
    """One entry of ``sesame:configurationSets`` (key = logical name, e.g. ``marketing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    tracking: bool = False
    ip_pool: str = Field(default="", alias="ipPool")
    vdm_engagement_metrics: bool | None = Field(default=None, alias="vdmEngagementMetrics")
    vdm_optimized_shared_delivery: bool | None = Field(default=None, alias="vdmOptimizedSharedDelivery")
    max_delivery_seconds: int | None = Field(default=None, ge=300, le=50400, alias="maxDeliverySeconds")


DEFAULT_CONFIGURATION_SETS: dict[str, dict[str, Any]] = {
    "marketing": {"tracking": True},
    "transactional": {"tracking": False},
}

DEFAULT_FUNCTIONS: dict[str, dict[str, int]] = {
    SENDER_FUNCTION: {"timeout": 60, "memory": 512},
    CRITICAL_FUNCTION: {"timeout": 60, "memory": 512},
    ENGAGEMENT_FUNCTION: {"timeout": 120, "memory": 512},
    FORWARD_FUNCTION: {"timeout": 60, "memory": 256},
    CAMPAIGN_SCHEDULER_FUNCTION: {"timeout": 60, "memory": 256},
}

#: Config keys that may be secrets: a URL carrying credentials (``user:password@``, a query string) or one set with
#: ``pulumi config set --secret`` (a token in the path cannot be told apart) is kept out of every plain-text output.
SECRET_CAPABLE_KEYS = ("forwardUrl", "webhookUrl")


def url_carries_credentials(url: str) -> bool:
    """True for a URL with user info or a query string (where basic-auth credentials and API keys travel)."""
    parts = urlsplit(url)
    return bool(parts.username or parts.password or parts.query)


def is_secret_url(key: str, url: str) -> bool:
    """Whether the URL of config key ``key`` (``forwardUrl``, ``webhookUrl``) must be handled as a secret: it
    carries credentials, or it was set with ``pulumi config set --secret``."""
    if not url:
        return False
    if url_carries_credentials(url):
        return True
    try:
        from pulumi.runtime.config import is_config_secret

        return bool(is_config_secret(f"{NAMESPACE}:{key}"))
    except (ImportError, LookupError):  # pragma: no cover - outside a Pulumi program run
        return False


#: Config keys whose values are secrets (``pulumi config set --secret``); never exported in plain text.
SECRET_KEYS = (
    "byodkimPrivateKey",
    "unsubscribeSecrets",
    "paginationSecret",
    "forwardSecret",
    "redriveSecret",
    "apiKeyHashes",
)


class StackConfig(BaseModel):
    """Everything the program needs, validated. Field aliases are the Pulumi config keys (without namespace)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # required
    region: str = Field(alias="aws:region")
    environment: str
    domain: str
    regions: tuple[str, ...]
    home_region: str = Field(alias="homeRegion")
    hosted_zone_id: str = Field(alias="hostedZoneId")

    # identity and DNS
    dkim_key_length: Literal["RSA_2048_BIT", "RSA_1024_BIT"] = Field(default="RSA_2048_BIT", alias="dkimKeyLength")
    byodkim_selector: str = Field(default="", alias="byodkimSelector")
    byodkim_private_key: str = Field(default="", alias="byodkimPrivateKey", repr=False)
    mail_from_domain: str = Field(default="", alias="mailFromDomain")
    mail_from_behavior_on_mx_failure: Literal["USE_DEFAULT_VALUE", "REJECT_MESSAGE"] = Field(
        default="USE_DEFAULT_VALUE", alias="mailFromBehaviorOnMxFailure"
    )
    manage_dmarc: bool = Field(default=True, alias="manageDmarc")
    dmarc_policy: Literal["none", "quarantine", "reject"] = Field(default="none", alias="dmarcPolicy")
    dmarc_rua: str = Field(default="", alias="dmarcRua")
    dmarc_pct: int = Field(default=100, ge=0, le=100, alias="dmarcPct")
    dns_ttl: int = Field(default=600, ge=60, le=172800, alias="dnsTtl")

    # tracking domain
    tracking_https: bool = Field(default=True, alias="trackingHttps")
    tracking_domain: str = Field(default="", alias="trackingDomain")

    # configuration sets
    configuration_sets: dict[str, ConfigurationSetConfig] = Field(
        default_factory=lambda: {k: ConfigurationSetConfig(**v) for k, v in DEFAULT_CONFIGURATION_SETS.items()},
        alias="configurationSets",
    )
    default_configuration_set: str = Field(default="marketing", alias="defaultConfigurationSet")

    # messaging
    topic_kms_key_id: str = Field(default="", alias="topicKmsKeyId")
    webhook_url: str = Field(default="", alias="webhookUrl")
    webhook_max_retries: int = Field(default=50, ge=40, le=100, alias="webhookMaxRetries")
    functions: dict[str, FunctionConfig] = Field(
        default_factory=lambda: {k: FunctionConfig(**v) for k, v in DEFAULT_FUNCTIONS.items()}
    )
    max_receive_count: int = Field(default=3, ge=1, le=1000, alias="maxReceiveCount")

    # tables
    deletion_protection: bool | None = Field(default=None, alias="deletionProtection")
    event_ttl_days: int = Field(default=90, ge=1, le=3650, alias="eventTtlDays")
    soft_bounce_limit: int = Field(default=3, ge=1, le=100, alias="softBounceLimit")
    soft_bounce_suppress_days: int = Field(default=30, ge=1, le=3650, alias="softBounceSuppressDays")

    # alarms, failover, archive
    alarm_email: str = Field(default="", alias="alarmEmail")
    bounce_rate_alarm_threshold: float = Field(default=0.05, gt=0, lt=1, alias="bounceRateAlarmThreshold")
    complaint_rate_alarm_threshold: float = Field(default=0.001, gt=0, lt=1, alias="complaintRateAlarmThreshold")
    multi_region_endpoint: bool = Field(default=False, alias="multiRegionEndpoint")
    archive_enabled: bool = Field(default=False, alias="archiveEnabled")
    archive_transition_days: int = Field(default=30, ge=1, alias="archiveTransitionDays")
    archive_expiration_days: int = Field(default=730, ge=2, alias="archiveExpirationDays")

    # app settings passed through to the Chalice stage
    default_from: str = Field(default="", alias="defaultFrom")
    cors_origins: tuple[str, ...] = Field(default=(), alias="corsOrigins")
    unsubscribe_base_url: str = Field(default="", alias="unsubscribeBaseUrl")
    unsubscribe_mailto: str = Field(default="", alias="unsubscribeMailto")
    forward_url: str = Field(default="", alias="forwardUrl")
    max_send_rate: float | None = Field(default=None, gt=0, alias="maxSendRate")
    daily_quota_headroom: float = Field(default=0.02, ge=0, lt=1, alias="dailyQuotaHeadroom")
    sns_max_age_seconds: int = Field(default=3600, ge=0, alias="snsMaxAgeSeconds")
    warmup_start: str = Field(default="", alias="warmupStart")
    warmup_pool: str = Field(default="", alias="warmupPool")

    # app secrets (secret config); generated (home stack) or read from the home stack when empty
    unsubscribe_secrets: tuple[str, ...] = Field(default=(), alias="unsubscribeSecrets", repr=False)
    pagination_secret: str = Field(default="", alias="paginationSecret", repr=False)
    forward_secret: str = Field(default="", alias="forwardSecret", repr=False)
    redrive_secret: str = Field(default="", alias="redriveSecret", repr=False)
    api_key_hashes: tuple[str, ...] = Field(default=(), alias="apiKeyHashes", repr=False)
    home_stack: str = Field(default="", alias="homeStack")

    # -- field checks -------------------------------------------------------------------------------------------

    @field_validator("deletion_protection", "max_send_rate", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" or value == "auto" else value

    @field_validator("region", "home_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"must be an AWS region like us-east-1, got {value!r}")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must list at least one region")
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"must list AWS regions like us-east-1, got {region!r}")
        if len(set(value)) != len(value):
            raise ValueError("must not list a region twice")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not _ENVIRONMENT.match(value):
            raise ValueError(f"must be 1-16 lower-case letters/digits starting with a letter, got {value!r}")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return _hostname(value)

    @field_validator("mail_from_domain", "tracking_domain")
    @classmethod
    def _optional_hostname(cls, value: str) -> str:
        return _hostname(value) if value else ""

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, value: str) -> str:
        value = value.strip().removeprefix("/hostedzone/")
        if value and not _ZONE_ID.match(value):
            raise ValueError(f"must be a Route53 hosted zone id like Z0123456789ABC or empty, got {value!r}")
        return value

    @field_validator("configuration_sets")
    @classmethod
    def _config_sets(cls, value: dict[str, ConfigurationSetConfig]) -> dict[str, ConfigurationSetConfig]:
        if not value:
            raise ValueError("must declare at least one configuration set")
        for name in value:
            if not _LABEL.match(name) or len(name) > 40:
                raise ValueError(f"configuration set names must be lower-case letters, digits, '-': {name!r}")
        return value

    @field_validator("functions")
    @classmethod
    def _functions(cls, value: dict[str, FunctionConfig]) -> dict[str, FunctionConfig]:
        merged = {k: FunctionConfig(**v) for k, v in DEFAULT_FUNCTIONS.items()}
        for name, fn in value.items():
            if not _FUNCTION.match(name):
                raise ValueError(f"function names must be Python identifiers, got {name!r}")
            merged[name] = fn
        return merged

    @field_validator("webhook_url", "forward_url", "unsubscribe_base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError(f"must be an https:// URL, got {value!r}")
        return value

    @field_validator("dmarc_rua")
    @classmethod
    def _rua(cls, value: str) -> str:
        for uri in filter(None, (part.strip() for part in value.split(","))):
            if not re.match(r"^mailto:[^@\s;]+@[^@\s;]+\.[^@\s;]+$", uri):
                raise ValueError(f"must be mailto: URIs separated by commas, got {uri!r}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("must be an email address")
        return value

    @field_validator("topic_kms_key_id")
    @classmethod
    def _topic_key(cls, value: str) -> str:
        if value.strip().endswith("alias/aws/sns"):
            raise ValueError(
                "SES cannot publish to a topic encrypted with the AWS managed key alias/aws/sns; use a customer "
                "managed key whose key policy lets ses.amazonaws.com call kms:GenerateDataKey* and kms:Decrypt"
            )
        return value.strip()

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str) -> str:
        if value and not re.match(r"^(mailto:)?[^@\s<>?]+@[^@\s<>?]+\.[^@\s<>?]+$", value):
            raise ValueError(f"must be an email address (optionally mailto:...), got {value!r}")
        return value

    @field_validator("warmup_start")
    @classmethod
    def _warmup_start(cls, value: str) -> str:
        if value:
            try:
                date.fromisoformat(value[:10])  # what the sender parses
            except ValueError:
                raise ValueError(f"must be an ISO date like 2026-01-31, got {value!r}") from None
        return value

    @field_validator("byodkim_selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        if value and not _LABEL.match(value):
            raise ValueError(f"must be a DNS label, got {value!r}")
        return value

    @field_validator("byodkim_private_key")
    @classmethod
    def _private_key(cls, value: str) -> str:
        value = value.strip()
        if value:
            body = "".join(line for line in value.splitlines() if not line.startswith("-----"))
            if not re.match(r"^[A-Za-z0-9+/=]+$", body):
                raise ValueError("must be a base64-encoded RSA private key (PEM body)")
            return body
        return value

    @field_validator("api_key_hashes")
    @classmethod
    def _hashes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for digest in value:
            if not _SHA256_HEX.match(digest):
                raise ValueError("each entry must be a sha256 hex digest (64 hex characters)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        if self.region not in self.regions:
            raise ValueError(f"sesame:regions must include the stack's aws:region ({self.region})")
        if self.home_region not in self.regions:
            raise ValueError(f"sesame:homeRegion ({self.home_region}) must be one of sesame:regions")
        if self.default_configuration_set not in self.configuration_sets:
            raise ValueError(
                f"sesame:defaultConfigurationSet ({self.default_configuration_set}) must be a key of "
                "sesame:configurationSets"
            )
        if bool(self.byodkim_selector) != bool(self.byodkim_private_key):
            raise ValueError("sesame:byodkimSelector and sesame:byodkimPrivateKey must be set together")
        if self.multi_region_endpoint and len(self.regions) != 2:
            raise ValueError("sesame:multiRegionEndpoint needs exactly two sesame:regions")
        # SES requires the MAIL FROM domain to be a subdomain of the identity; tracking domains must be covered by a
        # verified identity too
        for key, name in (("mailFromDomain", self.mail_from), ("trackingDomain", self.tracking_domain_name)):
            if not name.endswith(f".{self.domain}"):
                raise ValueError(f"sesame:{key} ({name}) must be a subdomain of sesame:domain ({self.domain})")
        if self.default_from:
            # the app role may send only with ses:FromAddress *@<domain> (StringLike is case-sensitive)
            address = parseaddr(self.default_from)[1]
            local, at, host = address.rpartition("@")
            if not (local and at and host == self.domain):
                raise ValueError(
                    f"sesame:defaultFrom ({self.default_from}) must be an address at sesame:domain ({self.domain}), "
                    "the only domain the app role may send from"
                )
        if self.archive_expiration_days <= self.archive_transition_days:
            raise ValueError("sesame:archiveExpirationDays must be greater than sesame:archiveTransitionDays")
        return self

    # -- derived values -----------------------------------------------------------------------------------------

    @property
    def is_home(self) -> bool:
        return self.region == self.home_region

    @property
    def stage(self) -> str:
        return f"{self.environment}-{self.region}"

    @property
    def other_regions(self) -> tuple[str, ...]:
        return tuple(r for r in self.regions if r != self.region)

    @property
    def backup_region(self) -> str:
        """The region the sender fails over to: the next one in ``sesame:regions`` (wrapping), or none."""
        if len(self.regions) < 2:
            return ""
        index = self.regions.index(self.region)
        return self.regions[(index + 1) % len(self.regions)]

    @property
    def zone_managed(self) -> bool:
        return bool(self.hosted_zone_id)

    @property
    def mail_from(self) -> str:
        return self.mail_from_domain or f"bounce-{self.region}.{self.domain}"

    @property
    def tracking_domain_name(self) -> str:
        return self.tracking_domain or f"track-{self.region}.{self.domain}"

    @property
    def dmarc_value(self) -> str:
        uris = [part.strip() for part in self.dmarc_rua.split(",") if part.strip()]
        rua = ",".join(uris) or f"mailto:dmarc@{self.domain}"
        return f"v=DMARC1; p={self.dmarc_policy}; rua={rua}; pct={self.dmarc_pct}"

    @property
    def protect_tables(self) -> bool:
        if self.deletion_protection is not None:
            return self.deletion_protection
        return self.environment in ("prod", "production")

    @property
    def sender_from(self) -> str:
        return self.default_from or f"no-reply@{self.domain}"


_LIST_OR_OBJECT_FIELDS = {
    "regions",
    "configurationSets",
    "functions",
    "corsOrigins",
    "unsubscribeSecrets",
    "apiKeyHashes",
}


def _decode(key: str, value: Any) -> Any:
    """Pulumi hands structured config over as JSON strings; decode them (errors name the key)."""
    if key in _LIST_OR_OBJECT_FIELDS and isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text[0] in "[{":
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"invalid stack config: {NAMESPACE}:{key}: not valid JSON ({exc.msg})") from exc
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _key_of(loc: tuple[Any, ...]) -> str:
    if not loc:
        return f"{NAMESPACE}:?"
    head = str(loc[0])
    if head == "aws:region":
        key = head
    else:
        field = StackConfig.model_fields.get(head)
        alias = (field.alias if field and field.alias else None) or head
        key = alias if ":" in alias else f"{NAMESPACE}:{alias}"
    rest = ".".join(str(part) for part in loc[1:])
    return f"{key}.{rest}" if rest else key


def parse_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate a mapping of config keys (``aws:region`` plus keys without the ``sesame:`` prefix)."""
    data = {key.removeprefix(f"{NAMESPACE}:"): _decode(key.removeprefix(f"{NAMESPACE}:"), v) for key, v in raw.items()}
    data = {k: v for k, v in data.items() if v is not None}
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                problems.append(f"{_key_of(err['loc'])}: required, set it with `pulumi config set`")
            elif err["type"] == "extra_forbidden":
                problems.append(f"{_key_of(err['loc'])}: unknown key")
            elif not err["loc"]:
                problems.append(msg)
            else:
                problems.append(f"{_key_of(err['loc'])}: {msg}")
        raise ConfigError("invalid stack config: " + "; ".join(problems)) from None


def config_keys() -> list[str]:
    """Every key the program reads, as written in Pulumi config (``aws:region``, ``sesame:domain``, ...)."""
    keys = []
    for name, field in StackConfig.model_fields.items():
        alias = field.alias or name
        keys.append(alias if ":" in alias else f"{NAMESPACE}:{alias}")
    return keys


def load_config(get: Callable[[str], str | None] | None = None) -> StackConfig:
    """Read every known key from the Pulumi config (or ``get``) and validate; call before any resource."""
    if get is None:
        sesame = pulumi.Config(NAMESPACE)
        aws = pulumi.Config("aws")

        def get(key: str) -> str | None:
            namespace, _, name = key.partition(":")
            return (aws if namespace == "aws" else sesame).get(name)

    raw = {key: value for key in config_keys() if (value := get(key)) is not None}
    for key in _configured_keys():
        # a misspelt sesame: key is an error, not a silently ignored setting
        if key.startswith(f"{NAMESPACE}:") and key not in raw:
            raw[key] = get(key) or ""
    return parse_config(raw)


def _configured_keys() -> list[str]:
    """Every key set in the stack's config (best effort: the engine hands them to the program as one map)."""
    try:
        from pulumi.runtime.config import CONFIG

        return [str(k) for k in CONFIG.get()]
    except (ImportError, LookupError):  # pragma: no cover - older SDKs
        return []
