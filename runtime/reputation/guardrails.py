"""Rolling bounce and complaint rates from cumulative counters, and the guardrail levels (pure functions).

The campaign counters are cumulative. Once a minute the schedule samples them; a rate over the window is the
difference between now and the oldest sample inside the window (or zero, when the campaign's first event is inside
the window: its counters started at zero). Samples are kept one per ``window / 12``, so the window is exact to a
twelfth and the sample document stays small. When an operator resumes what a guardrail paused, that key's window
restarts at the resume: the rates that tripped it are not counted twice.

Rates follow SES's reputation metrics: bounce rate = hard bounces / sent, complaint rate = complaints / delivered
(/ sent before anything is delivered). Below ``min_volume`` sent in the window nothing trips: a handful of bounces
in a tiny send is noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELDS = ("sent", "delivered", "bounced_hard", "complained")
SAMPLES_PER_WINDOW = 12
SES_REVIEW_BOUNCE = 0.05
SES_REVIEW_COMPLAINT = 0.001


# GuardrailConfig and Window are plain slotted classes, not dataclasses: every function's settings import this module
# (the guardrail defaults), and a dataclass compiles its generated methods at import (~0.3-0.5 ms a class). Their
# values compare equal as the dataclasses' did.
class GuardrailConfig:
    __slots__ = (
        "min_volume",
        "pause_bounce_rate",
        "pause_complaint_rate",
        "warn_bounce_rate",
        "warn_complaint_rate",
        "window_seconds",
    )

    def __init__(
        self,
        window_seconds: int = 3600,
        min_volume: int = 500,
        warn_bounce_rate: float = 0.02,
        warn_complaint_rate: float = 0.0005,
        pause_bounce_rate: float = 0.04,
        pause_complaint_rate: float = 0.0008,
    ) -> None:
        self.window_seconds = window_seconds
        self.min_volume = min_volume
        self.warn_bounce_rate = warn_bounce_rate
        self.warn_complaint_rate = warn_complaint_rate
        self.pause_bounce_rate = pause_bounce_rate
        self.pause_complaint_rate = pause_complaint_rate

    def _values(self) -> tuple[float, ...]:
        return (
            self.window_seconds,
            self.min_volume,
            self.warn_bounce_rate,
            self.warn_complaint_rate,
            self.pause_bounce_rate,
            self.pause_complaint_rate,
        )

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if type(other) is GuardrailConfig else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        names = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"GuardrailConfig({names})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_minutes": self.window_seconds // 60,
            "min_volume": self.min_volume,
            "warn": {"bounce_rate": self.warn_bounce_rate, "complaint_rate": self.warn_complaint_rate},
            "pause": {"bounce_rate": self.pause_bounce_rate, "complaint_rate": self.pause_complaint_rate},
            "ses_review": {"bounce_rate": SES_REVIEW_BOUNCE, "complaint_rate": SES_REVIEW_COMPLAINT},
        }


class Window:
    __slots__ = ("bounced", "complained", "delivered", "sent")

    def __init__(self, sent: int, delivered: int, bounced: int, complained: int) -> None:
        self.sent = sent
        self.delivered = delivered
        self.bounced = bounced
        self.complained = complained

    def __eq__(self, other: object) -> bool:
        if type(other) is not Window:
            return NotImplemented
        return (self.sent, self.delivered, self.bounced, self.complained) == (
            other.sent,
            other.delivered,
            other.bounced,
            other.complained,
        )

    def __hash__(self) -> int:
        return hash((self.sent, self.delivered, self.bounced, self.complained))

    def __repr__(self) -> str:
        return (
            f"Window(sent={self.sent}, delivered={self.delivered}, bounced={self.bounced}, "
            f"complained={self.complained})"
        )

    @property
    def bounce_rate(self) -> float:
        return round(self.bounced / self.sent, 6) if self.sent > 0 else 0.0

    @property
    def complaint_rate(self) -> float:
        base = self.delivered or self.sent
        return round(self.complained / base, 6) if base > 0 else 0.0

    def __add__(self, other: Window) -> Window:
        return Window(
            self.sent + other.sent,
            self.delivered + other.delivered,
            self.bounced + other.bounced,
            self.complained + other.complained,
        )


ZERO = Window(0, 0, 0, 0)


def counts_vector(counts: Mapping[str, Any]) -> list[int]:
    return [int(counts.get(name, 0) or 0) for name in FIELDS]


def roll(
    entry: Mapping[str, Any] | None, current: list[int], now: float, window: int, *, started_in_window: bool
) -> tuple[Window, dict[str, Any]]:
    """The window's counts for one key and its updated sample entry (``{"samples": [[t, *counts]], ...}``).

    ``started_in_window``: the key's counters began inside the window (a new campaign), so zero is the baseline."""
    entry = dict(entry or {})
    reset_at = float(entry.get("reset_at", 0.0) or 0.0)
    start = now - window
    samples = [list(s) for s in entry.get("samples", []) if float(s[0]) >= start]
    if started_in_window and reset_at < start:
        base = [0] * len(FIELDS)
    elif samples:
        base = [int(x) for x in samples[0][1:]]
    else:
        base = current
    delta = [max(0, c - b) for c, b in zip(current, base, strict=True)]
    if not samples or now - float(samples[-1][0]) >= window / SAMPLES_PER_WINDOW:
        samples.append([round(now, 3), *current])
    entry["samples"] = samples
    entry["last"] = current  # what this minute saw: the baseline if an operator resumes before the next one
    return Window(*delta), entry


def restart(entry: Mapping[str, Any] | None, current: list[int], now: float) -> dict[str, Any]:
    """Restart a key's window (an operator resumed what the guardrail paused): its baseline is what the minute
    before the resume saw, so sends after the resume count and the ones that tripped it do not."""
    base = [int(x) for x in (entry or {}).get("last", current)]
    return {"samples": [[round(now, 3), *base]], "reset_at": round(now, 3), "tripped": False}


def level(config: GuardrailConfig, window: Window) -> tuple[str, str]:
    """(``healthy`` | ``warning`` | ``pause``, why) for one window's counts."""
    if window.sent < config.min_volume:
        return "healthy", f"{window.sent} sent in the window, below the minimum volume {config.min_volume}"
    b, c = window.bounce_rate, window.complaint_rate
    minutes = config.window_seconds // 60
    if b >= config.pause_bounce_rate:
        return "pause", (
            f"bounce rate {b:.2%} over the last {minutes} min ({window.bounced} of {window.sent} sent) "
            f">= pause level {config.pause_bounce_rate:.2%}"
        )
    if c >= config.pause_complaint_rate:
        return "pause", (
            f"complaint rate {c:.3%} over the last {minutes} min ({window.complained} complaints) "
            f">= pause level {config.pause_complaint_rate:.3%}"
        )
    if b >= config.warn_bounce_rate or c >= config.warn_complaint_rate:
        return "warning", f"bounce rate {b:.2%}, complaint rate {c:.3%}: at or above the warning levels"
    return "healthy", ""
