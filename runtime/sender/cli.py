"""``sesame campaign ...``: submit, list, describe, re-date and delete campaigns; show, pause, resume and cancel one.

Two ways to reach a stage: through its HTTP API (``--api-url`` + ``--api-key``, or ``SESAME_API_URL`` /
``SESAME_API_KEY``), or ``--direct`` against AWS with the caller's credentials and the same ``SESAME_*`` environment
variables the Lambda functions use. ``--validate`` checks a file locally without sending anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

EPILOG = """examples:
  sesame campaign submit spring.json --api-url https://api.example.com --api-key $KEY
  sesame campaign submit sends.jsonl --direct          # JSON lines: one SESv2 SendEmail request per line
  sesame campaign submit spring.json --validate        # check the file only
  sesame campaign submit big.json --wait               # recipient files: follow the validation until it ends
  sesame campaign list --direct
  sesame campaign redate spring-2026 2026-03-01T09:00:00Z
  sesame campaign delete spring-2026
  sesame campaign status spring-2026                  # status (running, paused, ...) and counts
  sesame campaign pause spring-2026 --reason "wrong list"
  sesame campaign resume spring-2026                  # back to running (or scheduled if its date has not come)
  sesame campaign cancel spring-2026                  # the rest is never sent (counted 'cancelled')
