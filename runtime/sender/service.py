"""Campaign lifecycle (seed 003's scheduler, verification and launch services): submit, describe, re-date, delete
before launch, and the per-minute "check for campaign" launch.

Submit validates everything before any side effect (a rejected campaign changes nothing), creates the SES
templates in every sending region, then either enqueues the jobs at once or stores them in S3
(``campaigns/<id>/jobs.jsonl``) with a ``scheduled`` META item for the per-minute check.

A campaign whose segments name recipient files is answered after the cheap checks only (the files exist, are
readable, within size, a CSV header names ``to_address``): it is stored ``validating`` and the per-minute check
validates the files in steps (``runtime.sender.validation``), then marks it ``invalid`` (bad rows; nothing is sent)
or ``scheduled`` for its date, and launches it in chunks (``runtime.sender.launch``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from runtime.logs import get_logger
from runtime.sender.campaign import (
    CampaignError,
    Expansion,
    expand,
    new_campaign_id,
    parse_candidate,
    parse_launch_date,
    resolve,
)
from runtime.sender.enqueue import Enqueuer, EnqueueReport
from runtime.sender.headers import producer_list_unsubscribe, several_recipients_problem
from runtime.sender.jobs import SendJob, units_of
from runtime.sender.launch import ChunkedLauncher, Cursor, LaunchPlan, SegmentPlan, StepResult
from runtime.sender.recipients import (
    MAX_FILE_BYTES,
    RECIPIENTS_PREFIX,
    FileReport,
    ObjectSource,
    RecipientFileError,
    open_file,
)
from runtime.sender.ses_models import all_addresses, parse_send_lines
from runtime.sender.templates import TemplateLoader, TemplatePublisher
from runtime.sender.validation import FileValidator, ValidationState, state_key
from runtime.stores.campaigns import CampaignExistsError, CampaignRecord, CampaignStateError, CampaignStore
from runtime.stores.schema import iso

log = get_logger(__name__)

IMMEDIATE_WINDOW = timedelta(seconds=60)


class CampaignNotFoundError(LookupError):
    pass


class SchedulingUnavailableError(RuntimeError):
    """A future-dated campaign needs the payload bucket (``SESAME_CAMPAIGN_BUCKET``)."""


class PayloadStore(Protocol):
    bucket: str  # this region's campaign bucket

    def put(self, campaign_id: str, candidate: dict[str, Any], jobs: list[SendJob]) -> tuple[str, str]: ...

    def put_plan(self, campaign_id: str, plan: str) -> tuple[str, str]: ...

    def plan(self, bucket: str, key: str) -> str: ...

    def jobs(self, bucket: str, key: str) -> list[SendJob]: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def put_state(self, key: str, data: bytes) -> None:
        """A validation state object (``runtime.sender.validation``) in this region's bucket."""
        ...

    def put_recipients(self, campaign_id: str, segment: int, data: bytes) -> tuple[str, str]:
        """An inline segment's recipients as JSON lines (a campaign mixing inline and file segments launches every
        segment from a file): ``campaigns/<id>/segment-<n>.jsonl``."""
        ...

    def delete_recipients(self, bucket: str, keys: list[str]) -> None:
        """Remove stored inline recipients (personal data) once the campaign no longer needs them."""
        ...

    def state(self, bucket: str, key: str) -> bytes | None:
        """The object, or None when it does not exist (expired, or removed by a step that moved on)."""
        ...

    def delete_state(self, bucket: str, key: str) -> None: ...


