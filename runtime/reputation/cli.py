"""``sesame reputation``: the reputation view on the terminal, and resuming (or pausing) a configuration set.

Through the stage's API (``--api-url`` + ``--api-key``, or ``SESAME_API_URL`` / ``SESAME_API_KEY``), or ``--direct``
against AWS with the caller's credentials and the stage's ``SESAME_*`` environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import quote

EPILOG = """examples:
  sesame reputation                                  # regions, configuration sets, campaigns, what is paused
  sesame reputation --json                           # the GET /reputation document
  sesame reputation resume marketing --reason "list cleaned"
  sesame reputation pause marketing --region eu-west-1
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "reputation",
        help="show reputation, quotas and guardrails; resume or pause a configuration set",
        description="Per sending region: production access (sandbox), sending enabled, quotas, bounce and complaint "
        "rates (SES's reputation metrics where CloudWatch has them, else sesame's own rolling rates) and status; the "
        "same rates per configuration set and per watched campaign; and what the guardrails paused, when and why "
        "(GET /reputation, refreshed every minute). Campaigns are resumed with 'sesame campaign resume ID'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _target(parser)
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of tables")
    parser.set_defaults(func=_show, action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, wanted, text in (
        ("resume", "running", "resume a configuration set's sending through SES (after a guardrail paused it)"),
        ("pause", "paused", "stop a configuration set's sending through SES (its queued sends wait)"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        _target(sub)
        sub.add_argument("configuration_set", help="logical (marketing) or actual configuration set name")
        sub.add_argument("--region", default="", help="the set's region (default: the stage's own)")
        sub.add_argument("--reason", default="", help="why (recorded with the change)")
        sub.set_defaults(func=_control, wanted=wanted)


def _target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to send the request")
    group.add_argument("--api-url", default=os.environ.get("SESAME_API_URL", ""), help="default: $SESAME_API_URL")
    group.add_argument("--api-key", default=os.environ.get("SESAME_API_KEY", ""), help="default: $SESAME_API_KEY")
    group.add_argument("--direct", action="store_true", help="call AWS directly with the SESAME_* env vars")


def _service() -> Any:
    import boto3

    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.query.stats import counters_of
    from runtime.reputation.wiring import build_service
    from runtime.sender.control import CampaignControl
    from runtime.settings import Settings
    from runtime.stores.campaigns import DynamoCampaignStore

    s = Settings.from_env(os.environ)
    session: Any = boto3.session.Session()

    def client(service: str, region: str | None = None) -> Any:
        return session.client(service, region_name=region or s.region)

    dynamodb = client("dynamodb")
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.campaigns_table))
    control = CampaignControl(
        DynamoCampaignStore(dynamodb, s.campaigns_table), lambda c: counters_of(reader.campaign_totals([c]).get(c))
    )
    return build_service(s, client, control)


def _call(args: argparse.Namespace, direct: Any, method: str, path: str, body: Any = None) -> Any:
    from runtime.sender.cli import _http

    return direct() if args.direct else _http(args, method, path, body, "application/json")


def _show(args: argparse.Namespace) -> int:
    try:
        doc = _call(args, lambda: _service().current(), "GET", "/reputation")
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(render(doc))
    return 0 if all(r.get("status") != "error" for r in doc.get("regions", [])) else 2


def _control(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"status": args.wanted}
    if args.reason:
        body["reason"] = args.reason
    path = f"/reputation/configuration-sets/{quote(args.configuration_set)}"
    if args.region:
        path += f"?region={quote(args.region)}"
    try:
        result = _call(
            args,
            lambda: _service().control_configuration_set(
                args.configuration_set, body, region=args.region or None, by="cli"
            ),
            "PATCH",
            path,
            body,
        )
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _pct(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value) * 100:.{digits}f}%"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def render(doc: dict[str, Any]) -> str:
    """The document as terminal tables (regions, configuration sets, campaigns, paused)."""
    t = doc.get("thresholds", {})
    out = [
        f"reputation at {doc.get('taken_at')} ({doc.get('age_seconds', 0)} s old"
        f"{', STALE' if doc.get('stale') else ''}); window {t.get('window_minutes')} min, "
        f"min volume {t.get('min_volume')}, warn {_pct(t.get('warn', {}).get('bounce_rate'))} / "
        f"{_pct(t.get('warn', {}).get('complaint_rate'), 3)}, pause {_pct(t.get('pause', {}).get('bounce_rate'))} / "
        f"{_pct(t.get('pause', {}).get('complaint_rate'), 3)}",
        "",
        "regions",
    ]
    rows = []
    for r in doc.get("regions", []):
        access = "-" if r.get("production_access") is None else ("production" if r["production_access"] else "SANDBOX")
        sending = "-" if r.get("sending_enabled") is None else ("enabled" if r["sending_enabled"] else "DISABLED")
        rows.append(
            [
                r["region"],
                access,
                sending,
                str(r.get("max_send_rate") if r.get("max_send_rate") is not None else "-"),
                str(r.get("max_24h_send") if r.get("max_24h_send") is not None else "-"),
                str(r.get("sent_last_24h") if r.get("sent_last_24h") is not None else "-"),
                _pct(r.get("bounce_rate")),
                _pct(r.get("complaint_rate"), 3),
                r.get("rates_source", "-"),
                r.get("status", "-") + (f" ({r['error']})" if r.get("error") else ""),
            ]
        )
    headers = ["region", "access", "sending", "rate/s", "24h quota", "sent 24h", "bounce", "complaint", "source"]
    out.append(_table([*headers, "status"], rows))
    out += ["", "configuration sets"]
    rows = [
        [
            s["region"],
            s["name"],
            "warm-up" if s.get("warmup_pool") else "",
            str(s.get("volume") if s.get("volume") is not None else "-"),
            _pct(s.get("bounce_rate")),
            _pct(s.get("complaint_rate"), 3),
            s.get("rates_source", "-"),
            s.get("status", "-"),
        ]
        for s in doc.get("configuration_sets", [])
    ]
    out.append(_table(["region", "name", "pool", "volume", "bounce", "complaint", "source", "status"], rows))
    if doc.get("campaigns"):
        out += ["", "campaigns (rolling window)"]
        rows = [
            [
                c["campaign_id"],
                str(c.get("volume")),
                _pct(c.get("bounce_rate")),
                _pct(c.get("complaint_rate"), 3),
                c["status"],
            ]
            for c in doc["campaigns"]
        ]
        out.append(_table(["campaign", "volume", "bounce", "complaint", "status"], rows))
    out += ["", "paused"]
    paused = doc.get("paused", [])
    if not paused:
        out.append("  nothing")
    for p in paused:
        where = f" in {p['region']}" if p.get("region") else ""
        out.append(f"  {p['kind']} {p['name']}{where}: {p.get('reason')} (at {p.get('at')}, by {p.get('by')})")
    return "\n".join(out)
