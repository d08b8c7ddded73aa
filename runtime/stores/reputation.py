"""Control-table items of the reputation view and the guardrails (issue 13; keys in ``runtime.stores.schema``).

* ``REPUTATION#SNAPSHOT`` / ``<region>``: the last ``/reputation`` answer computed in that region (JSON text) and
  ``taken_at``; written once a minute by the per-minute schedule, read by ``GET /reputation`` (one ``GetItem``).
* ``GUARDRAIL#SAMPLES`` / ``<region>``: cumulative counters sampled once per ``window/12`` for each campaign and
  configuration set the guardrails watch (JSON text), so rolling-window rates come from two points of the cumulative
  counters; plus which keys are tripped (an operator's resume restarts that key's window).
* ``GUARDRAIL#CONFIGSETS`` / ``ALL``: the configuration sets sesame paused (SES ``SendingEnabled=false``), a map
  ``pauses`` of ``<region>#<configuration set>`` -> ``reason``, ``at``, ``by``; one ``GetItem`` reads them (the sender
  reads it each batch: units of a paused configuration set wait).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.stores import dynamo
from runtime.stores.schema import CONFIG_SET_PAUSES_PK, GUARDRAIL_SAMPLES_PK, REPUTATION_SNAPSHOT_PK, WARMUP_HELD_PK


@dataclass(frozen=True, slots=True)
class ConfigSetPause:
    region: str
    name: str
    reason: str
    at: str
    by: str

    def to_dict(self) -> dict[str, str]:
        return {"region": self.region, "name": self.name, "reason": self.reason, "at": self.at, "by": self.by}


class ReputationStore(Protocol):
    def snapshot(self, region: str) -> dict[str, Any] | None: ...

    def put_snapshot(self, region: str, doc: dict[str, Any]) -> None: ...

    def samples(self, region: str) -> dict[str, Any]: ...

    def put_samples(self, region: str, doc: dict[str, Any]) -> None: ...

    def config_set_pauses(self) -> list[ConfigSetPause]: ...

    def put_config_set_pause(self, pause: ConfigSetPause) -> None: ...

    def delete_config_set_pause(self, region: str, name: str) -> None: ...

    def warmup_held_days(self) -> set[str]:
        """The UTC days (ISO dates) on which the warm-up ramp held."""
        ...

    def hold_warmup_day(self, day: str) -> None:
        """Record that the ramp holds on ``day`` (idempotent: a set add)."""
        ...


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoReputationStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _get_doc(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True).get("Item")
        if not item:
            return None
        doc = json.loads(item["doc"]["S"])
        return doc if isinstance(doc, dict) else None

    def _put_doc(self, pk: str, sk: str, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        self._client.put_item(TableName=self._table, Item={**_key(pk, sk), "doc": {"S": text}})

    def snapshot(self, region: str) -> dict[str, Any] | None:
        return self._get_doc(REPUTATION_SNAPSHOT_PK, region)

    def put_snapshot(self, region: str, doc: dict[str, Any]) -> None:
        self._put_doc(REPUTATION_SNAPSHOT_PK, region, doc)

    def samples(self, region: str) -> dict[str, Any]:
        return self._get_doc(GUARDRAIL_SAMPLES_PK, region) or {}

    def put_samples(self, region: str, doc: dict[str, Any]) -> None:
        self._put_doc(GUARDRAIL_SAMPLES_PK, region, doc)

    def config_set_pauses(self) -> list[ConfigSetPause]:
        """One strongly consistent ``GetItem`` (the sender reads it once per batch)."""
        item = self._client.get_item(
            TableName=self._table, Key=_key(CONFIG_SET_PAUSES_PK, "ALL"), ConsistentRead=True
        ).get("Item")
        pauses = dynamo.from_item(item).get("pauses", {}) if item else {}
        out = []
        for key, value in sorted(pauses.items()):
            region, _, name = str(key).partition("#")
            out.append(
                ConfigSetPause(
                    region, name, str(value.get("reason", "")), str(value.get("at", "")), str(value.get("by", ""))
                )
            )
        return out

    def put_config_set_pause(self, pause: ConfigSetPause) -> None:
        value = {"M": {"reason": {"S": pause.reason[:500] or "-"}, "at": {"S": pause.at}, "by": {"S": pause.by}}}
        key = f"{pause.region}#{pause.name}"
        self._client.update_item(
            TableName=self._table,
            Key=_key(CONFIG_SET_PAUSES_PK, "ALL"),
            UpdateExpression="SET pauses = if_not_exists(pauses, :empty)",
            ExpressionAttributeValues={":empty": {"M": {}}},
        )
        self._client.update_item(
            TableName=self._table,
            Key=_key(CONFIG_SET_PAUSES_PK, "ALL"),
            UpdateExpression="SET pauses.#k = :v",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues={":v": value},
        )

    def delete_config_set_pause(self, region: str, name: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(CONFIG_SET_PAUSES_PK, "ALL"),
                UpdateExpression="REMOVE pauses.#k",
                ConditionExpression="attribute_exists(pauses)",
                ExpressionAttributeNames={"#k": f"{region}#{name}"},
            )
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException":
                raise

    def warmup_held_days(self) -> set[str]:
        """One strongly consistent ``GetItem`` (the sender reads it at most every five minutes)."""
        item = self._client.get_item(TableName=self._table, Key=_key(WARMUP_HELD_PK, "ALL"), ConsistentRead=True).get(
            "Item"
        )
        return set(item.get("days", {}).get("SS", [])) if item else set()

    def hold_warmup_day(self, day: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(WARMUP_HELD_PK, "ALL"),
            UpdateExpression="ADD days :d",
            ExpressionAttributeValues={":d": {"SS": [day]}},
        )


@dataclass
class InMemoryReputationStore:
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pauses: dict[tuple[str, str], ConfigSetPause] = field(default_factory=dict)
    held_days: set[str] = field(default_factory=set)

    def snapshot(self, region: str) -> dict[str, Any] | None:
        doc = self.snapshots.get(region)
        return json.loads(json.dumps(doc)) if doc is not None else None

    def put_snapshot(self, region: str, doc: dict[str, Any]) -> None:
        self.snapshots[region] = json.loads(json.dumps(doc))

    def samples(self, region: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(json.dumps(self.sample_docs.get(region, {})))
        return doc

    def put_samples(self, region: str, doc: dict[str, Any]) -> None:
        self.sample_docs[region] = json.loads(json.dumps(doc))

    def config_set_pauses(self) -> list[ConfigSetPause]:
        return list(self.pauses.values())

    def put_config_set_pause(self, pause: ConfigSetPause) -> None:
        self.pauses[(pause.region, pause.name)] = pause

    def delete_config_set_pause(self, region: str, name: str) -> None:
        self.pauses.pop((region, name), None)

    def warmup_held_days(self) -> set[str]:
        return set(self.held_days)

    def hold_warmup_day(self, day: str) -> None:
        self.held_days.add(day)
