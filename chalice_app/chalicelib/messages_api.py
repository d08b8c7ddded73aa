"""``POST /messages``: the transactional send API (the sender area's HTTP edge; use case in
``runtime.sender.messages``).

200 when every recipient was sent or queued, 207 with per-recipient ``results`` when outcomes differ, 400 naming the
field for an invalid request, 409 for an ``Idempotency-Key`` reused with another body (or still running), 503 when
an AWS dependency failed before any answer could be given (retry with the same ``Idempotency-Key``).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import sending
from chalicelib.tracking_api import preflight_response, require_api_key
from runtime import logs

bp = Blueprint(__name__)
log = logs.get_logger("sesame.messages")


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(
        body={"Code": code, "Message": message, **extra}, status_code=status, headers={"Cache-Control": "no-store"}
    )


@bp.route("/messages", methods=["POST"], content_types=["application/json"])
def send_messages() -> Response:
    request = bp.current_request
    require_api_key(request)
    from botocore.exceptions import BotoCoreError, ClientError

    from runtime import jsontext
    from runtime.auth import hash_api_key
    from runtime.sender.messages import IdempotencyConflictError, MessageRequestError, QueueUnavailableError
    from runtime.stores.dynamo import DynamoUnavailableError

    raw = request.raw_body if request is not None else b""
    if not raw:
        return _error(400, "BadRequestError", "body: a JSON object is required")
    try:
        data = jsontext.loads(raw)
    except jsontext.JsonTextError as exc:
        return _error(400, "BadRequestError", f"body: {exc}")
    headers = request.headers if request is not None else {}
    key = headers.get("idempotency-key")
    token = (headers.get("authorization") or "").partition(" ")[2].strip()
    try:
        answer = sending.message_service().send(data, idempotency_key=key, caller=hash_api_key(token))
    except MessageRequestError as exc:
        return _error(400, "BadRequestError", str(exc), errors=exc.problems)
    except IdempotencyConflictError as exc:
        return _error(409, "ConflictError", str(exc))
    except QueueUnavailableError as exc:
        return _error(503, "ServiceUnavailable", f"{exc}; retry with the same Idempotency-Key")
    except DynamoUnavailableError:
        return _error(503, "ServiceUnavailable", "the data store is busy; retry with the same Idempotency-Key")
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        log.error("AWS call failed", extra={"path": "/messages", "code": code or type(exc).__name__})
        return _error(503, "ServiceUnavailable", f"an AWS dependency failed ({code or type(exc).__name__})")
    response_headers = {"Cache-Control": "no-store"}
    if answer.replayed:
        response_headers["Idempotent-Replayed"] = "true"
    return Response(body=answer.body, status_code=answer.status_code, headers=response_headers)


@bp.route("/messages", methods=["OPTIONS"], content_types=["*/*"])
def messages_preflight() -> Response:
    return preflight_response("POST, OPTIONS", allow_headers="Authorization, Content-Type, Idempotency-Key")
