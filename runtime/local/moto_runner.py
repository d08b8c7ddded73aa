"""``python -m runtime.local.moto_runner --port P``: moto_server, tuned for the local stack's load.

The same WSGI application ``moto_server`` serves (``moto.server.DomainDispatcherApplication``), with these changes:

* ``TCP_NODELAY`` and HTTP/1.1 keep-alive on the request handler, so each boto3 call costs one round trip;
* the SESv2 operations moto 5.2.5 lacks and the app uses are added: email templates (Create/Get/Update/Delete,
  ``{{name}}`` substitution), ``SendEmail`` with template content, ``SendBulkEmail`` (one moto message per entry,
  per-entry results), ``GetAccount`` (a healthy production account; ``SESAME_LOCAL_MAX_SEND_RATE`` sets its
  MaxSendRate) and ``PutSuppressedDestination`` (accepted, stored nowhere);
* SQS visibility checks use ``time.time()`` directly: moto 5.2.5 computes "now" through datetime conversions for
  every message on every send and receive (``Queue.messages``), which makes a queue of a few thousand messages
  cost seconds per call;
* DynamoDB batch and transaction responses are written with moto's own DynamoDB JSON encoder instead of the
  generic model-driven serializer, which spends ~90 % of a ``BatchGetItem`` walking the response shape (the
  handler's result is already in wire format; status, headers and CRC32 are unchanged);
* the update-expression "one ADD/SET/REMOVE clause" check runs once on the root of the expression instead of on
  every sub-expression (moto 5.2.5 re-walks the whole tree for each node: quadratic, ~10 % of the emulator's CPU
  in the demo); the verdict is the same because every sub-expression's clauses are among the root's;
* parsed update expressions are cached by their text (moto parses each one twice per update and only ever
  reads the parsed tree or deep-copies it before validation), and each tree walker computes its node types once;
* ``PutItem``, ``UpdateItem`` and ``DeleteItem`` run under the lock ``TransactWriteItems`` holds, so a conditional
  write is atomic as in DynamoDB (moto checks the condition and writes without a lock: on the threaded server two
  concurrent writers could both pass one ``version`` condition, losing an applied event that a redelivery would then
  apply, and count, again);
* ``TransactWriteItems`` snapshots only the items a transaction touches instead of deep-copying every table it
  names (moto 5.2.5 deep-copies whole tables for its rollback, so each transaction costs time proportional to the
  data stored; the ingestion engine commits one transaction per batch). Rollback semantics are kept: when the
  transaction is cancelled, every touched item is restored to its state before the call.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import threading
import time
import uuid
from datetime import UTC
from typing import Any
from urllib.parse import unquote

_TRANSACT_LOCK = threading.RLock()


class _TableCopyShim:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: tables are not deep-copied (the patched
    ``transact_write_items`` keeps its own item-level snapshot); everything else is the real ``copy``."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _item_key(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    table_name = op.get("TableName")
    if not table_name or table_name not in backend.tables:
        return None
    if op_type == "Put":
        table = backend.tables[table_name]
        attrs = op.get("Item") or {}
        if table.hash_key_attr not in attrs:
            return None
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            if table.range_key_attr not in attrs:
                return None
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return table_name, key
    given = op.get("Key")
    return (table_name, given) if isinstance(given, dict) else None


def patch_moto() -> None:
    import moto.dynamodb.models as ddb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_sesame_patched", False):
        return
    original = DynamoDBBackend.transact_write_items
    ddb_models.copy = _TableCopyShim(Table)  # type: ignore[assignment,attr-defined]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _TRANSACT_LOCK:
            snapshot: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            for entry in transact_items:
                if len(entry) != 1:
                    continue
                op_type, op = next(iter(entry.items()))
                located = _item_key(self, op_type, op)
                if located is None:
                    continue
                table_name, key = located
                try:
                    current = self.get_item(table_name, key)
                except Exception:  # noqa: S112 - invalid keys are reported by the original call
                    continue
                snapshot.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, attrs in reversed(snapshot):
                    table = self.tables.get(table_name)
                    if table is None:
                        continue
                    if attrs is None:
                        try:
                            if self.get_item(table_name, key) is not None:
                                self.delete_item(table_name, key)
                        except Exception:  # noqa: S112 - nothing to restore
                            continue
                    else:
                        table.put_item(attrs)
                raise

    transact_write_items._sesame_patched = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))


def _atomic(write: Any) -> Any:
    """A single-item write whose condition check and write happen under the lock transactions hold, as one
    DynamoDB operation is atomic: moto 5.2.5 checks a ``ConditionExpression`` and then writes without a lock, so on
    the threaded server two concurrent conditional writes of one item (the SQS consumers and the webhook applying
    events of the same message) could both pass a ``version`` condition, the second undoing the first's change."""

    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _TRANSACT_LOCK:
            return write(self, *args, **kwargs)

    return locked


