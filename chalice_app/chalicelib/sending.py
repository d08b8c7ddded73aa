"""The sender's Lambda handlers: the send-queue consumer and the per-minute "check for campaign" launcher.

Also the sender's part of the composition root (built lazily, cached per container, cleared by
``wiring.reset()``): the consumer and the campaign service used by ``campaigns_api``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import first_invocation_ends_cold_start, wiring
from runtime import logs

if TYPE_CHECKING:  # imported on first use below: each handler imports only what its path needs (cold start)
    from runtime.sender.consumer import QueueRecord, SenderConsumer
    from runtime.sender.headers import UnsubscribeHeaders
    from runtime.sender.ledger import DynamoLedger
    from runtime.sender.messages import MessageService
    from runtime.sender.service import CampaignService

bp = Blueprint(__name__)
log = logs.get_logger("sesame.sender")

# Deploy-time configuration read when Chalice builds the event source mapping (the queue name is the same in
# every region; the stage's env sets it). Everything else is read lazily through wiring.settings().
SEND_QUEUE = os.environ.get("SESAME_SEND_QUEUE", "sesame-dev-send")
RECORDING_RESERVE_SECONDS = 10.0
SEND_BATCH_SIZE = 10  # SQS messages per invocation; as many SendEmail calls are paced as one block, made concurrently


class SqsQueueOps:
    """``QueueOps`` over the SQS client: delete what is finished, defer or re-enqueue the rest. ``queue_url`` may be
    a function, called on first use (a batch that finishes whole never needs the URL)."""

    def __init__(self, sqs: Any, queue_url: str | Callable[[], str]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    @property
    def _url(self) -> str:
        return self._queue_url if isinstance(self._queue_url, str) else self._queue_url()

    def delete(self, records: Sequence[QueueRecord]) -> list[str]:
        failed: list[str] = []
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            response = self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(chunk)],
            )
            failed.extend(chunk[int(f["Id"])].message_id for f in response.get("Failed", []))
        return failed

    def change_visibility(self, record: QueueRecord, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=min(seconds, 43_200)
        )

    def requeue(self, body: str, delay_seconds: int) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=max(0, min(delay_seconds, 900)))


class ApiQueueOps(SqsQueueOps):
    """``QueueOps`` of the sender core run inside ``POST /messages``: its jobs are not on the queue (nothing to delete
    or extend); what it re-enqueues (throttled, paced out, quota) goes on the send queue like any job."""

    def delete(self, records: Sequence[QueueRecord]) -> list[str]:
        return []

    def change_visibility(self, record: QueueRecord, seconds: int) -> None:
        return None

    def put(self, bodies: list[str]) -> list[str]:
        """``JobQueue.put``: enqueue jobs the core left for redelivery; returns the bodies SQS refused."""
        from runtime.sender.enqueue import Enqueuer
        from runtime.sender.jobs import SendJob

        jobs = [SendJob.model_validate_json(body) for body in bodies]
        report = Enqueuer(self._sqs, self._url).enqueue(jobs)
        return [job.body() for job in jobs if job.job_id in report.failed]


@functools.cache
def send_queue_url() -> str:
    s = wiring.settings()
    if s.send_queue_url:
        return s.send_queue_url
    return str(wiring.client("sqs", s.region).get_queue_url(QueueName=SEND_QUEUE)["QueueUrl"])


def _ses(region: str) -> Any:
    """SESv2 for templates and GetAccount (idempotent calls: botocore's standard retries)."""
    return wiring.client("sesv2", region)


def _send_ses(region: str) -> Any:
    """SESv2 for SendEmail/SendBulkEmail: one attempt, never retried by botocore. A re-send after a lost answer
    would send the email again; the consumer retries only answers that prove nothing was sent (sender/errors.py)."""
    return wiring.client("sesv2", region, total_attempts=1)


@functools.cache
def unsubscribe_headers() -> UnsubscribeHeaders | None:
    from runtime.sender.headers import UnsubscribeHeaders
    from runtime.tokens import TokenSigner

    s = wiring.settings()
    if not s.unsubscribe_secrets or not s.unsubscribe_base_url:
        log.warning("unsubscribe headers disabled: SESAME_UNSUBSCRIBE_SECRETS or SESAME_UNSUBSCRIBE_BASE_URL unset")
        return None
    return UnsubscribeHeaders(TokenSigner(s.unsubscribe_secrets), s.unsubscribe_base_url, s.unsubscribe_mailto)


@functools.cache
def consumer() -> SenderConsumer:
    s = wiring.settings()
    # the unsubscribe secrets (an SSM read on a cold start) are read while the first batch's jobs are claimed; the
    # SSM client is built here, on this thread, so no two threads build clients of one botocore session at once
    wiring.secrets_client()
    # the SQS client and the queue URL on first use: a batch that finishes whole needs neither
    queue = SqsQueueOps(wiring.LazyClient("sqs", s.region), send_queue_url)
    return _build_consumer(queue, None, headers_source=unsubscribe_headers)


@functools.cache
def api_consumer(marketing: bool) -> SenderConsumer:
    """The sender core for ``POST /messages``: List-Unsubscribe for marketing mail only, a pacing wait of at most
    2 s (a longer one queues the message), re-enqueues onto the send queue."""
    s = wiring.settings()
    queue = ApiQueueOps(wiring.LazyClient("sqs", s.region), send_queue_url)
    return _build_consumer(queue, unsubscribe_headers() if marketing else None, max_pacing_wait=2.0)


def _ledger(dynamodb: Any) -> DynamoLedger:
    """The sender's bookkeeping over the stage's tables (the send queue's consumer and POST /messages)."""
    from runtime.sender.ledger import DynamoLedger

    s = wiring.settings()
    return DynamoLedger(
        dynamodb,
        control_table=s.control_table,
        messages_table=s.messages_table,
        campaigns_table=s.campaigns_table,
        ttl_days=s.event_ttl_days,
        region=s.region,
    )


def _build_consumer(
    queue: SqsQueueOps,
    headers: UnsubscribeHeaders | None,
    *,
    max_pacing_wait: float = 20.0,
    headers_source: Callable[[], UnsubscribeHeaders | None] | None = None,
) -> SenderConsumer:
    from runtime.sender.consumer import SenderConfig, SenderConsumer
    from runtime.sender.pacing import AccountLimitsProvider, DynamoRateStore, Pacer, recorded_limits
    from runtime.sender.resolve import DynamoSendResolver
    from runtime.stores.campaigns import DynamoCampaignStore
    from runtime.stores.reputation import DynamoReputationStore
    from runtime.stores.suppressions import DynamoSuppressionStore

    s = wiring.settings()
    dynamodb = wiring.client("dynamodb", s.region)
    reputation = DynamoReputationStore(dynamodb, s.control_table)
    pacer = Pacer(
        store=DynamoRateStore(dynamodb, s.control_table),
        # the limits this region's per-minute check recorded with its GetAccount (one GetItem), else GetAccount
        limits=AccountLimitsProvider(
            _ses,
            override_rate=s.max_send_rate,
            recorded=lambda region: recorded_limits(reputation.snapshot(s.region), region),
        ),
        headroom=s.daily_quota_headroom,
        warmup_start=s.warmup_start,
        warmup_held=reputation.warmup_held_days,
        max_wait=max_pacing_wait,
    )
    return SenderConsumer(
        config=SenderConfig(
            region=s.region,
            backup_region=s.backup_region if s.backup_region != s.region else "",
            default_from=s.default_from,
            configuration_set=lambda name, backup: s.configuration_set_name(name, backup=backup),
            unknown_grace=float(s.send_unknown_grace_seconds),
            paused_delay=s.paused_recheck_seconds,
            parallel_sends=SEND_BATCH_SIZE,
            warmup_sets=frozenset(s.warmup_configuration_sets),
        ),
        ses=_send_ses,
        suppressions=DynamoSuppressionStore(dynamodb, s.suppressions_table),
        ledger=_ledger(dynamodb),
        pacer=pacer,
        queue=queue,
        headers=headers,
        headers_source=headers_source,
        campaigns=lambda data: campaign_service().submit(data),
        controls=DynamoCampaignStore(dynamodb, s.campaigns_table).controls,
        paused_config_sets=lambda: {p.name for p in reputation.config_set_pauses() if p.region == s.region},
        resolver=DynamoSendResolver(
            dynamodb,
            s.messages_table,
            sqs=wiring.LazyClient("sqs", s.region),
            # an SES event still in an event queue or parked in its DLQ (naming: docs/DESIGN.md) may be the Send
            # event of an unknown unit: nothing is sent again while any holds messages
            event_queue_urls=[
                u for url in (s.engagement_queue_url, s.critical_queue_url) if url for u in (url, f"{url}-dlq")
            ],
        ),
    )


@functools.cache
def campaign_service() -> CampaignService:
    from runtime.reputation.account import sending_gate
    from runtime.sender.enqueue import Enqueuer
    from runtime.sender.recipients import S3ObjectSource
    from runtime.sender.service import CampaignConfig, CampaignService, S3PayloadStore
    from runtime.sender.templates import TemplateLoader, TemplatePublisher
    from runtime.stores.campaigns import DynamoCampaignStore

    s = wiring.settings()
    regions = [s.region] + ([s.backup_region] if s.backup_region and s.backup_region != s.region else [])
    return CampaignService(
        config=CampaignConfig(
            regions=regions,
            default_from=s.default_from,
            default_configuration_set=s.default_configuration_set,
            unsubscribe_headers=unsubscribe_headers() is not None,
        ),
        store=DynamoCampaignStore(wiring.client("dynamodb", s.region), s.campaigns_table),
        loader=TemplateLoader(lambda: wiring.client("s3", s.region), environment=s.environment),
        publisher=TemplatePublisher(_ses),
        enqueuer=lambda: Enqueuer(wiring.client("sqs", s.region), send_queue_url()),
        payloads=lambda: (
            S3PayloadStore(wiring.client("s3", s.region), s.campaign_bucket) if s.campaign_bucket else None
        ),
        sources=lambda: S3ObjectSource(lambda: wiring.client("s3", s.region)),
        gate=sending_gate(_ses, s.region),
    )


@functools.cache
def message_service() -> MessageService:
    from runtime.sender.messages import MessageService, MessageServiceConfig
    from runtime.stores.requests import DynamoIdempotencyStore, DynamoQueuedMessageStore

    s = wiring.settings()
    dynamodb = wiring.client("dynamodb", s.region)
    return MessageService(
        config=MessageServiceConfig(unsubscribe_headers=unsubscribe_headers() is not None),
        sender=api_consumer,
        queue=lambda: ApiQueueOps(wiring.client("sqs", s.region), send_queue_url()),
        ledger=_ledger(dynamodb),
        queued=DynamoQueuedMessageStore(dynamodb, s.messages_table),
        idempotency=DynamoIdempotencyStore(dynamodb, s.control_table),
    )


@wiring.on_reset
def _reset() -> None:
    for cached in (send_queue_url, unsubscribe_headers, consumer, api_consumer, campaign_service, message_service):
        cached.cache_clear()


def queue_records(event: SQSEvent) -> list[QueueRecord]:
    from runtime.dlq import ORIGIN_ATTRIBUTE
    from runtime.sender.consumer import QueueRecord

    records = []
    for record in event:
        raw = record.to_dict()
        count = int((raw.get("attributes") or {}).get("ApproximateReceiveCount", "1") or 1)
        origin = ((raw.get("messageAttributes") or {}).get(ORIGIN_ATTRIBUTE) or {}).get("stringValue") or ""
        records.append(QueueRecord(raw.get("messageId", ""), record.receipt_handle, record.body, count, origin))
    return records


def invocation_deadline(event: SQSEvent) -> float | None:
    """When to stop calling SES: the Lambda's end minus time to record outcomes and re-enqueue the rest."""
    remaining = getattr(event.context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    seconds = remaining() / 1000
    return time.time() + seconds - min(RECORDING_RESERVE_SECONDS, seconds * 0.3)


@bp.on_sqs_message(queue=SEND_QUEUE, batch_size=SEND_BATCH_SIZE, name="sender")
@first_invocation_ends_cold_start
def send_batch(event: SQSEvent) -> None:
    from runtime.sender.consumer import BatchIncompleteError, summary

    result = consumer().process(queue_records(event), deadline=invocation_deadline(event))
    wiring.metrics().add("EmailsSent", result.counts.get("sent", 0), region=wiring.settings().region)
    for kind in ("suppressed", "failed"):
        if result.counts.get(kind):
            wiring.metrics().add(f"Emails{kind.capitalize()}", result.counts[kind])
    wiring.metrics().flush()
    log.info("send batch done", extra=summary(result))
    if result.incomplete:
        # successful and re-enqueued messages were deleted already; raising makes SQS redeliver only the rest
        raise BatchIncompleteError(f"{len(result.retry) + len(result.deferred)} message(s) left on the queue")


LAUNCH_RESERVE_SECONDS = 10.0


def launch_deadline(event: Any) -> float | None:
    """When a chunked launch step stops (``time.monotonic``): the Lambda's end minus time to record its progress."""
    remaining = getattr(getattr(event, "context", None), "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    seconds = remaining() / 1000
    return time.monotonic() + max(1.0, seconds - LAUNCH_RESERVE_SECONDS)


def campaign_work_waiting() -> bool:
    """Whether a campaign of this region's bucket waits for a validation step or is due for launch: the two
    ``schedule-index`` Queries ``launch_due`` starts with (made at once), through the campaign store alone, so a
    minute with nothing to launch (most minutes) never builds the campaign service — its modules and pydantic models
    cost ~100 ms of a cold start. When something waits, ``launch_due`` reads the lists again (two more Queries, that
    minute only); once the service is built (a warm container, or an API call built it), ``launch_due`` is called
    without this check."""
    s = wiring.settings()
    if not s.campaign_bucket:
        return False  # without a campaign bucket nothing is ever scheduled here (``launch_due`` returns at once)
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from runtime.stores.campaigns import DynamoCampaignStore
    from runtime.stores.schema import iso

    store = DynamoCampaignStore(wiring.client("dynamodb", s.region), s.campaigns_table)
    mine = s.campaign_bucket
    now = iso(datetime.now(UTC))
    # the two lists are independent: read at once, one round trip instead of two (an error raises as before)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="schedule") as pool:
        validating = pool.submit(store.validating)
        try:
            due = store.due(now)
        finally:
            waiting = validating.result()  # its error first, as the sequential reads raised it
    return any(r.payload_bucket == mine for r in [*waiting, *due])


@bp.schedule("rate(1 minute)", name="check_for_campaign")
@first_invocation_ends_cold_start
def check_for_campaign(event: Any) -> None:
    """Each minute: launch the due campaigns (a chunked launch continues until 10 s before this Lambda's end), then
    refresh reputation and trip the guardrails (``operate``); one failing does not stop the other."""
    try:
        if campaign_service.cache_info().currsize or campaign_work_waiting():
            launched = campaign_service().launch_due(deadline=launch_deadline(event))
            if launched:
                log.info("scheduled campaigns launched", extra={"campaigns": [c["campaign_id"] for c in launched]})
    finally:
        from chalicelib import operate

        try:
            operate.run_guardrails()
        except Exception:
            log.exception("guardrail check failed; the next minute tries again")
            raise