class S3PayloadStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def put(self, campaign_id: str, candidate: dict[str, Any], jobs: list[SendJob]) -> tuple[str, str]:
        prefix = f"campaigns/{campaign_id}/"
        self._s3.put_object(
            Bucket=self.bucket,
            Key=prefix + "candidate.json",
            Body=json.dumps(candidate).encode("utf-8"),
            ContentType="application/json",
        )
        body = "\n".join(job.body() for job in jobs).encode("utf-8")
        self._s3.put_object(
            Bucket=self.bucket, Key=prefix + "jobs.jsonl", Body=body, ContentType="application/x-ndjson"
        )
        return self.bucket, prefix + "jobs.jsonl"

    def jobs(self, bucket: str, key: str) -> list[SendJob]:
        text = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        return [SendJob.model_validate_json(line) for line in text.splitlines() if line.strip()]

    def put_plan(self, campaign_id: str, plan: str) -> tuple[str, str]:
        key = f"campaigns/{campaign_id}/plan.json"
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=plan.encode("utf-8"), ContentType="application/json")
        return self.bucket, key

    def plan(self, bucket: str, key: str) -> str:
        return str(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))

    def delete(self, bucket: str, key: str) -> None:
        prefix = key.rsplit("/", 1)[0] + "/"
        for name in ("candidate.json", "jobs.jsonl", "plan.json"):
            self._s3.delete_object(Bucket=bucket, Key=prefix + name)

    def put_state(self, key: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream")

    def put_recipients(self, campaign_id: str, segment: int, data: bytes) -> tuple[str, str]:
        key = inline_segment_key(campaign_id, segment)
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/x-ndjson")
        return self.bucket, key

    def delete_recipients(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            self._s3.delete_object(Bucket=bucket, Key=key)

    def state(self, bucket: str, key: str) -> bytes | None:
        try:
            return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def delete_state(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)


def inline_segment_key(campaign_id: str, segment: int) -> str:
    return f"campaigns/{campaign_id}/segment-{segment}.jsonl"


def _inline_keys(plan: LaunchPlan) -> list[str]:
    return [s.key for s in plan.segments if s.key == inline_segment_key(plan.campaign_id, s.index)]


def _inline_lines(recipients: list[Any]) -> bytes:
    """Inline recipients (already validated models) as the JSON lines a recipient file holds."""
    return "".join(
        json.dumps({**r.data(), "to_address": r.to_address}, ensure_ascii=False, separators=(",", ":")) + "\n"
        for r in recipients
    ).encode("utf-8")


class InMemoryPayloadStore:
    def __init__(self, bucket: str = "campaigns-test", source: Any = None) -> None:
        self.bucket = bucket
        self.source = source
        self.objects: dict[tuple[str, str], str] = {}
        self.states: dict[tuple[str, str], bytes] = {}
        self.recipients: dict[tuple[str, str], bytes] = {}

    def put(self, campaign_id: str, candidate: dict[str, Any], jobs: list[SendJob]) -> tuple[str, str]:
        key = f"campaigns/{campaign_id}/jobs.jsonl"
        self.objects[(self.bucket, key)] = "\n".join(job.body() for job in jobs)
        return self.bucket, key

    def jobs(self, bucket: str, key: str) -> list[SendJob]:
        return [SendJob.model_validate_json(x) for x in self.objects[(bucket, key)].splitlines() if x]

    def put_plan(self, campaign_id: str, plan: str) -> tuple[str, str]:
        key = f"campaigns/{campaign_id}/plan.json"
        self.objects[(self.bucket, key)] = plan
        return self.bucket, key

    def plan(self, bucket: str, key: str) -> str:
        return self.objects[(bucket, key)]

    def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    def put_state(self, key: str, data: bytes) -> None:
        self.states[(self.bucket, key)] = data

    def put_recipients(self, campaign_id: str, segment: int, data: bytes) -> tuple[str, str]:
        key = inline_segment_key(campaign_id, segment)
        self.recipients[(self.bucket, key)] = data
        if self.source is not None:  # the object source the launcher reads (tests: LocalObjectSource)
            self.source.put(self.bucket, key, data)
        return self.bucket, key

    def delete_recipients(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            self.recipients.pop((bucket, key), None)
            if self.source is not None:
                self.source.objects.pop((bucket, key), None)

    def state(self, bucket: str, key: str) -> bytes | None:
        return self.states.get((bucket, key))

    def delete_state(self, bucket: str, key: str) -> None:
        self.states.pop((bucket, key), None)


@dataclass
class CampaignConfig:
    regions: list[str]  # where templates are published (primary, then backup)
    default_from: str = ""
    default_configuration_set: str = "marketing"
    launch_lease_seconds: int = 600
    unsubscribe_headers: bool = False  # the sender adds List-Unsubscribe (then one recipient per message)
    launch_chunk_recipients: int = 5_000  # recipients enqueued per committed cursor step
    max_file_recipients: int = 10_000_000  # recipients of a file campaign (all files)
    max_file_bytes: int = MAX_FILE_BYTES  # one recipient file (checked with HeadObject at submission)
    check_seconds: float = 45.0  # the per-minute check's work when no deadline is given (a 60 s Lambda)
    max_candidate_bytes: int = 20_000_000  # a Campaign Candidate read from S3 (campaignS3Uri)


def _not_enqueued(
    expansion_recipients: dict[str, list[str]], report: EnqueueReport, jobs: list[SendJob]
) -> list[dict[str, Any]]:
    by_id = {job.job_id: job for job in jobs}
    out = []
    for job_id, reason in sorted(report.failed.items()):
        job = by_id.get(job_id)
        out.append(
            {
                "job_id": job_id,
                "list_name": job.list_name if job else None,
                "to_addresses": expansion_recipients.get(job_id, []),
                "reason": reason,
            }
        )
    return out


class CampaignService:
    def __init__(
        self,
        *,
        config: CampaignConfig,
        store: CampaignStore,
        loader: TemplateLoader,
        publisher: TemplatePublisher,
        enqueuer: Callable[[], Enqueuer],
        payloads: Callable[[], PayloadStore | None],
        clock: Callable[[], float] = time.time,
        sources: Callable[[], ObjectSource] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        gate: Callable[[], None] | None = None,
    ) -> None:
        """``gate``: raises when the primary region cannot send (SES sandbox, sending disabled, GetAccount failed);
        run before a launch, so a campaign is refused instead of sent into a wall."""
        self.config = config
        self._sources = sources
        self._monotonic = monotonic
        self._gate = gate
        self._store = store
        self._loader = loader
        self._publisher = publisher
        self._enqueuer = enqueuer
        self._payloads = payloads
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    # -- submit ----------------------------------------------------------------------------------------------
    def validate(self, data: Any) -> tuple[str, datetime | None, Expansion, list[Any]]:
        """Everything that can reject the campaign, with no side effect except reading S3 templates."""
        candidate = parse_candidate(data)
        campaign_id = candidate.campaign_id or new_campaign_id()
        launch_at: datetime | None = None
        if candidate.date and candidate.date.strip().lower() != "now":
            when = parse_launch_date(candidate.date)
            if when > self._now() + IMMEDIATE_WINDOW:
                launch_at = when
        specs = self._loader.load(candidate, campaign_id)
        segments = resolve(
            candidate,
            templates=specs,
            default_from=self.config.default_from,
            default_configuration_set=self.config.default_configuration_set,
        )
        expansion = expand(campaign_id, segments, candidate.reply_to)
        return campaign_id, launch_at, expansion, list(specs.values())

    def submit(self, data: Any) -> dict[str, Any]:
        """Validate and enqueue (or schedule) a campaign; one with recipient files is stored ``validating`` after
        the cheap checks (``complete: false``: the per-minute check validates and launches it)."""
        if isinstance(data, dict) and "campaignS3Uri" in data:
            data = self._candidate_from_s3(data)
        candidate = parse_candidate(data)
        if candidate.uses_files:
            return self._submit_files(data)
        campaign_id, launch_at, expansion, specs = self.validate(data)
        existing = self._store.get(campaign_id)
        if existing is not None and existing.status not in ("deleted", "external"):
            raise CampaignExistsError(f"campaign {campaign_id} already exists (status {existing.status})")
        payloads = self._payloads()
        if launch_at is not None and payloads is None:
            raise SchedulingUnavailableError("scheduling needs SESAME_CAMPAIGN_BUCKET (the campaign payload bucket)")
        if launch_at is None and self._gate is not None:
            self._gate()  # sandbox or sending disabled: refused before anything is written or sent
        enqueuer = self._enqueuer() if launch_at is None else None  # resolves the queue before anything is written
        warnings = self._publisher.publish(specs, self.config.regions)
        record = replace(
            self._new_record(campaign_id, launch_at),
            segments=len(expansion.segments),
            recipients=expansion.recipient_count,
            jobs=len(expansion.jobs),
            list_names=[s.list_name for s in expansion.segments],
            config_sets=sorted({s.configuration_set for s in expansion.segments}),
            lease_until=iso(self._now() + timedelta(seconds=self.config.launch_lease_seconds)),
        )
        if payloads is not None:
            # stored for immediate campaigns too: if this invocation dies mid-enqueue, the per-minute check finds
            # the "launching" campaign once its lease ends and enqueues it again (job ids make that harmless)
            bucket, key = payloads.put(campaign_id, data, expansion.jobs)
            record = replace(record, payload_bucket=bucket, payload_key=key)
        if launch_at is not None:
            record = replace(record, lease_until="")
            self._store.create(record)
            log.info("campaign scheduled", extra={"campaign_id": campaign_id, "launch_at": record.launch_at})
            return {
                **self._summary(record),
                "complete": True,
                "duplicates_skipped": expansion.duplicates,
                "warnings": warnings,
            }
        assert enqueuer is not None
        self._store.create(record)
        report = enqueuer.enqueue(expansion.jobs)
        record = self._launched(record, report)
        not_enqueued = _not_enqueued(expansion.recipients_by_job, report, expansion.jobs)
        return {
            **self._summary(record),
            "complete": not not_enqueued,
            "not_enqueued": not_enqueued,
            "duplicates_skipped": expansion.duplicates,
            "warnings": warnings,
        }

    # -- campaigns of any size: recipient files and the chunked launch -------------------------------------------
    def _source(self) -> ObjectSource:
        if self._sources is None:
            raise CampaignError(["recipientsS3Uri: reading recipient files is not configured"])
        return self._sources()

    def _upload_location(self, field: str, uri: str, bucket: str) -> tuple[str, str]:
        from runtime.sender.templates import split_s3_uri

        uri_bucket, key = split_s3_uri(uri)
        if uri_bucket != bucket or not key.startswith(RECIPIENTS_PREFIX):
            raise CampaignError(
                [f"{field}: upload the file under s3://{bucket}/{RECIPIENTS_PREFIX} (the only place sesame reads from)"]
            )
        return uri_bucket, key

    def _candidate_from_s3(self, data: dict[str, Any]) -> Any:
        extra = sorted(k for k in data if k != "campaignS3Uri")
        if extra:
            raise CampaignError([f"campaignS3Uri: give the whole campaign in the file (also got {', '.join(extra)})"])
        payloads = self._payloads()
        uri = data["campaignS3Uri"]
        if payloads is None:
            raise CampaignError(["campaignS3Uri: needs SESAME_CAMPAIGN_BUCKET (the campaign bucket)"])
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise CampaignError(["campaignS3Uri: an s3:// URI"])
        bucket, key = self._upload_location("campaignS3Uri", uri, payloads.bucket)
        source = self._source()
        try:
            info = source.head(bucket, key)
        except RecipientFileError as exc:
            raise CampaignError([f"campaignS3Uri: {exc}"]) from exc
        if info.size > self.config.max_candidate_bytes:
            raise CampaignError(
                [
                    f"campaignS3Uri: the campaign file is {info.size} bytes (at most "
                    f"{self.config.max_candidate_bytes}); put recipients in recipient files (recipientsS3Uri)"
                ]
            )
        from runtime import jsontext

        raw = b"".join(source.read(bucket, key, 0, info.etag))
        try:
            loaded = jsontext.loads(raw)
        except jsontext.JsonTextError as exc:
            raise CampaignError([f"campaignS3Uri: not valid JSON ({exc})"]) from exc
        if isinstance(loaded, dict) and "campaignS3Uri" in loaded:
            raise CampaignError(["campaignS3Uri: the file must hold the campaign itself"])
        return loaded

    def _submit_files(self, data: Any) -> dict[str, Any]:
        """A campaign whose segments name recipient files: the cheap checks of every file (exists, readable, within
        size, CSV header), the SES templates, the launch plan; then the campaign is stored ``validating`` and the
        per-minute check validates the files in steps (``validate_due``) — no file is read whole in the request."""
        payloads = self._payloads()
        if payloads is None:
            raise SchedulingUnavailableError("recipient files need SESAME_CAMPAIGN_BUCKET (the campaign bucket)")
        candidate = parse_candidate(data)
        campaign_id = candidate.campaign_id or new_campaign_id()
        locations = [
            None
            if s.recipientsS3Uri is None
            else self._upload_location(f"segments.{i}.recipientsS3Uri", str(s.recipientsS3Uri), payloads.bucket)
            for i, s in enumerate(candidate.segments)
        ]
        campaign_id, launch_at, expansion, specs = self.validate({**data, "campaign_id": campaign_id})
        existing = self._store.get(campaign_id)
        if existing is not None and existing.status not in ("deleted", "external"):
            raise CampaignExistsError(f"campaign {campaign_id} already exists (status {existing.status})")
        source = self._source()
        problems: list[str] = []
        segments: list[SegmentPlan] = []
        reports: dict[int, tuple[str, str, FileReport]] = {}
        for resolved, location in zip(expansion.segments, locations, strict=True):
            if location is None:
                continue  # inline recipients: stored as a file below, once nothing can refuse the campaign
            try:
                reports[resolved.index] = (
                    *location,
                    open_file(source, *location, max_bytes=self.config.max_file_bytes),
                )
            except RecipientFileError as exc:
                problems.append(f"segments.{resolved.index}.recipientsS3Uri: {exc}")
        if problems:
            raise CampaignError(problems)
        if launch_at is None and self._gate is not None:
            self._gate()  # sandbox or sending disabled: refused before anything is written
        for resolved, location in zip(expansion.segments, locations, strict=True):
            if location is None:  # validated and launched like the file segments (the same plan, one cursor)
                bucket, key = payloads.put_recipients(campaign_id, resolved.index, _inline_lines(resolved.recipients))
                try:
                    reports[resolved.index] = (bucket, key, open_file(source, bucket, key, max_bytes=1 << 62))
                except RecipientFileError as exc:
                    raise CampaignError([f"segments.{resolved.index}.recipients: {exc}"]) from exc
            bucket, key, report = reports[resolved.index]
            segments.append(
                SegmentPlan(
                    index=resolved.index,
                    list_name=resolved.list_name,
                    template_name=resolved.template.name,
                    from_address=resolved.from_address,
                    configuration_set=resolved.configuration_set,
                    bucket=bucket,
                    key=key,
                    fmt=report.fmt,
                    etag=report.etag,
                    header=report.header,
                    data_start=report.data_start,
                    first_line=report.first_line,
                    rows=0,  # counted by validation
                    size=report.size,
                )
            )
        plan = LaunchPlan(campaign_id, segments, candidate.reply_to)
        warnings = self._publisher.publish(specs, self.config.regions)
        bucket, key = payloads.put_plan(campaign_id, plan.to_json())
        start = plan.start().encode()
        record = replace(
            self._new_record(campaign_id, launch_at, status="validating"),
            payload_bucket=bucket,
            payload_key=key,
            segments=len(segments),
            list_names=[s.list_name for s in segments],
            config_sets=sorted({s.configuration_set for s in segments}),
            launch_cursor=start,
            validation_cursor=start,
            validation=ValidationState.start(plan).progress(),
        )
        self._store.create(record)
        log.info("file campaign accepted for validation", extra={"campaign_id": campaign_id, "files": len(segments)})
        return {
            **self._summary(record),
            "complete": False,
            "status_url": f"/campaigns/{campaign_id}",
            "warnings": warnings,
        }

    # -- validation of recipient files, in steps (the per-minute check) -------------------------------------------
    def validate_due(self, deadline: float | None = None, *, campaign_id: str | None = None) -> list[dict[str, Any]]:
        """One validation step for each ``validating`` campaign of this region (or only ``campaign_id``) until
        ``deadline`` (``monotonic`` time); returns their records as stored after the step."""
        payloads = self._payloads()
        if payloads is None:
            return []
        budget = deadline if deadline is not None else self._monotonic() + self.config.check_seconds
        stepped: list[dict[str, Any]] = []
        for record in self._store.validating():
            if record.payload_bucket != payloads.bucket or (campaign_id and record.campaign_id != campaign_id):
                continue
            if self._monotonic() >= budget:
                break
            now = self._now()
            lease = iso(now + timedelta(seconds=self.config.launch_lease_seconds))
            claimed = self._store.claim_validation(record.campaign_id, iso(now), lease, payload_bucket=payloads.bucket)
            if claimed is None:
                continue
            stepped.append(self._validation_step(claimed, payloads, budget).to_dict())
        return stepped

    def _validation_step(self, record: CampaignRecord, payloads: PayloadStore, deadline: float) -> CampaignRecord:
        plan = LaunchPlan.from_json(payloads.plan(record.payload_bucket, record.payload_key))
        cursor = Cursor.decode(record.validation_cursor)
        state = ValidationState.start(plan)
        if cursor != plan.start():
            stored = payloads.state(record.payload_bucket, state_key(record.campaign_id, cursor))
            if stored is not None:
                state = ValidationState.from_bytes(stored)
            else:  # expired (a validation paused for days): start again, from a cursor the store agrees on
                log.warning("validation state missing; validating again", extra={"campaign_id": record.campaign_id})
                if not self._store.advance_validation(
                    record.campaign_id, cursor.encode(), state.cursor.encode(), state.progress()
                ):
                    return self._store.get(record.campaign_id) or record
                cursor = state.cursor
        done = FileValidator(self._source(), clock=self._monotonic).run(plan, state, deadline)
        if done and state.valid and state.recipients > self.config.max_file_recipients:
            state.problems.append(
                f"segments: {state.recipients} recipients; a campaign holds at most {self.config.max_file_recipients}"
            )
        if state.cursor != cursor:
            payloads.put_state(state_key(record.campaign_id, state.cursor), state.to_bytes())
            if not self._store.advance_validation(
                record.campaign_id, cursor.encode(), state.cursor.encode(), state.progress()
            ):
                log.warning("validation cursor moved by another invocation", extra={"campaign_id": record.campaign_id})
                return self._store.get(record.campaign_id) or record
            if cursor != plan.start():
                payloads.delete_state(record.payload_bucket, state_key(record.campaign_id, cursor))
        current = self._store.get(record.campaign_id) or record
        now = iso(self._now())
        if not done:  # the lease ends now: the next per-minute check continues at the cursor
            released = replace(current, updated_at=now, lease_until=now)
            self._store.save(released, expect_status=("validating",))
            log.info(
                "campaign validation step",
                extra={"campaign_id": record.campaign_id, "cursor": state.cursor.encode()},
            )
            return self._store.get(record.campaign_id) or released
        return self._finish_validation(current, plan, state, payloads)

    def _finish_validation(
        self, record: CampaignRecord, plan: LaunchPlan, state: ValidationState, payloads: PayloadStore
    ) -> CampaignRecord:
        """Every file read: ``invalid`` (bad rows, nothing sent, the stored plan removed) or ``scheduled`` for its
        date with the final plan (recipient counts, duplicate lines) — the launch takes it from there. Safe to run
        again after a crash: the final state object stays until the status has changed."""
        now = iso(self._now())
        final_state = state_key(record.campaign_id, state.cursor)
        duplicates = sum(f.duplicates for f in state.files)
        if not state.valid:
            bad = sum(f.bad_rows for f in state.files)
            updated = replace(
                record, status="invalid", updated_at=now, lease_until="", payload_bucket="", payload_key=""
            )
            self._store.save(updated, expect_status=("validating",))
            payloads.delete(record.payload_bucket, record.payload_key)
            payloads.delete_recipients(record.payload_bucket, _inline_keys(plan))
            payloads.delete_state(record.payload_bucket, final_state)
            log.info("campaign invalid", extra={"campaign_id": record.campaign_id, "bad_rows": bad})
            return self._store.get(record.campaign_id) or updated
        final = state.final_plan(plan)
        payloads.put_plan(record.campaign_id, final.to_json())
        updated = replace(
            record,
            status="scheduled",
            updated_at=now,
            lease_until="",
            recipients=final.recipients,
            launch_total=final.recipients,
        )
        self._store.save(updated, expect_status=("validating",))
        payloads.delete_state(record.payload_bucket, final_state)
        log.info(
            "campaign validated",
            extra={"campaign_id": record.campaign_id, "recipients": final.recipients, "duplicates": duplicates},
        )
        return self._store.get(record.campaign_id) or updated

    def _launch_step(self, record: CampaignRecord, plan: LaunchPlan, deadline: float) -> CampaignRecord:
        """Run the chunked launcher until ``deadline``; then record the outcome (launched, failed, or still
        launching with the lease released so the next per-minute check continues at once)."""
        launcher = ChunkedLauncher(
            source=self._source(),
            enqueuer=self._enqueuer,
            progress=self._store,
            clock=self._monotonic,
            chunk_recipients=self.config.launch_chunk_recipients,
        )
        result: StepResult = launcher.run(plan, Cursor.decode(record.launch_cursor), deadline)
        current = self._store.get(record.campaign_id) or record  # the progress counters advance_launch wrote
        now = iso(self._now())
        if result.done:
            updated = replace(current, status="launched", launched_at=now, updated_at=now, lease_until="")
            updated = replace(updated, enqueued_jobs=current.launch_jobs, launch_error="")
        elif result.error and not result.retryable:
            updated = replace(current, status="failed", updated_at=now, lease_until="", launch_error=result.error)
        else:  # the lease ends now: the next per-minute check continues at the cursor
            updated = replace(current, updated_at=now, lease_until=now, launch_error=result.error)
        self._store.save(updated, expect_status=("launching",))
        payloads = self._payloads()
        if result.done and payloads is not None and _inline_keys(plan):
            payloads.delete_recipients(record.payload_bucket, _inline_keys(plan))  # every job is on the queue
        log.info(
            "campaign launch step",
            extra={
                "campaign_id": record.campaign_id,
                "recipients": result.recipients,
                "jobs": result.jobs,
                "done": result.done,
                "error": result.error,
            },
        )
        return self._store.get(record.campaign_id) or updated

    def submit_lines(self, lines: list[str]) -> dict[str, Any]:
        """Validate a JSON-lines file of SendEmail requests and enqueue it (all lines valid, or nothing happens).

        Job ids derive from the file's content and line number, so submitting the same file twice sends once.
        """
        good, errors = parse_send_lines(lines)
        if errors:
            raise CampaignError([str(e) for e in errors])
        if not good:
            raise CampaignError(["body: no SendEmail requests (one JSON object per line)"])
        batch = "lines-" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:20]
        jobs = [SendJob(job_id=f"{batch}-{number}", email=request) for number, request in good]
        if self.config.unsubscribe_headers:
            problems = []
            for (number, _), job in zip(good, jobs, strict=True):
                for unit in units_of(job):
                    raw = unit.content.get("Data") if unit.kind == "raw" else None
                    problem = (
                        None
                        if producer_list_unsubscribe(unit.headers, raw)
                        else several_recipients_problem(unit.recipients)
                    )
                    if problem:
                        problems.append(f"line {number}: {problem.removeprefix('BadRequest: ')}")
            if problems:
                raise CampaignError(problems)
        if self._gate is not None:
            self._gate()
        report = self._enqueuer().enqueue(jobs)
        lines_by_job = {job.job_id: number for job, (number, _) in zip(jobs, good, strict=True)}
        not_enqueued = [
            {
                "line": lines_by_job[job.job_id],
                "to_addresses": all_addresses(job.email.data.get("Destination")) if job.email else [],
                "reason": report.failed[job.job_id],
            }
            for job in jobs
            if job.job_id in report.failed
        ]
        return {
            "batch_id": batch,
            "requests": len(jobs),
            "enqueued": len(report.enqueued),
            "complete": not not_enqueued,
            "not_enqueued": not_enqueued,
        }

    def _new_record(self, campaign_id: str, launch_at: datetime | None, *, status: str = "") -> CampaignRecord:
        """A submitted campaign's record: ``status``, else ``scheduled`` for ``launch_at`` or ``launching`` now."""
        now = iso(self._now())
        return CampaignRecord(
            campaign_id=campaign_id,
            status=status or ("scheduled" if launch_at is not None else "launching"),
            launch_at=iso(launch_at) if launch_at is not None else now,
            created_at=now,
            updated_at=now,
        )

    def _launched(self, record: CampaignRecord, report: EnqueueReport) -> CampaignRecord:
        now = iso(self._now())
        payloads = self._payloads()
        # once every job is on the queue the stored recipients (personal data) are no longer needed
        drop_payload = payloads is not None and bool(record.payload_key) and not report.failed
        launched = replace(
            record,
            status="launched",
            launched_at=now,
            updated_at=now,
            lease_until="",
            enqueued_jobs=len(report.enqueued),
            not_enqueued=sorted(report.failed),
            payload_bucket="" if drop_payload else record.payload_bucket,
            payload_key="" if drop_payload else record.payload_key,
        )
        self._store.save(launched, expect_status=("launching",))
        if drop_payload and payloads is not None:
            payloads.delete(record.payload_bucket, record.payload_key)
        log.info(
            "campaign launched",
            extra={"campaign_id": record.campaign_id, "jobs": len(report.enqueued), "failed_jobs": len(report.failed)},
        )
        return launched

    @staticmethod
    def _summary(record: CampaignRecord) -> dict[str, Any]:
        return record.to_dict()

    # -- lifecycle before launch -------------------------------------------------------------------------------
    def describe(self, campaign_id: str) -> dict[str, Any]:
        return self._get(campaign_id).to_dict()

    def list_campaigns(self, limit: int = 50) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self._store.list(limit)]

    def _get(self, campaign_id: str) -> CampaignRecord:
        record = self._store.get(campaign_id)
        if record is None or record.status == "external":
            raise CampaignNotFoundError(f"campaign {campaign_id} not found")
        return record

    def redate(self, campaign_id: str, date: str) -> dict[str, Any]:
        record = self._get(campaign_id)
        if record.status not in ("scheduled", "validating"):
            raise CampaignStateError(
                f"campaign {campaign_id} is {record.status}; only scheduled (or validating) campaigns can be re-dated"
            )
        if not isinstance(date, str) or not date.strip():
            raise CampaignError(["date: give an ISO-8601 date-time or 'now'"])
        try:
            when = self._now() if date.strip().lower() == "now" else parse_launch_date(date)
        except ValueError as exc:
            raise CampaignError([f"date: {exc}"]) from exc
        updated = replace(record, launch_at=iso(max(when, self._now())), updated_at=iso(self._now()))
        self._store.save(updated, expect_status=(record.status,))
        return updated.to_dict()

    def delete(self, campaign_id: str) -> dict[str, Any]:
        """Delete a campaign before launch: ``scheduled``, ``validating`` (validation stops) or ``invalid`` (so its
        id can be submitted again with corrected files)."""
        record = self._get(campaign_id)
        deletable = ("scheduled", "validating", "invalid")
        if record.status not in deletable:
            raise CampaignStateError(
                f"campaign {campaign_id} is {record.status}; only scheduled, validating or invalid campaigns can be "
                "deleted"
            )
        deleted = replace(record, status="deleted", updated_at=iso(self._now()), lease_until="")
        self._store.save(deleted, expect_status=(record.status,))
        payloads = self._payloads()
        if payloads is not None and record.payload_key:
            payloads.delete(record.payload_bucket, record.payload_key)  # the recipients are personal data
        if payloads is not None and record.validation_cursor:  # a campaign with files: its stored inline segments
            keys = [inline_segment_key(campaign_id, i) for i in range(record.segments)]
            payloads.delete_recipients(record.payload_bucket or payloads.bucket, keys)
        if payloads is not None and record.status == "validating" and record.validation_cursor:
            cursor = Cursor.decode(record.validation_cursor)
            payloads.delete_state(record.payload_bucket, state_key(campaign_id, cursor))
        return deleted.to_dict()

    # -- the per-minute check ---------------------------------------------------------------------------------
    def launch_due(self, deadline: float | None = None) -> list[dict[str, Any]]:
        """Validate the recipient files of ``validating`` campaigns a step further (``validate_due``), then launch
        the due campaigns whose payload is in this region's bucket, all within ``deadline`` (``monotonic`` time;
        default ``check_seconds`` from now).

        Every region runs this check against the replicated campaigns table; a campaign is validated and launched by
        the region it was submitted in (where its payload is stored), never by two regions (``claim_launch``)."""
        launched: list[dict[str, Any]] = []
        payloads = self._payloads()
        if payloads is None:
            return launched  # without a campaign bucket nothing is ever scheduled here
        budget = deadline if deadline is not None else self._monotonic() + self.config.check_seconds
        self.validate_due(budget)
        now = self._now()
        due = self._store.due(iso(now))
        if due and self._gate is not None:
            try:
                self._gate()
            except Exception as exc:  # sandbox, sending disabled or GetAccount failing: they stay scheduled
                log.error("due campaigns not launched", extra={"error": str(exc), "campaigns": len(due)})
                return launched
        for record in due:
            if record.payload_bucket != payloads.bucket:
                continue  # another region's campaign
            lease = iso(now + timedelta(seconds=self.config.launch_lease_seconds))
            claimed = self._store.claim_launch(record.campaign_id, iso(now), lease, payload_bucket=payloads.bucket)
            if claimed is None:
                continue
            if not claimed.payload_key:
                log.error("due campaign has no stored payload", extra={"campaign_id": claimed.campaign_id})
                continue
            if claimed.launch_total:  # recipient files: one more chunked step, resumed at the stored cursor
                plan = LaunchPlan.from_json(payloads.plan(claimed.payload_bucket, claimed.payload_key))
                stepped = self._launch_step(claimed, plan, budget)
                launched.append({**stepped.to_dict(), "complete": stepped.status == "launched"})
                continue
            jobs = payloads.jobs(claimed.payload_bucket, claimed.payload_key)
            report = self._enqueuer().enqueue(jobs)
            if report.failed:
                # back to scheduled: the next check re-enqueues everything; job ids are deterministic, so jobs
                # already on the queue are recognised by the sender and never sent twice
                retry = replace(claimed, status="scheduled", lease_until="", not_enqueued=sorted(report.failed))
                self._store.save(retry, expect_status=("launching",))
                log.error(
                    "campaign launch incomplete; will retry",
                    extra={"campaign_id": claimed.campaign_id, "failed_jobs": len(report.failed)},
                )
                launched.append({**retry.to_dict(), "complete": False})
                continue
            launched.append({**self._launched(claimed, report).to_dict(), "complete": True})
        return launched
