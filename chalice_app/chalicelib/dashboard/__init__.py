"""The web dashboard: ``GET /dashboard`` and its static assets (``GET /dashboard/<file>``), shipped in the Lambda
package under ``chalicelib/dashboard/static/`` (plain HTML, CSS and ES modules: no build step, nothing fetched from
elsewhere at run time).

The page is public (it holds no data and no secret); everything it shows comes from the tracking API, called from the
browser with the API key the user enters (kept in ``sessionStorage``, sent only as ``Authorization: Bearer``).
Every URL in the page is relative, so it works under API Gateway's ``/<stage>/`` path, ``chalice local`` and a custom
domain alike. Answers carry a strict Content-Security-Policy (only this app's own scripts, styles and API; no inline
script; Trusted Types), ``nosniff`` and an ``ETag``: browsers revalidate (``no-cache``) and get a bodiless 304 until
a deployment changes a file.

Files are read once per Lambda container, on the first request; importing this module reads nothing.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice import Blueprint, NotFoundError, Response

bp = Blueprint(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css|svg)$")

# Only this origin's scripts, styles, images and API; no inline script or style, no plugins, no framing, no form
# posts anywhere (forms are handled in script), and DOM sinks such as innerHTML refused (Trusted Types, no policy).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
_COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: str
    content_type: str
    etag: str

    @property
    def size(self) -> int:
        return len(self.body.encode("utf-8"))


def _load(path: Path) -> Asset:
    body = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]
    return Asset(path.name, body, CONTENT_TYPES[path.suffix], f'"{digest}"')


@functools.cache
def assets() -> dict[str, Asset]:
    """Every file the dashboard serves, by name (``index.html`` included), read once per container."""
    found = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and (path.name == INDEX or _ASSET_NAME.match(path.name)):
            found[path.name] = _load(path)
    return found


def _not_modified(request: Any, etag: str) -> bool:
    header = (request.headers.get("if-none-match") or "") if request is not None else ""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


def _serve(asset: Asset, extra: dict[str, str] | None = None) -> Response:
    headers = {**_COMMON_HEADERS, "ETag": asset.etag, **(extra or {})}
    if _not_modified(bp.current_request, asset.etag):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=asset.body, status_code=200, headers={**headers, "Content-Type": asset.content_type})


@bp.route("/dashboard", methods=["GET"], content_types=["*/*"])
def dashboard_page() -> Response:
    """The single page. ``/dashboard/`` (trailing slash) is sent to ``../dashboard`` so relative URLs resolve."""
    request = bp.current_request
    path = str((request.context or {}).get("path") or "") if request is not None else ""
    if path.endswith("/"):
        return Response(
            body="",
            status_code=308,
            headers={**_COMMON_HEADERS, "Location": "../dashboard", "Content-Type": "text/plain"},
        )
    return _serve(assets()[INDEX], _PAGE_HEADERS)


@bp.route("/dashboard/{asset}", methods=["GET"], content_types=["*/*"])
def dashboard_asset(asset: str) -> Response:
    found = assets().get(asset) if _ASSET_NAME.match(asset) else None
    if found is None:
        raise NotFoundError(f"no dashboard file named {asset[:80]!r}")
    return _serve(found)


def page_weight() -> dict[str, int]:
    """Bytes of HTML, CSS and JS the dashboard serves (uncompressed), for docs and tests."""
    weight = {"html": 0, "css": 0, "js": 0, "svg": 0}
    for asset in assets().values():
        weight[Path(asset.name).suffix.lstrip(".")] += asset.size
    weight["total"] = sum(weight.values())
    return weight


def _html_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/dashboard": {
        "get": {
            "summary": "The web dashboard (static page, no auth: it calls this API with the key the user enters)",
            "security": [],
            "responses": {
                "200": _html_response("The dashboard page (strict Content-Security-Policy)"),
                "304": {"description": "Unchanged since the ETag the browser holds"},
                "308": {"description": "`/dashboard/` is redirected to `../dashboard`"},
            },
        }
    },
    "/dashboard/{asset}": {
        "get": {
            "summary": "A script, style sheet or icon of the dashboard",
            "security": [],
            "parameters": [
                {
                    "name": "asset",
                    "in": "path",
                    "required": True,
                    "description": "File name, e.g. `app.js`",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file (`text/javascript`, `text/css` or `image/svg+xml`)",
                    "content": {
                        "text/javascript": {"schema": {"type": "string"}},
                        "text/css": {"schema": {"type": "string"}},
                        "image/svg+xml": {"schema": {"type": "string"}},
                    },
                },
                "304": {"description": "Unchanged since the ETag the browser holds"},
                "404": {
                    "description": "No such file",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
    },
}
