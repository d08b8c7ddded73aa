"""Run the Pulumi program under Pulumi's own mocks (no CLI, no cloud) and capture what it declares.

Used by the infra tests, the CrossGuard checks and the local stack (``runtime/local``), which translates the
captured resources (tables, queues with ``redrivePolicy``, topics, subscriptions with ``filterPolicy``,
configuration sets, the SSM parameter, buckets) into moto calls::

    from infra.mockrun import run_program
    run = run_program({"aws:region": "us-east-1", "sesame:environment": "dev", ...})
    for queue in run.of_type("aws:sqs/queue:Queue"):
        queue.inputs["name"], queue.inputs.get("redrivePolicy")
    run.outputs["environmentVariables"]

Each run happens in a fresh ``contextvars`` context, so several runs in one process do not share Pulumi state.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import runpy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_root_resource

from infra.config import SECRET_KEYS, load_config

MOCK_ACCOUNT_ID = "123456789012"
PROVIDER_TYPE = "pulumi:providers:aws"


@dataclass(frozen=True)
class ResourceOptionsSeen:
    """The resource options the engine received with a registration (the mocks' arguments leave them out)."""

    urn: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    import_id: str = ""
    dependencies: tuple[str, ...] = ()  # URNs: explicit depends_on and the resources whose outputs it uses
    create_timeout: str = ""


@dataclass(frozen=True)
class CapturedResource:
    type: str  # Pulumi type token, e.g. "aws:sqs/queue:Queue"
    name: str  # Pulumi logical name
    inputs: dict[str, Any]  # camelCased inputs as the engine received them
    state: dict[str, Any]  # inputs + computed outputs returned by the mocks
    region: str  # region of the provider it was created with ("" for components)
    custom: bool
    options: ResourceOptionsSeen = field(default_factory=ResourceOptionsSeen)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", unwrap_secrets(self.inputs))
        object.__setattr__(self, "state", unwrap_secrets(self.state))

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


@dataclass
class ProgramRun:
    stack: str
    resources: list[CapturedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == token]

    def depends_on(self, resource: CapturedResource, other: CapturedResource) -> bool:
        """Whether ``resource`` waits for ``other`` (directly, or through a chain of dependencies)."""
        by_urn = {r.options.urn: r for r in self.resources}
        seen: set[str] = set()
        todo = list(resource.options.dependencies)
        while todo:
            urn = todo.pop()
            if urn == other.options.urn:
                return True
            if urn in seen or urn not in by_urn:
                continue
            seen.add(urn)
            todo.extend(by_urn[urn].options.dependencies)
        return False

    def named(self, token: str, name: str) -> CapturedResource:
        matches = [r for r in self.resources if r.type == token and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {token} named {name}")
        return matches[0]

    def type_counts(self, *, custom_only: bool = True) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            if r.custom or not custom_only:
                counts[r.type] = counts.get(r.type, 0) + 1
        return dict(sorted(counts.items()))


_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def unwrap_secrets(value: Any) -> Any:
    """Replace Pulumi's serialized secret wrappers by their plain values (captured copies only), and assets and
    archives by a plain description (``{"fileArchive": path}``)."""
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": value.path}
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {"asset": type(value).__name__}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG_KEY) == _SECRET_SIG and "value" in value:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _token(seed: str, n: int = 3) -> list[str]:
    return [hashlib.sha256(f"{seed}{i}".encode()).hexdigest()[:32] for i in range(n)]


def mock_app_secrets(seed: str) -> dict[str, Any]:
    """A stand-in for the home stack's ``appSecrets`` output when a StackReference has nothing configured."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return {
        "unsubscribe_secrets": [f"unsubscribe-{digest[:40]}"],
        "pagination_secret": f"pagination-{digest[:40]}",
        "forward_secret": f"forward-{digest[:40]}",
        "api_key_hashes": [],
    }


_registration = threading.local()


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, also remembering each registration's resource options for the mocks."""

    def RegisterResource(self, request: Any) -> Any:
        timeouts = getattr(request, "customTimeouts", None)
        _registration.options = ResourceOptionsSeen(
            urn=self.make_urn(request.parent, request.type, request.name),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            import_id=str(request.importId or ""),
            dependencies=tuple(request.dependencies),
            create_timeout=str(getattr(timeouts, "create", "") or ""),
        )
        try:
            return super().RegisterResource(request)
        finally:
            _registration.options = None


def registration_options() -> ResourceOptionsSeen:
    """The options of the registration being handled (inside ``Mocks.new_resource``)."""
    return getattr(_registration, "options", None) or ResourceOptionsSeen()


class RecordingMocks(Mocks):
    """Returns plausible computed outputs (ARNs, URLs, DKIM tokens, ...) and records every registration."""

    def __init__(self, account_id: str, default_region: str, stack_outputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.account_id = account_id
        self.default_region = default_region
        self.stack_outputs = stack_outputs
        self.captured: list[CapturedResource] = []
        self._provider_regions: dict[str, str] = {}

    def _region(self, args: MockResourceArgs) -> str:
        if args.inputs.get("region"):
            return str(args.inputs["region"])
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        return self._provider_regions.get(provider_id, self.default_region if args.custom else "")

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return (
                {
                    "accountId": self.account_id,
                    "arn": f"arn:aws:iam::{self.account_id}:user/mock",
                    "userId": "AIDAMOCK",
                    "id": self.account_id,
                },
                [],
            )
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.default_region, "region": self.default_region, "id": self.default_region}, []
        return {}, []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        token = args.typ
        if token == PROVIDER_TYPE:
            resource_id = f"{args.name}-id"
            self._provider_regions[resource_id] = str(inputs.get("region", ""))
            self.captured.append(
                CapturedResource(token, args.name, inputs, state, state.get("region", ""), True, registration_options())
            )
            return resource_id, state
        region = self._region(args)
        if token == "pulumi:pulumi:StackReference":
            name = str(inputs.get("name") or args.resource_id or args.name)
            outputs = dict(self.stack_outputs.get(name) or {"appSecrets": mock_app_secrets(name)})
            state = {"name": name, "outputs": outputs, "secretOutputNames": []}
            self.captured.append(
                CapturedResource(token, args.name, inputs, state, region, True, registration_options())
            )
            return name, state
        resource_id = self._computed(token, args.name, inputs, state, region)
        self.captured.append(
            CapturedResource(token, args.name, inputs, state, region, bool(args.custom), registration_options())
        )
        return resource_id, state

    def _computed(self, token: str, name: str, inputs: dict[str, Any], state: dict[str, Any], region: str) -> str:
        acct = self.account_id
        physical = str(inputs.get("name") or f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}")
        resource_id = physical
        if token == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:{region}:{acct}:{physical}"
            resource_id = state["arn"]
        elif token == "aws:sns/topicSubscription:TopicSubscription":
            state["arn"] = f"{inputs.get('topic')}:{hashlib.sha256(name.encode()).hexdigest()[:36]}"
            resource_id = state["arn"]
        elif token == "aws:sqs/queue:Queue":
            state["arn"] = f"arn:aws:sqs:{region}:{acct}:{physical}"
            state["url"] = f"https://sqs.{region}.amazonaws.com/{acct}/{physical}"
            resource_id = state["url"]
        elif token == "aws:dynamodb/table:Table":
            state["arn"] = f"arn:aws:dynamodb:{region}:{acct}:table/{physical}"
            state["streamArn"] = f"{state['arn']}/stream/2026-01-01T00:00:00.000"
        elif token == "aws:sesv2/emailIdentity:EmailIdentity":
            identity = str(inputs["emailIdentity"])
            state["arn"] = f"arn:aws:ses:{region}:{acct}:identity/{identity}"
            attrs = dict(inputs.get("dkimSigningAttributes") or {})
            attrs["tokens"] = _token(f"{identity}{region}")
            state["dkimSigningAttributes"] = attrs
            resource_id = identity
        elif token == "aws:sesv2/configurationSet:ConfigurationSet":
            physical = str(inputs["configurationSetName"])
            state["arn"] = f"arn:aws:ses:{region}:{acct}:configuration-set/{physical}"
            resource_id = physical
        elif token == "aws:acm/certificate:Certificate":
            domain = str(inputs["domainName"])
            state["arn"] = f"arn:aws:acm:{region}:{acct}:certificate/{hashlib.sha256(domain.encode()).hexdigest()[:36]}"
            state["domainValidationOptions"] = [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{_token(domain, 1)[0]}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_token(domain + 'v', 1)[0]}.acm-validations.aws.",
                }
            ]
            resource_id = state["arn"]
        elif token == "aws:acm/certificateValidation:CertificateValidation":
            state["certificateArn"] = inputs.get("certificateArn")
        elif token == "aws:cloudfront/distribution:Distribution":
            state["domainName"] = f"d{hashlib.sha256(name.encode()).hexdigest()[:13]}.cloudfront.net"
            state["hostedZoneId"] = "Z2FDTNDATAQYW2"
            state["arn"] = f"arn:aws:cloudfront::{acct}:distribution/E{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        elif token == "aws:route53/record:Record":
            state["fqdn"] = str(inputs.get("name", "")).rstrip(".")
        elif token == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{acct}:role/{physical}"
        elif token == "aws:ssm/parameter:Parameter":
            state["arn"] = f"arn:aws:ssm:{region}:{acct}:parameter{physical}"
        elif token == "aws:s3/bucket:Bucket":
            bucket = str(inputs.get("bucket") or physical)
            state["bucket"] = bucket
            state["arn"] = f"arn:aws:s3:::{bucket}"
            resource_id = bucket
        elif token == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            state["arn"] = f"arn:aws:firehose:{region}:{acct}:deliverystream/{physical}"
        elif token == "random:index/randomPassword:RandomPassword":
            state["result"] = hashlib.sha256(f"secret-{name}".encode()).hexdigest()[: int(inputs.get("length", 32))]
        elif token == "aws:apigateway/restApi:RestApi":
            api_id = hashlib.sha256(f"{name}{region}".encode()).hexdigest()[:10]
            state["executionArn"] = f"arn:aws:execute-api:{region}:{acct}:{api_id}"
            state["rootResourceId"] = f"{api_id[:6]}root"
            resource_id = api_id
        elif token == "aws:apigateway/deployment:Deployment":
            resource_id = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:6]
        elif token == "aws:lambda/function:Function":
            state["arn"] = f"arn:aws:lambda:{region}:{acct}:function:{physical}"
            state["invokeArn"] = (
                f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations"
            )
        elif token == "aws:lambda/eventSourceMapping:EventSourceMapping":
            resource_id = hashlib.sha256(name.encode()).hexdigest()[:32]
            state["uuid"] = resource_id
        elif token == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{region}:{acct}:log-group:{physical}"
        elif token == "aws:cloudwatch/eventRule:EventRule":
            state["arn"] = f"arn:aws:events:{region}:{acct}:rule/{physical}"
        elif token == "aws:ses/domainIdentityVerification:DomainIdentityVerification":
            state["arn"] = f"arn:aws:ses:{region}:{acct}:identity/{inputs.get('domain')}"
            resource_id = str(inputs.get("domain"))
        elif token == "aws:sesv2/dedicatedIpPool:DedicatedIpPool":
            state["arn"] = f"arn:aws:ses:{region}:{acct}:dedicated-ip-pool/{inputs.get('poolName')}"
            resource_id = str(inputs.get("poolName"))
        elif token == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = f"arn:aws:cloudwatch:{region}:{acct}:alarm:{physical}"
        return resource_id


