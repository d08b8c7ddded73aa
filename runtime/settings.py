"""Typed settings for the Lambda functions and tools: the last hop of the one config path

    Pulumi stack config -> every Lambda function's environment (set by the stack) -> ``Settings``.

``Settings.from_env`` is called lazily by the composition root (never at import time). Secrets may come from env
vars (local stack, tests) or, in deployed stages, from one SSM SecureString JSON document named by
``SESAME_SECRETS_PARAMETER`` with keys ``unsubscribe_secrets`` (list), ``pagination_secret``,
``forward_secret``, ``redrive_secret``, ``api_key_hashes`` (list) and ``forward_url`` (when that URL carries
credentials, it travels here rather than in ``SESAME_FORWARD_URL``); the loader for it is injected.

The document is read when a secret field (``SECRET_FIELDS``) is first read, not when the settings are built:
the first events of several functions need no secret (the scheduled check; ingesting an SES event when forwarding is
off), and the read is an SSM ``GetParameter`` plus an SSM client — ~10 ms of network and ~7 ms of CPU of a cold start
(``bench/bench_coldstart.py``). It is read once per ``Settings`` (under a lock); the values it holds are checked as
the env's are, and an error reading or checking it (``ParameterNotFound``, a value of the wrong type) is raised by
that first read of a secret — and again by the next, which reads the document again — never swallowed.

``Settings`` is a frozen dataclass checked by ``__post_init__`` (types and the bounds in ``_BOUNDS``), not a pydantic
model: every Lambda function builds it on its first invocation, and a handler whose own path needs no pydantic
(forwarding) would otherwise import pydantic for it, and every handler would build its validator (~30 ms + ~90 ms of
a cold start on the development machine, ``bench/bench_coldstart.py``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.reputation.guardrails import GuardrailConfig


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the env var."""


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _json_map(name: str, value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} must be a JSON object of strings: {exc}") from exc
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise SettingsError(f"{name} must be a JSON object of strings")
    return {str(k): v for k, v in parsed.items()}


_GUARDRAIL_DEFAULTS = GuardrailConfig()  # the levels live with the guardrails; settings only read env over them


