"""What the stack deploys of the Chalice app: its handlers, its API definition and the Lambda package.

The Pulumi program deploys the app itself (Lambda functions from the ``chalice package`` zip, the REST API from
the OpenAPI document Chalice generates, event source mappings, the schedule), so everything comes from the app:

* ``load_app_spec(root)`` imports ``chalice_app/app.py`` and reads its routes and event handlers. Routes are
  served by three functions: ``/webhooks/ses`` by ``webhook``, ``/unsubscribe`` by ``unsubscribe`` and every other
  route by ``api`` (each with its own role); the SQS and schedule handlers become the functions of the same name.
  A handler the stack does not know (a new ``@bp.on_sqs_message``) is an error, not a silently undeployed function.
* ``app_package(root)`` is the zip: ``runtime.packaging.ensure_package`` (built when the sources changed since the
  last build, otherwise reused). Under Pulumi's mocks (tests, the local stack) ``use_package`` supplies a stand-in
  so nothing is built.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import (
    API_FUNCTION,
    CAMPAIGN_SCHEDULER_FUNCTION,
    CONSUMERS,
    DEFAULT_FUNCTIONS,
    HTTP_FUNCTIONS,
    STREAM_CONSUMERS,
    UNSUBSCRIBE_FUNCTION,
    WEBHOOK_FUNCTION,
)

ROOT = Path(__file__).resolve().parent.parent
#: Routes served by their own function (and role); every other route is served by ``api``.
ROUTE_FUNCTIONS = {"/webhooks/ses": WEBHOOK_FUNCTION, "/unsubscribe": UNSUBSCRIBE_FUNCTION}
#: The handler of the three HTTP functions: Chalice's app object dispatches on the request's route.
HTTP_HANDLER = "app.app"
RUNTIME = "python3.11"
#: Placeholder for a route's integration URI in the API definition, filled in with the function's ARN.
URI_PLACEHOLDER = "sesame-function:{}"


class AppSpecError(RuntimeError):
    """The Chalice app declares something the stack cannot deploy."""


@dataclass(frozen=True)
class HandlerSpec:
    """One Lambda function of the app."""

    function: str  # logical name (a key of sesame:functions)
    handler: str  # Lambda handler string
    queue: str = ""  # SQS consumers: logical queue name
    stream: str = ""  # DynamoDB stream consumers: logical table name
    batch_size: int = 0
    batching_window: int = 0
    schedule: str = ""  # the schedule function: its expression


@dataclass(frozen=True)
class AppSpec:
    handlers: dict[str, HandlerSpec]
    #: the Swagger 2.0 document Chalice generates, integration URIs replaced by ``URI_PLACEHOLDER``
    api_definition: dict[str, Any] = field(default_factory=dict)

    def routes(self) -> dict[str, list[str]]:
        """path -> HTTP methods."""
        return {
            path: sorted(m.upper() for m in methods if m != "parameters")
            for path, methods in self.api_definition.get("paths", {}).items()
        }


@dataclass(frozen=True)
class AppPackage:
    """The Lambda deployment zip and what it contains."""

    path: str  # deployment.zip
    code_sha256: str  # base64 sha256 of the zip
    spec: AppSpec


def route_function(path: str) -> str:
    """The function serving ``path``."""
    return ROUTE_FUNCTIONS.get(path, API_FUNCTION)


def _import_app(root: Path) -> Any:
    app_dir = str(root / "chalice_app")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    loaded = sys.modules.get("app")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve().parent != Path(app_dir).resolve():
        raise AppSpecError(f"another module named 'app' is already imported ({loaded.__file__})")
    return importlib.import_module("app").app


def _swagger(app: Any) -> dict[str, Any]:
    from chalice.deploy.swagger import SwaggerGenerator

    class Generator(SwaggerGenerator):
        def _uri(self, lambda_arn: str | None = None) -> str:
            return URI_PLACEHOLDER.format(API_FUNCTION)

        def _generate_apig_integ(self, view: Any) -> dict[str, Any]:
            integration: dict[str, Any] = super()._generate_apig_integ(view)
            integration["uri"] = URI_PLACEHOLDER.format(route_function(view.uri_pattern))
            return integration

    document: dict[str, Any] = Generator("us-east-1", {}).generate_swagger(app)
    return document


@functools.cache
def load_app_spec(root: Path = ROOT) -> AppSpec:
    """Read the app's routes and event handlers (imports ``chalice_app/app.py``)."""
    from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

    app = _import_app(root)
    if app.pure_lambda_functions:
        names = ", ".join(f.name for f in app.pure_lambda_functions)
        raise AppSpecError(f"the app declares plain Lambda functions the stack does not deploy: {names}")
    handlers = {name: HandlerSpec(name, HTTP_HANDLER) for name in HTTP_FUNCTIONS}
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig) and source.name in CONSUMERS:
            handlers[source.name] = HandlerSpec(
                source.name,
                source.handler_string,
                queue=CONSUMERS[source.name],
                batch_size=int(source.batch_size),
                batching_window=int(source.maximum_batching_window_in_seconds or 0),
            )
        elif isinstance(source, DynamoDBEventConfig) and source.name in STREAM_CONSUMERS:
            handlers[source.name] = HandlerSpec(
                source.name,
                source.handler_string,
                stream=STREAM_CONSUMERS[source.name],
                batch_size=int(source.batch_size),
            )
        elif isinstance(source, ScheduledEventConfig) and source.name == CAMPAIGN_SCHEDULER_FUNCTION:
            handlers[source.name] = HandlerSpec(
                source.name, source.handler_string, schedule=str(source.schedule_expression)
            )
        else:
            raise AppSpecError(
                f"the app declares the event handler {source.name!r} ({type(source).__name__}) that the stack does "
                "not deploy: add it to infra.config (DEFAULT_FUNCTIONS, CONSUMERS or STREAM_CONSUMERS) and "
                "infra.iam.ACCESS"
            )
    missing = sorted(set(DEFAULT_FUNCTIONS) - set(handlers))
    if missing:
        raise AppSpecError(f"the app has no handler for the stack's functions {', '.join(missing)}")
    return AppSpec(handlers=handlers, api_definition=_swagger(app))


