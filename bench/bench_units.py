"""A campaign through the real sender and the real ingestion path on moto, metered in the units AWS bills
(``bench.meter``), priced (``bench.cost_model``), and judged for partition heat and contention (``bench.contention``).

Workload: one campaign of ``RECIPIENTS`` recipients on one list, submitted through ``CampaignService`` (DynamoDB
campaign record, ``SendMessageBatch`` of the send jobs), drained by ``SenderConsumer`` with its DynamoDB adapters
(``DynamoLedger``, ``DynamoSuppressionStore``, ``DynamoRateStore`` pacing at 1,000/s) the way the SQS event source
mapping drives the sender Lambda (ReceiveMessage of 10, invoke, DeleteMessageBatch); SES is a fake with SES's
response shapes and SES-length message ids. Then the documented event mix (``bench.workload``) for the messages SES
accepted, sent 1 ms apart (1,000 emails/s): each event published to the SNS topic of its class (the configuration
sets' event destinations route the critical types to the critical topic, the rest to the engagement topic; signed
like SNS), delivered to that topic's queue (no filter policy), and consumed the way the event source mappings do —
critical events one per invocation (at ~20/s a poll rarely finds two), engagement events 50 per invocation (five
ReceiveMessage calls of 10) — SNS-verified, parsed and applied by ``IngestEngine`` over ``DynamoTrackingStore``,
then deleted. Everything in one region; the second region is what global tables replicate there.

Figures (per email = per message SES accepted):

* ``wru_per_email`` / ``rru_per_email``: write / read units in the sending region, all phases;
* ``usd_per_million_emails_1_region`` / ``_2_regions``: ``bench.cost_model`` (prices and exclusions listed there);
  ``usd_per_million_emails_storage``: DynamoDB storage of everything the run leaves, for the 90-day retention,
  one region (not included in the two above);
* ``hottest_partition_wru_per_s_at_1000_emails_per_s``: the partition key value (of a base table or a GSI) that
  received the most write units in the run, scaled to 1,000 emails/s (a partition takes 1,000 WCU/s);
* ``counter_conflict_rate_at_1000_emails_per_s``: ``bench.contention`` over the run's writes to campaign counter
  items (campaigns-table items other than ``META``), as they are batched today;
* ``pacing_conflict_rate_20_senders``: ``bench.contention``, 20 senders of 50-recipient bulk calls at 1,000/s over
  the sharded reservation items; ``pacing_conflict_rate_20_senders_single_recipient`` and
  ``pacing_single_recipient_sends_per_s_20_senders`` for one-recipient calls, reserved in blocks of an SQS batch (10)
  and made concurrently;
* ``ingest_real_store_us_per_event``: CPU per event of the ingestion Lambdas' work (SNS verification, parsing, apply
  through ``DynamoTrackingStore`` and the client the ingestion Lambdas use: ``runtime.stores.direct.DirectDynamo``
  over a botocore client configured as theirs (``runtime.clients``: no client-side parameter validation, the lean
  JSON wire path of ``runtime.stores.wire``) — serialisation, SigV4 signing, retry decisions, response parsing),
  with DynamoDB's answers replayed byte for byte from the moto run (``bench.canned``, at the ``before-send`` event
  both clients emit before they would send): moto's own CPU, which is larger than the code under test, is excluded,
  and the requests and answers are exactly those of the metered run (recorded through a botocore client, which the
  meter hooks; the store makes the same requests through either).

Lambda duration (for GB-seconds) is modelled per invocation: the invocation's CPU on this machine (process time of
all its threads minus the emulator's and the meter's, those two counted per thread) scaled by 1,769 MB / configured
memory (Lambda gives one vCPU at 1,769 MB, so below that threads share less than one CPU: their CPU adds up), plus
typical in-region latencies per AWS call (``bench.cost_model.LATENCY_MS``) along the calls' critical path — calls
made one after another add up, calls made at once by the handler's threads (the sender's suppression Queries and
message-item writes) count as their busiest thread's sum (``bench.cost_model.waited_ms``; until the sender made
calls at once, every call's latency was added, which is what this gives for calls made one after another) — plus
the time the code sleeps (pacing waits for its reservation; a simulated clock makes them exact and instant here);
memory from
``Pulumi.yaml``'s ``sesame:functions`` default (the API handler, not listed there, has Chalice's default 128 MB).
The per-email table (units by phase, table and index) is written to ``.bench/units.md``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "chalice_app"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench.canned import Recorder, Replayer  # noqa: E402
from bench.contention import pacing_conflict_rate, transaction_conflict_rate  # noqa: E402
from bench.cost_model import (  # noqa: E402
    PRICES,
    aws_call_latency_ms,
    cost_lines,
    usd_per_million_emails,
    waited_ms,
)
from bench.meter import (  # noqa: E402
    DynamoMeter,
    SqsMeter,
    Usage,
    item_size,
    sns_publish_requests,
)
from bench.workload import SentMessage, event_timeline  # noqa: E402

RECIPIENTS = 500
EMAILS_PER_SECOND = 1000.0
ENGAGEMENT_BATCH = 50
COUNTER_BATCH = 500  # chalicelib.counters_handler.COUNTER_BATCH_SIZE: records per count_events invocation
REGION = "us-east-1"
ENV = "bench"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:sesame-{ENV}-ses-events"  # the engagement event topic
CRITICAL_TOPIC = f"arn:aws:sns:{REGION}:123456789012:sesame-{ENV}-ses-critical-events"
CAMPAIGN = "spring-sale-2026"
LIST = "newsletter"
# subscriptions with a MessageBody filter policy that scan each event: none (SES routes the critical and the engagement
# types to their own topics, each topic's queue takes everything: infra/messaging.py)
FILTERED_SUBSCRIPTIONS = 0
REPLAYS = 3
LAMBDA_MB_PER_VCPU = 1769
RETENTION_MONTHS = 90 / 30.4
STORAGE_ITEM_OVERHEAD = 100 + 48  # per item: indexing + global tables
STORAGE_INDEX_OVERHEAD = 100


def function_memory() -> dict[str, int]:
    """Memory (MB) per Chalice Lambda: the default of ``sesame:functions`` in Pulumi.yaml."""
    import yaml

    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]["sesame:functions"]["default"]
    return {name: int(spec["memory"]) for name, spec in json.loads(config).items()}


# --- the emulator's CPU, kept apart ---------------------------------------------------------------------------------


class EmulatorClock:
    """CPU spent inside moto's botocore stub (excluded from the Lambdas' CPU), except during the meter's own
    un-metered reads (those are the meter's time, already counted by it). Per thread (``time.thread_time``): calls
    answered at once in several threads each count their own CPU, not the process's meanwhile."""

    def __init__(self, meter: DynamoMeter) -> None:
        self.seconds = 0.0
        self._meter = meter
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        clock = self

        def timed(stub: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return original(stub, *args, **kwargs)
            finally:
                if not clock._meter.busy:
                    with clock._lock:
                        clock.seconds += time.thread_time() - start

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _aws_env() -> Iterator[None]:
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    for k in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- the run ----------------------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    function: str
    cpu_seconds: float
    calls: list[tuple[str, str, float, float, int]]  # (service, operation, start, end, thread) the handler made
    waited_seconds: float = 0.0  # sleeps the code asked for (pacing until a reservation, retry backoff)

    def duration_ms(self, memory_mb: int) -> float:
        """CPU (all threads, one after another: below 1,769 MB a Lambda has less than one vCPU) + the modelled AWS
        latency it waited for, calls made at once counted once (``cost_model.waited_ms``) + its sleeps."""
        cpu_ms = self.cpu_seconds * 1000 * LAMBDA_MB_PER_VCPU / memory_mb
        return cpu_ms + waited_ms(self.calls, aws_call_latency_ms) + self.waited_seconds * 1000


@dataclass
class Run:
    usage: Usage
    invocations: list[Invocation]
    ingest_batches: list[list[str]]
    ingest_answers: list[Any]
    ingest_events: int
    storage_bytes: int
    verifier: Any
    tables: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)


def _campaign(n: int) -> dict[str, Any]:
    return {
        "campaign_id": CAMPAIGN,
        "template": {
            "subject": "Our spring sale, {{first_name}}",
            "html": "<p>Hi {{first_name}}, {{offer}}</p><p><a href='https://example.com/spring'>Shop</a></p>",
        },
        "segments": [
            {
                "list_name": LIST,
                "recipients": [
                    {"to_address": f"reader{i}@example.org", "first_name": f"Reader{i}", "offer": "20% off"}
                    for i in range(n)
                ],
            }
        ],
    }


def _ses_fake(clock: Any) -> Any:
    from tests.support.sender_fakes import FakeSes

    class Ses(FakeSes):
        """SES-shaped answers with SES-length message ids (60 characters; they are keys and attributes); ``spans``
        holds (operation, start, end, thread) of every call, like the meters' ``calls``."""

        spans: list[tuple[str, float, float, int]]

        def _call(self, op: str, params: dict[str, Any]) -> None:
            now = time.perf_counter()
            self.spans.append((op, now, now, threading.get_ident()))
            super()._call(op, params)

        def _message_id(self) -> str:
            n = next(self._ids)
            digest = hashlib.sha256(str(n).encode()).hexdigest()
            return f"0100019{n:09x}-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}-000000"

    ses = Ses(REGION, clock, validate_requests=False)
    ses.spans = []
    return ses


def _fast_moto() -> None:
    """The local stack's moto speed-ups (same answers; transactions no longer deep-copy whole tables, batch answers
    skip the model-driven serialiser): the emulator's CPU is excluded from every figure, but it sets the bench's
    wall time."""
    from runtime.local import moto_runner

    moto_runner.patch_moto()
    moto_runner.patch_dynamodb_serializer()
    # the meter's own un-metered reads and scans: the same wire-format shortcut (answers compared identical)
    moto_runner._FAST_DYNAMODB_RESULTS = moto_runner._FAST_DYNAMODB_RESULTS | {"GetItem", "Query", "Scan"}
    moto_runner.patch_update_expression_validation()
    moto_runner.patch_sqs()


def drive(cert_dir: str, recipients: int = RECIPIENTS, seed: int = 12, *, fast_moto: bool = True) -> Run:
    """Run the workload; ``cert_dir`` holds the local SNS signing certificate (keep it until the replay is done).

    ``fast_moto`` applies the local stack's moto speed-ups to this process (for good: the bench ends after)."""
    import boto3
    from chalicelib.sending import SqsQueueOps
    from moto import mock_aws

    from runtime.events.models import CRITICAL_TYPES
    from runtime.ingest.engine import IngestEngine
    from runtime.ingest.pipeline import Decoded, decode_batch
    from runtime.ingest.stream import count_records
    from runtime.sender.consumer import QueueRecord, SenderConfig, SenderConsumer
    from runtime.sender.enqueue import Enqueuer
    from runtime.sender.headers import UnsubscribeHeaders
    from runtime.sender.ledger import DynamoLedger
    from runtime.sender.pacing import AccountLimitsProvider, DynamoRateStore, Pacer
    from runtime.sender.service import CampaignConfig, CampaignService
    from runtime.sender.templates import TemplateLoader, TemplatePublisher
    from runtime.sns.certs import CertificateStore
    from runtime.sns.signing import LocalSnsSigner, shared_key
    from runtime.sns.verify import SnsVerifier
    from runtime.stores.campaigns import DynamoCampaignStore
    from runtime.stores.suppressions import DynamoSuppressionStore
    from runtime.stores.tables import create_tables
    from runtime.stores.tracking import DynamoTrackingStore
    from runtime.tokens import TokenSigner
    from tests.support.sender_fakes import SimClock

    if fast_moto:
        _fast_moto()
    names = {t: f"sesame-{ENV}-{t}" for t in ("messages", "campaigns", "suppressions", "control")}
    invocations: list[Invocation] = []
    batches: list[list[str]] = []
    timings: dict[str, float] = {}
    with _aws_env(), mock_aws():
        session = boto3.session.Session(region_name=REGION)
        raw_ddb, raw_sqs = session.client("dynamodb"), session.client("sqs")
        ddb, ddb_ingest, sqs = session.client("dynamodb"), session.client("dynamodb"), session.client("sqs")
        create_tables(raw_ddb, ENV)
        urls = {
            q: raw_sqs.create_queue(QueueName=f"sesame-{ENV}-{q}")["QueueUrl"]
            for q in ("send", "critical", "engagement")
        }
        meter = DynamoMeter(raw_ddb)
        meter.attach(ddb)
        meter.attach(ddb_ingest)
        recorder = Recorder()
        recorder.attach(ddb_ingest)
        sqs_meter = SqsMeter()
        sqs_meter.attach(sqs)
        usage = Usage(emails=0, dynamo=meter, sqs=sqs_meter)
        emulator = EmulatorClock(meter)
        clock = SimClock()
        ses = _ses_fake(clock)

        def phase(name: str) -> None:
            meter.phase = sqs_meter.phase = name

        def invoke(function: str, handler: Any) -> Any:
            """Run ``handler`` as one Lambda invocation: its CPU without the emulator's and the meter's, and the
            AWS calls it waited for."""
            d0, s0, e0, w0 = len(meter.calls), len(sqs_meter.calls), len(ses.spans), clock.now
            m0, x0, c0 = meter.meter_seconds, emulator.seconds, time.process_time()
            result = handler()
            cpu = time.process_time() - c0 - (meter.meter_seconds - m0) - (emulator.seconds - x0)
            calls = [("dynamodb", op, start, end, thread) for _, op, start, end, thread in meter.calls[d0:]]
            calls += [("sqs", op, start, end, thread) for _, op, start, end, thread in sqs_meter.calls[s0:]]
            calls += [("sesv2", op, start, end, thread) for op, start, end, thread in ses.spans[e0:]]
            invocations.append(Invocation(function, max(cpu, 0.0), calls, clock.now - w0))
            return result

        with emulator.installed():
            # 1. the campaign: record, templates, jobs on the send queue
            phase("campaign")
            service = CampaignService(
                config=CampaignConfig(regions=[REGION], default_from="news@example.com"),
                store=DynamoCampaignStore(ddb, names["campaigns"]),
                loader=TemplateLoader(lambda: None),
                publisher=TemplatePublisher(lambda region: ses),
                enqueuer=lambda: Enqueuer(sqs, urls["send"]),
                payloads=lambda: None,
                clock=clock,
            )
            answer = invoke("api", lambda: service.submit(_campaign(recipients)))
            if not answer["complete"]:
                raise RuntimeError(f"campaign not fully enqueued: {answer}")

            # 2. the sender, driven like the SQS event source mapping drives it
            phase("sender")
            consumer = SenderConsumer(
                config=SenderConfig(
                    region=REGION,
                    default_from="news@example.com",
                    configuration_set=lambda name, backup: f"sesame-{ENV}-{name or 'marketing'}",
                ),
                ses=lambda region: ses,
                suppressions=DynamoSuppressionStore(ddb, names["suppressions"]),
                ledger=DynamoLedger(
                    ddb,
                    control_table=names["control"],
                    messages_table=names["messages"],
                    campaigns_table=names["campaigns"],
                    clock=clock,
                    sleep=clock.sleep,
                    region=REGION,
                ),
                pacer=Pacer(
                    store=DynamoRateStore(ddb, names["control"]),
                    limits=AccountLimitsProvider(lambda region: ses, override_rate=EMAILS_PER_SECOND, clock=clock),
                    clock=clock,
                    sleep=clock.sleep,
                ),
                queue=SqsQueueOps(sqs, urls["send"]),
                headers=UnsubscribeHeaders(TokenSigner(["bench-unsubscribe-secret-0123456789"]), "https://example.com"),
                clock=clock,
                sleep=clock.sleep,
                rng=random.Random(seed),
            )
            started = time.perf_counter()
            while True:
                messages = sqs.receive_message(
                    QueueUrl=urls["send"], MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
                ).get("Messages", [])
                if not messages:
                    break
                records = [
                    QueueRecord(
                        m["MessageId"], m["ReceiptHandle"], m["Body"], int(m["Attributes"]["ApproximateReceiveCount"])
                    )
                    for m in messages
                ]
                result = invoke("sender", lambda records=records: consumer.process(records))
                if result.incomplete:
                    raise RuntimeError(f"sender left work on the queue: {result}")
                sqs.delete_message_batch(
                    QueueUrl=urls["send"],
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            timings["sender_s"] = time.perf_counter() - started
            sent = _sent_messages(ses)
            usage.emails = len(sent)

            # 3. the events: SES -> the topic of the event's class -> its SQS queue -> event source mapping -> Lambdas
            phase("ingest")
            signer = LocalSnsSigner(cert_dir, shared_key(0))
            verifier = SnsVerifier([CRITICAL_TOPIC, TOPIC], CertificateStore(cert_dir, cache={}), max_age_seconds=3600)
            store = DynamoTrackingStore(
                ddb_ingest,
                messages_table=names["messages"],
                campaigns_table=names["campaigns"],
                suppressions_table=names["suppressions"],
            )
            engine = IngestEngine(store)
            now = datetime.now(UTC)
            # SNS -> SQS and the event source mappings are AWS's, not sesame's code: simulated here, every request
            # they make counted with the same arithmetic as the metered client's
            queues: dict[str, list[str]] = {"critical": [], "engagement": []}

            def consume(queue: str) -> None:
                bodies, queues[queue] = queues[queue], []
                for start in range(0, len(bodies), 10):  # the poller receives 10 at a time
                    sqs_meter.count(
                        "ReceiveMessage", {}, {"Messages": [{"Body": b} for b in bodies[start : start + 10]]}
                    )
                batches.append(bodies)

                def handler() -> None:  # events_handlers.consume_records without metrics and logs
                    decoded = decode_batch(verifier, bodies)
                    events = [d.event for d in decoded if isinstance(d, Decoded) and d.event is not None]
                    if len(events) != len(bodies):
                        raise RuntimeError("an event did not verify or parse")
                    outcome = engine.apply(events)
                    if outcome.failed:
                        raise RuntimeError(f"apply failed: {next(iter(outcome.failed.values()))}")

                invoke(f"{queue}_events", handler)
                for start in range(0, len(bodies), 10):  # on success the mapping deletes the batch
                    sqs_meter.count("DeleteMessageBatch", {"Entries": bodies[start : start + 10]})

            started = time.perf_counter()
            timeline = event_timeline(sent, random.Random(seed))
            for _, kind, text in timeline:
                size = len(text.encode("utf-8"))
                usage.sns_publishes += sns_publish_requests(size)
                usage.sns_filter_bytes += FILTERED_SUBSCRIPTIONS * size
                queue = "critical" if kind in CRITICAL_TYPES else "engagement"
                envelope = signer.notification_json(
                    CRITICAL_TOPIC if queue == "critical" else TOPIC,
                    text,
                    subject="Amazon SES Email Event Notification",
                    timestamp=now,
                )
                sqs_meter.count("SendMessage", {"MessageBody": envelope})  # the delivery SNS makes
                queues[queue].append(envelope)
                if queue == "critical" or len(queues[queue]) == ENGAGEMENT_BATCH:
                    consume(queue)
            if queues["engagement"]:
                consume("engagement")
            # the messages stream's counter consumer (count_events), as its event source mapping drives it: batches
            # of the stream's records, each an invocation (stream reads by Lambda are free; its writes are metered)
            from runtime.local.streams import StreamReader, streams_client
            from runtime.stores.counters import DynamoCounterSink

            reader = StreamReader(
                streams_client(REGION),
                raw_ddb.describe_table(TableName=names["messages"])["Table"]["LatestStreamArn"],
                batch_size=COUNTER_BATCH,
            )
            sink = DynamoCounterSink(ddb, names["campaigns"])
            for shard_id, records in reader.poll():
                invoke("count_events", lambda s=shard_id, r=records: count_records(s, r, sink))
            timings["ingest_s"] = time.perf_counter() - started
            recorder.enabled = False

        # 4. what the run leaves behind: future TTL deletes (replicated) and storage
        storage = _storage_bytes(meter.finalize("ttl"))
    return Run(
        usage=usage,
        invocations=invocations,
        ingest_batches=batches,
        ingest_answers=recorder.answers,
        ingest_events=len(timeline),
        storage_bytes=storage,
        verifier=verifier,
        tables=names,
        timings=timings,
    )


def _sent_messages(ses: Any) -> list[SentMessage]:
    """What SES accepted, with the tags the sender set, 1 ms apart (1,000 emails/s)."""
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    out = []
    for i, sent in enumerate(ses.sent):
        detail = sent["detail"]
        tags = detail.get("ReplacementTags") or sent["params"].get("EmailTags") or []
        tag = {t["Name"]: t["Value"] for t in tags}
        out.append(
            SentMessage(
                sent["message_id"],
                sent["to"][0],
                tag.get("campaign_id", "untagged"),
                tag.get("list_name", "untagged"),
                start + timedelta(milliseconds=i),
            )
        )
    return out


def _storage_bytes(items: list[tuple[Any, dict[str, Any]]]) -> int:
    """Bytes DynamoDB bills storage for: items and index entries with their per-item overheads."""
    total = 0
    for schema, item in items:
        total += item_size(item) + STORAGE_ITEM_OVERHEAD
        for index in schema.indexes:
            entry = index.entry(item, schema)
            if entry is not None:
                total += item_size(entry) + STORAGE_INDEX_OVERHEAD
    return total


# --- the real path's CPU, moto's answers replayed -------------------------------------------------------------------


def ingest_cpu_per_event(run: Run, repeats: int = REPLAYS) -> float:
    """Microseconds of CPU per event for the ingestion Lambdas' work, DynamoDB answered from the recording."""
    import boto3

    from runtime.clients import client_config
    from runtime.ingest.engine import IngestEngine
    from runtime.ingest.pipeline import Decoded, decode_batch
    from runtime.stores.direct import DirectDynamo
    from runtime.stores.tracking import DynamoTrackingStore
    from runtime.stores.wire import lean

    best = float("inf")
    with _aws_env():
        session = boto3.session.Session(region_name=REGION)  # its loader caches botocore's data files
        for attempt in range(repeats + 1):  # the first pass warms the loader and the code paths; not counted
            # configured as the ingestion Lambdas' client is (chalicelib.wiring / events_handlers._engine)
            client = lean(session.client("dynamodb", config=client_config(validate=False)))
            replayer = Replayer(run.ingest_answers)
            replayer.attach(client)
            engine = IngestEngine(
                DynamoTrackingStore(
                    DirectDynamo(client),
                    messages_table=run.tables["messages"],
                    campaigns_table=run.tables["campaigns"],
                    suppressions_table=run.tables["suppressions"],
                )
            )
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                for bodies in run.ingest_batches:
                    decoded = decode_batch(run.verifier, bodies)
                    engine.apply([d.event for d in decoded if isinstance(d, Decoded) and d.event is not None])
                elapsed = time.process_time() - start
            finally:
                gc.enable()
            if replayer.remaining:
                raise RuntimeError(f"replay left {replayer.remaining} recorded answers unused")
            if attempt:
                best = min(best, elapsed)
    return best / run.ingest_events * 1e6


# --- figures ----------------------------------------------------------------------------------------------------------


def _is_counter(table: str, key: tuple[str, str]) -> bool:
    return table.endswith("-campaigns") and key[1] != "META"


def lambda_usage(run: Run, memory: dict[str, int]) -> None:
    for invocation in run.invocations:
        mb = memory.get(invocation.function, 128 if invocation.function == "api" else 512)
        billed_ms = max(1.0, float(int(invocation.duration_ms(mb) + 0.999)))
        run.usage.lambda_invocations[invocation.function] += 1
        run.usage.lambda_gb_seconds[invocation.function] += billed_ms / 1000 * mb / 1024


def heat(run: Run) -> tuple[float, list[tuple[str, float]]]:
    """(WRU/s of the hottest partition key at EMAILS_PER_SECOND, the top five as (label, WRU/s))."""
    units = run.usage.dynamo.partition_units(phases=("campaign", "sender", "ingest"))
    scale = EMAILS_PER_SECOND / run.usage.emails
    top = [
        (f"{_short(table)} {index if index != '-' else '(table)'} key={key}", n * scale)
        for (table, index, key), n in units.most_common(5)
    ]
    return (top[0][1] if top else 0.0), top


def _short(table: str) -> str:
    return table.removeprefix(f"sesame-{ENV}-")


def units_table(run: Run) -> str:
    """Markdown: units per email by phase, table and index."""
    usage = run.usage
    rows: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (phase, line, table, index), units in usage.dynamo.by_table().items():
        rows[(phase, _short(table), index)][line] += units
    lines = [
        "| phase | table | index | WRU | RRU | rWRU (per extra region) | replica GSI WRU (per extra region) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    totals: dict[str, float] = defaultdict(float)
    order = {"campaign": 0, "sender": 1, "ingest": 2, "ttl": 3}
    for (phase, table, index), by_line in sorted(rows.items(), key=lambda r: (order.get(r[0][0], 9), r[0][1:])):
        cells = [usage.per_email(by_line.get(k, 0.0)) for k in ("WRU", "RRU", "rWRU", "replica_WRU")]
        for k, v in zip(("WRU", "RRU", "rWRU", "replica_WRU"), cells, strict=True):
            totals[k] += v
        lines.append(f"| {phase} | {table} | {index} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    lines.append(
        "| **total** | | | " + " | ".join(f"**{totals[k]:.3f}**" for k in ("WRU", "RRU", "rWRU", "replica_WRU")) + " |"
    )
    return "\n".join(lines)


def phase_totals(run: Run) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (phase, line, _, _), units in run.usage.dynamo.by_table().items():
        out[phase][line] += run.usage.per_email(units)
    return {p: dict(v) for p, v in out.items()}


def write_kinds(run: Run) -> Counter[tuple[str, str, str]]:
    """WRU per email by (phase, table/index, why): what kind of write the units pay for."""
    kinds: Counter[tuple[str, str, str]] = Counter()
    for c in run.usage.dynamo.charges:
        if c.line == "WRU":
            where = _short(c.table) + (f"/{c.index}" if c.index else "")
            kinds[(c.phase, where, c.why)] += run.usage.per_email(c.units)
    return kinds


def report(run: Run, figures: dict[str, Any], top: list[tuple[str, float]], memory: dict[str, int]) -> str:
    usage = run.usage
    out = [
        "# Billed units per email (bench/bench_units.py)",
        "",
        f"One campaign of {usage.emails} emails (one list) through the sender and the documented event mix "
        f"({run.ingest_events} events: per 100 sends 97 deliveries, 2 bounces, 0.1 complaints, 40 opens, 8 clicks, "
        "5 % duplicate deliveries) through ingestion; moto in-process, metered by bench/meter.py. "
        "Per email = per message SES accepted.",
        "",
        "How the run is shaped (bench/bench_units.py docstring has the detail): the sender Lambda gets 10 queue "
        "messages per invocation (jobs of 50 recipients, SendBulkEmail); every SES event is one SNS publish to the "
        "topic of its class (critical or engagement: SES routes by type, no filter policy scans it) and one "
        "delivery into that topic's queue (an SQS request); critical events are handled one per invocation, "
        "engagement events 50 per invocation; the event "
        "source mappings' ReceiveMessage (10 per call) and DeleteMessageBatch are counted; emails are sent 1 ms "
        "apart (1,000 emails/s), which is also the rate the heat and conflict figures are quoted at. "
        "Phases: `campaign` = POST /campaigns (record, templates, jobs enqueued), `sender` = the send-queue "
        "consumer, `ingest` = the event consumers, `ttl` = the future TTL deletes of what the run leaves (free in "
        "the region that expires them, replicated deletes in the others).",
        "",
        "## DynamoDB units per email, by phase, table and index",
        "",
        units_table(run),
        "",
        "## Per phase",
        "",
        "| phase | WRU | RRU | rWRU | replica GSI WRU |",
        "|---|---:|---:|---:|---:|",
    ]
    for phase, lines in sorted(phase_totals(run).items()):
        out.append(
            f"| {phase} | "
            + " | ".join(f"{lines.get(k, 0.0):.3f}" for k in ("WRU", "RRU", "rWRU", "replica_WRU"))
            + " |"
        )
    out += [
        "",
        "## Write units by kind of write (WRU per email)",
        "",
        "| phase | table/index | write | WRU |",
        "|---|---|---|---:|",
    ]
    for (phase, where, why), units in sorted(write_kinds(run).items(), key=lambda kv: -kv[1]):
        out.append(f"| {phase} | {where} | {why} | {units:.3f} |")
    for regions in (1, 2):
        out += [
            "",
            f"## Cost per million emails, {regions} region{'s' if regions > 1 else ''} (bench/cost_model.py prices)",
            "",
            "| line | units per email | USD per million emails |",
            "|---|---:|---:|",
        ]
        for line in cost_lines(usage, regions):
            out.append(f"| {line.name} | {line.units_per_email:.4f} | {line.usd_per_million_emails:.3f} |")
        out.append(f"| **total** | | **{usd_per_million_emails(usage, regions):.2f}** |")
    out += [
        "",
        f"Storage (not in the totals): {run.storage_bytes / usage.emails:.0f} bytes per email across tables and "
        f"indexes -> ${figures['usd_per_million_emails_storage']:.2f} per million emails for "
        f"{RETENTION_MONTHS:.1f} months, one region. SES itself: $100 per million emails (excluded).",
        "",
        "## Hottest partition keys at 1,000 emails/s (local write units)",
        "",
        "| partition | WRU/s |",
        "|---|---:|",
        *[f"| {label} | {wru:.0f} |" for label, wru in top],
        "",
        "## Lambda",
        "",
        "| function | memory MB | invocations per 1,000 emails | CPU ms per invocation (this machine) "
        "| modelled ms per invocation | GB-s per 1,000 emails |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    per_k = 1000 / usage.emails
    cpu: dict[str, float] = defaultdict(float)
    for invocation in run.invocations:
        cpu[invocation.function] += invocation.cpu_seconds
    for function, count in sorted(usage.lambda_invocations.items()):
        mb = memory.get(function, 128 if function == "api" else 512)
        gbs = usage.lambda_gb_seconds[function]
        mean = gbs / count * 1024 / mb * 1000 if count else 0.0
        out.append(
            f"| {function} | {mb} | {count * per_k:.1f} | {cpu[function] / count * 1000:.1f} | {mean:.0f} "
            f"| {gbs * per_k:.3f} |"
        )
    out += [
        "",
        "## Figures",
        "",
        "```json",
        json.dumps(figures, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(out)


def run() -> dict[str, Any]:
    logging.getLogger().setLevel(logging.WARNING)
    started = time.perf_counter()
    memory = function_memory()
    with tempfile.TemporaryDirectory(prefix="sesame-bench-units-") as cert_dir:
        measured = drive(cert_dir)
        replayed_us = ingest_cpu_per_event(measured)
    lambda_usage(measured, memory)
    usage = measured.usage
    hottest, top = heat(measured)
    counters, _ = transaction_conflict_rate(
        usage.dynamo.writes,
        emails=usage.emails,
        emails_per_second=EMAILS_PER_SECOND,
        relevant=_is_counter,
        rng=random.Random(3),
        rounds=200,
    )
    bulk = pacing_conflict_rate(senders=20, rate=EMAILS_PER_SECOND, want=50, seconds=30.0, rng=random.Random(5))
    # single-recipient traffic: a block per SQS batch (ten SendEmail calls made concurrently at the granted instant)
    single = pacing_conflict_rate(
        senders=20, rate=EMAILS_PER_SECOND, want=10, per_call=1, seconds=10.0, rng=random.Random(5)
    )
    storage_usd = (
        measured.storage_bytes / usage.emails / 1024**3 * RETENTION_MONTHS * PRICES["storage_gb_month"] * 1_000_000
    )
    figures: dict[str, Any] = {
        "wru_per_email": round(usage.per_email(usage.dynamo.total("WRU")), 2),
        "rru_per_email": round(usage.per_email(usage.dynamo.total("RRU")), 2),
        "usd_per_million_emails_1_region": round(usd_per_million_emails(usage, 1), 2),
        "usd_per_million_emails_2_regions": round(usd_per_million_emails(usage, 2), 2),
        "usd_per_million_emails_storage": round(storage_usd, 2),
        "hottest_partition_wru_per_s_at_1000_emails_per_s": round(hottest, 1),
        "counter_conflict_rate_at_1000_emails_per_s": round(counters, 3),
        "pacing_conflict_rate_20_senders": round(bulk.conflict_rate, 3),
        "pacing_conflict_rate_20_senders_single_recipient": round(single.conflict_rate, 3),
        "pacing_single_recipient_sends_per_s_20_senders": round(single.sent_per_second, 1),
        "ingest_real_store_us_per_event": round(replayed_us, 1),
    }
    out_dir = ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "units.md").write_text(report(measured, figures, top, memory))
    print(
        f"bench: units: {usage.emails} emails, sender {measured.timings.get('sender_s', 0):.1f}s, ingest "
        f"{measured.timings.get('ingest_s', 0):.1f}s, total {time.perf_counter() - started:.1f}s; "
        f"table in {out_dir / 'units.md'}",
        file=sys.stderr,
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, sort_keys=True))
