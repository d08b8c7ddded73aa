"""Write the Chalice stage ``<environment>-<region>`` from a stack's outputs.

    pulumi stack output --json --stack prod-us-east-1 | python -m infra.chalice_stage
    python -m infra.chalice_stage --outputs outputs.json --config chalice_app/.chalice/config.json

The stage gets the app's environment variables, ``manage_iam_role: false`` with the stack's role ARN, and the
per-function timeouts and memory the queues were sized for. Other stages and unrelated keys of the stage are kept;
values from the outputs win.

Unsubscribe links need the app's public URL (``SESAME_UNSUBSCRIBE_BASE_URL``), known only after the first
``chalice deploy``: unless ``sesame:unsubscribeBaseUrl`` is set, it is taken from ``--api-url`` or from Chalice's
record of the deployed stage (``.chalice/deployed/<stage>.json``, ``rest_api_url``), so run the command again after
the first deploy and redeploy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG = Path("chalice_app/.chalice/config.json")
SECRET_PLACEHOLDER = "[secret]"


class FunctionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lambda_timeout: int = Field(ge=1, le=900)
    lambda_memory_size: int = Field(ge=128, le=10240)


class StackOutputs(BaseModel):
    """The subset of ``pulumi stack output --json`` the stage needs (other outputs are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    stage: str = Field(min_length=1)
    iam_role_arn: str = Field(alias="iamRoleArn", pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
    environment_variables: dict[str, str] = Field(alias="environmentVariables")
    lambda_functions: dict[str, FunctionSettings] = Field(default_factory=dict, alias="lambdaFunctions")

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if item == SECRET_PLACEHOLDER:
                raise ValueError(f"{key} is a secret placeholder; environment variables must not hold secrets")
            if isinstance(item, str) and item.startswith(("https://", "http://")) and _carries_credentials(item):
                raise ValueError(
                    f"{key} carries credentials; environment variables are plain text: let the program put it in "
                    "the SSM secrets document (sesame:forwardUrl does that)"
                )
            out[str(key)] = item if isinstance(item, str) else json.dumps(item)
        return out


def _carries_credentials(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return bool(parts.username or parts.password)


class StageError(ValueError):
    """The outputs or the Chalice config cannot be used; the message says which and why."""


def parse_outputs(text: str) -> StackOutputs:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StageError(f"stack outputs are not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise StageError("stack outputs must be a JSON object (pulumi stack output --json)")
    try:
        return StackOutputs.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'outputs'}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise StageError(f"stack outputs are missing or invalid: {problems}") from exc


UNSUBSCRIBE_BASE_URL = "SESAME_UNSUBSCRIBE_BASE_URL"


def deployed_api_url(config_path: Path, stage: str) -> str:
    """The REST API URL Chalice recorded for a deployed stage, or ``""``."""
    record = config_path.parent / "deployed" / f"{stage}.json"
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ""
    for resource in data.get("resources", []) if isinstance(data, dict) else []:
        if isinstance(resource, dict) and resource.get("resource_type") == "rest_api":
            url = resource.get("rest_api_url")
            if isinstance(url, str) and url.startswith("https://"):
                return url.rstrip("/")
    return ""


def merge_stage(
    config: dict[str, Any], outputs: StackOutputs, *, stage: str | None = None, api_url: str = ""
) -> dict[str, Any]:
    """Return ``config`` with the stage from ``outputs`` merged in (input not modified). ``api_url`` fills
    ``SESAME_UNSUBSCRIBE_BASE_URL`` when the outputs do not set it."""
    if not isinstance(config, dict):
        raise StageError("config.json must be a JSON object")
    merged: dict[str, Any] = json.loads(json.dumps(config))
    merged.setdefault("version", "2.0")
    merged.setdefault("app_name", "sesame")
    stages = merged.setdefault("stages", {})
    if not isinstance(stages, dict):
        raise StageError("config.json: 'stages' must be an object")
    name = stage or outputs.stage
    current = stages.get(name) or {}
    if not isinstance(current, dict):
        raise StageError(f"config.json: stage {name!r} must be an object")
    for key in ("environment_variables", "lambda_functions"):
        if not isinstance(current.get(key) or {}, dict):
            raise StageError(f"config.json: stages.{name}.{key} must be an object")
    env = dict(current.get("environment_variables") or {})
    env.update(outputs.environment_variables)
    if api_url and not outputs.environment_variables.get(UNSUBSCRIBE_BASE_URL):
        env[UNSUBSCRIBE_BASE_URL] = api_url.rstrip("/")
    functions = dict(current.get("lambda_functions") or {})
    for fn, settings in outputs.lambda_functions.items():
        if not isinstance(functions.get(fn) or {}, dict):
            raise StageError(f"config.json: stages.{name}.lambda_functions.{fn} must be an object")
        functions[fn] = {**(functions.get(fn) or {}), **settings.model_dump()}
    current.update(
        {
            "api_gateway_stage": current.get("api_gateway_stage", "api"),
            "environment_variables": env,
            "manage_iam_role": False,
            "iam_role_arn": outputs.iam_role_arn,
            "lambda_functions": functions,
        }
    )
    stages[name] = current
    return merged


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic write (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.chalice_stage",
        description="Write/merge the Chalice stage <environment>-<region> into chalice_app/.chalice/config.json "
        "from `pulumi stack output --json` (stdin or --outputs FILE).",
    )
    parser.add_argument("--outputs", default="-", help="file with the stack outputs JSON; '-' (default) = stdin")
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help=f"Chalice config (default {DEFAULT_CONFIG})"
    )
    parser.add_argument("--stage", default=None, help="stage name (default: the 'stage' output, <env>-<region>)")
    parser.add_argument(
        "--api-url",
        default="",
        help="the deployed API's https URL, for unsubscribe links (default: read from .chalice/deployed/<stage>.json)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the merged config instead of writing it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        text = sys.stdin.read() if args.outputs == "-" else Path(args.outputs).read_text(encoding="utf-8")
        outputs = parse_outputs(text)
        existing: dict[str, Any] = {}
        if args.config.exists():
            try:
                existing = json.loads(args.config.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise StageError(f"{args.config} is not valid JSON ({exc.msg})") from exc
        stage = args.stage or outputs.stage
        if args.api_url and not args.api_url.startswith("https://"):
            raise StageError(f"--api-url must be an https:// URL, got {args.api_url!r}")
        api_url = args.api_url or deployed_api_url(args.config, stage)
        merged = merge_stage(existing, outputs, stage=stage, api_url=api_url)
    except (OSError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(merged, indent=2))
        return 0
    write_json(args.config, merged)
    print(
        f"wrote stage {stage} to {args.config}: {len(outputs.environment_variables)} environment variables, "
        f"role {outputs.iam_role_arn}; next: cd chalice_app && chalice deploy --stage {stage}",
        file=sys.stderr,
    )
    env = merged["stages"][stage]["environment_variables"]
    kept = sorted(k for k in env if k not in outputs.environment_variables and k != UNSUBSCRIBE_BASE_URL)
    if kept:
        # optional settings are left out of the outputs when unset, so clearing one in the stack config does not
        # remove the value an earlier run wrote
        print(
            f"note: kept from the existing stage, not in the stack outputs: {', '.join(kept)}; if you cleared the "
            f"matching sesame: config key, delete them from stages.{stage}.environment_variables",
            file=sys.stderr,
        )
    if not env.get(UNSUBSCRIBE_BASE_URL):
        print(
            "note: SESAME_UNSUBSCRIBE_BASE_URL is not set yet, so sends carry no List-Unsubscribe headers: run this "
            "command again after `chalice deploy` (it reads the API URL Chalice recorded) and deploy once more",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
