"""Control-table items of the reputation view and the guardrails (issue 13; keys in ``runtime.stores.schema``).

* ``REPUTATION#SNAPSHOT`` / ``<region>``: the last ``/reputation`` answer computed in that region (JSON text) and
  ``taken_at``; written once a minute by the per-minute schedule, read by ``GET /reputation`` (one ``GetItem``).
* ``GUARDRAIL#SAMPLES`` / ``<region>``: cumulative counters sampled once per ``window/12`` for each campaign and
  configuration set the guardrails watch (JSON text), so rolling-window rates come from two points of the cumulative
  counters; plus which keys are tripped (an operator's resume restarts that key's window).
* ``GUARDRAIL#CONFIGSETS`` / ``<region>#<configuration set>``: a configuration set sesame paused (SES
  ``SendingEnabled=false``) with ``reason``, ``at`` and ``by``; one ``Query`` lists them (the sender reads it each
  batch: units of a paused configuration set wait).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.stores import dynamo
from runtime.stores.schema import CONFIG_SET_PAUSES_PK, GUARDRAIL_SAMPLES_PK, REPUTATION_SNAPSHOT_PK


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
        pauses: list[ConfigSetPause] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": CONFIG_SET_PAUSES_PK}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            for raw in response.get("Items", []):
                item = dynamo.from_item(raw)
                region, _, name = str(item["sk"]).partition("#")
                pauses.append(
                    ConfigSetPause(
                        region, name, str(item.get("reason", "")), str(item.get("at", "")), str(item.get("by", ""))
                    )
                )
            if not response.get("LastEvaluatedKey"):
                return pauses
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_config_set_pause(self, pause: ConfigSetPause) -> None:
        item = {
            **_key(CONFIG_SET_PAUSES_PK, f"{pause.region}#{pause.name}"),
            "reason": {"S": pause.reason[:500] or "-"},
            "at": {"S": pause.at},
            "by": {"S": pause.by},
        }
        self._client.put_item(TableName=self._table, Item=item)

    def delete_config_set_pause(self, region: str, name: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(CONFIG_SET_PAUSES_PK, f"{region}#{name}"))


@dataclass
class InMemoryReputationStore:
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pauses: dict[tuple[str, str], ConfigSetPause] = field(default_factory=dict)

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
