"""The local stack and its demo campaign: everything ``make local`` does, step by step.

1. start moto_server (127.0.0.1, free port) and point boto3 at it (``AWS_ENDPOINT_URL``, fake credentials);
2. provision what the Pulumi program declares for a ``dev`` stack (run under Pulumi's mocks in a subprocess,
   translated by ``runtime.local.provision``);
3. generate the local SNS signing certificate into ``SNS_CERT_DIR``, a local API key and the app secrets (written
   to the provisioned SSM parameter, read by the app's settings loader as in a deployed stage);
4. start ``chalice local`` with the stack's environment, wait for ``/health``; load the same app in-process for the
   SQS poller (Lambda's event source mappings);
5. demo campaign: suppress a few recipients through the API, ``POST /campaigns``, drain the send queue through the
   sender consumer, read the recorded SES MessageIds, simulate the SES events, deliver them as signed SNS
   envelopes to SQS and the HTTPS webhook, drain the event queues through the ingestion consumers;
6. query the tracking API and print the report (text + HTML + JSON in the state folder).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtime.local import provision
from runtime.local.delivery import SnsDelivery, Subscription, event_topics, subscriptions_from
from runtime.local.poller import SqsPoller, bind_handlers, schedule_handlers, scheduled_event
from runtime.local.processes import (
    CHALICE_DIR,
    REPO_ROOT,
    LocalStackError,
    ManagedProcess,
    free_port,
    start_chalice_local,
    start_moto,
)
from runtime.local.report import Report, render_html, render_text
from runtime.local.simulator import (
    SentMail,
    SesEventSimulator,
    SimulatorOptions,
    demo_recipients,
    scenario_for,
)
from runtime.stores import dynamo
from runtime.stores.schema import campaign_shards, parse_time


@dataclass
class DemoOptions:
    recipients: int = 1000
    seed: int = 7
    duplicate_rate: float = 0.05
    out_of_order: bool = True
    presuppressed_rate: float = 0.02
    webhook: bool = True  # also deliver critical events through the HTTPS webhook (chalice local)
    once: bool = False
    port: int | None = None
    moto_port: int | None = None
    environment: str = "dev"
    region: str = "us-east-1"
    domain: str = "example.com"
    state_dir: Path = field(default_factory=lambda: REPO_ROOT / ".local")
    program: Path | None = None
    quiet: bool = False


class Progress:
    """Step lines, plus running counters: rewritten in place on a terminal, a line every few seconds otherwise (a
    pipe or CI log still shows the long phases moving)."""

    PIPE_INTERVAL_S = 5.0

    def __init__(self, quiet: bool, stream: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self._clock = clock
        self.started = clock()
        self._inline = False
        self._last_piped: float | None = None

    def step(self, text: str) -> None:
        if self.quiet:
            return
        self._end_inline()
        self.stream.write(f"[{self._clock() - self.started:5.1f}s] {text}\n")
        self.stream.flush()

    def update(self, text: str) -> None:
        if self.quiet:
            return
        now = self._clock()
        if self.stream.isatty():
            self.stream.write(f"\r[{now - self.started:5.1f}s]   {text}\033[K")
            self._inline = True
            self.stream.flush()
        elif self._last_piped is None or now - self._last_piped >= self.PIPE_INTERVAL_S:
            self._last_piped = now
            self.stream.write(f"[{now - self.started:5.1f}s]   {text}\n")
            self.stream.flush()

    def _end_inline(self) -> None:
        if self._inline:
            self.stream.write("\n")
            self._inline = False


class ApiClient:
    """A small JSON HTTP client for the local API (urllib, no extra dependency)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - local URL
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
                raw = resp.read()
                return int(resp.status), json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return int(exc.code), json.loads(raw)
            except json.JSONDecodeError:
                return int(exc.code), raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        if status != 200:
            raise LocalStackError(f"GET {path} answered {status}: {body}")
        return body


