"""The dashboard's page and assets as the app serves them (chalice.test.Client): content types, caching, the
Content-Security-Policy, relative URLs only, no inline script, no auth needed for the static files."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.api_app import api_client

PAGE_WEIGHT_BUDGET = 100_000  # bytes of HTML + CSS + JS + icon, uncompressed


@pytest.fixture(scope="module")
def client():
    mp = pytest.MonkeyPatch()
    try:
        with api_client(mp) as (test_client, _):
            yield test_client
    finally:
        mp.undo()


def _assets():
    from chalicelib import dashboard

    return dashboard.assets()


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_dashboard_page_is_html_without_auth_with_a_strict_csp(client):
    response = client.http.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>sesame dashboard</title>" in response.body.decode()
    csp = _csp(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]  # a form can never post (or GET) the key anywhere
    assert csp["require-trusted-types-for"] == ["'script'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_every_asset_is_served_with_its_content_type_nosniff_and_an_etag(client):
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
    names = [name for name in _assets() if name != "index.html"]
    assert {"app.js", "api.js", "style.css"} <= set(names)
    for name in names:
        response = client.http.get(f"/dashboard/{name}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == types[name[name.rindex(".") :]], name
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-cache"
        assert re.fullmatch(r'"[0-9a-f]{20}"', response.headers["ETag"])


def test_a_browser_holding_the_current_etag_gets_a_bodiless_304(client):
    first = client.http.get("/dashboard/app.js")
    again = client.http.get("/dashboard/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.body == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    weak = client.http.get(
        "/dashboard", headers={"If-None-Match": f"W/{client.http.get('/dashboard').headers['ETag']}"}
    )
    assert weak.status_code == 304
    stale = client.http.get("/dashboard/app.js", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.body


@pytest.mark.parametrize("name", ["nope.js", "__init__.py", "index.html", "..", "app.js.map", "APP.JS", "app.exe"])
def test_anything_but_a_dashboard_asset_is_404(client, name):
    response = client.http.get(f"/dashboard/{name}")
    assert response.status_code == 404
    assert json.loads(response.body)["Code"] == "NotFoundError"


def test_trailing_slash_redirects_to_the_page_by_a_relative_url(client):
    response = client.http.get("/dashboard/")
    assert response.status_code == 308
    assert response.headers["Location"] == "../dashboard"  # right under /<stage>/ and on a custom domain alike


def test_the_page_has_no_inline_script_or_style_and_only_relative_urls():
    page = _assets()["index.html"].body
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script>"
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    for url in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert not url.startswith(("/", "http:", "https:", "//")), url


def test_scripts_import_and_call_only_relative_urls():
    for name, asset in _assets().items():
        if not name.endswith(".js"):
            continue
        for specifier in re.findall(r'^import .* from "([^"]+)";$', asset.body, flags=re.M):
            assert specifier.startswith("./"), (name, specifier)
        assert not re.search(r"""fetch\(\s*["'`]/""", asset.body), name
        assert not re.search(r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write", asset.body), name
        code = asset.body.replace('"http://www.w3.org/2000/svg"', "")  # the SVG namespace name, not a URL to load
        assert "http://" not in code and "https://" not in code, name
        assert "localStorage" not in asset.body and "document.cookie" not in asset.body, name


def test_page_weight_stays_within_budget():
    from chalicelib import dashboard

    weight = dashboard.page_weight()
    assert weight["total"] == sum(a.size for a in _assets().values())
    assert weight["total"] <= PAGE_WEIGHT_BUDGET, weight