_TEMPLATES: dict[tuple[str, str, str], dict[str, Any]] = {}  # (account, region, name) -> TemplateContent
_VAR = re.compile(r"{{\s*([A-Za-z0-9_.-]+)\s*}}")


def _render(text: str, data: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in data:
            raise _sesv2_error("BadRequestException", f"Attribute '{name}' is not present in the rendering data.")
        return str(data[name])

    return _VAR.sub(value, text or "")


def _sesv2_error(code: str, message: str, status: int = 400) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(code, message)
    error.code = status
    return error


def _ses_message_id() -> str:
    """A MessageId shaped like SES's (``0100`` + 12 hex digits of epoch millis + a uuid + ``-000000``), so the
    app's "sent when?" parsing of ids works locally too."""
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


def patch_sesv2() -> None:
    from moto.sesv2.responses import SESV2Response

    if getattr(SESV2Response, "_sesame_patched", False):
        return
    original_send_email = SESV2Response.send_email

    def _key(self: Any, name: str) -> tuple[str, str, str]:
        return (self.current_account, self.region, name)

    def _path_name(self: Any) -> str:
        return unquote(self.path.rstrip("/").rsplit("/", 1)[-1])

    def create_email_template(self: Any) -> str:
        params = json.loads(self.body)
        key = _key(self, params["TemplateName"])
        if key in _TEMPLATES:
            raise _sesv2_error("AlreadyExistsException", f"Template {params['TemplateName']} already exists.")
        _TEMPLATES[key] = dict(params.get("TemplateContent") or {})
        return "{}"

    def get_email_template(self: Any) -> str:
        name = _path_name(self)
        content = _TEMPLATES.get(_key(self, name))
        if content is None:
            raise _sesv2_error("NotFoundException", f"Template {name} does not exist.", 404)
        return json.dumps({"TemplateName": name, "TemplateContent": content})

    def update_email_template(self: Any) -> str:
        name = _path_name(self)
        if _key(self, name) not in _TEMPLATES:
            raise _sesv2_error("NotFoundException", f"Template {name} does not exist.", 404)
        _TEMPLATES[_key(self, name)] = dict(json.loads(self.body).get("TemplateContent") or {})
        return "{}"

    def delete_email_template(self: Any) -> str:
        name = _path_name(self)
        if _TEMPLATES.pop(_key(self, name), None) is None:
            raise _sesv2_error("NotFoundException", f"Template {name} does not exist.", 404)
        return "{}"

    def _template(self: Any, template: dict[str, Any]) -> dict[str, Any]:
        if template.get("TemplateContent"):
            return dict(template["TemplateContent"])
        name = template.get("TemplateName") or ""
        content = _TEMPLATES.get(_key(self, name))
        if content is None:
            raise _sesv2_error("NotFoundException", f"Template {name} does not exist.", 404)
        return content

    def _send_rendered(self: Any, source: str, destination: dict[str, Any], content: dict[str, Any], data: Any) -> str:
        values = json.loads(data) if isinstance(data, str) and data else (data or {})
        subject = _render(content.get("Subject", ""), values)
        body = _render(content.get("Html") or content.get("Text") or "", values)
        message = self.sesv2_backend.send_email(source=source, destinations=destination, subject=subject, body=body)
        return str(message.id)

    def send_email(self: Any) -> str:
        params = json.loads(self.body)
        content = params.get("Content") or {}
        if "Template" not in content:
            return str(original_send_email(self))
        template = content["Template"]
        message_id = _send_rendered(
            self,
            params.get("FromEmailAddress", ""),
            params.get("Destination", {}),
            _template(self, template),
            template.get("TemplateData") or "{}",
        )
        return json.dumps({"MessageId": message_id})

    def send_bulk_email(self: Any) -> str:
        params = json.loads(self.body)
        default = (params.get("DefaultContent") or {}).get("Template") or {}
        content = _template(self, default)
        entries = params.get("BulkEmailEntries") or []
        if not 1 <= len(entries) <= 50:
            raise _sesv2_error("BadRequestException", "BulkEmailEntries must hold 1 to 50 entries.")
        results = []
        for entry in entries:
            replacement = ((entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}).get(
                "ReplacementTemplateData"
            )
            data = {**json.loads(default.get("TemplateData") or "{}"), **json.loads(replacement or "{}")}
            try:
                message_id = _send_rendered(
                    self, params.get("FromEmailAddress", ""), entry["Destination"], content, data
                )
                results.append({"Status": "SUCCESS", "MessageId": message_id})
            except Exception as exc:  # per-entry failure, as SES reports it
                results.append({"Status": "FAILED", "Error": str(getattr(exc, "message", exc))})
        return json.dumps({"BulkEmailEntryResults": results})

    def get_account(self: Any) -> str:
        rate = float(os.environ.get("SESAME_LOCAL_MAX_SEND_RATE", "1000"))
        sent = len(getattr(self.sesv2_backend.core_backend, "sent_messages", []))
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": True,
                "SendQuota": {"Max24HourSend": 1_000_000.0, "MaxSendRate": rate, "SentLast24Hours": float(sent)},
                "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            }
        )

    def put_suppressed_destination(self: Any) -> str:
        return "{}"

    def put_configuration_set_sending_options(self: Any) -> str:
        # the guardrails stop a configuration set's sending (runtime.reputation): accepted, as SES does
        return "{}"

    for func in (
        create_email_template,
        get_email_template,
        update_email_template,
        delete_email_template,
        send_email,
        send_bulk_email,
        get_account,
        put_suppressed_destination,
        put_configuration_set_sending_options,
    ):
        setattr(SESV2Response, func.__name__, func)
    SESV2Response._sesame_patched = True  # type: ignore[attr-defined]
    import moto.ses.models as ses_models

    ses_models.get_random_message_id = _ses_message_id  # type: ignore[attr-defined]
    from moto.sesv2 import urls as sesv2_urls

    for path in (
        "{0}/v2/email/templates$",
        "{0}/v2/email/templates/(?P<TemplateName>[^/]+)$",
        "{0}/v2/email/outbound-bulk-emails$",
        "{0}/v2/email/account$",
        "{0}/v2/email/suppression/addresses$",
        "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/sending$",
    ):
        sesv2_urls.url_paths.setdefault(path, SESV2Response.dispatch)


