"""Operate (issue 13): campaign control, reputation and guardrails — the HTTP edge and the per-minute schedule.

* ``GET /campaigns/{campaign_id}`` — status (``scheduled|launching|running|paused|cancelled|completed``) and counts;
  ``PATCH`` ``{"status": "paused" | "running" | "cancelled"}`` — pause, resume, cancel (idempotent; 400 unknown
  status, 404 unknown campaign, 409 impossible transition);

Use cases live in ``runtime.sender.control``; this module maps HTTP to them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import BadRequestError, Blueprint, ConflictError, NotFoundError, Response

from chalicelib import wiring
from chalicelib.tracking_api import require_api_key
from runtime import logs

if TYPE_CHECKING:
    from runtime.sender.control import CampaignControl

bp = Blueprint(__name__)
log = logs.get_logger("sesame.operate")


def _error(status: int, code: str, message: str) -> Response:
    return Response(body={"Code": code, "Message": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _ok(body: Any, cache: str = "no-store") -> Response:
    return Response(body=body, status_code=200, headers={"Cache-Control": cache, "Vary": "Authorization"})


def operate_route(path: str, methods: list[str]) -> Callable[[Callable[..., Any]], Any]:
    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def view(**kwargs: Any) -> Any:
            require_api_key(bp.current_request)
            from botocore.exceptions import BotoCoreError, ClientError

            from runtime.sender.control import CampaignControlError, CampaignTransitionError, CampaignUnknownError
            from runtime.stores.dynamo import DynamoUnavailableError

            try:
                return func(**kwargs)
            except CampaignControlError as exc:
                raise BadRequestError(str(exc)) from exc
            except CampaignUnknownError as exc:
                raise NotFoundError(str(exc)) from exc
            except CampaignTransitionError as exc:
                raise ConflictError(str(exc)) from exc
            except DynamoUnavailableError:
                return _error(503, "ServiceUnavailable", "the data store is busy, retry shortly")
            except (ClientError, BotoCoreError) as exc:
                code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
                log.error("AWS call failed", extra={"path": path, "code": code or type(exc).__name__})
                return _error(503, "ServiceUnavailable", f"an AWS dependency failed ({code or type(exc).__name__})")

        return bp.route(path, methods=methods, content_types=["application/json"])(view)

    return decorate


def _json_body() -> Any:
    request = bp.current_request
    raw = request.raw_body if request is not None else b""
    if not raw:
        raise BadRequestError('body: a JSON object is required, e.g. {"status": "paused"}')
    from runtime import jsontext

    try:
        return jsontext.loads(raw)
    except jsontext.JsonTextError as exc:
        raise BadRequestError(f"body: {exc}") from exc


# -- composition ---------------------------------------------------------------------------------------------
@functools.cache
def campaign_control() -> CampaignControl:
    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.stats import counters_of
    from runtime.sender.control import CampaignControl
    from runtime.stores.campaigns import DynamoCampaignStore

    s = wiring.settings()
    dynamodb = wiring.client("dynamodb", s.region)
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.events_table, s.campaigns_table))

    def counts(campaign_id: str) -> dict[str, int]:
        return counters_of(reader.campaign_totals([campaign_id]).get(campaign_id))

    return CampaignControl(DynamoCampaignStore(dynamodb, s.campaigns_table), counts)


@wiring.on_reset
def _reset() -> None:
    for cached in (campaign_control,):
        cached.cache_clear()


# -- routes ----------------------------------------------------------------------------------------------------
@operate_route("/campaigns/{campaign_id}", ["GET"])
def get_campaign(campaign_id: str) -> Response:
    return _ok(campaign_control().describe(campaign_id))


@operate_route("/campaigns/{campaign_id}", ["PATCH"])
def patch_campaign(campaign_id: str) -> Response:
    result = campaign_control().change(campaign_id, _json_body(), by="api")
    log.info("campaign control", extra={"campaign_id": campaign_id, "status": result["status"]})
    return _ok(result)


def _preflight(methods: str) -> Response:
    headers = {
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Cache-Control": "no-store",
    }
    return Response(body="", status_code=204, headers=headers)


@bp.route("/campaigns/{campaign_id}", methods=["OPTIONS"], content_types=["*/*"])
def campaign_preflight(campaign_id: str) -> Response:
    return _preflight("GET, PATCH, OPTIONS")
