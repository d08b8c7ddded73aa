"""Operate (issue 13): campaign control, reputation and guardrails — the HTTP edge and the per-minute schedule.

* ``GET /campaigns/{campaign_id}`` — status (``scheduled|launching|running|paused|cancelled|completed``) and counts;
  ``PATCH`` ``{"status": "paused" | "running" | "cancelled"}`` — pause, resume, cancel (idempotent; 400 unknown
  status, 404 unknown campaign, 409 impossible transition);
* ``GET /reputation`` — per sending region and configuration set: access, quotas, bounce/complaint rates and their
  source, status, and what the guardrails paused (the snapshot the ``guardrails`` schedule writes each minute);
* ``PATCH /reputation/configuration-sets/{name}`` ``{"status": "running" | "paused"}`` — an operator resumes (or
  pauses) a configuration set's sending through SES;
* ``run_guardrails()`` — called by the per-minute schedule (``sending.check_for_campaign``): refresh the snapshot,
  trip and record the guardrails.

Use cases live in ``runtime.sender.control`` and ``runtime.reputation``; this module maps HTTP to them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import BadRequestError, Blueprint, ConflictError, NotFoundError, Response

from chalicelib import wiring
from chalicelib.tracking_api import json_body, preflight_response, require_api_key
from runtime import logs

if TYPE_CHECKING:
    from runtime.reputation.service import ReputationService
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

            from runtime.reputation.account import AccountUnavailableError
            from runtime.reputation.service import (
                ReputationInputError,
                ReputationNotReadyError,
                ReputationUnknownError,
            )
            from runtime.sender.control import CampaignControlError, CampaignTransitionError, CampaignUnknownError
            from runtime.stores.dynamo import DynamoUnavailableError

            try:
                return func(**kwargs)
            except (CampaignControlError, ReputationInputError) as exc:
                raise BadRequestError(str(exc)) from exc
            except (CampaignUnknownError, ReputationUnknownError) as exc:
                raise NotFoundError(str(exc)) from exc
            except CampaignTransitionError as exc:
                raise ConflictError(str(exc)) from exc
            except (ReputationNotReadyError, AccountUnavailableError) as exc:
                return _error(503, "ServiceUnavailable", str(exc))
            except DynamoUnavailableError:
                return _error(503, "ServiceUnavailable", "the data store is busy, retry shortly")
            except (ClientError, BotoCoreError) as exc:
                code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
                log.error("AWS call failed", extra={"path": path, "code": code or type(exc).__name__})
                return _error(503, "ServiceUnavailable", f"an AWS dependency failed ({code or type(exc).__name__})")

        return bp.route(path, methods=methods, content_types=["application/json"])(view)

    return decorate


def _json_body() -> Any:
    return json_body(bp.current_request, example='{"status": "paused"}')


# -- composition ---------------------------------------------------------------------------------------------
@functools.cache
def campaign_control() -> CampaignControl:
    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.stats import counters_of
    from runtime.sender.control import CampaignControl
    from runtime.stores.campaigns import DynamoCampaignStore

    s = wiring.settings()
    dynamodb = wiring.client("dynamodb", s.region)
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.campaigns_table))

    def counts(campaign_id: str) -> dict[str, int]:
        return counters_of(reader.campaign_totals([campaign_id]).get(campaign_id))

    return CampaignControl(DynamoCampaignStore(dynamodb, s.campaigns_table), counts)


@functools.cache
def reputation() -> ReputationService:
    from runtime.reputation.wiring import build_service

    return build_service(wiring.settings(), wiring.client, campaign_control())


@wiring.on_reset
def _reset() -> None:
    for cached in (campaign_control, reputation):
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


@operate_route("/reputation", ["GET"])
def get_reputation() -> Response:
    return _ok(reputation().current(lazy=True), cache="private, max-age=30")


@operate_route("/reputation/configuration-sets/{name}", ["PATCH"])
def patch_configuration_set(name: str) -> Response:
    request = bp.current_request
    region = ((request.query_params or {}) if request is not None else {}).get("region")
    result = reputation().control_configuration_set(name, _json_body(), region=region, by="api")
    log.info("configuration set control", extra={"configuration_set": name, "status": result["status"]})
    return _ok(result)


@bp.route("/campaigns/{campaign_id}", methods=["OPTIONS"], content_types=["*/*"])
def campaign_preflight(campaign_id: str) -> Response:
    return preflight_response("GET, PATCH, OPTIONS")


@bp.route("/reputation", methods=["OPTIONS"], content_types=["*/*"])
def reputation_preflight() -> Response:
    return preflight_response("GET, OPTIONS")


@bp.route("/reputation/configuration-sets/{name}", methods=["OPTIONS"], content_types=["*/*"])
def configuration_set_preflight(name: str) -> Response:
    return preflight_response("PATCH, OPTIONS")


# -- the per-minute guardrail check (run by the check_for_campaign schedule) ----------------------------------
def run_guardrails() -> dict[str, Any]:
    snapshot = reputation().refresh()
    new = [p for p in snapshot.get("paused", []) if p.get("new")]
    wiring.metrics().add("GuardrailTripped", float(len(new)))
    wiring.metrics().flush()
    if new:
        log.warning("guardrails paused sending", extra={"paused": [f"{p['kind']}:{p['name']}" for p in new]})
    return snapshot
