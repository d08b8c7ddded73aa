"""DynamoDB attribute values <-> plain Python, without boto3.

The same mapping as boto3's ``TypeSerializer`` / ``TypeDeserializer`` with Decimals turned into int/float (what the
stores used before), written for the ingestion hot path: no boto3 import (cold start), one ``type()`` dispatch per
value instead of boto3's chain of ``isinstance`` probes, and numbers read straight to ``int`` where they are whole.

* ``serialize``: ``str`` -> S, ``bool`` -> BOOL, ``int``/``Decimal`` -> N (at most 38 significant digits, no
  Infinity/NaN: DynamoDB's limits, checked as boto3 does), ``None`` -> NULL, ``bytes``/``bytearray`` -> B,
  ``list``/``tuple`` -> L, mappings -> M, sets of str/numbers/bytes -> SS/NS/BS. A ``float`` is refused (as by
  boto3): ``to_item`` converts top-level floats through ``Decimal(str(value))`` first.
* ``deserialize``: N -> ``int`` when whole, else ``float`` (as the stores did with boto3's Decimals); B -> ``bytes``;
  SS/NS/BS -> ``set``; L -> ``list``; M -> ``dict``.
* ``item_json``: an item (``runtime.stores.dynamo.to_item``'s input and rules) straight to the JSON text of its
  attribute map, the text ``json.dumps(to_item(data), separators=(",", ":"))`` gives, without building the
  ``{"S": ...}`` dictionaries first (the ingestion client sends it as is: ``runtime.stores.wire.ItemJson``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

_JSON = json.JSONEncoder(separators=(",", ":")).encode
_quote = json.encoder.encode_basestring_ascii  # json.dumps' own string escaping (ensure_ascii): the same text

# DynamoDB's number limits, as boto3.dynamodb.types.DYNAMODB_CONTEXT states them
_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _number(value: int | Decimal) -> str:
    if type(value) is int and -(10**38) < value < 10**38:
        return str(value)
    text = str(_CONTEXT.create_decimal(value))
    if text in ("Infinity", "NaN", "-Infinity", "sNaN", "-NaN"):
        raise TypeError("Infinity and NaN are not supported by DynamoDB")
    return text


def serialize(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int or kind is Decimal:
        return {"N": _number(value)}
    if value is None:
        return {"NULL": True}
    if kind is dict or isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [serialize(v) for v in value]}
    if kind is bytes or kind is bytearray:
        return {"B": bytes(value)}
    if isinstance(value, Set):
        members = list(value)
        if all(type(m) is str for m in members):
            return {"SS": members}
        if all(type(m) in (int, Decimal) for m in members):
            return {"NS": [_number(m) for m in members]}
        if all(type(m) in (bytes, bytearray) for m in members):
            return {"BS": [bytes(m) for m in members]}
        raise TypeError(f"Unsupported set members: {members!r}")
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    if isinstance(value, int):  # subclasses (IntEnum...), as boto3 treats them
        return {"N": _number(int(value))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"Unsupported type {kind!r} for value {value!r}")


def _plain_number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def deserialize(value: Mapping[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        return _plain_number(value["N"])
    if "M" in value:
        return {k: deserialize(v) for k, v in value["M"].items()}
    if "L" in value:
        return [v["S"] if "S" in v else deserialize(v) for v in value["L"]]
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    if "SS" in value:
        return set(value["SS"])
    if "NS" in value:
        return {_plain_number(n) for n in value["NS"]}
    if "B" in value:
        return bytes(value["B"])
    if "BS" in value:
        return {bytes(b) for b in value["BS"]}
    raise TypeError(f"Unknown DynamoDB attribute value {value!r}")


def item_json(data: Mapping[str, Any]) -> str:
    """The JSON text of ``to_item(data)`` (None values dropped, top-level floats as ``Decimal(str(value))``): the
    same characters as ``json.dumps(to_item(data), separators=(",", ":"))``, the same errors for values DynamoDB
    cannot hold. Strings, whole numbers, booleans and lists of strings (a summary's attributes and history) are
    written here; any other value is ``serialize``'s mapping encoded by ``json``. A ``TypeError`` also when the
    item holds bytes (JSON has no bytes: botocore base64-encodes blobs; send such an item as ``to_item``'s map)."""
    parts: list[str] = []
    for key, value in data.items():
        kind = type(value)
        if kind is str:
            parts.append(f'{_quote(key)}:{{"S":{_quote(value)}}}')
        elif kind is int:
            parts.append(f'{_quote(key)}:{{"N":"{_number(value)}"}}')
        elif value is None:
            continue
        elif kind is bool:
            parts.append(f'{_quote(key)}:{{"BOOL":{"true" if value else "false"}}}')
        elif kind is list and all(type(v) is str for v in value):
            members = ",".join([f'{{"S":{_quote(v)}}}' for v in value])
            parts.append(f'{_quote(key)}:{{"L":[{members}]}}')
        else:
            if isinstance(value, float):
                value = Decimal(str(value))
            parts.append(f"{_quote(key)}:{_JSON(serialize(value))}")
    return "{" + ",".join(parts) + "}"
