"""Typed, validated stack config: read from the ``sesame:`` namespace (and ``aws:region``) before any resource
registers. Every error names the Pulumi config key (``sesame:regions: ...``).

Pulumi.yaml's ``config:`` block documents the same keys with their defaults; docs/configuration.md explains them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.naming import Names

NAMESPACE = "sesame"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")

#: The app's Lambda functions (docs/deploy.md). The three HTTP functions serve the Chalice app's routes (webhook and
#: unsubscribe each get their own function and role); the others are the Chalice event handlers of the same name.
API_FUNCTION = "api"
WEBHOOK_FUNCTION = "webhook"
UNSUBSCRIBE_FUNCTION = "unsubscribe"
SENDER_FUNCTION = "sender"
CRITICAL_FUNCTION = "critical_events"
ENGAGEMENT_FUNCTION = "engagement_events"
FORWARD_FUNCTION = "forward_events"
CAMPAIGN_SCHEDULER_FUNCTION = "check_for_campaign"
COUNTER_FUNCTION = "count_events"
HTTP_FUNCTIONS = (API_FUNCTION, WEBHOOK_FUNCTION, UNSUBSCRIBE_FUNCTION)
#: API Gateway stops waiting for a Lambda integration after 29 s.
API_GATEWAY_TIMEOUT_SECONDS = 29
#: SES reviews an account at a 5 % bounce rate and a 0.1 % complaint rate: the alarms must warn before that.
SES_BOUNCE_REVIEW_RATE = 0.05
SES_COMPLAINT_REVIEW_RATE = 0.001
#: The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
#: Keys that existed before and were removed, with what replaces them.
REMOVED_KEYS = {
    "webhookUrl": "removed: set sesame:webhook true and the stack subscribes its own API's POST /webhooks/ses",
    "multiRegionEndpoint": "removed: the SES global endpoint is not used, client-side failover to the backup region "
    "covers a regional outage (docs/deploy.md)",
}


class ConfigError(pulumi.RunError):
    """The stack config is invalid; the message names every offending key."""


def _hostname(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"must be a DNS name like example.com, got {value!r}")
    return value


class FunctionConfig(BaseModel):
    """Sizing of one Lambda function of the app."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    timeout: int = Field(ge=1, le=900)
    memory: int = Field(default=512, ge=128, le=10240)
    #: Lambda reserved concurrency: a cap that also guarantees the capacity; None = unreserved
    reserved_concurrency: int | None = Field(default=None, ge=1, le=10000, alias="reservedConcurrency")
    #: SQS consumers: the event source mapping's MaximumConcurrency (2-1000); None = the default for the function
    max_concurrency: int | None = Field(default=None, ge=2, le=1000, alias="maxConcurrency")


