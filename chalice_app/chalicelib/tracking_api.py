"""Tracking query API: messages, campaigns and their stats, recipients (GDPR access/erasure), suppressions, health.

Every route except ``/health``, ``/openapi.json`` (and the webhook and unsubscribe routes of other blueprints)
needs ``Authorization: Bearer <api key>``; ``require_api_key`` is the reusable check (the campaign routes import
it). Use cases live in ``runtime.query.service``; this module maps HTTP to them and their errors to typed 4xx.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice import BadRequestError, Blueprint, ForbiddenError, Response, UnauthorizedError
from chalice import NotFoundError as ChaliceNotFoundError
from chalice.app import Request

from chalicelib import wiring
from runtime import logs
from runtime.auth import ApiKeyAuthenticator, InvalidCredentialsError, MissingCredentialsError
from runtime.query import errors

if TYPE_CHECKING:  # imported on first use below (cold start of every function that imports app.py)
    from runtime.query.service import TrackingQueries

bp = Blueprint(__name__)
log = logs.get_logger("sesame.api")

CACHE_GET = "private, max-age=20"
CACHE_NONE = "no-store"
CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE = "600"
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")


# --------------------------------------------------------------------------------------------------------------
# wiring


@functools.cache
def _authenticator() -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(wiring.settings().api_key_hashes)


@functools.cache
def queries() -> TrackingQueries:
    from runtime.query.pagination import PageTokens
    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.service import TrackingQueries
    from runtime.stores.suppressions import DynamoSuppressionStore

    s = wiring.settings()
    dynamodb = wiring.client("dynamodb", s.region)
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.campaigns_table))
    suppressions = DynamoSuppressionStore(dynamodb, s.suppressions_table)
    return TrackingQueries(reader, suppressions, PageTokens(s.pagination_secret), event_ttl_days=s.event_ttl_days)


@wiring.on_reset
def _reset() -> None:
    _authenticator.cache_clear()
    queries.cache_clear()


# --------------------------------------------------------------------------------------------------------------
# auth, CORS, errors


def require_api_key(request: Request | None) -> None:
    """Raise 401 (no/unusable ``Authorization: Bearer``) or 403 (unknown key); return quietly for a valid key.

    The 401 answer gets ``WWW-Authenticate: Bearer`` from this blueprint's middleware.
    """
    header = request.headers.get("authorization") if request is not None else None
    try:
        _authenticator().authenticate(header)
    except MissingCredentialsError as exc:
        raise UnauthorizedError(f"{exc}: send 'Authorization: Bearer <api key>'") from exc
    except InvalidCredentialsError as exc:
        raise ForbiddenError("the API key is not valid") from exc


def _allowed_origin(request: Request | None) -> str | None:
    if request is None:
        return None
    origin = request.headers.get("origin")
    if not origin:
        return None
    try:
        allowed = wiring.settings().cors_origins
    except Exception:  # a configuration error must not turn every answer into a 500 here
        return None
    return origin if origin in allowed or "*" in allowed else None


@bp.middleware("http")
def _edge_headers(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """App-wide (blueprint middleware applies to every route): ``X-Content-Type-Options: nosniff`` on every answer
    (JSON, errors included, and the unsubscribe pages: a browser must never sniff a JSON body into HTML);
    ``WWW-Authenticate`` on 401 answers that lack one; CORS headers for configured origins only."""
    response = get_response(event)
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if response.status_code == 401 and not any(k.lower() == "www-authenticate" for k in headers):
        headers["WWW-Authenticate"] = 'Bearer realm="sesame"'
    origin = _allowed_origin(event)
    if origin is not None and not any(k.lower() == "access-control-allow-origin" for k in headers):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = "Cache-Control, WWW-Authenticate"
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
    return response


def _error(status: int, code: str, message: str) -> Response:
    return Response(body={"Code": code, "Message": message}, status_code=status, headers={"Cache-Control": CACHE_NONE})


def _ok(body: Any, *, method: str = "GET", status: int = 200) -> Response:
    cache = CACHE_GET if method == "GET" else CACHE_NONE
    return Response(body=body, status_code=status, headers={"Cache-Control": cache, "Vary": "Authorization"})


def api_route(path: str, methods: list[str], *, auth: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """``bp.route`` plus the API key check and the domain-error mapping."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def view(**kwargs: Any) -> Any:
            request = bp.current_request
            if auth:
                require_api_key(request)
            from runtime.stores.dynamo import DynamoUnavailableError
            from runtime.stores.suppressions import SuppressionStoreError

            try:
                return func(**kwargs)
            except errors.ExpiredError as exc:
                return _error(410, "Expired", str(exc))
            except errors.NotFoundError as exc:
                raise ChaliceNotFoundError(str(exc)) from exc
            except (errors.InvalidQueryError, SuppressionStoreError) as exc:
                raise BadRequestError(str(exc)) from exc
            except DynamoUnavailableError:
                log.warning("dynamodb unavailable", extra={"path": path})
                return _error(503, "ServiceUnavailable", "the data store is busy, retry shortly")
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code in ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"):
                    log.warning("dynamodb throttled", extra={"path": path, "code": code})
                    return _error(503, "ServiceUnavailable", "the data store is busy, retry shortly")
                raise

        return bp.route(path, methods=methods, content_types=["application/json"])(view)

    return decorate


