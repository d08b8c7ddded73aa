"""A meter that counts what AWS bills, not requests: DynamoDB write/read units per item, GSI writes per index,
replicated writes per extra region and TTL deletes; SQS requests in 64 KB chunks; SNS publishes; Lambda invocations
and GB-seconds.

The DynamoDB meter hooks a real botocore client (``before-parameter-build`` / ``after-call``) and judges every call
against the item images before and after it, read un-metered through a second client of the same endpoint (moto in
the bench). The arithmetic follows the DynamoDB Developer Guide:

* item size (CapacityUnitCalculations): attribute name bytes + value size; strings and binaries their UTF-8 / raw
  bytes, numbers ``ceil(significant digits / 2) + 1``, booleans and nulls 1, lists and maps 3 + (1 + element size)
  per element (map elements include their key); sets are the sum of their elements (the guide gives no set rule;
  this is the usual reading and what size calculators do);
* writes (ProvisionedThroughput "Capacity unit consumption for writes"): 1 unit per started KB of the larger of the
  before and after images, per item (BatchWriteItem rounds each item); transactional writes 2 units per KB
  (transaction-apis "two underlying writes: prepare and commit"); a failed conditional write still costs 1 unit for a
  missing item, else the units of the existing item (the guide's two pages disagree on "existing" vs "new" size; the
  item is unchanged, so its own size is used); a cancelled transaction costs each item one such failed write (only
  the prepare phase ran);
* GSI writes (GSI.html "Write capacity units"): an item is in an index when it has the index's key attributes; a
  new index entry is a put, a vanished one a delete, a changed index key a delete + put, a changed projected
  attribute one update, and no change costs nothing; each sized by the index entry (table keys + index keys +
  projected attributes), rounded up per KB. GSI propagation is not transactional: 1x even for a transaction's item;
* reads: strongly consistent 1 unit per started 4 KB, eventually consistent half; BatchGetItem rounds per item;
  Query and Scan round the sum of the items evaluated (before any filter, whatever the projection); a missing item
  still costs a minimum read; GSI queries are eventually consistent and sized by index entries; transactional
  reads 2x;
* global tables: every base-table write that changes an item is replicated to each other region as one replicated
  write of the item's size (the larger image); the replica's GSIs are maintained there as ordinary writes. A write
  that changes nothing produces no stream record, so nothing is replicated;
* TTL (TTL.md, globaltables "Time To Live"): the expiry delete is free in the region where it happens (base table
  and its indexes here); replicas pay a replicated write for the delete plus their GSI deletes. ``finalize`` charges
  that for every item that carries the TTL attribute at the end of the run.

Charges are kept per phase (sender, ingest, ...), table, index and partition key, so a bench can print units by
table and index and compute partition heat. ``line`` is the price line: ``WRU``/``RRU`` in the writing region,
``rWRU`` (replicated writes) and ``replica_WRU`` (GSI upkeep in a replica), both per extra region.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
SQS_CHUNK_BYTES = 64 * 1024
SNS_CHUNK_BYTES = 64 * 1024

Item = Mapping[str, Mapping[str, Any]]  # a DynamoDB attribute map, wire format ({"S": ...}, {"N": ...}, ...)

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


# --- item sizes -------------------------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """Bytes of a Number value: 1 per two significant digits (leading and trailing zeroes trimmed) + 1."""
    try:
        digits = Decimal(str(text).strip()).normalize().as_tuple().digits
    except InvalidOperation as exc:
        raise ValueError(f"not a DynamoDB number: {text!r}") from exc
    significant = len(digits) if any(digits) else 1
    return math.ceil(significant / 2) + 1


def _binary_len(value: Any) -> int:
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return len(base64.b64decode(value))  # wire JSON carries base64; the raw length counts


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value (without its name)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return _binary_len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(_binary_len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes of an item: the sum of its attribute names and values (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write units for one item write of ``size`` bytes (at least 1)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    """Read units for ``size`` bytes read as one unit of rounding (an item, or a whole Query page)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# --- schemas and index entries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexSchema:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    non_key_attributes: tuple[str, ...] = ()

    def entry(self, item: Item | None, table: TableSchema) -> dict[str, Any] | None:
        """The index entry of ``item`` (None when the item is not in this sparse index)."""
        if not item or self.hash_key not in item or (self.range_key and self.range_key not in item):
            return None
        if self.projection == "ALL":
            return dict(item)
        keep = {table.hash_key, self.hash_key}
        keep.update(k for k in (table.range_key, self.range_key) if k)
        if self.projection == "INCLUDE":
            keep.update(self.non_key_attributes)
        return {k: v for k, v in item.items() if k in keep}

    def partition(self, entry: Item) -> str:
        return _plain(entry[self.hash_key])


