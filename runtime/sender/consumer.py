"""The send-queue consumer: one SQS batch in, every message sent exactly once, failed with a reason, or left for
retry (and eventually the DLQ).

Per batch:

1. parse each body (``jobs.parse_job``) and claim its job (``ledger``; the claim also writes this invocation's
   in-flight mark): units already done are never sent again;
2. resolve *unknown* units — an earlier SES call for them got no answer, or an earlier invocation ended without
   recording what it sent — from SES's own Send events (``resolve``): found -> recorded as sent with SES's
   MessageId; not found -> they wait out the grace period and are sent again only then (never at once);
3. apply campaign control (``runtime.sender.control``): units of a paused campaign, or of a configuration set a
   guardrail paused, wait on the queue (re-enqueued with a delay, never sent while paused); units of a cancelled
   campaign are recorded ``cancelled`` and never sent; then drop suppressed recipients (one batched suppression read
   per campaign/list in the batch) -> ``suppressed``. The control reads and the suppression reads are made at once
   (they are independent; control decides first);
4. group units sharing sender, template and configuration set into SendBulkEmail calls (<= 50 entries, per-entry
   template data, List-Unsubscribe headers and tags, the per-recipient ``sesame_send_id`` tag), SendEmail otherwise;
   pace every call (``pacing``) and give back what SES did not accept;
5. classify failures (``errors``): only answers that prove nothing was sent lead to another send — throttling and
   transient failures are retried with backoff and then re-enqueued with a delay (a fresh message, so the receive
   count never climbs towards the DLQ); the daily quota leaves messages queued; permanent errors are recorded as
   ``failed`` with the reason; regional failures fail over to the backup region (its own configuration set). A lost
   answer is *unknown*: never retried, never failed over;
6. mark outcomes right after each SES call, then record message items and counters (``ledger.record``);
7. delete what is finished and re-enqueued. If anything must be retried through SQS, the handler raises after the
   deletes so only those messages come back (Chalice cannot report partial batch failures).

Jobs are isolated: a job whose control-table calls fail (after bounded retries) is left for SQS redelivery on its
own; the other jobs of the batch finish.
"""

from __future__ import annotations

import functools
import hashlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.emails import mask_email, recipient_hash
from runtime.logs import get_logger
from runtime.sender.errors import Classified, classify, classify_bulk_status
from runtime.sender.headers import (
    HeaderError,
    UnsubscribeHeaders,
    inject_raw_headers,
    merge_headers,
    producer_list_unsubscribe,
)
from runtime.sender.jobs import CampaignMessage, JobError, SendJob, Unit, parse_job, rebuild_job, units_of
from runtime.sender.ledger import (
    Attribution,
    JobBusyError,
    Ledger,
    Outcome,
    Window,
    local_message_id,
    send_id,
)
from runtime.sender.pacing import Pacer
from runtime.sender.resolve import SEND_ID_TAG, InMemorySendResolver, SendResolver
from runtime.sender.ses_models import MAX_BULK_ENTRIES, MAX_HEADERS
from runtime.sender.tags import sanitise_tags
from runtime.stores.campaigns import CampaignExistsError
from runtime.stores.suppressions import SuppressionStore

log = get_logger(__name__)

MAX_TRANSIENT_ATTEMPTS = 8  # re-enqueues for non-throttling transient failures before giving up as failed
INLINE_RETRIES = 2  # throttled calls retried inside the invocation before re-enqueuing
MAX_DELAY = 900  # SQS DelaySeconds limit
PAUSED_DELAY = 120  # default: a paused campaign's units look again this often (one control read, one SQS send)
QUOTA_VISIBILITY = 3600


@dataclass(frozen=True, slots=True)
class QueueRecord:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int = 1
    origin_id: str = ""  # the MessageId it had when first enqueued, if a DLQ redrive re-sent it (runtime/dlq.py)

    @property
    def key(self) -> str:
        """What identifies the message across redrives: a bare SendEmail line's job id is ``sqs-<key>``."""
        return self.origin_id or self.message_id


class QueueOps(Protocol):
    def delete(self, records: Sequence[QueueRecord]) -> list[str]:
        """DeleteMessageBatch; returns ids that could not be deleted."""
        ...

    def change_visibility(self, record: QueueRecord, seconds: int) -> None: ...

    def requeue(self, body: str, delay_seconds: int) -> None: ...


# The records below are plain slotted classes, not dataclasses: every sender cold start builds them at import, and a
# dataclass compiles its generated methods then (~0.3-0.5 ms a class). None is compared or hashed.


def _same_name(name: str | None, backup: bool) -> str:
    return name or ""


class SenderConfig:
    __slots__ = (
        "backup_region",
        "configuration_set",
        "default_from",
        "failover_cooldown",
        "lease_seconds",
        "parallel_sends",
        "paused_delay",
        "region",
        "unknown_grace",
        "warmup_sets",
    )

    def __init__(
        self,
        region: str,
        backup_region: str = "",
        default_from: str = "",
        configuration_set: Callable[[str | None, bool], str] = _same_name,
        # the logical configuration sets of the warm-up pool (SESAME_WARMUP_CONFIGURATION_SETS): only their sends
        # are capped by the IP warm-up ramp; transactional sets are capped by the account quota only
        warmup_sets: frozenset[str] = frozenset(),
        lease_seconds: float = 300.0,
        failover_cooldown: float = 30.0,
        unknown_grace: float = 900.0,  # how long an unknown unit waits for its Send event before it is sent again
        paused_delay: int = PAUSED_DELAY,  # seconds a paused campaign's (or configuration set's) units wait per look
        # Single-recipient SendEmail calls made at once: up to this many are paced as one block (one reservation)
        # and made concurrently at the granted instant, like one SendBulkEmail. 1 = one reservation and one call at
        # a time.
        parallel_sends: int = 1,
    ) -> None:
        self.region = region
        self.backup_region = backup_region
        self.default_from = default_from
        self.configuration_set = configuration_set
        self.warmup_sets = warmup_sets
        self.lease_seconds = lease_seconds
        self.failover_cooldown = failover_cooldown
        self.unknown_grace = unknown_grace
        self.paused_delay = paused_delay
        self.parallel_sends = parallel_sends


