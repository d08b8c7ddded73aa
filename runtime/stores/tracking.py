"""``DynamoTrackingStore``: the ingest engine's store over the low-level DynamoDB client (docs/DESIGN.md tables).

* ``load``: one ``BatchGetItem`` per 100 keys (messages summaries + SOFTBOUNCE counters + ALL suppressions), the
  suppressions table strongly consistent only when ALL items are among them (``TrackingStore.load``);
* ``commit``: a :class:`runtime.ingest.ports.Transaction` of one summary alone is one conditional ``PutItem``
  (``version`` condition, or ``attribute_not_exists`` for a new summary: one write unit); any other is one
  ``TransactWriteItems`` — summaries ``Put`` under the same conditions, SOFTBOUNCE ``Put``/``Delete`` under their own
  version condition, ALL-scope suppression ``Update``. A failed condition is returned as conflicting keys (the
  engine re-reads them); ``TransactionConflict`` and throttling are retried here with backoff. Campaign counters
  are the stream consumer's (``runtime.ingest.stream``);
* ``ensure_campaign``: conditional ``PutItem`` of a ``META`` item (``status`` = ``external``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from runtime.ingest.ports import CommitResult, Snapshot, TrackingStoreUnavailableError, Transaction
from runtime.logs import get_logger
from runtime.settings import Settings
from runtime.stores import dynamo
from runtime.stores.schema import LISTING_PK, META, SOFTBOUNCE_SCOPE
from runtime.stores.wire import ItemJson

_log = get_logger(__name__)

ALL_SCOPE = "ALL"
_RETRYABLE_CODES = dynamo.TRANSIENT_CODES


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class DynamoTrackingStore:
    def __init__(
        self,
        client: Any,
        *,
        messages_table: str,
        campaigns_table: str,
        suppressions_table: str,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._item_json = getattr(client, "accepts_item_json", False) is True
        self.messages_table = messages_table
        self.campaigns_table = campaigns_table
        self.suppressions_table = suppressions_table
        self._attempts = attempts
        self._sleep = sleep

    @classmethod
    def from_settings(cls, client: Any, settings: Settings) -> DynamoTrackingStore:
        return cls(
            client,
            messages_table=settings.messages_table,
            campaigns_table=settings.campaigns_table,
            suppressions_table=settings.suppressions_table,
        )

    # --- reads ----------------------------------------------------------------------------------------------------

    def load(
        self,
        message_ids: Collection[str],
        softbounce_hashes: Collection[str],
        suppression_hashes: Collection[str],
        *,
        consistent: bool = False,
    ) -> Snapshot:
        requests: dict[str, list[dict[str, Any]]] = {}
        if message_ids:
            requests[self.messages_table] = [{"message_id": {"S": mid}} for mid in message_ids]
        keys = [{"recipient_hash": {"S": h}, "scope": {"S": SOFTBOUNCE_SCOPE}} for h in softbounce_hashes]
        keys += [{"recipient_hash": {"S": h}, "scope": {"S": ALL_SCOPE}} for h in suppression_hashes]
        if keys:
            requests[self.suppressions_table] = keys
        snap = Snapshot()
        if not requests:
            return snap
        try:
            # summaries and SOFTBOUNCE items eventually consistent (half a unit), ALL suppressions strongly: see
            # TrackingStore.load. ConsistentRead is per table in a BatchGetItem, so a batch that needs ALL items (a
            # bounce, a complaint, an unsubscribe: a few per hundred emails) reads its SOFTBOUNCE items strongly too
            strong: bool | set[str] = True
            if not consistent:
                strong = {self.suppressions_table} if suppression_hashes else set()
            response = dynamo.batch_get(self._client, requests, sleep=self._sleep, consistent=strong)
        except dynamo.DynamoUnavailableError as exc:
            raise TrackingStoreUnavailableError(str(exc)) from exc
        except Exception as exc:
            raise self._unavailable("BatchGetItem", exc) from exc
        for raw in response.get(self.messages_table, []):
            item = dynamo.from_item(raw)
            snap.summaries[str(item["message_id"])] = item
        for raw in response.get(self.suppressions_table, []):
            item = dynamo.from_item(raw)
            target = snap.softbounce if item.get("scope") == SOFTBOUNCE_SCOPE else snap.suppressions
            target[str(item["recipient_hash"])] = item
        return snap

    # --- writes ---------------------------------------------------------------------------------------------------

    def commit(self, tx: Transaction) -> CommitResult:
        if len(tx.messages) == 1 and not tx.recipients:
            return self._put_summary(tx)
        items, keys = self._transact_items(tx)
        # one token for every retry of these items: DynamoDB answers a retry of a transaction that was applied (its
        # answer lost) with success instead of failing its version conditions (a changed transaction gets a new one)
        token = str(uuid.uuid4())
        for attempt in range(self._attempts):
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            except Exception as exc:
                code = _error_code(exc)
                if code == "TransactionCanceledException":
                    reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
                    result = CommitResult(ok=False)
                    for (kind, key), reason in zip(keys, reasons, strict=False):
                        if reason.get("Code") == "ConditionalCheckFailed":
                            if kind == "message":
                                result.conflict_messages.add(key)
                            else:
                                result.conflict_recipients.add(key)
                    if result.conflict_messages or result.conflict_recipients:
                        return result
                    if not all(r.get("Code") in _RETRYABLE_CODES | {"None", None} for r in reasons):
                        raise TrackingStoreUnavailableError(
                            "TransactWriteItems cancelled: " + ",".join(str(r.get("Code")) for r in reasons)
                        ) from exc
                elif (code and code not in _RETRYABLE_CODES) or (not code and not _is_transport_error(exc)):
                    raise
                _log.info("transaction retry", extra={"attempt": attempt + 1, "code": code or type(exc).__name__})
                self._sleep(min(0.05 * 2**attempt, 1.0))
            else:
                return CommitResult(ok=True)
        raise TrackingStoreUnavailableError("TransactWriteItems kept failing transiently")

    def _put_summary(self, tx: Transaction) -> CommitResult:
        """One summary, one conditional PutItem. A retry after a lost answer finds its own write applied: the
        condition fails, the engine re-reads the summary and finds the events there (duplicates: nothing more)."""
        (put,) = (entry["Put"] for entry in self._transact_items(tx)[0])
        for attempt in range(self._attempts):
            try:
                self._client.put_item(**put)
            except Exception as exc:
                code = _error_code(exc)
                if code == "ConditionalCheckFailedException":
                    return CommitResult(ok=False, conflict_messages={tx.messages[0].message_id})
                if (code and code not in _RETRYABLE_CODES) or (not code and not _is_transport_error(exc)):
                    raise
                _log.info("summary write retry", extra={"attempt": attempt + 1, "code": code or type(exc).__name__})
                self._sleep(min(0.05 * 2**attempt, 1.0))
            else:
                return CommitResult(ok=True)
        raise TrackingStoreUnavailableError("PutItem kept failing transiently")

    def ensure_campaign(self, campaign_id: str, created_at: str, data_expires_at: int) -> bool:
        item = {
            "campaign_id": campaign_id,
            "sk": META,
            "status": "external",
            "listing_pk": LISTING_PK,
            "created_at": created_at,
            "data_expires_at": data_expires_at,
        }
        try:
            self._client.put_item(
                TableName=self.campaigns_table,
                Item=dynamo.to_item(item),
                ConditionExpression="attribute_not_exists(campaign_id)",
            )
        except Exception as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise self._unavailable("PutItem", exc) from exc
        return True

    # --- building the transaction ---------------------------------------------------------------------------------

    def _transact_items(self, tx: Transaction) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        items: list[dict[str, Any]] = []
        keys: list[tuple[str, str]] = []
        for plan in tx.messages:
            put: dict[str, Any] = {"TableName": self.messages_table, "Item": self._item(plan.item)}
            if plan.created:
                put["ConditionExpression"] = "attribute_not_exists(message_id)"
            elif plan.expected_version is None:
                put["ConditionExpression"] = "attribute_exists(message_id) AND attribute_not_exists(version)"
            else:
                put["ConditionExpression"] = "version = :seen"
                put["ExpressionAttributeValues"] = {":seen": {"N": str(plan.expected_version)}}
            items.append({"Put": put})
            keys.append(("message", plan.message_id))
        for rp in tx.recipients:
            key = {"recipient_hash": {"S": rp.recipient_hash}, "scope": {"S": SOFTBOUNCE_SCOPE}}
            if rp.softbounce_delete:
                items.append(
                    {
                        "Delete": {
                            "TableName": self.suppressions_table,
                            "Key": key,
                            "ConditionExpression": "version = :seen",
                            "ExpressionAttributeValues": {":seen": {"N": str(rp.softbounce_expected_version or 0)}},
                        }
                    }
                )
                keys.append(("recipient", rp.recipient_hash))
            elif rp.softbounce is not None:
                put = {"TableName": self.suppressions_table, "Item": self._item(rp.softbounce)}
                if rp.softbounce_expected_version is None:
                    put["ConditionExpression"] = "attribute_not_exists(recipient_hash)"
                else:
                    put["ConditionExpression"] = "version = :seen"
                    put["ExpressionAttributeValues"] = {":seen": {"N": str(rp.softbounce_expected_version)}}
                items.append({"Put": put})
                keys.append(("recipient", rp.recipient_hash))
            if rp.suppression is not None:
                update = self._suppression_update(rp.recipient_hash, rp.suppression)
                # merged from what was read: a concurrent writer (unsubscribe, manual suppression, erasure) makes
                # the condition fail, and the engine re-reads and merges again instead of overwriting its change
                if not rp.suppression_existed:
                    update["ConditionExpression"] = "attribute_not_exists(recipient_hash)"
                elif rp.suppression_expected_reason is None:
                    update["ConditionExpression"] = "attribute_exists(recipient_hash) AND attribute_not_exists(#sr)"
                    update["ExpressionAttributeNames"]["#sr"] = "reason"
                else:
                    update["ConditionExpression"] = "#sr = :sr"
                    update["ExpressionAttributeNames"]["#sr"] = "reason"
                    update["ExpressionAttributeValues"][":sr"] = {"S": rp.suppression_expected_reason}
                items.append({"Update": update})
                keys.append(("suppression", rp.recipient_hash))
        return items, keys

    def _item(self, data: dict[str, Any]) -> Any:
        """A Put's ``Item``: JSON text for a client that sends it as is (``DirectDynamo``: no attribute-value
        dictionaries built and then encoded), else the attribute map."""
        if self._item_json:
            try:
                return ItemJson(data)
            except TypeError:  # bytes, or a value DynamoDB cannot hold: to_item takes it or raises as it always did
                pass
        return dynamo.to_item(data)

    def _suppression_update(self, recipient_hash: str, attrs: dict[str, Any]) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (name, value) in enumerate(sorted(attrs.items())):
            if name in ("recipient_hash", "scope") or value is None:
                continue
            names[f"#a{i}"] = name
            values[f":a{i}"] = dynamo.to_item({"v": value})["v"]
            sets.append(f"#a{i} = :a{i}")
        expression = "SET " + ", ".join(sets)
        if attrs.get("expires_at") is None:
            names["#exp"] = "expires_at"
            expression += " REMOVE #exp"
        return {
            "TableName": self.suppressions_table,
            "Key": {"recipient_hash": {"S": recipient_hash}, "scope": {"S": ALL_SCOPE}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    @staticmethod
    def _unavailable(operation: str, exc: Exception) -> Exception:
        code = _error_code(exc)
        if code in _RETRYABLE_CODES or (not code and _is_transport_error(exc)):
            return TrackingStoreUnavailableError(f"{operation}: {code or type(exc).__name__}")
        return exc


def _is_transport_error(exc: Exception) -> bool:
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - botocore is always there with boto3
        return False
    return isinstance(exc, BotoCoreError)
