"""Stores of the transactional send API (``POST /messages``): idempotency records and queued-message items.

Idempotency record (control table, ``pk`` = ``IDEMP#<key hash>``, ``sk`` = ``REQUEST``; keys in ``schema``):
``body_hash``, ``state`` (``pending`` while the first request runs, ``done`` with its answer), ``owner`` (the
request that holds it), ``lease_until`` (a ``pending`` record whose request died is taken over after it),
``status_code`` + ``answer`` (the first answer, replayed), ``expires_at`` (TTL: 24 h).

``begin`` is one conditional ``PutItem``: two concurrent requests with the same key cannot both pass it, so a
duplicate never sends. A put whose answer was lost and that botocore sent again fails its condition; the record then
read back names this request as ``owner`` and is recognised as its own.

Queued-message item (messages table, ``message_id`` = ``schema.queued_message_id(job id)``): written when a message
is queued rather than sent at once, so its id resolves through ``GET /messages/{id}`` immediately. It holds the job
id (the pointer to the SES message once sent), the recipient's hash and masked address (never the full address: the
item is outside ``recipient-index``, where erasure looks), campaign and list, and expires with the job record.
It carries no ``campaign_shard``/``sent_at``, so it never appears in campaign listings or recipient lookups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from runtime.stores import dynamo
from runtime.stores.schema import IDEMPOTENCY_SK, STATUS_RANK, UNTAGGED, idempotency_pk

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
QUEUED_TTL_SECONDS = 14 * 86_400  # as long as the send job's record (ledger.JOB_TTL_SECONDS)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key_hash: str
    body_hash: str
    owner: str
    state: Literal["pending", "done"]
    lease_until: float
    expires_at: int
    status_code: int = 0
    answer: str = ""  # the first answer's JSON body


class IdempotencyStore(Protocol):
    def begin(self, key_hash: str, body_hash: str, owner: str, lease_seconds: float) -> IdempotencyRecord | None:
        """Take the key for ``owner``: None when taken (new, expired, or a dead request's), else the live record
        that holds it (``done`` with its answer, or ``pending``)."""
        ...

    def complete(self, key_hash: str, owner: str, status_code: int, answer: str) -> None: ...

    def abandon(self, key_hash: str, owner: str) -> None:
        """Give the key back (the request failed before any answer worth replaying): a retry runs again."""
        ...


class DynamoIdempotencyStore:
    def __init__(self, client: Any, table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    @staticmethod
    def _key(key_hash: str) -> dict[str, Any]:
        return {"pk": {"S": idempotency_pk(key_hash)}, "sk": {"S": IDEMPOTENCY_SK}}

    def begin(self, key_hash: str, body_hash: str, owner: str, lease_seconds: float) -> IdempotencyRecord | None:
        now = self._clock()
        item = {
            **self._key(key_hash),
            "body_hash": {"S": body_hash},
            "owner": {"S": owner},
            "state": {"S": "pending"},
            "lease_until": {"N": f"{now + lease_seconds:.3f}"},
            "expires_at": {"N": str(int(now) + IDEMPOTENCY_TTL_SECONDS)},
        }
        try:
            dynamo.with_retries(
                lambda: self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    # new; or expired (TTL deletion lags); or a dead request's, same body; or our own lost put
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR expires_at < :now_s OR #owner = :owner OR "
                        "(#state = :pending AND lease_until < :now AND body_hash = :body)"
                    ),
                    ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
                    ExpressionAttributeValues={
                        ":now_s": {"N": str(int(now))},
                        ":now": {"N": f"{now:.3f}"},
                        ":owner": {"S": owner},
                        ":pending": {"S": "pending"},
                        ":body": {"S": body_hash},
                    },
                )
            )
            return None
        except Exception as exc:
            if dynamo.error_code(exc) != "ConditionalCheckFailedException":
                raise
        response = dynamo.with_retries(
            lambda: self._client.get_item(TableName=self._table, Key=self._key(key_hash), ConsistentRead=True)
        )
        found = response.get("Item")
        if not found:  # expired and deleted in between: try once more
            return self.begin(key_hash, body_hash, owner, lease_seconds)
        return IdempotencyRecord(
            key_hash=key_hash,
            body_hash=found["body_hash"]["S"],
            owner=found["owner"]["S"],
            state="done" if found["state"]["S"] == "done" else "pending",
            lease_until=float(found.get("lease_until", {}).get("N", "0")),
            expires_at=int(found.get("expires_at", {}).get("N", "0")),
            status_code=int(found.get("status_code", {}).get("N", "0")),
            answer=found.get("answer", {}).get("S", ""),
        )

    def complete(self, key_hash: str, owner: str, status_code: int, answer: str) -> None:
        dynamo.with_retries(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=self._key(key_hash),
                UpdateExpression="SET #state = :done, status_code = :code, answer = :answer REMOVE lease_until",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
                ExpressionAttributeValues={
                    ":done": {"S": "done"},
                    ":code": {"N": str(status_code)},
                    ":answer": {"S": answer},
                    ":owner": {"S": owner},
                },
            )
        )

    def abandon(self, key_hash: str, owner: str) -> None:
        try:
            dynamo.with_retries(
                lambda: self._client.delete_item(
                    TableName=self._table,
                    Key=self._key(key_hash),
                    ConditionExpression="#owner = :owner AND #state = :pending",
                    ExpressionAttributeNames={"#owner": "owner", "#state": "state"},
                    ExpressionAttributeValues={":owner": {"S": owner}, ":pending": {"S": "pending"}},
                )
            )
        except Exception as exc:
            if dynamo.error_code(exc) != "ConditionalCheckFailedException":
                raise


class InMemoryIdempotencyStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.records: dict[str, IdempotencyRecord] = {}

    def begin(self, key_hash: str, body_hash: str, owner: str, lease_seconds: float) -> IdempotencyRecord | None:
        now = self._clock()
        found = self.records.get(key_hash)
        takeover = found is not None and (
            found.expires_at < now
            or found.owner == owner
            or (found.state == "pending" and found.lease_until < now and found.body_hash == body_hash)
        )
        if found is None or takeover:
            self.records[key_hash] = IdempotencyRecord(
                key_hash, body_hash, owner, "pending", now + lease_seconds, int(now) + IDEMPOTENCY_TTL_SECONDS
            )
            return None
        return found

    def complete(self, key_hash: str, owner: str, status_code: int, answer: str) -> None:
        found = self.records[key_hash]
        if found.owner == owner:
            self.records[key_hash] = replace(found, state="done", status_code=status_code, answer=answer)

    def abandon(self, key_hash: str, owner: str) -> None:
        found = self.records.get(key_hash)
        if found is not None and found.owner == owner and found.state == "pending":
            del self.records[key_hash]


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    message_id: str
    job_id: str
    recipient_masked: str
    recipient_hash: str
    campaign_id: str | None
    list_name: str | None
    queued_at: str  # ISO-8601
    reason: str = ""  # why it was not sent at once (pacing, quota, a transient SES failure)


class QueuedMessageStore(Protocol):
    def put_queued(self, messages: list[QueuedMessage]) -> None: ...


class DynamoQueuedMessageStore:
    def __init__(self, client: Any, table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def put_queued(self, messages: list[QueuedMessage]) -> None:
        expires = int(self._clock()) + QUEUED_TTL_SECONDS
        for m in messages:  # a handful per request; PutItem of the same content is idempotent
            item = {
                "message_id": {"S": m.message_id},
                "status": {"S": "queued"},
                "status_rank": {"N": str(STATUS_RANK["queued"])},
                "job_id": {"S": m.job_id},
                "recipient": {"S": m.recipient_masked},
                "recipient_hash": {"S": m.recipient_hash},
                "campaign_id": {"S": m.campaign_id or UNTAGGED},
                "list_name": {"S": m.list_name or UNTAGGED},
                "queued_at": {"S": m.queued_at},
                "expires_at": {"N": str(expires)},
            }
            if m.reason:
                item["queued_reason"] = {"S": m.reason[:300]}
            self._put(item)

    def _put(self, item: dict[str, Any]) -> None:
        dynamo.with_retries(lambda: self._client.put_item(TableName=self._table, Item=item))


class InMemoryQueuedMessageStore:
    def __init__(self) -> None:
        self.items: dict[str, QueuedMessage] = {}

    def put_queued(self, messages: list[QueuedMessage]) -> None:
        for m in messages:
            self.items[m.message_id] = m
