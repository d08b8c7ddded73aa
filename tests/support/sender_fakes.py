"""Fakes for the sender's tests and bench: an SES client that validates every request against botocore's sesv2
model and records what was sent, an SQS queue with visibility/delay/redrive semantics, a simulated clock, and a
driver that runs the consumer the way Lambda + SQS would."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from runtime.sender.consumer import BatchResult, QueueRecord, SenderConfig, SenderConsumer
from runtime.sender.headers import UnsubscribeHeaders
from runtime.sender.ledger import InMemoryLedger
from runtime.sender.pacing import AccountLimitsProvider, InMemoryRateStore, Pacer
from runtime.sender.resolve import InMemorySendResolver
from runtime.stores.suppressions import InMemorySuppressionStore
from runtime.tokens import TokenSigner

_MODEL = botocore.session.get_session().get_service_model("sesv2")
_VALIDATOR = ParamValidator()
SECRET = "unit-test-unsubscribe-secret-0123456789"


def validate(operation: str, params: dict[str, Any]) -> None:
    """Raise if ``params`` do not match botocore's input shape (what the real client would reject)."""
    report = _VALIDATOR.validate(params, _MODEL.operation_model(operation).input_shape)
    if report.has_errors():
        raise AssertionError(report.generate_report())


def client_error(code: str, status: int = 400, message: str = "injected") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail"
    )


@dataclass
class SimClock:
    now: float = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass
class FakeSes:
    """One region's SESv2 client. ``fail(op, params)`` may return an exception to raise for a call (nothing sent);
    ``lose(op, params)`` may return one to raise *after* the call was accepted (the answer is lost on the way back).
    ``accepted`` maps each accepted message's ``sesame_send_id`` tag to its MessageId (what SES's Send events will
    tell; see ``Harness.resolver``)."""

    region: str
    clock: SimClock | None = None
    fail: Callable[[str, dict[str, Any]], Exception | None] | None = None
    entry_status: Callable[[dict[str, Any]], str] | None = None  # per bulk entry: "SUCCESS" or a failure status
    validate_requests: bool = True
    lose: Callable[[str, dict[str, Any]], Exception | None] | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # one per delivered message
    send_times: list[tuple[float, int]] = field(default_factory=list)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted: dict[str, str] = field(default_factory=dict)
    on_accept: Callable[[str, str], None] | None = None  # (send id, MessageId) for each accepted message
    # GetAccount (issue 13): the account's state in this region; ``sending_options``: PutConfigurationSetSendingOptions
    account: dict[str, Any] = field(
        default_factory=lambda: {
            "ProductionAccessEnabled": True,
            "SendingEnabled": True,
            "EnforcementStatus": "HEALTHY",
            "SendQuota": {"MaxSendRate": 500.0, "Max24HourSend": 1_000_000.0, "SentLast24Hours": 0.0},
        }
    )
    sending_options: list[tuple[str, bool]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def _message_id(self) -> str:
        return f"0100{self.region}-{next(self._ids):08d}-000000"

    def _call(self, op: str, params: dict[str, Any]) -> None:
        if self.validate_requests:
            validate(op, params)
        self.calls.append((op, params))
        if self.fail is not None:
            error = self.fail(op, params)
            if error is not None:
                raise error

    def _answer(self, op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if self.lose is not None:
            error = self.lose(op, params)
            if error is not None:
                raise error
        return answer

    def send_email(self, **params: Any) -> dict[str, Any]:
        self._call("SendEmail", params)
        message_id = self._message_id()
        tags = params.get("EmailTags", [])
        self._record(params.get("Destination", {}), params, message_id, params.get("Content", {}), tags)
        return self._answer("SendEmail", params, {"MessageId": message_id})

    def send_bulk_email(self, **params: Any) -> dict[str, Any]:
        self._call("SendBulkEmail", params)
        results = []
        for entry in params["BulkEmailEntries"]:
            status = self.entry_status(entry) if self.entry_status else "SUCCESS"
            if status != "SUCCESS":
                results.append({"Status": status, "Error": "injected"})
                continue
            message_id = self._message_id()
            tags = [*params.get("DefaultEmailTags", []), *entry.get("ReplacementTags", [])]
            self._record(entry["Destination"], params, message_id, entry, tags)
            results.append({"Status": "SUCCESS", "MessageId": message_id})
        return self._answer("SendBulkEmail", params, {"BulkEmailEntryResults": results})

    def _record(
        self,
        destination: dict[str, Any],
        params: dict[str, Any],
        message_id: str,
        detail: Any,
        tags: list[dict[str, str]],
    ) -> None:
        addresses = [*destination.get("ToAddresses", []), *destination.get("CcAddresses", [])]
        addresses += destination.get("BccAddresses", [])
        tag_map = {t["Name"]: t["Value"] for t in tags}
        self.sent.append(
            {
                "message_id": message_id,
                "to": addresses,
                "config_set": params.get("ConfigurationSetName"),
                "region": self.region,
                "detail": detail,
                "params": params,
                "tags": tag_map,
            }
        )
        if "sesame_send_id" in tag_map:
            self.accepted[tag_map["sesame_send_id"]] = message_id
            if self.on_accept is not None:
                self.on_accept(tag_map["sesame_send_id"], message_id)
        if self.clock is not None:
            self.send_times.append((self.clock.now, len(addresses)))

    def get_account(self) -> dict[str, Any]:  # a read: not in ``calls`` (tests count sends and template writes)
        return dict(self.account)

    def put_configuration_set_sending_options(self, **params: Any) -> dict[str, Any]:
        self._call("PutConfigurationSetSendingOptions", params)
        self.sending_options.append((params["ConfigurationSetName"], bool(params.get("SendingEnabled"))))
        return {}

    def create_email_template(self, **params: Any) -> dict[str, Any]:
        self._call("CreateEmailTemplate", params)
        name = params["TemplateName"]
        if name in self.templates:
            raise client_error("AlreadyExistsException")
        self.templates[name] = params["TemplateContent"]
        return {}

    def get_email_template(self, **params: Any) -> dict[str, Any]:
        self._call("GetEmailTemplate", params)
        if params["TemplateName"] not in self.templates:
            raise client_error("NotFoundException", 404)
        return {"TemplateName": params["TemplateName"], "TemplateContent": dict(self.templates[params["TemplateName"]])}

    def update_email_template(self, **params: Any) -> dict[str, Any]:
        self._call("UpdateEmailTemplate", params)
        if params["TemplateName"] not in self.templates:
            raise client_error("NotFoundException", 404)
        self.templates[params["TemplateName"]] = params["TemplateContent"]
        return {}


@dataclass
class _Msg:
    id: str
    body: str
    visible_at: float
    receive_count: int = 0
    receipt: str = ""


@dataclass
class FakeQueue:
    """SQS semantics the consumer depends on (visibility timeout, delays, receive count, redrive to a DLQ)."""

    clock: SimClock
    visibility_timeout: float = 60.0
    max_receive_count: int = 5
    messages: dict[str, _Msg] = field(default_factory=dict)
    dlq: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def send(self, body: str, delay_seconds: int = 0) -> str:
        message_id = f"m-{next(self._ids)}"
        self.messages[message_id] = _Msg(message_id, body, self.clock.now + delay_seconds)
        return message_id

    def receive(self, limit: int = 10) -> list[QueueRecord]:
        out = []
        for msg in sorted(self.messages.values(), key=lambda m: m.visible_at):
            if len(out) == limit:
                break
            if msg.visible_at > self.clock.now:
                continue
            if msg.receive_count >= self.max_receive_count:
                self.dlq.append(msg.body)
                del self.messages[msg.id]
                continue
            msg.receive_count += 1
            msg.visible_at = self.clock.now + self.visibility_timeout
            msg.receipt = f"{msg.id}#{msg.receive_count}"
            out.append(QueueRecord(msg.id, msg.receipt, msg.body, msg.receive_count))
        return out

    def next_visible(self) -> float | None:
        return min((m.visible_at for m in self.messages.values()), default=None)

    # QueueOps
    def delete(self, records: Any) -> list[str]:
        for record in records:
            msg = self.messages.get(record.message_id)
            if msg is not None and msg.receipt == record.receipt_handle:
                del self.messages[record.message_id]
        return []

    def change_visibility(self, record: QueueRecord, seconds: int) -> None:
        msg = self.messages.get(record.message_id)
        if msg is not None:
            msg.visible_at = self.clock.now + seconds

    def requeue(self, body: str, delay_seconds: int) -> None:
        self.send(body, delay_seconds)


@dataclass
class Harness:
    clock: SimClock
    queue: FakeQueue
    primary: FakeSes
    backup: FakeSes
    suppressions: InMemorySuppressionStore
    ledger: InMemoryLedger
    rates: InMemoryRateStore
    consumer: SenderConsumer
    resolver: InMemorySendResolver
    results: list[BatchResult] = field(default_factory=list)

    def ses(self, region: str) -> FakeSes:
        return self.primary if region == self.primary.region else self.backup

    def run_once(self) -> BatchResult | None:
        records = self.queue.receive(10)
        if not records:
            return None
        result = self.consumer.process(records)
        self.results.append(result)
        if not result.incomplete:  # Lambda returned normally: the service deletes the whole batch
            self.queue.delete(records)
        return result

    def drain(self, max_batches: int = 100_000) -> None:
        for _ in range(max_batches):
            if self.run_once() is None:
                nxt = self.queue.next_visible()
                if nxt is None:
                    return
                self.clock.now = max(self.clock.now, nxt)
        raise AssertionError("queue did not drain")

    def sent_to(self) -> Counter[str]:
        return Counter(a for ses in (self.primary, self.backup) for m in ses.sent for a in m["to"])


def harness(
    *,
    rate: float = 1000.0,
    backup_region: str = "eu-west-1",
    with_headers: bool = True,
    primary_fail: Callable[[str, dict[str, Any]], Exception | None] | None = None,
    backup_fail: Callable[[str, dict[str, Any]], Exception | None] | None = None,
    validate_requests: bool = True,
    daily_quota: float | None = None,
    seed: int = 7,
    ingest_send_events: bool = True,
    grace: float = 900.0,
    controls: dict[str, str] | None = None,
    paused_config_sets: set[str] | None = None,
    parallel_sends: int = 1,
    headers_source: Callable[[], UnsubscribeHeaders | None] | None = None,
) -> Harness:
    """``ingest_send_events``: SES's Send events reach the resolver as soon as SES accepts (a healthy ingestion);
    off, tests feed ``h.resolver.accepted`` themselves."""
    clock = SimClock()
    resolver = InMemorySendResolver()
    on_accept = resolver.accepted.__setitem__ if ingest_send_events else None
    primary = FakeSes("us-east-1", clock, fail=primary_fail, validate_requests=validate_requests, on_accept=on_accept)
    backup = FakeSes(
        backup_region or "eu-west-1", clock, fail=backup_fail, validate_requests=validate_requests, on_accept=on_accept
    )
    queue = FakeQueue(clock)
    suppressions = InMemorySuppressionStore()
    ledger = InMemoryLedger(clock=clock)
    rates = InMemoryRateStore()

    class _Limits(AccountLimitsProvider):
        def _fetch(self, region: str) -> Any:
            from runtime.sender.pacing import AccountLimits

            return AccountLimits(rate, daily_quota)

    sets = {"marketing": "sesame-test-marketing"}
    backup_sets = {"marketing": "sesame-test-marketing-backup"}

    def config_set(name: str | None, backup: bool) -> str:
        mapping = backup_sets if backup else sets
        logical = name or "marketing"
        if backup and logical in sets.values():
            logical = next(k for k, v in sets.items() if v == logical)
        return mapping.get(logical, logical)

    h: Harness
    pacer = Pacer(rates, _Limits(lambda r: None, clock=clock), headroom=0.0, clock=clock, sleep=clock.sleep)
    headers = UnsubscribeHeaders(TokenSigner([SECRET]), "https://mail.example.com", "unsubscribe@example.com")
    consumer = SenderConsumer(
        config=SenderConfig(
            region="us-east-1",
            backup_region=backup_region,
            default_from="news@example.com",
            configuration_set=config_set,
            unknown_grace=grace,
            parallel_sends=parallel_sends,
        ),
        ses=lambda region: h.ses(region),
        suppressions=suppressions,
        ledger=ledger,
        pacer=pacer,
        queue=queue,
        headers=headers if with_headers and headers_source is None else None,
        headers_source=headers_source,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(seed),
        resolver=resolver,
        # campaign control (issue 13): the dicts are read at each batch, so a test pauses/resumes by mutating them
        controls=None if controls is None else (lambda ids: {c: controls[c] for c in ids if c in controls}),
        paused_config_sets=None if paused_config_sets is None else (lambda: set(paused_config_sets)),
    )
    h = Harness(clock, queue, primary, backup, suppressions, ledger, rates, consumer, resolver)
    return h


def send_line(to: str, *, template: str = "welcome", data: dict[str, Any] | None = None, **extra: Any) -> str:
    """A seed-003 style SendEmail line."""
    request: dict[str, Any] = {
        "FromEmailAddress": "news@example.com",
        "Destination": {"ToAddresses": [to]},
        "Content": {"Template": {"TemplateName": template, "TemplateData": json.dumps(data or {"name": "x"})}},
        "EmailTags": [{"Name": "campaignId", "Value": "spring sale"}, {"Name": "segmentId", "Value": "vip/list"}],
        "ConfigurationSetName": "marketing",
    }
    request.update(extra)
    return json.dumps(request)
