"""Small helpers over the low-level DynamoDB client: (de)serialisation and batch calls that retry unprocessed items.

The low-level client is used everywhere (the resource layer is slower to import and to run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from runtime.stores import attrs
from runtime.stores.schema import CounterClock, counter_clock_updates

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACT_LIMIT = 100


class DynamoUnavailableError(RuntimeError):
    """DynamoDB kept returning unprocessed items/throttling after retries (transient: retry the work later)."""


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """Python mapping -> DynamoDB attribute map (floats become Decimals, None values are dropped; ``attrs``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = Decimal(str(value))
        out[key] = attrs.serialize(value)
    return out


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute map -> plain Python (numbers become int/float; ``attrs``)."""
    # strings (most attributes) read here: attrs.deserialize's first rule, without a call per attribute
    return {key: value["S"] if "S" in value else attrs.deserialize(value) for key, value in item.items()}


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_get(
    client: Any,
    requests: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
    consistent: bool | Collection[str] = True,
) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem over several tables (keys as attribute maps), following UnprocessedKeys with backoff.

    Returns raw attribute maps per table. Chunks to 100 keys per request across all tables. ``consistent``: strongly
    consistent reads (1 unit per 4 KB) or eventually consistent ones (half), or the names of the tables to read
    strongly: read eventually only where a stale answer is safe (a conditional write that follows catches it, or a
    read-only answer).
    """
    flat = [(table, dict(key)) for table, keys in requests.items() for key in keys]
    result: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    for chunk in chunks(flat, BATCH_GET_LIMIT):
        pending: dict[str, Any] = {}
        for table, key in chunk:
            strong = consistent if isinstance(consistent, bool) else table in consistent
            pending.setdefault(table, {"Keys": [], "ConsistentRead": strong})["Keys"].append(key)
        for attempt in range(attempts):
            response = client.batch_get_item(RequestItems=pending)
            for table, items in response.get("Responses", {}).items():
                result[table].extend(items)
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise DynamoUnavailableError("BatchGetItem left unprocessed keys after retries")
    return result


def batch_write(
    client: Any,
    table: str,
    puts: Sequence[Mapping[str, Any]] = (),
    deletes: Sequence[Mapping[str, Any]] = (),
    *,
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """BatchWriteItem (idempotent puts/deletes only), following UnprocessedItems with backoff. Returns requests made."""
    requests_made = 0
    ops = [{"PutRequest": {"Item": dict(item)}} for item in puts] + [
        {"DeleteRequest": {"Key": dict(key)}} for key in deletes
    ]
    for chunk in chunks(ops, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        for attempt in range(attempts):
            response = client.batch_write_item(RequestItems=pending)
            requests_made += 1
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise DynamoUnavailableError("BatchWriteItem left unprocessed items after retries")
    return requests_made


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def advance_counter_clocks(
    client: Any,
    clocks: Iterable[CounterClock],
    *,
    attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run :func:`runtime.stores.schema.counter_clock_updates` for each clock; returns how many could not be applied.

    A failed condition is the normal "already newer / older" answer. Throttling is retried with backoff; what still
    fails is reported (the caller logs it), never raised: the counters are already written, and the next write to
    the same item moves its times on (they are a maximum and a minimum, so nothing is lost but a little TTL).
    """
    failed = 0
    for clock in clocks:
        advance, rewind = counter_clock_updates(clock)
        old = _conditional_update(client, advance, attempts=attempts, sleep=sleep)
        if old is _FAILED:
            failed += 1
            continue
        known_first = old.get("first_event_at", {}).get("S") if isinstance(old, dict) else None
        if known_first is not None and known_first <= clock.first_at:
            continue
        if _conditional_update(client, rewind, attempts=attempts, sleep=sleep) is _FAILED:
            failed += 1
    return failed


def move_counter_clocks(
    client: Any,
    moves: Iterable[tuple[CounterClock, bool, bool]],
    *,
    attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """``(clock, advance, rewind)``: the :func:`runtime.stores.schema.counter_clock_updates` a writer that knows
    the item as it was needs (the last event time is newer / the first one older); returns how many could not be
    applied (reported, never raised, as by :func:`advance_counter_clocks`)."""
    failed = 0
    for clock, advance, rewind in moves:
        updates = counter_clock_updates(clock)
        for needed, update in zip((advance, rewind), updates, strict=True):
            if needed and _conditional_update(client, update, attempts=attempts, sleep=sleep) is _FAILED:
                failed += 1
    return failed


_FAILED = object()


def _conditional_update(
    client: Any, request: Mapping[str, Any], *, attempts: int, sleep: Callable[[float], None]
) -> Any:
    """UpdateItem; the old item (attribute map) on success or on a failed condition, ``_FAILED`` after retries."""
    for attempt in range(attempts):
        try:
            response = client.update_item(**request)
        except Exception as exc:
            code = _error_code(exc)
            if code == "ConditionalCheckFailedException":
                return getattr(exc, "response", {}).get("Item") or {}
            if code in _TRANSIENT_CODES or (not code and _is_transport_error(exc)):
                sleep(min(0.05 * 2**attempt, 1.0))
                continue
            if code:
                return _FAILED  # e.g. AccessDenied: reported by the caller
            raise
        return response.get("Attributes") or {}
    return _FAILED


def _is_transport_error(exc: Exception) -> bool:
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - botocore is always there with boto3
        return False
    return isinstance(exc, BotoCoreError)


# Error codes (and transport failures) after which the same call may simply be made again.
TRANSIENT_CODES = frozenset(
    {
        "TransactionConflict",
        "TransactionConflictException",
        "TransactionInProgressException",
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


error_code = _error_code  # the error code of a botocore ClientError ("" for anything else)


def is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx answer, or a transport failure (reset, timeout): trying again may succeed."""
    code = error_code(exc)  # type: ignore[arg-type]
    if code:
        status = int(((getattr(exc, "response", None) or {}).get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        return code in TRANSIENT_CODES or status >= 500
    return isinstance(exc, Exception) and _is_transport_error(exc)


def with_retries(
    call: Callable[[], Any],
    *,
    attempts: int = 3,
    base_delay: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Application-level retries of one small, idempotent call (botocore has already retried it): at most
    ``attempts`` tries, backing off ``base_delay * 4**n``; the last transient error is raised."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            sleep(base_delay * 4**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def cancellation_reasons(exc: BaseException) -> list[str]:
    """The per-item ``CancellationReasons`` codes of a ``TransactionCanceledException`` (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return [str(reason.get("Code")) for reason in response.get("CancellationReasons") or []]
