"""What ingestion keeps for the sender's exactly-once machinery: the send id tag, one token per transaction."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from runtime.events.normalize import event_from_message
from runtime.ingest import IngestEngine, InMemoryTrackingStore
from runtime.ingest.ports import Transaction
from runtime.stores.tracking import DynamoTrackingStore
from tests.support.ingest import MESSAGE_ID, ses_record


def test_the_sesame_send_id_tag_is_kept_on_the_message_summary():
    record = ses_record("Send")
    record["mail"]["tags"]["sesame_send_id"] = ["3f2a9c0d1e4b5a6978c0d1e2"]
    store = InMemoryTrackingStore()
    IngestEngine(store, sleep=lambda s: None).apply([event_from_message(json.dumps(record))])
    assert store.messages[MESSAGE_ID]["send_id"] == "3f2a9c0d1e4b5a6978c0d1e2"


def test_a_transaction_retried_by_the_store_reuses_its_client_request_token():
    class Client:
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
            self.tokens.append(kwargs["ClientRequestToken"])
            if len(self.tokens) < 3:
                raise ClientError({"Error": {"Code": "TransactionConflictException"}}, "TransactWriteItems")
            return {}

    client = Client()
    store = DynamoTrackingStore(
        client, messages_table="m", campaigns_table="c", suppressions_table="s", sleep=lambda s: None
    )
    assert store.commit(Transaction()).ok
    assert len(client.tokens) == 3 and len(set(client.tokens)) == 1
