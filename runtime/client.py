"""A small Python client of a sesame stage's HTTP API (stdlib only: ``urllib``), used by the CLI (``sesame send``,
``sesame message``, ``sesame stats``) and the tests, and usable from any producer.

>>> client = SesameClient("https://api.example.com/api", "ssm_...")
>>> answer = client.send(to=["ada@example.org"], subject="Your receipt", text="Thanks!", idempotency_key="order-1001")
>>> answer.status, [r["status"] for r in answer.body["results"]]
(200, ['sent'])
>>> client.message(answer.body["results"][0]["message_id"])["message"]["status"]
'sent'

``send`` answers 200 and 207 as results (``SendResult``: the HTTP status, the body, whether it was a replay); every
other status raises ``SesameApiError`` with the status, the error code and message (and ``errors`` for a 400).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class SesameApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, errors: list[str] | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class SendResult:
    status: int  # 200 (every recipient sent or queued) or 207 (outcomes differ)
    body: dict[str, Any]
    replayed: bool = False  # the answer of an earlier request with the same Idempotency-Key

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.body.get("results", []))


class SesameClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 35.0) -> None:
        url = base_url.rstrip("/")
        host = urllib.parse.urlsplit(url).hostname or ""
        if not url.startswith("https://") and not (url.startswith("http://") and host in ("127.0.0.1", "localhost")):
            raise ValueError("the API URL must be https:// (plain http only for localhost)")
        if not api_key:
            raise ValueError("an API key is required")
        self._base = url
        self._key = api_key
        self._timeout = timeout

    # -- calls ---------------------------------------------------------------------------------------------------
    def send(self, *, idempotency_key: str | None = None, **fields: Any) -> SendResult:
        """``POST /messages`` with the given body fields (``from_`` for ``from``; see docs/sending.md)."""
        body = {("from" if k == "from_" else k): v for k, v in fields.items() if v is not None}
        return self.send_request(body, idempotency_key=idempotency_key)

    def send_request(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> SendResult:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        status, answer, response_headers = self._call("POST", "/messages", body, headers)
        replayed = response_headers.get("idempotent-replayed", "").lower() == "true"
        return SendResult(status, answer, replayed)

    def message(self, message_id: str) -> dict[str, Any]:
        """``GET /messages/{id}``: the message summary and its events (a ``queued-`` id answers the SES message
        once it is sent)."""
        return self._call("GET", "/messages/" + urllib.parse.quote(message_id, safe=""))[1]

    def campaign_stats(
        self, campaign_id: str, *, by: str | None = None, list_name: str | None = None
    ) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in (("by", by), ("list_name", list_name)) if v})
        path = f"/campaigns/{urllib.parse.quote(campaign_id, safe='')}/stats" + (f"?{query}" if query else "")
        return self._call("GET", path)[1]

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        """``GET /campaigns/{id}``: status, counts and launch progress."""
        return self._call("GET", f"/campaigns/{urllib.parse.quote(campaign_id, safe='')}")[1]

    # -- transport -----------------------------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        all_headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self._base + path, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status = int(response.status)
                raw = response.read()
                response_headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                error = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                error = {"Message": raw.decode("utf-8", "replace")[:500]}
            if not isinstance(error, dict):
                error = {"Message": str(error)}
            raise SesameApiError(
                exc.code, str(error.get("Code", "")), str(error.get("Message", "")), error.get("errors")
            ) from exc
        except urllib.error.URLError as exc:
            raise SesameApiError(0, "Unreachable", f"cannot reach {self._base}: {exc.reason}") from exc
        answer = json.loads(raw or b"{}")
        return status, answer if isinstance(answer, dict) else {"value": answer}, response_headers
