"""DynamoDB tables built from ``runtime.stores.tables.TABLES`` (keys, GSIs, TTL attribute): on-demand, TTL, PITR,
server-side encryption, deletion protection in production.

Global tables: the home-region stack declares each table with ``replicas`` in every other region of
``sesame:regions``; the other stacks declare no table and only reference them by name (identical everywhere).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from runtime.stores.tables import TABLES, TableSpec


def table_args(spec: TableSpec, cfg: StackConfig) -> aws.dynamodb.TableArgs:
    """The ``aws.dynamodb.Table`` arguments for one table spec (home stack)."""
    replicas = [
        aws.dynamodb.TableReplicaArgs(
            region_name=region,
            point_in_time_recovery=True,
            propagate_tags=True,
            deletion_protection_enabled=cfg.protect_data,
        )
        for region in cfg.other_regions
    ]
    indexes = [
        aws.dynamodb.TableGlobalSecondaryIndexArgs(
            name=index.name,
            projection_type=index.projection,
            non_key_attributes=list(index.include) if index.projection == "INCLUDE" else None,
            key_schemas=[
                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=index.hash_key, key_type="HASH")
            ]
            + (
                [aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=index.range_key, key_type="RANGE")]
                if index.range_key
                else []
            ),
        )
        for index in spec.indexes
    ]
    return aws.dynamodb.TableArgs(
        name=spec.physical_name(cfg.environment),
        billing_mode="PAY_PER_REQUEST",
        hash_key=spec.hash_key,
        range_key=spec.range_key,
        attributes=[
            aws.dynamodb.TableAttributeArgs(name=a["AttributeName"], type=a["AttributeType"])
            for a in spec.attribute_definitions()
        ],
        global_secondary_indexes=indexes or None,
        ttl=aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        deletion_protection_enabled=cfg.protect_data,
        # replication needs a stream of new and old images
        stream_enabled=bool(replicas),
        stream_view_type="NEW_AND_OLD_IMAGES" if replicas else None,
        replicas=replicas or None,
    )


class GlobalTables(pulumi.ComponentResource):
    """``sesame:infra:GlobalTables`` — tables (home stack) or references by name (other stacks)."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        account_id: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:GlobalTables", name, None, opts)
        self.names: dict[str, str] = {spec.logical: spec.physical_name(cfg.environment) for spec in TABLES}
        self.env_vars: dict[str, str] = {spec.env_var(): spec.physical_name(cfg.environment) for spec in TABLES}
        self.tables: dict[str, aws.dynamodb.Table] = {}
        if cfg.is_home:
            for spec in TABLES:
                self.tables[spec.logical] = aws.dynamodb.Table(
                    spec.logical,
                    table_args(spec, cfg),
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=cfg.protect_data),
                )
        # this region's table (or replica) ARN, the same string whether this stack owns the table or not
        self.arns: dict[str, pulumi.Output[str]] = {
            logical: pulumi.Output.concat("arn:aws:dynamodb:", cfg.region, ":", account_id, ":table/", physical)
            for logical, physical in self.names.items()
        }
        self.register_outputs({"tables": self.names})
