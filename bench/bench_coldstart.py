"""First invocation per Lambda handler: import + client creation + the first event, in a fresh interpreter.

For every function the Chalice app deploys — the API handler (``app.app``) and each event handler by the handler
string Chalice gives Lambda (``chalicelib.sending.send_batch``, ...) — a new Python process imports the handler's
module and handles one realistic first event, so the figure includes every lazy import, the settings read (the SSM
secrets parameter), boto3 client creation and the AWS calls of that event. AWS is moto_server on 127.0.0.1
(``runtime.local.moto_runner``) with the dev stack's tables, queues, topic, identity and secrets parameter
provisioned; the forwarding endpoint is a local HTTP server. The code is the deployment package ``make package``
builds (and ``pulumi up`` deploys), unpacked: the app, ``runtime/``, chalice and the dependencies with the bytecode
the package ships (``runtime.packaging.add_bytecode``), and nothing compiled or cached beyond it (no bytecode is
written, as on Lambda's read-only file system), including botocore with the data the package trims it to.

Per handler: the process CPU time from before the import to the handler's return (moto_server answers from its own
process, so the emulator's time — hundreds of ms per call on this shared machine, ms on AWS — is not in it) plus
``bench.cost_model.LATENCY_MS`` for each AWS call the first event makes (counted in the child: botocore client calls
and the requests ``runtime.stores.direct`` sends past the client). ``first_invocation_ms``
is the worst handler's median over ``RUNS`` fresh processes, on this machine's CPU: not scaled to Lambda's CPU share
(~0.29 vCPU at 512 MB once the handler runs), and Lambda's own runtime start-up is not included. Wall times (with
moto's answering time) and per-handler figures go to ``.bench/first_invocation.md`` and stderr.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3
REGION = "us-east-1"
ENV = "cold"
ACCOUNT = "123456789012"

_PROBE = r"""
import importlib, json, sys, threading, time
spec = json.loads(sys.stdin.read())
calls = []

import importlib.abc, importlib.machinery

class _CountCalls(importlib.abc.MetaPathFinder):
    # When the app imports botocore.client (not before: that import is part of what is measured), wrap
    # BaseClient._make_api_call to count the AWS calls; the same for the ingestion's DynamoDB requests that
    # runtime.stores.direct sends past botocore's client (DirectDynamo._send, one per request). Nothing else changes.
    pending = {"botocore.client", "runtime.stores.direct"}

    def find_spec(self, name, path, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            if name == "botocore.client":
                make = module.BaseClient._make_api_call

                def counted(client, operation_name, api_params):
                    start = time.perf_counter()
                    try:
                        return make(client, operation_name, api_params)
                    finally:
                        service = client.meta.service_model.service_name
                        calls.append((service, operation_name, start, time.perf_counter(), threading.get_ident()))

                module.BaseClient._make_api_call = counted
            else:
                send = module.DirectDynamo._send

                def sent(direct, route, body, frozen):
                    start = time.perf_counter()
                    try:
                        return send(direct, route, body, frozen)
                    finally:
                        calls.append(("dynamodb", route.model.name, start, time.perf_counter(), threading.get_ident()))

                module.DirectDynamo._send = sent

        loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _CountCalls())

class Context:
    function_name = spec["function"]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function"]
    memory_limit_in_mb = "512"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + spec["function"]
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 60000

