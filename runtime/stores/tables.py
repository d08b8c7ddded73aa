"""The DynamoDB table definitions as data: the one source of truth for the Pulumi program (``infra``), the local
stack and the tests. docs/DESIGN.md describes the items stored in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Index:
    """A GSI. ``projection`` is ``KEYS_ONLY`` (the default: an index write only when its keys change), ``INCLUDE``
    (``include`` names the non-key attributes; a change to one of them is an index write) or ``ALL``."""

    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "KEYS_ONLY"
    include: tuple[str, ...] = ()

    def projection_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"ProjectionType": self.projection}
        if self.projection == "INCLUDE":
            spec["NonKeyAttributes"] = list(self.include)
        return spec


@dataclass(frozen=True)
class TableSpec:
    logical: str  # messages, campaigns, suppressions, control
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str = "expires_at"
    attribute_types: dict[str, str] = field(default_factory=dict)  # every key attribute is S unless listed

    def physical_name(self, environment: str) -> str:
        return f"sesame-{environment}-{self.logical}"

    def env_var(self) -> str:
        return f"SESAME_{self.logical.upper()}_TABLE"

    def key_attributes(self) -> list[str]:
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        for index in self.indexes:
            names.append(index.hash_key)
            if index.range_key:
                names.append(index.range_key)
        return list(dict.fromkeys(names))

    def attribute_definitions(self) -> list[dict[str, str]]:
        return [{"AttributeName": n, "AttributeType": self.attribute_types.get(n, "S")} for n in self.key_attributes()]

    def create_table_kwargs(self, environment: str) -> dict[str, Any]:
        """Arguments for ``dynamodb.create_table`` (moto and the local stack)."""
        key_schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            key_schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": self.physical_name(environment),
            "KeySchema": key_schema,
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": ix.name,
                    "KeySchema": [{"AttributeName": ix.hash_key, "KeyType": "HASH"}]
                    + ([{"AttributeName": ix.range_key, "KeyType": "RANGE"}] if ix.range_key else []),
                    "Projection": ix.projection_spec(),
                }
                for ix in self.indexes
            ]
        return kwargs


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "messages",
        "message_id",
        indexes=(
            # keys written once by the sender (or the first event): the index is written once per message
            Index("recipient-index", "recipient_hash", "sent_at", "INCLUDE", ("send_id", "config_set")),
            Index("campaign-index", "campaign_shard", "campaign_sk"),
        ),
    ),
    TableSpec(
        "campaigns",
        "campaign_id",
        "sk",
        indexes=(
            # META items only (one per campaign, rarely written): the listing reads whole records from the index
            Index("listing-index", "listing_pk", "created_at", "ALL"),
            Index("schedule-index", "schedule_pk", "launch_at", "ALL"),
        ),
    ),
    TableSpec(
        "suppressions", "recipient_hash", "scope", indexes=(Index("reason-index", "reason", "created_at", "ALL"),)
    ),
    TableSpec("control", "pk", "sk"),
)


def table(logical: str) -> TableSpec:
    for spec in TABLES:
        if spec.logical == logical:
            return spec
    raise KeyError(logical)


def create_tables(dynamodb_client: Any, environment: str) -> dict[str, str]:
    """Create every table (and enable TTL) through a low-level client; returns ``{env var: table name}``."""
    names: dict[str, str] = {}
    for spec in TABLES:
        kwargs = spec.create_table_kwargs(environment)
        dynamodb_client.create_table(**kwargs)
        dynamodb_client.update_time_to_live(
            TableName=kwargs["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
        names[spec.env_var()] = kwargs["TableName"]
    return names