@dataclass(frozen=True)
class TableSchema:
    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[IndexSchema, ...] = ()
    ttl_attribute: str | None = None

    def key(self, item: Item) -> dict[str, Any]:
        key = {self.hash_key: item[self.hash_key]}
        if self.range_key:
            key[self.range_key] = item[self.range_key]
        return key

    def key_id(self, item_or_key: Item) -> tuple[str, str]:
        return (
            _plain(item_or_key[self.hash_key]),
            _plain(item_or_key[self.range_key]) if self.range_key else "",
        )

    @classmethod
    def from_description(cls, table: Mapping[str, Any], ttl_attribute: str | None = None) -> TableSchema:
        """From ``DescribeTable``'s ``Table`` (and ``DescribeTimeToLive``'s attribute when enabled)."""

        def keys(schema: Sequence[Mapping[str, str]]) -> tuple[str, str | None]:
            by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        hash_key, range_key = keys(table["KeySchema"])
        indexes = []
        for gsi in table.get("GlobalSecondaryIndexes") or ():
            ih, ir = keys(gsi["KeySchema"])
            projection = gsi.get("Projection") or {}
            indexes.append(
                IndexSchema(
                    gsi["IndexName"],
                    ih,
                    ir,
                    projection.get("ProjectionType", "ALL"),
                    tuple(projection.get("NonKeyAttributes") or ()),
                )
            )
        return cls(table["TableName"], hash_key, range_key, tuple(indexes), ttl_attribute)


def _plain(value: Mapping[str, Any]) -> str:
    ((_, data),) = value.items()
    if isinstance(data, bytes | bytearray):
        return base64.b64encode(bytes(data)).decode()
    return str(data)


# --- charges -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """Units of one price line for one item of one table (``index`` None = the base table)."""

    phase: str
    line: str  # WRU | RRU | rWRU | replica_WRU
    table: str
    index: str | None
    partition: str | None
    units: float
    why: str = ""  # put, update, delete, re-key, failed-condition, replicated, ttl, read...


@dataclass(frozen=True)
class IndexWrite:
    units: int
    effect: str  # none | put | delete | re-key | update
    partitions: tuple[tuple[str, int], ...] = ()  # (index partition key, units) per underlying index write


def index_write(index: IndexSchema, table: TableSchema, before: Item | None, after: Item | None) -> IndexWrite:
    """What a base-table change from ``before`` to ``after`` costs in ``index`` (GSI.html rules)."""
    old = index.entry(before, table)
    new = index.entry(after, table)
    if old is None and new is None:
        return IndexWrite(0, "none")
    if old is None:
        assert new is not None
        units = write_units(item_size(new))
        return IndexWrite(units, "put", ((index.partition(new), units),))
    if new is None:
        units = write_units(item_size(old))
        return IndexWrite(units, "delete", ((index.partition(old), units),))
    keys = [index.hash_key] + ([index.range_key] if index.range_key else [])
    if any(old[k] != new[k] for k in keys):
        deleted, put = write_units(item_size(old)), write_units(item_size(new))
        return IndexWrite(deleted + put, "re-key", ((index.partition(old), deleted), (index.partition(new), put)))
    if old == new:
        return IndexWrite(0, "none")
    units = write_units(max(item_size(old), item_size(new)))
    return IndexWrite(units, "update", ((index.partition(new), units),))


