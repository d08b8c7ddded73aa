"""``python -m infra.chalice_stage``: the Chalice stage written from a stack's outputs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import chalice_stage
from tests.support.infra_stacks import ROOT, SECOND_STACK, run_example


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    """What `pulumi stack output --json` prints for prod-eu-west-1 (secrets shown as "[secret]")."""
    out = dict(run_example(SECOND_STACK).outputs)
    return json.loads(json.dumps(out))


def _existing_config(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "version": "2.0",
                "app_name": "sesame",
                "environment_variables": {"SESAME_LOG_LEVEL": "INFO"},
                "stages": {
                    "dev-local": {"api_gateway_stage": "api", "environment_variables": {"SESAME_STAGE": "dev-local"}},
                    "prod-eu-west-1": {
                        "api_gateway_stage": "v1",
                        "environment_variables": {
                            "SESAME_CORS_ORIGINS": "https://app.example.com",
                            "SESAME_STAGE": "old",
                        },
                        "lambda_functions": {
                            "api_handler": {"lambda_timeout": 30},
                            "sender": {"reserved_concurrency": 5},
                        },
                    },
                },
            }
        )
    )


def test_writes_the_stage_from_outputs_on_stdin(
    tmp_path: Path, outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / ".chalice" / "config.json"
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(outputs)))
    assert chalice_stage.main(["--config", str(config)]) == 0
    stage = json.loads(config.read_text())["stages"]["prod-eu-west-1"]
    assert stage["manage_iam_role"] is False
    assert stage["iam_role_arn"] == outputs["iamRoleArn"]
    assert stage["api_gateway_stage"] == "api"
    assert stage["environment_variables"] == outputs["environmentVariables"]
    assert stage["lambda_functions"]["sender"] == {"lambda_timeout": 60, "lambda_memory_size": 512}
    assert stage["lambda_functions"]["engagement_events"]["lambda_timeout"] == 120


def test_merges_into_an_existing_config_keeping_other_stages_and_settings(
    tmp_path: Path, outputs: dict[str, Any]
) -> None:
    config = tmp_path / "config.json"
    _existing_config(config)
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 0
    data = json.loads(config.read_text())
    assert data["environment_variables"] == {"SESAME_LOG_LEVEL": "INFO"}
    assert data["stages"]["dev-local"] == {
        "api_gateway_stage": "api",
        "environment_variables": {"SESAME_STAGE": "dev-local"},
    }
    stage = data["stages"]["prod-eu-west-1"]
    assert stage["api_gateway_stage"] == "v1"
    assert stage["environment_variables"]["SESAME_STAGE"] == "prod-eu-west-1"  # outputs win
    assert stage["environment_variables"]["SESAME_CORS_ORIGINS"] == "https://app.example.com"  # kept
    assert stage["lambda_functions"]["api_handler"] == {"lambda_timeout": 30}
    assert stage["lambda_functions"]["sender"] == {
        "reserved_concurrency": 5,
        "lambda_timeout": 60,
        "lambda_memory_size": 512,
    }


def test_stage_values_the_outputs_no_longer_carry_are_kept_and_named(
    tmp_path: Path, outputs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    _existing_config(config)  # the stage has SESAME_CORS_ORIGINS, which the outputs do not set
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "kept from the existing stage, not in the stack outputs: SESAME_CORS_ORIGINS;" in err
    assert "stages.prod-eu-west-1.environment_variables" in err
    assert chalice_stage.main(["--outputs", str(source), "--config", str(tmp_path / "fresh.json")]) == 0
    assert "kept from the existing stage" not in capsys.readouterr().err


def test_stage_written_twice_is_unchanged(tmp_path: Path, outputs: dict[str, Any]) -> None:
    config = tmp_path / "config.json"
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    chalice_stage.main(["--outputs", str(source), "--config", str(config)])
    first = config.read_text()
    chalice_stage.main(["--outputs", str(source), "--config", str(config)])
    assert config.read_text() == first


def test_stage_name_can_be_overridden_and_dry_run_writes_nothing(
    tmp_path: Path, outputs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    assert (
        chalice_stage.main(["--outputs", str(source), "--config", str(config), "--stage", "canary", "--dry-run"]) == 0
    )
    assert not config.exists()
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["stages"]) == {"canary"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o.pop("iamRoleArn"), "iamRoleArn: Field required"),
        (lambda o: o.update(iamRoleArn="not-an-arn"), "iamRoleArn: String should match pattern"),
        (
            lambda o: o["environmentVariables"].update(SESAME_FORWARD_SECRET="[secret]"),
            "SESAME_FORWARD_SECRET is a secret",
        ),
        (lambda o: o["lambdaFunctions"]["sender"].update(lambda_timeout=0), "lambdaFunctions.sender.lambda_timeout"),
        (
            lambda o: o["environmentVariables"].update(SESAME_FORWARD_URL="https://u:pw@hooks.example.net/x"),
            "SESAME_FORWARD_URL carries credentials",
        ),
    ],
)
def test_unusable_outputs_fail_with_a_message_and_leave_the_config_alone(
    tmp_path: Path,
    outputs: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    mutate: Any,
    message: str,
) -> None:
    broken = json.loads(json.dumps(outputs))
    mutate(broken)
    config = tmp_path / "config.json"
    _existing_config(config)
    before = config.read_text()
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(broken))
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 2
    assert message in capsys.readouterr().err
    assert config.read_text() == before


def test_non_json_input_and_config_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "outputs.json"
    source.write_text("Current stack outputs (3):")
    assert chalice_stage.main(["--outputs", str(source), "--config", str(tmp_path / "c.json")]) == 2
    assert "stack outputs are not JSON" in capsys.readouterr().err
    source.write_text("[]")
    assert chalice_stage.main(["--outputs", str(source)]) == 2
    assert "must be a JSON object" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ([], "config.json must be a JSON object"),
        ({"stages": {"prod-eu-west-1": "v1"}}, "stage 'prod-eu-west-1' must be an object"),
        ({"stages": {"prod-eu-west-1": {"environment_variables": ["A=b"]}}}, "environment_variables must be"),
        ({"stages": {"prod-eu-west-1": {"lambda_functions": {"sender": 30}}}}, "lambda_functions.sender must be"),
    ],
)
def test_malformed_chalice_config_is_reported_not_a_traceback(
    tmp_path: Path, outputs: dict[str, Any], capsys: pytest.CaptureFixture[str], existing: Any, message: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(existing))
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 2
    assert message in capsys.readouterr().err
    assert json.loads(config.read_text()) == existing


def test_module_runs_as_a_command_with_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.chalice_stage", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "pulumi stack output --json" in result.stdout
    assert "--config" in result.stdout and "--stage" in result.stdout


def _deployed(config: Path, stage: str, url: str) -> None:
    record = config.parent / "deployed" / f"{stage}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps(
            {
                "schema_version": "2.0",
                "resources": [
                    {"name": "api_handler", "resource_type": "lambda_function"},
                    {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123", "rest_api_url": url},
                ],
            }
        )
    )


def test_unsubscribe_base_url_comes_from_the_deployed_api(
    tmp_path: Path, outputs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / ".chalice" / "config.json"
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs))
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 0
    assert (
        "SESAME_UNSUBSCRIBE_BASE_URL"
        not in json.loads(config.read_text())["stages"]["prod-eu-west-1"]["environment_variables"]
    )
    assert "no List-Unsubscribe headers" in capsys.readouterr().err
    _deployed(config, "prod-eu-west-1", "https://abc123.execute-api.eu-west-1.amazonaws.com/api/")
    assert chalice_stage.main(["--outputs", str(source), "--config", str(config)]) == 0
    env = json.loads(config.read_text())["stages"]["prod-eu-west-1"]["environment_variables"]
    assert env["SESAME_UNSUBSCRIBE_BASE_URL"] == "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
    assert "no List-Unsubscribe headers" not in capsys.readouterr().err


def test_configured_unsubscribe_base_url_wins_over_the_api_url(tmp_path: Path, outputs: dict[str, Any]) -> None:
    configured = json.loads(json.dumps(outputs))
    configured["environmentVariables"]["SESAME_UNSUBSCRIBE_BASE_URL"] = "https://mail.example.com"
    config = tmp_path / "config.json"
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(configured))
    args = [
        "--outputs",
        str(source),
        "--config",
        str(config),
        "--api-url",
        "https://abc.execute-api.eu-west-1.amazonaws.com/api",
    ]
    assert chalice_stage.main(args) == 0
    env = json.loads(config.read_text())["stages"]["prod-eu-west-1"]["environment_variables"]
    assert env["SESAME_UNSUBSCRIBE_BASE_URL"] == "https://mail.example.com"
    assert chalice_stage.main([*args[:-1], "http://insecure"]) == 2
