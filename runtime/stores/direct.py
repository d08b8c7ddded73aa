"""``DirectDynamo``: the ingestion Lambdas' DynamoDB calls sent without botocore's per-request machinery.

botocore spends ~200 µs of CPU on every request before and after the network: a dozen event emissions, endpoint
ruleset resolution, an ``AWSRequest`` with ``email.message`` headers built and prepared twice, SigV4 signing that
re-derives its key, and the response walked by the service model (measured: ``bench.bench_units``
``ingest_real_store_us_per_event``; ingestion makes about one request per event). The tracking store's requests are
built by the store itself from parsed events, so ``DirectDynamo`` takes a shorter road for them, and keeps botocore's
own parts wherever the behaviour is AWS's and not bookkeeping:

* **the same client underneath**: a configured botocore client (``chalicelib.wiring``: region, timeouts, standard
  retries, ``AWS_ENDPOINT_URL(_DYNAMODB)``) gives the credentials (its resolver's object: refreshed session
  credentials are picked up as botocore refreshes them), the HTTP session (one persistent urllib3 pool, its TLS and
  proxy settings), the endpoint (botocore's ruleset, resolved once per operation and tables: account-id endpoints
  and FIPS/dual-stack settings included), the error parser and the exception classes;
* **request**: the parameters as JSON (``json.dumps``; the JSON 1.0 protocol's body *is* the parameters; an item the
  store gives as ``runtime.stores.wire.ItemJson`` is written as its text, see ``accepts_item_json``), the
  ``X-Amz-Target`` and ``Content-Type`` botocore sends, SigV4 by :mod:`runtime.stores.sigv4` with the signing key
  kept per day;
* **send**: the ``before-send.dynamodb.<Operation>`` event first, as botocore's endpoint does (so moto's emulator,
  the chaos suite's fault injection and the bench's byte-for-byte replay answer this client at the same level as a
  botocore client), then the HTTP session;
* **answer**: a success is ``json.loads`` of the body plus ``ResponseMetadata`` (``runtime.stores.wire``'s rules: an
  answer with a blob or a timestamp goes to botocore's parser); an error is parsed by botocore's parser and raised as
  the client's own ``ClientError`` subclass (``ConditionalCheckFailedException``, ``TransactionCanceledException``
  with its ``CancellationReasons``...), exactly what the stores catch today;
* **retries**: botocore's standard retry handler decides (the client's ``needs-retry`` event: throttling, 5xx,
  connection errors, the retry quota, DynamoDB's backoff), as for any botocore call. The stores only make calls
  that are safe to re-send: reads, conditional writes whose lost answer they handle, and transactions with a
  ``ClientRequestToken``.

Anything else — an operation not listed in :data:`OPERATIONS`, parameters ``json.dumps`` refuses (bytes: blobs are
base64 on the wire), a table given by ARN, an endpoint needing extra headers or another signer — is handed to the
botocore client unchanged, as is every attribute this class does not define (``meta``, ``exceptions``...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

from runtime.stores.sigv4 import SigV4Signer
from runtime.stores.wire import lean_parse, plain_params, request_json

# operation -> botocore's method: what the stores call on the ingestion client
OPERATIONS = {
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "DeleteItem": "delete_item",
    "GetItem": "get_item",
    "PutItem": "put_item",
    "Query": "query",
    "TransactWriteItems": "transact_write_items",
    "UpdateItem": "update_item",
}
_DEFAULT_PORTS = {"https": 443, "http": 80}
_now = time.time


class _Route:
    """Where and how one operation on given tables is sent (or None: botocore sends it)."""

    __slots__ = ("before_send", "content_type", "event", "host", "model", "signer", "target", "url")

    def __init__(self, url: str, host: str, signer: SigV4Signer, model: Any, service_id: str) -> None:
        metadata = model.metadata
        self.url = url
        self.host = host
        self.signer = signer
        self.model = model
        self.target = f"{metadata['targetPrefix']}.{model.name}"
        self.content_type = f"application/x-amz-json-{metadata['jsonVersion']}"
        self.event = f"{service_id}.{model.name}"
        self.before_send = f"before-send.{self.event}"


def _tables(operation: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The table names the endpoint ruleset may read (``ResourceArn`` / ``ResourceArnList``)."""
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return tuple(params.get("RequestItems") or ())
    if operation == "TransactWriteItems":
        return tuple(
            str(entry.get("TableName"))
            for item in params.get("TransactItems") or ()
            for entry in item.values()
            if isinstance(entry, dict)
        )
    return (str(params.get("TableName")),)


