"""DNS records as data: created in Route53 when the stack has a hosted zone, otherwise exported verbatim so the
user can add them at their DNS provider (``manualDnsRecords`` output)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class DnsRecord:
    key: str  # stable logical name for the Pulumi resource, e.g. "dkim-0"
    name: pulumi.Input[str]  # fully qualified, no trailing dot
    type: str  # CNAME, MX, TXT
    value: pulumi.Input[str]  # as entered at a DNS provider (TXT without quotes)
    purpose: str
    #: an identical record may already exist (an adopted identity's DKIM CNAMEs): take it over (Route53 UPSERT)
    overwrite: bool = False
    #: import the existing record into the stack on the first run (an adopted _dmarc record); its value must match
    import_existing: bool = False

    def as_output(self) -> pulumi.Output[dict[str, str]]:
        return pulumi.Output.all(self.name, self.value).apply(
            lambda nv: {"name": nv[0], "type": self.type, "value": nv[1], "purpose": self.purpose}
        )


def route53_value(record_type: str, value: str) -> str:
    """Route53 wants long TXT strings split into 255-character chunks joined by ``""``."""
    if record_type != "TXT" or len(value) <= 255:
        return value
    return '""'.join(value[i : i + 255] for i in range(0, len(value), 255))


def declare(
    records: list[DnsRecord],
    *,
    zone_id: str,
    ttl: int,
    prefix: str,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
) -> list[aws.route53.Record]:
    """One ``aws.route53.Record`` per record (none without a zone). Never called inside ``.apply()``."""
    if not zone_id:
        return []
    created = []
    for record in records:
        value = pulumi.Output.from_input(record.value).apply(functools.partial(route53_value, record.type))
        import_id = None
        if record.import_existing:
            if not isinstance(record.name, str):
                raise ValueError(f"record {record.key}: an imported record needs a known name")
            import_id = import_id_of(zone_id, record.name, record.type)
        created.append(
            aws.route53.Record(
                f"{prefix}-{record.key}",
                zone_id=zone_id,
                name=record.name,
                type=record.type,
                ttl=ttl,
                records=[value],
                allow_overwrite=record.overwrite,
                opts=pulumi.ResourceOptions(parent=parent, provider=provider, import_=import_id),
            )
        )
    return created


def import_id_of(zone_id: str, name: str, record_type: str) -> str:
    """pulumi-aws's import id of a Route53 record: ``<zone>_<name>_<type>``."""
    return f"{zone_id}_{name.rstrip('.')}_{record_type}"
