"""Child processes of the local stack: moto_server and ``chalice local``, bound to 127.0.0.1 on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHALICE_DIR = REPO_ROOT / "chalice_app"


class LocalStackError(RuntimeError):
    """The local stack could not start or finish; the message says what and where to look."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ManagedProcess:
    """A child process with its output in a log file, stopped (process group) on ``stop``."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv built here
            argv, env=dict(env), cwd=str(cwd), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def cpu_seconds(self) -> float:
        """User + system CPU the child has used so far (Linux /proc; 0.0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def wait_http(url: str, process: ManagedProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise LocalStackError(f"{process.name} exited early; last lines of {process.log_path}:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local http URL built here
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise LocalStackError(f"{process.name} did not answer {url} within {timeout:.0f}s; see {process.log_path}")


def start_moto(state_dir: Path, port: int | None = None) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    proc = ManagedProcess(
        "moto_server",
        [sys.executable, "-m", "runtime.local.moto_runner", "--host", "127.0.0.1", "--port", str(port)],
        env,
        state_dir / "moto_server.log",
        REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/moto-api/", proc)
    return proc, url


def start_chalice_local(
    state_dir: Path, env: Mapping[str, str], *, port: int | None = None, stage: str = "dev-local"
) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "runtime.local.chalice_runner",  # chalice, with addresses and tokens masked in its access log
        "--project-dir",
        str(CHALICE_DIR),
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--stage",
        stage,
        "--no-autoreload",
    ]
    # The repository's runtime/ first on the path: chalice adds chalice_app/vendor to sys.path, and a copy vendored
    # there by `make package` (or `pulumi up`) would otherwise shadow the live code with a stale one.
    path = [str(REPO_ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    proc = ManagedProcess(
        "chalice local", argv, {**env, "PYTHONPATH": os.pathsep.join(path)}, state_dir / "chalice_local.log", REPO_ROOT
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", proc, timeout=60)
    return proc, url
