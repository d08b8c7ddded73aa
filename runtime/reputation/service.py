"""The reputation view and the guardrails that act (issue 13).

``refresh()`` runs once a minute (the per-minute schedule): for every sending region it reads the SES account
(GetAccount: production access, sending enabled, quotas) and SES's own reputation metrics (CloudWatch
``AWS/SES`` ``Reputation.BounceRate`` / ``Reputation.ComplaintRate``, for the account and per configuration set —
published only for real accounts with enough volume), computes sesame's own rolling rates per campaign and per
configuration set from the campaign counters (``guardrails``), trips the guardrails and writes the snapshot that
``GET /reputation`` answers (``current()``: one read, never more than a minute or so old).

Tripping: a campaign at or above a pause level is paused (``CampaignControl``: its remaining sends wait, reversible
by ``PATCH /campaigns/{id}``); a configuration set is stopped at SES (``PutConfigurationSetSendingOptions``,
``SendingEnabled=false``) and recorded (reversible by ``PATCH /reputation/configuration-sets/{name}``). Both carry a
reason and a time, show in ``/reputation`` under ``paused``, and count in the ``GuardrailTripped`` metric (alarmed).
The rate used for a configuration set is SES's own when CloudWatch has it, else sesame's (``rates_source``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.logs import get_logger
from runtime.reputation.account import AccountStatus, AccountUnavailableError, read_account
from runtime.reputation.guardrails import ZERO, GuardrailConfig, Window, counts_vector, level, restart, roll
from runtime.sender.control import CampaignControl, CampaignTransitionError, CampaignUnknownError
from runtime.stores.campaigns import CampaignRecord, CampaignStore
from runtime.stores.reputation import ConfigSetPause, ReputationStore
from runtime.stores.schema import iso, parse_time

log = get_logger(__name__)

WATCHED_CAMPAIGNS = 50  # the newest campaigns the guardrails watch (one listing Query, one BatchGetItem)
STALE_AFTER_SECONDS = 180  # a snapshot older than this says so (the schedule is not running)
LAZY_REFRESH_SECONDS = 90  # GET /reputation refreshes itself when the schedule's snapshot is missing or this old
LEVEL_STATUS = {"healthy": "healthy", "warning": "warning", "pause": "paused"}


class ReputationInputError(ValueError):
    """A bad operator request (400)."""


class ReputationUnknownError(LookupError):
    """No such configuration set or region (404)."""


class ReputationNotReadyError(RuntimeError):
    """No snapshot yet: the per-minute schedule has not run in this region (503)."""


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__
    return type(exc).__name__


class ReputationService:
    def __init__(
        self,
        *,
        config: GuardrailConfig,
        region: str,
        regions: Sequence[str],
        config_sets: Mapping[str, Mapping[str, str]],
        ses: Callable[[str], Any],
        cloudwatch: Callable[[str], Any] | None,
        store: ReputationStore,
        campaigns: CampaignStore,
        totals: Callable[[list[str]], Mapping[str, Mapping[str, Any]]],
        control: CampaignControl,
        warmup_sets: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``config_sets``: region -> logical name -> the configuration set's name in that region;
        ``warmup_sets``: the logical configuration sets sending through the warm-up pool."""
        self.config = config
        self.region = region
        self.regions = list(dict.fromkeys([region, *regions]))
        self.config_sets = {r: dict(config_sets.get(r, {})) for r in self.regions}
        self._ses = ses
        self._cloudwatch = cloudwatch
        self._store = store
        self._campaigns = campaigns
        self._totals = totals
        self._control = control
        self._clock = clock
        self.warmup_sets = frozenset(warmup_sets)

    # -- the answer of GET /reputation ----------------------------------------------------------------------------
    def current(self, *, lazy: bool = False) -> dict[str, Any]:
        """The snapshot; with ``lazy``, a missing one or one older than ``LAZY_REFRESH_SECONDS`` (the schedule is
        not running, e.g. ``chalice local``) is refreshed first — at most once a minute and a half per caller."""
        doc = self._store.snapshot(self.region)
        if lazy and (
            doc is None or self._clock() - parse_time(str(doc["taken_at"])).timestamp() > LAZY_REFRESH_SECONDS
        ):
            doc = self.refresh()
        if doc is None:
            raise ReputationNotReadyError("no reputation snapshot yet: the per-minute schedule writes the first one")
        age = max(0.0, self._clock() - parse_time(str(doc["taken_at"])).timestamp())
        doc["age_seconds"] = round(age, 1)
        doc["stale"] = age > STALE_AFTER_SECONDS
        return doc

    # -- the per-minute refresh -----------------------------------------------------------------------------------
    def refresh(self) -> dict[str, Any]:
        now = self._clock()
        taken_at = iso(datetime.fromtimestamp(now, tz=UTC))
        samples_doc, accounts, ses_rates, config_set_pauses, (watched, totals) = self._read_state(now)
        entries: dict[str, Any] = dict(samples_doc.get("keys", {}))
        kept: dict[str, Any] = {}
        pauses = {(p.region, p.name): p for p in config_set_pauses}
        paused: list[dict[str, Any]] = []

        # campaigns ------------------------------------------------------------------------------------------------
        campaign_docs: list[dict[str, Any]] = []
        windows: dict[str, Window] = {}
        currents: dict[str, list[int]] = {}
        for record in watched:
            key = f"campaign:{record.campaign_id}"
            total = totals.get(record.campaign_id) or {}
            current = counts_vector(total)
            currents[record.campaign_id] = current
            entry = entries.get(key)
            if entry and entry.get("tripped") and record.control != "paused":  # an operator resumed it
                entry = restart(entry, current, now)
            window, entry = roll(
                entry, current, now, self.config.window_seconds, started_in_window=self._new(total, now)
            )
            windows[record.campaign_id] = window
            verdict, why = level(self.config, window)
            status = LEVEL_STATUS[verdict]
            if verdict == "pause" and not entry.get("tripped"):
                record = self._pause_campaign(record, why, paused)
                entry["tripped"] = record.control == "paused"
            if record.control == "paused":
                status = "paused"
            kept[key] = entry
            campaign_docs.append(
                {
                    "campaign_id": record.campaign_id,
                    "config_sets": list(record.config_sets),
                    **self._rates(window, "sesame"),
                    "status": status,
                    **({"detail": why} if why and verdict != "healthy" else {}),
                }
            )
            if record.control == "paused" and not any(p["name"] == record.campaign_id for p in paused):
                paused.append(
                    {
                        "kind": "campaign",
                        "name": record.campaign_id,
                        "reason": record.control_reason,
                        "at": record.control_at,
                        "by": record.control_by,
                        "new": False,
                    }
                )

        # configuration sets ---------------------------------------------------------------------------------------
        set_docs: list[dict[str, Any]] = []
        for region in self.regions:
            for logical, name in sorted(self.config_sets[region].items()):
                own = ZERO
                cumulative = [0, 0, 0, 0]
                if region == self.region:
                    for record in watched:
                        if logical in record.config_sets or name in record.config_sets:
                            own = own + windows.get(record.campaign_id, ZERO)
                            cumulative = [a + b for a, b in zip(cumulative, currents[record.campaign_id], strict=True)]
                key = f"configset:{region}:{name}"
                entry = dict(entries.get(key) or {})
                pause = pauses.get((region, name))
                if entry.get("tripped") and pause is None:  # an operator resumed it: its window restarts now
                    entry = {"reset_at": round(now, 3), "base": cumulative, "tripped": False}
                if float(entry.get("reset_at", 0) or 0) > now - self.config.window_seconds and "base" in entry:
                    since = [max(0, c - int(b)) for c, b in zip(cumulative, entry["base"], strict=True)]
                    own = Window(*since)  # the window starts at the resume: what tripped it is not counted again
                ses = ses_rates.get((region, name))
                rates = self._source_rates(own, ses)
                verdict, why = self._level_of(rates, own)
                status = LEVEL_STATUS[verdict]
                if verdict == "pause" and pause is None and not entry.get("tripped"):
                    pause = self._pause_config_set(region, name, why, paused)
                    entry["tripped"] = pause is not None
                if pause is not None:
                    status = "paused"
                    if not any(
                        p["kind"] == "configuration_set" and p["name"] == name and p["region"] == region for p in paused
                    ):
                        paused.append({"kind": "configuration_set", **pause.to_dict(), "new": False})
                kept[key] = entry
                set_docs.append(
                    {
                        "name": name,
                        "logical_name": logical,
                        "region": region,
                        "sending_enabled": pause is None,
                        "warmup_pool": logical in self.warmup_sets,
                        **rates,
                        "status": status,
                        **({"detail": why} if why and verdict != "healthy" else {}),
                    }
                )

        # regions --------------------------------------------------------------------------------------------------
        region_docs: list[dict[str, Any]] = []
        own_total = ZERO
        for window in windows.values():
            own_total = own_total + window
        for region in self.regions:
            account = accounts[region]
            ses = ses_rates.get((region, ""))
            own = own_total if region == self.region else ZERO
            rates = self._source_rates(own, ses) if (ses is not None or region == self.region) else self._no_rates()
            doc: dict[str, Any] = {"region": region}
            if isinstance(account, AccountStatus):
                doc.update(account.to_dict())
                verdict, why = self._level_of(rates, own) if rates["rates_source"] != "none" else ("healthy", "")
                if not account.sending_enabled:
                    status = "disabled"
                elif not account.production_access:
                    status = "sandbox"
                elif any(p["kind"] == "configuration_set" and p.get("region") == region for p in paused):
                    status = "paused"
                else:
                    status = {"healthy": "healthy", "warning": "warning", "pause": "at_risk"}[verdict]
                if why and verdict != "healthy":
                    doc["detail"] = why
            else:
                doc.update(
                    {
                        "production_access": None,
                        "sending_enabled": None,
                        "max_send_rate": None,
                        "max_24h_send": None,
                        "sent_last_24h": None,
                        "error": account,
                    }
                )
                status = "error"
            doc.update(rates)
            doc["status"] = status
            region_docs.append(doc)

        snapshot = {
            "taken_at": taken_at,
            "computed_in": self.region,
            "refresh_seconds": 60,
            "thresholds": self.config.to_dict(),
            "regions": region_docs,
            "configuration_sets": set_docs,
            "campaigns": campaign_docs,
            "paused": paused,
            "warmup": self.warmup_state(paused),
        }
        self._write_state({"keys": kept, "at": taken_at}, snapshot)
        return snapshot

    # -- warm-up -----------------------------------------------------------------------------------------------------
    def warmup_state(self, paused: list[dict[str, Any]]) -> dict[str, Any]:
        """The warm-up pool's configuration sets and whether the ramp holds today.

        The ramp holds while a guardrail pause is active on a configuration set of the pool (in any region): today
        is then recorded as a held day, and the sender's ramp (``runtime.sender.pacing.warmup_cap``) does not count
        held days, so it stays on its step instead of advancing. Other pauses (an operator's, a campaign's, a
        transactional set's) do not hold the ramp."""
        pool = {
            (region, name)
            for region, sets in self.config_sets.items()
            for logical, name in sets.items()
            if logical in self.warmup_sets
        }
        holding = any(
            p.get("kind") == "configuration_set"
            and p.get("by") == "guardrail"
            and (p.get("region"), p.get("name")) in pool
            for p in paused
        )
        held: set[str] = set()
        try:
            if holding:
                self._store.hold_warmup_day(datetime.fromtimestamp(self._clock(), tz=UTC).date().isoformat())
            held = self._store.warmup_held_days() if self.warmup_sets else set()
        except Exception as exc:  # the snapshot goes on; the next refresh records the day
            log.warning("could not record the warm-up hold", extra={"error": type(exc).__name__})
        return {
            "configuration_sets": sorted(self.warmup_sets),
            "holding": holding,
            "held_days": sorted(held),
        }

    # -- operator control of a configuration set ------------------------------------------------------------------
    def control_configuration_set(
        self, name: str, body: Any, *, region: str | None = None, by: str = "api"
    ) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("status") not in ("paused", "running"):
            raise ReputationInputError('status: give {"status": "running"} (resume) or {"status": "paused"}')
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 500:
            raise ReputationInputError("reason: a string of at most 500 characters")
        region = region or self.region
        if region not in self.config_sets:
            raise ReputationInputError(f"region: must be one of {', '.join(self.regions)}")
        sets = self.config_sets[region]
        physical = sets.get(name) or (name if name in sets.values() else "")
        if not physical:
            raise ReputationUnknownError(f"configuration set {name} is not one of this stack's in {region}")
        at = iso(datetime.fromtimestamp(self._clock(), tz=UTC))
        if body["status"] == "running":
            self._ses(region).put_configuration_set_sending_options(ConfigurationSetName=physical, SendingEnabled=True)
            self._store.delete_config_set_pause(region, physical)
            log.warning("configuration set resumed", extra={"configuration_set": physical, "region": region, "by": by})
            return {"name": physical, "region": region, "status": "running", "pause": None}
        pause = ConfigSetPause(region, physical, reason or "paused by operator", at, by)
        self._ses(region).put_configuration_set_sending_options(ConfigurationSetName=physical, SendingEnabled=False)
        self._store.put_config_set_pause(pause)
        return {"name": physical, "region": region, "status": "paused", "pause": pause.to_dict()}

    def paused_config_sets(self) -> set[str]:
        """Names of this region's configuration sets sesame paused (the sender holds their units)."""
        return {p.name for p in self._store.config_set_pauses() if p.region == self.region}

    # -- helpers -----------------------------------------------------------------------------------------------------
    def _read_state(
        self, now: float
    ) -> tuple[
        dict[str, Any],
        dict[str, AccountStatus | str],
        dict[tuple[str, str], dict[str, float]],
        list[ConfigSetPause],
        tuple[list[CampaignRecord], Mapping[str, Mapping[str, Any]]],
    ]:
        """What a refresh reads: the samples, each region's account (GetAccount), SES's reputation metrics
        (CloudWatch), the configuration-set pauses and the watched campaigns with their totals. The reads are
        independent, so they are made concurrently: one after another their latencies add up on every run (a cold
        start's ~100 ms, GetAccount alone ~60 ms). An error is raised as the sequential reads raised it."""
        for region in self.regions:  # the clients are built here, in one thread (a botocore session is not thread-safe)
            self._ses(region)
            if self._cloudwatch is not None:
                self._cloudwatch(region)
        with ThreadPoolExecutor(max_workers=4 + len(self.regions), thread_name_prefix="refresh") as pool:
            samples = pool.submit(self._store.samples, self.region)
            accounts = {r: pool.submit(self._account, r) for r in self.regions}
            rates = pool.submit(self._ses_rates, now)
            pauses = pool.submit(self._store.config_set_pauses)
            watched = pool.submit(self._watched)
            return (
                samples.result(),
                {r: f.result() for r, f in accounts.items()},
                rates.result(),
                pauses.result(),
                watched.result(),
            )

    def _write_state(self, samples: dict[str, Any], snapshot: dict[str, Any]) -> None:
        """Store the samples and the snapshot: two independent writes, made at once (one after another they cost
        two round trips on every run). Both are attempted; the first error is raised as the sequential writes raised
        it. Either may land without the other, as before (a failed snapshot write after the samples), and the next
        minute rewrites both."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh") as pool:
            samples_written = pool.submit(self._store.put_samples, self.region, samples)
            try:
                self._store.put_snapshot(self.region, dict(snapshot))
            finally:
                samples_written.result()  # its error first, as the sequential writes raised it

    def _watched(self) -> tuple[list[CampaignRecord], Mapping[str, Mapping[str, Any]]]:
        """The campaigns the guardrails watch (launching or launched, not cancelled) and their totals."""
        watched = [
            r
            for r in self._campaigns.list(WATCHED_CAMPAIGNS)
            if r.status in ("launching", "launched") and r.control != "cancelled"
        ]
        return watched, (self._totals([r.campaign_id for r in watched]) if watched else {})

    def _account(self, region: str) -> AccountStatus | str:
        try:
            return read_account(self._ses(region), region)
        except AccountUnavailableError as exc:
            log.error("GetAccount failed", extra={"region": region, "error": str(exc)})
            return str(exc)

    def _new(self, total: Mapping[str, Any], now: float) -> bool:
        first = total.get("first_event_at")
        if not first:
            return True
        try:
            return parse_time(str(first)).timestamp() >= now - self.config.window_seconds
        except ValueError:
            return False

    @staticmethod
    def _rates(window: Window, source: str) -> dict[str, Any]:
        return {
            "bounce_rate": window.bounce_rate,
            "complaint_rate": window.complaint_rate,
            "volume": window.sent,
            "rates_source": source,
        }

    @staticmethod
    def _no_rates() -> dict[str, Any]:
        return {"bounce_rate": None, "complaint_rate": None, "volume": None, "rates_source": "none"}

    def _source_rates(self, own: Window, ses: Mapping[str, float] | None) -> dict[str, Any]:
        if ses is not None:
            return {
                "bounce_rate": ses.get("bounce_rate"),
                "complaint_rate": ses.get("complaint_rate"),
                "volume": own.sent,
                "rates_source": "ses",
            }
        return self._rates(own, "sesame")

    def _level_of(self, rates: Mapping[str, Any], own: Window) -> tuple[str, str]:
        if rates["rates_source"] == "ses":
            b = float(rates.get("bounce_rate") or 0.0)
            c = float(rates.get("complaint_rate") or 0.0)
            if b >= self.config.pause_bounce_rate:
                return "pause", f"SES bounce rate {b:.2%} >= pause level {self.config.pause_bounce_rate:.2%}"
            if c >= self.config.pause_complaint_rate:
                return "pause", f"SES complaint rate {c:.3%} >= pause level {self.config.pause_complaint_rate:.3%}"
            if b >= self.config.warn_bounce_rate or c >= self.config.warn_complaint_rate:
                return "warning", f"SES bounce rate {b:.2%}, complaint rate {c:.3%}: at or above the warning levels"
            return "healthy", ""
        return level(self.config, own)

    def _pause_campaign(self, record: CampaignRecord, why: str, paused: list[dict[str, Any]]) -> CampaignRecord:
        try:
            doc = self._control.apply(record.campaign_id, "paused", reason=f"guardrail: {why}", by="guardrail")
        except (
            CampaignTransitionError,
            CampaignUnknownError,
        ) as exc:  # completed, cancelled meanwhile: nothing to stop
            log.info("guardrail: campaign not paused", extra={"campaign_id": record.campaign_id, "why": str(exc)})
            return record
        control = doc.get("control") or {}
        log.warning("guardrail paused a campaign", extra={"campaign_id": record.campaign_id, "reason": why})
        paused.append(
            {
                "kind": "campaign",
                "name": record.campaign_id,
                "reason": control.get("reason", why),
                "at": control.get("at", ""),
                "by": control.get("by", "guardrail"),
                "new": control.get("by") == "guardrail",
            }
        )
        return replace(
            record,
            control="paused",
            control_reason=str(control.get("reason", "")),
            control_at=str(control.get("at", "")),
            control_by=str(control.get("by", "")),
        )

    def _pause_config_set(
        self, region: str, name: str, why: str, paused: list[dict[str, Any]]
    ) -> ConfigSetPause | None:
        at = iso(datetime.fromtimestamp(self._clock(), tz=UTC))
        pause = ConfigSetPause(region, name, f"guardrail: {why}", at, "guardrail")
        try:
            self._ses(region).put_configuration_set_sending_options(ConfigurationSetName=name, SendingEnabled=False)
        except Exception as exc:  # not recorded as paused: the next minute tries again
            log.error(
                "guardrail could not pause a configuration set",
                extra={"configuration_set": name, "region": region, "error": _code(exc)},
            )
            return None
        self._store.put_config_set_pause(pause)
        log.warning("guardrail paused a configuration set", extra={"configuration_set": name, "region": region})
        paused.append({"kind": "configuration_set", **pause.to_dict(), "new": True})
        return pause

    def _ses_rates(self, now: float) -> dict[tuple[str, str], dict[str, float]]:
        """SES's reputation metrics (latest value of the last day) per (region, configuration set or "")."""
        found: dict[tuple[str, str], dict[str, float]] = {}
        if self._cloudwatch is None:
            return found
        end = datetime.fromtimestamp(now, tz=UTC)
        for region in self.regions:
            queries: list[dict[str, Any]] = []
            keys: dict[str, tuple[str, str, str]] = {}
            targets = [("", "")] + [(n, n) for n in sorted(self.config_sets[region].values())]
            for index, (label, name) in enumerate(targets):
                for metric, rate in (
                    ("Reputation.BounceRate", "bounce_rate"),
                    ("Reputation.ComplaintRate", "complaint_rate"),
                ):
                    qid = f"m{index}{'b' if rate == 'bounce_rate' else 'c'}"
                    dims = [{"Name": "ses:configuration-set", "Value": name}] if name else []
                    queries.append(
                        {
                            "Id": qid,
                            "MetricStat": {
                                "Metric": {"Namespace": "AWS/SES", "MetricName": metric, "Dimensions": dims},
                                "Period": 3600,
                                "Stat": "Average",
                            },
                            "ReturnData": True,
                        }
                    )
                    keys[qid] = (region, label, rate)
            try:
                answer = self._cloudwatch(region).get_metric_data(
                    MetricDataQueries=queries,
                    StartTime=end - timedelta(days=1),
                    EndTime=end,
                    ScanBy="TimestampDescending",
                )
            except Exception as exc:
                log.warning("SES reputation metrics unavailable", extra={"region": region, "error": _code(exc)})
                continue
            for result in answer.get("MetricDataResults", []):
                values = result.get("Values") or []
                if not values or result.get("Id") not in keys:
                    continue
                region_name, label, rate = keys[result["Id"]]
                found.setdefault((region_name, label), {})[rate] = round(float(values[0]), 6)
        return {k: v for k, v in found.items() if "bounce_rate" in v or "complaint_rate" in v}
