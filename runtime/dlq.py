"""``sesame dlq list|redrive``: review and redrive dead-letter queues (forward DLQ and the others).

``list`` peeks at messages (they become visible again at once); ``redrive`` moves them back to their source queue:
``--to`` if given, else the ``sesame_source_queue`` attribute the forwarder sets when parking, else the DLQ URL
without its ``-dlq`` suffix (the naming convention of docs/DESIGN.md).

A redriven SNS message (an SES event of the critical or engagement DLQ) carries the time it first reached SQS,
signed: ``sesame_first_sent_timestamp`` (epoch ms) and ``sesame_first_sent_signature``, an HMAC-SHA256 keyed with
the app secret ``redrive_secret`` over the SNS ``MessageId`` and that time. The event consumers measure
``SNS_MAX_AGE_SECONDS`` up to that time only when the signature verifies: anyone who can write to an event queue
could otherwise replay old captured messages past the age limit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the consumers import this module for its attribute names: argparse is the CLI's alone
    import argparse

SOURCE_ATTRIBUTE = "sesame_source_queue"
# When the message first reached SQS (epoch ms). SQS keeps a message's enqueue timestamp when it moves it to a DLQ,
# but a redrive re-sends it: this attribute carries the original time, so the event consumers measure
# SNS_MAX_AGE_SECONDS up to when the event first arrived, and redriven SES events are not dropped as stale.
FIRST_SENT_ATTRIBUTE = "sesame_first_sent_timestamp"
# The MessageId the message had when it was first enqueued (SQS keeps it into the DLQ; a redrive sends a new message
# with a new id). The sender keys a bare SendEmail line's job on it, so a redriven line is the same job, not a new
# one that would send again what the first one sent.
ORIGIN_ATTRIBUTE = "sesame_origin_message_id"
# HMAC-SHA256 (hex) of "sesame-first-arrival\n<SNS MessageId>\n<epoch ms>" keyed with the app secret redrive_secret
FIRST_SENT_SIGNATURE_ATTRIBUTE = "sesame_first_sent_signature"
SECRET_KEY = "redrive_secret"  # in the app-secrets SSM document (env SESAME_REDRIVE_SECRET locally)
_SNS_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


class RedriveSecretMissingError(ValueError):
    """SNS messages cannot be redriven with their first arrival time: the app secret is not available."""


def first_arrival_signature(secret: str, sns_message_id: str, first_sent_ms: int) -> str:
    """The signature of a first-arrival time (hex HMAC-SHA256), bound to one SNS message."""
    text = f"sesame-first-arrival\n{sns_message_id}\n{int(first_sent_ms)}"
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def sns_message_id(body: str) -> str | None:
    """The ``MessageId`` of an SNS envelope body, or None when the body is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("Type") not in _SNS_TYPES or "Signature" not in data:
        return None
    message_id = data.get("MessageId")
    return message_id if isinstance(message_id, str) and message_id else None


def first_arrival_verified(secret: str, body: str, first_sent: str | None, signature: str | None) -> int | None:
    """The signed first-arrival time (epoch ms) of an SNS message body, or None when the pair does not verify."""
    if not secret or not first_sent or not signature:
        return None
    try:
        millis = int(first_sent)
    except ValueError:
        return None
    message_id = sns_message_id(body)
    if message_id is None:
        return None
    expected = first_arrival_signature(secret, message_id, millis)
    return millis if hmac.compare_digest(expected, signature) else None


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


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(name) or {}
    text = value.get("StringValue")
    return str(text) if text is not None else None


def _first_arrival(message: dict[str, Any], secret: str | None) -> dict[str, Any]:
    """The first-arrival attributes of a redriven message: for an SNS message, the signed earliest time this
    command can vouch for (a verified earlier pair, else the DLQ copy's SentTimestamp); for other messages, the
    SentTimestamp as before (nothing checks it)."""
    body = str(message.get("Body", ""))
    sent = (message.get("Attributes") or {}).get("SentTimestamp")
    message_id = sns_message_id(body)
    if message_id is None:
        existing = _attribute(message, FIRST_SENT_ATTRIBUTE) or sent
        return {FIRST_SENT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(existing)}} if existing else {}
    if not secret:
        raise RedriveSecretMissingError(
            f"redriving SES events needs the app secret {SECRET_KEY!r} to sign the time they first arrived (without"
            " it they would be dropped as stale): set SESAME_REDRIVE_SECRET or pass --secrets-parameter"
        )
    verified = first_arrival_verified(
        secret, body, _attribute(message, FIRST_SENT_ATTRIBUTE), _attribute(message, FIRST_SENT_SIGNATURE_ATTRIBUTE)
    )
    first = verified if verified is not None else (int(sent) if sent else None)
    if first is None:
        return {}
    return {
        FIRST_SENT_ATTRIBUTE: {"DataType": "Number", "StringValue": str(first)},
        FIRST_SENT_SIGNATURE_ATTRIBUTE: {
            "DataType": "String",
            "StringValue": first_arrival_signature(secret, message_id, first),
        },
    }