def api_definition(spec: AppSpec, title: str, function_arns: dict[str, str], region: str) -> str:
    """The API definition with each route's integration URI pointing at its function (sorted JSON)."""
    document = copy.deepcopy(spec.api_definition)
    document["info"] = {**document.get("info", {}), "title": title}
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            integration = operation.get("x-amazon-apigateway-integration") if isinstance(operation, dict) else None
            if not integration or not str(integration.get("uri", "")).startswith("sesame-function:"):
                continue
            function = str(integration["uri"]).split(":", 1)[1]
            integration["uri"] = (
                f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arns[function]}/invocations"
            )
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


# -- the package ---------------------------------------------------------------------------------------------------

_OVERRIDE: contextvars.ContextVar[AppPackage | None] = contextvars.ContextVar("sesame_app_package", default=None)


@contextmanager
def use_package(package: AppPackage) -> Iterator[None]:
    """Run the program with ``package`` instead of building one (mocks, the local stack)."""
    token = _OVERRIDE.set(package)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def set_package(package: AppPackage | None) -> None:
    """``use_package`` for a whole process or context (``infra.mockrun`` runs each program in a fresh context)."""
    _OVERRIDE.set(package)


def placeholder_package(root: Path = ROOT) -> AppPackage:
    """A stand-in for the zip (never read under mocks): the real spec, a fixed code hash."""
    return AppPackage(
        path=str(root / "out" / "lambda" / "deployment.zip"),
        code_sha256="mocked-package",
        spec=load_app_spec(root),
    )


def app_package(root: Path = ROOT) -> AppPackage:
    """The package ``pulumi up`` deploys: built from the current sources when they changed since the last build."""
    override = _OVERRIDE.get()
    if override is not None:
        return override
    from runtime.packaging import ensure_package

    record = ensure_package(root)
    if record.get("built"):
        print(f"sesame: built the Lambda package {record['path']} ({record['bytes']} bytes)", file=sys.stderr)
    path = Path(str(record["path"]))
    if path.is_relative_to(Path.cwd()):  # the engine resolves it from the project folder, the same on any machine
        path = path.relative_to(Path.cwd())
    return AppPackage(path=str(path), code_sha256=str(record["code_sha256"]), spec=load_app_spec(root))
