"""Canned HTTP answers for botocore: record what an endpoint (moto) answered, then replay those exact bytes.

A replayed client does all of its real work — parameter validation, serialisation, SigV4 signing, response
parsing, CRC32 checks — and none of the emulator's: the answer comes from a ``before-send`` handler, which botocore
uses instead of sending (and so does ``runtime.stores.direct.DirectDynamo``, the ingestion Lambdas' client). So
process CPU measured around a replayed workload is the real path's CPU, with moto's own CPU (often larger than the
code under test) excluded.

Replay is strict: the N-th request sent must be the same operation as the N-th recorded one, else
:class:`ReplayMismatchError` — a changed request sequence can never be measured against the wrong answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class ReplayMismatchError(AssertionError):
    pass


@dataclass(frozen=True)
class Answer:
    operation: str
    status: int
    headers: dict[str, str]
    body: bytes


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Recorder:
    """Attach to a client (``service`` its event name, e.g. ``dynamodb``); ``answers`` in call order."""

    def __init__(self, service: str = "dynamodb") -> None:
        self.service = service
        self.answers: list[Answer] = []
        self.enabled = True

    def attach(self, client: Any) -> None:
        client.meta.events.register(f"after-call.{self.service}", self._after)

    def _after(self, http_response: Any, model: Any, **_: Any) -> None:
        if self.enabled:
            self.answers.append(
                Answer(model.name, http_response.status_code, dict(http_response.headers), http_response.content)
            )


class Replayer:
    """Attach to a client that must not reach any network: every request is answered from ``answers``."""

    def __init__(self, answers: list[Answer], service: str = "dynamodb") -> None:
        self._answers = answers
        self._next = 0
        self.service = service

    def attach(self, client: Any) -> None:
        client.meta.events.register(f"before-send.{self.service}", self._send)

    @property
    def remaining(self) -> int:
        return len(self._answers) - self._next

    def _send(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        operation = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
        if self._next >= len(self._answers):
            raise ReplayMismatchError(f"no recorded answer left for {operation}")
        answer = self._answers[self._next]
        if operation != answer.operation:
            raise ReplayMismatchError(f"request {self._next} is {operation}, recorded {answer.operation}")
        self._next += 1
        return AWSResponse(request.url, answer.status, answer.headers, _Raw(answer.body))
