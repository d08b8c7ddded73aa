"""A small deployment engine: what ``pulumi up`` / ``pulumi destroy`` do with the program, minus the CLI.

The project's entry (``__main__.py``) runs under Pulumi's own runtime with mocks whose ``new_resource`` is the
engine's step: it diffs the registration's inputs against the stack's state (a JSON file per stack in a
*backend* folder, as ``pulumi login file://...`` keeps it) and, through a provider, creates the resource, updates
it, replaces it (the old one deleted at the end of the run, as Pulumi's create-before-delete does) or does
nothing. Resources of the state that the program no longer registers are deleted in reverse creation order.
Protected resources (``protect``) are never deleted or replaced: the run fails before touching anything.
``StackReference`` outputs come from the other stack's state in the same backend, so a stack deployed from a
second working directory, or from CI, sees exactly what the first one left.

State is written after every step, so a failed run keeps what it created (and a re-run adopts it).
"""

from __future__ import annotations

import contextvars
import gc
import hashlib
import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, set_mocks
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import get_root_resource

from infra.mockrun import _SECRET_SIG as SECRET_SIG
from infra.mockrun import _SECRET_SIG_KEY as SECRET_SIG_KEY
from infra.mockrun import RecordingMonitor, registration_options

PROVIDER_TYPE = "pulumi:providers:aws"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


class EngineError(RuntimeError):
    """The run cannot proceed (a protected resource would be deleted, a provider call failed, ...)."""