@dataclass(frozen=True)
class Settings:
    stage: str = "dev-local"
    environment: str = "dev"
    region: str = "us-east-1"
    domain: str = "example.com"
    default_from: str = ""

    messages_table: str = "sesame-dev-messages"
    campaigns_table: str = "sesame-dev-campaigns"
    suppressions_table: str = "sesame-dev-suppressions"
    control_table: str = "sesame-dev-control"

    send_queue_url: str = ""
    critical_queue_url: str = ""
    engagement_queue_url: str = ""
    forward_queue_url: str = ""
    forward_dlq_url: str = ""
    campaign_bucket: str = ""

    configuration_sets: dict[str, str] = field(default_factory=dict)
    default_configuration_set: str = "marketing"
    backup_region: str = ""
    backup_configuration_sets: dict[str, str] = field(default_factory=dict)

    sns_allowed_topic_arns: tuple[str, ...] = ()
    sns_cert_dir: str = ""
    sns_max_age_seconds: int = 3600

    event_ttl_days: int = 90
    soft_bounce_limit: int = 3
    soft_bounce_suppress_days: int = 30

    api_key_hashes: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    unsubscribe_secrets: tuple[str, ...] = ()
    unsubscribe_base_url: str = ""
    unsubscribe_mailto: str = ""
    pagination_secret: str = ""
    forward_url: str = ""
    forward_secret: str = ""
    redrive_secret: str = ""  # signs the first-arrival time of redriven SES events (runtime.dlq)

    max_send_rate: float | None = None
    daily_quota_headroom: float = 0.02
    warmup_start: str = ""
    warmup_pool: str = ""
    # exactly-once sending: how long a recipient whose SES answer was lost waits for SES's Send event before it is
    # considered never accepted and sent again (docs/sending.md "Exactly once")
    send_unknown_grace_seconds: int = 900
    # campaign control: how often the units of a paused campaign (or guardrail-paused configuration set) look again
    paused_recheck_seconds: int = 120
    # guardrails (runtime.reputation): rolling window, minimum volume, warn and pause levels (decimals: 0.02 = 2 %)
    guardrail_window_minutes: int = _GUARDRAIL_DEFAULTS.window_seconds // 60
    guardrail_min_volume: int = _GUARDRAIL_DEFAULTS.min_volume
    guardrail_warn_bounce_rate: float = _GUARDRAIL_DEFAULTS.warn_bounce_rate
    guardrail_warn_complaint_rate: float = _GUARDRAIL_DEFAULTS.warn_complaint_rate
    guardrail_pause_bounce_rate: float = _GUARDRAIL_DEFAULTS.pause_bounce_rate
    guardrail_pause_complaint_rate: float = _GUARDRAIL_DEFAULTS.pause_complaint_rate
    # logical configuration sets that send through the warm-up pool (the ramp applies to them only)
    warmup_configuration_sets: tuple[str, ...] = ()
    # forwarding: a failed POST is retried every ``forward_retry_seconds``, ``forward_attempts`` tries in all
    forward_retry_seconds: int = 60
    forward_attempts: int = 3

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, kind in _KINDS.items():
            value = getattr(self, name)
            checked, problem = _check(kind, value)
            if problem:
                problems.append(f"{_env_name(name)}: {problem}")
            elif checked is not value:
                object.__setattr__(self, name, checked)
        if problems:  # the bounds below assume the types are right
            raise SettingsError("invalid settings: " + "; ".join(problems))
        for name, (low, high, low_inclusive, high_inclusive) in _BOUNDS.items():
            value = getattr(self, name)
            if value is None or not isinstance(value, int | float):
                continue
            if low is not None and (value < low if low_inclusive else value <= low):
                problems.append(f"{_env_name(name)}: must be {'>=' if low_inclusive else '>'} {low}, got {value}")
            if high is not None and (value > high if high_inclusive else value >= high):
                problems.append(f"{_env_name(name)}: must be {'<=' if high_inclusive else '<'} {high}, got {value}")
        for digest in self.api_key_hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
                problems.append(
                    f"{_env_name('api_key_hashes')}: each API key hash must be a sha256 hex digest (64 hex characters)"
                )
                break
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        secrets_loader: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> Settings:
        """Build settings from env vars; raises SettingsError naming the offending variable."""
        g = env.get
        raw: dict[str, Any] = {
            "stage": g("SESAME_STAGE", "dev-local"),
            "environment": g("SESAME_ENVIRONMENT", "dev"),
            "region": g("SESAME_REGION") or g("AWS_REGION") or g("AWS_DEFAULT_REGION") or "us-east-1",
            "domain": g("SESAME_DOMAIN", "example.com"),
            "default_from": g("SESAME_DEFAULT_FROM", ""),
            "send_queue_url": g("SESAME_SEND_QUEUE_URL", ""),
            "critical_queue_url": g("SESAME_CRITICAL_QUEUE_URL", ""),
            "engagement_queue_url": g("SESAME_ENGAGEMENT_QUEUE_URL", ""),
            "forward_queue_url": g("SESAME_FORWARD_QUEUE_URL", ""),
            "forward_dlq_url": g("SESAME_FORWARD_DLQ_URL", ""),
            "campaign_bucket": g("SESAME_CAMPAIGN_BUCKET", ""),
            "configuration_sets": _json_map("SESAME_CONFIGURATION_SETS", g("SESAME_CONFIGURATION_SETS")),
            "default_configuration_set": g("SESAME_DEFAULT_CONFIGURATION_SET", "marketing"),
            "backup_region": g("SESAME_BACKUP_REGION", ""),
            "backup_configuration_sets": _json_map(
                "SESAME_BACKUP_CONFIGURATION_SETS", g("SESAME_BACKUP_CONFIGURATION_SETS")
            ),
            "sns_allowed_topic_arns": tuple(_csv(g("SNS_ALLOWED_TOPIC_ARNS"))),
            "sns_cert_dir": g("SNS_CERT_DIR", ""),
            "api_key_hashes": tuple(_csv(g("SESAME_API_KEY_HASHES"))),
            "cors_origins": tuple(_csv(g("SESAME_CORS_ORIGINS"))),
            "unsubscribe_secrets": tuple(_csv(g("SESAME_UNSUBSCRIBE_SECRETS"))),
            "unsubscribe_base_url": g("SESAME_UNSUBSCRIBE_BASE_URL", ""),
            "unsubscribe_mailto": g("SESAME_UNSUBSCRIBE_MAILTO", ""),
            "pagination_secret": g("SESAME_PAGINATION_SECRET", ""),
            "forward_url": g("SESAME_FORWARD_URL", ""),
            "forward_secret": g("SESAME_FORWARD_SECRET", ""),
            "redrive_secret": g("SESAME_REDRIVE_SECRET", ""),
            "warmup_start": g("SESAME_WARMUP_START", ""),
            "warmup_pool": g("SESAME_WARMUP_POOL", ""),
            "warmup_configuration_sets": tuple(_csv(g("SESAME_WARMUP_CONFIGURATION_SETS"))),
        }
        for name, var in _ENV_INTS.items():
            if g(var, "") != "":
                try:
                    raw[name] = int(g(var, ""))
                except ValueError as exc:
                    raise SettingsError(f"{var} must be an integer, got {g(var)!r}") from exc
        for name, var in _ENV_FLOATS.items():
            if g(var, "") != "":
                try:
                    raw[name] = float(g(var, ""))
                except ValueError as exc:
                    raise SettingsError(f"{var} must be a number, got {g(var)!r}") from exc
        for table in ("messages", "campaigns", "suppressions", "control"):
            default = f"sesame-{raw['environment']}-{table}"
            raw[f"{table}_table"] = g(f"SESAME_{table.upper()}_TABLE", default)

        settings = cls(**raw)
        parameter = g("SESAME_SECRETS_PARAMETER", "")
        if parameter and secrets_loader is not None:  # read on the first read of a secret field (_Secret)
            object.__setattr__(settings, _PENDING, (secrets_loader, parameter))
        return settings

    def _read_secrets(self) -> None:
        """Read the pending secrets document into the secret fields (checked as ``__post_init__`` checks them)."""
        with _SECRETS_LOCK:
            pending = self.__dict__.get(_PENDING)
            if pending is None:  # another thread read it meanwhile
                return
            loader, parameter = pending
            doc = loader(parameter)
            values = {f.name: self.__dict__[f.name] for f in dataclasses.fields(self)}
            if doc.get("unsubscribe_secrets"):
                values["unsubscribe_secrets"] = tuple(doc["unsubscribe_secrets"])
            for key in ("pagination_secret", "forward_secret", "redrive_secret", "forward_url"):
                if doc.get(key):
                    values[key] = doc[key]
            if doc.get("api_key_hashes"):
                values["api_key_hashes"] = tuple(doc["api_key_hashes"])
            checked = type(self)(**values)  # raises SettingsError naming the field, as for the env's values
            for name in SECRET_FIELDS:
                self.__dict__[name] = checked.__dict__[name]
            del self.__dict__[_PENDING]

    def configuration_set_name(self, logical_or_actual: str | None, *, backup: bool = False) -> str:
        """Map a logical configuration-set name (``marketing``) to the stack's physical one."""
        mapping = self.backup_configuration_sets if backup else self.configuration_sets
        name = logical_or_actual or self.default_configuration_set
        if name in mapping:
            return mapping[name]
        if backup:
            # an actual primary-region name maps to the backup name with the same logical key
            for logical, actual in self.configuration_sets.items():
                if actual == name and logical in mapping:
                    return mapping[logical]
        return name


