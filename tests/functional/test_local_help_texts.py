"""The product surface: every ``sesame`` help text speaks to a user of the repository (no references to the
project's internal design notes) and names the environment variables its options default to."""

from __future__ import annotations

import argparse
import re

import pytest

from runtime import cli

COMMANDS = [
    [],
    ["api-key"],
    ["campaign"],
    ["campaign", "submit"],
    ["campaign", "list"],
    ["campaign", "describe"],
    ["campaign", "redate"],
    ["campaign", "delete"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "redrive"],
    ["simulate"],
    ["send"],
    ["message"],
    ["stats"],
]


def _help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv) or "sesame")
def test_help_text_has_no_reference_to_internal_design_notes(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    text = _help(capsys, argv)
    assert not re.search(r"\bseed \d{3}\b|\bseed's\b", text), text


@pytest.mark.parametrize("action", ["submit", "list", "describe", "redate", "delete"])
def test_campaign_help_names_the_env_vars_the_api_options_default_to(
    capsys: pytest.CaptureFixture[str], action: str
) -> None:
    text = _help(capsys, ["campaign", action])
    assert "$SESAME_API_URL" in text and "$SESAME_API_KEY" in text


def _parsers(parser: argparse.ArgumentParser, path: str = "sesame") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_every_option_of_every_sesame_command_says_what_it_does() -> None:
    undocumented = [
        f"{path} {action.option_strings[-1]}"
        for path, parser in _parsers(cli.build_parser())
        for action in parser._actions
        if action.option_strings and action.help is None
    ]
    assert undocumented == []


@pytest.mark.parametrize("value", ["5", "-0.1", "often"])
def test_simulate_refuses_a_rate_that_is_not_a_probability(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["simulate", "--open-rate", value])
    assert exit_info.value.code == 2
    assert "--open-rate" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "expected"), [("seed-cert", "download timeout"), ("local-signer", "SNS_CERT_DIR")])
def test_sns_operator_tools_explain_their_arguments(
    capsys: pytest.CaptureFixture[str], command: str, expected: str
) -> None:
    from runtime.sns.__main__ import main as sns_main

    with pytest.raises(SystemExit):
        sns_main([command, "--help"])
    assert expected in " ".join(capsys.readouterr().out.split())