class BatchResult:
    __slots__ = ("counts", "deferred", "finished", "outcomes", "requeued", "resolved", "retry", "ses_calls")

    def __init__(self) -> None:
        self.finished: list[str] = []  # SQS ids done (sent/failed/suppressed)
        self.requeued: list[str] = []  # replaced by a delayed copy
        self.deferred: list[str] = []  # visibility extended (daily quota)
        self.retry: list[str] = []  # left for SQS redelivery
        self.counts: dict[str, int] = defaultdict(int)  # sent, failed, suppressed, unknown
        self.ses_calls = 0
        self.resolved = 0  # unknown units found accepted through their Send events
        self.outcomes: dict[str, dict[str, Outcome]] = {}  # job id -> unit id -> outcome (known now)

    @property
    def incomplete(self) -> bool:
        return bool(self.retry or self.deferred)


class BatchIncompleteError(RuntimeError):
    """Raised by the Lambda handler so SQS redelivers the messages left on the queue (the rest were deleted)."""


class _Pending:
    """A unit waiting for a send, with everything resolved for it."""

    __slots__ = ("from_address", "headers", "job", "tags", "unit")

    def __init__(
        self, unit: Unit, job: SendJob, headers: list[dict[str, str]], tags: list[dict[str, str]], from_address: str
    ) -> None:
        self.unit = unit
        self.job = job
        self.headers = headers
        self.tags = tags
        self.from_address = from_address


class _JobWork:
    __slots__ = (
        "broken",
        "done",
        "erased",
        "job",
        "new",
        "record",
        "recorded",
        "screened",
        "stale",
        "units",
        "unknown",
        "verdicts",
        "waiting",
    )

    def __init__(
        self,
        record: QueueRecord,
        job: SendJob,
        units: list[Unit],
        done: dict[str, Outcome],
        recorded: frozenset[str],
        *,
        unknown: dict[str, Window],
        stale: Window | None,
    ) -> None:
        self.record = record
        self.job = job
        self.units = units
        self.done = done
        self.recorded = recorded
        self.new: dict[str, Outcome] = {}
        self.screened: dict[str, Outcome] = {}  # suppressed/failed before any SES call
        self.verdicts: dict[str, Classified] = {}  # units still unsent, why
        self.erased: set[str] = set()  # suppressed units whose recipient was erased (GDPR)
        self.unknown = unknown  # persisted lost answers (units without an outcome)
        self.stale = stale  # an earlier invocation ended unclean: units without an outcome may have been sent
        self.waiting: dict[str, float] = {}  # unknown units -> when to look again
        self.broken = False  # a job-record write failed: stop, leave the job for SQS redelivery (in-flight mark kept)

    def settled(self, unit_id: str) -> bool:
        return unit_id in self.done or unit_id in self.new or unit_id in self.waiting


class _Attempt:
    __slots__ = ("failing", "regional", "used")

    def __init__(self, failing: list[_Pending], regional: Classified | None, used: int) -> None:
        self.failing = failing  # regionally failed (try the backup)
        self.regional = regional
        self.used = used  # recipients SES accepted, or may have accepted (lost answer), out of the reservation


