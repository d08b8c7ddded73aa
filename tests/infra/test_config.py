"""Typed stack config: required keys, defaults documented in Pulumi.yaml and docs/configuration.md, and invalid
values rejected with a message naming the key (before any resource registers)."""

from __future__ import annotations

import json

import pytest

from infra.config import DEFAULT_FUNCTIONS, SENDER_RECIPIENTS_PER_SECOND, ConfigError, config_keys, parse_config
from infra.mockrun import ProgramRun, run_program
from tests.support.infra_stacks import ROOT, project_config, with_project_defaults

REQUIRED = {
    "aws:region": "us-east-1",
    "sesame:environment": "dev",
    "sesame:domain": "example.org",
    "sesame:regions": '["us-east-1"]',
    "sesame:homeRegion": "us-east-1",
    "sesame:hostedZoneId": "",
}


def _error(**overrides: object) -> str:
    raw = {**REQUIRED, **{(k if ":" in k else f"sesame:{k}"): v for k, v in overrides.items()}}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


def test_only_the_six_required_keys_are_needed() -> None:
    cfg = parse_config(REQUIRED)
    assert cfg.stage == "dev-us-east-1"
    assert cfg.is_home
    assert cfg.backup_region == ""
    assert cfg.mail_from == "bounce-us-east-1.example.org"
    assert cfg.tracking_domain_name == "track-dev-us-east-1.example.org"
    assert set(cfg.configuration_sets) == {"marketing", "transactional"}
    assert cfg.configuration_sets["marketing"].tracking and not cfg.configuration_sets["transactional"].tracking
    assert not cfg.protect_data
    assert {name: fn.timeout for name, fn in cfg.functions.items()} == {
        name: fn["timeout"] for name, fn in DEFAULT_FUNCTIONS.items()
    }


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_each_missing_required_key_is_named(key: str) -> None:
    raw = {k: v for k, v in REQUIRED.items() if k != key}
    with pytest.raises(ConfigError, match=f"{key}: required"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aws:region": "eu-west-1"}, "sesame:regions must include the stack's aws:region (eu-west-1)"),
        ({"homeRegion": "eu-west-1"}, "sesame:homeRegion (eu-west-1) must be one of sesame:regions"),
        ({"regions": '["us-east-1", "us-east-1"]'}, "sesame:regions: must not list a region twice"),
        ({"regions": "[]"}, "sesame:regions: must list at least one region"),
        ({"regions": '["us-east-1", "mars-1"]'}, "sesame:regions: must list AWS regions"),
        ({"regions": "[us-east-1"}, "sesame:regions: not valid JSON"),
        ({"environment": "Prod!"}, "sesame:environment: must be 1-16 lower-case"),
        ({"domain": "localhost"}, "sesame:domain: must be a DNS name"),
        ({"hostedZoneId": "not a zone"}, "sesame:hostedZoneId: must be a Route53 hosted zone id"),
        ({"dmarcPolicy": "strict"}, "sesame:dmarcPolicy: Input should be 'none', 'quarantine' or 'reject'"),
        ({"dmarcPct": "101"}, "sesame:dmarcPct: Input should be less than or equal to 100"),
        ({"dkimKeyLength": "RSA_4096_BIT"}, "sesame:dkimKeyLength"),
        ({"mailFromBehaviorOnMxFailure": "BOUNCE"}, "sesame:mailFromBehaviorOnMxFailure"),
        ({"trackingHttps": "maybe"}, "sesame:trackingHttps: Input should be a valid boolean"),
        ({"webhookUrl": "https://example.org/hook"}, "sesame:webhookUrl: removed: set sesame:webhook true"),
        ({"webhookMaxRetries": "10"}, "sesame:webhookMaxRetries: Input should be greater than or equal to 40"),
        ({"alarmEmail": "ops"}, "sesame:alarmEmail: must be an email address"),
        ({"complaintRateAlarmThreshold": "0.001"}, "sesame:complaintRateAlarmThreshold: Input should be less than"),
        ({"bounceRateAlarmThreshold": "0.05"}, "sesame:bounceRateAlarmThreshold: Input should be less than 0.05"),
        ({"configurationSets": "{}"}, "sesame:configurationSets: must declare at least one configuration set"),
        ({"configurationSets": '{"m": {"trackin": true}}'}, "sesame:configurationSets.m.trackin: unknown key"),
        ({"configurationSets": '{"Bad Name": {}}'}, "configuration set names must be lower-case"),
        ({"defaultConfigurationSet": "newsletters"}, "sesame:defaultConfigurationSet (newsletters) must be a key"),
        ({"functions": '{"sender": {"timeout": 901}}'}, "sesame:functions.sender.timeout"),
        ({"byodkimSelector": "s1"}, "sesame:byodkimSelector and sesame:byodkimPrivateKey must be set together"),
        ({"multiRegionEndpoint": "true"}, "sesame:multiRegionEndpoint: removed: the SES global endpoint is not used"),
        ({"functions": '{"api_handler": {"timeout": 30}}'}, "sesame:functions: unknown function 'api_handler'"),
        ({"functions": '{"api": {"timeout": 60}}'}, "api.timeout: at most 29 s, API Gateway stops waiting"),
        ({"functions": '{"api": {"maxConcurrency": 5}}'}, "api.maxConcurrency: only the SQS consumers"),
        ({"functions": '{"sender": {"maxConcurrency": 1}}'}, "sesame:functions.sender.maxConcurrency"),
        ({"logRetentionDays": "31"}, "sesame:logRetentionDays: must be one of CloudWatch Logs' periods"),
        (
            {"configurationSets": '{"marketing": {"ipPool": "warm"}}'},
            "sesame:configurationSets.marketing.ipPool (warm) must be a key of sesame:dedicatedIpPools",
        ),
        ({"warmupPool": "warm"}, "sesame:warmupPool (warm) must be a key of sesame:dedicatedIpPools"),
        ({"dedicatedIpPools": '{"warm": {"scalingMode": "AUTO"}}'}, "sesame:dedicatedIpPools.warm.scalingMode"),
        ({"domainOwner": "Prod!"}, "sesame:domainOwner: must be an environment name"),
        ({"domainOwner": "prod", "adoptIdentity": "true"}, "belong to the stacks of environment prod"),
        ({"adoptDmarc": "true"}, "sesame:adoptDmarc imports the existing _dmarc record"),
        ({"dmarcRecord": "p=reject"}, "sesame:dmarcRecord: must be a whole DMARC record"),
        ({"archiveTransitionDays": "400", "archiveExpirationDays": "300"}, "sesame:archiveExpirationDays must be"),
        ({"apiKeyHashes": '["abc"]'}, "sesame:apiKeyHashes: each entry must be a sha256 hex digest"),
        ({"eventTtlDays": "0"}, "sesame:eventTtlDays: Input should be greater than or equal to 1"),
        ({"deletionProtection": "sometimes"}, "sesame:deletionProtection: Input should be a valid boolean"),
        ({"trackingDomian": "x.example.org"}, "sesame:trackingDomian: unknown key"),
        ({"mailFromDomain": "bounce.example.net"}, "sesame:mailFromDomain (bounce.example.net) must be a subdomain"),
        ({"trackingDomain": "example.org"}, "sesame:trackingDomain (example.org) must be a subdomain"),
        ({"dmarcRua": "dmarc@example.org"}, "sesame:dmarcRua: must be mailto: URIs"),
        ({"warmupStart": "next monday"}, "sesame:warmupStart: must be an ISO date"),
        ({"topicKmsKeyId": "alias/aws/sns"}, "sesame:topicKmsKeyId: SES cannot publish to a topic encrypted with"),
        ({"topicKmsKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"}, "sesame:topicKmsKeyId: SES cannot"),
        ({"unsubscribeMailto": "unsubscribe"}, "sesame:unsubscribeMailto: must be an email address"),
        ({"defaultFrom": "no-reply@example.net"}, "sesame:defaultFrom (no-reply@example.net) must be an address at"),
        ({"defaultFrom": "News <news@Example.org>"}, "must be an address at sesame:domain (example.org)"),
        ({"defaultFrom": "example.org"}, "sesame:defaultFrom (example.org) must be an address at"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(overrides: dict[str, str], message: str) -> None:
    error = _error(**overrides)
    assert error.startswith("invalid stack config: ")
    assert message in error


def test_every_bucket_name_fits_s3s_63_characters_for_the_longest_environment_and_region() -> None:
    from infra.naming import Names

    cfg = parse_config(
        {
            **REQUIRED,
            "aws:region": "ap-southeast-2",
            "sesame:regions": '["ap-southeast-2"]',
            "sesame:homeRegion": "ap-southeast-2",
            "sesame:environment": "a" * 16,
        }
    )
    names = Names(cfg.environment, cfg.region)
    assert len(names.archive_bucket("123456789012")) <= 63
    assert len(names.campaign_bucket("123456789012")) <= 63


def test_sender_concurrency_follows_the_configured_send_rate() -> None:
    assert parse_config(REQUIRED).sender_concurrency == 10  # rate from SES at run time: the default cap
    assert parse_config({**REQUIRED, "sesame:maxSendRate": "14"}).sender_concurrency == 2
    assert parse_config({**REQUIRED, "sesame:maxSendRate": "500"}).sender_concurrency == 20
    assert parse_config({**REQUIRED, "sesame:maxSendRate": "1000"}).sender_concurrency == 40
    assert parse_config({**REQUIRED, "sesame:maxSendRate": "50000"}).sender_concurrency == 1000
    pinned = {**REQUIRED, "sesame:maxSendRate": "500", "sesame:functions": '{"sender": {"maxConcurrency": 7}}'}
    assert parse_config(pinned).sender_concurrency == 7


@pytest.mark.parametrize("rate", [1, 14, 99, 200, 1000, 1001, 14_000])
def test_derived_sender_concurrency_is_enough_for_single_recipient_traffic_at_the_rate_and_no_more(rate: int) -> None:
    instances = parse_config({**REQUIRED, "sesame:maxSendRate": str(rate)}).sender_concurrency
    if rate / SENDER_RECIPIENTS_PER_SECOND <= 1000:  # MaximumConcurrency's own upper limit
        assert instances * SENDER_RECIPIENTS_PER_SECOND >= rate
    assert instances == 2 or (instances - 1) * SENDER_RECIPIENTS_PER_SECOND < rate


def test_functions_given_keep_the_defaults_of_the_fields_not_given() -> None:
    cfg = parse_config({**REQUIRED, "sesame:functions": '{"webhook": {"memory": 1024}}'})
    assert cfg.functions["webhook"].memory == 1024
    assert cfg.functions["webhook"].reserved_concurrency == DEFAULT_FUNCTIONS["webhook"]["reservedConcurrency"]
    assert cfg.functions["webhook"].timeout == DEFAULT_FUNCTIONS["webhook"]["timeout"]


def test_app_settings_in_the_shapes_the_runtime_uses_are_accepted() -> None:
    cfg = parse_config(
        {
            **REQUIRED,
            "sesame:defaultFrom": "Example News <news@example.org>",
            "sesame:warmupStart": "2026-11-01",
            "sesame:unsubscribeMailto": "mailto:unsubscribe@example.org",
        }
    )
    assert (cfg.sender_from, cfg.warmup_start) == ("Example News <news@example.org>", "2026-11-01")
    assert parse_config({**REQUIRED, "sesame:unsubscribeMailto": "unsubscribe@example.org"}).unsubscribe_mailto


def test_every_problem_is_reported_at_once() -> None:
    error = _error(dmarcPolicy="strict", dnsTtl="5")
    assert "sesame:dmarcPolicy" in error and "sesame:dnsTtl" in error


def test_invalid_config_fails_the_program_before_any_resource_registers() -> None:
    with pytest.raises(ConfigError, match="sesame:regions must include the stack's aws:region"):
        run_program({**REQUIRED, "aws:region": "eu-west-1"})


def test_misspelt_key_in_stack_config_fails_the_program() -> None:
    with pytest.raises(ConfigError, match="sesame:hostedZone: unknown key"):
        run_program({**REQUIRED, "sesame:hostedZone": "Z123"})


def test_pulumi_yaml_declares_every_key_with_its_default() -> None:
    declared = project_config()
    expected = {k for k in config_keys() if k != "aws:region"}  # aws:region belongs to the aws provider namespace
    assert set(declared) == expected
    required = {k for k, decl in declared.items() if "default" not in decl}
    assert required == set(REQUIRED) - {"aws:region"}
    assert all(decl.get("description") for decl in declared.values())
    assert all(decl["type"] in {"string", "integer", "boolean", "array"} for decl in declared.values())


def test_pulumi_yaml_defaults_equal_the_programs_own_defaults() -> None:
    assert parse_config(with_project_defaults(REQUIRED)) == parse_config(REQUIRED)


def test_program_resources_are_the_same_with_or_without_the_pulumi_yaml_defaults() -> None:
    bare = run_program(REQUIRED)
    defaulted = run_program(with_project_defaults(REQUIRED))

    def graph(run: ProgramRun) -> list[tuple[str, str, str]]:
        return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in run.resources)

    assert graph(bare) == graph(defaulted)
    assert bare.outputs["environmentVariables"] == defaulted.outputs["environmentVariables"]


def test_single_region_stack_has_no_replicas_and_no_backup_region() -> None:
    run = run_program(REQUIRED)
    tables = run.of_type("aws:dynamodb/table:Table")
    assert len(tables) == 4
    assert all("replicas" not in t.inputs and t.inputs["streamEnabled"] is False for t in tables)
    assert "SESAME_BACKUP_REGION" not in run.outputs["environmentVariables"]
    assert run.outputs["backupRegion"] == ""


def test_configuration_doc_covers_every_key_with_its_default() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for key, decl in project_config().items():
        assert f"`{key}`" in doc, key
        if "default" in decl and decl["default"] not in ("", [], True, False) and decl["type"] != "string":
            assert str(decl["default"]) in doc, key
    assert "`aws:region`" in doc