def preflight_response(methods: str, allow_headers: str = CORS_ALLOW_HEADERS) -> Response:
    """The answer to a CORS preflight (``OPTIONS``) of a route serving ``methods``; every API route's is this one."""
    headers = {
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": allow_headers,
        "Access-Control-Max-Age": CORS_MAX_AGE,
        "Cache-Control": CACHE_NONE,
    }
    return Response(body="", status_code=204, headers=headers)


def json_body(request: Request | None, example: str = "") -> Any:
    """The request's JSON body; a missing or invalid body (not JSON, nested too deep) is a 400 naming it, never a
    500. ``example`` shows what the route expects."""
    raw = request.raw_body if request is not None else b""
    if not raw:
        raise BadRequestError(f"body: a JSON object is required{f', e.g. {example}' if example else ''}")
    from runtime import jsontext

    try:
        return jsontext.loads(raw)
    except jsontext.JsonTextError as exc:
        raise BadRequestError(f"body: {exc}") from exc


def _query() -> dict[str, str]:
    request = bp.current_request
    params = request.query_params if request is not None else None
    return dict(params or {})


def _email(raw: str) -> str:
    """Path parameters may arrive percent-encoded (``a%40b.c``)."""
    return unquote(raw) if _ESCAPED.search(raw) else raw


# --------------------------------------------------------------------------------------------------------------
# routes

PREFLIGHT_PATHS: dict[str, str] = {
    "/messages/{message_id}": "GET, OPTIONS",
    "/campaigns": "GET, POST, OPTIONS",
    "/campaigns/{campaign_id}/stats": "GET, OPTIONS",
    "/campaigns/{campaign_id}/messages": "GET, OPTIONS",
    "/recipients/{email}": "DELETE, OPTIONS",
    "/recipients/{email}/messages": "GET, OPTIONS",
    "/recipients/{email}/events": "GET, OPTIONS",
    "/suppressions": "GET, OPTIONS",
    "/suppressions/{email}": "GET, PUT, DELETE, OPTIONS",
}


def _register_preflight(path: str, methods: str) -> None:
    def preflight(**_: str) -> Response:
        return preflight_response(methods)

    preflight.__name__ = "preflight_" + re.sub(r"\W+", "_", path).strip("_")
    bp.route(path, methods=["OPTIONS"], content_types=["*/*"])(preflight)


