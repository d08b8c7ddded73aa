"""Campaign submission and scheduling routes (the sender area's HTTP edge).

* ``POST /campaigns`` — a Campaign Candidate (``application/json``) or a JSON-lines file of SESv2 SendEmail requests
  (``application/x-ndjson``). 201 with the campaign id and counts when everything was enqueued or scheduled; 202
  with ``complete: false`` and ``not_enqueued`` (job ids, lists and addresses) when SQS refused part of it, or with
  ``status: validating`` and ``status_url`` for recipient files (checked cheaply here, validated by the per-minute
  check in steps: no file is read whole inside the request).
* ``GET /campaigns/{campaign_id}/schedule`` — describe; ``PATCH`` ``{"date": ...}`` — re-date; ``DELETE`` — delete
  before launch (409 once launched).

``GET /campaigns`` (listing) and the stats routes belong to the tracking API (``tracking_api``); authentication is
the same check (``tracking_api.require_api_key``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import BadRequestError, Blueprint, ConflictError, NotFoundError, Response

from chalicelib import sending
from chalicelib.tracking_api import json_body, preflight_response, require_api_key
from runtime import logs

bp = Blueprint(__name__)
log = logs.get_logger("sesame.campaigns")

_NDJSON = "application/x-ndjson"
_CONTENT_TYPES = ["application/json", _NDJSON]


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(
        body={"Code": code, "Message": message, **extra}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _ok(body: Any, status: int = 200) -> Response:
    return Response(body=body, status_code=status, headers={"Cache-Control": "no-store", "Vary": "Authorization"})


def campaign_route(path: str, methods: list[str]) -> Callable[[Callable[..., Any]], Any]:
    """``bp.route`` with the API key check and the domain-error -> HTTP mapping (never a 500 for bad input)."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def view(**kwargs: Any) -> Any:
            require_api_key(bp.current_request)
            # imported on first use (botocore and the sender's pydantic models cost Lambda cold start)
            from botocore.exceptions import BotoCoreError, ClientError

            from runtime.reputation.account import AccountUnavailableError, SendingBlockedError
            from runtime.sender.campaign import CampaignError
            from runtime.sender.recipients import RecipientFileError
            from runtime.sender.service import CampaignNotFoundError, SchedulingUnavailableError
            from runtime.sender.templates import TemplateConflictError, TemplateSyncError
            from runtime.stores.campaigns import CampaignExistsError, CampaignStateError
            from runtime.stores.dynamo import DynamoUnavailableError

            try:
                return func(**kwargs)
            except CampaignError as exc:
                return _error(400, "BadRequestError", str(exc), errors=exc.problems)
            except RecipientFileError as exc:
                raise BadRequestError(str(exc)) from exc
            except CampaignNotFoundError as exc:
                raise NotFoundError(str(exc)) from exc
            except (CampaignExistsError, CampaignStateError) as exc:
                raise ConflictError(str(exc)) from exc
            except SendingBlockedError as exc:
                return _error(409, "SendingBlocked", f"campaign refused: {exc}")
            except AccountUnavailableError as exc:
                return _error(503, "ServiceUnavailable", f"{exc}; retry shortly")
            except SchedulingUnavailableError as exc:
                raise BadRequestError(f"date: {exc}; omit the date to send now") from exc
            except TemplateConflictError as exc:
                raise ConflictError(f"template: {exc}") from exc
            except TemplateSyncError as exc:
                if exc.retryable:
                    return _error(503, "ServiceUnavailable", f"{exc}; retry shortly")
                raise BadRequestError(f"template: {exc}") from exc
            except DynamoUnavailableError:
                return _error(503, "ServiceUnavailable", "the data store is busy, retry shortly")
            except (ClientError, BotoCoreError) as exc:  # an AWS dependency failed: nothing the caller did wrong
                code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
                log.error("AWS call failed", extra={"path": path, "code": code or type(exc).__name__})
                return _error(503, "ServiceUnavailable", f"an AWS dependency failed ({code or type(exc).__name__})")

        return bp.route(path, methods=methods, content_types=_CONTENT_TYPES)(view)

    return decorate


def _json_body() -> Any:
    return json_body(bp.current_request)


@campaign_route("/campaigns", ["POST"])
def submit_campaign() -> Response:
    request = bp.current_request
    content_type = (request.headers.get("content-type", "") if request is not None else "").split(";")[0].strip()
    service = sending.campaign_service()
    if content_type == _NDJSON:
        raw = request.raw_body if request is not None else b""
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise BadRequestError("body: JSON lines must be UTF-8") from exc
        result = service.submit_lines(lines)
    else:
        result = service.submit(_json_body())
    return _ok(result, 201 if result.get("complete", True) else 202)


@campaign_route("/campaigns/{campaign_id}/schedule", ["GET"])
def describe_schedule(campaign_id: str) -> Response:
    return _ok(sending.campaign_service().describe(campaign_id))


@campaign_route("/campaigns/{campaign_id}/schedule", ["PATCH"])
def redate_schedule(campaign_id: str) -> Response:
    body = _json_body()
    if not isinstance(body, dict) or "date" not in body:
        raise BadRequestError('date: give {"date": "<ISO-8601 date-time>"} (or "now")')
    return _ok(sending.campaign_service().redate(campaign_id, body["date"]))


@campaign_route("/campaigns/{campaign_id}/schedule", ["DELETE"])
def delete_schedule(campaign_id: str) -> Response:
    return _ok(sending.campaign_service().delete(campaign_id))


@bp.route("/campaigns/{campaign_id}/schedule", methods=["OPTIONS"], content_types=["*/*"])
def schedule_preflight(campaign_id: str) -> Response:
    return preflight_response("GET, PATCH, DELETE, OPTIONS")
