"""Faults at botocore's wire level, and the SES that answers the sender's calls.

moto's in-process mock (``mock_aws``) answers every botocore request from a ``before-send`` hook
(``moto.core.botocore_stubber.BotocoreStubber``). ``Wire`` wraps that hook for the duration of a chaos scenario, so
the application's real clients — real serialisation, botocore's real retry handler, real response parsing — see:

* ``lost``: the request reaches the emulator and is **applied**, then the connection drops before the answer
  (``ConnectionClosedError``; botocore's standard retry mode re-sends it, as it would on AWS);
* ``before``: throttling or a 5xx error document **instead of** applying the request;
* ``killed``: the invocation dies (``HandlerKilled``, a ``BaseException`` no application code catches) right after
  its k-th write was applied.

Faults hit only requests made while a handler runs (``FaultPolicy.active``): the driver's own calls (the "Lambda
service" receiving and deleting batches, "SNS" publishing events) are clean. Two behaviours of real AWS that moto
lacks are provided here too: ``TransactWriteItems`` honours ``ClientRequestToken`` (a repeat of a transaction that
succeeded answers success without applying it again; the same token with other items is refused), and SESv2
``SendEmail``/``SendBulkEmail`` are answered by ``SesWire``, which records every accepted message and produces the
events SES would publish for it (``runtime.local.simulator``), carrying the message's tags. SQS ``DelaySeconds`` is
capped at one second (time compression: the application measures its own waits on the scenario's virtual clock).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from runtime.local.simulator import SentMail, SesEventSimulator, SimulatedEvent, SimulatorOptions, fake_ses_message_id

WRITE_OPERATIONS = frozenset(
    {
        ("dynamodb", "PutItem"),
        ("dynamodb", "UpdateItem"),
        ("dynamodb", "DeleteItem"),
        ("dynamodb", "BatchWriteItem"),
        ("dynamodb", "TransactWriteItems"),
        ("sqs", "SendMessage"),
        ("sqs", "SendMessageBatch"),
        ("sqs", "DeleteMessage"),
        ("sqs", "DeleteMessageBatch"),
        ("sqs", "ChangeMessageVisibility"),
        ("sqs", "ChangeMessageVisibilityBatch"),
        ("sesv2", "SendEmail"),
        ("sesv2", "SendBulkEmail"),
    }
)
MAX_KILL_AFTER = 3  # a killed invocation dies after its k-th write, k uniform in 1..3 (if it gets that far)


class HandlerKilled(BaseException):  # noqa: N818 - it is not an error the code may handle
    """The Lambda invocation dies (timeout, out of memory, host failure): nothing after this runs."""


@dataclass
class FaultPolicy:
    """Which fault, how often; one seeded random stream per scenario."""

    kind: str  # lost | before | killed
    rate: float
    seed: int
    active: bool = False
    injected: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(init=False)
    _kill_at: int | None = None
    _writes: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def begin_invocation(self) -> None:
        self._writes = 0
        self._kill_at = None
        if self.kind == "killed" and self._rng.random() < self.rate:
            self._kill_at = self._rng.randint(1, MAX_KILL_AFTER)

    def fault_for(self, service: str, operation: str) -> str | None:
        """None, ``lost``, ``throttle``, ``5xx`` or ``kill`` for one request."""
        if not self.active:
            return None
        if self.kind == "killed":
            if (service, operation) in WRITE_OPERATIONS:
                self._writes += 1
                if self._writes == self._kill_at:
                    self.injected["kill"] += 1
                    return "kill"
            return None
        if self._rng.random() >= self.rate:
            return None
        if self.kind == "lost":
            self.injected["lost"] += 1
            return "lost"
        fault = "throttle" if self._rng.random() < 0.5 else "5xx"
        self.injected[fault] += 1
        return fault


def _response(request: AWSPreparedRequest, status: int, body: dict[str, Any], headers: dict[str, str]) -> AWSResponse:
    raw = json.dumps(body).encode()
    return AWSResponse(request.url, status, {"Content-Length": str(len(raw)), **headers}, MockRawResponse(raw))


def error_response(request: AWSPreparedRequest, service: str, fault: str) -> AWSResponse:
    """The error document each protocol uses, as the service would answer before doing anything."""
    throttle = fault == "throttle"
    if service == "sesv2":  # rest-json
        code = "TooManyRequestsException" if throttle else "InternalFailure"
        status = 429 if throttle else 500
        return _response(request, status, {"message": "injected"}, {"x-amzn-ErrorType": code})
    if service == "dynamodb":  # json 1.0
        code = "ThrottlingException" if throttle else "InternalServerError"
        status = 400 if throttle else 500
        return _response(request, status, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "x"}, {})
    code = "RequestThrottled" if throttle else "InternalError"  # sqs (json)
    status = 400 if throttle else 500
    return _response(request, status, {"__type": f"com.amazonaws.sqs#{code}", "message": "injected"}, {})


@dataclass
class Accepted:
    region: str
    message_id: str
    recipient: str
    send_id: str
    at: float


class SesWire:
    """SESv2 SendEmail / SendBulkEmail (moto 5.2.5 has no SendBulkEmail): accepts everything, records it, and
    queues the events SES would publish for each message (Send, Delivery, Bounce, ... per the mailbox simulator)."""

    def __init__(self, clock: Callable[[], float], seed: int) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self._simulator = SesEventSimulator(SimulatorOptions(seed=seed))
        self.accepted: list[Accepted] = []
        self.pending: list[SimulatedEvent] = []

    def handle(self, operation: str, request: AWSPreparedRequest) -> AWSResponse:
        region = (re.search(r"email\.([a-z0-9-]+)\.amazonaws", request.url) or [None, "us-east-1"])[1]
        body = json.loads(request.body or b"{}")
        if operation == "SendEmail":
            entries = [(body.get("Destination") or {}, body.get("EmailTags") or [])]
        else:
            default_tags = body.get("DefaultEmailTags") or []
            entries = [
                (entry["Destination"], [*default_tags, *(entry.get("ReplacementTags") or [])])
                for entry in body["BulkEmailEntries"]
            ]
        ids = [self._accept(str(region), body, destination, tags) for destination, tags in entries]
        if operation == "SendEmail":
            return _response(request, 200, {"MessageId": ids[0]}, {})
        results = [{"Status": "SUCCESS", "MessageId": message_id} for message_id in ids]
        return _response(request, 200, {"BulkEmailEntryResults": results}, {})

    def _accept(
        self, region: str, body: dict[str, Any], destination: dict[str, Any], tags: list[dict[str, str]]
    ) -> str:
        now = self._clock()
        sent_at = datetime.fromtimestamp(now, tz=UTC)
        message_id = fake_ses_message_id(sent_at, self._rng)
        tag_map = {t["Name"]: t["Value"] for t in tags}
        recipient = (destination.get("ToAddresses") or [""])[0]
        send_id = tag_map.get("sesame_send_id", "")
        self.accepted.append(Accepted(region, message_id, recipient, send_id, now))
        mail = SentMail(
            message_id=message_id,
            recipient=recipient,
            sent_at=sent_at,
            source=str(body.get("FromEmailAddress") or "news@example.com"),
            configuration_set=str(body.get("ConfigurationSetName") or ""),
            campaign_id=tag_map.get("campaign_id"),
            list_name=tag_map.get("list_name"),
            extra_tags=tuple((k, v) for k, v in tag_map.items() if k not in ("campaign_id", "list_name")),
            region=region,
        )
        self.pending.extend(self._simulator.events_for(mail))
        return message_id


class Wire:
    """The wrapper around moto's request hook for one scenario."""

    def __init__(self, policy: FaultPolicy, ses: SesWire) -> None:
        self.policy = policy
        self.ses = ses
        self._original = BotocoreStubber.__call__
        self._tokens: dict[str, tuple[str, AWSResponse]] = {}
        self.requests: Counter[str] = Counter()

    def install(self, monkeypatch: Any) -> None:
        wire = self

        def hook(stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
            return wire.handle(stubber, event_name, request, **kwargs)

        monkeypatch.setattr(BotocoreStubber, "__call__", hook)

    def handle(self, stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
        if not stubber.enabled:
            return None
        _, service, operation = event_name.split(".", 2)
        if self.policy.active:
            self.requests[f"{service}.{operation}"] += 1
        if service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
            _cap_delays(request)
        fault = self.policy.fault_for(service, operation)
        if fault in ("throttle", "5xx"):
            return error_response(request, service, fault)
        response = self._apply(stubber, event_name, request, service, operation, **kwargs)
        if fault == "lost":
            raise ConnectionClosedError(endpoint_url=request.url)
        if fault == "kill":
            raise HandlerKilled(f"killed after {service}.{operation}")
        return response

    def _apply(
        self,
        stubber: BotocoreStubber,
        event_name: str,
        request: AWSPreparedRequest,
        service: str,
        operation: str,
        **kwargs: Any,
    ) -> Any:
        if service == "sesv2" and operation in ("SendEmail", "SendBulkEmail"):
            return self.ses.handle(operation, request)
        if service == "dynamodb" and operation == "TransactWriteItems":
            body = json.loads(request.body or b"{}")
            token = body.get("ClientRequestToken")
            digest = hashlib.sha256(json.dumps(body.get("TransactItems"), sort_keys=True).encode()).hexdigest()
            if token in self._tokens:
                seen, answer = self._tokens[token]
                if seen != digest:
                    return _response(
                        request,
                        400,
                        {"__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"},
                        {},
                    )
                return _response(request, 200, {}, {})  # already applied: DynamoDB answers success again
            response = self._original(stubber, event_name, request, **kwargs)
            if token and response is not None and response.status_code == 200:
                self._tokens[token] = (digest, response)
            return response
        return self._original(stubber, event_name, request, **kwargs)


def _cap_delays(request: AWSPreparedRequest) -> None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return
    changed = False
    for entry in [body, *(body.get("Entries") or [])]:
        if isinstance(entry, dict) and int(entry.get("DelaySeconds") or 0) > 1:
            entry["DelaySeconds"] = 1
            changed = True
    if changed:
        raw = json.dumps(body).encode()
        request.body = raw
        request.headers["Content-Length"] = str(len(raw))
