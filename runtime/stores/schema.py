"""Key formats, status ranks and counter names of the DynamoDB tables (docs/DESIGN.md is the prose version).

Every module that reads or writes the tables builds keys through these functions, so the formats exist once.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

UNTAGGED = "untagged"
MAX_NAME_LENGTH = 256  # SES message tag values
_NOT_IN_A_TAG = re.compile(r"[^A-Za-z0-9_-]")


@functools.lru_cache(maxsize=8192)
def canonical_name(value: str | None) -> str:
    """The one form of a campaign id or list name wherever sesame stores or looks one up: the SES message-tag form
    (``[A-Za-z0-9_-]``, every other character ``_``, at most 256 characters; empty = ``untagged``).

    SES events carry campaign and list back in this form, the sender tags and suppresses with it, so the API,
    the unsubscribe endpoint and the stats filter use it too: ``Spring Newsletter`` and ``Spring_Newsletter`` are
    one list. Idempotent: a canonical name maps to itself.
    """
    text = _NOT_IN_A_TAG.sub("_", (value or "").strip())[:MAX_NAME_LENGTH]
    return text or UNTAGGED


# Monotonic message status: a summary's status only ever moves to a higher rank. ``suppressed`` is terminal: the
# sender dropped the recipient (a ``local-`` message that never reached SES), or SES accepted the message and then
# did not send it because the address is on its account-level or global suppression list (docs/events.md).
STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "cancelled": 1,  # the campaign was cancelled before this recipient was sent (a ``local-`` message, never SES)
    "failed": 2,
    "sent": 10,
    "delayed": 15,
    "delivered": 20,
    "opened": 30,
    "clicked": 40,
    "rendering_failed": 50,
    "rejected": 60,
    "suppressed": 65,
    "bounced": 70,
    "complained": 80,
}
TERMINAL_STATUSES = frozenset({"rendering_failed", "rejected", "suppressed", "bounced", "complained"})

# Campaign counter attributes (Numbers, ADD-updated).
COUNTERS: tuple[str, ...] = (
    "sent",
    "delivered",
    "bounced_hard",
    "bounced_soft",
    "bounced_undetermined",
    "complained",
    "rejected",
    "delayed",
    "rendering_failed",
    "opened_unique",
    "opened_total",
    "clicked_unique",
    "clicked_total",
    "unsubscribed",
    "suppressed",
    "ses_suppressed",
    "not_spam",
    "failed",
    "cancelled",
    "subscription",
    "unknown",
)

COUNTERS_TOTAL = "COUNTERS#TOTAL"
META = "META"
LISTING_PK = "CAMPAIGN"
SCHEDULE_PK = "SCHEDULED"
VALIDATING_PK = "VALIDATING"  # schedule-index partition of campaigns whose recipient files are being validated

# control table items of the guardrails and reputation (issue 13); the ``pk`` attribute is the table's key
REPUTATION_SNAPSHOT_PK = "REPUTATION#SNAPSHOT"  # the cached /reputation answer and when it was taken
GUARDRAIL_SAMPLES_PK = "GUARDRAIL#SAMPLES"  # cumulative counters sampled each minute (rolling-window rates)
CONFIG_SET_PAUSES_PK = "GUARDRAIL#CONFIGSETS"  # configuration sets sesame paused, with reason and time
WARMUP_HELD_PK = "WARMUP#HELD"  # the days (a string set) on which the warm-up ramp held: a pool set was paused


def counters_list_sk(list_name: str) -> str:
    return f"COUNTERS#LIST#{canonical_name(list_name)}"


def counters_day_sk(day: str) -> str:
    return f"COUNTERS#DAY#{day}"


def counter_shard_sk(base_sort_key: str, shard_tag: str) -> str:
    """A counter item written by one stream shard's consumer: ``<COUNTERS#...>#<shard tag>``. List names and days
    never hold ``#`` (canonical names are ``[A-Za-z0-9_-]``), so :func:`counter_base_sk` recovers the base."""
    return f"{base_sort_key}#{shard_tag}"


def counter_base_sk(sort_key: str) -> str:
    """``COUNTERS#TOTAL``, ``COUNTERS#LIST#<list>`` or ``COUNTERS#DAY#<day>`` of a counter item's sort key, with or
    without its shard tag."""
    parts = sort_key.split("#")
    return "#".join(parts[:2]) if parts[1:2] == ["TOTAL"] else "#".join(parts[:3])


def counter_sort_keys(list_name: str | None, day: str | None) -> list[str]:
    """The counter items one event updates: the total, its list, its day."""
    keys = [COUNTERS_TOTAL]
    keys.append(counters_list_sk(list_name or UNTAGGED))
    if day:
        keys.append(counters_day_sk(day))
    return keys