def redrive(
    sqs: Any, dlq_url: str, to: str | None = None, limit: int | None = None, *, secret: str | None = None
) -> dict[str, int]:
    """Move messages (body and attributes) back to their source queue; deleted from the DLQ only once sent.

    SNS messages get their signed first-arrival time (``secret`` = the app secret ``redrive_secret``); without a
    secret they are not moved (``RedriveSecretMissingError``) and become visible in the DLQ again at once."""
    moved = failed = 0
    while limit is None or moved < limit:
        response = sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=60, **_RECEIVE)
        messages = response.get("Messages", [])
        if limit is not None:
            messages = messages[: limit - moved]
        if not messages:
            break
        try:
            first_arrivals = [_first_arrival(message, secret) for message in messages]
        except RedriveSecretMissingError:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)
            ]
            sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
            raise
        by_target: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for message, first_arrival in zip(messages, first_arrivals, strict=True):
            by_target.setdefault(source_queue_of(dlq_url, message, to), []).append((message, first_arrival))
        for target, pairs in by_target.items():
            group = [message for message, _ in pairs]
            entries = []
            for i, (message, first_arrival) in enumerate(pairs):
                entry: dict[str, Any] = {"Id": str(i), "MessageBody": message.get("Body", "")}
                attributes = {
                    k: {key: v for key, v in value.items() if key in ("DataType", "StringValue", "BinaryValue")}
                    for k, value in (message.get("MessageAttributes") or {}).items()
                    if k not in (FIRST_SENT_ATTRIBUTE, FIRST_SENT_SIGNATURE_ATTRIBUTE)
                }
                attributes.update(first_arrival)
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


_QUEUE_ENVIRONMENT = re.compile(r"/sesame-([a-z][a-z0-9]{0,15})-[^/]*$")


def secrets_parameter_for(queue_url: str, explicit: str | None = None) -> str | None:
    """``--secrets-parameter``, else ``SESAME_SECRETS_PARAMETER``, else ``/sesame/<env>/app-secrets`` for a queue
    named ``sesame-<env>-...`` (docs/DESIGN.md)."""
    if explicit:
        return explicit
    if os.environ.get("SESAME_SECRETS_PARAMETER"):
        return os.environ["SESAME_SECRETS_PARAMETER"]
    match = _QUEUE_ENVIRONMENT.search(queue_url)
    return f"/sesame/{match.group(1)}/app-secrets" if match else None


def _redrive_secret(args: argparse.Namespace) -> tuple[str | None, str]:
    """(the app secret ``redrive_secret``, or None; where it was looked for, for the error message)."""
    if os.environ.get("SESAME_REDRIVE_SECRET"):
        return os.environ["SESAME_REDRIVE_SECRET"], "SESAME_REDRIVE_SECRET"
    name = secrets_parameter_for(args.queue_url, args.secrets_parameter)
    if not name:
        return None, "no --secrets-parameter given"
    import boto3  # entry point: the CLI builds its own client
    from botocore.exceptions import BotoCoreError, ClientError

    region = args.region or region_of(args.queue_url)
    ssm = boto3.client("ssm", region_name=region) if region else boto3.client("ssm")
    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        secret = json.loads(value).get(SECRET_KEY)
    except (BotoCoreError, ClientError, ValueError, AttributeError) as exc:
        return None, f"SSM parameter {name}: {type(exc).__name__}"
    return (str(secret) if secret else None), f"SSM parameter {name}"


def _cmd_redrive(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    secret, source = _redrive_secret(args)
    try:
        result = redrive(_client(args), args.queue_url, args.to, args.max, secret=secret)
    except RedriveSecretMissingError as exc:
        return _failed(ValueError(f"{exc} (looked in {source})"))
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
    move.add_argument(
        "--secrets-parameter",
        default=None,
        help="SSM parameter holding the app secrets, read for redrive_secret, which signs when each SES event first "
        "reached SQS (default: SESAME_SECRETS_PARAMETER, else /sesame/<env>/app-secrets from the queue name; "
        "SESAME_REDRIVE_SECRET overrides)",
    )
    move.set_defaults(func=_cmd_redrive)