@dataclass
class LocalStack:
    """The running pieces; ``close`` stops the child processes."""

    options: DemoOptions
    moto: ManagedProcess | None = None
    chalice: ManagedProcess | None = None
    moto_url: str = ""
    api_url: str = ""
    api_key: str = ""
    env: dict[str, str] = field(default_factory=dict)
    plan: provision.Plan | None = None
    provisioned: provision.Provisioned | None = None
    program_source: str = ""
    poller: SqsPoller | None = None
    delivery: SnsDelivery | None = None
    app_log: Any = None
    schedules: dict[str, Callable[[dict[str, Any], Any], Any]] = field(default_factory=dict)
    simulated: set[str] = field(default_factory=set)  # message ids whose SES events were published
    counter_stream: Any = None  # (StreamReader, DynamoCounterSink): the count_events Lambda's work, see count_stream

    def count_stream(self) -> int:
        """What the ``count_events`` function does in a deployment (the messages stream's event source mapping):
        campaign counters from every summary change not counted yet. Returns the records read."""
        from runtime.local.streams import StreamReader, drain_counters, streams_client
        from runtime.stores.counters import DynamoCounterSink

        if self.counter_stream is None:
            ddb = self.client("dynamodb")
            env = self.env
            messages = env.get("SESAME_MESSAGES_TABLE", f"sesame-{self.options.environment}-messages")
            campaigns = env.get("SESAME_CAMPAIGNS_TABLE", f"sesame-{self.options.environment}-campaigns")
            reader = StreamReader.for_table(ddb, streams_client(self.options.region), messages)
            self.counter_stream = (reader, DynamoCounterSink(ddb, campaigns))
        reader, sink = self.counter_stream
        return drain_counters(reader, sink)

    def close(self) -> None:
        for proc in (self.chalice, self.moto):
            if proc is not None:
                proc.stop()
        if self.app_log is not None:
            self.app_log.close()

    def client(self, service: str) -> Any:
        from chalicelib import wiring

        return wiring.client(service, self.options.region)


def _capture_resources(opts: DemoOptions, progress: Progress) -> tuple[list[provision.DeclaredResource], str]:
    """Run the Pulumi program under mocks (subprocess); fall back to the documented naming when it cannot run."""
    out = opts.state_dir / "pulumi-resources.json"
    argv = [
        sys.executable,
        "-m",
        "runtime.local.pulumi_capture",
        "--environment",
        opts.environment,
        "--region",
        opts.region,
        "--domain",
        opts.domain,
        "--out",
        str(out),
    ]
    if opts.program:
        argv += ["--program", str(opts.program)]
    entry = opts.program or (REPO_ROOT / "__main__.py")
    if entry.exists():
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        proc = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
        if proc.returncode == 0 and out.exists():
            data = json.loads(out.read_text())
            resources = [provision.DeclaredResource(r["type"], r["name"], r["inputs"]) for r in data["resources"]]
            return resources, f"Pulumi program {entry.name} (stack {opts.environment}-{opts.region}, mocks)"
        (opts.state_dir / "pulumi-capture.log").write_text(proc.stdout + proc.stderr)
        progress.step(
            f"WARNING: the Pulumi program failed under mocks (see {opts.state_dir / 'pulumi-capture.log'}); "
            "using the documented dev-stack naming instead"
        )
    else:
        progress.step(f"WARNING: no Pulumi program at {entry}; using the documented dev-stack naming instead")
    return provision.builtin_resources(opts.environment, opts.region, opts.domain), "docs/DESIGN.md naming (fallback)"


def _warm_up(moto_url: str, region: str) -> None:
    import boto3

    session: Any = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    calls = (
        ("ssm", "describe_parameters"),
        ("dynamodb", "list_tables"),
        ("sqs", "list_queues"),
        ("sns", "list_topics"),
        ("sesv2", "list_email_identities"),
        ("s3", "list_buckets"),
    )
    for service, operation in calls:
        with contextlib.suppress(Exception):  # only a warm-up: provisioning reports real errors
            getattr(session.client(service, endpoint_url=moto_url), operation)()


def _install_log_file(path: Path) -> Any:
    """Send the in-process app's JSON logs to a file (runtime.logs.configure keeps a JsonFormatter handler)."""
    from runtime.logs import JsonFormatter

    handle = open(path, "a", buffering=1)  # noqa: SIM115 - closed by LocalStack.close
    handler = logging.StreamHandler(handle)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    return handle


@contextlib.contextmanager
def _quiet_stdout(target: Any) -> Iterator[None]:
    """The in-process handlers print EMF metric documents to stdout (as on Lambda): keep them in the log file."""
    with contextlib.redirect_stdout(target):
        yield