def _config_map(config: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in config.items():
        full = key if ":" in key else f"sesame:{key}"
        out[full] = value if isinstance(value, str) else json.dumps(value)
    return out


def run_program(
    config: Mapping[str, Any],
    *,
    stack: str | None = None,
    project: str = "sesame",
    organization: str = "organization",
    account_id: str = MOCK_ACCOUNT_ID,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    entry: Path | None = None,
    secret_keys: Sequence[str] = (),
) -> ProgramRun:
    """Run ``infra.program.build`` under mocks with the given config (keys like ``sesame:domain`` or ``domain``,
    values as strings or JSON-able objects). ``stack_outputs`` feeds StackReferences (``org/project/stack``).
    With ``entry`` (a Pulumi entry file such as the repository's ``__main__.py``) that file runs instead, and the
    outputs are what it exported. ``secret_keys`` are further config keys to mark secret (as
    ``pulumi config set --secret`` does); every ``SECRET_KEYS`` key present is secret anyway.
    Raises ``infra.config.ConfigError`` for an invalid config before any resource registers."""
    values = _config_map(config)
    region = values.get("aws:region", "us-east-1")
    environment = values.get("sesame:environment", "dev")
    stack_name = stack or f"{environment}-{region}"
    ctx = contextvars.Context()
    return ctx.run(
        _run, values, stack_name, project, organization, account_id, dict(stack_outputs or {}), entry, secret_keys
    )


def _run(
    values: dict[str, str],
    stack: str,
    project: str,
    organization: str,
    account_id: str,
    stack_outputs: dict[str, Mapping[str, Any]],
    entry: Path | None,
    secret_keys: Sequence[str] = (),
) -> ProgramRun:
    from infra.app_spec import placeholder_package, set_package
    from infra.program import build

    set_package(placeholder_package())  # nothing is built under mocks (this context only)
    secrets = [f"sesame:{k}" for k in SECRET_KEYS if f"sesame:{k}" in values]
    set_all_config(values, secrets + [k for k in secret_keys if k in values])
    mocks = RecordingMocks(account_id, values.get("aws:region", "us-east-1"), stack_outputs)
    set_mocks(
        mocks, project=project, stack=stack, preview=False, organization=organization, monitor=RecordingMonitor(mocks)
    )
    run = ProgramRun(stack=stack)

    def program() -> pulumi.Output[Any]:
        if entry is not None:
            runpy.run_path(str(entry), run_name="__main__")
            root = get_root_resource()
            outputs: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        else:
            outputs = build(load_config())  # load_config raises ConfigError before any resource registers
        return pulumi.Output.from_input(outputs).apply(run.outputs.update)

    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]  # runs it, waits for every registration
    run.resources = list(mocks.captured)
    return run
