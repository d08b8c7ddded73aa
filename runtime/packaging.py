"""Build the Lambda deployment package: vendor ``runtime/`` into the Chalice app, then ``chalice package``.

    python -m runtime.packaging            (what ``make package`` runs; ``pulumi up`` runs the same when needed)

The package is the same for every stage (the stack sets each function's environment), so one build serves every
stack: ``ensure_package`` keeps ``out/lambda/deployment.zip`` with ``out/lambda/package.json`` recording the hash of
the sources it was built from, and rebuilds only when they changed. Chalice writes the zip with fixed timestamps in
a fixed order, so the same sources give the same bytes on every machine (a deploy from CI or a second clone
changes no function).

``runtime/`` (without ``runtime/local``, the local stack, and without caches) is copied to
``chalice_app/vendor/runtime``; Chalice puts ``vendor/`` at the root of the deployment zip, so ``import runtime``
works in Lambda. ``chalice package`` then writes ``deployment.zip`` and the SAM template into ``--out``; it needs
``AWS_DEFAULT_REGION`` (set to ``--region`` when missing) and resolves ``chalice_app/requirements.txt`` for the Lambda
platform (pip, so a package index or a warm pip cache must be reachable). Prints one JSON object with the zip path
and size.

Bytecode ships in the zip (``add_bytecode``): every ``.py`` in it gets its ``__pycache__/*.cpython-3XX.pyc``,
compiled as unchecked-hash pycs. Lambda's file system is read-only, so without them every cold start compiles the
app's and the dependencies' source again (and cannot cache the result); an unchecked-hash pyc is loaded without a
stat of its source, which is safe because nothing in an unpacked deployment package ever changes. The pycs are for
the interpreter that builds the package (Chalice picks the Lambda runtime from that same Python version).

botocore ships in the package (``chalice_app/requirements.txt``), and ``trim_botocore_data`` cuts its data to the
services the functions create clients for (``LAMBDA_SERVICES``): see ``docs/events.md`` "Packaging".
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = ("local", "__pycache__")


class PackagingError(RuntimeError):
    """``chalice package`` failed or produced no deployment zip."""


def vendor_runtime(root: Path = ROOT, target: Path | None = None) -> Path:
    """Copy ``runtime/`` into ``chalice_app/vendor/runtime`` (or ``target``), replacing an older copy. The copy is
    built beside the target and swapped in by renames, so a concurrent packaging never sees a half-written tree."""
    source = root / "runtime"
    target = target or root / "chalice_app" / "vendor" / "runtime"
    target.parent.mkdir(parents=True, exist_ok=True)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
        if Path(directory).resolve() == source.resolve():
            skipped |= {n for n in names if n in EXCLUDED}
        return skipped

    fresh = target.with_name(f".{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    shutil.copytree(source, fresh, ignore=ignore)
    old = fresh.with_name(fresh.name + "-old")
    with contextlib.suppress(FileNotFoundError):
        target.rename(old)
    try:
        fresh.rename(target)
    except OSError:  # another packaging put a fresh copy in place meanwhile: use that one
        shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return target


def _chalice_command() -> list[str]:
    script = Path(sys.executable).with_name("chalice")
    if script.exists():
        return [str(script)]
    found = shutil.which("chalice")
    if found is None:
        raise PackagingError("the chalice CLI is not installed (pip install -e '.[dev]')")
    return [found]


def package(stage: str, out: Path, *, region: str = "us-east-1", root: Path = ROOT) -> dict[str, object]:
    """Vendor the runtime and run ``chalice package``; returns ``{"zip": path, "bytes": size, ...}``."""
    vendored = vendor_runtime(root)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", region)
    command = [*_chalice_command(), "package", "--stage", stage, str(out)]
    completed = subprocess.run(  # noqa: S603 - fixed command, no shell
        command, cwd=root / "chalice_app", env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise PackagingError(f"chalice package failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    zip_path = out / "deployment.zip"
    if not zip_path.exists():
        raise PackagingError(f"chalice package wrote no {zip_path}")
    botocore_data = trim_botocore_data(zip_path)
    compiled = add_bytecode(zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    return {
        "zip": str(zip_path),
        "bytes": zip_path.stat().st_size,
        "files": len(names),
        "runtime_files": sum(1 for n in names if n.startswith("runtime/")),
        "pyc_files": compiled,
        "botocore_data_bytes": botocore_data["after"],
        "vendored": str(vendored),
        "stage": stage,
    }


#: Where Lambda unpacks the deployment package: the path the pycs name as their source (tracebacks point there).
TASK_ROOT = "/var/task"
#: Our own code: a module of it that does not compile fails the build (a dependency's is left to compile at import).
OWN_CODE = ("app.py", "chalicelib/", "runtime/")
#: Modules no Lambda handler imports get no pyc (the zip stays smaller): cffi's and pycparser's Python code (the
#: cryptography wheel loads only the compiled ``_cffi_backend``), pydantic's legacy v1 API and its mypy plugin.
NO_BYTECODE = ("cffi/", "pycparser/", "pydantic/v1/", "pydantic/mypy.py")
#: What Chalice's zip entries carry (it writes every entry with this fixed time, so the zip is reproducible).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def add_bytecode(zip_path: Path) -> int:
    """Rewrite the zip with an unchecked-hash ``__pycache__`` pyc beside every ``.py`` module (after the other
    entries, sorted, with fixed timestamps), dropping any pyc it held (a developer's timestamp-checked cache from the
    working tree, which Lambda would find stale and recompile); returns how many pycs. Raises PackagingError when a
    module of our own code does not compile."""
    with tempfile.TemporaryDirectory(prefix="sesame-pyc-") as tmp:
        rewritten = Path(tmp) / "deployment.zip"
        with zipfile.ZipFile(zip_path) as archive, zipfile.ZipFile(rewritten, "w") as out:
            kept = [
                i for i in archive.infolist() if "__pycache__/" not in i.filename and not i.filename.endswith(".pyc")
            ]
            contents = {info.filename: archive.read(info) for info in kept}
            for info in kept:
                entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
                out.writestr(entry, contents[info.filename])
            pycs: list[tuple[str, bytes]] = []
            for name in contents:
                if not name.endswith(".py") or name.startswith(NO_BYTECODE):
                    continue
                folder, _, filename = name.rpartition("/")
                prefix = f"{folder}/" if folder else ""
                pyc_name = f"{prefix}__pycache__/{filename[:-3]}.{sys.implementation.cache_tag}.pyc"
                source = Path(tmp) / "src" / name
                source.parent.mkdir(parents=True, exist_ok=True)
                source.write_bytes(contents[name])
                target = Path(tmp) / "pyc" / pyc_name
                try:
                    py_compile.compile(
                        str(source),
                        cfile=str(target),
                        dfile=f"{TASK_ROOT}/{name}",
                        doraise=True,
                        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                    )
                except py_compile.PyCompileError as exc:
                    if name.startswith(OWN_CODE):
                        raise PackagingError(f"{name} does not compile: {exc.msg}") from exc
                    continue  # e.g. a dependency's module for another Python version: compiled at import if used
                pycs.append((pyc_name, target.read_bytes()))
            for pyc_name, data in sorted(pycs):
                entry = zipfile.ZipInfo(pyc_name, date_time=ZIP_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                out.writestr(entry, data)
        shutil.move(str(rewritten), zip_path)
    return len(pycs)


#: The AWS services the Lambda functions create botocore clients for (``chalicelib.wiring.client``; a test checks the
#: code names no other). ``sts``: botocore's own credential providers (assume-role / web identity), should a stage
#: ever configure one.
LAMBDA_SERVICES = ("cloudwatch", "dynamodb", "s3", "sesv2", "sns", "sqs", "ssm", "sts")
#: The operations the Lambda functions call, per service: ``trim_botocore_data`` keeps only these in the service's
#: model (with every shape they reach, every error shape and the endpoint-discovery operation), so a client does not
#: parse, and build a method for, the hundreds of operations nothing calls (the SSM model alone has ~150 for one
#: ``GetParameter``): ~10-40 ms less CPU per cold start (``bench/bench_coldstart.py``). A test reads the Lambda code
#: and fails when it names an operation of these services that is not listed. A service not listed here (``sts``:
#: botocore's own credential providers call it) keeps all its operations. Operations botocore itself calls on a
#: client are kept too: ``HeadBucket`` (the S3 region redirector, when S3 answers with a redirect that does not name
#: the bucket's region) and ``CreateSession`` (S3 Express One Zone directory buckets' session credentials).
LAMBDA_OPERATIONS: dict[str, tuple[str, ...]] = {
    "cloudwatch": ("GetMetricData",),
    "dynamodb": (
        "BatchGetItem",
        "BatchWriteItem",
        "CreateTable",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "TransactWriteItems",
        "UpdateItem",
        "UpdateTimeToLive",
    ),
    "s3": ("CreateSession", "DeleteObject", "GetObject", "HeadBucket", "HeadObject", "PutObject"),
    "sesv2": (
        "CreateEmailTemplate",
        "GetAccount",
        "GetEmailTemplate",
        "PutConfigurationSetSendingOptions",
        "SendBulkEmail",
        "SendEmail",
    ),
    "sns": ("ConfirmSubscription", "Publish", "Unsubscribe"),
    "sqs": (
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "DeleteMessageBatch",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ReceiveMessage",
        "SendMessage",
        "SendMessageBatch",
    ),
    "ssm": ("GetParameter",),
}
BOTOCORE_DATA = "botocore/data/"


def _strip_documentation(model: dict[str, Any]) -> dict[str, Any]:
    """A service model without its documentation strings: the service's, each operation's, each shape's and each
    structure member's (botocore reads them only to write docstrings, with ``.get(..., '')``). Everything else —
    including ``clientContextParams``, whose ``documentation`` botocore requires — is kept as it is."""
    stripped = {k: v for k, v in model.items() if k != "documentation"}
    stripped["operations"] = {
        name: {k: v for k, v in op.items() if k != "documentation"} for name, op in model.get("operations", {}).items()
    }
    shapes: dict[str, Any] = {}
    for name, shape in model.get("shapes", {}).items():
        shape = {k: v for k, v in shape.items() if k != "documentation"}
        if isinstance(shape.get("members"), dict):
            shape["members"] = {
                member: {k: v for k, v in ref.items() if k != "documentation"}
                for member, ref in shape["members"].items()
            }
        shapes[name] = shape
    stripped["shapes"] = shapes
    return stripped


def _shape_names(shape: dict[str, Any]) -> list[str]:
    """The shapes a shape refers to (list member, map key and value, structure members)."""
    names = [shape[key]["shape"] for key in ("member", "key", "value") if key in shape]
    names += [ref["shape"] for ref in (shape.get("members") or {}).values()]
    return names


def keep_operations(model: dict[str, Any], operations: Sequence[str]) -> dict[str, Any]:
    """A service model with only ``operations`` (and the endpoint-discovery operation, if the service has one) and
    the shapes they reach: their input, output and errors, and every error shape of the service (so
    ``client.exceptions`` and the modelled parsing of any error code AWS may answer stay botocore's own). Each kept
    operation and shape is the model's own, unchanged. Raises KeyError for an operation the model does not have."""
    wanted = set(operations)
    missing = wanted - set(model["operations"])
    if missing:
        raise KeyError(f"{model.get('metadata', {}).get('serviceId')} has no operation {sorted(missing)}")
    kept = {name: op for name, op in model["operations"].items() if name in wanted or op.get("endpointoperation")}
    shapes = model["shapes"]
    todo = [name for name, shape in shapes.items() if shape.get("exception")]
    for op in kept.values():
        todo += [op[key]["shape"] for key in ("input", "output") if key in op]
        todo += [error["shape"] for error in op.get("errors", [])]
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += _shape_names(shapes[name])
    return {**model, "operations": kept, "shapes": {name: s for name, s in shapes.items() if name in reached}}


def _json_bytes(data: Any, *, gz: bool) -> bytes:
    text = json.dumps(data, separators=(",", ":"), sort_keys=False).encode("utf-8")
    return gzip.compress(text, compresslevel=9, mtime=0) if gz else text


def trim_botocore_data(
    zip_path: Path,
    services: Sequence[str] = LAMBDA_SERVICES,
    operations: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, int]:
    """Rewrite the zip with botocore's data trimmed to what the Lambda functions load: the model folders of
    ``services`` only (without ``examples-1.json``, documentation only), their ``service-2`` models without
    documentation strings (``_strip_documentation``) and, for a service in ``operations`` (default
    ``LAMBDA_OPERATIONS``), with only those operations (``keep_operations``), and ``endpoints.json`` holding, in
    every partition, only those services' endpoint entries; the other top-level files as they are. Every file comes
    from the botocore the package ships, so code and data are one version. Returns {"before": bytes, "after": bytes}
    of the data.

    On a cold start botocore lists every service folder of its data path, parses the 1.2 MB ``endpoints.json`` and
    each client's full service model: ~30-40 ms of CPU for a function's first client on the development machine."""
    operations = LAMBDA_OPERATIONS if operations is None else operations
    wanted = set(services)
    with tempfile.TemporaryDirectory(prefix="sesame-botodata-") as tmp:
        rewritten = Path(tmp) / "deployment.zip"
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            data = {i.filename: i for i in infos if i.filename.startswith(BOTOCORE_DATA) and not i.is_dir()}
            if not data:
                return {"before": 0, "after": 0}
            prefixes: set[str] = set()
            replaced: dict[str, bytes] = {}
            dropped: set[str] = set()
            for name in data:
                parts = name[len(BOTOCORE_DATA) :].split("/")
                if len(parts) == 1:
                    continue
                if parts[0] not in wanted or parts[-1].startswith("examples-1."):
                    dropped.add(name)
                elif parts[-1] in ("service-2.json", "service-2.json.gz"):
                    raw = archive.read(name)
                    gz = name.endswith(".gz")
                    model = json.loads(gzip.decompress(raw) if gz else raw)
                    prefixes.add(model.get("metadata", {}).get("endpointPrefix") or parts[0])
                    model = _strip_documentation(model)
                    if parts[0] in operations:
                        model = keep_operations(model, operations[parts[0]])
                    replaced[name] = _json_bytes(model, gz=gz)
            endpoints_name = f"{BOTOCORE_DATA}endpoints.json"
            if endpoints_name in data:
                endpoints = json.loads(archive.read(endpoints_name))
                for partition in endpoints.get("partitions", []):
                    partition["services"] = {k: v for k, v in partition.get("services", {}).items() if k in prefixes}
                replaced[endpoints_name] = _json_bytes(endpoints, gz=False)
            before = sum(data[n].file_size for n in data)
            after = 0
            with zipfile.ZipFile(rewritten, "w") as out:
                for info in infos:
                    if info.filename in dropped:
                        continue
                    content = replaced.get(info.filename)
                    if content is None:
                        content = archive.read(info)
                    entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
                    out.writestr(entry, content)
                    if info.filename in data:
                        after += len(content)
        shutil.move(str(rewritten), zip_path)
    return {"before": before, "after": after}


PACKAGE_DIR = Path("out") / "lambda"
PACKAGE_RECORD = "package.json"
#: What the deployment zip is built from (besides the dependency versions pip resolves for requirements.txt).
SOURCE_DIRS = ("chalice_app/chalicelib", "runtime")
SOURCE_FILES = ("chalice_app/app.py", "chalice_app/requirements.txt")


def _source_files(root: Path) -> list[Path]:
    files = [root / name for name in SOURCE_FILES]
    for directory in SOURCE_DIRS:
        for path in sorted((root / directory).rglob("*")):
            relative = path.relative_to(root / directory).parts
            if not path.is_file() or "__pycache__" in relative or path.suffix in (".pyc", ".pyo"):
                continue
            if directory == "runtime" and relative[0] in EXCLUDED:
                continue
            files.append(path)
    return files


def source_hash(root: Path = ROOT) -> str:
    """sha256 over the relative path and content of every file the package is built from."""
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_sha256(zip_path: Path) -> str:
    """The zip's sha256 in base64: Lambda's ``CodeSha256`` (and pulumi-aws's ``source_code_hash``)."""
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode("ascii")


def read_record(out: Path) -> dict[str, Any] | None:
    """The package record of ``out`` when the zip it names is there unchanged, else None."""
    try:
        record = json.loads((out / PACKAGE_RECORD).read_text(encoding="utf-8"))
        zip_path = out / str(record["zip"])
        if not isinstance(record, dict) or code_sha256(zip_path) != record["code_sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**record, "path": str(zip_path.resolve())}


def ensure_package(root: Path = ROOT, out: Path | None = None, *, force: bool = False) -> dict[str, Any]:
    """The package for the current sources: the recorded one when its source hash matches, else a fresh build.

    The build goes to a temporary folder beside ``out`` and is swapped in by renames, so a concurrent run never
    sees half a package. Returns the record (``path``, ``code_sha256``, ``source_hash``, ``bytes``, ``built``)."""
    out = (out or root / PACKAGE_DIR).resolve()
    wanted = source_hash(root)
    current = read_record(out)
    if current is not None and current.get("source_hash") == wanted and not force:
        return {**current, "built": False}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        report = package("dev-local", staging, root=root)
        record = {
            "zip": "deployment.zip",
            "code_sha256": code_sha256(Path(str(report["zip"]))),
            "source_hash": wanted,
            "bytes": report["bytes"],
            "files": report["files"],
        }
        (staging / PACKAGE_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        old = out.with_name(out.name + f".old-{uuid.uuid4().hex[:8]}")
        with contextlib.suppress(FileNotFoundError):
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    built = read_record(out)
    if built is None:
        raise PackagingError(f"the package in {out} could not be read back")
    return {**built, "built": True}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.packaging", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help=f"package folder (default {PACKAGE_DIR} in the repository)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the sources did not change")
    args = parser.parse_args(argv)
    try:
        report = ensure_package(ROOT, args.out, force=args.force)
    except PackagingError as exc:
        print(f"packaging failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
