"""``sesame send``, ``sesame message ID`` and ``sesame stats CAMPAIGN``: the send and tracking API from the command
line, through ``runtime.client.SesameClient``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from runtime.client import SesameApiError, SesameClient

SEND_EPILOG = """examples:
  sesame send --to ada@example.org --subject "Your receipt" --text "Thanks!" --idempotency-key order-1001
  sesame send --to ada@example.org --to bob@example.org --template welcome --data '{"plan": "pro"}'
  sesame send --to ada@example.org --subject Deals --html-file deals.html --configuration-set marketing \\
      --campaign-id spring --list-name news --tag kind=promo
  sesame send --json request.json               # the whole POST /messages body from a file

exit codes: 0 every recipient sent or queued (HTTP 200), 2 some suppressed or failed (HTTP 207, see results),
1 error (printed to stderr, naming the field).
"""


def _target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to send the request")
    group.add_argument(
        "--api-url", default=os.environ.get("SESAME_API_URL", ""), help="the stage's API base URL ($SESAME_API_URL)"
    )
    group.add_argument("--api-key", default=os.environ.get("SESAME_API_KEY", ""), help="API key ($SESAME_API_KEY)")


def _pairs(values: list[str] | None, what: str) -> dict[str, str] | None:
    if not values:
        return None
    out = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise SesameApiError(0, "BadArgument", f"--{what} takes NAME=VALUE, got {value!r}")
        out[name] = text
    return out


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    send = subparsers.add_parser(
        "send",
        help="send email now through POST /messages (one result per recipient)",
        description="Send one message per recipient through the stage's POST /messages: suppression-checked, paced, "
        "List-Unsubscribe for every configuration set but 'transactional'. What cannot be sent at once is queued "
        "(status 'queued'; its message id resolves with 'sesame message'). See docs/sending.md.",
        epilog=SEND_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("--json", type=Path, help="a file holding the whole request body (other options are merged in)")
    send.add_argument("--to", action="append", help="a recipient (repeat for several; one message each)")
    send.add_argument("--cc", action="append", help="copy (only with a single --to)")
    send.add_argument("--bcc", action="append", help="blind copy (only with a single --to)")
    send.add_argument("--from", dest="from_", help="sender mailbox (default: the stage's SESAME_DEFAULT_FROM)")
    send.add_argument("--reply-to", action="append", help="Reply-To address (repeatable)")
    send.add_argument("--subject", help="subject (with --text/--html)")
    send.add_argument("--text", help="plain-text body")
    send.add_argument("--text-file", type=Path, help="plain-text body from a UTF-8 file")
    send.add_argument("--html", help="HTML body")
    send.add_argument("--html-file", type=Path, help="HTML body from a UTF-8 file")
    send.add_argument("--template", help="an SES template name (instead of --subject/--text/--html)")
    send.add_argument("--data", help="template data, a JSON object")
    send.add_argument("--configuration-set", help="logical configuration set (default: transactional)")
    send.add_argument("--campaign-id", help="campaign to count the messages under")
    send.add_argument("--list-name", help="list to count (and scope unsubscribes) under")
    send.add_argument("--tag", action="append", help="SES message tag NAME=VALUE (repeatable)")
    send.add_argument("--header", action="append", help="extra header NAME=VALUE (repeatable)")
    send.add_argument("--idempotency-key", help="replay-safe key: the same key and body within 24 h sends once")
    _target(send)
    send.set_defaults(func=_send)

    message = subparsers.add_parser(
        "message",
        help="show a message's status and events (GET /messages/{id})",
        description="A message's summary and events. A 'queued-' id from 'sesame send' shows the SES message once "
        "it is sent.",
    )
    message.add_argument("message_id")
    _target(message)
    message.set_defaults(func=_message)

    stats = subparsers.add_parser(
        "stats",
        help="show a campaign's counters and rates (GET /campaigns/{id}/stats)",
        description="A campaign's counters and rates (one DynamoDB read whatever its size).",
    )
    stats.add_argument("campaign_id")
    stats.add_argument("--by", help="breakdowns, comma-separated: day, list")
    stats.add_argument("--list-name", help="add this list's block")
    _target(stats)
    stats.set_defaults(func=_stats)


def _client(args: argparse.Namespace) -> SesameClient:
    if not args.api_url:
        raise SesameApiError(0, "BadArgument", "give --api-url (or SESAME_API_URL)")
    try:
        return SesameClient(args.api_url, args.api_key)
    except ValueError as exc:
        raise SesameApiError(0, "BadArgument", str(exc)) from exc


def _fail(exc: SesameApiError) -> int:
    if exc.errors:  # a 400 naming each field: one line per problem
        for problem in exc.errors:
            print(f"error: {problem}", file=sys.stderr)
    else:
        print(f"error: {exc.message if exc.status == 0 else exc}", file=sys.stderr)
    return 1


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SesameApiError(0, "BadArgument", f"cannot read {path}: {exc}") from exc


def _send_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.json is not None:
        try:
            loaded = json.loads(_read(args.json) or "")
        except json.JSONDecodeError as exc:
            raise SesameApiError(0, "BadArgument", f"{args.json}: not valid JSON ({exc.msg})") from exc
        if not isinstance(loaded, dict):
            raise SesameApiError(0, "BadArgument", f"{args.json}: must hold a JSON object")
        body.update(loaded)
    data = None
    if args.data is not None:
        try:
            data = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise SesameApiError(0, "BadArgument", f"--data: not valid JSON ({exc.msg})") from exc
    options = {
        "to": args.to,
        "cc": args.cc,
        "bcc": args.bcc,
        "from": args.from_,
        "reply_to": args.reply_to,
        "subject": args.subject,
        "text": args.text if args.text is not None else _read(args.text_file),
        "html": args.html if args.html is not None else _read(args.html_file),
        "template": args.template,
        "template_data": data,
        "configuration_set": args.configuration_set,
        "campaign_id": args.campaign_id,
        "list_name": args.list_name,
        "tags": _pairs(args.tag, "tag"),
        "headers": _pairs(args.header, "header"),
    }
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def _send(args: argparse.Namespace) -> int:
    try:
        answer = _client(args).send_request(_send_body(args), idempotency_key=args.idempotency_key)
    except SesameApiError as exc:
        return _fail(exc)
    print(json.dumps({"http_status": answer.status, "replayed": answer.replayed, **answer.body}, indent=2))
    return 0 if answer.status == 200 else 2


def _message(args: argparse.Namespace) -> int:
    try:
        print(json.dumps(_client(args).message(args.message_id), indent=2, sort_keys=True))
    except SesameApiError as exc:
        return _fail(exc)
    return 0


def _stats(args: argparse.Namespace) -> int:
    try:
        answer = _client(args).campaign_stats(args.campaign_id, by=args.by, list_name=args.list_name)
    except SesameApiError as exc:
        return _fail(exc)
    print(json.dumps(answer, indent=2, sort_keys=True))
    return 0
