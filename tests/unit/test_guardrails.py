"""Guardrails and the reputation snapshot with in-memory fakes (issue 13): rolling rates, levels, trips at the
configured levels and not below, pauses recorded with reason and time, reversible, and GetAccount states."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.reputation.account import AccountUnavailableError, SendingBlockedError, read_account, sending_gate
from runtime.reputation.guardrails import ZERO, GuardrailConfig, Window, counts_vector, level, roll
from runtime.reputation.service import ReputationNotReadyError, ReputationService, ReputationUnknownError
from runtime.sender.control import CampaignControl
from runtime.stores.campaigns import CampaignRecord, InMemoryCampaignStore
from runtime.stores.reputation import InMemoryReputationStore
from tests.support.sender_fakes import client_error

T0 = 1_800_000_000.0
CONFIG = GuardrailConfig(window_seconds=3600, min_volume=100)


class Ses:
    def __init__(self, region: str, *, production: bool = True, enabled: bool = True, fail: bool = False) -> None:
        self.region, self.production, self.enabled, self.fail = region, production, enabled, fail
        self.sending_options: list[tuple[str, bool]] = []

    def get_account(self) -> dict[str, Any]:
        if self.fail:
            raise client_error("AccessDeniedException", 403)
        return {
            "ProductionAccessEnabled": self.production,
            "SendingEnabled": self.enabled,
            "EnforcementStatus": "HEALTHY" if self.enabled else "SHUTDOWN",
            "SendQuota": {"MaxSendRate": 14.0, "Max24HourSend": 50_000.0, "SentLast24Hours": 1_200.0},
        }

    def put_configuration_set_sending_options(self, ConfigurationSetName: str, SendingEnabled: bool) -> dict:  # noqa: N803
        self.sending_options.append((ConfigurationSetName, SendingEnabled))
        return {}


class World:
    def __init__(self, **ses_kwargs: Any) -> None:
        self.now = T0
        self.campaigns = InMemoryCampaignStore(clock=lambda: "2027-01-15T08:00:00.000Z")
        self.totals: dict[str, dict[str, Any]] = {}
        self.reputation = InMemoryReputationStore()
        self.ses = {"us-east-1": Ses("us-east-1", **ses_kwargs), "eu-west-1": Ses("eu-west-1")}
        self.control = CampaignControl(self.campaigns, lambda cid: {**self.totals.get(cid, {})}, clock=lambda: self.now)
        self.service = ReputationService(
            config=CONFIG,
            region="us-east-1",
            regions=["us-east-1", "eu-west-1"],
            config_sets={
                "us-east-1": {"marketing": "sesame-t-marketing", "transactional": "sesame-t-transactional"},
                "eu-west-1": {"marketing": "sesame-t-marketing-backup"},
            },
            ses=lambda region: self.ses[region],
            cloudwatch=None,
            store=self.reputation,
            campaigns=self.campaigns,
            totals=lambda ids: {c: self.totals[c] for c in ids if c in self.totals},
            control=self.control,
            warmup_sets=["marketing"],
            clock=lambda: self.now,
        )

    def launch(self, campaign_id: str, recipients: int = 10_000, config_set: str = "marketing") -> None:
        self.campaigns.create(
            CampaignRecord(
                campaign_id,
                "launched",
                "2027-01-15T08:00:00.000Z",
                "2027-01-15T08:00:00.000Z",
                recipients=recipients,
                config_sets=[config_set],
            )
        )

    def counts(self, campaign_id: str, sent: int, bounced: int = 0, complained: int = 0, delivered: int | None = None):
        self.totals[campaign_id] = {
            "sent": sent,
            "delivered": sent - bounced if delivered is None else delivered,
            "bounced_hard": bounced,
            "complained": complained,
        }

    def campaign(self, campaign_id: str) -> CampaignRecord:
        record = self.campaigns.get(campaign_id)
        assert record is not None
        return record


def test_rolling_window_starts_at_zero_for_a_new_key_and_slides_with_samples():
    entry = None
    window, entry = roll(entry, [100, 90, 10, 0], T0, 3600, started_in_window=True)
    assert window == Window(100, 90, 10, 0)
    window, entry = roll(entry, [400, 390, 10, 0], T0 + 1800, 3600, started_in_window=False)
    assert window == Window(300, 300, 0, 0)  # from the sample taken at T0
    window, entry = roll(entry, [500, 490, 10, 0], T0 + 4000, 3600, started_in_window=False)
    assert window == Window(100, 100, 0, 0)  # the T0 sample left the window; the T0+1800 one is the baseline
    assert all(s[0] >= T0 + 4000 - 3600 for s in entry["samples"])


def test_levels_trip_at_the_configured_rates_and_not_below_or_under_min_volume():
    assert level(CONFIG, Window(1000, 960, 39, 0))[0] == "warning"  # 3.9 % < 4 %
    verdict, why = level(CONFIG, Window(1000, 960, 40, 0))
    assert verdict == "pause" and "4.00%" in why
    assert level(CONFIG, Window(1000, 1000, 19, 0))[0] == "healthy"  # 1.9 % < 2 %
    assert level(CONFIG, Window(1000, 1000, 20, 0))[0] == "warning"
    assert level(CONFIG, Window(10_000, 10_000, 0, 7))[0] == "warning"  # 0.07 % complaints
    assert level(CONFIG, Window(10_000, 10_000, 0, 8))[0] == "pause"  # 0.08 %
    assert level(CONFIG, Window(99, 50, 49, 0))[0] == "healthy"  # below the minimum volume


def test_counts_vector_reads_sent_delivered_hard_bounces_and_complaints():
    assert counts_vector({"sent": 5, "delivered": 4, "bounced_hard": 1, "bounced_soft": 7}) == [5, 4, 1, 0]


def test_a_campaign_at_the_pause_level_is_paused_with_reason_and_time_and_one_below_is_not():
    w = World()
    w.launch("bad")
    w.launch("fine")
    w.counts("bad", 1000, bounced=40)
    w.counts("fine", 1000, bounced=39)
    snapshot = w.service.refresh()
    assert w.campaign("bad").control == "paused" and w.campaign("bad").control_by == "guardrail"
    assert "bounce rate 4.00%" in w.campaign("bad").control_reason
    assert w.campaign("fine").control == ""
    (paused,) = snapshot["paused"]
    assert paused["kind"] == "campaign" and paused["name"] == "bad" and paused["new"] is True and paused["at"]
    statuses = {c["campaign_id"]: c["status"] for c in snapshot["campaigns"]}
    assert statuses == {"bad": "paused", "fine": "warning"}
    # the next minute: still paused, not newly paused
    w.now += 60
    again = w.service.refresh()
    assert [p["new"] for p in again["paused"]] == [False]


def test_an_operator_resume_restarts_the_window_so_the_old_bounces_do_not_trip_again():
    w = World()
    w.launch("bad")
    w.counts("bad", 1000, bounced=50)
    w.service.refresh()
    w.control.apply("bad", "running", reason="list cleaned", by="api")
    w.now += 60
    w.counts("bad", 1100, bounced=51)  # 100 more sent, 1 more bounce since the resume
    snapshot = w.service.refresh()
    assert w.campaign("bad").control == ""
    assert snapshot["campaigns"][0]["volume"] == 100 and snapshot["campaigns"][0]["status"] == "healthy"
    w.now += 60
    w.counts("bad", 1200, bounced=61)  # 10 of 200 since the resume: 5 % -> paused again
    w.service.refresh()
    assert w.campaign("bad").control == "paused"


def test_a_configuration_set_over_the_pause_level_is_stopped_at_ses_recorded_and_resumable():
    w = World()
    w.launch("a")
    w.launch("b")
    w.counts("a", 600, bounced=20)
    w.counts("b", 600, bounced=20)  # each 3.3 %: warnings; the set: 40 of 1,200 = 3.3 % too
    w.service.refresh()
    assert w.ses["us-east-1"].sending_options == []
    w.now += 60
    w.counts("a", 600, bounced=20, complained=1)  # 1 complaint of 1,160 delivered in the set: 0.086 % >= 0.08 %
    snapshot = w.service.refresh()
    assert ("sesame-t-marketing", False) in w.ses["us-east-1"].sending_options
    sets = {(s["region"], s["name"]): s for s in snapshot["configuration_sets"]}
    marketing = sets[("us-east-1", "sesame-t-marketing")]
    assert marketing["status"] == "paused" and marketing["sending_enabled"] is False
    assert marketing["rates_source"] == "sesame" and marketing["warmup_pool"] is True
    assert sets[("us-east-1", "sesame-t-transactional")]["status"] == "healthy"
    backup = sets[("eu-west-1", "sesame-t-marketing-backup")]
    assert backup["rates_source"] == "sesame" and backup["volume"] == 0 and backup["status"] == "healthy"
    assert w.service.paused_config_sets() == {"sesame-t-marketing"}
    kinds = {(p["kind"], p["name"]) for p in snapshot["paused"]}
    assert ("configuration_set", "sesame-t-marketing") in kinds
    assert snapshot["warmup"]["holding"] is True
    # the operator resumes it: SES sending enabled again, the record goes, the window restarts
    answer = w.service.control_configuration_set("marketing", {"status": "running"}, by="api")
    assert answer["status"] == "running"
    assert w.ses["us-east-1"].sending_options[-1] == ("sesame-t-marketing", True)
    assert w.service.paused_config_sets() == set()
    w.control.apply("a", "running", reason="ok", by="api")
    w.now += 60
    after = w.service.refresh()
    sets = {(s["region"], s["name"]): s for s in after["configuration_sets"]}
    assert sets[("us-east-1", "sesame-t-marketing")]["status"] != "paused"
    assert w.ses["us-east-1"].sending_options[-1] == ("sesame-t-marketing", True)


def test_unknown_configuration_set_is_404_and_a_bad_body_400():
    w = World()
    with pytest.raises(ReputationUnknownError):
        w.service.control_configuration_set("nope", {"status": "running"})
    from runtime.reputation.service import ReputationInputError

    with pytest.raises(ReputationInputError):
        w.service.control_configuration_set("marketing", {"status": "off"})


def test_regions_report_access_quotas_rates_and_their_source_and_sandbox_status():
    w = World(production=False)
    w.launch("a")
    w.counts("a", 1000, bounced=10, complained=0)
    w.service.refresh()
    snapshot = w.service.current()
    primary, backup = snapshot["regions"]
    assert primary["region"] == "us-east-1" and primary["production_access"] is False
    assert primary["status"] == "sandbox"
    assert (primary["max_send_rate"], primary["max_24h_send"], primary["sent_last_24h"]) == (14.0, 50_000.0, 1_200.0)
    assert primary["bounce_rate"] == 0.01 and primary["rates_source"] == "sesame"
    assert backup["status"] == "healthy" and backup["rates_source"] == "none"
    assert snapshot["thresholds"]["pause"] == {"bounce_rate": 0.04, "complaint_rate": 0.0008}
    assert snapshot["stale"] is False and snapshot["age_seconds"] == 0


def test_a_failed_get_account_is_reported_as_an_error_not_a_default():
    w = World(fail=True)
    snapshot = w.service.refresh()
    primary = snapshot["regions"][0]
    assert primary["status"] == "error" and "AccessDeniedException" in primary["error"]
    assert primary["max_send_rate"] is None


def test_no_snapshot_yet_is_an_error():
    with pytest.raises(ReputationNotReadyError):
        World().service.current()


def test_launch_gate_refuses_sandbox_and_disabled_regions_and_a_failed_get_account():
    with pytest.raises(SendingBlockedError, match="sandbox"):
        sending_gate(lambda r: Ses(r, production=False), "us-east-1")()
    with pytest.raises(SendingBlockedError, match="disabled"):
        sending_gate(lambda r: Ses(r, enabled=False), "us-east-1")()
    with pytest.raises(AccountUnavailableError, match="GetAccount failed in us-east-1"):
        sending_gate(lambda r: Ses(r, fail=True), "us-east-1")()
    sending_gate(lambda r: Ses(r), "us-east-1")()
    assert read_account(Ses("x"), "x").max_24h_send == 50_000.0


def test_the_warm_up_holds_only_while_a_guardrail_pauses_a_pool_set_and_records_the_held_day():
    from runtime.stores.reputation import ConfigSetPause

    w = World()
    w.reputation.put_config_set_pause(
        ConfigSetPause("us-east-1", "sesame-t-transactional", "bounces", "t", "guardrail")
    )
    w.reputation.put_config_set_pause(ConfigSetPause("us-east-1", "sesame-t-marketing", "maintenance", "t", "api"))
    snapshot = w.service.refresh()
    # a transactional set tripped and an operator's pause of the pool: the ramp goes on
    assert snapshot["warmup"]["holding"] is False and snapshot["warmup"]["held_days"] == []
    w.reputation.put_config_set_pause(
        ConfigSetPause("eu-west-1", "sesame-t-marketing-backup", "bounces", "t", "guardrail")
    )
    w.now += 60
    snapshot = w.service.refresh()
    assert snapshot["warmup"] == {"configuration_sets": ["marketing"], "holding": True, "held_days": ["2027-01-15"]}
    w.now += 60
    assert w.service.refresh()["warmup"]["held_days"] == ["2027-01-15"]  # one day, however many refreshes
    w.service.control_configuration_set("marketing", {"status": "running"}, region="eu-west-1", by="api")
    w.now += 86_400
    later = w.service.refresh()["warmup"]
    assert later["holding"] is False and later["held_days"] == ["2027-01-15"]


def test_a_refresh_makes_its_independent_reads_at_once_not_one_after_another():
    import threading

    world = World()
    both = threading.Barrier(3, timeout=10)  # the samples read and both regions' GetAccount must be in flight together
    samples, get_account = world.reputation.samples, Ses.get_account

    def waiting_samples(region: str) -> dict[str, Any]:
        both.wait()
        return samples(region)

    def waiting_get_account(self: Ses) -> dict[str, Any]:
        both.wait()
        return get_account(self)

    world.reputation.samples = waiting_samples  # type: ignore[method-assign]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Ses, "get_account", waiting_get_account)
        snapshot = world.service.refresh()  # one after another, the first read would wait for the others forever
    assert [r["max_send_rate"] for r in snapshot["regions"]] == [14.0, 14.0]


def test_a_failing_read_fails_the_refresh_as_before():
    world = World()

    def broken(region: str) -> dict[str, Any]:
        raise client_error("ProvisionedThroughputExceededException", 400)

    world.reputation.samples = broken  # type: ignore[method-assign]
    with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
        world.service.refresh()


def test_guardrail_levels_and_windows_compare_and_hash_by_value():
    assert GuardrailConfig(min_volume=100) == GuardrailConfig(min_volume=100) != GuardrailConfig()
    assert len({GuardrailConfig(), GuardrailConfig()}) == 1
    assert Window(3, 2, 1, 0) == Window(1, 1, 1, 0) + Window(2, 1, 0, 0) != ZERO
    assert hash(Window(3, 2, 1, 0)) == hash(Window(3, 2, 1, 0)) and Window(1, 1, 0, 0) != (1, 1, 0, 0)
    assert repr(Window(3, 2, 1, 0)) == "Window(sent=3, delivered=2, bounced=1, complained=0)"
