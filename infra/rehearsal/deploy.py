"""One ``pulumi up`` (or ``pulumi destroy``) of one stack from the current folder, against moto_server.

    python -m infra.rehearsal.deploy up --stack prod-us-east-1 --backend DIR --endpoint http://127.0.0.1:PORT

Run from the project folder being deployed (its ``infra`` package and ``__main__.py`` are the ones used). The
stack config is what the Pulumi CLI would hand the program: ``Pulumi.<stack>.yaml`` over ``Pulumi.yaml``'s
defaults. Prints one JSON object: the steps taken, their counts and the stack outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from infra.config import SECRET_KEYS
from infra.rehearsal.engine import Backend, EngineError, destroy, up
from infra.rehearsal.moto_provider import MotoProvider, ProviderError


def stack_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """``Pulumi.<stack>.yaml``'s config over the defaults ``Pulumi.yaml`` declares (as the CLI merges them)."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict) and "default" in declaration:
            default = declaration["default"]
            values[key] = (
                json.dumps(default)
                if isinstance(default, list)
                else str(default).lower()
                if isinstance(default, bool)
                else str(default)
            )
    stack_file = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")) or {}
    for key, value in (stack_file.get("config") or {}).items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.rehearsal.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "destroy"))
    parser.add_argument("--stack", required=True, help="stack name, <environment>-<region>")
    parser.add_argument("--backend", type=Path, required=True, help="the state folder shared by every run")
    parser.add_argument("--endpoint", required=True, help="moto_server's URL (http://127.0.0.1:<port>)")
    args = parser.parse_args(argv)
    project_dir = Path.cwd()
    provider = MotoProvider(args.endpoint)
    started = time.monotonic()
    try:
        if args.action == "up":
            config = stack_config(project_dir, args.stack)
            report = up(
                project_dir,
                args.stack,
                config,
                Backend(args.backend),
                provider,
                secret_keys=tuple(f"sesame:{k}" for k in SECRET_KEYS),
            )
        else:
            report = destroy(args.stack, Backend(args.backend), provider)
    except (EngineError, ProviderError) as exc:
        print(json.dumps({"stack": args.stack, "action": args.action, "error": str(exc)}))
        return 1
    except Exception as exc:  # an AWS call the emulator refused, a program error: say which, with the trace
        traceback.print_exc()
        print(json.dumps({"stack": args.stack, "action": args.action, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result = {
        "stack": args.stack,
        "action": args.action,
        "seconds": round(time.monotonic() - started, 2),
        "counts": report.counts(),
        "changes": [f"{s.action} {s.type} {s.name}" for s in report.changes],
        "slowest": [
            f"{s.seconds:.2f}s {s.action} {s.type} {s.name}" for s in sorted(report.steps, key=lambda x: -x.seconds)[:5]
        ],
        "outputs": report.outputs,
        "not_emulated": provider.not_emulated,
    }
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
