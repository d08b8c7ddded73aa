"""Local-stack figures: the demo's wall time, the Chalice app's cold import cost, the Lambda package size.

* ``local_demo_seconds``: wall time of ``python -m runtime.local --once`` with 1,000 recipients (what
  ``make local ARGS=--once`` runs). Target <= 60.
* ``app_import_ms`` / ``app_import_ratio_to_boto3``: median over fresh interpreters of importing
  ``chalice_app/app.py`` (everything it pulls in) vs importing ``boto3`` alone. Targets <= 400 ms and <= 2.0.
* ``lambda_zip_mb``: size of the deployment zip ``chalice package`` builds (``python -m runtime.packaging`` when
  present, which vendors ``runtime/`` in; else the same steps here). Target <= 20.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_IMPORT_PROBE = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import {module}; "
    "print((time.perf_counter() - t) * 1000)"
)


def _import_ms(module: str, path: str, runs: int = 5) -> float:
    samples = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESAME_")}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE.format(path=path, module=module)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def demo_seconds(recipients: int = 1000) -> float:
    with tempfile.TemporaryDirectory(prefix="sesame-bench-local-") as state:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "runtime.local",
                "--once",
                "--quiet",
                "--recipients",
                str(recipients),
                "--state-dir",
                state,
            ],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
        return time.perf_counter() - start


def lambda_zip_mb() -> float:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    with tempfile.TemporaryDirectory(prefix="sesame-bench-pkg-") as tmp:
        out = Path(tmp) / "out"
        if (REPO / "runtime" / "packaging.py").exists():
            subprocess.run(
                [sys.executable, "-m", "runtime.packaging", "--out", str(out), "--force"],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
            )
        else:  # the same steps: vendor runtime/ (without the local stack) and run chalice package
            project = Path(tmp) / "chalice_app"
            shutil.copytree(REPO / "chalice_app", project, ignore=shutil.ignore_patterns("vendor", "__pycache__"))
            shutil.copytree(
                REPO / "runtime",
                project / "vendor" / "runtime",
                ignore=shutil.ignore_patterns("local", "__pycache__"),
            )
            chalice = str(Path(sys.executable).parent / "chalice")
            subprocess.run(
                [chalice, "--project-dir", str(project), "package", "--stage", "dev-local", str(out)],
                env=env,
                check=True,
                capture_output=True,
            )
        zips = sorted(out.rglob("*.zip"), key=lambda p: p.stat().st_size, reverse=True)
        if not zips:
            raise RuntimeError(f"no deployment zip under {out}")
        return zips[0].stat().st_size / (1024 * 1024)


def run() -> dict[str, float]:
    app_ms = _import_ms("app", str(REPO / "chalice_app"))
    boto3_ms = _import_ms("boto3", str(REPO))
    figures = {
        "app_import_ms": round(app_ms, 1),
        "app_import_ratio_to_boto3": round(app_ms / boto3_ms, 2),
        "lambda_zip_mb": round(lambda_zip_mb(), 2),
        "local_demo_seconds": round(demo_seconds(), 1),
    }
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
