"""``chalice package`` output contains runtime/ and the app imports from the unpacked zip alone (+ boto3)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runtime.packaging import package, vendor_runtime

ROOT = Path(__file__).resolve().parents[2]
BOTO = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six")


def _boto_only_dir(tmp_path: Path) -> Path:
    """A folder holding only what the Lambda Python runtime provides: boto3 and its dependencies."""
    target = tmp_path / "lambda-provided"
    target.mkdir()
    for name in BOTO:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source)
    return target


def test_vendored_runtime_excludes_the_local_stack_and_caches(tmp_path):
    vendored = vendor_runtime(target=tmp_path / "vendor" / "runtime")
    assert (vendored / "settings.py").exists()
    assert (vendored / "ingest" / "engine.py").exists()
    assert not (vendored / "local").exists()
    assert not list(vendored.rglob("__pycache__"))


def _project_copy(tmp_path: Path) -> Path:
    """The Chalice project beside the live runtime/, in a temporary folder: packaging writes chalice_app/vendor, and
    doing that in the working tree would race with tests that run the app from it (chalice puts vendor/ on the path).
    """
    root = tmp_path / "project"
    shutil.copytree(
        ROOT / "chalice_app",
        root / "chalice_app",
        ignore=shutil.ignore_patterns("vendor", "__pycache__", "deployed", "deployments"),
    )
    (root / "runtime").symlink_to(ROOT / "runtime", target_is_directory=True)
    return root


@pytest.mark.slow
def test_deployment_zip_contains_runtime_and_imports_cleanly(tmp_path):
    vendored = ROOT / "chalice_app" / "vendor" / "runtime"
    before = vendored.exists() and sorted(p.name for p in vendored.iterdir())
    report = package("dev-local", tmp_path / "out", root=_project_copy(tmp_path))
    assert (vendored.exists() and sorted(p.name for p in vendored.iterdir())) == before, "working tree untouched"
    zip_path = Path(str(report["zip"]))
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "unpacked")
    assert "app.py" in names
    assert "runtime/__init__.py" in names and "runtime/ingest/engine.py" in names
    assert "chalicelib/events_handlers.py" in names
    assert {
        "chalicelib/dashboard/static/index.html",
        "chalicelib/dashboard/static/app.js",
    } <= names  # the web dashboard
    assert not any(n.startswith("runtime/local/") for n in names)
    tag = sys.implementation.cache_tag
    for module in ("runtime/settings", "chalicelib/sending", "chalice/app", "pydantic/main"):  # bytecode ships
        folder, _, name = module.rpartition("/")
        assert f"{folder}/__pycache__/{name}.{tag}.pyc" in names, module

    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "unpacked"), str(_boto_only_dir(tmp_path))]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "UNPACKED": str(tmp_path / "unpacked"),
    }
    probe = (
        "import os, sys, app\n"
        "assert not any('site-packages' in p for p in sys.path), sys.path\n"
        "import runtime.ingest, runtime.sns, runtime.events, pydantic_core, cryptography\n"
        # app.py imports each area's machinery lazily: import every handler's modules here
        "import runtime.stores.tracking, runtime.sender.consumer, runtime.sender.service, runtime.query.service\n"
        "import runtime.forwarding.sink, runtime.stores.suppressions, runtime.settings\n"
        # the shipped pycs are what gets loaded (no cache is written or needed beside them)
        "assert runtime.settings.__spec__.cached and os.path.exists(runtime.settings.__spec__.cached)\n"
        "for module in (runtime, pydantic_core, cryptography):\n"
        "    assert module.__file__.startswith(os.environ['UNPACKED']), module.__file__\n"
        "names = sorted(app.app.handler_map)\n"
        "assert 'critical_events' in names and 'engagement_events' in names, names\n"
        "print('ok', len(names))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.startswith("ok")


def _source_tree(root: Path) -> Path:
    for name in ("chalice_app/app.py", "chalice_app/requirements.txt", "chalice_app/chalicelib/x.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    for name in ("runtime/settings.py", "runtime/local/demo.py", "runtime/__pycache__/settings.cpython-311.pyc"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def test_the_source_hash_follows_what_the_package_is_built_from(tmp_path):
    from runtime.packaging import source_hash

    root = _source_tree(tmp_path)
    before = source_hash(root)
    (root / "runtime" / "local" / "demo.py").write_text("the local stack is not packaged")
    (root / "runtime" / "__pycache__" / "settings.cpython-311.pyc").write_text("caches neither")
    assert source_hash(root) == before
    (root / "runtime" / "settings.py").write_text("changed")
    assert source_hash(root) != before


def test_ensure_package_builds_only_when_the_sources_changed(tmp_path, monkeypatch):
    import runtime.packaging as packaging

    root = _source_tree(tmp_path)
    builds = []

    def fake_package(stage, out, *, region="us-east-1", root=root):
        out.mkdir(parents=True, exist_ok=True)
        zip_path = out / "deployment.zip"
        with zipfile.ZipFile(zip_path, "w") as archive:
            archive.writestr("app.py", (root / "chalice_app" / "app.py").read_text())
        builds.append(stage)
        return {"zip": str(zip_path), "bytes": zip_path.stat().st_size, "files": 1}

    monkeypatch.setattr(packaging, "package", fake_package)
    first = packaging.ensure_package(root)
    assert first["built"] is True and len(builds) == 1
    again = packaging.ensure_package(root)
    assert again["built"] is False and len(builds) == 1
    assert again["code_sha256"] == first["code_sha256"]
    (root / "chalice_app" / "app.py").write_text("new code")
    rebuilt = packaging.ensure_package(root)
    assert rebuilt["built"] is True and len(builds) == 2
    assert rebuilt["code_sha256"] != first["code_sha256"]
    (root / "out" / "lambda" / "deployment.zip").write_bytes(b"tampered")
    assert packaging.ensure_package(root)["built"] is True  # a zip that is not the recorded one is rebuilt


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return path


def _pyc_flags(data: bytes) -> int:
    return int.from_bytes(data[4:8], "little")


def test_add_bytecode_ships_an_unchecked_hash_pyc_beside_every_module_and_drops_stale_caches(tmp_path):
    from runtime.packaging import add_bytecode

    tag = sys.implementation.cache_tag
    zip_path = _zip(
        tmp_path / "deployment.zip",
        {
            "app.py": "import chalicelib.x\n",
            "chalicelib/x.py": "VALUE = 1\n",
            f"chalicelib/__pycache__/x.{tag}.pyc": "a developer's stale cache",
            "runtime/__init__.py": "",
            "chalicelib/static/index.html": "<html></html>",
            "legacy/py2.py": "print 'not python 3'\n",
            "pycparser/c_parser.py": "X = 1\n",
        },
    )
    assert add_bytecode(zip_path) == 3
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        pyc = archive.read(f"chalicelib/__pycache__/x.{tag}.pyc")
        (tmp_path / "unpacked").mkdir()
        archive.extractall(tmp_path / "unpacked")
    assert names[:6] == [
        "app.py",
        "chalicelib/x.py",
        "runtime/__init__.py",
        "chalicelib/static/index.html",
        "legacy/py2.py",
        "pycparser/c_parser.py",
    ]
    assert (
        sorted(names[6:])
        == names[6:]
        == [
            f"__pycache__/app.{tag}.pyc",
            f"chalicelib/__pycache__/x.{tag}.pyc",
            f"runtime/__pycache__/__init__.{tag}.pyc",
        ]
    )
    assert _pyc_flags(pyc) == 0b01  # hash-based, source not checked: no stat on Lambda's read-only file system
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path / "unpacked"), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = "import chalicelib.x as x; print(x.VALUE, x.__spec__.cached.endswith('.pyc'))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert completed.stdout.split() == ["1", "True"], completed.stderr


def test_add_bytecode_refuses_a_package_whose_own_code_does_not_compile(tmp_path):
    from runtime.packaging import PackagingError, add_bytecode

    zip_path = _zip(tmp_path / "deployment.zip", {"app.py": "", "runtime/broken.py": "def (:\n"})
    with pytest.raises(PackagingError, match="runtime/broken.py"):
        add_bytecode(zip_path)


def test_add_bytecode_gives_the_same_bytes_for_the_same_sources(tmp_path):
    from runtime.packaging import add_bytecode

    files = {"app.py": "A = 1\n", "runtime/x.py": "def f():\n    return 'x'\n"}
    first, second = _zip(tmp_path / "a.zip", files), _zip(tmp_path / "b.zip", files)
    add_bytecode(first)
    add_bytecode(second)
    assert first.read_bytes() == second.read_bytes()