for _path, _methods in PREFLIGHT_PATHS.items():
    _register_preflight(_path, _methods)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    """Liveness: no auth, no dependency calls (a deep check would let anyone spend DynamoDB reads)."""
    return Response(body={"status": "ok"}, headers={"Cache-Control": CACHE_NONE})


@bp.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    from chalicelib import openapi

    return Response(body=openapi.document(bp.current_app.routes), headers={"Cache-Control": "public, max-age=300"})


@api_route("/messages/{message_id}", ["GET"])
def get_message(message_id: str) -> Response:
    message_id = unquote(message_id)
    answer = queries().message(message_id)
    summary = answer.get("message") or {}
    if summary.get("status") == "queued" and summary.get("job_id"):
        # a POST /messages message that was queued: once its send job has an outcome, answer the SES message
        from chalicelib import sending

        outcome = sending.message_service().resolve(str(summary["job_id"]))
        if outcome is not None:
            try:
                answer = queries().message(outcome.message_id)
            except errors.NotFoundError:
                pass  # the outcome is known, its message item is being written: still queued for a moment
            else:
                answer["message"]["queued_id"] = message_id
    return _ok(answer)


@api_route("/campaigns", ["GET"])
def list_campaigns() -> Response:
    q = _query()
    return _ok(queries().campaigns(q.get("limit"), q.get("next_token")))


@api_route("/campaigns/{campaign_id}/stats", ["GET"])
def campaign_stats(campaign_id: str) -> Response:
    q = _query()
    return _ok(queries().campaign_stats(unquote(campaign_id), q.get("list_name"), q.get("by")))


@api_route("/campaigns/{campaign_id}/messages", ["GET"])
def campaign_messages(campaign_id: str) -> Response:
    q = _query()
    return _ok(queries().campaign_messages(unquote(campaign_id), q.get("status"), q.get("limit"), q.get("next_token")))


@api_route("/recipients/{email}/messages", ["GET"])
def recipient_messages(email: str) -> Response:
    q = _query()
    return _ok(queries().recipient_messages(_email(email), q.get("limit"), q.get("next_token")))


@api_route("/recipients/{email}/events", ["GET"])
def recipient_events(email: str) -> Response:
    q = _query()
    return _ok(queries().recipient_events(_email(email), q.get("limit"), q.get("next_token")))


@api_route("/recipients/{email}", ["DELETE"])
def erase_recipient(email: str) -> Response:
    result = queries().erase_recipient(_email(email))
    log.info(
        "recipient erased",
        extra={
            "recipient_hash": result["recipient_hash"][:12],
            "deleted_messages": result["deleted_messages"],
            "deleted_events": result["deleted_events"],
        },
    )
    return _ok(result, method="DELETE")


@api_route("/suppressions/{email}", ["GET"])
def get_suppression(email: str) -> Response:
    return _ok(queries().get_suppressions(_email(email)))


@api_route("/suppressions/{email}", ["PUT"])
def put_suppression(email: str) -> Response:
    request = bp.current_request
    body: Any = None
    if request is not None and request.raw_body:
        from runtime import jsontext

        try:
            body = jsontext.loads(request.raw_body)
        except jsontext.JsonTextError as exc:
            raise BadRequestError(f"body: {exc}") from exc
    if body is not None and not isinstance(body, dict):
        raise BadRequestError('body must be a JSON object like {"scope": "all", "reason": "MANUAL"}')
    return _ok(queries().put_suppression(_email(email), body), method="PUT")


@api_route("/suppressions/{email}", ["DELETE"])
def delete_suppression(email: str) -> Response:
    q = _query()
    return _ok(
        queries().delete_suppression(_email(email), q.get("scope"), q.get("list_name"), q.get("campaign_id")),
        method="DELETE",
    )


@api_route("/suppressions", ["GET"])
def list_suppressions() -> Response:
    q = _query()
    return _ok(queries().list_suppressions(q.get("reason"), q.get("limit"), q.get("next_token")))
