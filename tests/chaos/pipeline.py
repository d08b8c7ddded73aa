"""One chaos scenario: the whole pipeline in one process on moto, driven like Lambda + SQS, with faults.

send queue -> ``sender`` -> SES (``wire.SesWire``) -> SES events, signed SNS envelopes -> critical / engagement queues
-> ``critical_events`` / ``engagement_events`` -> DynamoDB -> forward queue -> ``forward_events`` -> the user's API (an
HTTP receiver on 127.0.0.1). The Chalice app's own handlers run in-process with their real clients; ``wire.Wire``
injects the faults. Time is compressed on a virtual clock the application reads (the sender's leases, grace period and
waits, SES's timestamps); SQS visibility timeouts after a failed invocation are kept on that clock by the driver.

Phases: the fault phase runs until the queues are quiet (messages may have gone to the DLQs); then faults stop, every
DLQ is redriven with ``sesame dlq redrive``'s code (``runtime.dlq.redrive``) and the queues are drained again, until
nothing is left anywhere. The figures compare what SES accepted, what ingestion applied and counted, and what the
receiver got, with the ground truth.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from moto import mock_aws

from runtime import dlq
from runtime.events.classify import classify
from runtime.events.normalize import event_from_message
from runtime.local.poller import LambdaContext, sqs_event
from runtime.local.simulator import SimulatedEvent, demo_recipients
from runtime.sender.jobs import bulk_job
from runtime.sender.ledger import send_id
from runtime.stores.dynamo import from_item
from runtime.stores.history import entry_id, history_of, short_id
from runtime.stores.tables import create_tables
from tests.chaos.wire import FaultPolicy, HandlerKilled, SesWire, Wire
from tests.support.counters import count_stream
from tests.support.sns import TOPIC_ARN, make_signer

CHALICE_DIR = Path(__file__).resolve().parents[2] / "chalice_app"
REGION = "us-east-1"
BACKUP = "eu-west-1"
ENV = "chaos"
SECRET = "chaos-forward-secret-0123456789"
REDRIVE_SECRET = "chaos-redrive-secret-0123456789"  # signs a redriven SES event's first arrival (runtime.dlq)
CRITICAL_TYPES = frozenset({"Bounce", "Complaint", "Reject", "Subscription", "Rendering Failure"})
HANDLERS = {"send": ("sender", 10), "critical": ("critical_events", 10), "engagement": ("engagement_events", 50)}
HANDLERS["forward"] = ("forward_events", 50)
MAX_RECEIVE_COUNT = 3  # the stacks' default (sesame:maxReceiveCount)
VISIBILITY = 360.0  # six times a 60 s function timeout (infra/messaging.py), on the virtual clock
STEP = 30.0  # virtual seconds per driver round
DUPLICATE_RATE = 0.05  # SNS delivers some events twice
FAULT_PHASE_SECONDS = 1200.0  # virtual


@dataclass(frozen=True)
class Scenario:
    kind: str  # lost | before | killed
    rate: float
    seed: int
    bulk_jobs: int = 1  # of 50 recipients
    singles: int = 10  # bare SendEmail lines (one-recipient jobs the sender regroups)

    @property
    def name(self) -> str:
        return f"{self.kind}-{round(self.rate * 100)}pct"


class VirtualClock:
    """Real time plus an offset the driver moves forward; the application's waits advance it instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


@dataclass
class Receiver:
    """The user's API: records every event id of every POST it read; faults of the scenario's kind."""

    kind: str
    rate: float
    seed: int
    url: str = ""
    active: bool = True
    received: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    @contextmanager
    def serving(self) -> Iterator[Receiver]:
        rng = random.Random(self.seed)
        lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    roll = rng.random() if state.active and state.kind in ("lost", "before") else 1.0
                    state.posts += 1
                    if roll < state.rate and state.kind == "before":
                        state.faults["503"] += 1
                        self.send_response(503)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    state.received.update(str(e.get("event_id")) for e in json.loads(body)["events"])
                    if roll < state.rate:  # processed, then the answer is lost
                        state.faults["lost"] += 1
                        self.close_connection = True
                        return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sesame"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@dataclass
class Hidden:
    until: float
    queue_url: str
    receipt: str


