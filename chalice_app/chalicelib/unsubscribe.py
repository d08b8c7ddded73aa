"""Unsubscribe endpoint: ``GET /unsubscribe?token=`` shows a confirmation page (and writes nothing: link scanners
follow every link); ``POST /unsubscribe?token=`` is RFC 8058 one-click (``List-Unsubscribe=One-Click``) or the
page's form. No auth, no cookies, no JavaScript: the signed token (runtime.tokens) is the authorisation.
"""

from __future__ import annotations

import functools
import hashlib
import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from chalice import Blueprint, Response

from chalicelib import wiring
from runtime import logs
from runtime.stores.dynamo import DynamoUnavailableError
from runtime.stores.schema import (
    CounterClock,
    canonical_name,
    counter_sort_keys,
    counter_update,
    day_of,
    iso,
    ttl_epoch,
)
from runtime.tokens import TokenError, TokenSigner, UnsubscribeClaim

if TYPE_CHECKING:  # imported on first use below (cold start of every function that imports app.py)
    from runtime.stores.suppressions import DynamoSuppressionStore

bp = Blueprint(__name__)
log = logs.get_logger("sesame.unsubscribe")

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}
_SCOPE_TEXT = {
    "all": "all email from us",
    "list": "the mailing list “{list}”",
    "campaign": "this campaign",
}


@functools.cache
def _signer() -> TokenSigner | None:
    secrets = wiring.settings().unsubscribe_secrets
    return TokenSigner(list(secrets)) if secrets else None


@functools.cache
def _store() -> DynamoSuppressionStore:
    from runtime.stores.suppressions import DynamoSuppressionStore

    s = wiring.settings()
    return DynamoSuppressionStore(wiring.client("dynamodb", s.region), s.suppressions_table)


@wiring.on_reset
def _reset() -> None:
    _signer.cache_clear()
    _store.cache_clear()


# --------------------------------------------------------------------------------------------------------------
# pages


