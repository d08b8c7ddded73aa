"""Build the Lambda deployment package: vendor ``runtime/`` into the Chalice app, then ``chalice package``.

    python -m runtime.packaging --stage dev-local --out out      (what ``make package`` runs)

``runtime/`` (without ``runtime/local``, the local stack, and without caches) is copied to
``chalice_app/vendor/runtime``; Chalice puts ``vendor/`` at the root of the deployment zip, so ``import runtime``
works in Lambda. ``chalice package`` then writes ``deployment.zip`` and the SAM template into ``--out``; it needs
``AWS_DEFAULT_REGION`` (set to ``--region`` when missing) and resolves ``chalice_app/requirements.txt`` for the Lambda
platform (pip, so a package index or a warm pip cache must be reachable). Prints one JSON object with the zip path
and size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

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
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    return {
        "zip": str(zip_path),
        "bytes": zip_path.stat().st_size,
        "files": len(names),
        "runtime_files": sum(1 for n in names if n.startswith("runtime/")),
        "vendored": str(vendored),
        "stage": stage,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev-local", help="Chalice stage (default dev-local)")
    parser.add_argument("--out", default="out", help="output folder for deployment.zip and the SAM template")
    parser.add_argument("--region", default="us-east-1", help="AWS_DEFAULT_REGION when it is not set")
    args = parser.parse_args(argv)
    try:
        report = package(args.stage, Path(args.out), region=args.region)
    except PackagingError as exc:
        print(f"packaging failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
