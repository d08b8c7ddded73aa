"""The OpenAPI 3 document served at ``GET /openapi.json``.

Operations are written out here; tests/functional/test_openapi_document.py checks that the document's paths and
methods are exactly the app's routes. The campaign routes of the sender area (``POST /campaigns``,
``/campaigns/{campaign_id}/schedule``...) are described from the live route table with the shared error answers,
so the document follows that area's routes as they land.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from runtime.stores.schema import COUNTERS, STATUS_RANK
from runtime.stores.suppressions import REASONS

VERSION = "1.0.0"
_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


_ERR = {
    "400": _json(_ref("Error"), "Invalid parameter, body or page token (the message names it)"),
    "401": _json(_ref("Error"), "No `Authorization: Bearer` header (answer carries `WWW-Authenticate: Bearer`)"),
    "403": _json(_ref("Error"), "The API key is not valid"),
    "404": _json(_ref("Error"), "Unknown id"),
    "410": _json(_ref("Error"), 'Known id whose data is past its retention (`Code`: `Expired`, "no data")'),
    "503": _json(_ref("Error"), "DynamoDB is throttling; retry shortly"),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERR[code] for code in codes}


def _path_param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string", "minLength": 1, "maxLength": 256},
    }


def _query_param(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


EMAIL = _path_param("email", "Recipient address (ASCII; case-insensitive)", {"type": "string", "format": "email"})
MESSAGE_ID = _path_param(
    "message_id",
    "SES MessageId, `local-...` for sends that never reached SES, or `queued-...` for a `POST /messages` message that "
    "was queued (answered as the SES message, with `queued_id`, once sent)",
)
CAMPAIGN_ID = _path_param("campaign_id", "Campaign id")
LIMIT = _query_param("limit", "Page size (default 25)", {"type": "integer", "minimum": 1, "maximum": 100})
NEXT_TOKEN = _query_param("next_token", "Opaque token from the previous page", {"type": "string"})
SCOPE_QUERY = [
    _query_param("scope", "Suppression scope (default all)", {"type": "string", "enum": ["all", "list", "campaign"]}),
    _query_param("list_name", "List of a `list` scope", {"type": "string"}),
    _query_param("campaign_id", "Campaign of a `campaign` scope", {"type": "string"}),
]
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **_errors(*errors)}}
    operation.update(extra)
    return operation


def _authed(summary: str, ok: dict[str, Any], errors: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return _op(summary, ok, ("400", "401", "403", *errors, "503"), security=BEARER, **extra)


def _preflight(path: str) -> dict[str, Any]:
    return {
        "summary": f"CORS preflight for {path}",
        "security": [],
        "responses": {"204": {"description": "CORS headers (origin echoed only when configured)"}},
    }


PAGE_OF = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "object"}}, "next_token": {"type": ["string", "null"]}},
}


def _paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {
        "/health": {
            "get": _op(
                "Liveness check (no auth)",
                _json({"type": "object", "properties": {"status": {"type": "string"}}}, "Alive"),
                (),
                security=[],
            )
        },
        "/openapi.json": {
            "get": _op("This document (no auth)", _json({"type": "object"}, "OpenAPI 3"), (), security=[])
        },
        "/messages/{message_id}": {
            "get": _authed(
                "Message summary and event history, newest first",
                _json(_ref("MessageDetail"), "Summary and events"),
                ("404", "410"),
                parameters=[MESSAGE_ID],
            ),
        },
        "/messages": {
            "post": {
                "summary": "Send transactional (or marketing) email now, one result per recipient",
                "description": (
                    "Each recipient is its own message, sent through the sender core: suppression check, "
                    "List-Unsubscribe for every configuration set but `transactional`, pacing to the account's send "
                    "rate, failover, exactly-once. **Pacing or quota exhaustion does not fail the request: the "
                    "message is queued** (status `queued`, `message_id` `queued-...`, which `GET /messages/{id}` "
                    "answers at once and, once sent, as the SES message). No 429 is ever answered. "
                    "`Idempotency-Key`: the same key and body within 24 h replays the first answer "
                    "(`Idempotent-Replayed: true`) and sends nothing; another body is a 409. See docs/sending.md."
                ),
                "security": BEARER,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "1-255 printable ASCII characters, scoped to the API key, kept 24 h",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                ],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("SendRequest")}}},
                "responses": {
                    "200": _json(_ref("SendAnswer"), "Every recipient was sent or queued"),
                    "207": _json(_ref("SendAnswer"), "Outcomes differ (some suppressed or failed): see `results`"),
                    "400": _json(_ref("Error"), "Invalid request; `Message` and `errors` name each field"),
                    "401": _ERR["401"],
                    "403": _ERR["403"],
                    "409": _json(
                        _ref("Error"), "Idempotency-Key reused with another body, or its first request still running"
                    ),
                    "503": _json(
                        _ref("Error"), "An AWS dependency failed before an answer: retry with the same Idempotency-Key"
                    ),
                },
            },
        },
        "/campaigns": {
            "get": _authed(
                "Campaigns (newest first) with their latest counters",
                _json(PAGE_OF, "A page of campaigns"),
                parameters=[LIMIT, NEXT_TOKEN],
            ),
        },
        "/campaigns/{campaign_id}/stats": {
            "get": _authed(
                "Counters and rates of a campaign (one DynamoDB read whatever its size)",
                _json(_ref("CampaignStats"), "Statistics"),
                ("404", "410"),
                parameters=[
                    CAMPAIGN_ID,
                    _query_param("list_name", "Add this list's breakdown", {"type": "string"}),
                    {
                        **_query_param(
                            "by",
                            "Add breakdowns, comma-separated: `day` (per-day `series`), `list` (every list's block, "
                            "`by_list`)",
                            {
                                "type": "array",
                                "items": {"type": "string", "enum": ["day", "list"]},
                                "uniqueItems": True,
                            },
                        ),
                        "style": "form",
                        "explode": False,
                    },
                ],
            ),
        },
        "/campaigns/{campaign_id}/messages": {
            "get": _authed(
                "Messages of a campaign, optionally by status",
                _json(PAGE_OF, "A page of message summaries"),
                ("404", "410"),
                parameters=[
                    CAMPAIGN_ID,
                    _query_param("status", "Message status", {"type": "string", "enum": list(STATUS_RANK)}),
                    LIMIT,
                    NEXT_TOKEN,
                ],
            ),
        },
        "/recipients/{email}": {
            "delete": _authed(
                "GDPR erasure: delete messages and events, anonymise suppressions, keep a hashed suppression",
                _json(_ref("Erasure"), "Erased"),
                parameters=[EMAIL],
            ),
        },
        "/recipients/{email}/messages": {
            "get": _authed(
                "Messages sent to a recipient (GDPR access), with their suppressions on the first page",
                _json(PAGE_OF, "A page of message summaries"),
                parameters=[EMAIL, LIMIT, NEXT_TOKEN],
            ),
        },
        "/recipients/{email}/events": {
            "get": _authed(
                "Events of a recipient (GDPR access), newest first",
                _json(PAGE_OF, "A page of events"),
                parameters=[EMAIL, LIMIT, NEXT_TOKEN],
            ),
        },
        "/suppressions": {
            "get": _authed(
                "Suppressions with a reason, newest first",
                _json(PAGE_OF, "A page of suppressions"),
                parameters=[
                    _query_param("reason", "Suppression reason", {"type": "string", "enum": list(REASONS)}, True),
                    LIMIT,
                    NEXT_TOKEN,
                ],
            ),
        },
        "/suppressions/{email}": {
            "get": _authed(
                "Suppressions of an address",
                _json(_ref("SuppressionList"), "Suppressions"),
                ("404",),
                parameters=[EMAIL],
            ),
            "put": _authed(
                "Suppress an address (manual); upsert",
                _json(_ref("Suppression"), "Stored suppression"),
                parameters=[EMAIL],
                requestBody={"required": False, "content": {_JSON: {"schema": _ref("SuppressionRequest")}}},
            ),
            "delete": _authed(
                "Lift a suppression (override)",
                _json({"type": "object"}, "Deleted"),
                ("404",),
                parameters=[EMAIL, *SCOPE_QUERY],
            ),
        },
        "/unsubscribe": {
            "get": {
                "summary": "Confirmation page for an unsubscribe link (writes nothing)",
                "security": [],
                "parameters": [_query_param("token", "Signed unsubscribe token", {"type": "string"}, True)],
                "responses": {
                    "200": _html("Confirmation page with a POST form"),
                    "400": _html("Forged, truncated or expired token"),
                    "503": _html("Unsubscribe not configured or store busy"),
                },
            },
            "post": {
                "summary": "RFC 8058 one-click unsubscribe (or the confirmation form); idempotent",
                "security": [],
                "parameters": [_query_param("token", "Signed unsubscribe token", {"type": "string"})],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]},
                                    "token": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _html("Unsubscribed"),
                    "400": _html("Forged, truncated or expired token; nothing written"),
                    "503": _html("Store busy; nothing written"),
                },
            },
        },
        "/webhooks/ses": {
            "post": {
                "summary": "Amazon SNS HTTPS endpoint for SES events (signature-verified; see docs/events.md)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"text/plain": {"schema": {"type": "string"}}, _JSON: {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "Accepted"},
                    "400": _json(_ref("Error"), "Malformed notification"),
                    "403": _json(_ref("Error"), "Signature, certificate or topic refused"),
                },
            }
        },
    }
    from chalicelib.dashboard import OPENAPI_PATHS as DASHBOARD_PATHS
    from chalicelib.tracking_api import PREFLIGHT_PATHS

    paths.update(_operate_paths())

    paths.update(copy.deepcopy(DASHBOARD_PATHS))

    for path in [*PREFLIGHT_PATHS, "/messages"]:
        paths.setdefault(path, {})["options"] = _preflight(path)
    return paths


def _operate_paths() -> dict[str, dict[str, Any]]:
    """Campaign control (issue 13; docs/api.md "Campaign control")."""
    control_body = {
        "required": True,
        "content": {_JSON: {"schema": _ref("CampaignControlRequest")}},
    }
    return {
        "/campaigns/{campaign_id}": {
            "get": _authed(
                "A campaign: status (validating, invalid, scheduled, launching, running, paused, cancelled, "
                "completed), counts, control, launch progress and, for recipient files, validation progress",
                _json(_ref("Campaign"), "The campaign"),
                ("404",),
                parameters=[CAMPAIGN_ID],
            ),
            "patch": _add_conflict(
                _authed(
                    'Pause, resume ("running") or cancel a campaign; asking for its current status is a no-op',
                    _json(_ref("Campaign"), "The campaign after the change"),
                    ("404",),
                    parameters=[CAMPAIGN_ID],
                    requestBody=control_body,
                )
            ),
            "options": _preflight("/campaigns/{campaign_id}"),
        },
        "/reputation": {
            "get": _op(
                "Reputation and quotas per sending region and configuration set, the guardrails' rolling rates per "
                "campaign, and what sesame paused and why (a snapshot refreshed every minute)",
                _json(_ref("Reputation"), "The snapshot"),
                ("401", "403", "503"),
                security=BEARER,
            ),
            "options": _preflight("/reputation"),
        },
        "/reputation/configuration-sets/{name}": {
            "patch": _authed(
                'Resume ({"status": "running"}) or pause ({"status": "paused"}) a configuration set\'s sending '
                "through SES (PutConfigurationSetSendingOptions); recorded with reason, time and who",
                _json({"type": "object"}, "The configuration set's state"),
                ("404",),
                parameters=[
                    _path_param("name", "Configuration set (logical, e.g. marketing, or its actual name)"),
                    _query_param("region", "Its region (default: the stage's own)", {"type": "string"}),
                ],
                requestBody={"required": True, "content": {_JSON: {"schema": _ref("CampaignControlRequest")}}},
            ),
            "options": _preflight("/reputation/configuration-sets/{name}"),
        },
    }


def _add_conflict(operation: dict[str, Any]) -> dict[str, Any]:
    operation["responses"]["409"] = _json(_ref("Error"), "The campaign cannot make that transition")
    return operation


def _campaign_operation(path: str, method: str) -> dict[str, Any]:
    """Description of a campaign route of the sender area (see docs/sending.md for its body)."""
    if method == "options":
        return _preflight(path)
    operation: dict[str, Any] = {
        "summary": f"{method.upper()} {path} (campaign sending; see docs/sending.md)",
        "security": BEARER,
        "responses": {
            "200": _json({"type": "object"}, "Done"),
            "201": _json({"type": "object"}, "Created"),
            "202": _json({"type": "object"}, "Accepted"),
            **_errors("400", "401", "403", "404"),
            "409": _json(_ref("Error"), "Conflicts with the campaign's state"),
            "503": _ERR["503"],
        },
    }
    if path == "/campaigns" and method == "post":
        operation["summary"] = (
            "Submit a campaign: a Campaign Candidate (application/json) or SESv2 SendEmail requests "
            "(application/x-ndjson); see docs/sending.md"
        )
        operation["responses"]["201"] = _json({"type": "object"}, "Enqueued (inline recipients) or scheduled")
        operation["responses"]["202"] = _json(
            _ref("CampaignAccepted"),
            "Accepted, not finished: segments naming recipient files (recipientsS3Uri) are answered after the cheap "
            "checks only (each file exists, is readable, within the size limit, a CSV header names to_address) with "
            'status "validating" and status_url; the per-minute check validates the files in steps (progress in '
            'GET /campaigns/{campaign_id} "validation"), then the campaign is "invalid" (bad rows by file and line, '
            'nothing sent) or scheduled and launched. Also: part of an inline campaign not enqueued ("complete": '
            'false, "not_enqueued")',
        )
    params = [p for p in ("campaign_id",) if "{" + p + "}" in path]
    if params:
        operation["parameters"] = [CAMPAIGN_ID]
    if method in ("post", "put", "patch"):
        operation["requestBody"] = {"required": False, "content": {_JSON: {"schema": {"type": "object"}}}}
    return operation


def _is_campaign_route(path: str) -> bool:
    return path == "/campaigns" or path.startswith("/campaigns/")


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key"}},
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["Code", "Message"],
            "properties": {"Code": {"type": "string"}, "Message": {"type": "string"}},
        },
        "Counters": {"type": "object", "properties": {c: {"type": "integer"} for c in (*COUNTERS, "bounced")}},
        "Rates": {
            "type": "object",
            "properties": {
                r: {"type": "number"}
                for r in (
                    "delivery_rate",
                    "bounce_rate",
                    "open_rate",
                    "click_rate",
                    "click_to_open_rate",
                    "complaint_rate",
                    "unsubscribe_rate",
                )
            },
        },
        "CampaignStats": {
            "type": "object",
            "properties": {
                "campaign_id": {"type": "string"},
                "status": {"type": ["string", "null"]},
                "counters": _ref("Counters"),
                "rates": _ref("Rates"),
                "lists": {"type": "array", "items": {"type": "string"}},
                "list": {"type": "object"},
                "series": {"type": "array", "items": {"type": "object"}},
                "by_list": {"type": "array", "items": {"type": "object"}},
            },
        },
        "SendRequest": {
            "type": "object",
            "additionalProperties": False,
            "description": "Give `to` or `recipients`; `subject` with `html`/`text`, or a `template`.",
            "properties": {
                "from": {"type": "string", "description": "One mailbox (`Name <addr>`); default SESAME_DEFAULT_FROM"},
                "to": {
                    "oneOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
                    ],
                    "description": "One message per address",
                },
                "cc": {"type": "array", "items": {"type": "string"}, "description": "Only with a single `to`"},
                "bcc": {"type": "array", "items": {"type": "string"}, "description": "Only with a single `to`"},
                "recipients": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["to"],
                        "properties": {"to": {"type": "string"}, "data": {"type": "object"}},
                    },
                },
                "subject": {"type": "string", "minLength": 1, "maxLength": 998},
                "html": {"type": "string"},
                "text": {"type": "string"},
                "template": {
                    "oneOf": [
                        {"type": "string", "description": "An SES template name"},
                        {
                            "type": "object",
                            "required": ["subject"],
                            "properties": {
                                "subject": {"type": "string", "minLength": 1, "maxLength": 998},
                                "html": {"type": "string"},
                                "text": {"type": "string"},
                            },
                        },
                    ]
                },
                "template_data": {"type": "object", "description": "At most 262,144 characters as JSON"},
                "reply_to": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "tags": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,256}$"},
                    "description": "SES message tags (names and values `[A-Za-z0-9_-]{1,256}`)",
                },
                "headers": {
                    "type": "object",
                    "maxProperties": 15,
                    "additionalProperties": {"type": "string", "maxLength": 995},
                    "description": "Extra headers SES allows (not From/To/Subject/...; 13 for marketing mail)",
                },
                "configuration_set": {"type": "string", "default": "transactional"},
                "campaign_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
                "list_name": {"type": "string"},
                "delivery": {"type": "string", "enum": ["exactly_once", "at_least_once"], "default": "exactly_once"},
            },
        },
        "SendAnswer": {
            "type": "object",
            "properties": {
                "batch_id": {"type": "string"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "recipient": {"type": "string"},
                            "status": {"type": "string", "enum": ["sent", "queued", "suppressed", "failed"]},
                            "message_id": {"type": "string"},
                            "error": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
        "MessageDetail": {
            "type": "object",
            "properties": {"message": {"type": "object"}, "events": {"type": "array", "items": {"type": "object"}}},
        },
        "Erasure": {
            "type": "object",
            "properties": {
                "recipient_hash": {"type": "string"},
                "deleted_messages": {"type": "integer"},
                "deleted_events": {"type": "integer"},
                "suppressions_anonymised": {"type": "integer"},
                "suppressed": {"type": "boolean"},
            },
        },
        "Suppression": {
            "type": "object",
            "properties": {
                "recipient_hash": {"type": "string"},
                "scope": {"type": "string"},
                "reason": {"type": "string", "enum": list(REASONS)},
                "email": {"type": ["string", "null"]},
                "created_at": {"type": ["string", "null"]},
                "updated_at": {"type": ["string", "null"]},
                "expires_at": {"type": ["integer", "null"]},
            },
        },
        "SuppressionList": {
            "type": "object",
            "properties": {"suppressed": {"type": "boolean"}, "items": {"type": "array", "items": _ref("Suppression")}},
        },
        "Campaign": {
            "type": "object",
            "properties": {
                "campaign_id": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": [
                        "validating",
                        "invalid",
                        "scheduled",
                        "launching",
                        "running",
                        "paused",
                        "cancelled",
                        "completed",
                    ],
                },
                "lifecycle": {
                    "type": "string",
                    "description": "the scheduler's state: validating, invalid, scheduled, launching, launched",
                },
                "launch": {"type": "object", "description": "launch progress (chunked for recipient files)"},
                "validation": _ref("CampaignValidation"),
                "launch_at": {"type": "string"},
                "recipients": {"type": "integer"},
                "jobs": {"type": "integer"},
                "list_names": {"type": "array", "items": {"type": "string"}},
                "config_sets": {"type": "array", "items": {"type": "string"}},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "control": {
                    "type": ["object", "null"],
                    "description": "who paused or cancelled it, when and why (api, cli or guardrail)",
                    "properties": {
                        "status": {"type": "string", "enum": ["paused", "cancelled"]},
                        "reason": {"type": "string"},
                        "at": {"type": "string"},
                        "by": {"type": "string"},
                    },
                },
            },
        },
        "CampaignValidation": {
            "type": ["object", "null"],
            "description": "validation of recipient files (null for inline campaigns), committed after each step of "
            "the per-minute check",
            "properties": {
                "state": {"type": "string", "enum": ["running", "done", "failed"]},
                "rows_validated": {"type": "integer", "description": "records read so far, in all files"},
                "recipients": {"type": "integer", "description": "valid recipients so far (duplicates excluded)"},
                "bad_rows": {"type": "integer"},
                "duplicates_skipped": {"type": "integer", "description": "an address repeated within a file"},
                "files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "segment": {"type": "integer"},
                            "file": {"type": "string"},
                            "bytes": {"type": "integer"},
                            "bytes_validated": {"type": "integer"},
                            "rows": {"type": "integer"},
                            "bad_rows": {"type": "integer"},
                            "duplicates": {"type": "integer"},
                            "done": {"type": "boolean"},
                            "errors": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "errors": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "the first bad rows by field and line (20 per file, 100 in all), then a count "
                    "of the rest per file: 'segments.0.recipientsS3Uri: line 3: to_address: ...'",
                },
            },
        },
        "CampaignAccepted": {
            "type": "object",
            "properties": {
                "campaign_id": {"type": "string"},
                "status": {"type": "string", "enum": ["validating", "launching", "launched"]},
                "complete": {"type": "boolean", "const": False},
                "status_url": {"type": "string", "description": "GET it for the validation and launch progress"},
                "validation": _ref("CampaignValidation"),
                "not_enqueued": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Reputation": {
            "type": "object",
            "properties": {
                "taken_at": {"type": "string"},
                "age_seconds": {"type": "number"},
                "stale": {"type": "boolean", "description": "older than 3 minutes: the schedule is not running"},
                "thresholds": {"type": "object"},
                "regions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "region": {"type": "string"},
                            "production_access": {"type": ["boolean", "null"], "description": "false = SES sandbox"},
                            "sending_enabled": {"type": ["boolean", "null"]},
                            "max_send_rate": {"type": ["number", "null"]},
                            "max_24h_send": {"type": ["number", "null"]},
                            "sent_last_24h": {"type": ["number", "null"]},
                            "bounce_rate": {"type": ["number", "null"]},
                            "complaint_rate": {"type": ["number", "null"]},
                            "rates_source": {"type": "string", "enum": ["ses", "sesame", "none"]},
                            "status": {
                                "type": "string",
                                "enum": ["healthy", "warning", "at_risk", "paused", "sandbox", "disabled", "error"],
                            },
                            "error": {"type": "string"},
                        },
                    },
                },
                "configuration_sets": {"type": "array", "items": {"type": "object"}},
                "campaigns": {"type": "array", "items": {"type": "object"}},
                "paused": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "enum": ["campaign", "configuration_set"]},
                            "name": {"type": "string"},
                            "region": {"type": "string"},
                            "reason": {"type": "string"},
                            "at": {"type": "string"},
                            "by": {"type": "string"},
                        },
                    },
                },
                "warmup": {
                    "type": "object",
                    "description": "The IP warm-up pool and whether its ramp holds (a guardrail paused a pool set).",
                    "properties": {
                        "configuration_sets": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Logical configuration sets of the warm-up pool; only they are ramped.",
                        },
                        "holding": {"type": "boolean", "description": "A guardrail pauses a pool set now."},
                        "held_days": {
                            "type": "array",
                            "items": {"type": "string", "format": "date"},
                            "description": "UTC days the ramp held; they do not count towards its 30 days.",
                        },
                    },
                },
            },
        },
        "CampaignControlRequest": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["paused", "running", "cancelled"]},
                "reason": {"type": "string", "maxLength": 500},
            },
        },
        "SuppressionRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scope": {"type": "string", "enum": ["all", "list", "campaign"]},
                "list_name": {"type": "string"},
                "campaign_id": {"type": "string"},
                "reason": {"type": "string", "enum": list(REASONS)},
            },
        },
    },
}


def document(routes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The document; ``routes`` (``app.routes``) adds the campaign routes other blueprints define."""
    paths = _paths()
    for path, methods in (routes or {}).items():
        if not _is_campaign_route(path):
            continue
        for method in methods:
            entry = paths.setdefault(path, {})
            if method.lower() not in entry:
                entry[method.lower()] = _campaign_operation(path, method.lower())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sesame tracking and campaign API",
            "version": VERSION,
            "description": "See docs/api.md. Every route except health, openapi.json, the SES webhook and unsubscribe "
            "needs `Authorization: Bearer <api key>`. GET answers carry `Cache-Control: private, max-age=20`.",
        },
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": copy.deepcopy(COMPONENTS),
    }