"""


class CliError(RuntimeError):
    pass


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "campaign",
        help="submit, list, describe, re-date, delete, pause, resume or cancel campaigns",
        description="Campaigns are 'Campaign Candidate' JSON (segments of recipients with per-recipient "
        "template data) or a JSON-lines file of SESv2 SendEmail requests. A campaign with a future 'date' is stored "
        "and launched by the per-minute schedule; until then it can be re-dated or deleted. See docs/sending.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text)
        target = sub.add_argument_group("where to send the request")
        target.add_argument(
            "--api-url",
            default=os.environ.get("SESAME_API_URL", ""),
            help="the stage's API base URL (default: $SESAME_API_URL)",
        )
        target.add_argument(
            "--api-key",
            default=os.environ.get("SESAME_API_KEY", ""),
            help="API key (default: $SESAME_API_KEY; create one with 'sesame api-key')",
        )
        target.add_argument(
            "--direct",
            action="store_true",
            help="call AWS directly with your credentials and the SESAME_* env vars instead of the API",
        )
        return sub

    submit = add("submit", "validate a campaign file, create its SES templates and enqueue or schedule it")
    submit.add_argument("file", type=Path, help="Campaign Candidate .json, or .jsonl/.ndjson of SendEmail requests")
    submit.add_argument("--validate", action="store_true", help="only check the file locally; send nothing")
    submit.add_argument(
        "--wait",
        action="store_true",
        help="a campaign with recipient files is answered 'validating' (the per-minute check validates them): wait "
        "until validation ends (scheduled / launched, or invalid with the bad rows), printing progress; with "
        "--direct the validation runs here, in steps",
    )
    submit.add_argument(
        "--poll-seconds", type=float, default=10.0, help="with --wait: seconds between status reads (default 10)"
    )
    submit.set_defaults(func=_submit)

    listing = add("list", "list campaigns, newest first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.set_defaults(func=_list)

    describe = add("describe", "show a campaign's record (status, launch time, counts, launch progress)")
    describe.add_argument("campaign_id")
    describe.set_defaults(func=_describe)

    redate = add("redate", "move a scheduled campaign to another date (ISO-8601, or 'now')")
    redate.add_argument("campaign_id")
    redate.add_argument("date", help="e.g. 2026-03-01T09:00:00Z or now")
    redate.set_defaults(func=_redate)

    delete = add(
        "delete",
        "delete a campaign before it launches: scheduled, validating or invalid (its stored recipients are removed)",
    )
    delete.add_argument("campaign_id")
    delete.set_defaults(func=_delete)

    status = add(
        "status",
        "show a campaign's status (validating, invalid, scheduled, launching, running, paused, cancelled, completed)",
    )
    status.add_argument("campaign_id")
    status.set_defaults(func=_status)
    for action, wanted, text in (
        ("pause", "paused", "pause a campaign: its remaining sends wait on the queue until it is resumed"),
        ("resume", "running", "resume a paused campaign (back to scheduled when its date has not come)"),
        ("cancel", "cancelled", "cancel a campaign: its remaining recipients are never sent (counted 'cancelled')"),
    ):
        sub = add(action, text)
        sub.add_argument("campaign_id")
        sub.add_argument("--reason", default="", help="why (recorded with the change, shown by 'status')")
        sub.set_defaults(func=_control, wanted=wanted)


def _is_lines(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _call(args: argparse.Namespace, direct: Any, method: str, path: str, body: Any = None, ctype: str = "") -> Any:
    """The direct call or the HTTP request; raises ``CliError`` with a readable message."""
    try:
        return direct() if args.direct else _http(args, method, path, body, ctype)
    except CliError:
        raise
    except Exception as exc:  # domain errors of --direct mode carry a readable message
        raise CliError(f"{type(exc).__name__}: {exc}") from exc


def _run(args: argparse.Namespace, direct: Any, method: str, path: str, body: Any = None, ctype: str = "") -> int:
    try:
        result = _call(args, direct, method, path, body, ctype)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _outcome(result)


def _outcome(result: Any) -> int:
    _print(result)
    if isinstance(result, dict) and result.get("status") == "invalid":
        return 3
    if isinstance(result, dict) and result.get("complete") is False:
        # a chunked launch still running is not a failure: the per-minute check continues it (see "launch")
        return 0 if (result.get("launch") or {}).get("state") in ("running", "pending") else 3
    return 0


def _http(args: argparse.Namespace, method: str, path: str, body: Any, ctype: str) -> Any:
    if not args.api_url:
        raise CliError("give --api-url (or SESAME_API_URL), or use --direct")
    if not args.api_key:
        raise CliError("give --api-key (or SESAME_API_KEY)")
    data: bytes | None = None
    headers = {"Authorization": f"Bearer {args.api_key}", "Accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        headers["Content-Type"] = ctype or "application/json"
    url = args.api_url.rstrip("/") + path
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise CliError("--api-url must be https:// (plain http only for localhost)")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("Message", text)
        except (json.JSONDecodeError, AttributeError):
            message = text
        raise CliError(f"HTTP {exc.code}: {message}") from exc
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {args.api_url}: {exc.reason}") from exc


def _service() -> Any:
    """The campaign service wired to AWS from the environment (the CLI is its own composition root)."""
    import boto3

    from runtime.sender.enqueue import Enqueuer
    from runtime.sender.recipients import S3ObjectSource
    from runtime.sender.service import CampaignConfig, CampaignService, S3PayloadStore
    from runtime.sender.templates import TemplateLoader, TemplatePublisher
    from runtime.settings import Settings
    from runtime.stores.campaigns import DynamoCampaignStore

    s = Settings.from_env(os.environ)
    session = boto3.session.Session()
    make_client: Any = session.client
    clients: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str | None = None) -> Any:
        key = (service, region or s.region)
        if key not in clients:
            clients[key] = make_client(service, region_name=key[1])
        return clients[key]

    def queue_url() -> str:
        if s.send_queue_url:
            return s.send_queue_url
        name = os.environ.get("SESAME_SEND_QUEUE", f"sesame-{s.environment}-send")
        return str(client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    regions = [s.region] + ([s.backup_region] if s.backup_region and s.backup_region != s.region else [])
    return CampaignService(
        config=CampaignConfig(
            regions,
            s.default_from,
            s.default_configuration_set,
            unsubscribe_headers=bool(s.unsubscribe_secrets and s.unsubscribe_base_url),
        ),
        store=DynamoCampaignStore(client("dynamodb"), s.campaigns_table),
        loader=TemplateLoader(lambda: client("s3"), environment=s.environment),
        publisher=TemplatePublisher(lambda region: client("sesv2", region)),
        enqueuer=lambda: Enqueuer(client("sqs"), queue_url()),
        payloads=lambda: S3PayloadStore(client("s3"), s.campaign_bucket) if s.campaign_bucket else None,
        sources=lambda: S3ObjectSource(lambda: client("s3")),
    )


def _control_service() -> Any:
    """Campaign control wired to AWS from the environment (``--direct``)."""
    import boto3

    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.stats import counters_of
    from runtime.sender.control import CampaignControl
    from runtime.settings import Settings
    from runtime.stores.campaigns import DynamoCampaignStore

    s = Settings.from_env(os.environ)
    dynamodb = boto3.session.Session().client("dynamodb", region_name=s.region)
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.campaigns_table))
    return CampaignControl(
        DynamoCampaignStore(dynamodb, s.campaigns_table),
        lambda cid: counters_of(reader.campaign_totals([cid]).get(cid)),
    )


def _status(args: argparse.Namespace) -> int:
    cid = args.campaign_id
    return _run(args, lambda: _control_service().describe(cid), "GET", f"/campaigns/{cid}")


def _control(args: argparse.Namespace) -> int:
    cid = args.campaign_id
    body: dict[str, Any] = {"status": args.wanted}
    if args.reason:
        body["reason"] = args.reason
    return _run(args, lambda: _control_service().change(cid, body, by="cli"), "PATCH", f"/campaigns/{cid}", body)


def _submit(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    if _is_lines(path):
        return _submit_lines(args, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"error: {path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", file=sys.stderr)
        return 1
    if args.validate:
        from runtime.sender.campaign import CampaignError, parse_candidate

        try:
            candidate = parse_candidate(data)
        except CampaignError as exc:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1
        recipients = sum(len(s.inline) for s in candidate.segments)
        _print({"valid": True, "segments": len(candidate.segments), "recipients": recipients})
        return 0
    try:
        result = _call(args, lambda: _service().submit(data), "POST", "/campaigns", data)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not (isinstance(result, dict) and result.get("status") == "validating"):
        return _outcome(result)
    cid = str(result["campaign_id"])
    if not args.wait:
        print(
            f"validating the recipient files: follow it with 'sesame campaign status {cid}' "
            f"(GET {result.get('status_url') or f'/campaigns/{cid}'}), or submit with --wait",
            file=sys.stderr,
        )
        return _outcome(result)
    try:
        final = _wait_for_validation(args, cid)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _outcome(final)


def _wait_for_validation(args: argparse.Namespace, campaign_id: str) -> Any:
    """Follow a ``validating`` campaign until its validation ends. ``--direct`` validates here, step after step (no
    Lambda time limit; the per-minute check takes over the launch); over HTTP the status is read every
    ``--poll-seconds``."""
    service = _service() if args.direct else None
    while True:
        if service is not None:
            service.validate_due(campaign_id=campaign_id)
            doc = service.describe(campaign_id)
        else:
            doc = _http(args, "GET", f"/campaigns/{campaign_id}", None, "")
        progress = (doc.get("validation") or {}) if isinstance(doc, dict) else {}
        status = doc.get("lifecycle") or doc.get("status") if isinstance(doc, dict) else None
        if status != "validating" or (isinstance(doc, dict) and doc.get("status") in ("paused", "cancelled")):
            return doc
        print(
            f"validating {campaign_id}: {progress.get('rows_validated', 0)} rows read, "
            f"{progress.get('bad_rows', 0)} bad",
            file=sys.stderr,
        )
        time.sleep(1.0 if service is not None else max(0.5, args.poll_seconds))


def _submit_lines(args: argparse.Namespace, text: str) -> int:
    from runtime.sender.ses_models import parse_send_lines

    lines = text.splitlines()
    good, errors = parse_send_lines(lines)
    for error in errors:
        print(f"error: {args.file}: {error}", file=sys.stderr)
    if errors:
        return 1
    if args.validate:
        _print({"valid": True, "requests": len(good)})
        return 0
    return _run(
        args, lambda: _service().submit_lines(lines), "POST", "/campaigns", text.encode(), "application/x-ndjson"
    )


def _list(args: argparse.Namespace) -> int:
    return _run(args, lambda: _service().list_campaigns(args.limit), "GET", f"/campaigns?limit={args.limit}")


def _describe(args: argparse.Namespace) -> int:
    cid = args.campaign_id
    return _run(args, lambda: _service().describe(cid), "GET", f"/campaigns/{cid}/schedule")


def _redate(args: argparse.Namespace) -> int:
    cid = args.campaign_id
    body = {"date": args.date}
    return _run(args, lambda: _service().redate(cid, args.date), "PATCH", f"/campaigns/{cid}/schedule", body)


def _delete(args: argparse.Namespace) -> int:
    cid = args.campaign_id
    return _run(args, lambda: _service().delete(cid), "DELETE", f"/campaigns/{cid}/schedule")