class DirectDynamo:
    """A drop-in for a botocore DynamoDB client in the tracking store (see the module docstring)."""

    accepts_item_json = True  # a PutItem's / transaction Put's Item may be a ``runtime.stores.wire.ItemJson``

    def __init__(self, client: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        from botocore.awsrequest import AWSPreparedRequest  # botocore is the client's: imported already

        self._client = client
        self._prepared = AWSPreparedRequest
        self._events = client.meta.events
        self._service_id = client.meta.service_model.service_id.hyphenize()
        self._routes: dict[tuple[str, tuple[str, ...]], _Route | None] = {}
        self._signers: dict[tuple[str, str], SigV4Signer] = {}
        self._sleep = sleep
        self._second = -1
        self._stamp = ""

    def __getattr__(self, name: str) -> Any:  # meta, exceptions, other operations: the botocore client's
        return getattr(self._client, name)

    def batch_get_item(self, **params: Any) -> Any:
        return self.call("BatchGetItem", params)

    def batch_write_item(self, **params: Any) -> Any:
        return self.call("BatchWriteItem", params)

    def delete_item(self, **params: Any) -> Any:
        return self.call("DeleteItem", params)

    def get_item(self, **params: Any) -> Any:
        return self.call("GetItem", params)

    def put_item(self, **params: Any) -> Any:
        return self.call("PutItem", params)

    def query(self, **params: Any) -> Any:
        return self.call("Query", params)

    def transact_write_items(self, **params: Any) -> Any:
        return self.call("TransactWriteItems", params)

    def update_item(self, **params: Any) -> Any:
        return self.call("UpdateItem", params)

    # --- one call -------------------------------------------------------------------------------------------------

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        """``operation`` (one of :data:`OPERATIONS`) with ``params`` (botocore's names and shapes): the parsed answer
        or a ``ClientError``, as the botocore client's method gives."""
        tables = _tables(operation, params)
        try:
            route = self._routes[(operation, tables)]
        except KeyError:
            route = self._resolve(operation, params, tables)
        if route is None:
            return self._botocore(operation, params)
        try:
            body = request_json(operation, params).encode("utf-8")
        except (TypeError, ValueError):  # bytes (blobs), datetimes...: botocore's serializer knows them
            return self._botocore(operation, params)
        credentials = self._client._request_signer._credentials
        if credentials is None:
            return self._botocore(operation, params)
        return self._send(route, body, credentials.get_frozen_credentials())

    def _botocore(self, operation: str, params: dict[str, Any]) -> Any:
        return getattr(self._client, OPERATIONS[operation])(**plain_params(operation, params))

    def _send(self, route: _Route, body: bytes, frozen: Any) -> Any:
        date = self._date()
        token = frozen.token
        headers = {"X-Amz-Target": route.target, "Content-Type": route.content_type, "X-Amz-Date": date}
        if token:
            headers["X-Amz-Security-Token"] = token
        if token and (token != token.strip() or "  " in token):  # a value SigV4 trims: the general form
            authorization = route.signer.authorization(
                method="POST",
                host=route.host,
                path="/",
                query="",
                headers=headers,
                body=body,
                date=date,
                access_key=frozen.access_key,
                secret_key=frozen.secret_key,
            )
        else:
            authorization = route.signer.json_post_authorization(
                host=route.host,
                content_type=route.content_type,
                target=route.target,
                body=body,
                date=date,
                token=token,
                access_key=frozen.access_key,
                secret_key=frozen.secret_key,
            )
        headers["Authorization"] = authorization
        headers["Content-Length"] = str(len(body))
        request = self._prepared("POST", route.url, cast(Any, headers), body, False)
        context: dict[str, Any] = {}
        attempts = 1
        while True:
            http: Any = None
            parsed: Any = None
            caught: Exception | None = None
            try:
                _, http = self._events.emit_until_response(route.before_send, request=request)
                if http is None:
                    http = self._client._endpoint.http_session.send(request)
                parsed = self._parse(route, http)
            except Exception as exc:  # as botocore's endpoint: the retry handler judges (connection errors...)
                caught = exc
            if caught is None and http.status_code < 300 and attempts == 1:
                parsed["ResponseMetadata"]["RetryAttempts"] = 0  # what botocore's retry handler notes
                return parsed
            if not self._needs_retry(route, attempts, http, parsed, caught, context):
                break
            attempts += 1
        if caught is not None:
            raise caught
        if http.status_code >= 300:
            code = (parsed.get("Error") or {}).get("Code")
            raise self._client.exceptions.from_code(code)(parsed, route.model.name)
        return parsed

    def _date(self) -> str:
        """``X-Amz-Date`` now (formatted once a second)."""
        second = int(_now())
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y%m%dT%H%M%SZ")
        return self._stamp

    def _parse(self, route: _Route, http: Any) -> Any:
        body = http.content
        parsed = lean_parse(http.status_code, http.headers, body, route.model.output_shape)
        if parsed is not None:
            return parsed
        from botocore.endpoint import convert_to_response_dict

        parser = self._client._endpoint._response_parser_factory.create_parser("json")
        response = convert_to_response_dict(http, route.model)
        parsed = parser.parse(response, route.model.output_shape)
        if http.status_code >= 300:  # the error's modelled members (CancellationReasons...), as botocore's endpoint
            code = (parsed.get("Error") or {}).get("Code")
            shape = route.model.service_model.shape_for_error_code(code) if code else None
            if shape is not None:
                parsed.update(parser.parse(response, shape))
        return parsed

    def _needs_retry(
        self, route: _Route, attempts: int, http: Any, parsed: Any, caught: Exception | None, context: dict[str, Any]
    ) -> bool:
        """botocore's standard retry handler, through the client's event as its endpoint asks it (on a first-attempt
        success it has nothing to decide or release, so it is not asked)."""
        from botocore.hooks import first_non_none_response

        responses = self._events.emit(
            f"needs-retry.{route.event}",
            response=None if caught is not None else (http, parsed),
            endpoint=self._client._endpoint,
            operation=route.model,
            attempts=attempts,
            caught_exception=caught,
            request_dict={"context": context},
        )
        delay = first_non_none_response(responses)
        if delay is None or delay is False:
            return False
        self._sleep(delay)
        return True

    # --- routes ---------------------------------------------------------------------------------------------------

    def _resolve(self, operation: str, params: dict[str, Any], tables: tuple[str, ...]) -> _Route | None:
        """botocore's endpoint for ``operation`` on ``tables`` (once per pair), or None where this client would not
        send exactly what botocore sends."""
        route: _Route | None = None
        client = self._client
        model = client.meta.service_model.operation_model(operation)
        if (
            not any(table.startswith("arn:") for table in tables)
            and model.metadata.get("protocol") == "json"
            and not (model.endpoint or {}).get("hostPrefix")
            and getattr(client._request_signer, "signature_version", None) == "v4"
        ):
            context: dict[str, Any] = {
                "client_region": client.meta.region_name,
                "client_config": client.meta.config,
                "has_streaming_input": model.has_streaming_input,
                "auth_type": model.resolved_auth_type,
                "unsigned_payload": model.unsigned_payload,
                "auth_options": client.meta.service_model.metadata.get("auth"),
            }
            url, extra_headers, _ = client._resolve_endpoint_ruleset(model, params, context)
            parts = urlsplit(url)
            signing = context.get("signing") or {}
            if (
                not extra_headers
                and context.get("auth_type") in ("v4", None)
                and parts.scheme in _DEFAULT_PORTS
                and parts.path in ("", "/")
                and not parts.query
                and parts.hostname
            ):
                host = parts.hostname if ":" not in parts.hostname else ""
                if host and parts.port and parts.port != _DEFAULT_PORTS[parts.scheme]:
                    host = f"{host}:{parts.port}"
                if host:
                    region = signing.get("region") or client.meta.region_name
                    name = signing.get("signing_name") or client.meta.service_model.signing_name
                    signer = self._signers.setdefault((region, name), SigV4Signer(region, name))
                    route = _Route(f"{parts.scheme}://{parts.netloc}/", host, signer, model, self._service_id)
        self._routes[(operation, tables)] = route
        return route