# The messages table's campaign-index is write-sharded: its hash key is ``<campaign_id>#<shard>`` with the shard
# from the message id, so one campaign's index writes spread over CAMPAIGN_SHARDS partitions (at 1,000 emails/s,
# 1,000 / 8 = 125 index writes a second each, against a partition's 1,000), and its range key is stable (written
# once): a status change never re-keys the index.
CAMPAIGN_SHARDS = 8


def campaign_shard(campaign_id: str, message_id: str) -> str:
    """The campaign-index hash key of a message: ``<campaign_id>#<0..CAMPAIGN_SHARDS-1>`` (sha256 of the id)."""
    digest = hashlib.sha256(message_id.encode("utf-8")).digest()
    return f"{campaign_id}#{int.from_bytes(digest[:4], 'big') % CAMPAIGN_SHARDS}"


def campaign_shards(campaign_id: str) -> list[str]:
    """Every campaign-index hash key of a campaign (a listing queries each)."""
    return [f"{campaign_id}#{n}" for n in range(CAMPAIGN_SHARDS)]


def campaign_sort_key(timestamp: str, message_id: str) -> str:
    """The campaign-index range key: ``<sent_at (or first event time)>#<message_id>``, written once."""
    return f"{timestamp}#{message_id}"


def event_key(timestamp: str, event_id: str) -> str:
    return f"{timestamp}#{event_id}"


def event_id_for(message_text: str) -> str:
    """Id of one SES event: sha256 of the SNS ``Message`` text (same across SNS redeliveries and paths), except a
    message's Send event: :func:`send_event_id`."""
    return hashlib.sha256(message_text.encode("utf-8")).hexdigest()[:32]


def send_event_id(message_id: str) -> str:
    """Id of the Send event of the SES message ``message_id`` (SES publishes one per message): derived from the message
    id, so the sender can record the Send entry with the message item it writes after SES accepted the message, and
    ingestion recognises the Send event as already applied (docs/DESIGN.md "Writers of the messages table")."""
    return hashlib.sha256(f"Send/{message_id}".encode()).hexdigest()[:32]


def suppression_scope(scope: str, *, list_name: str | None = None, campaign_id: str | None = None) -> str:
    """The suppressions-table sort key of a scope (``all`` | ``list`` | ``campaign``), names in canonical form."""
    if scope == "list":
        return f"LIST#{canonical_name(list_name)}"
    if scope == "campaign":
        return f"CAMPAIGN#{canonical_name(campaign_id)}"
    return "ALL"


SOFTBOUNCE_SCOPE = "SOFTBOUNCE"


def parse_time(value: str) -> datetime:
    """Parse an SES/ISO-8601 timestamp (``2024-06-20T01:50:12.190Z``) to an aware UTC datetime."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(dt: datetime) -> str:
    """Canonical timestamp text: UTC, millisecond precision, ``Z`` suffix (sorts lexicographically)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def day_of(timestamp: str) -> str:
    return parse_time(timestamp).strftime("%Y-%m-%d")


def ttl_epoch(timestamp: str | datetime, days: int) -> int:
    base = parse_time(timestamp) if isinstance(timestamp, str) else timestamp
    return int((base + timedelta(days=days)).timestamp())


