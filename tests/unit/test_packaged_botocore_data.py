"""The deployment package's botocore data: trimmed to the services the Lambda functions use, models equal to
botocore's own but for their documentation strings and the operations the Lambda code never calls, and every service
and operation the Lambda code names is shipped."""

from __future__ import annotations

import ast
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders
import botocore.session
import pytest
from botocore import xform_name

from runtime.packaging import LAMBDA_OPERATIONS, LAMBDA_SERVICES, trim_botocore_data

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(botocore.__file__).parent / "data"
#: Lambda code: the handlers and everything runtime/ ships (without the local stack and the operator CLIs, which
#: build their own boto3 clients on an operator's machine).
LAMBDA_CODE = [ROOT / "chalice_app" / "app.py", *(ROOT / "chalice_app" / "chalicelib").rglob("*.py")] + [
    p
    for p in (ROOT / "runtime").rglob("*.py")
    if "local" not in p.relative_to(ROOT / "runtime").parts[:1] and not p.name.endswith("cli.py")
]


def _zip_of_botocore_data(tmp_path: Path, services: list[str]) -> Path:
    """A zip holding botocore/data as the package ships it before trimming: the top-level files and the folders
    of ``services`` (all of botocore's would take long to zip), plus one service that is not wanted."""
    path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", "app = None\n")
        for item in DATA.iterdir():
            if item.is_file():
                archive.write(item, f"botocore/data/{item.name}")
        for service in [*services, "glacier"]:
            for file in sorted((DATA / service).rglob("*")):
                if file.is_file():
                    archive.write(file, f"botocore/data/{file.relative_to(DATA).as_posix()}")
    return path