class Provider(Protocol):
    """Creates, reads, updates and deletes resources of the types the program declares."""

    def create(self, token: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]: ...

    def read(self, token: str, import_id: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]: ...

    def update(
        self,
        token: str,
        name: str,
        resource_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
        outputs: dict[str, Any],
        region: str,
    ) -> tuple[str, dict[str, Any]] | None:
        """The updated (id, outputs), or None when the resource must be replaced (created anew, old deleted)."""
        ...

    def delete(
        self, token: str, resource_id: str, inputs: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> None: ...

    def caller_account(self) -> str: ...


#: sha256 -> path of every file archive the program declared (the provider uploads the bytes)
ARCHIVES: dict[str, Path] = {}


def plain(value: Any) -> Any:
    """Inputs as JSON data: secrets unwrapped, a file archive as the sha256 of its bytes (what the engine diffs:
    the same package built in another folder is the same archive), whole floats as ints."""
    if isinstance(value, pulumi.FileArchive):
        path = Path(value.path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ARCHIVES[digest] = path
        return {"archive-sha256": digest}
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG and "value" in value:
            return plain(value["value"])
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Entry:
    urn: str
    type: str
    name: str
    custom: bool
    id: str = ""
    region: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Step:
    action: str  # create, update, replace, delete, import, same
    type: str
    name: str
    seconds: float = 0.0


@dataclass
class RunReport:
    stack: str
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.action] = counts.get(step.action, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action != "same"]


class Backend:
    """Stack states as JSON files in one folder (a Pulumi file backend's role)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, stack: str) -> Path:
        return self.directory / f"{stack.rsplit('/', 1)[-1]}.json"

    def load(self, stack: str) -> dict[str, Any]:
        path = self._path(stack)
        if not path.exists():
            return {"resources": [], "outputs": {}}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def save(self, stack: str, state: dict[str, Any]) -> None:
        path = self._path(stack)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(state, sort_keys=True, default=str), encoding="utf-8")
        tmp.replace(path)


class EngineMocks(Mocks):
    """The engine's step for each registration (called by Pulumi's runtime, one registration at a time)."""

    def __init__(self, stack: str, backend: Backend, provider: Provider, report: RunReport) -> None:
        self.stack = stack
        self.backend = backend
        self.provider = provider
        self.report = report
        state = backend.load(stack)
        self.previous: dict[str, Entry] = {e["urn"]: Entry(**e) for e in state["resources"]}
        self.order: list[str] = [e["urn"] for e in state["resources"]]
        self.current: dict[str, Entry] = {}
        self.replaced: list[Entry] = []  # old resources of replacements, deleted at the end
        self.provider_regions: dict[str, str] = {}
        self.lock = threading.Lock()
        self.failure: BaseException | None = None

    # -- persistence --------------------------------------------------------------------------------------------

    def save(self, outputs: dict[str, Any] | None = None) -> None:
        entries = {**self.previous, **self.current}
        ordered = [u for u in self.order if u in entries]
        state = {"resources": [entries[u].to_json() for u in ordered]}
        state["outputs"] = outputs if outputs is not None else self.backend.load(self.stack).get("outputs", {})
        self.backend.save(self.stack, state)

    def _record(self, entry: Entry, action: str) -> None:
        self.current[entry.urn] = entry
        if entry.urn not in self.order:
            self.order.append(entry.urn)
        self.report.steps.append(Step(action, entry.type, entry.name))
        if action != "same":
            self.save()  # what was just created or changed is in the state, should the run fail later

    # -- the mocks ---------------------------------------------------------------------------------------------

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            account = self.provider.caller_account()
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:user/rehearsal", "id": account}, []
        return {}, []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self.lock:
            if self.failure is not None:  # a step failed: the run stops, nothing more is created
                raise EngineError(f"{args.typ} {args.name}: not attempted, an earlier step failed")
            started = time.monotonic()
            try:
                return self._step(args)
            except BaseException as exc:
                self.failure = self.failure or exc
                raise
            finally:
                if self.report.steps:
                    self.report.steps[-1].seconds = round(time.monotonic() - started, 3)

    def _region(self, args: MockResourceArgs) -> str:
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        return self.provider_regions.get(provider_id, "us-east-1")

    def _step(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        options = registration_options()
        urn = options.urn or f"{args.typ}::{args.name}"
        token = args.typ
        raw = dict(args.inputs)
        inputs = json.loads(json.dumps(plain(raw), default=str))
        old = self.previous.get(urn)
        if not args.custom and token != STACK_REFERENCE:  # (a stack reference is read, and reads carry no flag)
            self._record(Entry(urn, token, args.name, False), "same" if old else "create")
            return None, {}
        if token == PROVIDER_TYPE:
            resource_id = f"{args.name}-provider"
            self.provider_regions[resource_id] = str(raw.get("region") or "us-east-1")
            same = old is not None and old.inputs == inputs
            self._record(Entry(urn, token, args.name, True, resource_id, "", inputs), "same" if same else "create")
            return resource_id, raw
        if token == STACK_REFERENCE:
            name = str(raw.get("name") or args.name)
            outputs = self.backend.load(name).get("outputs") or {}
            if not outputs:
                raise EngineError(f"stack reference {name}: that stack has no outputs in the backend (deploy it first)")
            same = old is not None and old.inputs == inputs
            self._record(Entry(urn, token, args.name, True, name, "", inputs), "same" if same else "create")
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}

        region = self._region(args)
        if old is not None and old.inputs == inputs:
            entry = Entry(urn, token, args.name, True, old.id, region, inputs, old.outputs, options.protect)
            self._record(entry, "same")
            return old.id, {**raw, **old.outputs}
        if old is None:
            if options.import_id:
                resource_id, outputs = self.provider.read(token, options.import_id, inputs, region)
                action = "import"
            else:
                resource_id, outputs = self.provider.create(token, args.name, inputs, region)
                action = "create"
        else:
            updated = self.provider.update(token, args.name, old.id, old.inputs, inputs, old.outputs, region)
            if updated is None and (old.protect or options.protect):
                changed = sorted(k for k in set(old.inputs) | set(inputs) if old.inputs.get(k) != inputs.get(k))
                raise EngineError(f"{urn} is protected and a change of {changed} would replace it")
            if updated is None:
                resource_id, outputs = self.provider.create(token, args.name, inputs, region)
                self.replaced.append(old)
                action = "replace"
            else:
                resource_id, outputs = updated
                action = "update"
        entry = Entry(urn, token, args.name, True, resource_id, region, inputs, outputs, options.protect)
        self._record(entry, action)
        return resource_id, {**raw, **outputs}

    # -- after the program --------------------------------------------------------------------------------------

    def finish(self, outputs: dict[str, Any]) -> None:
        gone = [self.previous[u] for u in reversed(self.order) if u in self.previous and u not in self.current]
        protected = [e.urn for e in gone if e.protect]
        if protected:
            raise EngineError(f"the program no longer declares protected resources: {', '.join(protected)}")
        for entry in [*self.replaced, *gone]:
            self._delete(entry)
        for entry in gone:
            self.previous.pop(entry.urn, None)
        self.save(outputs)

    def _delete(self, entry: Entry) -> None:
        if entry.custom and entry.type not in (PROVIDER_TYPE, STACK_REFERENCE):
            self.provider.delete(entry.type, entry.id, entry.inputs, entry.outputs, entry.region)
        self.report.steps.append(Step("delete", entry.type, entry.name))


def _config_values(config: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in config.items():
        full = key if ":" in key else f"sesame:{key}"
        out[full] = value if isinstance(value, str) else json.dumps(value)
    return out


def up(
    project_dir: Path,
    stack: str,
    config: Mapping[str, Any],
    backend: Backend,
    provider: Provider,
    *,
    secret_keys: tuple[str, ...] = (),
    organization: str = "organization",
) -> RunReport:
    """``pulumi up --stack <stack>`` of the project in ``project_dir`` (its ``__main__.py``)."""
    report = RunReport(stack)
    mocks = EngineMocks(stack, backend, provider, report)
    values = _config_values(config)

    def run() -> None:
        set_all_config(values, [k for k in secret_keys if k in values])
        set_mocks(
            mocks,
            project="sesame",
            stack=stack,
            preview=False,
            organization=organization,
            monitor=RecordingMonitor(mocks),
        )
        exported: dict[str, Any] = {}

        def program() -> pulumi.Output[Any]:
            runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
            root = get_root_resource()
            outputs = dict(getattr(root, "outputs", {}) or {})
            return pulumi.Output.from_input(outputs).apply(exported.update)

        previous_cwd = Path.cwd()
        os.chdir(project_dir)  # the engine runs the program in the project folder
        sys.path.insert(0, str(project_dir))
        try:
            pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
        finally:
            os.chdir(previous_cwd)
            # a failed run leaves registrations' futures failed: collect them now (their "exception never
            # retrieved" finalizers would otherwise run at an arbitrary later point of the process)
            gc.collect()
        if mocks.failure is not None:
            raise mocks.failure
        report.outputs = json.loads(json.dumps(plain(exported), default=str))
        mocks.finish(report.outputs)

    contextvars.Context().run(run)
    return report


def destroy(stack: str, backend: Backend, provider: Provider) -> RunReport:
    """``pulumi destroy --stack <stack>``: every resource of the state, in reverse creation order."""
    report = RunReport(stack)
    state = backend.load(stack)
    entries = [Entry(**e) for e in state["resources"]]
    protected = [e.urn for e in entries if e.protect]
    if protected:
        raise EngineError(f"cannot destroy {stack}: protected resources {', '.join(protected)}")
    remaining = list(entries)
    for entry in reversed(entries):
        if entry.custom and entry.type not in (PROVIDER_TYPE, STACK_REFERENCE):
            provider.delete(entry.type, entry.id, entry.inputs, entry.outputs, entry.region)
        report.steps.append(Step("delete", entry.type, entry.name))
        remaining.remove(entry)
        backend.save(stack, {"resources": [e.to_json() for e in remaining], "outputs": state.get("outputs", {})})
    backend.save(stack, {"resources": [], "outputs": {}})
    return report
