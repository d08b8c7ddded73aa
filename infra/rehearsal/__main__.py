"""``make rehearse``: deploy a two-region production the documented way, twice and from a second clone, then tear
it down, against moto_server on 127.0.0.1; check what got deployed. Prints one JSON report; exit 1 on any failure.

    python -m infra.rehearsal [--keep DIR] [--timeout SECONDS]

The run, as docs/deploy.md tells a user (``pulumi up`` is the whole deployment of a stack):

1. two working directories made from the repository's files, as two fresh clones on two machines; one state
   backend folder, as ``pulumi login`` to a shared backend; a Route53 hosted zone for the domain;
2. in each clone the stack configs are the documented examples (``Pulumi.<stack>.yaml.example``), with the zone's
   id and the webhook on for the home stack;
3. first clone: ``pulumi up`` home (``prod-us-east-1``), then the second region (``prod-eu-west-1``, which reads
   the home stack's secrets through its StackReference); again both: nothing may change;
4. second clone (its own ``chalice package`` build): both again: nothing may change, same API, functions and
   event source mappings, no duplicates;
5. checks against moto: functions and their code, roles, memory, timeouts, reserved concurrency and environment
   (API URL, queue URLs, tables, topic, secrets); event source mappings; the schedule; the API's routes,
   integrations, stage and invoke permissions; log groups; alarms; the tables in both regions;
6. ``pulumi destroy`` of a production stack is refused (protected data) and changes nothing; the documented
   teardown (``deletionProtection false``, ``pulumi up``, ``pulumi destroy``, second region first) removes
   everything, the app included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOME, SECOND = "prod-us-east-1", "prod-eu-west-1"
REGIONS = {HOME: "us-east-1", SECOND: "eu-west-1"}
DOMAIN = "example.com"
#: the functions the home stack deploys (logical name -> physical name)
FUNCTIONS = {
    fn: f"sesame-prod-{fn.replace('_', '-')}"
    for fn in (
        "api",
        "webhook",
        "unsubscribe",
        "sender",
        "critical_events",
        "engagement_events",
        "forward_events",
        "check_for_campaign",
        "count_events",
    )
}
#: the messages stream's consumer reads the home replica's stream (it carries every region's writes): home only
HOME_ONLY = ("count_events",)
CONSUMERS = {
    "sender": "send",
    "critical_events": "critical",
    "engagement_events": "engagement",
    "forward_events": "forward",
}


def stack_functions(stack: str) -> dict[str, str]:
    """The functions ``stack`` deploys (logical name -> physical name)."""
    return {fn: name for fn, name in FUNCTIONS.items() if stack == HOME or fn not in HOME_ONLY}


@dataclass
class Rehearsal:
    endpoint: str
    backend: Path
    timeout: float
    deadline: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id="rehearsal",
                aws_secret_access_key="rehearsal",
            )
        return self._clients[key]

    # -- running the documented commands ------------------------------------------------------------------------

    def deploy(self, workdir: Path, action: str, stack: str, label: str) -> dict[str, Any]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the rehearsal ran out of its {self.timeout:.0f} s before {label}")
        env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
        for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(var, None)
        command = [sys.executable, "-m", "infra.rehearsal.deploy", action, "--stack", stack]
        command += ["--backend", str(self.backend), "--endpoint", self.endpoint]
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S603 - fixed command
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=remaining, check=False
        )
        lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {"error": completed.stderr[-3000:]}
        result.update({"label": label, "dir": workdir.name, "returncode": completed.returncode})
        result["wall_seconds"] = round(time.monotonic() - started, 2)
        if completed.returncode != 0 and "error" in result:
            result["stderr"] = completed.stderr[-3000:]
        self.runs.append({k: v for k, v in result.items() if k not in ("outputs",)})
        return result

    def check(self, name: str, ok: bool, detail: Any = "") -> bool:
        self.checks.append({"check": name, "ok": bool(ok), "detail": detail})
        return bool(ok)


# -- set-up ------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed command
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - local
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto_server did not start")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def repository_files(root: Path) -> list[str]:
    """The files a fresh clone has (tracked and not ignored), relative to ``root``."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        return [name for name in listed.split("\0") if name and (root / name).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "out", "vendor", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
        return [
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not (set(p.relative_to(root).parts) & skip)
        ]


def clone(root: Path, target: Path) -> Path:
    for name in repository_files(root):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, destination)
    return target


