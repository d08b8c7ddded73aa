"""SES event entrypoints: the SNS HTTPS webhook and the two SQS consumers (SNS -> SQS, non-raw delivery).

Every message is SNS-verified (runtime.sns) before anything is stored, then parsed (runtime.events) and applied
exactly once (runtime.ingest). Critical events (bounce, complaint, reject, subscription, rendering failure) are
applied at once; engagement events (send, delivery, open, click, delay) are batched through the engagement queue
(<= 50 records or 15 s) when ``SESAME_ENGAGEMENT_QUEUE_URL`` is set.

Webhook status codes: 200 applied / duplicate / verified-but-ignorable, 202 queued for batching, 400 not an SNS
message, 403 failed verification or untrusted topic, 503 only when a retry could succeed (SNS retries).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from chalice import BadRequestError, Blueprint, ForbiddenError, Response

from chalicelib import first_invocation_ends_cold_start, wiring
from runtime import logs

if TYPE_CHECKING:  # imported on first use below: they pull in pydantic and cryptography (cold start)
    from runtime.events.normalize import NormalizedEvent
    from runtime.ingest.engine import ApplyResult, IngestEngine
    from runtime.ingest.pipeline import Decoded
    from runtime.sns.confirm import SubscriptionConfirmer
    from runtime.sns.errors import SnsError
    from runtime.sns.verify import SnsVerifier

bp = Blueprint(__name__)
log = logs.get_logger("sesame.events")

METRIC = "SES_EVENT_PROCESSED"
CRITICAL_BATCH_SIZE = 10
ENGAGEMENT_BATCH_SIZE = 50
ENGAGEMENT_BATCH_WINDOW_SECONDS = 15
# Chalice puts the stage's env vars into os.environ before importing app.py when it deploys or packages, so the
# queue names are read at decoration time (the one accepted exception to "no env reads at import").
CRITICAL_QUEUE = os.environ.get("SESAME_CRITICAL_QUEUE", "sesame-dev-critical")
ENGAGEMENT_QUEUE = os.environ.get("SESAME_ENGAGEMENT_QUEUE", "sesame-dev-engagement")


class TransientBatchFailure(RuntimeError):
    """Raised after deleting the records that succeeded, so SQS redelivers only the ones that failed."""


# --- composition (lazy, cached per container) --------------------------------------------------------------------


@functools.cache
def _verifier() -> SnsVerifier:
    from runtime.sns.certs import CertificateStore
    from runtime.sns.verify import SnsVerifier

    s = wiring.settings()
    return SnsVerifier(
        s.sns_allowed_topic_arns, CertificateStore(s.sns_cert_dir or None), max_age_seconds=s.sns_max_age_seconds
    )


@functools.cache
def _confirmer() -> SubscriptionConfirmer:
    from runtime.sns.confirm import SubscriptionConfirmer

    s = wiring.settings()
    return SubscriptionConfirmer(s.sns_allowed_topic_arns, lambda region: wiring.client("sns", region or s.region))


@functools.cache
def _engine() -> IngestEngine:
    from runtime.ingest.engine import IngestEngine
    from runtime.stores.tracking import DynamoTrackingStore

    s = wiring.settings()
    # the store builds every request itself from parsed events: sent by DynamoDB's JSON protocol directly over the
    # botocore client's session, credentials and endpoint (runtime/stores/direct.py); what it hands back to botocore
    # takes the lean JSON wire path without client-side validation (runtime/stores/wire.py, runtime/clients.py)
    from runtime.stores.direct import DirectDynamo
    from runtime.stores.wire import lean

    client = DirectDynamo(lean(wiring.client("dynamodb", s.region, validate=False)))
    store = DynamoTrackingStore.from_settings(client, s)
    return IngestEngine(
        store,
        event_ttl_days=s.event_ttl_days,
        soft_bounce_limit=s.soft_bounce_limit,
        soft_bounce_suppress_days=s.soft_bounce_suppress_days,
        handover=_handover,
    )


@wiring.on_reset
def _reset() -> None:
    for cached in (_verifier, _confirmer, _engine):
        cached.cache_clear()


# --- shared steps -------------------------------------------------------------------------------------------------


def _json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def _count(outcome: str, n: int = 1) -> None:
    if n:
        wiring.metrics().add(METRIC, float(n), outcome=outcome)


def _reject(exc: SnsError, source: str) -> None:
    _count("rejected")
    log.warning(
        "sns message rejected",
        extra={"source": source, "reason": exc.reason, "status": exc.http_status, "error": str(exc)[:200]},
    )


def _apply(events: Sequence[NormalizedEvent]) -> ApplyResult:
    from runtime.events.models import ENGAGEMENT_TYPES

    result = _engine().apply(events)
    for outcome in ("created", "updated", "duplicate"):
        _count(outcome, result.count(outcome))
    for event in events:
        outcome = result.outcomes.get(event.event_id)
        if event.event_type in ENGAGEMENT_TYPES and outcome != "duplicate":
            continue  # engagement events are summarised per batch below
        log.info(
            "ses event",
            extra={
                "message_id": event.message_id,
                "event_type": event.event_type,
                "event_id": event.event_id,
                "outcome": outcome or "failed",
                "campaign_id": event.campaign_id or "untagged",
            },
        )
    log.info(
        "ses events applied",
        extra={
            "events": len(events),
            "created": result.count("created"),
            "updated": result.count("updated"),
            "duplicate": result.count("duplicate"),
            "failed": len(result.failed),
            "transactions": result.transactions,
        },
    )
    return result


def _handover(events: Sequence[NormalizedEvent]) -> None:
    """The engine hands the events it is about to apply to forwarding first (area "api"); raising keeps them
    unapplied, so SQS brings them back and no applied event goes unforwarded (docs/DESIGN.md "Forwarding")."""
    from chalicelib import forwarding

    sink = forwarding.event_sink()
    if sink is not None:
        sink.handover(list(events))


def _ignored(decoded: Decoded, source: str) -> None:
    _count("ignored")  # verified, but not an SES sending event (e.g. SES receiving): nothing stored or counted
    log.info(
        "verified sns notification is not a storable SES event; ignored",
        extra={"source": source, "sns_message_id": decoded.envelope.MessageId, "reason": decoded.ignored},
    )


# --- POST /webhooks/ses --------------------------------------------------------------------------------------------


@bp.route("/webhooks/ses", methods=["POST"], content_types=["text/plain", "application/json"])
def ses_webhook() -> Response:
    try:
        return _webhook(bp.current_request.raw_body or b"")
    finally:
        wiring.metrics().flush()


def _webhook(body: bytes) -> Response:
    from runtime.ingest.pipeline import decode
    from runtime.sns.errors import SnsError

    try:
        decoded = decode(_verifier(), body)
    except SnsError as exc:
        _reject(exc, "webhook")
        if exc.http_status == 400:
            raise BadRequestError(str(exc)) from exc
        if exc.http_status == 403:
            raise ForbiddenError(str(exc)) from exc
        return _json_response(503, {"Code": "ServiceUnavailable", "Message": str(exc)})

    try:
        if decoded.is_confirmation:
            confirmation = _confirmer().handle(decoded.envelope)
            return _json_response(200, {"status": confirmation.action, "type": decoded.envelope.Type})
        event = decoded.event
        if event is None:
            _ignored(decoded, "webhook")
            return _json_response(200, {"status": "ignored", "reason": decoded.ignored})
        queue_url = wiring.settings().engagement_queue_url
        if not decoded.is_critical and queue_url and _enqueue(queue_url, body):
            return _json_response(202, {"status": "queued", "event_id": event.event_id})
        result = _apply([event])
    except SnsError as exc:  # confirmation: untrusted (403) or failed in a retryable way (503)
        _reject(exc, "webhook")
        if exc.http_status == 403:
            raise ForbiddenError(str(exc)) from exc
        return _json_response(503, {"Code": "ServiceUnavailable", "Message": str(exc)})
    except Exception as exc:
        log.exception("ses event could not be applied", extra={"error": type(exc).__name__})
        return _json_response(503, {"Code": "ServiceUnavailable", "Message": "event could not be stored; retry"})
    if event.event_id in result.failed:
        return _json_response(503, {"Code": "ServiceUnavailable", "Message": "event could not be stored; retry"})
    return _json_response(200, {"status": result.outcomes.get(event.event_id, "applied"), "event_id": event.event_id})


def _enqueue(queue_url: str, body: bytes | str) -> bool:
    """Forward a verified engagement envelope to the engagement queue (re-verified there). False on failure."""
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else str(body)
    try:
        wiring.client("sqs", wiring.settings().region).send_message(QueueUrl=queue_url, MessageBody=text)
    except Exception as exc:
        log.warning("engagement queue unavailable; applying directly", extra={"error": type(exc).__name__})
        return False
    return True


# --- SQS consumers ----------------------------------------------------------------------------------------------------


@bp.on_sqs_message(queue=CRITICAL_QUEUE, batch_size=CRITICAL_BATCH_SIZE)
@first_invocation_ends_cold_start
def critical_events(event: Any) -> None:
    consume_records(event, wiring.settings().critical_queue_url)


@bp.on_sqs_message(
    queue=ENGAGEMENT_QUEUE,
    batch_size=ENGAGEMENT_BATCH_SIZE,
    maximum_batching_window_in_seconds=ENGAGEMENT_BATCH_WINDOW_SECONDS,
)
@first_invocation_ends_cold_start
def engagement_events(event: Any) -> None:
    consume_records(event, wiring.settings().engagement_queue_url)


def consume_records(records: Iterable[Any], queue_url: str) -> None:
    """Verify, parse and apply one SQS batch as one aggregated apply.

    Records that fail verification or carry nothing storable are dropped (logged, counted ``rejected``). When some
    records fail transiently, the others are deleted with DeleteMessageBatch and the handler raises, so SQS
    redelivers only the failed ones (DLQ after 3 receives).
    """
    from runtime.ingest.pipeline import decode_batch
    from runtime.sns.errors import SnsError

    batch = list(records)
    done: list[Any] = []  # processed or permanently rejected: delete if the batch fails
    transient: list[Any] = []
    pending: list[tuple[Any, NormalizedEvent]] = []
    try:
        decoded_batch = decode_batch(_verifier(), [r.body for r in batch], [_sent_at(r) for r in batch])
        for record, decoded in zip(batch, decoded_batch, strict=True):
            if isinstance(decoded, SnsError):
                _reject(decoded, "sqs")
                (transient if decoded.http_status >= 500 else done).append(record)
                continue
            if decoded.is_confirmation:
                try:
                    _confirmer().handle(decoded.envelope)
                    done.append(record)
                except SnsError as exc:
                    _reject(exc, "sqs")
                    (transient if exc.http_status >= 500 else done).append(record)
                continue
            if decoded.event is None:
                _ignored(decoded, "sqs")
                done.append(record)
                continue
            pending.append((record, decoded.event))
        if pending:
            try:
                result = _apply([event for _, event in pending])
            except Exception as exc:
                log.exception("ses event batch could not be applied", extra={"error": type(exc).__name__})
                if len(pending) == 1:
                    transient.append(pending[0][0])
                else:  # isolate the record(s) that fail, so one poison record does not take the batch to the DLQ
                    for record, event in pending:
                        try:
                            single = _apply([event])
                        except Exception as one_exc:
                            log.exception(
                                "ses event could not be applied",
                                extra={"error": type(one_exc).__name__, "message_id": event.message_id},
                            )
                            transient.append(record)
                        else:
                            (transient if event.event_id in single.failed else done).append(record)
            else:
                for record, event in pending:
                    (transient if event.event_id in result.failed else done).append(record)
    finally:
        wiring.metrics().flush()
    if transient:
        _delete(queue_url, done)
        raise TransientBatchFailure(
            f"{len(transient)} of {len(batch)} records failed transiently; they will be retried"
        )


def _sent_at(record: Any) -> float | None:
    """When the record first reached SQS, in epoch seconds, or None.

    That is ``attributes.SentTimestamp`` (epoch ms), or the earlier ``sesame_first_sent_timestamp`` message
    attribute that ``sesame dlq redrive`` sets from the DLQ copy's original enqueue time — only when its
    ``sesame_first_sent_signature`` (HMAC with the app secret ``redrive_secret`` over the SNS MessageId and that
    time) verifies: anyone who can write to the queue could otherwise replay old messages past the age limit.
    SNS_MAX_AGE_SECONDS is measured up to this moment: a record that reached the queue fresh stays valid through a
    queue backlog, retries and a redrive instead of being dropped as stale.
    """
    try:
        raw = record.to_dict()
    except AttributeError:
        return None
    candidates: list[float] = []
    with contextlib.suppress(TypeError, ValueError):
        candidates.append(int((raw.get("attributes") or {}).get("SentTimestamp")) / 1000.0)
    attributes = raw.get("messageAttributes") or {}
    if attributes:
        from runtime.dlq import FIRST_SENT_ATTRIBUTE, FIRST_SENT_SIGNATURE_ATTRIBUTE, first_arrival_verified

        first = (attributes.get(FIRST_SENT_ATTRIBUTE) or {}).get("stringValue")
        signature = (attributes.get(FIRST_SENT_SIGNATURE_ATTRIBUTE) or {}).get("stringValue")
        if first or signature:
            secret = wiring.settings().redrive_secret
            verified = first_arrival_verified(secret, str(raw.get("body") or ""), first, signature)
            if verified is not None:
                candidates.append(verified / 1000.0)
            else:
                log.warning(
                    "first-arrival attribute ignored: its signature does not verify",
                    extra={"sqs_id": raw.get("messageId"), "secret_configured": bool(secret)},
                )
    return min(candidates) if candidates else None


def _delete(queue_url: str, records: Sequence[Any]) -> None:
    if not records:
        return
    if not queue_url:
        log.warning("queue URL not configured: the whole batch will be redelivered (duplicates are harmless)")
        return
    sqs = wiring.client("sqs", wiring.settings().region)
    for start in range(0, len(records), 10):
        chunk = records[start : start + 10]
        entries = [{"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(chunk)]
        try:
            response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            log.warning("DeleteMessageBatch failed; records will be redelivered", extra={"error": type(exc).__name__})
            continue
        if response.get("Failed"):
            log.warning("DeleteMessageBatch partially failed", extra={"failed": len(response["Failed"])})
