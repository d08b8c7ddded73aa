"""The OpenAPI document matches the app's routes, and generated requests never get a 5xx."""

from __future__ import annotations

import json

import pytest

from tests.support.api_app import AUTH, api_client, seed_campaign, seed_message


@pytest.fixture(scope="module")
def served():
    mp = pytest.MonkeyPatch()
    try:
        with api_client(mp) as (client, ddb):
            import app as app_module

            seed_campaign(ddb, "c1", messages=1000)
            seed_message(ddb, "m1", "a@example.com")
            yield client, app_module.app, ddb
    finally:
        mp.undo()


def test_document_is_served_without_auth_and_is_openapi_3(served):
    client, _, _ = served
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.body)
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_document_paths_and_methods_are_exactly_the_app_routes(served):
    client, app, _ = served
    doc = json.loads(client.http.get("/openapi.json").body)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert documented == routed


def test_every_authenticated_operation_declares_401_and_403(served):
    client, _, _ = served
    doc = json.loads(client.http.get("/openapi.json").body)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert {"401", "403"} <= set(op["responses"]), (path, method)


def _operations(doc):
    return [(path, method.upper()) for path, ops in sorted(doc["paths"].items()) for method in sorted(ops)]


def test_generated_requests_from_the_document_never_get_a_5xx(served):
    """Property-based: schemathesis generates requests for every documented operation (bounded: <= 200 in all),
    sent with a valid API key through chalice.test.Client against moto-backed tables."""
    import urllib.parse

    import schemathesis
    from hypothesis import HealthCheck, given, settings

    client, _, _ = served
    doc = json.loads(client.http.get("/openapi.json").body)
    schema = schemathesis.openapi.from_dict(doc)
    operations = _operations(doc)
    per_operation = max(2, 200 // len(operations))
    failures: list[str] = []
    seen: list[tuple[str, int]] = []

    def run(path, method):
        @settings(
            max_examples=per_operation,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=schema[path][method].as_strategy())
        def check(case):
            query = urllib.parse.urlencode(case.query or {}, doseq=True)
            url = case.formatted_path + (f"?{query}" if query else "")
            headers = {k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            body = b""
            if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
                if case.media_type == "application/x-www-form-urlencoded" and isinstance(case.body, dict):
                    body = urllib.parse.urlencode(case.body, doseq=True).encode()
                elif isinstance(case.body, (bytes, str)):
                    body = case.body.encode() if isinstance(case.body, str) else case.body
                else:
                    body = json.dumps(case.body).encode()
                headers.setdefault("Content-Type", case.media_type or "application/json")
            headers.update(AUTH)
            response = client.http.request(method, url, headers=headers, body=body)
            seen.append((method, response.status_code))
            if response.status_code >= 500:
                failures.append(f"{method} {url} -> {response.status_code}: {response.body[:200]!r}")

        check()

    for path, method in operations:
        run(path, method)
    assert failures == []
    assert len(seen) >= len(operations)  # every operation was exercised