def _all_at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's answer, or the exception it raised, in order; the calls run concurrently (boto3 clients are
    thread-safe) when there are several: the first on the calling thread, the others on a thread each."""

    def answer(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            return exc

    if len(calls) <= 1:
        return [answer(call) for call in calls]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(calls) - 1, 16), thread_name_prefix="screen") as pool:
        others = [pool.submit(answer, call) for call in calls[1:]]
        first = answer(calls[0])
        return [first, *(future.result() for future in others)]


class _Fetch:
    """One call started on its own thread; :meth:`result` waits for it, then returns its answer or raises its error."""

    __slots__ = ("_answer", "_error", "_thread")

    def __init__(self, call: Callable[[], Any]) -> None:
        import threading

        self._answer: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), name="sender-fetch", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._answer = call()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._answer


class SenderConsumer:
    def __init__(
        self,
        *,
        config: SenderConfig,
        ses: Callable[[str], Any],
        suppressions: SuppressionStore,
        ledger: Ledger,
        pacer: Pacer,
        queue: QueueOps,
        headers: UnsubscribeHeaders | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        campaigns: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        resolver: SendResolver | None = None,
        controls: Callable[[set[str]], dict[str, str]] | None = None,
        paused_config_sets: Callable[[], Collection[str]] | None = None,
        headers_source: Callable[[], UnsubscribeHeaders | None] | None = None,
    ) -> None:
        """``controls``: campaign id -> ``paused`` | ``cancelled`` for the campaigns that have a control (one read per
        batch); ``paused_config_sets``: configuration sets a guardrail paused (their units wait like a paused
        campaign's). ``headers_source`` (instead of ``headers``): builds the unsubscribe headers on the first batch,
        on its own thread while the batch's jobs are claimed (its secrets are an SSM read on a cold start); if it
        fails, the claimed jobs are released untouched (nothing was sent) and left on the queue, and the next batch
        asks again."""
        self.config = config
        self._ses = ses
        self._suppressions = suppressions
        self._ledger = ledger
        self._pacer = pacer
        self._queue = queue
        self._headers = headers
        self._headers_source = headers_source
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._campaigns = campaigns
        self._resolver = resolver if resolver is not None else InMemorySendResolver()
        self._controls = controls
        self._paused_config_sets = paused_config_sets
        self._events_pending: bool | None = None  # asked once per batch
        self._primary_down_until = 0.0
        self._quota_hit: Classified | None = None  # SES said the daily quota is exhausted (set by _attempt)
        self._deadline: float | None = None
        self.owner = uuid.uuid4().hex

    # -- the batch -------------------------------------------------------------------------------------------
    def process(self, records: Sequence[QueueRecord], deadline: float | None = None) -> BatchResult:
        """Handle one SQS batch. ``deadline`` (epoch seconds, from the Lambda's remaining time) stops new SES calls
        in time to record and re-enqueue what was not sent."""
        self._deadline = deadline
        self.owner = uuid.uuid4().hex[:16]  # per invocation: a retried claim is ours, an older mark is not
        self._events_pending = None
        lease = self.config.lease_seconds
        if deadline is not None:  # the lease need not outlive the invocation by much: a crash is recovered sooner
            lease = min(lease, max(60.0, deadline - self._clock() + 60.0))
        result = BatchResult()
        work: list[_JobWork] = []
        fetch = _Fetch(self._headers_source) if self._headers_source is not None else None
        for record in records:
            try:
                job = parse_job(record.body, record.key)
            except CampaignMessage as message:
                getattr(result, self._launch_campaign(record, message.data)).append(record.message_id)
                continue
            except JobError as exc:
                log.error(
                    "unparseable send request left for the DLQ", extra={"sqs_id": record.message_id, "error": str(exc)}
                )
                result.retry.append(record.message_id)
                continue
            if any(w.job.job_id == job.job_id for w in work):
                # two copies of one job in a batch (e.g. a re-enqueued copy and a redelivered original): the
                # second waits; by then the job record shows what the first one sent
                result.retry.append(record.message_id)
                continue
            try:
                state = self._ledger.claim(job.job_id, self.owner, lease)
            except JobBusyError:
                result.retry.append(record.message_id)
                continue
            except Exception as exc:  # the job record is unavailable: this job is retried alone
                log.warning(
                    "job record unavailable; job left for redelivery",
                    extra={"job_id": job.job_id, "error": type(exc).__name__},
                )
                result.retry.append(record.message_id)
                continue
            if job.attempt < state.copy:  # an outdated duplicate of a re-enqueued copy: the live copy has it all
                self._release_lease(job.job_id, clean=state.stale is None)
                result.finished.append(record.message_id)
                continue
            work.append(
                _JobWork(
                    record,
                    job,
                    units_of(job),
                    dict(state.done),
                    state.recorded,
                    unknown=dict(state.unknown),
                    stale=state.stale,
                )
            )

        if fetch is not None and not self._await_headers(fetch, work, result):
            return result
        self._resolve(work, result)
        pending = self._screen(work, result)
        self._send_all(pending, work, result)
        self._finish(work, result)
        return result

    def _await_headers(self, fetch: _Fetch, work: list[_JobWork], result: BatchResult) -> bool:
        """The unsubscribe headers read alongside the claims. Without them no job of the batch is worked on: each
        claimed job is released as a job that was claimed and not worked on, and left for redelivery."""
        try:
            self._headers = fetch.result()
        except Exception as exc:
            log.warning(
                "unsubscribe headers unavailable; claimed jobs left for redelivery",
                extra={"jobs": len(work), "error": type(exc).__name__},
            )
            for w in work:
                self._release_lease(w.job.job_id, clean=w.stale is None)
                result.retry.append(w.record.message_id)
            return False
        self._headers_source = None
        return True

    def _launch_campaign(self, record: QueueRecord, data: dict[str, Any]) -> str:
        """A whole Campaign Candidate put on the send queue: hand it to the campaign service (templates, expansion,
        enqueue or schedule). Without an id it gets one derived from the SQS message id, so a redelivery is
        recognised as the same campaign."""
        # only campaign messages need the campaign models and templates (kept off the send path's cold start)
        from runtime.sender.campaign import CampaignError
        from runtime.sender.templates import TemplateSyncError

        if self._campaigns is None:
            log.error("campaign message but no campaign service configured", extra={"sqs_id": record.message_id})
            return "retry"
        if not data.get("campaign_id"):
            data = {**data, "campaign_id": "q-" + hashlib.sha256(record.key.encode()).hexdigest()[:24]}
        try:
            answer = self._campaigns(data)
        except CampaignExistsError:
            return "finished"  # submitted by an earlier delivery of this message
        except CampaignError as exc:
            log.error(
                "invalid campaign on the send queue left for the DLQ",
                extra={"sqs_id": record.message_id, "error": str(exc)[:1000]},
            )
            return "retry"
        except TemplateSyncError as exc:
            log.warning(
                "campaign templates not stored; will retry", extra={"sqs_id": record.message_id, "error": str(exc)}
            )
            return "retry"
        if answer.get("complete") is False:
            log.error(
                "campaign from the send queue partly not enqueued",
                extra={"campaign_id": data["campaign_id"], "jobs": answer.get("not_enqueued_jobs")},
            )
        return "finished"

    # -- unknown units ---------------------------------------------------------------------------------------
    def _resolve(self, work: list[_JobWork], result: BatchResult) -> None:
        """Units that may have been accepted by SES without sesame learning it: a persisted lost answer, or any unit
        without an outcome when an earlier invocation left its in-flight mark. Look for their Send events first;
        re-send only what SES never accepted, once the grace period has passed (at once for ``at_least_once``)."""
        now = self._clock()
        grace = self.config.unknown_grace
        for w in work:
            suspects: dict[str, Window] = {}
            for unit in w.units:
                if unit.unit_id in w.done:
                    continue
                window = w.unknown.get(unit.unit_id)
                if w.stale is not None:
                    window = w.stale.merge(window)
                if window is not None:
                    suspects[unit.unit_id] = window
            if not suspects:
                continue
            found: dict[str, Outcome] = {}
            keep: dict[str, Window] = {}
            for unit in w.units:
                window = suspects.get(unit.unit_id)
                if window is None:
                    continue
                if w.job.at_least_once:
                    continue  # transactional: sent again now; a duplicate is preferred to a delay
                try:
                    accepted = self._resolver.find(
                        send_id(w.job.job_id, unit.unit_id),
                        [unit.recipient_hash, *(recipient_hash(a) for a in unit.recipients[1:])],
                        window.since,
                    )
                except Exception as exc:
                    log.warning("send lookup failed; will look again", extra={"error": type(exc).__name__})
                    w.waiting[unit.unit_id] = now + min(grace, 60.0)
                    keep[unit.unit_id] = window
                    continue
                if accepted is not None:
                    region = self._region_of(unit, accepted.config_set, window.region)
                    found[unit.unit_id] = Outcome("sent", accepted.message_id, region)
                    continue
                due = window.until + grace
                if now >= due and not self._events_may_be_parked():
                    log.info(
                        "unknown send never accepted by SES; sending again",
                        extra={"job_id": w.job.job_id, "unit": unit.unit_id},
                    )
                    continue
                w.waiting[unit.unit_id] = due if now < due else now + min(grace, 300.0)
                keep[unit.unit_id] = window
            keep = {u: win for u, win in keep.items() if w.unknown.get(u) != win}
            try:
                if found:
                    self._ledger.mark_done(w.job.job_id, found)
                if keep:
                    self._ledger.mark_unknown(w.job.job_id, keep)
            except Exception as exc:
                self._break(w, exc)
                continue
            w.new.update(found)
            result.resolved += len(found)
            for unit_id in w.waiting:
                w.verdicts[unit_id] = Classified("unknown", "AwaitingSendEvent", "SES answer lost; waiting")

    def _region_of(self, unit: Unit, config_set: str, fallback: str) -> str:
        """The region a resolved unit was sent in, from the configuration set SES reported for it."""
        if (
            config_set
            and self.config.backup_region
            and config_set == self.config.configuration_set(unit.config_set, True)
        ):
            return self.config.backup_region
        if config_set and config_set == self.config.configuration_set(unit.config_set, False):
            return self.config.region
        return fallback

    def _events_may_be_parked(self) -> bool:
        if self._events_pending is None:
            try:
                self._events_pending = self._resolver.events_pending()
            except Exception:
                self._events_pending = True
        return self._events_pending

    def _break(self, w: _JobWork, exc: BaseException) -> None:
        """A write to the job record failed after its retries: stop working on the job. Its in-flight mark stays, so
        the redelivery treats what this invocation may have sent as unknown and resolves it from Send events."""
        if not w.broken:
            log.warning(
                "job record write failed; job left for redelivery",
                extra={"job_id": w.job.job_id, "error": type(exc).__name__},
            )
        w.broken = True

    # -- suppression and resolution --------------------------------------------------------------------------
    def _control_reads(self, todo: list[tuple[_JobWork, Unit]]) -> list[Callable[[], Any]]:
        """The reads campaign control needs: the batch's campaigns' controls, the paused configuration sets."""
        campaign_ids = {u.campaign_id for _, u in todo if u.campaign_id}
        reads: list[Callable[[], Any]] = []
        if self._controls is not None and campaign_ids:
            controls = self._controls
            reads.append(lambda: ("controls", controls(campaign_ids)))
        if self._paused_config_sets is not None and todo:
            paused = self._paused_config_sets
            reads.append(lambda: ("sets", paused()))
        return reads

    def _controlled(
        self, todo: list[tuple[_JobWork, Unit]], answers: list[Any] | BaseException
    ) -> list[tuple[_JobWork, Unit]]:
        """Campaign control: paused units get a ``paused`` verdict (they wait), cancelled ones the ``cancelled``
        outcome (never sent); returns the units that may go on. A failed control read (``answers`` is its error)
        leaves the units waiting."""
        controls: dict[str, str] = {}
        paused_sets: Collection[str] = ()
        if isinstance(answers, BaseException):  # nothing is sent without knowing it is allowed; they come back later
            log.warning("campaign control read failed; units re-enqueued", extra={"error": type(answers).__name__})
            for w, unit in todo:
                w.verdicts[unit.unit_id] = Classified("transient", "ControlUnavailable", "control read failed")
            return []
        for kind, answer in answers:
            if kind == "controls":
                controls = answer
            else:
                paused_sets = answer
        if not controls and not paused_sets:
            return todo
        going: list[tuple[_JobWork, Unit]] = []
        for w, unit in todo:
            control = controls.get(unit.campaign_id or "")
            if control == "cancelled":
                w.screened[unit.unit_id] = Outcome(
                    "cancelled", local_message_id(w.job.job_id, unit.unit_id), "", "campaign cancelled"
                )
            elif control == "paused":
                w.verdicts[unit.unit_id] = Classified("paused", "CampaignPaused", "campaign paused; waiting")
            elif paused_sets and (
                (unit.config_set or "") in paused_sets
                or self.config.configuration_set(unit.config_set, False) in paused_sets
            ):
                w.verdicts[unit.unit_id] = Classified("paused", "ConfigurationSetPaused", "guardrail; waiting")
            else:
                going.append((w, unit))
        return going

    def _screen(self, work: list[_JobWork], result: BatchResult) -> list[_Pending]:
        todo = [(w, u) for w in work if not w.broken for u in w.units if not w.settled(u.unit_id)]
        hashes_of = self._hashes(todo)
        by_scope: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
        for _, unit in todo:
            by_scope[(unit.list_name, unit.campaign_id)].update(hashes_of[a] for a in unit.recipients)
        # The control reads and the suppression lookups (one per campaign/list) do not depend on each other: they
        # are made at once, so their latencies do not add up (a paused or cancelled unit's lookup is then wasted,
        # never used). Control decides first: a unit it holds or cancels is never sent, whatever its lookup says.
        controls = self._control_reads(todo)
        lookups = [
            functools.partial(self._suppressions.suppressed, hashes, list_name=list_name, campaign_id=campaign_id)
            for (list_name, campaign_id), hashes in by_scope.items()
        ]
        # so are the first reads pacing makes for the sends that follow (the account limits on a cold start): made
        # now, they cost no round trip of their own; their answers stay in the pacer (unused if nothing goes)
        ahead = self._pacer.reads_ahead(self._regions()[0][0]) if todo else []
        answers = _all_at_once([*controls, *lookups, *ahead])[: len(controls) + len(lookups)]
        failed = next((a for a in answers[: len(controls)] if isinstance(a, BaseException)), None)
        todo = self._controlled(todo, failed if failed is not None else answers[: len(controls)])
        blocked: dict[tuple[str | None, str | None], dict[str, str]] = {}
        unavailable: set[tuple[str | None, str | None]] = set()
        erased: set[str] = set()
        for scope, found in zip(by_scope, answers[len(controls) :], strict=True):
            if isinstance(found, BaseException):  # only the units of this scope wait; the rest of the batch goes on
                log.warning("suppression lookup failed; units re-enqueued", extra={"error": type(found).__name__})
                unavailable.add(scope)
                continue
            blocked[scope] = {h: s.scope for h, s in found.items()}
            erased.update(h for h, s in found.items() if s.erased_at)
        pending: list[_Pending] = []
        for w, unit in todo:
            if (unit.list_name, unit.campaign_id) in unavailable:
                w.verdicts[unit.unit_id] = Classified("transient", "SuppressionsUnavailable", "lookup failed")
                continue
            scopes = blocked.get((unit.list_name, unit.campaign_id), {})
            if scopes:
                kept_scope = self._drop_suppressed(unit, scopes, hashes_of)
                if kept_scope is not None:
                    if unit.recipient_hash in erased:
                        w.erased.add(unit.unit_id)
                    w.screened[unit.unit_id] = Outcome(
                        "suppressed", local_message_id(w.job.job_id, unit.unit_id), "", kept_scope
                    )
                    continue
            from_address = unit.addressing.get("FromEmailAddress") or self.config.default_from
            if not from_address and not unit.addressing.get("FromEmailAddressIdentityArn"):
                reason = "BadRequest: FromEmailAddress missing and SESAME_DEFAULT_FROM is not set"
                w.screened[unit.unit_id] = Outcome("failed", local_message_id(w.job.job_id, unit.unit_id), "", reason)
                continue
            try:
                headers = self._unsubscribe_headers(unit)
            except HeaderError as exc:
                w.screened[unit.unit_id] = Outcome("failed", local_message_id(w.job.job_id, unit.unit_id), "", str(exc))
                continue
            if len(headers) > MAX_HEADERS:
                # SES takes at most 15 headers; botocore would refuse the whole call, failing every unit grouped
                # into the same SendBulkEmail with this one
                reason = (
                    f"BadRequest: {len(headers)} message headers (with List-Unsubscribe); SES accepts {MAX_HEADERS}"
                )
                w.screened[unit.unit_id] = Outcome("failed", local_message_id(w.job.job_id, unit.unit_id), "", reason)
                continue
            tags = sanitise_tags(unit.tags, campaign_id=unit.campaign_id, list_name=unit.list_name)
            tags = [t for t in tags if t["Name"] != SEND_ID_TAG]
            tags.append({"Name": SEND_ID_TAG, "Value": send_id(w.job.job_id, unit.unit_id)})
            pending.append(_Pending(unit, w.job, headers, tags, from_address))
        return pending

    @staticmethod
    def _hashes(todo: list[tuple[_JobWork, Unit]]) -> dict[str, str]:
        """Recipient hash of every address in the batch, computed once (the primary's is the unit's own)."""
        hashes: dict[str, str] = {}
        for _, unit in todo:
            recipients = unit.recipients
            if recipients:
                hashes[recipients[0]] = unit.recipient_hash
            for address in recipients[1:]:
                if address not in hashes:
                    hashes[address] = recipient_hash(address)
        return hashes

    @staticmethod
    def _drop_suppressed(unit: Unit, scopes: dict[str, str], hashes_of: dict[str, str]) -> str | None:
        """Remove suppressed addresses from the destination; return the scope if nobody is left."""
        first_scope: str | None = None
        kept: dict[str, list[str]] = {}
        for kind, addresses in unit.destination.items():
            remaining = []
            for address in addresses:
                scope = scopes.get(hashes_of.get(address) or recipient_hash(address))
                if scope is None:
                    remaining.append(address)
                else:
                    first_scope = first_scope or scope
            if remaining:
                kept[kind] = remaining
        if not kept:
            return first_scope or "ALL"
        unit.set_destination(kept)
        return None

    def _unsubscribe_headers(self, unit: Unit) -> list[dict[str, str]]:
        extra: list[dict[str, str]] = []
        raw = unit.content.get("Data") if unit.kind == "raw" else None
        if self._headers is not None and not producer_list_unsubscribe(unit.headers, raw):
            extra = self._headers.build(
                unit.recipient_hash,
                campaign_id=unit.campaign_id,
                list_name=unit.list_name,
                recipients=unit.recipients,  # one token = one person: several recipients are refused (HeaderError)
            )
        return merge_headers(unit.headers, extra) if unit.kind != "raw" else extra

    # -- sending ---------------------------------------------------------------------------------------------
    def _send_all(self, pending: list[_Pending], work: list[_JobWork], result: BatchResult) -> None:
        by_job = {w.job.job_id: w for w in work}
        groups: dict[str, list[_Pending]] = defaultdict(list)
        singles: list[list[_Pending]] = []
        for p in pending:
            key = p.unit.group_key()
            key = None if key is None else key + "|" + p.from_address
            if key is None:
                singles.append([p])
            else:
                groups[key].append(p)
        calls: list[list[_Pending]] = list(singles)
        for members in groups.values():
            for start in range(0, len(members), MAX_BULK_ENTRIES):
                calls.append(members[start : start + MAX_BULK_ENTRIES])
        block = self.config.parallel_sends
        if block > 1:  # SendEmail calls (singles, groups of one) paced and made together, blocks first
            lone = [call[0] for call in calls if len(call) == 1]
            bulk = [call for call in calls if len(call) > 1]
            calls = []
            for side in (False, True):  # a block is all warm-up pool or none: the ramp caps only the pool's sends
                same = [p for p in lone if self._in_warmup_pool(p) is side]
                calls += [same[start : start + block] for start in range(0, len(same), block)]
            calls += bulk
        stop: Classified | None = None  # once the quota is exhausted, nothing else is attempted
        pool_stop: Classified | None = None  # once the warm-up ramp's day is spent, nothing else of the pool
        while calls:
            chunk = [p for p in calls.pop(0) if not by_job[p.job.job_id].broken]
            if not chunk:
                continue
            if stop is None and self._deadline is not None and self._clock() >= self._deadline:
                stop = Classified("throttled", "OutOfTime", "invocation ending; re-enqueued")
            pool = any(self._in_warmup_pool(p) for p in chunk)
            if stop is not None or (pool and pool_stop is not None):
                self._leave(chunk, stop or pool_stop or Classified("quota", "DailyQuotaGuard", ""), by_job)
                continue
            verdict, rest = self._send_chunk(chunk, by_job, result)
            if verdict is not None and pool and verdict.code == "DailyQuotaGuard":
                pool_stop = verdict  # the ramp capped the pool: transactional sends go on under the quota
            else:
                stop = verdict
            if rest:
                calls.insert(0, rest)

    def _in_warmup_pool(self, p: _Pending) -> bool:
        """Whether ``p`` is sent through a configuration set of the warm-up pool (its logical or physical name)."""
        pool = self.config.warmup_sets
        if not pool:
            return False
        name = p.unit.config_set
        if name in pool:
            return True
        physical = self.config.configuration_set(name, False)
        return any(self.config.configuration_set(logical, False) == physical for logical in pool)

    def _regions(self) -> list[tuple[str, bool]]:
        primary = (self.config.region, False)
        backup = [(self.config.backup_region, True)] if self.config.backup_region else []
        if backup and self._clock() < self._primary_down_until:
            return [*backup, primary]
        return [primary, *backup]

    def _send_chunk(
        self, chunk: list[_Pending], by_job: dict[str, _JobWork], result: BatchResult
    ) -> tuple[Classified | None, list[_Pending]]:
        """Send as much of ``chunk`` as pacing allows; returns (quota stop, units not yet attempted)."""
        regional: Classified | None = None
        rest: list[_Pending] = []
        for region, backup in self._regions():
            sizes = [max(1, len(p.unit.recipients)) for p in chunk]
            try:
                reservation = self._pacer.acquire(
                    region, sum(sizes), minimum=sizes[0], warmup=any(self._in_warmup_pool(p) for p in chunk)
                )
            except Exception as exc:  # the rate item is unavailable: these units are re-enqueued, nothing is sent
                log.warning("pacing unavailable; units re-enqueued", extra={"error": type(exc).__name__})
                self._leave(chunk + rest, Classified("throttled", "PacingUnavailable", str(exc)[:200]), by_job)
                return None, []
            if reservation.exhausted:
                verdict = Classified("quota", "DailyQuotaGuard", f"daily sending cap reached in {region}")
                self._leave(chunk + rest, verdict, by_job)
                return verdict, []
            if not reservation.granted:
                self._leave(chunk + rest, Classified("throttled", "PacingWait", "no send capacity soon"), by_job)
                return None, []
            take, total = 0, 0
            while take < len(chunk) and total + sizes[take] <= reservation.granted:
                total += sizes[take]
                take += 1
            chunk, rest = chunk[:take], chunk[take:] + rest
            attempt = self._attempt(chunk, region, backup, by_job, result)
            self._pacer.settle(region, reservation, attempt.used)
            failing, regional = attempt.failing, attempt.regional
            if self._quota_hit is not None:  # nothing else is attempted in this batch; the rest stays queued
                self._leave(failing + rest, self._quota_hit, by_job)
                return self._quota_hit, []
            if not failing:
                return None, rest
            if not backup:
                self._primary_down(region, regional)
            chunk = failing
        if regional is not None:
            self._leave(chunk, regional, by_job)
        return None, rest

    def _primary_down(self, region: str, why: Classified | None) -> None:
        self._primary_down_until = self._clock() + self.config.failover_cooldown
        log.warning(
            "SES region failing; failing over",
            extra={"region": region, "backup_region": self.config.backup_region, "error": why.reason if why else ""},
        )

    def _attempt(
        self, part: list[_Pending], region: str, backup: bool, by_job: dict[str, _JobWork], result: BatchResult
    ) -> _Attempt:
        """Send ``part`` in ``region``, retrying throttled entries inline; returns the regionally failed units.

        Only an answer proving nothing was sent leads to another call. A lost answer makes its units *unknown*:
        their window is written to the job record at once and they wait for their Send events."""
        remaining = part
        self._quota_hit = None
        used = 0
        for attempt in range(INLINE_RETRIES + 1):
            result.ses_calls += 1
            started = self._clock()
            answers = self._call(remaining, region, backup)
            retry: list[_Pending] = []
            failing: list[_Pending] = []
            regional: Classified | None = None
            done_by_job: dict[str, dict[str, Outcome]] = defaultdict(dict)
            unknown_by_job: dict[str, dict[str, Window]] = defaultdict(dict)
            lost: Classified | None = None
            for p, answer in zip(remaining, answers, strict=True):
                job_id, unit_id = p.job.job_id, p.unit.unit_id
                if isinstance(answer, str):
                    done_by_job[job_id][unit_id] = Outcome("sent", answer, region)
                    used += max(1, len(p.unit.recipients))
                elif answer.verdict == "unknown":
                    lost = lost or answer
                    used += max(1, len(p.unit.recipients))
                    result.counts["unknown"] += 1
                    if p.job.at_least_once:  # transactional: no waiting, sent again on the next attempt
                        self._leave([p], Classified("transient", answer.code, answer.message), by_job)
                    else:
                        unknown_by_job[job_id][unit_id] = Window(started, self._clock(), region)
                elif answer.verdict == "regional":
                    failing.append(p)
                    regional = regional or answer
                elif answer.verdict == "quota":
                    self._quota_hit = self._quota_hit or answer
                    self._leave([p], answer, by_job)
                elif answer.verdict == "permanent":
                    failed_id = local_message_id(job_id, unit_id)
                    done_by_job[job_id][unit_id] = Outcome("failed", failed_id, region, answer.reason)
                elif answer.verdict in ("throttled", "transient") and attempt < INLINE_RETRIES:
                    retry.append(p)
                else:
                    self._leave([p], answer, by_job)
            self._persist(done_by_job, unknown_by_job, by_job)
            retry = [p for p in retry if not by_job[p.job.job_id].broken]
            if lost is not None:
                log.warning(
                    "SES answer lost; units wait for their Send events",
                    extra={"region": region, "error": lost.code, "units": sum(map(len, unknown_by_job.values()))},
                )
                if not backup:
                    self._primary_down(region, lost)  # new work goes to the backup; the unknown units wait
            if self._quota_hit is not None:
                return _Attempt(failing + retry, regional, used)  # the caller leaves them queued
            if failing:
                return _Attempt(failing + retry, regional, used)  # throttled entries follow the failover
            if not retry:
                return _Attempt([], None, used)
            self._sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + self._rng.random()))
            remaining = retry
        return _Attempt([], None, used)

    def _persist(
        self,
        done_by_job: dict[str, dict[str, Outcome]],
        unknown_by_job: dict[str, dict[str, Window]],
        by_job: dict[str, _JobWork],
    ) -> None:
        for job_id in dict.fromkeys([*done_by_job, *unknown_by_job]):
            w = by_job[job_id]
            outcomes = done_by_job.get(job_id, {})
            windows = unknown_by_job.get(job_id, {})
            try:
                self._ledger.mark_done(job_id, outcomes)
                self._ledger.mark_unknown(job_id, windows)
            except Exception as exc:
                self._break(w, exc)
                continue
            w.new.update(outcomes)
            for unit_id in outcomes:
                w.verdicts.pop(unit_id, None)
            now = self._clock()
            for unit_id, window in windows.items():
                w.unknown[unit_id] = window
                w.waiting[unit_id] = now + self.config.unknown_grace
                w.verdicts[unit_id] = Classified("unknown", "AnswerLost", "SES answer lost; waiting for its events")

    def _leave(self, chunk: list[_Pending], verdict: Classified, by_job: dict[str, _JobWork]) -> None:
        for p in chunk:
            by_job[p.job.job_id].verdicts[p.unit.unit_id] = verdict

    # -- SES calls -------------------------------------------------------------------------------------------
    @staticmethod
    def _is_bulk(part: list[_Pending]) -> bool:
        """A SendBulkEmail: two or more units of one group (a block of singles holds units of different groups)."""
        if len(part) < 2 or part[0].unit.group_key() is None:
            return False
        first = (part[0].unit.group_key(), part[0].from_address)
        return all((p.unit.group_key(), p.from_address) == first for p in part[1:])

    def _call(self, part: list[_Pending], region: str, backup: bool) -> list[str | Classified]:
        """One SES call — or a block of SendEmail calls made concurrently (the client never retries by itself);
        each unit's MessageId or why it was not sent."""
        try:
            client = self._ses(region)
            bulk = self._is_bulk(part)
            if bulk:
                args = self.bulk_args(part, self.config.configuration_set(part[0].unit.config_set, backup))
        except Exception as exc:  # nothing reached SES
            return [Classified("transient", type(exc).__name__, str(exc)[:200])] * len(part)
        if not bulk:
            return self._send_each(client, part, backup)
        try:
            response = client.send_bulk_email(**args)
        except Exception as exc:
            return [classify(exc)] * len(part)
        results = response.get("BulkEmailEntryResults") or []
        if len(results) != len(part):  # an answer that cannot be matched to the entries: any of them may be sent
            lost = Classified("unknown", "UnmatchedBulkAnswer", f"{len(results)} results for {len(part)} entries")
            return [lost] * len(part)
        answers: list[str | Classified] = []
        for entry in results:
            if entry.get("Status") == "SUCCESS" and entry.get("MessageId"):
                answers.append(str(entry["MessageId"]))
            elif entry.get("Status") == "SUCCESS":  # accepted, but its id is missing: Send events will tell
                answers.append(Classified("unknown", "MissingMessageId", "bulk entry accepted without a MessageId"))
            else:
                answers.append(classify_bulk_status(str(entry.get("Status")), entry.get("Error")))
        return answers

    def _send_each(self, client: Any, part: list[_Pending], backup: bool) -> list[str | Classified]:
        """SendEmail per unit; a block's calls run concurrently (boto3 clients are thread-safe), answers in order."""

        def one(p: _Pending) -> str | Classified:
            try:
                args = self.send_email_args(p, self.config.configuration_set(p.unit.config_set, backup))
            except Exception as exc:  # nothing reached SES
                return Classified("transient", type(exc).__name__, str(exc)[:200])
            try:
                return str(client.send_email(**args)["MessageId"])
            except Exception as exc:
                return classify(exc)

        workers = min(len(part), self.config.parallel_sends)
        if workers <= 1:
            return [one(p) for p in part]
        from concurrent.futures import ThreadPoolExecutor  # only a sender making concurrent calls needs threads

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, part))

    def _addressing(self, p: _Pending, config_set: str) -> dict[str, Any]:
        args = dict(p.unit.addressing)
        if p.from_address:
            args["FromEmailAddress"] = p.from_address
        if config_set:
            args["ConfigurationSetName"] = config_set
        return args

    def send_email_args(self, p: _Pending, config_set: str) -> dict[str, Any]:
        unit = p.unit
        args = self._addressing(p, config_set)
        if unit.recipients:  # a Raw message without Destination goes to the MIME's recipients
            args["Destination"] = unit.destination
        args["EmailTags"] = p.tags
        if unit.kind == "template":
            template = dict(unit.content)
            if unit.template_data is not None:
                template["TemplateData"] = unit.template_data
            if p.headers:
                template["Headers"] = p.headers
            args["Content"] = {"Template": template}
        elif unit.kind == "simple":
            simple = dict(unit.content)
            if p.headers:
                simple["Headers"] = p.headers
            args["Content"] = {"Simple": simple}
        else:
            data = unit.content["Data"]
            args["Content"] = {"Raw": {"Data": inject_raw_headers(data, p.headers) if p.headers else data}}
        if unit.list_management is not None:
            args["ListManagementOptions"] = unit.list_management
        return args

    def bulk_args(self, part: list[_Pending], config_set: str) -> dict[str, Any]:
        args = self._addressing(part[0], config_set)
        args["DefaultContent"] = {"Template": {**part[0].unit.content, "TemplateData": "{}"}}
        entries = []
        for p in part:
            entry: dict[str, Any] = {"Destination": p.unit.destination, "ReplacementTags": p.tags}
            if p.unit.template_data is not None:
                entry["ReplacementEmailContent"] = {
                    "ReplacementTemplate": {"ReplacementTemplateData": p.unit.template_data}
                }
            if p.headers:
                entry["ReplacementHeaders"] = p.headers
            entries.append(entry)
        args["BulkEmailEntries"] = entries
        return args

    # -- bookkeeping and queue disposition ---------------------------------------------------------------------
    def _finish(self, work: list[_JobWork], result: BatchResult) -> None:
        to_delete: list[QueueRecord] = []
        for w in work:
            marks: frozenset[str] = frozenset()
            if not w.broken:
                outcomes = {**w.done, **w.new, **w.screened}
                to_record = [
                    (u.unit_id, outcomes[u.unit_id], self._attribution(u, outcomes[u.unit_id], u.unit_id in w.erased))
                    for u in w.units
                    if u.unit_id in outcomes and u.unit_id not in w.recorded
                ]
                try:
                    self._ledger.mark_done(w.job.job_id, w.screened)
                    # the plain chunks' recorded marks ride on the release below (one job-record write less)
                    marks = self._ledger.record(w.job.job_id, to_record, defer_marks=True)
                except Exception as exc:
                    self._break(w, exc)
            if w.broken:
                # left for redelivery as it is: its in-flight mark stays (what it may have sent is unknown there)
                result.retry.append(w.record.message_id)
                self._release(w, clean=False)
                continue
            w.new.update(w.screened)
            result.outcomes[w.job.job_id] = {**w.done, **w.new}
            for outcome in w.new.values():
                result.counts[outcome.kind] += 1
                if outcome.kind == "failed":
                    log.warning("send failed permanently", extra={"job_id": w.job.job_id, "reason": outcome.reason})
            unsent = [u for u in w.units if u.unit_id not in w.done and u.unit_id not in w.new]
            disposition = self._dispose(w, unsent)
            getattr(result, disposition).append(w.record.message_id)
            if disposition in ("finished", "requeued"):
                to_delete.append(w.record)
            self._release(w, clean=True, copy=w.job.attempt + 1 if disposition == "requeued" else None, recorded=marks)
        if result.incomplete and to_delete:
            try:
                failed = self._queue.delete(to_delete)
            except Exception as exc:  # they come back with the rest; finished jobs and old copies are skipped then
                failed = [r.message_id for r in to_delete]
                log.warning("DeleteMessageBatch failed", extra={"error": type(exc).__name__})
            if failed:
                log.warning(
                    "could not delete finished messages; they will be skipped on redelivery", extra={"sqs_ids": failed}
                )

    def _release(
        self, w: _JobWork, *, clean: bool, copy: int | None = None, recorded: frozenset[str] = frozenset()
    ) -> None:
        """``clean``: everything this invocation may have sent is in ``done``/``unk``, so its in-flight mark goes.
        ``copy``: the attempt number of the copy just re-enqueued (older copies are then dropped as duplicates).
        ``recorded``: units whose message items ``record`` wrote and left to mark here (a failed release leaves
        them done but not recorded: the next attempt writes the same items again)."""
        try:
            self._ledger.release(w.job.job_id, self.owner, clean=clean, copy=copy, recorded=recorded)
        except Exception as exc:  # the lease expires by itself; a kept mark only makes the next attempt look first
            log.warning("job release failed", extra={"job_id": w.job.job_id, "error": type(exc).__name__})

    def _release_lease(self, job_id: str, *, clean: bool) -> None:
        """Release a job this invocation claimed but did not work on. Nothing was sent, so its own mark may go — but
        only with the marks of earlier invocations when there are none (``clean``): those are still unresolved."""
        try:
            self._ledger.release(job_id, self.owner, clean=clean)
        except Exception as exc:
            log.warning("job release failed", extra={"job_id": job_id, "error": type(exc).__name__})

    def _dispose(self, w: _JobWork, unsent: list[Unit]) -> str:
        if not unsent:
            return "finished"
        verdicts = [w.verdicts.get(u.unit_id) for u in unsent]
        kinds = {v.verdict for v in verdicts if v is not None}
        if "regional" in kinds or None in verdicts:
            return "retry"  # both regions failing (or not attempted): SQS redelivers; repeated failure -> DLQ
        attempt = w.job.attempt + 1
        if kinds == {"quota"} and not w.new and w.record.receive_count <= 1:
            self._queue.change_visibility(w.record, QUOTA_VISIBILITY)
            return "deferred"
        if "transient" in kinds and attempt > MAX_TRANSIENT_ATTEMPTS:
            return "retry"
        if kinds == {"quota"}:
            delay = MAX_DELAY
        elif kinds == {"paused"}:  # campaign or configuration set paused: look again after a while
            delay = max(0, min(MAX_DELAY, self.config.paused_delay))
        elif kinds == {"unknown"}:  # only units waiting for their Send events: come back when the wait is over
            delay = int(min(MAX_DELAY, max(1.0, min(w.waiting.values(), default=0.0) - self._clock() + 1)))
        else:
            delay = int(min(MAX_DELAY, 2 ** min(attempt, 10)) * (0.5 + self._rng.random() / 2)) or 1
        try:
            self._queue.requeue(rebuild_job(w.job, unsent, attempt=attempt).body(), delay)
        except Exception as exc:  # SQS refused the copy: keep the original on the queue instead
            log.warning("re-enqueue failed; message left for redelivery", extra={"error": type(exc).__name__})
            return "retry"
        log.info(
            "re-enqueued after throttling/quota/unknown",
            extra={"job_id": w.job.job_id, "units": len(unsent), "delay": delay},
        )
        return "requeued"

    def _attribution(self, unit: Unit, outcome: Outcome, erased: bool = False) -> Attribution:
        """``erased``: the recipient asked for erasure; the record keeps only the hash and a masked address."""
        subject = None
        if unit.kind == "simple":
            subject = unit.content.get("Subject", {}).get("Data")
        elif unit.kind == "template":
            subject = unit.content.get("TemplateContent", {}).get("Subject") or unit.content.get("TemplateName")
        return Attribution(
            recipient=mask_email(unit.recipient) if erased else unit.recipient,
            recipient_hash=unit.recipient_hash,
            campaign_id=unit.campaign_id,
            list_name=unit.list_name,
            config_set=self.config.configuration_set(
                unit.config_set, bool(outcome.region) and outcome.region == self.config.backup_region
            ),
            from_address=unit.addressing.get("FromEmailAddress") or self.config.default_from or None,
            subject=subject,
        )


def summary(result: BatchResult) -> dict[str, Any]:
    """Log-safe summary of a batch (no addresses)."""
    return {
        "finished": len(result.finished),
        "requeued": len(result.requeued),
        "deferred": len(result.deferred),
        "retry": len(result.retry),
        "ses_calls": result.ses_calls,
        "resolved": result.resolved,
        **{f"count_{k}": v for k, v in result.counts.items()},
    }