_FAST_DYNAMODB_RESULTS = frozenset({"BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})


def patch_dynamodb_serializer() -> None:
    from moto.core import responses as core_responses
    from moto.dynamodb.models.utilities import dynamo_json_dump

    action_result = core_responses.ActionResult
    if getattr(action_result.execute_result, "_sesame_patched", False):
        return
    original = action_result.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        operation = getattr(context.operation_model, "name", "")
        service = getattr(context.response, "service_name", "")
        if service == "dynamodb" and operation in _FAST_DYNAMODB_RESULTS and isinstance(self.result, dict):
            status, headers, _ = original(action_result({}), context)
            return status, headers, dynamo_json_dump(self.result)
        return original(self, context)

    execute_result._sesame_patched = True  # type: ignore[attr-defined]
    action_result.execute_result = execute_result  # type: ignore[method-assign]


def patch_update_expression_validation() -> None:
    from moto.dynamodb.parsing import ast_nodes, validators

    update_expression = getattr(ast_nodes, "UpdateExpression")  # noqa: B009 - untyped module

    def traverse(self: Any, node: Any) -> Any:
        if isinstance(node, update_expression):
            self.verify_action_counts(node)
        return node

    validators.ActionCountValidator.traverse = traverse

    from moto.dynamodb.parsing import expressions

    parser = getattr(expressions, "UpdateExpressionParser")  # noqa: B009 - untyped module
    original_make = parser.make.__func__
    parsed: dict[str, Any] = {}

    def make(cls: Any, expression: str) -> Any:
        if cls is not parser:
            return original_make(cls, expression)
        tree = parsed.get(expression)
        if tree is None:
            tree = original_make(cls, expression)  # invalid expressions raise and are not cached
            if len(parsed) > 4096:
                parsed.clear()
            parsed[expression] = tree
        return tree

    parser.make = classmethod(make)

    traverser = getattr(ast_nodes, "DepthFirstTraverser")  # noqa: B009 - untyped module

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        cached = self.__dict__.get("_sesame_node_types")
        if cached is None:
            cached = tuple(self._processing_map().keys())
            self.__dict__["_sesame_node_types"] = cached
        return cached  # type: ignore[no-any-return]

    traverser.nodes_to_be_processed = nodes_to_be_processed


def _unix_time(dt: Any = None) -> float:
    if dt is not None:  # moto's datetimes are naive UTC
        return float((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())
    return time.time()


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


def patch_sqs() -> None:
    import moto.sqs.models as sqs_models

    sqs_models.unix_time = _unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = _unix_time_millis  # type: ignore[attr-defined]

    def visible(self: Any) -> bool:
        return bool(time.time() * 1000.0 > self.visible_at)

    def delayed(self: Any) -> bool:
        return bool(time.time() * 1000.0 < self.delayed_until)

    def messages(self: Any) -> list[Any]:  # one clock reading per call instead of two per message
        now = time.time() * 1000.0
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def not_visible(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if not now > m.visible_at)

    def delayed_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if now < m.delayed_until)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        # moto builds every queue attribute (each an O(n) count) to read one number, once per received message
        retention = float(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    sqs_models.Message.visible = property(visible)  # type: ignore[method-assign,assignment]
    sqs_models.Message.delayed = property(delayed)  # type: ignore[method-assign,assignment]
    sqs_models.Queue.messages = property(messages)  # type: ignore[method-assign,assignment]
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[method-assign,assignment]
    sqs_models.Queue.approximate_number_of_messages_delayed = property(delayed_count)  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.local.moto_runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, run_simple

    patch_moto()
    patch_sesv2()
    patch_sqs()
    patch_dynamodb_serializer()
    patch_update_expression_validation()

    class Handler(WSGIRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

    profile_path = os.environ.get("SESAME_MOTO_PROFILE")
    if profile_path:  # diagnostics: cProfile the emulator, written when it is stopped
        import cProfile
        import signal
        import sys

        profiler = cProfile.Profile()
        profiler.enable()

        def _dump(signum: int, frame: Any) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)
            sys.exit(0)

        signal.signal(signal.SIGTERM, _dump)

    app = DomainDispatcherApplication(create_backend_app)
    if profile_path:  # one thread, one request per connection, so the profile sees every request
        Handler.protocol_version = "HTTP/1.0"
    run_simple(args.host, args.port, app, threaded=not profile_path, request_handler=Handler, use_reloader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
