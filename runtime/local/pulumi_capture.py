"""Run the Pulumi program under Pulumi's mocks and print every resource it registers (type, name, inputs) as JSON.

This is how the local stack stays on one source of truth: it provisions what the program declares for a ``dev``
stack, not a hand-written copy. Runs in its own process (``python -m runtime.local.pulumi_capture``) because the
Pulumi runtime keeps global state; the mocks answer with realistic computed outputs (ARNs, URLs, DKIM tokens) so
inputs that reference other resources (a subscription's topic ARN, a redrive policy's DLQ ARN) carry the values
moto will give the same resources (moto's default account is 123456789012).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
REPO_ROOT = Path(__file__).resolve().parents[2]


def dev_config(environment: str = "dev", region: str = "us-east-1", domain: str = "example.com") -> dict[str, str]:
    """The stack config of a local ``dev`` stack: only the required keys, every other key takes its default."""
    return {
        "aws:region": region,
        "sesame:environment": environment,
        "sesame:domain": domain,
        "sesame:regions": json.dumps([region]),
        "sesame:homeRegion": region,
        "sesame:hostedZoneId": "",
    }


def _physical_name(typ: str, name: str, inputs: dict[str, Any]) -> str:
    for key in ("name", "configurationSetName", "emailIdentity", "bucket", "functionName", "roleName"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return name


def _outputs(typ: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    physical = _physical_name(typ, name, inputs)
    service = typ.split(":")[1].split("/")[0] if ":" in typ else ""
    out: dict[str, Any] = dict(inputs)
    out.setdefault("id", physical)
    if service == "sqs" and typ.endswith(":Queue"):
        out["name"] = physical
        out["arn"] = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{physical}"
        out["url"] = f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{physical}"
        out["id"] = out["url"]
    elif service == "sns" and typ.endswith(":Topic"):
        out["name"] = physical
        out["arn"] = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{physical}"
        out["id"] = out["arn"]
    elif service == "dynamodb":
        out["name"] = physical
        out["arn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{physical}"
        out["streamArn"] = out["arn"] + "/stream/2026-01-01T00:00:00.000"
    elif service == "sesv2" and typ.endswith(":EmailIdentity"):
        out["arn"] = f"arn:aws:ses:{region}:{ACCOUNT_ID}:identity/{physical}"
        out["dkimSigningAttributes"] = {
            **(inputs.get("dkimSigningAttributes") or {}),
            "tokens": [f"{physical.replace('.', '')}dkim{i}" for i in range(3)],
            "status": "SUCCESS",
        }
    elif service == "sesv2" and typ.endswith(":ConfigurationSet"):
        out["arn"] = f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{physical}"
    elif service == "s3":
        out["bucket"] = physical
        out["arn"] = f"arn:aws:s3:::{physical}"
        out["bucketRegionalDomainName"] = f"{physical}.s3.{region}.amazonaws.com"
    elif service == "ssm":
        out["arn"] = (
            f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{physical if physical.startswith('/') else '/' + physical}"
        )
    elif service == "iam":
        out["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:{typ.rsplit(':', 1)[1].lower()}/{physical}"
    elif service == "acm":
        out["arn"] = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/{name}"
        out["domainValidationOptions"] = [
            {
                "domainName": inputs.get("domainName", "example.com"),
                "resourceRecordName": f"_x.{inputs.get('domainName', 'example.com')}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_y.acm-validations.aws.",
            }
        ]
    elif service == "apigateway" and typ.endswith(":RestApi"):
        out["id"] = "local0api"
        out["executionArn"] = f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:local0api"
        out["rootResourceId"] = "root"
    elif service == "lambda" and typ.endswith(":Function"):
        out["arn"] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{physical}"
    elif service == "cloudfront":
        out["domainName"] = f"{name}.cloudfront.net"
        out["hostedZoneId"] = "Z2FDTNDATAQYW2"
        out["arn"] = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{name}"
    else:
        out.setdefault("arn", f"arn:aws:{service or 'x'}:{region}:{ACCOUNT_ID}:{name}")
    return out


def capture(config: dict[str, str], *, stack: str, program: Path | None = None) -> dict[str, Any]:
    """Run the program (``__main__.py`` of the repository) under mocks; return its resources and outputs."""
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks

    region = config.get("aws:region", "us-east-1")
    resources: list[dict[str, Any]] = []

    class _Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            outputs = _outputs(args.typ, args.name, dict(args.inputs), region)
            resources.append({"type": args.typ, "name": args.name, "inputs": _plain(dict(args.inputs))})
            return str(outputs.get("id") or args.name), outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
            token = args.token
            if token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/local", "userId": "local"}
            if token == "aws:index/getRegion:getRegion":
                return {"name": region, "id": region, "region": region}
            if token == "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
            return dict(args.args)

    from infra.app_spec import placeholder_package, set_package

    set_package(placeholder_package(REPO_ROOT))  # the local stack runs the app itself: nothing to package
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.set_mocks(_Mocks(), project="sesame", stack=stack, preview=False)
    entry = program or (REPO_ROOT / "__main__.py")
    sys.path.insert(0, str(entry.parent))

    def _run() -> None:
        runpy.run_path(str(entry), run_name="__main__")

    settings = pulumi.runtime.settings.SETTINGS
    settings.rpc_manager.clear()
    sync_await = getattr(pulumi_mocks, "_sync_await")  # noqa: B009 - the helper pulumi.runtime.test uses
    sync_await(pulumi.runtime.stack.run_pulumi_func(_run))
    return {"stack": stack, "config": config, "resources": resources}


_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a serialized secret value


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and _SECRET_SIG in value and "value" in value:
        return _plain(value["value"])
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.local.pulumi_capture",
        description="Print the resources the Pulumi program declares for a stack, run under Pulumi's mocks.",
    )
    parser.add_argument("--environment", default="dev", help="sesame:environment (default dev)")
    parser.add_argument(
        "--region",
        default="us-east-1",
        help="aws:region, sesame:homeRegion and the one sesame:regions entry (default us-east-1)",
    )
    parser.add_argument("--domain", default="example.com", help="sesame:domain (default example.com)")
    parser.add_argument("--program", type=Path, help="Pulumi entry file (default: the repository's __main__.py)")
    parser.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    config = dev_config(args.environment, args.region, args.domain)
    result = capture(config, stack=f"{args.environment}-{args.region}", program=args.program)
    if args.out:
        args.out.write_text(json.dumps(result))
    else:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