def write_stack_configs(workdir: Path, zone_id: str, *, overrides: dict[str, dict[str, Any]] | None = None) -> None:
    """``cp Pulumi.<stack>.yaml.example Pulumi.<stack>.yaml`` and the documented edits."""
    for stack in (HOME, SECOND):
        data = yaml.safe_load((workdir / f"Pulumi.{stack}.yaml.example").read_text(encoding="utf-8"))
        data["config"]["sesame:hostedZoneId"] = zone_id
        if stack == HOME:
            data["config"]["sesame:webhook"] = True
        data["config"].update((overrides or {}).get(stack, {}))
        (workdir / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# -- what got deployed -------------------------------------------------------------------------------------------


def snapshot(r: Rehearsal) -> dict[str, Any]:
    """Identities of what is deployed in each region (to compare runs)."""
    out: dict[str, Any] = {}
    for region in REGIONS.values():
        lam = r.client("lambda", region)
        functions = sorted(
            (f["FunctionName"], f["CodeSha256"])
            for f in lam.list_functions()["Functions"]
            if f["FunctionName"].startswith("sesame-")
        )
        mappings = sorted(m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"])
        apis = sorted(a["id"] for a in r.client("apigateway", region).get_rest_apis()["items"])
        rules = sorted(x["Name"] for x in r.client("events", region).list_rules()["Rules"])
        out[region] = {"functions": functions, "mappings": mappings, "apis": apis, "rules": rules}
    return out


def check_deployment(r: Rehearsal, outputs: dict[str, dict[str, Any]], code_sha: str) -> None:
    home_secrets = None
    for stack, region in REGIONS.items():
        out = outputs[stack]
        lam = r.client("lambda", region)
        deployed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
        sesame = {name for name in deployed if name.startswith("sesame-prod-")}
        functions = stack_functions(stack)
        r.check(
            f"{stack}: exactly the app's {len(functions)} functions"
            + ("" if stack == HOME else " (no count_events: home only)"),
            sesame == set(functions.values()),
            sorted(sesame),
        )
        apis = [a for a in r.client("apigateway", region).get_rest_apis()["items"] if a["name"] == "sesame-prod"]
        r.check(f"{stack}: one REST API", len(apis) == 1, [a["id"] for a in apis])
        api_id = apis[0]["id"] if apis else ""
        api_url = f"https://{api_id}.execute-api.{region}.amazonaws.com/api"
        r.check(f"{stack}: the stack's apiUrl is the deployed API's", out.get("apiUrl") == api_url, out.get("apiUrl"))
        sqs = r.client("sqs", region)
        roles = set()
        for logical, name in functions.items():
            fn = deployed.get(name)
            if fn is None:
                continue
            env = fn.get("Environment", {}).get("Variables", {})
            roles.add(fn["Role"])
            problems = []
            if env.get("SESAME_UNSUBSCRIBE_BASE_URL") != api_url:
                problems.append(f"unsubscribe base {env.get('SESAME_UNSUBSCRIBE_BASE_URL')}")
            if env.get("SESAME_SEND_QUEUE_URL") != sqs.get_queue_url(QueueName="sesame-prod-send")["QueueUrl"]:
                problems.append("send queue URL")
            if env.get("SESAME_REGION") != region or env.get("SESAME_STAGE") != stack:
                problems.append("region/stage")
            for table in ("messages", "campaigns", "suppressions", "control"):
                name_ = env.get(f"SESAME_{table.upper()}_TABLE", "")
                try:
                    r.client("dynamodb", region).describe_table(TableName=name_)
                except Exception:
                    problems.append(f"table {name_!r} missing in {region}")
            topics = {t["TopicArn"] for t in r.client("sns", region).list_topics()["Topics"]}
            allowed = [arn for arn in env.get("SNS_ALLOWED_TOPIC_ARNS", "").split(",") if arn]
            if len(allowed) != 2 or not set(allowed) <= topics:  # the critical and the engagement event topics
                problems.append("topics")
            if fn["CodeSha256"] != code_sha:
                problems.append("code is not the package")
            if not fn["Role"].endswith(f":role/sesame-prod-{region}-{logical.replace('_', '-')}"):
                problems.append(f"role {fn['Role']}")
            r.check(f"{stack}: {name} configured from the stack", not problems, problems)
        r.check(f"{stack}: one role per function", len(roles) == len(functions), len(roles))
        r.check(
            f"{stack}: api function memory from sesame:functions",
            deployed.get(FUNCTIONS["api"], {}).get("MemorySize") == 512 and deployed[FUNCTIONS["api"]]["Timeout"] == 29,
        )
        concurrency = {
            logical: lam.get_function(FunctionName=FUNCTIONS[logical])
            .get("Concurrency", {})
            .get("ReservedConcurrentExecutions")
            for logical in ("webhook", "unsubscribe", "sender")
        }
        r.check(
            f"{stack}: reserved concurrency on the public functions",
            concurrency == {"webhook": 50, "unsubscribe": 20, "sender": None},
            concurrency,
        )
        secrets = json.loads(
            r.client("ssm", region).get_parameter(Name="/sesame/prod/app-secrets", WithDecryption=True)["Parameter"][
                "Value"
            ]
        )
        if stack == HOME:
            home_secrets = secrets
        else:
            r.check("the second region reads the home stack's generated secrets", secrets == home_secrets)

        # event source mappings
        mappings = lam.list_event_source_mappings()["EventSourceMappings"]
        by_function = {m["FunctionArn"].rsplit(":", 1)[-1]: m for m in mappings}
        # the queue consumers in every region; the messages stream's counter consumer in the home region only (a
        # global table's home replica stream carries every region's writes)
        expected = len(CONSUMERS) + (1 if stack == HOME else 0)
        r.check(
            f"{stack}: {expected} event source mappings, one per consumer", len(mappings) == expected, len(mappings)
        )
        stream_mapping = by_function.get(FUNCTIONS["count_events"])
        if stack == HOME:
            stream_arn = (
                r.client("dynamodb", region)
                .describe_table(TableName="sesame-prod-messages")["Table"]
                .get("LatestStreamArn")
            )
            m = stream_mapping or {}
            r.check(
                "home: count_events reads the messages stream from its start, tumbling windows, bisect, retry",
                bool(stream_arn)
                and m.get("EventSourceArn") == stream_arn
                and m.get("TumblingWindowInSeconds", 0) > 0
                and m.get("BisectBatchOnFunctionError") is True
                and m.get("MaximumRetryAttempts") == -1,
                {k: m.get(k) for k in ("EventSourceArn", "TumblingWindowInSeconds", "BisectBatchOnFunctionError")},
            )
        else:
            r.check(f"{stack}: no stream mapping outside the home region", stream_mapping is None)
        for logical, queue in CONSUMERS.items():
            m = by_function.get(FUNCTIONS[logical], {})
            queue_arn = sqs.get_queue_attributes(
                QueueUrl=sqs.get_queue_url(QueueName=f"sesame-prod-{queue}")["QueueUrl"], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            ok = (
                m.get("EventSourceArn") == queue_arn
                and m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
                and (m.get("ScalingConfig") or {}).get("MaximumConcurrency", 0) >= 2
            )
            r.check(
                f"{stack}: {logical} reads {queue} with partial batch failures and a concurrency cap",
                ok,
                m.get("ScalingConfig"),
            )

        # schedule
        events = r.client("events", region)
        rules = events.list_rules(NamePrefix="sesame-prod-")["Rules"]
        targets = events.list_targets_by_rule(Rule=rules[0]["Name"])["Targets"] if rules else []
        scheduler = deployed.get(FUNCTIONS["check_for_campaign"], {}).get("FunctionArn")
        policy = json.loads(lam.get_policy(FunctionName=FUNCTIONS["check_for_campaign"])["Policy"])
        ok = (
            len(rules) == 1
            and rules[0].get("ScheduleExpression") == "rate(1 minute)"
            and [t["Arn"] for t in targets] == [scheduler]
            and any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in policy["Statement"])
        )
        r.check(f"{stack}: check_for_campaign runs every minute", ok, [x.get("ScheduleExpression") for x in rules])

        # API: routes, integrations, stage, invoke permissions
        apig = r.client("apigateway", region)
        routes = {}
        for resource in apig.get_resources(restApiId=api_id, embed=["methods"])["items"] if api_id else []:
            for method in resource.get("resourceMethods") or {}:
                integration = apig.get_integration(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
                routes[(resource["path"], method)] = (
                    integration["uri"].split(":function:")[-1].removesuffix("/invocations")
                )
        from infra.app_spec import load_app_spec

        expected = {(path, m): None for path, methods in load_app_spec(ROOT).routes().items() for m in methods}
        r.check(f"{stack}: every route of the app is deployed", set(routes) == set(expected), len(routes))
        r.check(
            f"{stack}: webhook and unsubscribe routes invoke their own functions",
            routes.get(("/webhooks/ses", "POST")) == FUNCTIONS["webhook"]
            and routes.get(("/unsubscribe", "POST")) == FUNCTIONS["unsubscribe"]
            and routes.get(("/campaigns", "POST")) == FUNCTIONS["api"],
        )
        stages = apig.get_stages(restApiId=api_id)["item"] if api_id else []
        r.check(
            f"{stack}: stage api deployed",
            [s["stageName"] for s in stages] == ["api"] and bool(stages[0].get("deploymentId")),
        )
        for logical in ("api", "webhook", "unsubscribe"):
            statements = json.loads(lam.get_policy(FunctionName=FUNCTIONS[logical])["Policy"])["Statement"]
            ok = any(
                s["Principal"] == {"Service": "apigateway.amazonaws.com"}
                and f":{api_id}/" in json.dumps(s.get("Condition", {}))
                for s in statements
            )
            r.check(f"{stack}: API Gateway may invoke {logical}", ok)

        # webhook subscription (home)
        if stack == HOME:
            subs = r.client("sns", region).list_subscriptions()["Subscriptions"]
            webhook = [s for s in subs if s["Protocol"] == "https"]
            r.check(
                "home: both event topics deliver to the stack's own webhook",
                sorted(s["TopicArn"].rsplit(":", 1)[1] for s in webhook)
                == ["sesame-prod-ses-critical-events", "sesame-prod-ses-events"]
                and {s["Endpoint"] for s in webhook} == {f"{api_url}/webhooks/ses"},
            )

        # logs and alarms
        groups = {
            g["logGroupName"]: g.get("retentionInDays")
            for g in r.client("logs", region).describe_log_groups()["logGroups"]
        }
        r.check(
            f"{stack}: every function's log group, 30 days (and no other)",
            all(groups.get(f"/aws/lambda/{name}") == 30 for name in functions.values())
            and not {g for g in groups if g.startswith("/aws/lambda/sesame-prod-")}
            - {f"/aws/lambda/{name}" for name in functions.values()},
        )
        alarms = r.client("cloudwatch", region).describe_alarms(AlarmNamePrefix="sesame-prod")["MetricAlarms"]
        kinds = {(a["Namespace"], a["MetricName"]) for a in alarms}
        lambda_alarms = [a for a in alarms if a["Namespace"] == "AWS/Lambda"]
        ok = (
            len([a for a in lambda_alarms if a["MetricName"] in ("Errors", "Throttles")]) == 2 * len(functions)
            and [a["Dimensions"] for a in lambda_alarms if a["MetricName"] == "IteratorAge"]
            == ([[{"Name": "FunctionName", "Value": FUNCTIONS["count_events"]}]] if stack == HOME else [])
            and ("AWS/ApiGateway", "5XXError") in kinds
            and sum(1 for a in alarms if a["MetricName"] == "ApproximateAgeOfOldestMessage") == 4
        )
        r.check(f"{stack}: errors/throttles per function, queue age, API 5xx alarms", ok, len(alarms))


def check_teardown(r: Rehearsal) -> None:
    for region in REGIONS.values():
        leftovers = {
            "functions": [f["FunctionName"] for f in r.client("lambda", region).list_functions()["Functions"]],
            "mappings": [
                m["UUID"] for m in r.client("lambda", region).list_event_source_mappings()["EventSourceMappings"]
            ],
            "apis": [a["id"] for a in r.client("apigateway", region).get_rest_apis()["items"]],
            "rules": [x["Name"] for x in r.client("events", region).list_rules()["Rules"]],
            "tables": r.client("dynamodb", region).list_tables()["TableNames"],
            "queues": r.client("sqs", region).list_queues().get("QueueUrls", []),
            "topics": [t["TopicArn"] for t in r.client("sns", region).list_topics()["Topics"]],
            "log groups": [g["logGroupName"] for g in r.client("logs", region).describe_log_groups()["logGroups"]],
        }
        left = {k: v for k, v in leftovers.items() if v}
        r.check(f"teardown leaves nothing in {region}", not left, left)
    roles = [x["RoleName"] for x in r.client("iam").list_roles()["Roles"] if x["RoleName"].startswith("sesame-")]
    r.check("teardown leaves no role", not roles, roles)


# -- the run -----------------------------------------------------------------------------------------------------


def rehearse(work: Path, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    with moto_server() as endpoint:
        r = Rehearsal(endpoint=endpoint, backend=work / "backend", timeout=timeout, deadline=started + timeout)
        zone = r.client("route53").create_hosted_zone(Name=DOMAIN, CallerReference="sesame-rehearsal")["HostedZone"]
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        first = clone(ROOT, work / "clone-1")
        second = clone(ROOT, work / "clone-2")
        for workdir in (first, second):
            write_stack_configs(workdir, zone_id)

        outputs: dict[str, dict[str, Any]] = {}
        ok = True

        def step(
            workdir: Path, action: str, stack: str, label: str, expect: Callable[[dict[str, Any]], bool]
        ) -> dict[str, Any]:
            nonlocal ok
            result = r.deploy(workdir, action, stack, label)
            passed = r.check(label, expect(result), result.get("error") or result.get("counts"))
            ok = ok and passed
            return result

        def succeeded(result: dict[str, Any]) -> bool:
            return result.get("returncode") == 0

        def unchanged(result: dict[str, Any]) -> bool:
            return succeeded(result) and not result.get("changes")

        for stack in (HOME, SECOND):
            outputs[stack] = step(first, "up", stack, f"clone 1: pulumi up {stack}", succeeded).get("outputs", {})
        if ok:
            package = json.loads((first / "out" / "lambda" / "package.json").read_text())
            before = snapshot(r)
            for stack in (HOME, SECOND):
                step(first, "up", stack, f"clone 1: pulumi up {stack} again changes nothing", unchanged)
            for stack in (HOME, SECOND):
                again = step(second, "up", stack, f"clone 2: pulumi up {stack} changes nothing", unchanged)
                r.check(f"clone 2: {stack} outputs are clone 1's", again.get("outputs") == outputs[stack])
            r.check(
                "clone 2 built a byte-identical package",
                (second / "out" / "lambda" / "package.json").read_text()
                == (first / "out" / "lambda" / "package.json").read_text(),
            )
            r.check("same API, functions, mappings and schedule after every run: no duplicates", snapshot(r) == before)
            check_deployment(r, outputs, package["code_sha256"])

            refused = r.deploy(second, "destroy", SECOND, "pulumi destroy prod-eu-west-1 without unprotecting")
            r.check(
                "destroying production is refused while data is protected",
                refused.get("returncode") == 1,
                refused.get("error", "")[:200],
            )
            r.check("the refused destroy changed nothing", snapshot(r) == before)

            # the documented teardown, from the second clone
            write_stack_configs(
                second, zone_id, overrides={s: {"sesame:deletionProtection": False} for s in (HOME, SECOND)}
            )
            for stack in (HOME, SECOND):
                step(second, "up", stack, f"teardown: pulumi up {stack} with deletionProtection false", succeeded)
            for stack in (SECOND, HOME):
                step(second, "destroy", stack, f"teardown: pulumi destroy {stack}", succeeded)
            check_teardown(r)

    not_emulated: dict[str, str] = {}
    for run in r.runs:
        not_emulated.update(run.get("not_emulated") or {})
    resources = {}
    for stack in (HOME, SECOND):
        first_run = next((x for x in r.runs if x.get("stack") == stack and x.get("action") == "up"), {})
        resources[stack] = sum((first_run.get("counts") or {}).values())
    return {
        "ok": all(c["ok"] for c in r.checks),
        "seconds": round(time.monotonic() - started, 1),
        "checks_passed": sum(1 for c in r.checks if c["ok"]),
        "checks_failed": [c for c in r.checks if not c["ok"]],
        "resources_per_stack": resources,
        "runs": [
            {k: run.get(k) for k in ("label", "dir", "wall_seconds", "counts", "error") if run.get(k) is not None}
            for run in r.runs
        ],
        "not_emulated": not_emulated,
        "checks": [c["check"] for c in r.checks if c["ok"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (clones, backend) afterwards")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds (300)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = rehearse(args.keep, args.timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="sesame-rehearsal-") as tmp:
            report = rehearse(Path(tmp), args.timeout)
    print(json.dumps(report, indent=1, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
