"""Did SES accept a unit whose answer sesame never got? Ask SES's own Send events.

Every message the sender hands to SES carries the message tag ``sesame_send_id`` (``ledger.send_id``: the same for
every attempt of one unit). SES copies the message's tags into every event it publishes for it; the ingestion
engine keeps the tag on the message summary (``messages.send_id``). So a unit whose SES answer was lost (a reset
connection, a read timeout, a Lambda killed before it wrote the outcome) is resolved by looking for a summary with
its send id: found -> SES accepted it (and that is its MessageId); not found once the grace period has passed and no
SES event can still be on its way (the region's event queues and their DLQs are empty) -> SES never accepted it, and
it may be sent again (docs/sending.md).

The lookup is a ``Query`` on the messages table's ``recipient-index`` (the recipient's hash, ``sent_at`` from the
start of the window less a clock-skew margin) with a filter on ``send_id``: reads only, and only on this rare path —
no write per email is spent on it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from runtime.logs import get_logger
from runtime.stores import dynamo
from runtime.stores.schema import iso

log = get_logger(__name__)

SEND_ID_TAG = "sesame_send_id"
CLOCK_SKEW_SECONDS = 300.0  # SES's mail.timestamp against the Lambda's clock


# Found and InMemorySendResolver are plain classes, not dataclasses: built at import by every sender cold start,
# where a dataclass compiles its generated methods (~0.3-0.5 ms a class). Neither is compared or hashed.
class Found:
    __slots__ = ("config_set", "message_id")

    def __init__(self, message_id: str, config_set: str = "") -> None:
        self.message_id = message_id  # SES's MessageId
        # the configuration set it was sent with (tells the primary region from the backup)
        self.config_set = config_set


class SendResolver(Protocol):
    def find(self, send_id: str, recipient_hashes: Sequence[str], since: float) -> Found | None:
        """The message carrying ``send_id`` (accepted at or after ``since``), or None."""
        ...

    def events_pending(self) -> bool:
        """True when an SES event may not be applied yet: an event queue or its DLQ holds messages."""
        ...


class DynamoSendResolver:
    def __init__(
        self,
        dynamodb: Any,
        messages_table: str,
        *,
        sqs: Any = None,
        event_queue_urls: Sequence[str] = (),
        index: str = "recipient-index",
    ) -> None:
        self._ddb = dynamodb
        self._table = messages_table
        self._sqs = sqs
        self._queues = [url for url in event_queue_urls if url]
        self._index = index

    def find(self, send_id: str, recipient_hashes: Sequence[str], since: float) -> Found | None:
        start = iso(datetime.fromtimestamp(since - CLOCK_SKEW_SECONDS, tz=UTC))
        for recipient_hash in dict.fromkeys(recipient_hashes):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": self._index,
                "KeyConditionExpression": "recipient_hash = :h AND sent_at >= :since",
                "FilterExpression": "send_id = :sid",
                "ExpressionAttributeValues": {
                    ":h": {"S": recipient_hash},
                    ":since": {"S": start},
                    ":sid": {"S": send_id},
                },
                "ProjectionExpression": "message_id, config_set",
            }
            while True:
                page = dynamo.with_retries(functools.partial(self._ddb.query, **kwargs))
                for item in page.get("Items", []):
                    return Found(str(item["message_id"]["S"]), str(item.get("config_set", {}).get("S", "")))
                if not page.get("LastEvaluatedKey"):
                    break
                kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}
        return None

    def events_pending(self) -> bool:
        if self._sqs is None:
            return False
        for url in self._queues:
            try:
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                    ],
                )["Attributes"]
            except Exception as exc:  # cannot tell: assume an event may be waiting there
                log.warning("event queue depth unknown", extra={"error": type(exc).__name__})
                return True
            if sum(int(v) for v in attributes.values()):
                return True
        return False


class InMemorySendResolver:
    """Send ids the (fake) ingestion has seen, and whether an event queue holds messages (unit tests, the bench)."""

    def __init__(self) -> None:
        self.accepted: dict[str, str] = {}  # send id -> SES MessageId
        self.config_sets: dict[str, str] = {}  # send id -> configuration set (when known)
        self.pending = False
        self.lookups = 0

    def find(self, send_id: str, recipient_hashes: Sequence[str], since: float) -> Found | None:
        self.lookups += 1
        message_id = self.accepted.get(send_id)
        return Found(message_id, self.config_sets.get(send_id, "")) if message_id else None

    def events_pending(self) -> bool:
        return self.pending
