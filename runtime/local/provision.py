"""Translate the resources the Pulumi program declares into moto calls, and derive the app's environment.

Input: the resource list ``pulumi_capture`` records (type token, logical name, camelCased inputs). Output: a
``Plan`` of moto-supported operations (DynamoDB tables with their keys/GSIs/TTL, SQS queues with redrive
policies, SNS topics and subscriptions (and their filter policies, if any), SESv2 identities and configuration sets,
S3 buckets, SSM parameters) plus the list of what was skipped and why. ``apply_plan`` runs it against boto3 clients
(pointed at moto_server) and returns the created names, URLs and ARNs, from which ``app_environment`` builds the Chalice
stage environment exactly as the naming contract in docs/DESIGN.md describes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# resource families moto cannot emulate (or that mean nothing on one machine), and why
# a resource type the program declares that neither becomes a moto call nor has a reason below: the test of the
# dev stack fails on it, so a new resource family gets a stated reason (or a translation) when it is added
UNEXPLAINED = "no moto equivalent the local stack uses"
_SKIP_REASONS: tuple[tuple[str, str], ...] = (
    ("aws:route53/", "DNS records: nothing resolves the local stack's names"),
    ("aws:cloudfront/", "CloudFront: the HTTPS tracking domain only exists on AWS"),
    ("aws:acm/", "ACM certificates: no TLS edge locally"),
    ("aws:cloudwatch/metricAlarm", "alarms: nothing publishes SES reputation metrics locally"),
    ("aws:cloudwatch/compositeAlarm", "alarms: nothing publishes SES reputation metrics locally"),
    ("aws:cloudwatch/dashboard", "dashboards: CloudWatch console only"),
    ("aws:cloudwatch/logGroup", "log groups: the local processes log to the terminal"),
    ("aws:cloudwatch/event", "schedules: the local poller runs check_for_campaign itself"),
    ("aws:apigateway/", "API Gateway: chalice local serves the routes"),
    ("aws:cloudwatch/", "CloudWatch: metrics are EMF log lines locally"),
    (
        "aws:sesv2/configurationSetEventDestination",
        "moto 5.2.5 lacks CreateConfigurationSetEventDestination: "
        "the SES event simulator publishes to the topic instead",
    ),
    ("aws:sesv2/emailIdentityMailFromAttributes", "moto 5.2.5 lacks PutEmailIdentityMailFromAttributes"),
    ("aws:sesv2/dedicatedIpPool", "dedicated IP pools: moto sends nothing"),
    ("aws:sesv2/", "SESv2 setting moto does not emulate"),
    ("aws:ses/domainIdentityVerification", "identity verification: moto verifies identities at once"),
    ("aws:ses/", "SES v1 setting moto does not emulate"),
    ("aws:iam/", "IAM: moto does not enforce policies, the app runs with local credentials"),
    ("aws:kms/", "KMS: local queues and topics are unencrypted"),
    ("aws:kinesis/firehoseDeliveryStream", "event archive: Firehose delivery is not emulated"),
    ("aws:lambda/", "Lambda: chalice local and the poller run the handlers"),
    ("aws:s3/bucketLifecycle", "S3 lifecycle rules: nothing expires locally"),
    ("aws:s3/bucketServerSide", "S3 encryption settings: not enforced locally"),
    ("aws:s3/bucketPublicAccessBlock", "S3 public access block: not enforced locally"),
    ("aws:s3/bucketVersioning", "S3 versioning: not needed locally"),
    ("aws:s3/bucketPolicy", "S3 bucket policy: not enforced locally"),
    ("aws:s3/bucketOwnership", "S3 ownership controls: not enforced locally"),
    ("aws:sqs/queuePolicy", "queue policies: not enforced by moto"),
    ("aws:sqs/redrivePolicy", "applied through the queue's RedrivePolicy attribute"),
    ("aws:sns/topicPolicy", "topic policies: not enforced by moto"),
    ("aws:dynamodb/tableReplica", "global-table replicas: moto emulates one region"),
    ("aws:dynamodb/contributorInsights", "contributor insights: not emulated"),
    ("aws:ssm/", "SSM setting not needed locally"),
    ("pulumi:", "Pulumi bookkeeping (stack, providers)"),
    ("random:", "random values: the local stack generates its own secrets"),
    ("sesame:", "component resource (its children are translated)"),
)


@dataclass(frozen=True)
class DeclaredResource:
    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    kind: str  # table, queue, topic, subscription, identity, configuration_set, bucket, parameter
    name: str  # physical name (topic/queue name, table name, ...)
    params: dict[str, Any]
    source: str  # "<type> <logical name>"


@dataclass
class Plan:
    operations: list[Operation] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (type, logical name, reason)

    def of(self, kind: str) -> list[Operation]:
        return [op for op in self.operations if op.kind == kind]

    def skipped_summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _typ, _name, reason in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


def _name(res: DeclaredResource, *keys: str) -> str:
    for key in keys:
        value = res.inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return res.name


def _json_attr(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict | list) else None


def _arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _table_op(res: DeclaredResource) -> Operation:
    i = res.inputs
    name = _name(res, "name")
    types = {a["name"]: a.get("type", "S") for a in i.get("attributes") or []}
    key_schema = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
    if i.get("rangeKey"):
        key_schema.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
    gsis = []
    for gsi in i.get("globalSecondaryIndexes") or []:
        if gsi.get("keySchemas"):  # pulumi-aws 7: keySchemas replaces hashKey/rangeKey
            ks = [
                {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
                for k in sorted(gsi["keySchemas"], key=lambda k: 0 if k["keyType"] == "HASH" else 1)
            ]
        else:
            ks = [{"AttributeName": gsi["hashKey"], "KeyType": "HASH"}]
            if gsi.get("rangeKey"):
                ks.append({"AttributeName": gsi["rangeKey"], "KeyType": "RANGE"})
        projection: dict[str, Any] = {"ProjectionType": gsi.get("projectionType", "ALL")}
        if gsi.get("nonKeyAttributes"):
            projection["NonKeyAttributes"] = list(gsi["nonKeyAttributes"])
        gsis.append({"IndexName": gsi["name"], "KeySchema": ks, "Projection": projection})
    used = {k["AttributeName"] for k in key_schema} | {k["AttributeName"] for g in gsis for k in g["KeySchema"]}
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": types.get(a, "S")} for a in sorted(used)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        params["GlobalSecondaryIndexes"] = gsis
    if i.get("streamEnabled"):  # the messages table's counter consumer reads its stream
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": i.get("streamViewType") or "NEW_AND_OLD_IMAGES",
        }
    ttl = i.get("ttl") or {}
    if ttl.get("enabled") and ttl.get("attributeName"):
        params["_ttl_attribute"] = ttl["attributeName"]
    return Operation("table", name, params, f"{res.type} {res.name}")


def _queue_op(res: DeclaredResource) -> Operation:
    i = res.inputs
    name = _name(res, "name")
    attributes: dict[str, str] = {}
    mapping = {
        "visibilityTimeoutSeconds": "VisibilityTimeout",
        "messageRetentionSeconds": "MessageRetentionPeriod",
        "delaySeconds": "DelaySeconds",
        "maxMessageSize": "MaximumMessageSize",
        "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    }
    for key, attr in mapping.items():
        if i.get(key) is not None:
            attributes[attr] = str(int(float(i[key])))
    if i.get("fifoQueue"):
        attributes["FifoQueue"] = "true"
    redrive = _json_attr(i.get("redrivePolicy"))
    if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn"):
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": redrive["deadLetterTargetArn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return Operation("queue", name, {"QueueName": name, "Attributes": attributes}, f"{res.type} {res.name}")


def _subscription_op(res: DeclaredResource) -> Operation:
    i = res.inputs
    attributes: dict[str, str] = {}
    policy = _json_attr(i.get("filterPolicy"))
    if policy:
        attributes["FilterPolicy"] = json.dumps(policy)
        attributes["FilterPolicyScope"] = str(i.get("filterPolicyScope") or "MessageAttributes")
    if i.get("rawMessageDelivery") is not None:
        attributes["RawMessageDelivery"] = "true" if i["rawMessageDelivery"] in (True, "true") else "false"
    redrive = _json_attr(i.get("redrivePolicy"))
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(redrive)
    params = {
        "TopicArn": str(i.get("topic") or i.get("topicArn") or ""),
        "Protocol": str(i.get("protocol") or ""),
        "Endpoint": str(i.get("endpoint") or ""),
        "Attributes": attributes,
    }
    return Operation("subscription", res.name, params, f"{res.type} {res.name}")


def translate(resources: Iterable[DeclaredResource]) -> Plan:
    """Map declared resources to moto operations; everything else is listed with the reason it is skipped."""
    plan = Plan()
    for res in resources:
        t = res.type
        src = f"{t} {res.name}"
        if t == "aws:dynamodb/table:Table":
            plan.operations.append(_table_op(res))
        elif t == "aws:sqs/queue:Queue":
            plan.operations.append(_queue_op(res))
        elif t == "aws:sns/topic:Topic":
            name = _name(res, "name")
            attrs = {}
            if res.inputs.get("signatureVersion") is not None:
                attrs["SignatureVersion"] = str(res.inputs["signatureVersion"])
            if res.inputs.get("fifoTopic"):
                attrs["FifoTopic"] = "true"
            plan.operations.append(Operation("topic", name, {"Name": name, "Attributes": attrs}, src))
        elif t == "aws:sns/topicSubscription:TopicSubscription":
            op = _subscription_op(res)
            if op.params["Protocol"] in {"sqs", "https", "http"}:
                plan.operations.append(op)
            else:
                plan.skipped.append(
                    (t, res.name, f"{op.params['Protocol']} subscriptions (e.g. alarm e-mail) have no local endpoint")
                )
        elif t == "aws:sesv2/emailIdentity:EmailIdentity":
            name = _name(res, "emailIdentity")
            params: dict[str, Any] = {"EmailIdentity": name}
            if res.inputs.get("configurationSetName"):
                params["ConfigurationSetName"] = res.inputs["configurationSetName"]
            plan.operations.append(Operation("identity", name, params, src))
        elif t == "aws:sesv2/configurationSet:ConfigurationSet":
            name = _name(res, "configurationSetName")
            plan.operations.append(Operation("configuration_set", name, {"ConfigurationSetName": name}, src))
        elif t in {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}:
            name = _name(res, "bucket", "bucketPrefix").lower()
            plan.operations.append(Operation("bucket", name, {"Bucket": name}, src))
        elif t == "aws:ssm/parameter:Parameter":
            name = _name(res, "name")
            value = res.inputs.get("value")
            plan.operations.append(
                Operation(
                    "parameter",
                    name,
                    {"Name": name, "Type": str(res.inputs.get("type") or "String"), "Value": value},
                    src,
                )
            )
        else:
            reason = next((why for prefix, why in _SKIP_REASONS if t.startswith(prefix)), UNEXPLAINED)
            plan.skipped.append((t, res.name, reason))
    # dependencies first: DLQs before the queues that redrive to them, topics and queues before subscriptions
    order = {"table": 0, "bucket": 0, "parameter": 0, "configuration_set": 1, "identity": 2, "topic": 3, "queue": 4}
    dlq_first = sorted(
        plan.operations, key=lambda op: (order.get(op.kind, 9), "RedrivePolicy" in op.params.get("Attributes", {}))
    )
    plan.operations = dlq_first
    return plan


@dataclass
class Provisioned:
    tables: dict[str, str] = field(default_factory=dict)  # physical name -> arn
    queues: dict[str, str] = field(default_factory=dict)  # name -> url
    queue_arns: dict[str, str] = field(default_factory=dict)  # name -> arn
    topics: dict[str, str] = field(default_factory=dict)  # name -> arn
    subscriptions: list[dict[str, Any]] = field(default_factory=list)  # TopicArn, Protocol, Endpoint, Attributes
    identities: list[str] = field(default_factory=list)
    configuration_sets: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)


ClientFactory = Callable[[str], Any]


def apply_plan(plan: Plan, client: ClientFactory, *, parameter_values: Mapping[str, str] | None = None) -> Provisioned:
    """Create every planned resource through boto3 clients (``client(service)``), in dependency order."""
    out = Provisioned()
    ddb, sqs, sns, ses = client("dynamodb"), client("sqs"), client("sns"), client("sesv2")
    arn_by_declared: dict[str, str] = {}  # ARNs the program saw (mocked) -> real local ARNs
    for op in plan.operations:
        p = dict(op.params)
        if op.kind == "table":
            ttl = p.pop("_ttl_attribute", None)
            desc = ddb.create_table(**p)["TableDescription"]
            if ttl:
                ddb.update_time_to_live(
                    TableName=op.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
                )
            out.tables[op.name] = desc["TableArn"]
        elif op.kind == "queue":
            attributes = dict(p["Attributes"])
            if "RedrivePolicy" in attributes:
                redrive = json.loads(attributes["RedrivePolicy"])
                target = redrive["deadLetterTargetArn"]
                redrive["deadLetterTargetArn"] = arn_by_declared.get(target) or out.queue_arns.get(
                    _arn_name(target), target
                )
                attributes["RedrivePolicy"] = json.dumps(redrive)
            url = sqs.create_queue(QueueName=op.name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            out.queues[op.name], out.queue_arns[op.name] = url, arn
            arn_by_declared[arn] = arn
        elif op.kind == "topic":
            arn = sns.create_topic(Name=op.name, Attributes=p["Attributes"])["TopicArn"]
            out.topics[op.name] = arn
        elif op.kind == "subscription":
            topic_arn = out.topics.get(_arn_name(p["TopicArn"]), p["TopicArn"])
            endpoint = p["Endpoint"]
            if p["Protocol"] == "sqs":
                endpoint = out.queue_arns.get(_arn_name(endpoint), endpoint)
            record = {
                "TopicArn": topic_arn,
                "Protocol": p["Protocol"],
                "Endpoint": endpoint,
                "Attributes": p["Attributes"],
            }
            if p["Protocol"] == "sqs":
                attrs = {k: v for k, v in p["Attributes"].items() if k != "RedrivePolicy"}
                sub = sns.subscribe(
                    TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint, Attributes=attrs, ReturnSubscriptionArn=True
                )
                record["SubscriptionArn"] = sub["SubscriptionArn"]
            out.subscriptions.append(record)
        elif op.kind == "configuration_set":
            ses.create_configuration_set(ConfigurationSetName=op.name)
            out.configuration_sets.append(op.name)
        elif op.kind == "identity":
            ses.create_email_identity(EmailIdentity=op.name)
            out.identities.append(op.name)
        elif op.kind == "bucket":
            client("s3").create_bucket(Bucket=op.name)
            out.buckets.append(op.name)
        elif op.kind == "parameter":
            value = (parameter_values or {}).get(op.name, p.get("Value"))
            if not isinstance(value, str) or not value:
                value = "{}"
            client("ssm").put_parameter(Name=op.name, Type=p["Type"], Value=value, Overwrite=True)
            out.parameters.append(op.name)
    return out


def app_environment(stack: Provisioned, *, environment: str, region: str) -> dict[str, str]:
    """The Chalice stage environment for the provisioned stack, following docs/DESIGN.md's naming table."""
    prefix = f"sesame-{environment}-"
    env: dict[str, str] = {
        "SESAME_ENVIRONMENT": environment,
        "SESAME_REGION": region,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    for name in stack.tables:
        if name.startswith(prefix):
            env[f"SESAME_{name[len(prefix) :].upper().replace('-', '_')}_TABLE"] = name
    for logical in ("send", "critical", "engagement", "forward"):
        name = prefix + logical
        if name in stack.queues:
            env[f"SESAME_{logical.upper()}_QUEUE"] = name
            env[f"SESAME_{logical.upper()}_QUEUE_URL"] = stack.queues[name]
    if prefix + "forward-dlq" in stack.queues:
        env["SESAME_FORWARD_DLQ_URL"] = stack.queues[prefix + "forward-dlq"]
    topics = [
        arn
        for name, arn in sorted(stack.topics.items())
        if name in (prefix + "ses-critical-events", prefix + "ses-events")
    ]
    if topics:
        env["SNS_ALLOWED_TOPIC_ARNS"] = ",".join(topics)
    sets = {name[len(prefix) :]: name for name in stack.configuration_sets if name.startswith(prefix)}
    if sets:
        env["SESAME_CONFIGURATION_SETS"] = json.dumps(sets, sort_keys=True)
        env["SESAME_DEFAULT_CONFIGURATION_SET"] = "marketing" if "marketing" in sets else sorted(sets)[0]
    if stack.buckets:
        env["SESAME_CAMPAIGN_BUCKET"] = stack.buckets[0]
    secrets = [p for p in stack.parameters if p.endswith("/app-secrets")]
    if secrets:
        env["SESAME_SECRETS_PARAMETER"] = secrets[0]
    return env


def builtin_resources(
    environment: str = "dev", region: str = "us-east-1", domain: str = "example.com"
) -> list[DeclaredResource]:
    """The dev stack as docs/DESIGN.md names it, for when the Pulumi program cannot be run (missing ``infra``).

    The table definitions come from ``runtime.stores.tables`` (the program builds its tables from the same data).
    """
    from runtime.stores.tables import TABLES

    account = "123456789012"
    p = f"sesame-{environment}-"
    out: list[DeclaredResource] = []
    for spec in TABLES:
        out.append(
            DeclaredResource(
                "aws:dynamodb/table:Table",
                spec.logical,
                {
                    "name": spec.physical_name(environment),
                    "hashKey": spec.hash_key,
                    "rangeKey": spec.range_key,
                    "attributes": [
                        {"name": a["AttributeName"], "type": a["AttributeType"]} for a in spec.attribute_definitions()
                    ],
                    "globalSecondaryIndexes": [
                        {
                            "name": ix.name,
                            "hashKey": ix.hash_key,
                            "rangeKey": ix.range_key,
                            "projectionType": ix.projection,
                            **({"nonKeyAttributes": list(ix.include)} if ix.projection == "INCLUDE" else {}),
                        }
                        for ix in spec.indexes
                    ],
                    "ttl": {"attributeName": spec.ttl_attribute, "enabled": True},
                    "billingMode": "PAY_PER_REQUEST",
                    "streamEnabled": spec.stream,
                    "streamViewType": "NEW_AND_OLD_IMAGES" if spec.stream else None,
                },
            )
        )
    for logical, visibility in (("send", 120), ("critical", 60), ("engagement", 120), ("forward", 120)):
        dlq = f"{p}{logical}-dlq"
        out.append(DeclaredResource("aws:sqs/queue:Queue", f"{logical}-dlq", {"name": dlq}))
        out.append(
            DeclaredResource(
                "aws:sqs/queue:Queue",
                logical,
                {
                    "name": p + logical,
                    "visibilityTimeoutSeconds": visibility,
                    "redrivePolicy": json.dumps(
                        {"deadLetterTargetArn": f"arn:aws:sqs:{region}:{account}:{dlq}", "maxReceiveCount": 3}
                    ),
                },
            )
        )
    out.append(DeclaredResource("aws:sqs/queue:Queue", "webhook-dlq", {"name": p + "webhook-dlq"}))
    # the event topics by class (infra/messaging.py): no filter policies, each topic's queue takes everything
    for logical, topic in (("critical", "ses-critical-events"), ("engagement", "ses-events")):
        out.append(DeclaredResource("aws:sns/topic:Topic", topic, {"name": p + topic, "signatureVersion": 2}))
        out.append(
            DeclaredResource(
                "aws:sns/topicSubscription:TopicSubscription",
                f"{logical}-subscription",
                {
                    "topic": f"arn:aws:sns:{region}:{account}:{p}{topic}",
                    "protocol": "sqs",
                    "endpoint": f"arn:aws:sqs:{region}:{account}:{p}{logical}",
                    "rawMessageDelivery": False,
                },
            )
        )
    for logical in ("marketing", "transactional"):
        out.append(
            DeclaredResource(
                "aws:sesv2/configurationSet:ConfigurationSet", logical, {"configurationSetName": p + logical}
            )
        )
        out.append(
            DeclaredResource(
                "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination",
                f"{logical}-sns",
                {"configurationSetName": p + logical},
            )
        )
    out.append(DeclaredResource("aws:sesv2/emailIdentity:EmailIdentity", "identity", {"emailIdentity": domain}))
    out.append(
        DeclaredResource("aws:s3/bucketV2:BucketV2", "campaigns", {"bucket": f"{p}{region}-campaigns-{account}"})
    )
    out.append(
        DeclaredResource(
            "aws:ssm/parameter:Parameter",
            "app-secrets",
            {"name": f"/sesame/{environment}/app-secrets", "type": "SecureString", "value": "{}"},
        )
    )
    out.append(DeclaredResource("aws:route53/record:Record", "dkim-0", {}))
    out.append(DeclaredResource("aws:cloudwatch/metricAlarm:MetricAlarm", "bounce-rate", {}))
    return out