def ses_message_id_time(message_id: str) -> datetime | None:
    """Send time encoded in an SES MessageId, or None.

    SES ids look like ``010f019033564cde-f72f7f27-...-000000``: after a 4-hex-digit prefix, the next 12 hex
    digits are the send time in epoch milliseconds. Used to tell "expired past its TTL" from "never existed".
    """
    head = message_id.split("-", 1)[0]
    if len(head) != 16:
        return None
    try:
        millis = int(head[4:], 16)
    except ValueError:
        return None
    if not 946_684_800_000 <= millis <= 4_102_444_800_000:  # 2000..2100
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def counter_update(
    table: str,
    campaign_id: str,
    sort_key: str,
    deltas: dict[str, int],
    *,
    event_at: str | None,
    expires_at: int | None,
    first_at: str | None = None,
) -> dict[str, Any]:
    """A low-level ``Update`` (for ``TransactWriteItems`` or ``update_item(**...)``) adding ``deltas``.

    ``first_event_at`` (``first_at``, default ``event_at``), ``last_event_at`` (``event_at``) and ``expires_at`` are
    only set when the item has none yet (``if_not_exists``): an update without a condition can express neither a
    minimum nor a maximum, and a late, older event must never move them backwards (the TTL would delete a live
    campaign's totals). Moving them forward is :func:`counter_clock_updates`' job, after the write.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds: list[str] = []
    for i, (counter, delta) in enumerate(sorted(deltas.items())):
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter!r}")
        if delta:
            names[f"#c{i}"] = counter
            values[f":c{i}"] = {"N": str(delta)}
            adds.append(f"#c{i} :c{i}")
    sets: list[str] = []
    if event_at:
        names["#first"] = "first_event_at"
        names["#last"] = "last_event_at"
        values[":first"] = {"S": first_at or event_at}
        values[":last"] = {"S": event_at}
        sets.append("#first = if_not_exists(#first, :first)")
        sets.append("#last = if_not_exists(#last, :last)")
    if expires_at is not None:
        names["#exp"] = "expires_at"
        values[":exp"] = {"N": str(expires_at)}
        sets.append("#exp = if_not_exists(#exp, :exp)")
    expression = ""
    if sets:
        expression += "SET " + ", ".join(sets)
    if adds:
        expression += (" " if expression else "") + "ADD " + ", ".join(adds)
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"campaign_id": {"S": campaign_id}, "sk": {"S": sort_key}},
        "UpdateExpression": expression,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    if values:
        update["ExpressionAttributeValues"] = values
    return update


@dataclass(frozen=True, slots=True)
class CounterClock:
    """The time span a write to one counter item covers: its first and last event time and the TTL that follows."""

    table: str
    campaign_id: str
    sort_key: str
    first_at: str
    last_at: str
    expires_at: int


def counter_clock_updates(clock: CounterClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two conditional ``UpdateItem`` requests that keep a counter item's times monotonic after a write:

    * *advance*: ``last_event_at`` and ``expires_at`` set only if newer (``last_event_at < :last``);
    * *rewind*: ``first_event_at`` set only if older (``first_event_at > :first``).

    Both are idempotent and commutative (a maximum and a minimum), so they may run late, twice or in any order. Both
    require the item to exist (a counter item deleted meanwhile is not re-created without its counters). *advance*
    returns the item as it was (``ALL_OLD``, on success and on a failed condition alike): ``first_event_at`` is
    then known and *rewind* is only needed when it is newer than ``clock.first_at`` — rare, since events mostly
    arrive in order. Cost: one write unit per counter item and batch (two when a late event is the oldest yet).
    """
    key = {"campaign_id": {"S": clock.campaign_id}, "sk": {"S": clock.sort_key}}
    advance = {
        "TableName": clock.table,
        "Key": key,
        "UpdateExpression": "SET #last = :last, #exp = :exp",
        "ConditionExpression": "attribute_exists(#sk) AND (attribute_not_exists(#last) OR #last < :last)",
        "ExpressionAttributeNames": {"#sk": "sk", "#last": "last_event_at", "#exp": "expires_at"},
        "ExpressionAttributeValues": {":last": {"S": clock.last_at}, ":exp": {"N": str(clock.expires_at)}},
        "ReturnValues": "ALL_OLD",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    rewind = {
        "TableName": clock.table,
        "Key": key,
        "UpdateExpression": "SET #first = :first",
        "ConditionExpression": "attribute_exists(#sk) AND (attribute_not_exists(#first) OR #first > :first)",
        "ExpressionAttributeNames": {"#sk": "sk", "#first": "first_event_at"},
        "ExpressionAttributeValues": {":first": {"S": clock.first_at}},
    }
    return advance, rewind


# Pacing (runtime/sender/pacing.py, control table). Shard 0 keeps the original key, so a deployment paced by one
# item before sharding finds its log and day count where it left them.
def rate_pk(region: str, shard: int = 0) -> str:
    """Partition key of a region's pacing shard: its own partition, so shards never share a partition's write rate."""
    return f"RATE#{region}" if shard == 0 else f"RATE#{region}#{shard}"


RATE_WINDOW_SK = "WINDOW"


def rate_settle_sk(reservation_id: str) -> str:
    return f"SETTLE#{reservation_id}"


# -- POST /messages (docs/sending.md "Transactional send API") --------------------------------------------------------
IDEMPOTENCY_SK = "REQUEST"


def idempotency_pk(key_hash: str) -> str:
    """Control-table partition of one ``Idempotency-Key`` (the hash of the caller's API key digest and the key)."""
    return f"IDEMP#{key_hash}"


def queued_message_id(job_id: str) -> str:
    """Messages-table id of a ``POST /messages`` message that was queued instead of sent at once: ``queued-<32 hex>``.
    The item points to its send job; ``GET /messages/{id}`` follows it to the SES message once the job is sent."""
    return "queued-" + hashlib.sha256(f"queued/{job_id}".encode()).hexdigest()[:32]
