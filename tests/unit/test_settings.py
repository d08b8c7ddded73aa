"""``Settings``: env vars and the SSM secrets document -> typed, bounded, frozen settings; a bad value raises
SettingsError naming the env var."""

from __future__ import annotations

import dataclasses
import threading

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


def test_a_secrets_document_value_of_the_wrong_type_is_refused_at_every_read_of_a_secret() -> None:
    doc = {"pagination_secret": 12345, "unsubscribe_secrets": ["ok", 7]}
    s = Settings.from_env({"SESAME_SECRETS_PARAMETER": "/p"}, secrets_loader=lambda name: doc)
    for _ in range(2):  # never half-applied, never remembered as read
        with pytest.raises(SettingsError) as raised:
            s.forward_secret  # noqa: B018 - the read is the test
        assert "SESAME_PAGINATION_SECRET: must be a string" in str(raised.value)
        assert "SESAME_UNSUBSCRIBE_SECRETS: must be a list of strings" in str(raised.value)
    assert s.stage == "dev-local"  # the fields the env sets stay readable


def test_the_secrets_document_is_read_on_the_first_read_of_a_secret_and_only_once() -> None:
    reads: list[str] = []

    def loader(name: str) -> dict[str, object]:
        reads.append(name)
        return {"forward_secret": "f", "api_key_hashes": [HASH], "redrive_secret": "r"}

    env = {"SESAME_SECRETS_PARAMETER": "/sesame/dev/app-secrets", "SESAME_PAGINATION_SECRET": "from-env"}
    s = Settings.from_env(env, secrets_loader=loader)
    assert s.stage == "dev-local" and s.event_ttl_days == 90 and s.region == "us-east-1"
    assert reads == []  # building the settings and reading the rest reads no secret
    assert s.forward_secret == "f"
    assert reads == ["/sesame/dev/app-secrets"]
    assert s.api_key_hashes == (HASH,) and s.redrive_secret == "r" and s.pagination_secret == "from-env"
    assert s == dataclasses.replace(s) and reads == ["/sesame/dev/app-secrets"]


@pytest.mark.parametrize(
    "secret",
    ["unsubscribe_secrets", "pagination_secret", "forward_secret", "redrive_secret", "api_key_hashes", "forward_url"],
)
def test_reading_any_secret_field_reads_the_document(secret: str) -> None:
    doc = {
        "unsubscribe_secrets": ["u"],
        "pagination_secret": "p",
        "forward_secret": "f",
        "redrive_secret": "r",
        "api_key_hashes": [HASH],
        "forward_url": "https://user:pw@hooks.example.com/x",
    }
    s = Settings.from_env({"SESAME_SECRETS_PARAMETER": "/p"}, secrets_loader=lambda name: doc)
    expected = tuple(doc[secret]) if isinstance(doc[secret], list) else doc[secret]
    assert getattr(s, secret) == expected


def test_a_failed_secrets_read_is_raised_by_the_read_of_a_secret_and_tried_again_by_the_next() -> None:
    answers: list[object] = [ConnectionError("SSM unreachable"), {"forward_secret": "f"}]

    def loader(name: str) -> dict[str, object]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    s = Settings.from_env({"SESAME_SECRETS_PARAMETER": "/p"}, secrets_loader=loader)
    with pytest.raises(ConnectionError):
        s.forward_secret  # noqa: B018
    assert s.forward_secret == "f" and answers == []


def test_threads_reading_secrets_at_once_read_the_document_once() -> None:
    reads: list[str] = []
    gate = threading.Event()

    def loader(name: str) -> dict[str, object]:
        reads.append(name)
        gate.wait(5)
        return {"forward_secret": "f"}

    s = Settings.from_env({"SESAME_SECRETS_PARAMETER": "/p"}, secrets_loader=loader)
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(s.forward_secret)) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert seen == ["f"] * 4 and reads == ["/p"]


def test_settings_are_frozen_and_refuse_unknown_fields() -> None:
    s = Settings(sns_allowed_topic_arns=["arn:a"], max_send_rate=5)  # type: ignore[arg-type]
    assert s.sns_allowed_topic_arns == ("arn:a",) and isinstance(s.max_send_rate, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.stage = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Settings(no_such_field="x")  # type: ignore[call-arg]