class IpPoolConfig(BaseModel):
    """One entry of ``sesame:dedicatedIpPools`` (key = logical pool name)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    scaling_mode: Literal["STANDARD", "MANAGED"] = Field(default="STANDARD", alias="scalingMode")


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
    API_FUNCTION: {"timeout": 29, "memory": 512},
    # public and unauthenticated: reserved concurrency caps what a flood can take from the account (and keeps
    # that much for them when the sender is busy)
    WEBHOOK_FUNCTION: {"timeout": 29, "memory": 512, "reservedConcurrency": 50},
    UNSUBSCRIBE_FUNCTION: {"timeout": 15, "memory": 256, "reservedConcurrency": 20},
    # the queue consumers mostly wait for DynamoDB and SES: Lambda bills GB-seconds, and below 1,769 MB the CPU share
    # grows with memory, so their CPU-bound part costs the same at any size and the waiting part half at 256 MB
    # (bench/bench_units.py, docs/DESIGN.md "Billed units per email"); their peak memory is well under it
    SENDER_FUNCTION: {"timeout": 60, "memory": 256},
    CRITICAL_FUNCTION: {"timeout": 60, "memory": 256, "maxConcurrency": 20},
    ENGAGEMENT_FUNCTION: {"timeout": 120, "memory": 256, "maxConcurrency": 20},
    FORWARD_FUNCTION: {"timeout": 60, "memory": 256, "maxConcurrency": 10},
    CAMPAIGN_SCHEDULER_FUNCTION: {"timeout": 60, "memory": 256},
    # the messages stream's counter consumer (home region only: docs/DESIGN.md "Counters")
    COUNTER_FUNCTION: {"timeout": 60, "memory": 256},
}
#: SQS consumers and the queue each one reads (logical names).
CONSUMERS = {
    SENDER_FUNCTION: "send",
    CRITICAL_FUNCTION: "critical",
    ENGAGEMENT_FUNCTION: "engagement",
    FORWARD_FUNCTION: "forward",
}
#: One sender invocation's SQS batch (chalicelib/sending.py SEND_BATCH_SIZE) and how long it takes with
#: single-recipient messages, the slowest traffic per recipient: the ten SendEmail calls are paced as one block and
#: made concurrently (~0.1-0.15 s, SES's latency), plus the batch's DynamoDB bookkeeping (job claims, suppression
#: read, reservation, outcomes, records: ~0.25 s). Bulk calls carry up to 50 recipients and need fewer instances.
SENDER_BATCH_SIZE = 10
SENDER_BATCH_SECONDS = 0.4
#: DynamoDB stream consumers and the table whose stream each one reads (logical names); deployed with a mapping in
#: the home region only (a global table's home replica stream carries every region's writes).
STREAM_CONSUMERS = {COUNTER_FUNCTION: "messages"}
#: The counter consumer's tumbling window: every invocation then names its stream shard (the counter items' key)
STREAM_WINDOW_SECONDS = 5
#: What one sender instance sustains, in recipients per second, for the concurrency cap derived from the send rate.
SENDER_RECIPIENTS_PER_SECOND = SENDER_BATCH_SIZE / SENDER_BATCH_SECONDS
#: The sender's concurrency cap when sesame:maxSendRate is unset (the rate comes from SES GetAccount at run time).
DEFAULT_SENDER_CONCURRENCY = 10


def url_carries_credentials(url: str) -> bool:
    """True for a URL with user info or a query string (where basic-auth credentials and API keys travel)."""
    parts = urlsplit(url)
    return bool(parts.username or parts.password or parts.query)


def is_secret_url(key: str, url: str) -> bool:
    """Whether the URL of config key ``key`` (``forwardUrl``) must be handled as a secret, kept out of every
    plain-text output: it carries credentials (``user:password@``, a query string), or it was set with
    ``pulumi config set --secret`` (a token in the path cannot be told apart)."""
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
    dmarc_record: str = Field(default="", alias="dmarcRecord")
    adopt_identity: bool = Field(default=False, alias="adoptIdentity")
    adopt_dmarc: bool = Field(default=False, alias="adoptDmarc")
    domain_owner: str = Field(default="", alias="domainOwner")
    dns_records_ready: bool = Field(default=False, alias="dnsRecordsReady")
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
    dedicated_ip_pools: dict[str, IpPoolConfig] = Field(default_factory=dict, alias="dedicatedIpPools")

    # messaging
    topic_kms_key_id: str = Field(default="", alias="topicKmsKeyId")
    webhook: bool = False
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
    bounce_rate_alarm_threshold: float = Field(
        default=0.02, gt=0, lt=SES_BOUNCE_REVIEW_RATE, alias="bounceRateAlarmThreshold"
    )
    complaint_rate_alarm_threshold: float = Field(
        default=0.0005, gt=0, lt=SES_COMPLAINT_REVIEW_RATE, alias="complaintRateAlarmThreshold"
    )
    log_retention_days: int = Field(default=30, alias="logRetentionDays")
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
    send_unknown_grace_seconds: int = Field(default=900, ge=0, le=86_400, alias="sendUnknownGraceSeconds")
    paused_recheck_seconds: int = Field(default=120, ge=0, le=900, alias="pausedRecheckSeconds")
    guardrail_window_minutes: int = Field(default=60, ge=5, le=1440, alias="guardrailWindowMinutes")
    guardrail_min_volume: int = Field(default=500, ge=1, alias="guardrailMinVolume")
    guardrail_warn_bounce_rate: float = Field(default=0.02, gt=0, lt=1, alias="guardrailWarnBounceRate")
    guardrail_warn_complaint_rate: float = Field(default=0.0005, gt=0, lt=1, alias="guardrailWarnComplaintRate")
    guardrail_pause_bounce_rate: float = Field(default=0.04, gt=0, lt=1, alias="guardrailPauseBounceRate")
    guardrail_pause_complaint_rate: float = Field(default=0.0008, gt=0, lt=1, alias="guardrailPauseComplaintRate")
    forward_retry_seconds: int = Field(default=60, ge=0, le=900, alias="forwardRetrySeconds")
    forward_attempts: int = Field(default=3, ge=1, le=20, alias="forwardAttempts")
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

    @field_validator("functions", mode="before")
    @classmethod
    def _merge_functions(cls, value: Any) -> Any:
        """Entries given are merged field by field over the defaults; unknown functions are an error."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {name: dict(fields) for name, fields in DEFAULT_FUNCTIONS.items()}
        for name, fields in value.items():
            if name not in merged:
                raise ValueError(f"unknown function {name!r}; the app's functions are {', '.join(sorted(merged))}")
            if isinstance(fields, FunctionConfig):
                fields = fields.model_dump(by_alias=True, exclude_unset=True)
            if not isinstance(fields, dict):
                raise ValueError(f'{name}: must be an object like {{"timeout": 60, "memory": 512}}')
            merged[name].update(fields)
        return merged

    @field_validator("functions")
    @classmethod
    def _functions(cls, value: dict[str, FunctionConfig]) -> dict[str, FunctionConfig]:
        for name, fn in value.items():
            if name in HTTP_FUNCTIONS and fn.timeout > API_GATEWAY_TIMEOUT_SECONDS:
                raise ValueError(
                    f"{name}.timeout: at most {API_GATEWAY_TIMEOUT_SECONDS} s, API Gateway stops waiting after that"
                )
            if name not in CONSUMERS and fn.max_concurrency is not None:
                raise ValueError(f"{name}.maxConcurrency: only the SQS consumers ({', '.join(CONSUMERS)}) have one")
        return value

    @field_validator("dedicated_ip_pools")
    @classmethod
    def _ip_pools(cls, value: dict[str, IpPoolConfig]) -> dict[str, IpPoolConfig]:
        for name in value:
            if not _LABEL.match(name) or len(name) > 40:
                raise ValueError(f"pool names must be lower-case letters, digits, '-': {name!r}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch Logs' periods: {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @field_validator("domain_owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if value and not _ENVIRONMENT.match(value):
            raise ValueError(f"must be an environment name (the one whose stacks own the identity), got {value!r}")
        return value

    @field_validator("dmarc_record")
    @classmethod
    def _dmarc_record(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.startswith("v=DMARC1") and re.search(r";\s*p=(none|quarantine|reject)\b", value)):
            raise ValueError("must be a whole DMARC record like 'v=DMARC1; p=quarantine; rua=mailto:...'")
        return value

    @field_validator("forward_url", "unsubscribe_base_url")
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
        for logical, options in self.configuration_sets.items():
            if options.ip_pool and options.ip_pool not in self.dedicated_ip_pools:
                raise ValueError(
                    f"sesame:configurationSets.{logical}.ipPool ({options.ip_pool}) must be a key of "
                    "sesame:dedicatedIpPools (the stack creates the pool)"
                )
        if self.warmup_pool and self.warmup_pool not in self.dedicated_ip_pools:
            raise ValueError(f"sesame:warmupPool ({self.warmup_pool}) must be a key of sesame:dedicatedIpPools")
        if not self.owns_domain and (self.adopt_identity or self.adopt_dmarc or self.byodkim_selector):
            raise ValueError(
                f"sesame:adoptIdentity, sesame:adoptDmarc and BYODKIM belong to the stacks of environment "
                f"{self.domain_owner} (sesame:domainOwner), which own the identity"
            )
        if self.adopt_dmarc and not (self.zone_managed and self.manage_dmarc):
            raise ValueError(
                "sesame:adoptDmarc imports the existing _dmarc record into the hosted zone's records: it needs "
                "sesame:hostedZoneId and sesame:manageDmarc true"
            )
        for what, name in (
            ("campaign bucket", Names(self.environment, self.region).campaign_bucket("0" * 12)),
            ("archive bucket", Names(self.environment, self.region).archive_bucket("0" * 12)),
        ):
            if len(name) > 63:
                raise ValueError(f"sesame:environment: the {what} name {name} would exceed S3's 63 characters")
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
        # the name is unique per zone (and CloudFront alias): it carries the environment and the region
        return self.tracking_domain or f"track-{self.environment}-{self.region}.{self.domain}"

    @property
    def owns_domain(self) -> bool:
        """Whether this environment's stacks own the identity, DKIM, MAIL FROM and DMARC (sesame:domainOwner)."""
        return self.domain_owner in ("", self.environment)

    @property
    def dns_waits(self) -> bool:
        """Whether the stack may wait on DNS (SES verification, ACM validation): the records are visible.

        With a hosted zone the stack creates them itself; without one only after the user says they exist."""
        return self.zone_managed or self.dns_records_ready

    @property
    def dmarc_value(self) -> str:
        if self.dmarc_record:
            return self.dmarc_record
        uris = [part.strip() for part in self.dmarc_rua.split(",") if part.strip()]
        rua = ",".join(uris) or f"mailto:dmarc@{self.domain}"
        return f"v=DMARC1; p={self.dmarc_policy}; rua={rua}; pct={self.dmarc_pct}"

    @property
    def protect_data(self) -> bool:
        """Tables, generated secrets, the secrets parameter and the archive bucket cannot be deleted or replaced."""
        if self.deletion_protection is not None:
            return self.deletion_protection
        return self.environment in ("prod", "production")

    @property
    def sender_concurrency(self) -> int:
        """The send queue's MaximumConcurrency: from sesame:maxSendRate, or sesame:functions.sender.maxConcurrency."""
        configured = self.functions[SENDER_FUNCTION].max_concurrency
        if configured is not None:
            return configured
        if self.max_send_rate is None:
            return DEFAULT_SENDER_CONCURRENCY
        return max(2, min(1000, math.ceil(self.max_send_rate / SENDER_RECIPIENTS_PER_SECOND)))

    @property
    def sender_from(self) -> str:
        return self.default_from or f"no-reply@{self.domain}"


_LIST_OR_OBJECT_FIELDS = {
    "regions",
    "configurationSets",
    "functions",
    "corsOrigins",
    "dedicatedIpPools",
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
    removed = [f"{NAMESPACE}:{key}: {why}" for key, why in REMOVED_KEYS.items() if key in data]
    for key in REMOVED_KEYS:
        data.pop(key, None)
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        problems = list(removed)
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
    if removed:
        raise ConfigError("invalid stack config: " + "; ".join(removed))
    return cfg


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