def write_charges(
    phase: str,
    table: TableSchema,
    key_id: tuple[str, str],
    before: Item | None,
    after: Item | None,
    *,
    transactional: bool = False,
    succeeded: bool = True,
    why: str = "",
) -> list[Charge]:
    """Every charge of one item write: base table, each GSI, and (per extra region) its replication."""
    partition = key_id[0]
    if not succeeded:  # failed condition (or a cancelled transaction's item): the item is unchanged
        units = write_units(item_size(before)) if before else 1
        return [Charge(phase, "WRU", table.name, None, partition, units, "failed condition")]
    size = max(item_size(before), item_size(after))
    why = why or ("delete" if after is None else ("put" if before is None else "update"))
    label = why + (" (tx)" if transactional else "")
    charges = [
        Charge(phase, "WRU", table.name, None, partition, write_units(size) * (2 if transactional else 1), label)
    ]
    if before == after:  # nothing changed: no index work, no stream record, nothing replicated
        return charges
    for index in table.indexes:
        effect = index_write(index, table, before, after)
        for index_partition, units in effect.partitions:
            charges.append(Charge(phase, "WRU", table.name, index.name, index_partition, units, effect.effect))
            charges.append(Charge(phase, "replica_WRU", table.name, index.name, index_partition, units, effect.effect))
    charges.append(Charge(phase, "rWRU", table.name, None, partition, write_units(size), "replicated " + why))
    return charges


def ttl_charges(phase: str, table: TableSchema, item: Item) -> list[Charge]:
    """The future TTL delete of ``item``: free here; a replicated delete (+ GSI deletes) in each replica."""
    partition = table.key_id(item)[0]
    charges = [Charge(phase, "rWRU", table.name, None, partition, write_units(item_size(item)), "ttl delete")]
    for index in table.indexes:
        effect = index_write(index, table, item, None)
        for index_partition, units in effect.partitions:
            charges.append(Charge(phase, "replica_WRU", table.name, index.name, index_partition, units, "ttl delete"))
    return charges


# --- the DynamoDB meter on a botocore client -------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteOp:
    """One write request as the conflict model needs it: which items it touched, and whether transactionally."""

    phase: str
    operation: str
    transactional: bool
    items: tuple[tuple[str, tuple[str, str]], ...]  # (table, key id)


# One call a workload made: (phase, operation, start, end, thread) — wall-clock ``time.perf_counter`` seconds and the
# calling thread's id, so a bench can tell calls made one after another from calls made at once.
Call = tuple[str, str, float, float, int]


@dataclass
class _Pending:
    operation: str
    params: dict[str, Any]
    keys: list[tuple[str, dict[str, Any], str]]  # (table, key, action) of every item written, in request order
    before: dict[tuple[str, tuple[str, str]], dict[str, Any] | None]
    started: float  # perf_counter when the call began