#: The fields a secrets document (``SESAME_SECRETS_PARAMETER``) may set: reading one reads the pending document.
SECRET_FIELDS = (
    "unsubscribe_secrets",
    "pagination_secret",
    "forward_secret",
    "redrive_secret",
    "api_key_hashes",
    "forward_url",
)
_PENDING = "_pending_secrets"  # instance attribute (not a field): (loader, parameter name) until the first read
_SECRETS_LOCK = threading.Lock()


class _Secret:
    """The class attribute of a secret field (a data descriptor, so it is consulted before the instance's own
    ``__dict__``, where the value lives): reading the field first reads the pending secrets document, if any."""

    __slots__ = ("default", "name")

    def __init__(self, name: str, default: Any) -> None:
        self.name = name
        self.default = default

    def __get__(self, instance: Settings | None, owner: type | None = None) -> Any:
        if instance is None:
            return self.default
        if _PENDING in instance.__dict__:
            instance._read_secrets()
        return instance.__dict__[self.name]

    def __set__(self, instance: Settings, value: Any) -> None:
        # only reached through object.__setattr__ (the dataclass's __init__ and __post_init__): Settings is frozen
        instance.__dict__[self.name] = value


for _name in SECRET_FIELDS:
    setattr(Settings, _name, _Secret(_name, getattr(Settings, _name)))


