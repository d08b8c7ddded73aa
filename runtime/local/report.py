"""The demo campaign report: counters, rates and a sent -> delivered -> opened -> clicked funnel, as text and as a
self-contained HTML page (inline SVG and CSS, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FUNNEL = (("sent", "Sent"), ("delivered", "Delivered"), ("opened_unique", "Opened"), ("clicked_unique", "Clicked"))
COUNTER_ROWS = (
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("delayed", "delayed (DeliveryDelay)"),
    ("bounced_hard", "bounced, permanent"),
    ("bounced_soft", "bounced, transient"),
    ("complained", "complaints"),
    ("rejected", "rejected"),
    ("opened_unique", "opened (unique)"),
    ("opened_total", "opens (total)"),
    ("clicked_unique", "clicked (unique)"),
    ("clicked_total", "clicks (total)"),
    ("suppressed", "not sent: on sesame's suppression list"),
    ("unsubscribed", "unsubscribed"),
    ("failed", "failed"),
)
RATE_ROWS = (
    ("delivery_rate", "delivery rate (of sent)"),
    ("bounce_rate", "bounce rate (of sent)"),
    ("complaint_rate", "complaint rate (of delivered)"),
    ("open_rate", "open rate (of delivered)"),
    ("click_rate", "click rate (of delivered)"),
)


@dataclass
class Report:
    campaign_id: str
    recipients: int
    counters: dict[str, int]
    rates: dict[str, float]
    suppression_list: dict[str, int] = field(default_factory=dict)  # reason -> entries after the run
    ses_suppressed: int = 0  # accepted by SES, not sent: on the SES suppression list (the ``ses_suppressed`` counter)
    delivery: dict[str, Any] = field(default_factory=dict)  # how events travelled (SQS / webhook counts)
    timings: dict[str, float] = field(default_factory=dict)
    api_url: str = ""
    transactional: list[dict[str, Any]] = field(default_factory=list)  # POST /messages results (+ status_now)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _bar(value: int, top: int, width: int = 40) -> str:
    filled = round(width * value / top) if top else 0
    return "█" * filled + "░" * (width - filled)


def funnel_text(counters: Mapping[str, int], width: int = 40) -> list[str]:
    top = max(1, counters.get("sent", 0))
    lines = []
    for key, label in FUNNEL:
        value = counters.get(key, 0)
        lines.append(f"  {label:<10} {_bar(value, top, width)} {value:>6}  {100 * value / top:5.1f}%")
    return lines


def render_text(report: Report) -> str:
    c, r = report.counters, report.rates
    out = [f"Campaign {report.campaign_id}: {report.recipients} recipients", "", "Funnel"]
    out += funnel_text(c)
    out += ["", "Counters"]
    out += [f"  {label:<42} {c.get(key, 0):>7}" for key, label in COUNTER_ROWS]
    if report.ses_suppressed:
        out.append(f"  {'not sent: on the SES suppression list':<42} {report.ses_suppressed:>7}")
    out += ["", "Rates"]
    out += [f"  {label:<42} {100 * r.get(key, 0.0):>6.2f}%" for key, label in RATE_ROWS]
    if report.suppression_list:
        out += ["", "Suppression list after the run"]
        out += [f"  {reason:<42} {n:>7}" for reason, n in sorted(report.suppression_list.items())]
    if report.delivery:
        d = report.delivery
        out += ["", "Event delivery (signed SNS envelopes)"]
        out.append(f"  {'events published (incl. duplicates)':<42} {d.get('published', 0):>7}")
        for queue, n in sorted((d.get("sqs_messages") or {}).items()):
            out.append(f"  {'-> SQS ' + queue:<42} {n:>7}")
        out.append(f"  {'-> HTTPS webhook POSTs':<42} {d.get('webhook_posts', 0):>7}")
        for status, n in sorted((d.get("webhook_status") or {}).items(), key=lambda item: str(item[0])):
            out.append(f"  {'   answered HTTP ' + str(status):<42} {n:>7}")
    if report.transactional:
        http = report.transactional[0].get("http_status")
        out += ["", f"Transactional messages (POST /messages, HTTP {http})"]
        for m in report.transactional:
            mid = str(m.get("message_id") or "")
            short = mid if len(mid) <= 28 else mid[:25] + "..."
            now = m.get("status_now") or m.get("status")
            out.append(f"  {m.get('recipient', ''):<44} {m.get('status', ''):<10} -> {now:<10} {short}")
    if report.timings:
        out += ["", "Timings"] + [f"  {k:<42} {v:>6.1f}s" for k, v in report.timings.items()]
    return "\n".join(out)


def _svg_funnel(counters: Mapping[str, int]) -> str:
    top = max(1, counters.get("sent", 0))
    width, bar_h, gap, label_w = 640, 44, 14, 110
    rows = []
    colours = ("#2b6cb0", "#2f855a", "#b7791f", "#c05621")
    for i, (key, label) in enumerate(FUNNEL):
        value = counters.get(key, 0)
        w = max(2, round((width - label_w - 120) * value / top))
        y = i * (bar_h + gap)
        x = label_w + ((width - label_w - 120) - w) / 2
        rows.append(
            f'<text x="0" y="{y + bar_h / 2 + 5}" class="lbl">{html.escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w}" height="{bar_h}" rx="4" fill="{colours[i]}">'
            f"<title>{html.escape(label)}: {value}</title></rect>"
            f'<text x="{width - 110}" y="{y + bar_h / 2 + 5}" class="num">{value} ({100 * value / top:.1f}%)</text>'
        )
    height = len(FUNNEL) * (bar_h + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="Funnel: sent, delivered, opened, clicked">{"".join(rows)}</svg>'
    )


def render_html(report: Report) -> str:
    c, r = report.counters, report.rates
    counter_rows = "".join(
        f"<tr><th scope='row'>{html.escape(label)}</th><td>{c.get(key, 0)}</td></tr>" for key, label in COUNTER_ROWS
    )
    if report.ses_suppressed:
        counter_rows += (
            f"<tr><th scope='row'>not sent: on the SES suppression list</th><td>{report.ses_suppressed}</td></tr>"
        )
    rate_rows = "".join(
        f"<tr><th scope='row'>{html.escape(label)}</th><td>{100 * r.get(key, 0.0):.2f}%</td></tr>"
        for key, label in RATE_ROWS
    )
    supp_rows = "".join(
        f"<tr><th scope='row'>{html.escape(reason)}</th><td>{n}</td></tr>"
        for reason, n in sorted(report.suppression_list.items())
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sesame demo: campaign {html.escape(report.campaign_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:760px;color:#1a202c}}
h1{{font-size:1.4rem}} h2{{font-size:1.1rem;margin-top:2rem}}
table{{border-collapse:collapse;width:100%}} th,td{{padding:.3rem .6rem;border-bottom:1px solid #e2e8f0}}
th{{text-align:left;font-weight:500}} td{{text-align:right;font-variant-numeric:tabular-nums}}
svg .lbl{{font:600 14px system-ui,sans-serif;fill:#2d3748}} svg .num{{font:13px system-ui,sans-serif;fill:#4a5568}}
.muted{{color:#718096}}
</style></head><body>
<h1>Campaign <code>{html.escape(report.campaign_id)}</code></h1>
<p class="muted">{report.recipients} recipients on the SES mailbox simulator, sent and tracked by the local sesame
stack (moto_server + chalice local); numbers from <code>GET /campaigns/{{id}}/stats</code>.</p>
<h2>Funnel</h2>
{_svg_funnel(c)}
<h2>Counters</h2><table>{counter_rows}</table>
<h2>Rates</h2><table>{rate_rows}</table>
{"<h2>Suppression list after the run</h2><table>" + supp_rows + "</table>" if supp_rows else ""}
</body></html>
"""
