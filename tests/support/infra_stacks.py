"""Helpers for tests/infra: the example stack configs and cached program runs under Pulumi mocks."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

from infra.mockrun import ProgramRun, run_program
from infra.policy.checks import Resource

ROOT = Path(__file__).resolve().parents[2]
HOME_STACK = "prod-us-east-1"
SECOND_STACK = "prod-eu-west-1"


def example_config(stack: str) -> dict[str, Any]:
    """The ``config:`` block of ``Pulumi.<stack>.yaml.example``."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml.example").read_text())
    return dict(data["config"])


def project_config() -> dict[str, Any]:
    """The ``config:`` block of Pulumi.yaml (key -> declaration)."""
    return dict(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])


def with_project_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """What the Pulumi engine hands the program: stack values plus Pulumi.yaml defaults for unset keys."""
    merged = dict(config)
    for key, decl in project_config().items():
        if key not in merged and "default" in decl:
            default = decl["default"]
            merged[key] = (
                json.dumps(default)
                if isinstance(default, list)
                else str(default).lower()
                if isinstance(default, bool)
                else str(default)
            )
    return merged


def _key(overrides: dict[str, Any]) -> str:
    return json.dumps(overrides, sort_keys=True)


@functools.cache
def _cached(stack: str, overrides_json: str) -> ProgramRun:
    config = {**example_config(stack), **json.loads(overrides_json)}
    config = {k: v for k, v in config.items() if v is not None}
    return run_program(config, stack=stack)


def run_example(stack: str, **overrides: Any) -> ProgramRun:
    """Run an example stack (optionally with config overrides, ``None`` removes a key); cached per process."""
    return _cached(stack, _key({(k if ":" in k else f"sesame:{k}"): v for k, v in overrides.items()}))


def policy_resources(run: ProgramRun) -> list[Resource]:
    return [Resource(r.type, r.name, r.inputs) for r in run.resources if r.custom]
