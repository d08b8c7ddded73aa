"""``sesame dlq list|redrive``: review and redrive dead-letter queues (forward DLQ and the others).

``list`` peeks at messages (they become visible again at once); ``redrive`` moves them back to their source queue:
``--to`` if given, else the ``sesame_source_queue`` attribute the forwarder sets when parking, else the DLQ URL
without its ``-dlq`` suffix (the naming convention of docs/DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

SOURCE_ATTRIBUTE = "sesame_source_queue"
# When the message first reached SQS (epoch ms). SQS keeps a message's enqueue timestamp when it moves it to a DLQ,
# but a redrive re-sends it: this attribute carries the original time, so the event consumers measure
# SNS_MAX_AGE_SECONDS up to when the event first arrived, and redriven SES events are not dropped as stale.
FIRST_SENT_ATTRIBUTE = "sesame_first_sent_timestamp"
# The MessageId the message had when it was first enqueued (SQS keeps it into the DLQ; a redrive sends a new message
# with a new id). The sender keys a bare SendEmail line's job on it, so a redriven line is the same job, not a new
# one that would send again what the first one sent.
ORIGIN_ATTRIBUTE = "sesame_origin_message_id"
_RECEIVE = {
    "MaxNumberOfMessages": 10,
    "WaitTimeSeconds": 0,
    "MessageAttributeNames": ["All"],
    "AttributeNames": ["All"],
}


def source_queue_of(dlq_url: str, message: dict[str, Any], explicit: str | None = None) -> str:
    if explicit:
        return explicit
    attribute = (message.get("MessageAttributes") or {}).get(SOURCE_ATTRIBUTE)
    if attribute and attribute.get("StringValue"):
        return str(attribute["StringValue"])
    if dlq_url.endswith("-dlq"):
        return dlq_url[: -len("-dlq")]
    raise ValueError(f"cannot tell the source queue of {dlq_url}: pass --to")


def list_messages(sqs: Any, queue_url: str, limit: int = 50) -> list[dict[str, Any]]:
    """Peek at up to ``limit`` messages; each is hidden while listing and made visible again afterwards."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        response = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=30, **_RECEIVE)
        batch = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not batch:
            break
        for message in batch:
            seen[message["MessageId"]] = message
    entries = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(seen.values())
    ]
    for start in range(0, len(entries), 10):
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries[start : start + 10])
    return [
        {
            "message_id": m["MessageId"],
            "body": m.get("Body", ""),
            "attributes": {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()},
            "receive_count": int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 0)),
            "sent_at": (m.get("Attributes") or {}).get("SentTimestamp"),
        }
        for m in list(seen.values())[:limit]
    ]


def redrive(sqs: Any, dlq_url: str, to: str | None = None, limit: int | None = None) -> dict[str, int]:
    """Move messages (body and attributes) back to their source queue; deleted from the DLQ only once sent."""
    moved = failed = 0
    while limit is None or moved < limit:
        response = sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=60, **_RECEIVE)
        messages = response.get("Messages", [])
        if limit is not None:
            messages = messages[: limit - moved]
        if not messages:
            break
        by_target: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            by_target.setdefault(source_queue_of(dlq_url, message, to), []).append(message)
        for target, group in by_target.items():
            entries = []
            for i, message in enumerate(group):
                entry: dict[str, Any] = {"Id": str(i), "MessageBody": message.get("Body", "")}
                attributes = {
                    k: {key: v for key, v in value.items() if key in ("DataType", "StringValue", "BinaryValue")}
                    for k, value in (message.get("MessageAttributes") or {}).items()
                }
                first_sent = (message.get("Attributes") or {}).get("SentTimestamp")
                if FIRST_SENT_ATTRIBUTE not in attributes and first_sent:
                    attributes[FIRST_SENT_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(first_sent)}
                if ORIGIN_ATTRIBUTE not in attributes and message.get("MessageId"):
                    attributes[ORIGIN_ATTRIBUTE] = {"DataType": "String", "StringValue": str(message["MessageId"])}
                if attributes:
                    entry["MessageAttributes"] = attributes
                entries.append(entry)
            result = sqs.send_message_batch(QueueUrl=target, Entries=entries)
            sent_ids = {s["Id"] for s in result.get("Successful", [])}
            failed += len(result.get("Failed", []))
            deletes = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(group) if str(i) in sent_ids
            ]
            if deletes:
                sqs.delete_message_batch(QueueUrl=dlq_url, Entries=deletes)
            moved += len(deletes)
        if failed:
            break
    return {"moved": moved, "failed": failed}


_URL_REGION = re.compile(r"^https://(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)/")


def region_of(queue_url: str) -> str | None:
    """The region an SQS queue URL names (``https://sqs.<region>.amazonaws.com/...``), or None (e.g. a local URL)."""
    match = _URL_REGION.match(queue_url)
    return (match.group(1) or match.group(2)) if match else None


def _client(args: argparse.Namespace) -> Any:
    import boto3  # entry point: the CLI builds its own client

    region = args.region or region_of(args.queue_url)  # a client of another region cannot reach the queue
    return boto3.client("sqs", region_name=region) if region else boto3.client("sqs")


def _failed(exc: Exception) -> int:
    """A readable one-line error instead of a traceback (unknown queue, no source queue, credentials...)."""
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _cmd_list(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        messages = list_messages(_client(args), args.queue_url, args.max)
    except (BotoCoreError, ClientError) as exc:
        return _failed(exc)
    json.dump(messages, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _cmd_redrive(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = redrive(_client(args), args.queue_url, args.to, args.max)
    except (BotoCoreError, ClientError, ValueError) as exc:  # messages stay in the DLQ: deleted only once sent
        return _failed(exc)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 1 if result["failed"] else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dlq", help="review and redrive dead-letter queues")
    commands = parser.add_subparsers(dest="dlq_command", metavar="ACTION")
    commands.required = True
    region_help = "the queue's region (default: the one in the queue URL, else AWS_DEFAULT_REGION)"
    listing = commands.add_parser("list", help="peek at the messages of a DLQ (they stay in it)")
    listing.add_argument("--queue-url", required=True, help="the dead-letter queue")
    listing.add_argument("--max", type=int, default=50, help="show at most this many messages (default 50)")
    listing.add_argument("--region", default=None, help=region_help)
    listing.set_defaults(func=_cmd_list)
    move = commands.add_parser("redrive", help="move a DLQ's messages back to their source queue")
    move.add_argument("--queue-url", required=True, help="the dead-letter queue")
    move.add_argument("--to", default=None, help="target queue URL (default: the recorded or derived source)")
    move.add_argument("--max", type=int, default=None, help="move at most this many messages (default: all)")
    move.add_argument("--region", default=None, help=region_help)
    move.set_defaults(func=_cmd_redrive)
