"""Builds the reputation service from settings and a client factory (the app's composition root and the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.reputation.guardrails import GuardrailConfig
from runtime.reputation.service import ReputationService
from runtime.sender.control import CampaignControl
from runtime.settings import Settings


def guardrail_config(s: Settings) -> GuardrailConfig:
    return GuardrailConfig(
        window_seconds=s.guardrail_window_minutes * 60,
        min_volume=s.guardrail_min_volume,
        warn_bounce_rate=s.guardrail_warn_bounce_rate,
        warn_complaint_rate=s.guardrail_warn_complaint_rate,
        pause_bounce_rate=s.guardrail_pause_bounce_rate,
        pause_complaint_rate=s.guardrail_pause_complaint_rate,
    )


def config_sets_by_region(s: Settings) -> dict[str, dict[str, str]]:
    """region -> logical configuration set -> its name in that region (primary and backup)."""
    primary = dict(s.configuration_sets) or {s.default_configuration_set: s.default_configuration_set}
    sets = {s.region: primary}
    if s.backup_region and s.backup_region != s.region:
        sets[s.backup_region] = {logical: s.configuration_set_name(logical, backup=True) for logical in primary}
    return sets


def build_service(s: Settings, client: Callable[..., Any], control: CampaignControl) -> ReputationService:
    from runtime.query.reader import DynamoTrackingReader, TableNames
    from runtime.stores.campaigns import DynamoCampaignStore
    from runtime.stores.reputation import DynamoReputationStore

    dynamodb = client("dynamodb", s.region)
    reader = DynamoTrackingReader(dynamodb, TableNames(s.messages_table, s.campaigns_table))
    sets = config_sets_by_region(s)
    return ReputationService(
        config=guardrail_config(s),
        region=s.region,
        regions=list(sets),
        config_sets=sets,
        ses=lambda region: client("sesv2", region),
        cloudwatch=lambda region: client("cloudwatch", region),
        store=DynamoReputationStore(dynamodb, s.control_table),
        campaigns=DynamoCampaignStore(dynamodb, s.campaigns_table),
        totals=lambda ids: reader.campaign_totals(ids),
        control=control,
        warmup_sets=s.warmup_configuration_sets,
    )