def start(opts: DemoOptions, progress: Progress) -> LocalStack:
    opts.state_dir.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(opts)
    try:
        _start(stack, progress)
    except BaseException:
        stack.close()
        raise
    return stack


def _start(stack: LocalStack, progress: Progress) -> None:
    opts = stack.options
    progress.step("reading the dev stack from the Pulumi program (under Pulumi's mocks), starting moto on 127.0.0.1")
    with ThreadPoolExecutor(max_workers=1) as pool:  # the program runs in its own process meanwhile
        captured = pool.submit(_capture_resources, opts, progress)
        stack.moto, stack.moto_url = start_moto(opts.state_dir, opts.moto_port)
        _warm_up(stack.moto_url, opts.region)  # moto loads each service on first use: do it while Pulumi runs
        resources, stack.program_source = captured.result()
    progress.step(f"moto_server listening on {stack.moto_url}")
    aws_env = {
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": opts.region,
        "AWS_REGION": opts.region,
    }
    os.environ.update(aws_env)
    for name in ("AWS_PROFILE", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)

    stack.plan = provision.translate(resources)
    counts: dict[str, int] = {}
    for op in stack.plan.operations:
        counts[op.kind] = counts.get(op.kind, 0) + 1
    progress.step(
        f"provisioning {len(stack.plan.operations)} resources from {stack.program_source}: "
        + ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n > 1 else ''}" for k, n in sorted(counts.items()))
    )
    for reason, n in sorted(stack.plan.skipped_summary().items()):
        progress.step(f"  skipped {n:>2}: {reason}")

    sys.path.insert(0, str(CHALICE_DIR)) if str(CHALICE_DIR) not in sys.path else None
    from chalicelib import wiring

    stack.app_log = _install_log_file(opts.state_dir / "app.log")
    os.environ["SESAME_LOG_LEVEL"] = os.environ.get("SESAME_LOG_LEVEL", "WARNING")
    wiring.reset()

    from runtime.auth import generate_api_key
    from runtime.sns.signing import LocalSnsSigner

    api_key, api_key_hash = generate_api_key()
    stack.api_key = api_key
    key_file = opts.state_dir / "api-key"
    key_file.write_text(api_key + "\n")
    key_file.chmod(0o600)
    app_secrets: dict[str, Any] = {
        "unsubscribe_secrets": [secrets.token_urlsafe(32)],
        "pagination_secret": secrets.token_urlsafe(32),
        "forward_secret": secrets.token_urlsafe(32),
        "redrive_secret": secrets.token_urlsafe(32),
        "api_key_hashes": [api_key_hash],
    }
    parameter_name = f"/sesame/{opts.environment}/app-secrets"
    stack.provisioned = provision.apply_plan(
        stack.plan, stack.client, parameter_values={parameter_name: json.dumps(app_secrets)}
    )
    signer = LocalSnsSigner.load_or_create(
        str(opts.state_dir / "sns-signer-key.pem"), str(opts.state_dir / "sns-certs"), region=opts.region
    )
    progress.step(f"local SNS signing certificate {signer.cert_file_name} in {signer.cert_dir}")

    port = opts.port or free_port()
    api_url = f"http://127.0.0.1:{port}"
    env = provision.app_environment(stack.provisioned, environment=opts.environment, region=opts.region)
    env.update(
        {
            "SESAME_STAGE": "dev-local",
            "SESAME_DOMAIN": opts.domain,
            "SESAME_DEFAULT_FROM": f"Sesame Demo <demo@{opts.domain}>",
            "SNS_CERT_DIR": signer.cert_dir,
            "SNS_MAX_AGE_SECONDS": "3600",
            # the app's base URL (the sender appends /unsubscribe?token=...); plain http is accepted for loopback only
            "SESAME_UNSUBSCRIBE_BASE_URL": f"http://127.0.0.1:{port}",
            "SESAME_MAX_SEND_RATE": os.environ.get("SESAME_MAX_SEND_RATE", "1000"),  # moto lacks GetAccount
            "SESAME_CORS_ORIGINS": "*",
        }
    )
    if "SESAME_SECRETS_PARAMETER" not in env:  # no SSM parameter declared: pass the secrets directly
        env["SESAME_API_KEY_HASHES"] = api_key_hash
        env["SESAME_UNSUBSCRIBE_SECRETS"] = app_secrets["unsubscribe_secrets"][0]
        env["SESAME_PAGINATION_SECRET"] = app_secrets["pagination_secret"]
        env["SESAME_REDRIVE_SECRET"] = app_secrets["redrive_secret"]
    stack.env = {**aws_env, **env}
    (opts.state_dir / "stack-env.json").write_text(json.dumps(stack.env, indent=2, sort_keys=True))
    os.environ.update(stack.env)
    wiring.reset()

    progress.step(f"starting chalice local on {api_url} (stage dev-local)")
    chalice_env = {**os.environ, "SESAME_LOG_LEVEL": "INFO"}
    stack.chalice, stack.api_url = start_chalice_local(opts.state_dir, chalice_env, port=port)

    import app as chalice_app_module  # chalice_app/app.py, in-process for the SQS and schedule handlers

    app = chalice_app_module.app
    stack.poller = SqsPoller(
        stack.client("sqs"),
        bind_handlers(app, stack.provisioned.queues, stack.provisioned.queue_arns),
        region=opts.region,
        output=stack.app_log,
    )
    stack.schedules = schedule_handlers(app)
    bound = ", ".join(f"{b.queue_name.rsplit('-', 1)[-1]} -> {b.handler_name}" for b in stack.poller.bindings)
    progress.step(f"SQS poller bound: {bound or 'no SQS handlers registered yet'}")

    topics = event_topics(stack.provisioned.topics)
    if topics is None:
        raise LocalStackError(
            "the stack declares no SES event topics (sesame-<env>-ses-critical-events and sesame-<env>-ses-events)"
        )
    extra: list[Subscription] = []
    declared = subscriptions_from(stack.provisioned)
    arns = dict.fromkeys((topics.critical, topics.engagement))
    has_https = any(s.protocol in {"http", "https"} for arn in arns for s in declared.get(arn, []))
    if opts.webhook and not has_https:
        # the critical topic carries only the critical types: the local webhook gets those, as before
        extra.append(
            Subscription(
                topic_arn=topics.critical,
                protocol="http",
                endpoint=f"{stack.api_url}/webhooks/ses",
                filter_policy=None,
                filter_scope="MessageBody",
                label="webhook",
            )
        )
    elif has_https:  # the program's own HTTPS subscriptions point at the deployed API: deliver to the local one
        for arn in arns:
            declared[arn] = [
                Subscription(
                    s.topic_arn, "http", f"{stack.api_url}/webhooks/ses", s.filter_policy, s.filter_scope, s.raw
                )
                if s.protocol in {"http", "https"}
                else s
                for s in declared.get(arn, [])
            ]
    subs = [*(s for arn in arns for s in declared.get(arn, [])), *extra]
    stack.delivery = SnsDelivery(signer, topics, subs, stack.client("sqs"))
    progress.step(
        "SES events will be delivered to: " + ", ".join(f"{s.protocol}:{s.label or s.endpoint}" for s in subs)
    )