def _unpacked(zip_path: Path, target: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    return target / "botocore" / "data"


def _without_documentation(value: Any, path: tuple[str, ...] = ()) -> Any:
    """botocore's model with the documentation strings the trim removes (service, operations, shapes, members)."""
    if isinstance(value, dict):
        drop = path in ((), ("operations", "*"), ("shapes", "*"), ("shapes", "*", "members", "*"))
        out = {}
        for key, item in value.items():
            if drop and key == "documentation":
                continue
            wild = path in (("operations",), ("shapes",), ("shapes", "*", "members"))
            out[key] = _without_documentation(item, (*path, "*" if wild else key))
        return out
    if isinstance(value, list):
        return [_without_documentation(v, path) for v in value]
    return value


def test_the_trimmed_data_keeps_only_the_wanted_services_and_their_endpoints(tmp_path):
    services = ["ssm", "dynamodb", "sesv2"]
    zip_path = _zip_of_botocore_data(tmp_path, services)
    sizes = trim_botocore_data(zip_path, services)
    data = _unpacked(zip_path, tmp_path / "task")
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == sorted(services)
    assert not list(data.rglob("examples-1.json"))
    assert sizes["after"] < sizes["before"] / 2
    assert (tmp_path / "task" / "app.py").read_text() == "app = None\n"  # the rest of the package is untouched
    full = json.loads((DATA / "endpoints.json").read_text())
    trimmed = json.loads((data / "endpoints.json").read_text())
    for before, after in zip(full["partitions"], trimmed["partitions"], strict=True):
        assert {k: v for k, v in before.items() if k != "services"} == {
            k: v for k, v in after.items() if k != "services"
        }
        wanted = {"ssm", "dynamodb", "email"} & set(before["services"])  # sesv2's endpoint prefix is "email"
        assert after["services"] == {k: before["services"][k] for k in wanted}
    for name in ("partitions.json", "sdk-default-configuration.json", "_retry.json"):
        assert (data / name).read_bytes() == (DATA / name).read_bytes()


def _referenced_shapes(model: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for op in model["operations"].values():
        names |= {op[key]["shape"] for key in ("input", "output") if key in op}
        names |= {error["shape"] for error in op.get("errors", [])}
    for shape in model["shapes"].values():
        names |= {shape[key]["shape"] for key in ("member", "key", "value") if key in shape}
        names |= {ref["shape"] for ref in (shape.get("members") or {}).values()}
    return names


def test_every_trimmed_model_is_botocores_own_without_its_documentation_and_the_operations_nothing_calls(tmp_path):
    services = list(LAMBDA_SERVICES)
    zip_path = _zip_of_botocore_data(tmp_path, services)
    trim_botocore_data(zip_path, services)
    data = _unpacked(zip_path, tmp_path / "task")
    full_loader = botocore.loaders.Loader()
    trimmed_loader = botocore.loaders.Loader(extra_search_paths=[str(data)], include_default_search_paths=False)
    assert set(LAMBDA_OPERATIONS) <= set(LAMBDA_SERVICES)
    assert "sts" not in LAMBDA_OPERATIONS  # botocore's credential providers call it: every operation stays
    for service in services:
        original = _without_documentation(full_loader.load_service_model(service, "service-2"))
        trimmed = trimmed_loader.load_service_model(service, "service-2")
        if service not in LAMBDA_OPERATIONS:
            assert trimmed == original, service
            continue
        discovery = {name for name, op in original["operations"].items() if op.get("endpointoperation")}
        assert trimmed["operations"].keys() == set(LAMBDA_OPERATIONS[service]) | discovery, service
        assert {k: v for k, v in trimmed.items() if k not in ("operations", "shapes")} == {
            k: v for k, v in original.items() if k not in ("operations", "shapes")
        }
        for name, op in trimmed["operations"].items():
            assert op == original["operations"][name], (service, name)
        for name, shape in trimmed["shapes"].items():
            assert shape == original["shapes"][name], (service, name)
        assert _referenced_shapes(trimmed) <= trimmed["shapes"].keys(), service  # nothing dangles
        errors = {name for name, shape in original["shapes"].items() if shape.get("exception")}
        assert errors <= trimmed["shapes"].keys(), service  # client.exceptions is botocore's own
        assert len(trimmed["shapes"]) < len(original["shapes"]), service
    files = list(data.rglob("service-2.json*"))
    assert len(files) >= len(services)
    assert all((DATA / p.relative_to(data)).exists() for p in files)  # same names (and compression) as botocore's


def test_clients_built_on_the_trimmed_data_make_the_same_requests(tmp_path):
    services = list(LAMBDA_SERVICES)
    zip_path = _zip_of_botocore_data(tmp_path, services)
    trim_botocore_data(zip_path, services)
    data = _unpacked(zip_path, tmp_path / "task")
    full = botocore.session.get_session()
    lean = botocore.session.get_session()
    lean.register_component(
        "data_loader", botocore.loaders.Loader(extra_search_paths=[str(data)], include_default_search_paths=False)
    )
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        for service in services:
            a = full.create_client(service, region_name=region, aws_access_key_id="k", aws_secret_access_key="s")
            b = lean.create_client(service, region_name=region, aws_access_key_id="k", aws_secret_access_key="s")
            assert b.meta.endpoint_url == a.meta.endpoint_url, (service, region)
            assert b.meta.region_name == a.meta.region_name
            names = b.meta.service_model.operation_names
            if service not in LAMBDA_OPERATIONS:
                assert names == a.meta.service_model.operation_names
            assert set(LAMBDA_OPERATIONS.get(service, ())) <= set(names) <= set(a.meta.service_model.operation_names)
            for name in names:
                ours, theirs = b.meta.service_model.operation_model(name), a.meta.service_model.operation_model(name)
                assert ours.http == theirs.http, (service, name)
                for shape in ("input_shape", "output_shape"):
                    mine, original = getattr(ours, shape), getattr(theirs, shape)
                    assert (mine and list(mine.members)) == (original and list(original.members)), (service, name)
            assert set(b.exceptions._code_to_exception) == set(a.exceptions._code_to_exception), service


def test_the_lambda_code_creates_clients_only_for_the_services_the_package_ships():
    named: set[str] = set()
    pattern = re.compile(r"""\b(?:client|LazyClient|create_client)\(\s*["']([a-z0-9-]+)["']""")
    for path in LAMBDA_CODE:
        named |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert "dynamodb" in named and "ssm" in named  # the scan sees the composition root's calls
    assert named <= set(LAMBDA_SERVICES), sorted(named - set(LAMBDA_SERVICES))


def test_the_lambda_code_calls_only_operations_the_package_keeps():
    """Every operation of a trimmed service that the Lambda code names — as a method (``.get_item``), or as a string
    (``"get_item"``, ``"GetItem"``: paginators, ``getattr``, ``runtime.stores.direct.OPERATIONS``) — is kept. A name
    shared with something else (``.query`` of another object) only keeps an operation more: the scan errs on the
    side of shipping."""
    attributes: set[str] = set()
    strings: set[str] = set()
    for path in LAMBDA_CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                attributes.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    assert "get_parameter" in attributes and "GetItem" in strings  # the scan sees the composition root and stores
    loader = botocore.loaders.Loader()
    for service, kept in LAMBDA_OPERATIONS.items():
        named = {
            op
            for op in loader.load_service_model(service, "service-2")["operations"]
            if xform_name(op) in attributes | strings or op in strings
        }
        assert named <= set(kept), (service, sorted(named - set(kept)))


def test_an_operation_the_model_does_not_have_fails_the_trim(tmp_path):
    zip_path = _zip_of_botocore_data(tmp_path, ["ssm"])
    with pytest.raises(KeyError, match="GetParameters2"):
        trim_botocore_data(zip_path, ["ssm"], {"ssm": ("GetParameter", "GetParameters2")})


def test_the_operations_botocore_itself_calls_on_a_client_are_kept():
    """botocore calls some operations on the client it serves (the S3 region redirector's ``head_bucket``, S3
    Express's ``create_session``): every ``<...client...>.<operation>`` in botocore's code, for an operation of a
    trimmed service, is kept."""
    loader = botocore.loaders.Loader()
    operations = {
        service: {xform_name(op): op for op in loader.load_service_model(service, "service-2")["operations"]}
        for service in LAMBDA_OPERATIONS
    }
    called: set[tuple[str, str]] = set()
    for path in Path(botocore.__file__).parent.rglob("*.py"):
        if "vendored" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
            if "client" in owner.lower():
                called |= {(s, ops[node.attr]) for s, ops in operations.items() if node.attr in ops}
    assert {("s3", "HeadBucket"), ("s3", "CreateSession")} <= called  # the scan sees botocore's own calls
    assert {(s, op) for s, op in called if op not in LAMBDA_OPERATIONS[s]} == set()
