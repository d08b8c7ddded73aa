"""App secrets: one SSM SecureString ``/sesame/<env>/app-secrets`` holding the JSON document ``runtime.settings``
reads (``unsubscribe_secrets`` list, ``pagination_secret``, ``forward_secret``, ``redrive_secret``,
``api_key_hashes`` list, and ``forward_url`` when that URL is a secret: ``infra.config.is_secret_url``).

Values come from secret config when set. Otherwise the home stack generates them with pulumi-random (stable across
``pulumi up`` runs: they live in the stack state) and exports them as a secret output; the other regions' stacks
read that output through a StackReference, so an unsubscribe link signed in one region verifies in every region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.config import StackConfig, is_secret_url
from infra.naming import Names

SECRET_LENGTH = 48


def home_stack_name(cfg: StackConfig) -> str:
    if cfg.home_stack:
        return cfg.home_stack
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{cfg.environment}-{cfg.home_region}"


def _field(key: str) -> Callable[[Any], Any]:
    def pick(doc: Any) -> Any:
        return (doc or {}).get(key) or []

    return pick


class AppSecrets(pulumi.ComponentResource):
    """``sesame:infra:AppSecrets``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:AppSecrets", name, None, opts)
        # generated secrets and the parameter holding them can be neither deleted nor replaced in production: a new
        # unsubscribe key would invalidate every link already sent
        child = pulumi.ResourceOptions(parent=self, protect=cfg.protect_data)
        configured: dict[str, Any] = {
            "unsubscribe_secrets": list(cfg.unsubscribe_secrets),
            "pagination_secret": cfg.pagination_secret,
            "forward_secret": cfg.forward_secret,
            "redrive_secret": cfg.redrive_secret,
            "api_key_hashes": list(cfg.api_key_hashes),
        }
        document: dict[str, Any] = {}
        generated_keys = ("unsubscribe_secrets", "pagination_secret", "forward_secret", "redrive_secret")
        missing = [k for k in generated_keys if not configured[k]]
        if cfg.is_home:
            for key in missing:
                generated = random.RandomPassword(
                    key.replace("_", "-"), length=SECRET_LENGTH, special=False, opts=child
                ).result
                document[key] = [generated] if key == "unsubscribe_secrets" else generated
            document["api_key_hashes"] = configured["api_key_hashes"]
        elif missing or not configured["api_key_hashes"]:
            home = pulumi.StackReference(home_stack_name(cfg), opts=pulumi.ResourceOptions(parent=self))
            shared = home.require_output("appSecrets")
            for key in (*missing, "api_key_hashes"):
                document[key] = shared.apply(_field(key))
        for key, value in configured.items():
            if value:
                document[key] = value
        if is_secret_url("forwardUrl", cfg.forward_url):
            # credentials in the URL: kept out of the stage's env vars (plain text), read by runtime.settings
            document["forward_url"] = cfg.forward_url
        self.document: pulumi.Output[Any] = pulumi.Output.secret(document)
        self.parameter = aws.ssm.Parameter(
            "app-secrets",
            name=names.secrets_parameter,
            type="SecureString",
            tier="Standard",
            description=f"sesame {cfg.environment} app secrets (JSON, read by runtime.settings)",
            value=pulumi.Output.json_dumps(self.document),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=cfg.protect_data),
        )
        self.register_outputs({"parameterName": names.secrets_parameter})