class _MeterCpu:
    """CPU seconds the meter spends, per thread (``time.thread_time``), so calls metered at once in several threads
    are not counted once per thread that happened to run meanwhile; and whether this thread is in the meter."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def busy(self) -> bool:
        return bool(getattr(self._local, "busy", False))

    @busy.setter
    def busy(self, value: bool) -> None:
        self._local.busy = value

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds


class DynamoMeter:
    """Attach to a DynamoDB client; ``raw`` is an un-metered client of the same endpoint (pre/post images, schemas).

    ``phase`` labels the charges of the calls that follow (set it around each part of a workload). ``meter_seconds``
    is the CPU spent in the meter itself (its un-metered reads included; summed per thread), for benches that
    subtract it. Calls may be made from several threads at once (a client is thread-safe; so is the meter).
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._schemas: dict[str, TableSchema] = {}
        self.phase = "other"
        self.charges: list[Charge] = []
        self.writes: list[WriteOp] = []
        self.calls: list[Call] = []  # every metered call
        self._cpu = _MeterCpu()
        self.enabled = True  # False: calls pass unmetered (e.g. while a bench times them)

    @property
    def meter_seconds(self) -> float:
        return self._cpu.seconds

    @property
    def busy(self) -> bool:
        """True while the meter itself calls the endpoint in this thread (its reads are not the workload's)."""
        return self._cpu.busy

    @busy.setter
    def busy(self, value: bool) -> None:
        self._cpu.busy = value

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    # schemas --------------------------------------------------------------------------------------------------------
    def schema(self, table_name: str) -> TableSchema:
        schema = self._schemas.get(table_name)
        if schema is None:
            table = self._raw.describe_table(TableName=table_name)["Table"]
            ttl = self._raw.describe_time_to_live(TableName=table_name).get("TimeToLiveDescription") or {}
            attribute = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None
            schema = self._schemas[table_name] = TableSchema.from_description(table, attribute)
        return schema

    # images ---------------------------------------------------------------------------------------------------------
    def _fetch(
        self, keys: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> dict[tuple[str, tuple[str, str]], dict[str, Any]]:
        """Full items by (table, key id), read strongly consistent through the un-metered client."""
        wanted: dict[tuple[str, tuple[str, str]], tuple[str, dict[str, Any]]] = {}
        for table, key in keys:
            schema = self.schema(table)
            wanted[(table, schema.key_id(key))] = (table, schema.key(key))
        found: dict[tuple[str, tuple[str, str]], dict[str, Any]] = {}
        pending = list(wanted.values())
        for start in range(0, len(pending), 100):
            request: dict[str, Any] = {}
            for table, key in pending[start : start + 100]:
                request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
            while request:
                response = self._raw.batch_get_item(RequestItems=request)
                for table, items in response.get("Responses", {}).items():
                    schema = self.schema(table)
                    for item in items:
                        found[(table, schema.key_id(item))] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    # hooks ----------------------------------------------------------------------------------------------------------
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.enabled:
            return
        began = time.perf_counter()
        start = time.thread_time()
        self.busy = True
        try:
            operation = model.name
            if operation in WRITE_OPERATIONS:
                keys = self._write_keys(operation, params)
                images = self._fetch((t, k) for t, k, _ in keys)
                before = {(t, self.schema(t).key_id(k)): images.get((t, self.schema(t).key_id(k))) for t, k, _ in keys}
                context["sesame_meter"] = _Pending(operation, params, keys, before, began)
            elif operation in READ_OPERATIONS:
                context["sesame_meter"] = _Pending(operation, params, [], {}, began)
        finally:
            self.busy = False
            self._cpu.add(time.thread_time() - start)

    def _after(
        self, http_response: Any, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        pending: _Pending | None = context.pop("sesame_meter", None)
        if pending is None:
            return
        ended = time.perf_counter()
        start = time.thread_time()
        self.busy = True
        try:
            self.calls.append((self.phase, pending.operation, pending.started, ended, threading.get_ident()))
            status = getattr(http_response, "status_code", 200)
            if pending.operation in WRITE_OPERATIONS:
                self._charge_write(pending, parsed, status)
            else:
                self._charge_read(pending, parsed, status)
        finally:
            self.busy = False
            self._cpu.add(time.thread_time() - start)

    # writes ---------------------------------------------------------------------------------------------------------
    def _write_keys(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, action) of every item a write request names, in request order."""
        if operation == "PutItem":
            return [(params["TableName"], self.schema(params["TableName"]).key(params["Item"]), "Put")]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], dict(params["Key"]), operation.removesuffix("Item"))]
        keys: list[tuple[str, dict[str, Any], str]] = []
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        keys.append((table, self.schema(table).key(request["PutRequest"]["Item"]), "Put"))
                    else:
                        keys.append((table, dict(request["DeleteRequest"]["Key"]), "Delete"))
            return keys
        for entry in params["TransactItems"]:  # TransactWriteItems
            ((kind, action),) = entry.items()
            table = action["TableName"]
            keys.append((table, self.schema(table).key(action["Item"]) if kind == "Put" else dict(action["Key"]), kind))
        return keys

    def _charge_write(self, pending: _Pending, parsed: Mapping[str, Any], status: int) -> None:
        operation = pending.operation
        ids = [(t, self.schema(t).key_id(k)) for t, k, _ in pending.keys]
        transactional = operation == "TransactWriteItems"
        self.writes.append(WriteOp(self.phase, operation, transactional, tuple(ids)))
        code = (parsed.get("Error") or {}).get("Code", "") if status >= 300 else ""
        failed = code == "ConditionalCheckFailedException"
        if code == "TransactionCanceledException":
            reasons = parsed.get("CancellationReasons") or []
            # cancelled by a failed condition: every item was prepared once; by a conflict or throttling: nothing
            # documented is charged, and the conflict model counts it instead
            failed = all((r or {}).get("Code") in (None, "None", "ConditionalCheckFailed") for r in reasons)
        if failed:
            for table, key_id in ids:
                before = pending.before[(table, key_id)]
                self.charges += write_charges(self.phase, self.schema(table), key_id, before, None, succeeded=False)
            return
        if code:  # validation, throttling, conflicts, missing table: nothing applied
            return
        unprocessed: set[tuple[str, tuple[str, str]]] = set()
        if operation == "BatchWriteItem":
            for table, requests in (parsed.get("UnprocessedItems") or {}).items():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                    unprocessed.add((table, self.schema(table).key_id(body)))
        applied = [(entry, i) for entry, i in zip(pending.keys, ids, strict=True) if i not in unprocessed]
        after = self._fetch((t, k) for (t, k, _), _i in applied)
        for (table, _, action), key_id in applied:
            self.charges += write_charges(
                self.phase,
                self.schema(table),
                key_id[1],
                pending.before[key_id],
                after.get(key_id),
                transactional=transactional,
                why="condition check" if action == "ConditionCheck" else "",
            )

    # reads ----------------------------------------------------------------------------------------------------------
    def _charge_read(self, pending: _Pending, parsed: Mapping[str, Any], status: int) -> None:
        if status >= 300:
            return
        operation, params = pending.operation, pending.params
        if operation == "GetItem":
            table = params["TableName"]
            items = self._fetch([(table, params["Key"])])
            item = items.get((table, self.schema(table).key_id(params["Key"])))
            units = read_units(item_size(item), consistent=bool(params.get("ConsistentRead")))
            self._read(table, None, units, "get")
        elif operation == "BatchGetItem":
            unprocessed = parsed.get("UnprocessedKeys") or {}
            for table, request in params["RequestItems"].items():
                schema = self.schema(table)
                skipped = {schema.key_id(k) for k in (unprocessed.get(table) or {}).get("Keys", [])}
                keys = [k for k in request["Keys"] if schema.key_id(k) not in skipped]
                items = self._fetch((table, k) for k in keys)
                consistent = bool(request.get("ConsistentRead"))
                units = sum(
                    read_units(item_size(items.get((table, schema.key_id(k)))), consistent=consistent) for k in keys
                )
                self._read(table, None, units, "batch get")
        elif operation == "TransactGetItems":
            for entry in params["TransactItems"]:
                get = entry["Get"]
                items = self._fetch([(get["TableName"], get["Key"])])
                item = items.get((get["TableName"], self.schema(get["TableName"]).key_id(get["Key"])))
                self._read(get["TableName"], None, 2 * read_units(item_size(item), consistent=True), "transact get")
        else:  # Query / Scan: the items evaluated, summed, then rounded
            table = params["TableName"]
            index_name = params.get("IndexName")
            evaluated = self._evaluated(operation, params)
            schema = self.schema(table)
            full = self._fetch((table, schema.key(i)) for i in evaluated)
            total = 0
            index = next((ix for ix in schema.indexes if ix.name == index_name), None) if index_name else None
            for item in evaluated:
                whole = full.get((table, schema.key_id(item)), item)
                total += item_size(index.entry(whole, schema) if index else whole)
            consistent = bool(params.get("ConsistentRead")) and index is None
            self._read(table, index_name, read_units(total, consistent=consistent), operation.lower())

    def _evaluated(self, operation: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The items a Query/Scan page evaluated: the same page re-read without filter or projection."""
        keep = ("TableName", "IndexName", "Limit", "ExclusiveStartKey", "ScanIndexForward", "Segment", "TotalSegments")
        again: dict[str, Any] = {k: params[k] for k in keep if k in params}
        condition = params.get("KeyConditionExpression")
        if condition:
            again["KeyConditionExpression"] = condition
            names = {k: v for k, v in (params.get("ExpressionAttributeNames") or {}).items() if k in condition}
            values = {k: v for k, v in (params.get("ExpressionAttributeValues") or {}).items() if k in condition}
            if names:
                again["ExpressionAttributeNames"] = names
            if values:
                again["ExpressionAttributeValues"] = values
        call = self._raw.query if operation == "Query" else self._raw.scan
        return list(call(**again).get("Items", []))

    def _read(self, table: str, index: str | None, units: float, why: str) -> None:
        self.charges.append(Charge(self.phase, "RRU", table, index, None, units, why))

    # end of run -----------------------------------------------------------------------------------------------------
    def finalize(self, phase: str = "ttl") -> list[tuple[TableSchema, dict[str, Any]]]:
        """Charge the future TTL deletes of every item that carries its table's TTL attribute now; returns every
        item of every metered table (schema, item), e.g. for a storage figure."""
        items: list[tuple[TableSchema, dict[str, Any]]] = []
        self.busy = True
        try:
            for name, schema in list(self._schemas.items()):
                kwargs: dict[str, Any] = {"TableName": name}
                while True:
                    page = self._raw.scan(**kwargs)
                    for item in page.get("Items", []):
                        items.append((schema, item))
                        if schema.ttl_attribute and schema.ttl_attribute in item:
                            self.charges += ttl_charges(phase, schema, item)
                    if not page.get("LastEvaluatedKey"):
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        finally:
            self.busy = False
        return items

    # summaries ------------------------------------------------------------------------------------------------------
    def total(self, line: str, phases: Iterable[str] | None = None) -> float:
        wanted = set(phases) if phases is not None else None
        return sum(c.units for c in self.charges if c.line == line and (wanted is None or c.phase in wanted))

    def by_table(self) -> dict[tuple[str, str, str, str], float]:
        """{(phase, line, table, index or "-"): units}."""
        out: dict[tuple[str, str, str, str], float] = defaultdict(float)
        for c in self.charges:
            out[(c.phase, c.line, c.table, c.index or "-")] += c.units
        return dict(out)

    def partition_units(self, phases: Iterable[str] | None = None) -> Counter[tuple[str, str, str]]:
        """Local write units per (table, index or "-", partition key value): the input of the heat figure."""
        wanted = set(phases) if phases is not None else None
        heat: Counter[tuple[str, str, str]] = Counter()
        for c in self.charges:
            if c.line == "WRU" and c.partition is not None and (wanted is None or c.phase in wanted):
                heat[(c.table, c.index or "-", c.partition)] += c.units
        return heat


# --- messaging and Lambda ------------------------------------------------------------------------------------------


def _sqs_attributes_size(attributes: Mapping[str, Mapping[str, Any]] | None) -> int:
    size = 0
    for name, value in (attributes or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "StringValue" in value:
            size += len(str(value["StringValue"]).encode("utf-8"))
        if "BinaryValue" in value:
            size += _binary_len(value["BinaryValue"])
    return size


def sqs_requests(operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> int:
    """Billed SQS requests of one call: every 64 KB chunk of payload is one request (batch entries summed)."""
    payload = 0
    if operation == "SendMessage":
        payload = len(params["MessageBody"].encode("utf-8")) + _sqs_attributes_size(params.get("MessageAttributes"))
    elif operation == "SendMessageBatch":
        payload = sum(
            len(e["MessageBody"].encode("utf-8")) + _sqs_attributes_size(e.get("MessageAttributes"))
            for e in params["Entries"]
        )
    elif operation == "ReceiveMessage":
        payload = sum(
            len(m.get("Body", "").encode("utf-8")) + _sqs_attributes_size(m.get("MessageAttributes"))
            for m in parsed.get("Messages", [])
        )
    return max(1, math.ceil(payload / SQS_CHUNK_BYTES))


class SqsMeter:
    """Attach to an SQS client; counts billed requests per (phase, operation)."""

    def __init__(self) -> None:
        self.phase = "other"
        self.requests: Counter[tuple[str, str]] = Counter()
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.sqs", self._before)
        client.meta.events.register("after-call.sqs", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["sesame_sqs_params"] = (params, time.perf_counter())

    def _after(self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params, started = context.pop("sesame_sqs_params", ({}, None))
        self.count(model.name, params, parsed, started=started)

    def count(
        self,
        operation: str,
        params: Mapping[str, Any],
        parsed: Mapping[str, Any] | None = None,
        *,
        started: float | None = None,
    ) -> None:
        """Count one request; also for requests AWS makes on the workload's behalf (SNS deliveries, event source
        mapping polls), which a bench simulates instead of sending."""
        ended = time.perf_counter()
        with self._lock:
            self.calls.append(
                (self.phase, operation, ended if started is None else started, ended, threading.get_ident())
            )
            self.requests[(self.phase, operation)] += sqs_requests(operation, params, parsed or {})

    def total(self) -> int:
        return sum(self.requests.values())


def sns_publish_requests(message_bytes: int) -> int:
    """Billed SNS publish requests for one message: every 64 KB chunk is one request."""
    return max(1, math.ceil(message_bytes / SNS_CHUNK_BYTES))


@dataclass
class Usage:
    """Everything a workload used, in billed units (the cost model's input). Emails = messages SES accepted."""

    emails: int
    dynamo: DynamoMeter
    sqs: SqsMeter
    sns_publishes: int = 0
    sns_filter_bytes: int = 0  # payload scanned by MessageBody filter policies (per subscription)
    lambda_invocations: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    def per_email(self, value: float) -> float:
        return value / self.emails if self.emails else 0.0
