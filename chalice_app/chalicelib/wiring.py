"""Composition root: the one place that reads the environment and builds boto3 clients.

Everything is lazy and cached per Lambda container: nothing happens at import time. Tests call ``reset()``
after changing env vars.

Cold start: importing ``app.py`` registers every route and handler of every Lambda function, so the blueprints
import only chalice, the stdlib and light ``runtime`` modules at module level; boto3, pydantic models and each
area's machinery are imported by the handler that needs them, on first use, so each function pays only for its
own path.
"""

from __future__ import annotations

import functools
import json
import os
from typing import TYPE_CHECKING, Any

from runtime import logs

if TYPE_CHECKING:
    from runtime.settings import Settings


@functools.cache
def settings() -> Settings:
    from runtime.settings import Settings

    logs.configure(os.environ.get("SESAME_LOG_LEVEL", "INFO"), stage=os.environ.get("SESAME_STAGE", "dev-local"))
    return Settings.from_env(os.environ, secrets_loader=_load_ssm_secrets)


def secrets_client() -> Any | None:
    """The SSM client the secrets document is read with, built now (``None`` when no secrets parameter is set)."""
    return client("ssm") if os.environ.get("SESAME_SECRETS_PARAMETER") else None


def _load_ssm_secrets(name: str) -> dict[str, Any]:
    response = client("ssm").get_parameter(Name=name, WithDecryption=True)
    value = json.loads(response["Parameter"]["Value"])
    if not isinstance(value, dict):
        raise ValueError(f"SSM parameter {name} must hold a JSON object")
    return value


@functools.cache
def _session() -> Any:
    """A botocore session: boto3's ``client()`` returns these same botocore clients, and importing botocore alone
    skips boto3 and s3transfer (tens of ms of every cold start). Credentials, region and ``AWS_ENDPOINT_URL`` are
    resolved the same way."""
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def client(service: str, region: str | None = None, *, total_attempts: int | None = None, validate: bool = True) -> Any:
    """A cached botocore client with explicit region, timeouts and standard retries (``runtime.clients``).

    ``total_attempts=1``: never re-sends a request by itself (calls that are not idempotent: the sender's SES
    client). ``validate=False``: no client-side parameter validation, for the hot path's own well-formed requests
    (the ingestion Lambdas' DynamoDB client)."""
    from runtime.clients import client_config

    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = client_config(total_attempts=total_attempts, validate=validate)
    return _session().create_client(service, region_name=region_name, config=config)


class LazyClient:
    """``client(...)`` built on first use: a handler path that never calls the service never pays for its client
    (botocore loads the service model, endpoint rules and builds the client class: ~10-20 ms each)."""

    def __init__(self, service: str, region: str | None = None, **options: Any) -> None:
        self._args = (service, region)
        self._options = options

    def __getattr__(self, name: str) -> Any:
        return getattr(client(*self._args, **self._options), name)


@functools.cache
def metrics() -> logs.Metrics:
    s = settings()
    return logs.Metrics(namespace="Sesame", static_dimensions={"stage": s.stage})


def reset() -> None:
    """Forget every cached object (tests and the local stack use this after changing env vars)."""
    for cached in (settings, _session, client, metrics):
        cached.cache_clear()
    for hook in _RESET_HOOKS:
        hook()


_RESET_HOOKS: list[Any] = []


def on_reset(func: Any) -> Any:
    """Register a cache-clearing function of an area's own wiring (``@wiring.on_reset``)."""
    _RESET_HOOKS.append(func)
    return func
