"""A lean wire path for a botocore DynamoDB client: requests written with ``json.dumps``, answers read with
``json.loads``, instead of botocore walking the service model member by member both ways.

DynamoDB speaks the ``json`` 1.0 protocol: the request body *is* the parameters as JSON and a successful answer's
body *is* the result, except for blobs (base64 on the wire, bytes in Python) and timestamps. botocore's serializer
and parser spend most of an ingested event's CPU checking that at every member of every attribute value (measured:
``bench.bench_units`` ``ingest_real_store_us_per_event``). ``lean(client)`` keeps botocore for everything else —
signing, retries, endpoints, errors, events — and takes the short path only where the result is provably the same:

* request: parameters that ``json.dumps`` takes as they are (no bytes: a blob would need base64), for operations of
  the JSON protocol without a host prefix; anything else goes to botocore's serializer;
* answer: a success (status < 300) whose output shape holds no timestamp and whose body carries no blob attribute
  value (no ``"B":`` or ``"BS":`` in the text — a conservative test: an attribute *named* B also takes the long path);
  errors, and every other answer, go to botocore's parser. ``ResponseMetadata`` is filled in as botocore does.

Used for the ingestion Lambdas' client (``chalicelib.wiring``), whose requests the stores build themselves; the
equivalence with botocore's path is tested in ``tests/unit/test_store_wire.py``.

:class:`ItemJson` is an item whose attribute map is already JSON text (``runtime.stores.attrs.item_json``): a store
hands it to a client that says it takes one (``accepts_item_json``: ``runtime.stores.direct.DirectDynamo``) as a
``PutItem``'s ``Item`` or a ``TransactWriteItems`` ``Put``'s, and :func:`request_json` writes the request around it
(the item's text is not parsed or re-encoded). Where botocore must send the request after all,
:func:`plain_params` gives the parameters with every such item as its attribute map.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runtime.fastcore import from_json
from runtime.stores.attrs import item_json

_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_quote = json.encoder.encode_basestring_ascii
_BLOB_MARKERS = (b'"B":', b'"BS":', b'"B" :', b'"BS" :')


def _has_timestamp(shape: Any) -> bool:
    seen: set[str] = set()  # shape names (botocore builds new Shape objects on every access; AttributeValue recurses)

    def walk(node: Any) -> bool:
        if node is None or node.name in seen:
            return False
        seen.add(node.name)
        kind = node.type_name
        if kind == "timestamp":
            return True
        if kind == "structure":
            return any(walk(member) for member in node.members.values())
        if kind == "list":
            return walk(node.member)
        if kind == "map":
            return walk(node.key) or walk(node.value)
        return False

    return walk(shape)


class _LeanSerializer:
    def __init__(self, original: Any) -> None:
        self._original = original

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        metadata = operation_model.metadata
        if metadata.get("protocol") != "json" or (operation_model.endpoint or {}).get("hostPrefix"):
            return self._original.serialize_to_request(parameters, operation_model)
        try:
            body = json.dumps(parameters, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError):  # bytes (blobs), datetimes...: botocore knows how
            return self._original.serialize_to_request(parameters, operation_model)
        return {
            "url_path": "/",
            "query_string": "",
            "method": operation_model.http.get("method", "POST"),
            "headers": {
                "X-Amz-Target": f"{metadata['targetPrefix']}.{operation_model.name}",
                "Content-Type": f"application/x-amz-json-{metadata['jsonVersion']}",
            },
            "body": body,
        }


_TIMESTAMPS: dict[str, bool] = {}  # DynamoDB output shape name -> holds a timestamp somewhere


def _holds_timestamp(shape: Any) -> bool:
    found = _TIMESTAMPS.get(shape.name)
    if found is None:
        found = _TIMESTAMPS[shape.name] = _has_timestamp(shape)
    return found


def _lowered_headers(headers: Any) -> dict[str, Any]:
    """An answer's headers with lower-cased names (botocore's ``HTTPHeaders``); botocore's ``HeadersDict`` read
    without its per-key wrapper objects (its ``items()`` builds one per lookup) and with the lower-cased names its
    keys already hold."""
    inner = getattr(headers, "_dict", None)
    if isinstance(inner, dict):
        try:
            return {key._lower: value for key, value in inner.items()}
        except AttributeError:  # not botocore's _HeaderKey: read them as names
            return {str(key).lower(): value for key, value in inner.items()}
    return {str(key).lower(): value for key, value in headers.items()}


def _json_object(body: bytes) -> Any:
    """``json.loads`` of an answer's UTF-8 body; pydantic-core's reader first (the same value wherever it accepts
    the text — it refuses lone surrogates and a BOM, which json then reads — and faster on the summaries a
    ``BatchGetItem`` returns), ``{}`` without parsing (a write's usual answer)."""
    if body == b"{}" or not body:
        return {}
    try:
        return from_json(body)
    except ValueError:
        return json.loads(body.decode("utf-8"))


def lean_parse(status: int, headers: Any, body: bytes, shape: Any) -> dict[str, Any] | None:
    """A DynamoDB answer read as JSON (and ``ResponseMetadata`` as botocore fills it), or None where
    botocore's parser must read it: an error, an output holding a timestamp, a body with a blob attribute value."""
    if (
        status >= 300
        or shape is None
        or shape.serialization.get("eventstream")
        or _holds_timestamp(shape)
        or (b'"B' in body and any(marker in body for marker in _BLOB_MARKERS))
    ):
        return None
    parsed = _json_object(body)
    if not isinstance(parsed, dict):
        return None
    lowered = _lowered_headers(headers)
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in lowered:
        metadata["RequestId"] = lowered["x-amzn-requestid"]
    metadata["HTTPStatusCode"] = status
    metadata["HTTPHeaders"] = lowered
    parsed["ResponseMetadata"] = metadata
    return parsed


class _LeanParser:
    def __init__(self, original: Any) -> None:
        self._original = original

    def parse(self, response: dict[str, Any], shape: Any) -> Any:
        parsed = lean_parse(response["status_code"], response["headers"], response["body"], shape)
        return self._original.parse(response, shape) if parsed is None else parsed


class _LeanParserFactory:
    def __init__(self, original: Any) -> None:
        self._original = original

    def create_parser(self, protocol_name: str) -> Any:
        parser = self._original.create_parser(protocol_name)
        return _LeanParser(parser) if protocol_name == "json" else parser


def lean(client: Any) -> Any:
    """Give ``client`` (a botocore DynamoDB client) the lean wire path; returns it. Idempotent."""
    if not isinstance(client._serializer, _LeanSerializer):
        client._serializer = _LeanSerializer(client._serializer)
    endpoint = client._endpoint
    if not isinstance(endpoint._response_parser_factory, _LeanParserFactory):
        endpoint._response_parser_factory = _LeanParserFactory(endpoint._response_parser_factory)
    return client


class ItemJson:
    """An item as the JSON text of its DynamoDB attribute map, and the plain item it was written from."""

    __slots__ = ("data", "text")

    def __init__(self, data: Mapping[str, Any]) -> None:
        """``data`` as ``runtime.stores.dynamo.to_item`` takes it; ``TypeError`` where ``attrs.item_json`` refuses
        it (bytes; values DynamoDB cannot hold)."""
        self.text = item_json(data)
        self.data = data

    def attributes(self) -> dict[str, Any]:
        """The attribute map (``to_item``), for botocore."""
        from runtime.stores.dynamo import to_item

        return to_item(self.data)

    def __repr__(self) -> str:
        return f"ItemJson({self.text})"


def _value_json(value: Any) -> str:
    kind = type(value)
    if kind is ItemJson:
        return str(value.text)
    return _quote(value) if kind is str else _ENCODE(value)


def _put_json(put: dict[str, Any]) -> str:
    return "{" + ",".join([f"{_quote(k)}:{_value_json(v)}" for k, v in put.items()]) + "}"


def _transact_entry_json(entry: dict[str, Any]) -> str:
    put = entry.get("Put")
    if len(entry) != 1 or type(put) is not dict or type(put.get("Item")) is not ItemJson:
        return _ENCODE(entry)
    return '{"Put":' + _put_json(put) + "}"


def request_json(operation: str, params: dict[str, Any]) -> str:
    """The JSON request body of ``params`` (``json.dumps`` with compact separators), :class:`ItemJson` items written
    as their text. ``TypeError``/``ValueError`` where ``json`` refuses a value (bytes...): botocore's serializer
    must send it."""
    if operation == "PutItem" and type(params.get("Item")) is ItemJson:
        return _put_json(params)
    if operation == "TransactWriteItems":
        entries = params.get("TransactItems")
        if type(entries) is list and any(type(e) is dict and len(e) == 1 and "Put" in e for e in entries):
            parts = [
                f"{_quote(k)}:[{','.join(_transact_entry_json(e) if type(e) is dict else _ENCODE(e) for e in v)}]"
                if k == "TransactItems"
                else f"{_quote(k)}:{_ENCODE(v)}"
                for k, v in params.items()
            ]
            return "{" + ",".join(parts) + "}"
    return _ENCODE(params)


def plain_params(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every :class:`ItemJson` replaced by its attribute map (what botocore's client takes)."""
    if operation == "PutItem" and type(params.get("Item")) is ItemJson:
        return {**params, "Item": params["Item"].attributes()}
    if operation == "TransactWriteItems" and type(params.get("TransactItems")) is list:
        entries = []
        changed = False
        for entry in params["TransactItems"]:
            put = entry.get("Put") if type(entry) is dict else None
            if type(put) is dict and type(put.get("Item")) is ItemJson:
                entry = {**entry, "Put": {**put, "Item": put["Item"].attributes()}}
                changed = True
            entries.append(entry)
        return {**params, "TransactItems": entries} if changed else params
    return params
