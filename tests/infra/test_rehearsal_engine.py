"""The rehearsal's deployment engine (``infra/rehearsal/engine.py``) behaves as ``pulumi up``/``destroy`` do:
nothing changes when nothing changed, an input change updates, a forced replacement creates before it deletes,
resources the program drops are deleted, protected resources are never deleted. A small program and a provider
that records its calls stand in for the project and moto (``make rehearse`` runs both for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.rehearsal.engine import Backend, EngineError, destroy, up

PROGRAM = """
import pulumi
import pulumi_aws as aws

cfg = pulumi.Config("t")
provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
queue = aws.sqs.Queue(
    "work",
    name=cfg.require("queue"),
    visibility_timeout_seconds=int(cfg.get("visibility") or 30),
    opts=pulumi.ResourceOptions(provider=provider),
)
if cfg.get_bool("secret"):
    aws.ssm.Parameter(
        "secret",
        name="/t/secret",
        type="SecureString",
        value=queue.url,
        opts=pulumi.ResourceOptions(provider=provider, protect=cfg.get_bool("protect") or False),
    )
pulumi.export("url", queue.url)
"""


class RecordingProvider:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def caller_account(self) -> str:
        return "123456789012"

    def create(self, token: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.calls.append(("create", inputs.get("name", name)))
        physical = inputs.get("name", name)
        return f"id-{physical}", {"url": f"https://sqs.{region}/{physical}", "arn": f"arn:{region}:{physical}"}

    def read(self, token: str, import_id: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.calls.append(("read", import_id))
        return import_id, {}

    def update(self, token, name, resource_id, old, new, outputs, region):  # type: ignore[no-untyped-def]
        if old.get("name") != new.get("name"):
            return None  # a new name is a new queue
        self.calls.append(("update", resource_id))
        return resource_id, outputs

    def delete(
        self, token: str, resource_id: str, inputs: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> None:
        self.calls.append(("delete", resource_id))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "__main__.py").write_text(PROGRAM)
    return tmp_path


def _up(project: Path, backend: Backend, provider: RecordingProvider, **config: str):  # type: ignore[no-untyped-def]
    values = {"t:queue": "jobs", **{f"t:{k}": v for k, v in config.items()}}
    return up(project, "dev-eu-west-1", values, backend, provider)


def test_a_second_run_of_the_same_program_makes_no_call(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    first = _up(project, backend, provider)
    assert provider.calls == [("create", "jobs")]
    assert first.outputs == {"url": "https://sqs.eu-west-1/jobs"}
    provider.calls.clear()
    second = _up(project, backend, provider)
    assert provider.calls == []
    assert second.changes == [] and second.outputs == first.outputs


def test_a_second_working_directory_sees_the_same_state(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    _up(project, backend, provider)
    elsewhere = tmp_path / "clone"
    elsewhere.mkdir()
    (elsewhere / "__main__.py").write_text(PROGRAM)
    provider.calls.clear()
    assert _up(elsewhere, backend, provider).changes == []
    assert provider.calls == []


def test_an_input_change_updates_in_place(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    _up(project, backend, provider)
    provider.calls.clear()
    report = _up(project, backend, provider, visibility="60")
    assert provider.calls == [("update", "id-jobs")]
    assert [s.action for s in report.changes] == ["update"]


def test_a_replacement_is_created_before_the_old_resource_is_deleted(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    _up(project, backend, provider)
    provider.calls.clear()
    report = _up(project, backend, provider, queue="jobs-v2")
    assert provider.calls == [("create", "jobs-v2"), ("delete", "id-jobs")]
    assert report.outputs == {"url": "https://sqs.eu-west-1/jobs-v2"}


def test_what_the_program_no_longer_declares_is_deleted(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    _up(project, backend, provider, secret="true")
    provider.calls.clear()
    _up(project, backend, provider)
    assert provider.calls == [("delete", "id-/t/secret")]


def test_protected_resources_are_never_deleted(project: Path, tmp_path: Path) -> None:
    backend, provider = Backend(tmp_path / "state"), RecordingProvider()
    _up(project, backend, provider, secret="true", protect="true")
    provider.calls.clear()
    with pytest.raises(EngineError, match="protected"):
        _up(project, backend, provider)
    with pytest.raises(EngineError, match="protected"):
        destroy("dev-eu-west-1", backend, provider)
    assert [c for c in provider.calls if c[0] == "delete"] == []
    # unprotecting is an update of the state; then the stack can go, newest first
    _up(project, backend, provider, secret="true", protect="false")
    report = destroy("dev-eu-west-1", backend, provider)
    assert [c for c in provider.calls if c[0] == "delete"] == [("delete", "id-/t/secret"), ("delete", "id-jobs")]
    assert backend.load("dev-eu-west-1")["resources"] == []
    assert len(report.steps) >= 2


def test_a_failed_run_keeps_what_it_created(project: Path, tmp_path: Path) -> None:
    backend = Backend(tmp_path / "state")

    class FailsOnTheParameter(RecordingProvider):
        def create(self, token: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
            if token.startswith("aws:ssm"):
                raise RuntimeError("throttled")
            return super().create(token, name, inputs, region)

    with pytest.raises(RuntimeError):
        _up(project, backend, FailsOnTheParameter(), secret="true")
    provider = RecordingProvider()
    _up(project, backend, provider, secret="true")
    assert provider.calls == [("create", "/t/secret")]  # the queue from the failed run is adopted, not recreated