# ------------------------------------------------------------------------------------------------------ demo


def _template_html() -> str:
    return (
        "<html><body><h1>Hello {{first_name}}</h1><p>Our spring collection is here.</p>"
        '<p><a href="https://example.com/products?utm_campaign=demo">See the products</a></p></body></html>'
    )


def campaign_request(campaign_id: str, recipients: list[str], template_uri: str) -> dict[str, Any]:
    """The seed's "Campaign Candidate" document: two segments (lists) over the simulator addresses."""
    half = len(recipients) // 2
    segments = []
    for list_name, chunk in (("newsletter", recipients[:half]), ("customers", recipients[half:])):
        if not chunk:  # a segment needs at least one recipient (--recipients 1)
            continue
        segments.append(
            {
                "list_name": list_name,
                "recipients": [
                    {"to_address": r, "first_name": r.split("@", 1)[0].split("+", 1)[-1].title()} for r in chunk
                ],
            }
        )
    return {
        "campaign_id": campaign_id,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "templateS3Uri": template_uri,
        "subject": "Spring is here, {{first_name}}",
        "segments": segments,
    }


def _sent_mails(stack: LocalStack, campaign_id: str) -> list[SentMail]:
    """The messages the sender recorded (SES MessageIds), from the messages table's campaign index."""
    ddb = stack.client("dynamodb")
    table = stack.env.get("SESAME_MESSAGES_TABLE", f"sesame-{stack.options.environment}-messages")
    keys: list[dict[str, Any]] = []
    for shard in campaign_shards(campaign_id):  # the index is write-sharded and holds keys only
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": "campaign-index",
            "KeyConditionExpression": "campaign_shard = :c",
            "ExpressionAttributeValues": {":c": {"S": shard}},
        }
        while True:
            page = ddb.query(**kwargs)
            keys.extend({"message_id": item["message_id"]} for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items = dynamo.batch_get(ddb, {table: keys})[table] if keys else []
    mails = [m for m in (_mail_from_item(stack, item) for item in items) if m is not None]
    mails.sort(key=lambda m: m.message_id)
    return mails


def _mail_from_item(stack: LocalStack, item: dict[str, Any]) -> SentMail | None:
    """A messages-table item the sender wrote, as what SES knows about the message (None: never reached SES)."""
    message_id = item["message_id"]["S"]
    if message_id.startswith("local-") or "sent_at" not in item:
        return None  # suppressed or failed before reaching SES
    sets = json.loads(stack.env.get("SESAME_CONFIGURATION_SETS", "{}") or "{}")
    return SentMail(
        message_id=message_id,
        recipient=item.get("recipient", {}).get("S", ""),
        sent_at=parse_time(item["sent_at"]["S"]),
        source=item.get("from_address", {}).get("S", "demo@example.com"),
        subject=item.get("subject", {}).get("S", "Hello"),
        configuration_set=item.get("config_set", {}).get("S", sets.get("marketing", "sesame-dev-marketing")),
        campaign_id=item.get("campaign_id", {}).get("S"),
        list_name=item.get("list_name", {}).get("S"),
        region=item.get("region", {}).get("S", stack.options.region),
    )


def _unsimulated_mails(stack: LocalStack) -> list[SentMail]:
    """Messages sent since the last look (a scan: fine for a local table), not yet given SES events."""
    ddb = stack.client("dynamodb")
    table = stack.env.get("SESAME_MESSAGES_TABLE", f"sesame-{stack.options.environment}-messages")
    kwargs: dict[str, Any] = {"TableName": table}
    found: list[SentMail] = []
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            if item["message_id"]["S"] in stack.simulated:
                continue
            mail = _mail_from_item(stack, item)
            if mail is not None:
                found.append(mail)
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    found.sort(key=lambda m: m.message_id)
    return found


def _direct_send(stack: LocalStack, campaign_id: str, recipients: list[str]) -> list[SentMail]:
    """SESv2 SendEmail per recipient with the attribution tags (fallback when no sender consumer is present)."""
    ses = stack.client("sesv2")
    sets = json.loads(stack.env.get("SESAME_CONFIGURATION_SETS", "{}") or "{}")
    config_set = sets.get("marketing", f"sesame-{stack.options.environment}-marketing")
    source = f"demo@{stack.options.domain}"
    mails = []
    half = len(recipients) // 2
    for i, recipient in enumerate(recipients):
        list_name = "newsletter" if i < half else "customers"
        answer = ses.send_email(
            FromEmailAddress=source,
            Destination={"ToAddresses": [recipient]},
            Content={"Simple": {"Subject": {"Data": "Spring is here"}, "Body": {"Text": {"Data": "Hello"}}}},
            EmailTags=[{"Name": "campaign_id", "Value": campaign_id}, {"Name": "list_name", "Value": list_name}],
            ConfigurationSetName=config_set,
        )
        mails.append(
            SentMail(
                message_id=answer["MessageId"],
                recipient=recipient,
                sent_at=datetime.now(UTC),
                source=source,
                subject="Spring is here",
                configuration_set=config_set,
                campaign_id=campaign_id,
                list_name=list_name,
                region=stack.options.region,
                operation="SendEmail",
            )
        )
    return mails


@contextlib.contextmanager
def _background_consumers(poller: SqsPoller, logicals: tuple[str, ...]) -> Iterator[None]:
    """Poll ``logicals`` on a background thread while the body runs (one thread: handlers never run concurrently
    with each other, as with a reserved concurrency of 1)."""
    stop = threading.Event()
    bindings = [b for logical in logicals for b in poller.binding_for(logical)]

    def loop() -> None:
        while not stop.is_set():
            if not sum(poller.poll_once(b) for b in bindings):
                stop.wait(0.05)

    thread = threading.Thread(target=loop, name="sqs-poller", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fire_schedules(stack: LocalStack) -> None:
    for name, handler in stack.schedules.items():
        handler(scheduled_event(name, stack.options.region), None)


def _guardrail_line(api: ApiClient) -> str:
    """What the guardrails (run by the per-minute schedule fired above) saw and did: rates, thresholds, pauses."""
    try:
        doc = api.get("/reputation")
    except Exception as exc:  # the report goes on; the line says why it has no guardrail figures
        return f"guardrails: GET /reputation failed ({exc})"
    pause = doc.get("thresholds", {}).get("pause", {})
    region = (doc.get("regions") or [{}])[0]
    paused = ", ".join(f"{p['kind']} {p['name']} ({p.get('reason')})" for p in doc.get("paused", [])) or "nothing"
    return (
        f"guardrails: {region.get('region')} bounce {float(region.get('bounce_rate') or 0):.2%}, complaint "
        f"{float(region.get('complaint_rate') or 0):.3%} ({region.get('rates_source')}; pause at "
        f"{float(pause.get('bounce_rate', 0)):.0%} / {float(pause.get('complaint_rate', 0)):.2%}); paused: {paused}"
    )


def _resume_guardrail_pauses(api: ApiClient) -> list[str]:
    """Resume, as an operator would (``PATCH /reputation/configuration-sets/{name}``), the configuration sets the
    guardrail step paused, so the stack left running keeps sending; one line per set saying what was done."""
    try:
        paused = api.get("/reputation").get("paused", [])
    except Exception as exc:
        return [f"guardrails: could not read what is paused ({exc}); resume with sesame reputation resume"]
    lines = []
    for p in paused:
        if p.get("kind") != "configuration_set":
            continue
        name, region = str(p.get("name", "")), str(p.get("region", ""))
        path = f"/reputation/configuration-sets/{urllib.parse.quote(name, safe='')}"
        if region:
            path += f"?region={urllib.parse.quote(region, safe='')}"
        body = {"status": "running", "reason": "local demo: resumed by the operator after the guardrail step"}
        status, answer = api.call("PATCH", path, body)
        if status == 200:
            lines.append(f"guardrails: resumed configuration set {name} as an operator would (PATCH {path})")
        else:
            lines.append(f"guardrails: resuming {name} failed ({status} {answer}); it stays paused")
    return lines


def _count_pages(api: ApiClient, path: str, key: Callable[[dict[str, Any]], str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    token = None
    for _ in range(1000):
        sep = "&" if "?" in path else "?"
        url = path + (f"{sep}next_token={urllib.parse.quote(token)}" if token else "")
        body = api.get(url)
        for item in body.get("items", []):
            k = key(item)
            if k is not None:
                counts[k] = counts.get(k, 0) + 1
        token = body.get("next_token")
        if not token:
            break
    return counts


def run_demo(stack: LocalStack, progress: Progress) -> Report:
    opts = stack.options
    assert stack.poller is not None and stack.delivery is not None
    api = ApiClient(stack.api_url, stack.api_key)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    campaign_id = f"demo-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    recipients = demo_recipients(opts.recipients, seed=opts.seed)

    # a few recipients unsubscribed earlier: the sender must skip them (sesame's own suppression list)
    success = [r for r in recipients if scenario_for(r).value == "success"]
    presuppressed = success[: int(len(recipients) * opts.presuppressed_rate)]
    for email in presuppressed:
        status, body = api.call("PUT", f"/suppressions/{urllib.parse.quote(email)}", {"reason": "MANUAL"})
        if status >= 300:
            raise LocalStackError(f"PUT /suppressions answered {status}: {body}")
    progress.step(f"suppressed {len(presuppressed)} recipients up front through PUT /suppressions/{{email}}")

    bucket = stack.env.get("SESAME_CAMPAIGN_BUCKET", "")
    template_uri = ""
    if bucket:
        stack.client("s3").put_object(Bucket=bucket, Key="templates/demo.html", Body=_template_html().encode())
        template_uri = f"s3://{bucket}/templates/demo.html"
    request = campaign_request(campaign_id, recipients, template_uri)
    status, body = api.call("POST", "/campaigns", request)
    direct = status in (404, 405) and not stack.poller.binding_for("send")
    if direct:  # the sender area is not in this build: send straight through SES so the event path still runs
        progress.step(f"WARNING: POST /campaigns answered {status} (no sender in this build); sending directly via SES")
    elif status >= 300:
        raise LocalStackError(f"POST /campaigns answered {status}: {body}")
    else:
        progress.step(f"POST /campaigns -> {status}: campaign {campaign_id}, {len(recipients)} recipients")
    timings["launch"] = time.monotonic() - t0

    t1 = time.monotonic()
    if direct:
        mails = _direct_send(stack, campaign_id, [r for r in recipients if r not in set(presuppressed)])
        presuppressed = []
    else:
        with _quiet_stdout(stack.app_log):
            _fire_schedules(stack)  # a campaign dated now may be launched by the per-minute schedule
        sent = stack.poller.drain(
            ("send",), timeout_s=300, progress=lambda n: progress.update(f"send queue: {n} handled")
        )
        mails = _sent_mails(stack, campaign_id)
        progress.step(
            f"sender consumer handled {sent} send-queue messages (send jobs); SES (moto) accepted {len(mails)} emails"
        )
        if not mails:
            raise LocalStackError(
                f"nothing was sent (last sender error: {stack.poller.stats.last_error or 'none'}; "
                f"see {opts.state_dir / 'app.log'})"
            )
    transactional = [] if direct else _transactional_demo(api, presuppressed, progress)
    timings["send"] = time.monotonic() - t1

    t2 = time.monotonic()
    sim = SesEventSimulator(
        SimulatorOptions(seed=opts.seed, duplicate_rate=opts.duplicate_rate, out_of_order=opts.out_of_order)
    )
    events = sim.schedule(mails)
    stack.simulated.update(m.message_id for m in mails)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.event_type] = kinds.get(e.event_type, 0) + 1
    dups = sum(1 for e in events if e.duplicate)
    progress.step(
        f"simulated {len(events)} SES events ({dups} duplicates, "
        f"{'shuffled' if opts.out_of_order else 'in order'}): "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )
    # Lambda consumes while SNS publishes: the poller drains the event queues while events are being delivered
    before = sum(stack.poller.stats.records.values())
    with _background_consumers(stack.poller, ("critical", "engagement")):
        stats = stack.delivery.deliver(events, progress=lambda n: progress.update(f"published {n} events"))
    progress.step(
        "delivered as signed SNS envelopes: "
        + ", ".join(f"SQS {q} {n}" for q, n in sorted(stats.sqs_messages.items()))
        + f", webhook POSTs {stats.webhook_posts} (status {stats.webhook_status})"
    )
    stack.poller.drain(
        ("critical", "engagement"), timeout_s=300, progress=lambda n: progress.update(f"event queues: {n} handled")
    )
    # the count_events function runs beside ingestion in a deployment: the counters are current before the
    # per-minute schedule's guardrails read them
    stream_records = stack.count_stream()
    with _quiet_stdout(stack.app_log):
        _fire_schedules(stack)
    stack.poller.drain(("critical", "engagement", "forward"), timeout_s=60)
    stream_records += stack.count_stream()
    progress.step(f"counter consumer read {stream_records} messages-stream records")
    handled = sum(stack.poller.stats.records.values()) - before
    progress.step(f"ingestion consumers handled {handled} SQS records")
    timings["events"] = time.monotonic() - t2
    progress.step(_guardrail_line(api))
    for line in _resume_guardrail_pauses(api):
        progress.step(line)

    t3 = time.monotonic()
    doc = api.get(f"/campaigns/{urllib.parse.quote(campaign_id)}/stats")
    suppression_list: dict[str, int] = {}
    for reason in ("BOUNCE", "COMPLAINT", "UNSUBSCRIBE", "MANUAL", "SOFT_BOUNCE"):
        counted = _count_pages(api, f"/suppressions?reason={reason}&limit=100", lambda i: "n")
        if counted.get("n"):
            suppression_list[reason] = counted["n"]
    for message in transactional:  # their status now, through GET /messages/{id}
        if message.get("message_id"):
            status, found = api.call("GET", f"/messages/{urllib.parse.quote(message['message_id'])}")
            message["status_now"] = (found.get("message") or {}).get("status") if status == 200 else f"HTTP {status}"
    timings["report"] = time.monotonic() - t3
    timings["total"] = time.monotonic() - progress.started
    timings["cpu: demo process (handlers, signing)"] = time.process_time()
    if stack.moto is not None:
        timings["cpu: moto"] = stack.moto.cpu_seconds()
    if stack.chalice is not None:
        timings["cpu: chalice local"] = stack.chalice.cpu_seconds()
    report = Report(
        campaign_id=campaign_id,
        recipients=len(recipients),
        counters={k: int(v) for k, v in doc.get("counters", {}).items()},
        rates={k: float(v) for k, v in doc.get("rates", {}).items()},
        suppression_list=suppression_list,
        ses_suppressed=int(doc.get("counters", {}).get("ses_suppressed", 0)),
        delivery=stats.as_dict(),
        timings={k: round(v, 2) for k, v in timings.items()},
        api_url=stack.api_url,
        transactional=transactional,
    )
    _write_outputs(stack, report, mails, presuppressed, sim)
    return report


def _transactional_demo(api: ApiClient, presuppressed: list[str], progress: Progress) -> list[dict[str, Any]]:
    """A few receipts through ``POST /messages``; one goes to an address suppressed above, so the answer is a 207
    with a result per recipient."""
    to = [f"success+receipt{i}@simulator.amazonses.com" for i in range(3)] + presuppressed[:1]
    body = {
        "to": to,
        "subject": "Your receipt",
        "text": "Thank you for your order.",
        "html": "<p>Thank you for your order.</p>",
        "tags": {"kind": "receipt"},
    }
    status, answer = api.call("POST", "/messages", body)
    if status in (404, 405):
        progress.step(f"POST /messages answered {status}: no send API in this build")
        return []
    if status not in (200, 207):
        raise LocalStackError(f"POST /messages answered {status}: {answer}")
    results = list(answer.get("results", []))
    counts = answer.get("counts", {})
    progress.step(
        f"POST /messages -> {status}: "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        + " (one result per recipient)"
    )
    return [{"http_status": status, **r} for r in results]


def _write_outputs(
    stack: LocalStack, report: Report, mails: list[SentMail], presuppressed: list[str], sim: SesEventSimulator
) -> None:
    state = stack.options.state_dir
    (state / "report.html").write_text(render_html(report))
    (state / "report.txt").write_text(render_text(report) + "\n")
    truth = sim.ground_truth(mails).as_dict()
    (state / "report.json").write_text(
        json.dumps(
            {
                "report": report.as_dict(),
                "ground_truth": {**truth, "presuppressed": len(presuppressed)},
                "sent": [{"message_id": m.message_id, "recipient": m.recipient} for m in mails],
                "presuppressed": presuppressed,
                "simulator": {
                    "seed": sim.options.seed,
                    "duplicate_rate": sim.options.duplicate_rate,
                    "out_of_order": sim.options.out_of_order,
                },
                "poller": {
                    "invocations": stack.poller.stats.invocations if stack.poller else {},
                    "failures": stack.poller.stats.failures if stack.poller else {},
                    "last_error": stack.poller.stats.last_error if stack.poller else "",
                },
            },
            indent=2,
        )
    )


def serve_forever(stack: LocalStack, progress: Progress) -> None:
    """Keep the API up and the queues drained (new campaigns get sent) until Ctrl-C."""
    assert stack.poller is not None
    last_schedule = time.monotonic()
    while True:
        if stack.chalice is not None and not stack.chalice.alive():
            raise LocalStackError(f"chalice local stopped; see {stack.chalice.log_path}")
        busy = 0
        sent = 0
        for binding in stack.poller.bindings:
            handled = stack.poller.poll_once(binding)
            busy += handled
            if binding.queue_name.endswith("-send"):
                sent += handled
        busy += stack.count_stream()
        if sent and stack.delivery is not None:  # a campaign posted meanwhile: SES would now publish its events
            opts = stack.options
            new = _unsimulated_mails(stack)
            if new:
                sim = SesEventSimulator(
                    SimulatorOptions(seed=opts.seed, duplicate_rate=opts.duplicate_rate, out_of_order=opts.out_of_order)
                )
                events = sim.schedule(new)
                stack.simulated.update(m.message_id for m in new)
                stack.delivery.deliver(events)
                progress.step(f"SES accepted {len(new)} new messages; published their {len(events)} simulated events")
        if time.monotonic() - last_schedule >= 60:
            with _quiet_stdout(stack.app_log):
                _fire_schedules(stack)
            last_schedule = time.monotonic()
        if not busy:
            time.sleep(0.5)