wall, cpu = time.perf_counter(), time.process_time()
module_name, attribute = spec["handler"].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), attribute)
import_cpu = time.process_time() - cpu
result = handler(spec["event"], Context())
done_wall, done_cpu = time.perf_counter(), time.process_time()
status = result.get("statusCode") if isinstance(result, dict) else None
print(json.dumps({
    "import_cpu_ms": import_cpu * 1000,
    "cpu_ms": (done_cpu - cpu) * 1000,
    "wall_ms": (done_wall - wall) * 1000,
    "calls": calls,
    "status": status,
}))
"""


class _Ok(http.server.BaseHTTPRequestHandler):
    posts = 0

    def do_POST(self) -> None:
        _Ok.posts += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@contextlib.contextmanager
def _forward_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events"
    finally:
        server.shutdown()
        server.server_close()


def _project(target: Path) -> Path:
    """The deployment package as ``pulumi up`` deploys it (``runtime.packaging.ensure_package``: built when the
    sources changed), unpacked as Lambda unpacks it into ``/var/task``."""
    from runtime.packaging import ensure_package

    project = target / "task"
    with zipfile.ZipFile(ensure_package(ROOT)["path"]) as archive:
        archive.extractall(project)
    return project


def _sqs_event(queue: str, bodies: list[str], first_id: str = "") -> dict[str, Any]:
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": first_id if first_id and not i else f"{uuid.uuid4()}",
                "receiptHandle": f"receipt-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def _api_event(method: str, path: str, body: str | None, headers: dict[str, str], resource: str) -> dict[str, Any]:
    params = {"campaign_id": path.split("/")[2]} if "{campaign_id}" in resource else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "api.example.com", **headers},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "bench",
            "identity": {"sourceIp": "192.0.2.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass(frozen=True)
class FirstEvent:
    function: str  # the Lambda function
    handler: str  # the handler string Chalice gives Lambda
    event: dict[str, Any]
    did_work: Callable[[Any], bool]  # (DynamoDB client) -> the event had its effect (not a duplicate or an error)


def _events(env: dict[str, str], signer: Any, api_key: str, run: int) -> dict[str, FirstEvent]:
    """The first event of every handler; ``run`` makes every id new, so no run is answered as a duplicate."""
    from bench.workload import SentMessage, ses_record

    topic = env["SNS_ALLOWED_TOPIC_ARNS"].split(",")[0]
    messages_table, control_table = env["SESAME_MESSAGES_TABLE"], env["SESAME_CONTROL_TABLE"]

    def message(n: int) -> SentMessage:
        mid = f"010f0190a1b2c3d4-7c1e2f3a-4b5c-6d7e-{run:04d}{n:08d}-000000"
        return SentMessage(mid, f"reader{run}.{n}@example.org", "spring-sale", "newsletter", datetime.now(UTC))

    def envelope(kind: str, msg: SentMessage) -> str:
        text = json.dumps(ses_record(kind, msg, datetime.now(UTC), run), separators=(",", ":"))
        return signer.notification_json(topic, text, subject="Amazon SES Email Event Notification")

    def status_is(msg: SentMessage, status: str) -> Callable[[Any], bool]:
        def check(ddb: Any) -> bool:
            item = ddb.get_item(TableName=messages_table, Key={"message_id": {"S": msg.message_id}}).get("Item")
            return bool(item) and item["status"]["S"] == status

        return check

    def job_sent(ddb: Any) -> bool:
        key = {"pk": {"S": f"SENDJOB#sqs-{sqs_id}"}, "sk": {"S": "JOB"}}
        item = ddb.get_item(TableName=control_table, Key=key).get("Item") or {}
        return any(v["S"].startswith("sent|") for v in item.get("done", {}).get("M", {}).values())

    sqs_id = f"00000000-0000-4000-8000-{run:012d}"
    bounced, delivered, complained = message(1), message(2), message(3)
    send_request = json.dumps(
        {
            "FromEmailAddress": "news@example.com",
            "Destination": {"ToAddresses": [f"reader{run}@example.org"]},
            "Content": {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}},
            "EmailTags": [{"Name": "campaign_id", "Value": "spring-sale"}],
        }
    )
    forwarded = json.dumps(
        {"event_type": "Delivery", "message_id": delivered.message_id, "timestamp": "2026-05-04T09:00:00Z"}
    )
    posts_before = _Ok.posts
    schedule = {
        "version": "0",
        "id": f"00000000-0000-4000-8000-{run:012d}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/check_for_campaign"],
        "detail": {},
    }
    auth = {"Authorization": f"Bearer {api_key}"}
    webhook = _api_event(
        "POST", "/webhooks/ses", envelope("Complaint", complained), {"Content-Type": "text/plain"}, "/webhooks/ses"
    )
    stats = _api_event("GET", "/campaigns/spring-sale/stats", None, auth, "/campaigns/{campaign_id}/stats")
    return {
        "sender": FirstEvent(
            "sender",
            "chalicelib.sending.send_batch",
            _sqs_event(env["SESAME_SEND_QUEUE"], [send_request], sqs_id),
            job_sent,
        ),
        "critical_events": FirstEvent(
            "critical_events",
            "chalicelib.events_handlers.critical_events",
            _sqs_event(env["SESAME_CRITICAL_QUEUE"], [envelope("Bounce", bounced)]),
            status_is(bounced, "bounced"),
        ),
        "engagement_events": FirstEvent(
            "engagement_events",
            "chalicelib.events_handlers.engagement_events",
            _sqs_event(env["SESAME_ENGAGEMENT_QUEUE"], [envelope("Delivery", delivered)]),
            status_is(delivered, "delivered"),
        ),
        "forward_events": FirstEvent(
            "forward_events",
            "chalicelib.forwarding.forward_events",
            _sqs_event(env["SESAME_FORWARD_QUEUE"], [forwarded]),
            lambda ddb: _Ok.posts > posts_before,
        ),
        "check_for_campaign": FirstEvent(
            "check_for_campaign", "chalicelib.sending.check_for_campaign", schedule, lambda ddb: True
        ),
        "api: POST /webhooks/ses": FirstEvent("api_handler", "app.app", webhook, status_is(complained, "complained")),
        "api: GET /campaigns/{id}/stats": FirstEvent("api_handler", "app.app", stats, lambda ddb: True),
    }


def _stack(state: Path, forward_url: str) -> tuple[Any, dict[str, str], Any, str]:
    """moto_server with the dev stack provisioned: (process, app env, SNS signer, API key)."""
    import boto3

    from runtime.auth import generate_api_key
    from runtime.local import provision
    from runtime.local.processes import start_moto
    from runtime.sns.signing import LocalSnsSigner

    process, url = start_moto(state)
    creds = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=url, **creds)

    api_key, api_key_hash = generate_api_key()
    secrets = {
        "unsubscribe_secrets": ["bench-unsubscribe-secret-0123456789"],
        "pagination_secret": "bench-pagination-secret-0123456789",
        "forward_secret": "bench-forward-secret-0123456789",
        "api_key_hashes": [api_key_hash],
    }
    plan = provision.translate(provision.builtin_resources(ENV, REGION, "example.com"))
    stack = provision.apply_plan(plan, client, parameter_values={f"/sesame/{ENV}/app-secrets": json.dumps(secrets)})
    signer = LocalSnsSigner(str(state / "sns-certs"))
    env = provision.app_environment(stack, environment=ENV, region=REGION)
    env.update(
        {
            "SESAME_STAGE": f"{ENV}-{REGION}",
            "SESAME_DOMAIN": "example.com",
            "SESAME_DEFAULT_FROM": "news@example.com",
            "SESAME_UNSUBSCRIBE_BASE_URL": "https://example.com",
            "SESAME_FORWARD_URL": forward_url,
            "SESAME_LOG_LEVEL": "WARNING",
            "SNS_CERT_DIR": signer.cert_dir,
            "SNS_MAX_AGE_SECONDS": "3600",
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        }
    )
    if "SESAME_SECRETS_PARAMETER" not in env:
        raise RuntimeError("the provisioned stack has no app-secrets parameter")
    ddb = client("dynamodb")
    campaigns = env["SESAME_CAMPAIGNS_TABLE"]
    ddb.put_item(
        TableName=campaigns,
        Item={
            "campaign_id": {"S": "spring-sale"},
            "sk": {"S": "META"},
            "status": {"S": "launched"},
            "listing_pk": {"S": "CAMPAIGN"},
            "created_at": {"S": "2026-05-04T09:00:00.000Z"},
        },
    )
    ddb.put_item(
        TableName=campaigns,
        Item={"campaign_id": {"S": "spring-sale"}, "sk": {"S": "COUNTERS#TOTAL"}, "sent": {"N": "1000"}},
    )
    return process, env, signer, api_key


def _measure(project: Path, env: dict[str, str], label: str, first: FirstEvent, ddb: Any) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SESAME_", "SNS_", "AWS_"))}
    child_env = {
        **base,
        **env,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(project),
        "AWS_LAMBDA_FUNCTION_NAME": first.function,
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps({"function": first.function, "handler": first.handler, "event": first.event}),
        cwd=project,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{label} failed its first event:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["status"] is not None and result["status"] >= 300:
        raise RuntimeError(f"{label} answered {result['status']} to its first event:\n{out.stdout[-2000:]}")
    if not first.did_work(ddb):
        raise RuntimeError(f"{label}: the first event had no effect (measured a no-op path):\n{out.stderr[-2000:]}")
    return result


def run() -> dict[str, Any]:
    import boto3

    from bench.cost_model import aws_call_latency_ms, waited_ms

    rows: list[tuple[str, float, float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="sesame-bench-cold-") as tmp, _forward_endpoint() as forward_url:
        state = Path(tmp)
        project = _project(state)
        process, env, signer, api_key = _stack(state, forward_url)
        try:
            ddb = boto3.client(
                "dynamodb",
                region_name=REGION,
                endpoint_url=env["AWS_ENDPOINT_URL"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            )
            runs = [_events(env, signer, api_key, run) for run in range(RUNS)]
            # Once deployed, the per-minute schedule has run before any first event (as it does every minute): a
            # cold sender finds the account limits it recorded with its GetAccount (runtime.sender.pacing
            # recorded_limits). One unmeasured run of it stands for the previous minute's.
            previous = _events(env, signer, api_key, RUNS)["check_for_campaign"]
            _measure(project, env, "check_for_campaign (the previous minute)", previous, ddb)
            for label in runs[0]:
                samples = [_measure(project, env, label, events[label], ddb) for events in runs]
                modelled = [s["cpu_ms"] + waited_ms(s["calls"], aws_call_latency_ms) for s in samples]
                figure = statistics.median(modelled)
                imported = statistics.median(s["import_cpu_ms"] for s in samples)
                wall = statistics.median(s["wall_ms"] for s in samples)
                rows.append((label, imported, figure, wall, len(samples[0]["calls"])))
                print(
                    f"bench: first invocation {label}: {figure:.0f} ms (import {imported:.0f} ms, "
                    f"{len(samples[0]['calls'])} AWS calls; wall with moto {wall:.0f} ms)",
                    file=sys.stderr,
                )
        finally:
            process.stop()
    worst = max(rows, key=lambda r: r[2])
    lines = [
        "# First invocation per handler (bench/bench_coldstart.py)",
        "",
        f"Median of {RUNS} fresh interpreters: CPU of import + client creation + first event, plus modelled AWS "
        "latency per call (bench/cost_model.py LATENCY_MS). Wall time includes moto_server's answering time.",
        "",
        "| handler | import CPU ms | AWS calls | first invocation ms | wall ms with moto |",
        "|---|---:|---:|---:|---:|",
        *[f"| {label} | {imp:.0f} | {n} | {fig:.0f} | {wall:.0f} |" for label, imp, fig, wall, n in rows],
        "",
    ]
    out_dir = ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "first_invocation.md").write_text("\n".join(lines))
    print(f"bench: first invocation, worst handler: {worst[0]}", file=sys.stderr)
    return {"first_invocation_ms": round(worst[2], 1)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
