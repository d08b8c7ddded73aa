"""``Settings``: env vars and the SSM secrets document -> typed, bounded, frozen settings; a bad value raises
SettingsError naming the env var."""

from __future__ import annotations

import dataclasses

import pytest

from runtime.settings import Settings, SettingsError

HASH = "a" * 64


def test_env_vars_become_typed_settings() -> None:
    s = Settings.from_env(
        {
            "SESAME_STAGE": "prod-eu-west-1",
            "SNS_ALLOWED_TOPIC_ARNS": "arn:a, arn:b",
            "SESAME_CONFIGURATION_SETS": '{"marketing": "sesame-prod-marketing"}',
            "SESAME_EVENT_TTL_DAYS": "30",
            "SESAME_MAX_SEND_RATE": "14",
            "SESAME_API_KEY_HASHES": HASH,
        }
    )
    assert s.stage == "prod-eu-west-1"
    assert s.sns_allowed_topic_arns == ("arn:a", "arn:b")
    assert s.configuration_set_name("marketing") == "sesame-prod-marketing"
    assert s.event_ttl_days == 30 and s.max_send_rate == 14.0 and s.api_key_hashes == (HASH,)
    assert s.messages_table == "sesame-dev-messages"


def test_the_secrets_document_overrides_the_env_vars() -> None:
    doc = {"unsubscribe_secrets": ["s1", "s2"], "pagination_secret": "p", "api_key_hashes": [HASH]}
    s = Settings.from_env({"SESAME_SECRETS_PARAMETER": "/sesame/dev/app-secrets"}, secrets_loader=lambda name: doc)
    assert s.unsubscribe_secrets == ("s1", "s2") and s.pagination_secret == "p" and s.api_key_hashes == (HASH,)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SESAME_EVENT_TTL_DAYS": "0"}, "SESAME_EVENT_TTL_DAYS: must be >= 1"),
        ({"SESAME_FORWARD_ATTEMPTS": "21"}, "SESAME_FORWARD_ATTEMPTS: must be <= 20"),
        ({"SESAME_MAX_SEND_RATE": "0"}, "SESAME_MAX_SEND_RATE: must be > 0"),
        ({"SESAME_DAILY_QUOTA_HEADROOM": "1"}, "SESAME_DAILY_QUOTA_HEADROOM: must be < 1"),
        ({"SESAME_GUARDRAIL_PAUSE_BOUNCE_RATE": "0"}, "SESAME_GUARDRAIL_PAUSE_BOUNCE_RATE: must be > 0"),
        ({"SNS_MAX_AGE_SECONDS": "-1"}, "SNS_MAX_AGE_SECONDS: must be >= 0"),
        ({"SESAME_SOFT_BOUNCE_LIMIT": "three"}, "SESAME_SOFT_BOUNCE_LIMIT must be an integer"),
        ({"SESAME_API_KEY_HASHES": "not-a-digest"}, "SESAME_API_KEY_HASHES: each API key hash must be a sha256"),
        ({"SESAME_CONFIGURATION_SETS": '{"marketing": 1}'}, "SESAME_CONFIGURATION_SETS must be a JSON object"),
    ],
)
def test_a_bad_value_raises_settings_error_naming_the_env_var(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_a_secrets_document_value_of_the_wrong_type_is_refused() -> None:
    doc = {"pagination_secret": 12345, "unsubscribe_secrets": ["ok", 7]}
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SESAME_SECRETS_PARAMETER": "/p"}, secrets_loader=lambda name: doc)
    assert "SESAME_PAGINATION_SECRET: must be a string" in str(raised.value)
    assert "SESAME_UNSUBSCRIBE_SECRETS: must be a list of strings" in str(raised.value)


def test_settings_are_frozen_and_refuse_unknown_fields() -> None:
    s = Settings(sns_allowed_topic_arns=["arn:a"], max_send_rate=5)  # type: ignore[arg-type]
    assert s.sns_allowed_topic_arns == ("arn:a",) and isinstance(s.max_send_rate, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.stage = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Settings(no_such_field="x")  # type: ignore[call-arg]