_ENV_INTS = {
    "sns_max_age_seconds": "SNS_MAX_AGE_SECONDS",
    "event_ttl_days": "SESAME_EVENT_TTL_DAYS",
    "soft_bounce_limit": "SESAME_SOFT_BOUNCE_LIMIT",
    "soft_bounce_suppress_days": "SESAME_SOFT_BOUNCE_SUPPRESS_DAYS",
    "send_unknown_grace_seconds": "SESAME_SEND_UNKNOWN_GRACE_SECONDS",
    "paused_recheck_seconds": "SESAME_PAUSED_RECHECK_SECONDS",
    "guardrail_window_minutes": "SESAME_GUARDRAIL_WINDOW_MINUTES",
    "guardrail_min_volume": "SESAME_GUARDRAIL_MIN_VOLUME",
    "forward_retry_seconds": "SESAME_FORWARD_RETRY_SECONDS",
    "forward_attempts": "SESAME_FORWARD_ATTEMPTS",
}
_ENV_FLOATS = {
    "max_send_rate": "SESAME_MAX_SEND_RATE",
    "daily_quota_headroom": "SESAME_DAILY_QUOTA_HEADROOM",
    "guardrail_warn_bounce_rate": "SESAME_GUARDRAIL_WARN_BOUNCE_RATE",
    "guardrail_warn_complaint_rate": "SESAME_GUARDRAIL_WARN_COMPLAINT_RATE",
    "guardrail_pause_bounce_rate": "SESAME_GUARDRAIL_PAUSE_BOUNCE_RATE",
    "guardrail_pause_complaint_rate": "SESAME_GUARDRAIL_PAUSE_COMPLAINT_RATE",
}

_ENV_NAMES = {
    "warmup_configuration_sets": "SESAME_WARMUP_CONFIGURATION_SETS",
    "api_key_hashes": "SESAME_API_KEY_HASHES",
    "sns_allowed_topic_arns": "SNS_ALLOWED_TOPIC_ARNS",
    "sns_cert_dir": "SNS_CERT_DIR",
    "cors_origins": "SESAME_CORS_ORIGINS",
}


# bounds (low, high, low inclusive, high inclusive); None: unbounded on that side
_BOUNDS: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "sns_max_age_seconds": (0, None, True, True),
    "event_ttl_days": (1, 3650, True, True),
    "soft_bounce_limit": (1, 100, True, True),
    "soft_bounce_suppress_days": (1, 3650, True, True),
    "max_send_rate": (0, None, False, True),
    "daily_quota_headroom": (0, 1, True, False),
    "send_unknown_grace_seconds": (0, 86_400, True, True),
    "paused_recheck_seconds": (0, 900, True, True),
    "guardrail_window_minutes": (5, 1440, True, True),
    "guardrail_min_volume": (1, None, True, True),
    "guardrail_warn_bounce_rate": (0, 1, False, False),
    "guardrail_warn_complaint_rate": (0, 1, False, False),
    "guardrail_pause_bounce_rate": (0, 1, False, False),
    "guardrail_pause_complaint_rate": (0, 1, False, False),
    "forward_retry_seconds": (0, 900, True, True),
    "forward_attempts": (1, 20, True, True),
}


def _env_name(name: str) -> str:
    """The env var a field is read from (the message names it)."""
    return {**_ENV_INTS, **_ENV_FLOATS}.get(name) or _ENV_NAMES.get(name) or f"SESAME_{name.upper()}"


def _check(kind: str, value: Any) -> tuple[Any, str]:
    """(the value as the field's type — a list as a tuple, an int as a float —, "") or (None, what is wrong)."""
    if kind == "str":
        return (value, "") if isinstance(value, str) else (None, f"must be a string, got {type(value).__name__}")
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return (value, "") if ok else (None, f"must be an integer, got {value!r}")
    if kind in ("float", "float?"):
        if value is None and kind == "float?":
            return None, ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"must be a number, got {value!r}"
        return float(value), ""
    if kind == "strs":
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return (value if isinstance(value, tuple) else tuple(value)), ""
        return None, "must be a list of strings"
    if kind == "map":
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value, ""
        return None, "must be a JSON object of strings"
    raise AssertionError(kind)


def _kind(annotation: str) -> str:
    return {
        "str": "str",
        "int": "int",
        "float": "float",
        "float | None": "float?",
        "tuple[str, ...]": "strs",
        "dict[str, str]": "map",
    }[annotation]


#: Each field's type, checked by ``Settings.__post_init__`` (the annotations are strings: postponed evaluation).
_KINDS: dict[str, str] = {f.name: _kind(str(f.type)) for f in dataclasses.fields(Settings)}