def _page(title: str, body_html: str, status: int = 200) -> Response:
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;
line-height:1.5;color:#1a1a1a;background:#fff}}
button{{font:inherit;padding:.6rem 1.2rem;border:2px solid #1a1a1a;border-radius:.3rem;background:#1a1a1a;
color:#fff;cursor:pointer}}
button:focus{{outline:3px solid #0b5fff;outline-offset:2px}}
</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
{body_html}
</main>
</body>
</html>
"""
    return Response(body=document, status_code=status, headers=dict(_HEADERS))


def _describe(claim: UnsubscribeClaim) -> str:
    text = _SCOPE_TEXT[claim.scope]
    return html.escape(text.format(list=claim.list_name or ""))


def _invalid(reason: str) -> Response:
    return _page(
        "This unsubscribe link is not valid",
        f"<p>{html.escape(reason.capitalize())}.</p>"
        "<p>Nothing was changed. Please use the most recent unsubscribe link from one of our emails, "
        "or reply to that email and ask to be removed.</p>",
        status=400,
    )


def _unavailable() -> Response:
    return _page(
        "Please try again",
        "<p>We could not record your request just now. Nothing was changed; please try the link again in a minute.</p>",
        status=503,
    )


# --------------------------------------------------------------------------------------------------------------
# request handling


def _token_from_request(form: dict[str, list[str]] | None = None) -> str:
    request = bp.current_request
    params = (request.query_params if request is not None else None) or {}
    token = params.get("token") or ""
    if not token and form:
        token = (form.get("token") or [""])[0]
    return token


def _verify(token: str) -> UnsubscribeClaim | Response:
    signer = _signer()
    if signer is None:
        log.error("unsubscribe is not configured: SESAME_UNSUBSCRIBE_SECRETS is empty")
        return _unavailable()
    try:
        return signer.verify(token)
    except TokenError as exc:
        log.info("unsubscribe token refused", extra={"reason": str(exc)})
        return _invalid(str(exc))


@bp.route("/unsubscribe", methods=["GET"], content_types=["*/*"])
def unsubscribe_page() -> Response:
    """Confirmation page with a POST form. Writes nothing."""
    claim = _verify(_token_from_request())
    if isinstance(claim, Response):
        return claim
    token = _token_from_request()
    action = "?token=" + quote(token, safe="")
    return _page(
        "Unsubscribe",
        f"<p>Do you want to stop receiving {_describe(claim)}?</p>"
        f'<form method="post" action="{html.escape(action)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button>'
        "</form>"
        "<p>You can close this page if you want to keep receiving these emails.</p>",
    )


def _form() -> dict[str, list[str]]:
    request = bp.current_request
    raw = request.raw_body if request is not None else b""
    if not raw or len(raw) > 8192:
        return {}
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return {}


@bp.route("/unsubscribe", methods=["POST"], content_types=FORM_TYPES)
def unsubscribe_post() -> Response:
    """RFC 8058 one-click or the confirmation form: record the suppression (idempotent), count it once."""
    form = _form()
    claim = _verify(_token_from_request(form))
    if isinstance(claim, Response):
        return claim
    from runtime.stores.suppressions import SuppressionStoreError

    try:
        newly = record(claim)
    except SuppressionStoreError as exc:
        return _invalid(f"the link is malformed ({exc})")
    except DynamoUnavailableError:
        return _unavailable()
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in (
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TransactionConflictException",
            "InternalServerError",
        ):
            return _unavailable()
        raise
    log.info(
        "unsubscribed",
        extra={
            "recipient_hash": claim.recipient_hash[:12],
            "scope": claim.scope,
            "campaign_id": claim.campaign_id,
            "new": newly,
        },
    )
    return _page("You are unsubscribed", f"<p>You will no longer receive {_describe(claim)}.</p>")


def record(claim: UnsubscribeClaim, now: datetime | None = None) -> bool:
    """Write the UNSUBSCRIBE suppression and, for a campaign, its ``unsubscribed`` counters in one transaction.

    Returns True the first time (then the event is forwarded), False when already unsubscribed at that scope.
    """
    from runtime.stores.suppressions import Suppression

    s = wiring.settings()
    moment = now or datetime.now(UTC)
    stamp = iso(moment)
    updates: list[dict[str, Any]] = []
    clocks: list[CounterClock] = []
    campaign = canonical_name(claim.campaign_id) if claim.campaign_id else None
    if campaign:
        expires = ttl_epoch(moment, s.event_ttl_days)
        for sort_key in counter_sort_keys(claim.list_name, day_of(stamp)):
            clocks.append(CounterClock(s.campaigns_table, campaign, sort_key, stamp, stamp, expires))
            updates.append(
                counter_update(
                    s.campaigns_table,
                    campaign,
                    sort_key,
                    {"unsubscribed": 1},
                    event_at=stamp,
                    expires_at=expires,
                )
            )
    suppression = Suppression(
        recipient_hash=claim.recipient_hash,
        scope=claim.scope_key,
        reason="UNSUBSCRIBE",
        source_message_id=claim.message_id,
    )
    newly = _store().record_unsubscribe(suppression, updates, clocks)
    if newly:
        _forward(claim, stamp)
    return newly


def _forward(claim: UnsubscribeClaim, stamp: str) -> None:
    from chalicelib import forwarding

    sink = forwarding.event_sink()
    if sink is None:
        return
    event_id = hashlib.sha256(f"unsubscribe\n{claim.recipient_hash}\n{claim.scope_key}".encode()).hexdigest()[:32]
    sink.publish(
        [
            {
                "event_id": event_id,
                "event_type": "Unsubscribe",
                "message_id": claim.message_id,
                "timestamp": stamp,
                "recipient_hashes": [claim.recipient_hash],
                "campaign_id": claim.campaign_id,
                "list_name": claim.list_name,
                "scope": claim.scope,
            }
        ]
    )