class ChaosRun:
    def __init__(self, scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.scenario = scenario
        self.mp = monkeypatch
        self.tmp = tmp_path
        self.clock = VirtualClock()
        self.policy = FaultPolicy(scenario.kind, scenario.rate, scenario.seed)
        self.ses = SesWire(self.clock, scenario.seed)
        self.wire = Wire(self.policy, self.ses)
        self.receiver = Receiver(scenario.kind, scenario.rate, scenario.seed + 1)
        self.publish_rng = random.Random(scenario.seed + 2)
        self.hidden: list[Hidden] = []
        self.queues: dict[str, str] = {}
        self.dlqs: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        self.expected: dict[str, tuple[str, str]] = {}  # send id -> (job id, unit id)
        self.published: dict[str, SimulatedEvent] = {}  # event id -> event (distinct events SES published)
        self.envelopes: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.wrong: list[Any] = []  # (job id, unit id, outcome, SES acceptances, job record) of wrong sender records
        self.handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}

    # -- set-up ------------------------------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[ChaosRun]:
        with mock_aws(), self.receiver.serving():
            self._setup()
            try:
                yield self
            finally:
                from chalicelib import wiring

                wiring.reset()

    def _setup(self) -> None:
        mp = self.mp
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SESAME_SECRETS_PARAMETER", "SESAME_UNSUBSCRIBE_SECRETS"):
            mp.delenv(name, raising=False)
        base = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        for key, value in base.items():
            mp.setenv(key, value)
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        create_tables(self.ddb, ENV)
        for logical in HANDLERS:
            dlq_url = self.sqs.create_queue(QueueName=f"sesame-{ENV}-{logical}-dlq")["QueueUrl"]
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
            redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            url = self.sqs.create_queue(
                QueueName=f"sesame-{ENV}-{logical}",
                Attributes={"VisibilityTimeout": "43200", "RedrivePolicy": json.dumps(redrive)},
            )["QueueUrl"]
            self.queues[logical], self.dlqs[logical] = url, dlq_url
            self.arns[logical] = f"arn:aws:sqs:{REGION}:123456789012:sesame-{ENV}-{logical}"
        self.signer = make_signer(self.tmp / "certs")
        env = {
            "SESAME_ENVIRONMENT": ENV,
            "SESAME_STAGE": f"{ENV}-{REGION}",
            "SESAME_SEND_QUEUE_URL": self.queues["send"],
            "SESAME_CRITICAL_QUEUE_URL": self.queues["critical"],
            "SESAME_ENGAGEMENT_QUEUE_URL": self.queues["engagement"],
            "SESAME_FORWARD_QUEUE_URL": self.queues["forward"],
            "SESAME_FORWARD_DLQ_URL": self.dlqs["forward"],
            "SESAME_FORWARD_URL": self.receiver.url,
            "SESAME_FORWARD_SECRET": SECRET,
            "SESAME_REDRIVE_SECRET": REDRIVE_SECRET,
            "SNS_ALLOWED_TOPIC_ARNS": TOPIC_ARN,
            "SNS_CERT_DIR": self.signer.cert_dir,
            "SNS_MAX_AGE_SECONDS": "0",
            "SESAME_DEFAULT_FROM": "news@example.com",
            "SESAME_CONFIGURATION_SETS": json.dumps({"marketing": f"sesame-{ENV}-marketing"}),
            "SESAME_BACKUP_REGION": BACKUP,
            "SESAME_BACKUP_CONFIGURATION_SETS": json.dumps({"marketing": f"sesame-{ENV}-marketing-backup"}),
            "SESAME_MAX_SEND_RATE": "5000",
            "SESAME_LOG_LEVEL": "CRITICAL",
        }
        for key, value in env.items():
            mp.setenv(key, value)
        if str(CHALICE_DIR) not in sys.path:
            sys.path.insert(0, str(CHALICE_DIR))
        import app as app_module
        from chalicelib import events_handlers, sending, wiring

        wiring.reset()
        self.handlers = {logical: app_module.app.handler_map[name] for logical, (name, _) in HANDLERS.items()}
        self._virtual_time(sending, events_handlers)
        self.wire.install(mp)
        # botocore's standard retry mode sleeps up to seconds between attempts: compressed to nothing
        mp.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
        self._fast_moto()

    def _fast_moto(self) -> None:
        """The local stack's moto speed-ups (``runtime.local.moto_runner``: SQS clock reads, item-level transaction
        snapshots, DynamoDB batch answers), undone when the scenario ends: moto 5.2.5 otherwise spends seconds per
        call converting timestamps and deep-copying tables."""
        import moto.core.responses as core_responses
        import moto.dynamodb.models as ddb_models
        import moto.sqs.models as sqs_models
        from moto.dynamodb.parsing import ast_nodes, expressions, validators

        from runtime.local import moto_runner

        saved = [
            (ddb_models, "copy"),
            (ddb_models.DynamoDBBackend, "transact_write_items"),
            (core_responses.ActionResult, "execute_result"),
            (sqs_models, "unix_time"),
            (sqs_models, "unix_time_millis"),
            (sqs_models.SQSBackend, "is_message_valid_based_on_retention_period"),
            (sqs_models.Message, "visible"),
            (sqs_models.Message, "delayed"),
            (sqs_models.Queue, "messages"),
            (sqs_models.Queue, "approximate_number_of_messages_not_visible"),
            (sqs_models.Queue, "approximate_number_of_messages_delayed"),
            (validators.ActionCountValidator, "traverse"),
            (expressions.UpdateExpressionParser, "make"),
            (ast_nodes.DepthFirstTraverser, "nodes_to_be_processed"),
        ]
        for owner, name in saved:  # remembered by monkeypatch, restored at teardown
            current = (
                owner.__dict__.get(name, getattr(owner, name)) if isinstance(owner, type) else getattr(owner, name)
            )
            self.mp.setattr(owner, name, current)
        moto_runner.patch_moto()
        moto_runner.patch_sqs()
        moto_runner.patch_dynamodb_serializer()
        moto_runner.patch_update_expression_validation()

    def _virtual_time(self, sending: Any, events_handlers: Any) -> None:
        """The application's clocks and waits run on the virtual clock (its own delays cost no real time)."""
        clock = self.clock
        build_consumer, build_engine = sending.consumer, events_handlers._engine

        def consumer() -> Any:
            c = build_consumer()
            c._clock = c._ledger._clock = c._pacer.clock = c._pacer.limits._clock = clock
            c._sleep = c._ledger._sleep = c._pacer.sleep = c._pacer.store._sleep = clock.advance
            return c

        def engine() -> Any:
            e = build_engine()
            e._sleep = e.store._sleep = clock.advance
            return e

        consumer.cache_clear = build_consumer.cache_clear  # type: ignore[attr-defined]
        engine.cache_clear = build_engine.cache_clear  # type: ignore[attr-defined]
        self.mp.setattr(sending, "consumer", consumer)
        self.mp.setattr(events_handlers, "_engine", engine)
        self.mp.setattr(sending, "invocation_deadline", lambda event: None)

    # -- the work ----------------------------------------------------------------------------------------------
    def submit(self) -> None:
        """A campaign of bulk jobs (50 recipients each) and single SendEmail lines, on the mailbox simulator."""
        s = self.scenario
        addresses = demo_recipients(s.bulk_jobs * 50 + s.singles, seed=s.seed)
        for n in range(s.bulk_jobs):
            chunk = addresses[n * 50 : (n + 1) * 50]
            request = {
                "FromEmailAddress": "news@example.com",
                "ConfigurationSetName": "marketing",
                "DefaultContent": {"Template": {"TemplateName": "chaos", "TemplateData": "{}"}},
                "BulkEmailEntries": [
                    {
                        "Destination": {"ToAddresses": [a]},
                        "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": '{"n": 1}'}},
                    }
                    for a in chunk
                ],
            }
            ids = [str(i) for i in range(len(chunk))]
            job = bulk_job(f"chaos.{n % 2}.{n}", request, ids, campaign_id="chaos", list_name=("vip", "news")[n % 2])
            self.sqs.send_message(QueueUrl=self.queues["send"], MessageBody=job.body())
            self.expected.update({send_id(job.job_id, unit): (job.job_id, unit) for unit in ids})
        for address in addresses[s.bulk_jobs * 50 :]:
            line = {
                "FromEmailAddress": "news@example.com",
                "Destination": {"ToAddresses": [address]},
                "Content": {"Template": {"TemplateName": "chaos", "TemplateData": '{"n": 2}'}},
                "EmailTags": [{"Name": "campaign_id", "Value": "chaos"}, {"Name": "list_name", "Value": "lines"}],
                "ConfigurationSetName": "marketing",
            }
            sqs_id = self.sqs.send_message(QueueUrl=self.queues["send"], MessageBody=json.dumps(line))["MessageId"]
            self.expected[send_id(f"sqs-{sqs_id}", "0")] = (f"sqs-{sqs_id}", "0")

    def _receive(self, logical: str, batch: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < batch:
            got = self.sqs.receive_message(
                QueueUrl=self.queues[logical],
                MaxNumberOfMessages=min(10, batch - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return messages

    def invoke(self, logical: str) -> int:
        """One Lambda invocation on ``logical``'s queue; returns the records handed over."""
        messages = self._receive(logical, HANDLERS[logical][1])
        if not messages:
            return 0
        self.stats[f"invocations.{logical}"] += 1
        event = sqs_event(messages, self.arns[logical], REGION)
        self.policy.begin_invocation()
        self.policy.active = self.faults_on
        failed = False
        try:
            self.handlers[logical](event, LambdaContext(HANDLERS[logical][0]))
        except HandlerKilled:
            failed = True
            self.stats[f"killed.{logical}"] += 1
            from chalicelib import wiring

            wiring.reset()  # the next invocation gets a fresh container
        except Exception as exc:
            failed = True
            self.stats[f"failed.{logical}"] += 1
            self.errors[f"{logical}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
        finally:
            self.policy.active = False
        if failed:  # back on the queue when the visibility timeout (virtual) ends
            until = self.clock() + VISIBILITY
            self.hidden.extend(Hidden(until, self.queues[logical], m["ReceiptHandle"]) for m in messages)
        else:  # Lambda deletes a batch whose handler returned
            for start in range(0, len(messages), 10):
                chunk = messages[start : start + 10]
                self.sqs.delete_message_batch(
                    QueueUrl=self.queues[logical],
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )
        return len(messages)

    def _reveal(self) -> None:
        now = self.clock()
        due = [h for h in self.hidden if h.until <= now]
        self.hidden = [h for h in self.hidden if h.until > now]
        for h in due:
            with contextlib.suppress(Exception):  # deleted by the handler before it failed
                self.sqs.change_message_visibility(QueueUrl=h.queue_url, ReceiptHandle=h.receipt, VisibilityTimeout=0)

    def publish(self) -> int:
        """SES publishes the events of what it accepted: signed SNS envelopes to the critical / engagement queues,
        some twice, out of order."""
        events, self.ses.pending = self.ses.pending, []
        events += [e for e in events if self.publish_rng.random() < DUPLICATE_RATE]
        self.publish_rng.shuffle(events)
        by_queue: dict[str, list[str]] = {"critical": [], "engagement": []}
        for event in events:
            text = event.message_text()
            self.published[event_from_message(text).event_id] = (
                event  # the id the app gives it (a Send's: its message's)
            )
            if text not in self.envelopes:
                self.envelopes[text] = self.signer.notification_json(TOPIC_ARN, text)
            by_queue["critical" if event.event_type in CRITICAL_TYPES else "engagement"].append(self.envelopes[text])
        for logical, bodies in by_queue.items():
            for start in range(0, len(bodies), 10):
                entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
                self.sqs.send_message_batch(QueueUrl=self.queues[logical], Entries=entries)
        return len(events)

    def round(self) -> int:
        self._reveal()
        work = 0
        for _ in range(3):
            handled = self.invoke("send")
            work += handled
            if not handled:
                break
        work += self.publish()
        for logical in ("critical", "engagement", "forward"):
            for _ in range(20):
                handled = self.invoke(logical)
                work += handled
                if not handled:
                    break
        self.clock.advance(STEP)
        self.stats["rounds"] += 1
        if not work:
            time.sleep(0.02)  # delayed messages (capped at 1 s) become visible in real time
        return work

    def _depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def quiet(self) -> bool:
        return not self.hidden and not self.ses.pending and all(self._depth(u) == 0 for u in self.queues.values())

    def settle(self, limit_s: float, *, max_rounds: int | None = None) -> bool:
        """Rounds until the queues are quiet (True) or ``max_rounds`` ran (False)."""
        started = time.monotonic()
        idle = rounds = 0
        while True:
            idle = idle + 1 if self.round() == 0 else 0
            rounds += 1
            if idle >= 2 and self.quiet():
                return True
            if max_rounds is not None and rounds >= max_rounds:
                return False
            if time.monotonic() - started > limit_s:
                raise AssertionError(
                    f"{self.scenario.name}: queues not quiet after {limit_s:.0f}s ({self.stats}, {self.errors})"
                )

    faults_on = True

    def run(self, limit_s: float = 150.0) -> dict[str, Any]:
        started = time.monotonic()
        self.submit()
        # the fault phase lasts until the queues are quiet or an hour of virtual time has passed (units waiting for
        # Send events parked in a DLQ keep the send queue busy until the redrive)
        self.stats["fault_phase_quiet"] = int(self.settle(limit_s, max_rounds=int(FAULT_PHASE_SECONDS / STEP)))
        self.faults_on = False
        self.receiver.active = False
        for _ in range(20):  # faults over: redrive the DLQs and work, until nothing is left anywhere
            moved = sum(
                dlq.redrive(self.sqs, url, to=self.queues[q], secret=REDRIVE_SECRET)["moved"]
                for q, url in self.dlqs.items()
            )
            self.stats["redriven"] += moved
            # bounded: units waiting for Send events parked in a DLQ need the next redrive
            if self.settle(limit_s, max_rounds=40) and not any(self._depth(u) for u in self.dlqs.values()):
                break
        self.stats["seconds"] = round(time.monotonic() - started, 1)
        return self.figures()

    # -- the figures -------------------------------------------------------------------------------------------
    def _scan(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": f"sesame-{ENV}-{table}"}
        while True:
            page = self.ddb.scan(**kwargs)
            items.extend(from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def figures(self) -> dict[str, Any]:
        accepted = Counter(a.send_id for a in self.ses.accepted)
        accepted_ids = {a.message_id for a in self.ses.accepted}
        summaries = self._scan("messages")
        # a summary's history keeps each applied event's id in its short form (runtime.stores.history.short_id)
        full_ids = {short_id(e): e for e in self.published}
        applied = {full_ids.get(entry_id(text), entry_id(text)) for item in summaries for text in history_of(item)}
        published = set(self.published)
        # campaign counters against the distinct events SES published, each counted once the way the project's one
        # classification says (runtime.events.classify: e.g. a suppression-list drop is ses_suppressed, not a bounce)
        expected: Counter[str] = Counter()
        opened: set[str] = set()
        clicked: set[str] = set()
        for event_id, event in self.published.items():
            expected[classify(event_from_message(event.message_text(), event_id)).counter] += 1
            if event.event_type == "Open":
                opened.add(event.message_id)
            elif event.event_type == "Click":
                clicked.add(event.message_id)
        expected["opened_unique"], expected["clicked_unique"] = len(opened), len(clicked)
        actual: Counter[str] = Counter()
        count_stream(self.ddb, env=ENV)  # the messages stream's counter consumer (count_events), as deployed
        for item in self._scan("campaigns"):
            if str(item["sk"]).split("#")[:2] == ["COUNTERS", "TOTAL"]:  # the base item and every shard's
                actual.update({k: int(item.get(k, 0)) for k in expected})
        jobs = {item["pk"][len("SENDJOB#") :]: item for item in self._scan("control") if item["pk"].startswith("SEND")}
        wrong = 0  # the sender's own record of each unit: sent, with a MessageId SES gave, message item written
        for sid, (job_id, unit) in self.expected.items():
            job = jobs.get(job_id, {})
            outcome = str((job.get("done") or {}).get(unit, ""))
            if not outcome.startswith("sent|") or outcome.split("|")[1] not in accepted_ids or unit not in job["rec"]:
                wrong += 1
                self.wrong.append((job_id, unit, outcome, accepted[sid], job))
        received = self.receiver.received
        return {
            "scenario": self.scenario.name,
            "fault": self.scenario.kind,
            "rate": self.scenario.rate,
            "seed": self.scenario.seed,
            "recipients": len(self.expected),
            "events": len(published),
            "events_lost": len(published - applied),
            "double_counted": sum(max(0, actual[k] - expected[k]) for k in expected),
            "counted_short": sum(max(0, expected[k] - actual[k]) for k in expected),
            "sent_twice": sum(1 for sid in self.expected if accepted[sid] > 1),
            "never_sent": sum(1 for sid in self.expected if accepted[sid] == 0),
            "sender_records_wrong": wrong,
            "forwarded_twice": sum(1 for e in applied if received[e] > 1),
            "never_forwarded": len(applied - set(received)),
            "forwarded_unapplied": len(set(received) - applied),
            "faults_injected": dict(self.policy.injected),
            "receiver_faults": dict(self.receiver.faults),
            "aws_requests_under_fault": sum(self.wire.requests.values()),
            "invocations": {k[len("invocations.") :]: v for k, v in self.stats.items() if k.startswith("invocations.")},
            "killed": sum(v for k, v in self.stats.items() if k.startswith("killed.")),
            "failed_invocations": sum(v for k, v in self.stats.items() if k.startswith("failed.")),
            "redriven": self.stats["redriven"],
            "rounds": self.stats["rounds"],
            "fault_phase_quiet": bool(self.stats["fault_phase_quiet"]),
            "failures": dict(self.errors.most_common(6)),
            "seconds": self.stats["seconds"],
        }
