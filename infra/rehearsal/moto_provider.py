"""The AWS calls behind each resource type the program declares, made with boto3 against moto_server.

Each handler creates, updates or deletes through the same AWS API a real provider uses (DynamoDB CreateTable,
Lambda CreateFunction with the package's bytes, API Gateway resources and AWS_PROXY integrations from the API
definition, Route53 CREATE/UPSERT changes, ...), so moto's validation applies: a role that does not exist, an IAM
policy document that is malformed, a record created twice, a table deleted while protected all fail here as they
would in AWS. Types moto cannot emulate are kept in the state only, with the reason (``NOT_EMULATED``), and the
run reports them. DynamoDB global-table replicas are emulated as tables of the same name in the replica regions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"

#: resource types kept in the state only, and why
NOT_EMULATED = {
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": (
        "moto lacks CreateConfigurationSetEventDestination (the configuration set is checked to exist)"
    ),
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": (
        "moto lacks PutEmailIdentityMailFromAttributes (the identity is checked to exist)"
    ),
    "aws:cloudfront/distribution:Distribution": "CloudFront distributions are kept by name only",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "Firehose delivery is not emulated",
}


class ProviderError(RuntimeError):
    pass


def _digest(*parts: str, n: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


class MotoProvider:
    """``infra.rehearsal.engine.Provider`` over moto_server at ``endpoint``."""

    def __init__(self, endpoint: str, package_bytes: dict[str, bytes] | None = None) -> None:
        self.endpoint = endpoint
        self._clients: dict[tuple[str, str], Any] = {}
        self._archives: dict[str, bytes] = dict(package_bytes or {})
        self.not_emulated: dict[str, str] = {}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id="rehearsal",
                aws_secret_access_key="rehearsal",
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[key]

    def caller_account(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    # -- dispatch ---------------------------------------------------------------------------------------------

    @staticmethod
    def _method(token: str) -> str:
        kind = token.rsplit(":", 1)[-1]
        service = token.split(":")[1].split("/")[0]
        return f"_{service}_{kind}".lower()

    def create(self, token: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        if token in NOT_EMULATED:
            return self._state_only(token, name, inputs, region)
        handler = getattr(self, self._method(token) + "_create", None)
        if handler is None:
            raise ProviderError(f"the rehearsal has no provider for {token} ({name})")
        result: tuple[str, dict[str, Any]] = handler(name, inputs, region)
        return result

    def read(self, token: str, import_id: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        handler = getattr(self, self._method(token) + "_read", None)
        if handler is None:
            raise ProviderError(f"the rehearsal cannot import {token}")
        result: tuple[str, dict[str, Any]] = handler(import_id, inputs, region)
        return result

    def update(
        self,
        token: str,
        name: str,
        resource_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
        outputs: dict[str, Any],
        region: str,
    ) -> tuple[str, dict[str, Any]] | None:
        if token in NOT_EMULATED:
            return self._state_only(token, name, new, region)
        handler = getattr(self, self._method(token) + "_update", None)
        if handler is None:
            return None  # replace
        result: tuple[str, dict[str, Any]] | None = handler(name, resource_id, old, new, outputs, region)
        return result

    def delete(
        self, token: str, resource_id: str, inputs: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> None:
        if token in NOT_EMULATED:
            return
        handler = getattr(self, self._method(token) + "_delete", None)
        if handler is None:
            raise ProviderError(f"the rehearsal cannot delete {token}")
        handler(resource_id, inputs, outputs, region)

    def _state_only(self, token: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.not_emulated[token] = NOT_EMULATED[token]
        outputs: dict[str, Any] = {}
        if token.endswith(":ConfigurationSetEventDestination"):
            self.client("sesv2", region).get_configuration_set(ConfigurationSetName=inputs["configurationSetName"])
        elif token.endswith(":EmailIdentityMailFromAttributes"):
            self.client("sesv2", region).get_email_identity(EmailIdentity=inputs["emailIdentity"])
        elif token.endswith(":Distribution"):
            outputs = {
                "domainName": f"d{_digest(name, region, inputs.get('comment', ''), n=13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
                "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{_digest(name, n=12).upper()}",
            }
        return f"{name}-{_digest(token, name, region)}", outputs

    # -- DynamoDB ---------------------------------------------------------------------------------------------

    @staticmethod
    def _table_kwargs(i: dict[str, Any]) -> dict[str, Any]:
        keys = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
        if i.get("rangeKey"):
            keys.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": i["name"],
            "KeySchema": keys,
            "AttributeDefinitions": [
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in i.get("attributes") or []
            ],
            "BillingMode": i.get("billingMode", "PAY_PER_REQUEST"),
            "DeletionProtectionEnabled": bool(i.get("deletionProtectionEnabled")),
            "SSESpecification": {"Enabled": bool((i.get("serverSideEncryption") or {}).get("enabled"))},
        }
        indexes = []
        for gsi in i.get("globalSecondaryIndexes") or []:
            schema = sorted(gsi["keySchemas"], key=lambda k: 0 if k["keyType"] == "HASH" else 1)
            indexes.append(
                {
                    "IndexName": gsi["name"],
                    "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in schema],
                    "Projection": {"ProjectionType": gsi.get("projectionType", "ALL")},
                }
            )
        if indexes:
            kwargs["GlobalSecondaryIndexes"] = indexes
        if i.get("streamEnabled"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": i["streamViewType"]}
        return kwargs

    def _table_regions(self, i: dict[str, Any], region: str) -> list[str]:
        return [region] + [r["regionName"] for r in i.get("replicas") or []]

    def _dynamodb_table_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        arn = stream = ""
        for where in self._table_regions(i, region):  # the replicas: same table in every replica region
            ddb = self.client("dynamodb", where)
            description = ddb.create_table(**self._table_kwargs(i))["TableDescription"]
            ttl = i.get("ttl") or {}
            if ttl.get("enabled"):
                ddb.update_time_to_live(
                    TableName=i["name"],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
                )
            if (i.get("pointInTimeRecovery") or {}).get("enabled"):
                ddb.update_continuous_backups(
                    TableName=i["name"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
                )
            if where == region:
                arn = description["TableArn"]
                stream = description.get("LatestStreamArn") or f"{arn}/stream/rehearsal"
        return i["name"], {"arn": arn, "name": i["name"], "streamArn": stream}

    def _dynamodb_table_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        fixed = ("name", "hashKey", "rangeKey", "attributes", "globalSecondaryIndexes")
        if any(old.get(k) != new.get(k) for k in fixed) or self._table_regions(old, region) != self._table_regions(
            new, region
        ):
            return None  # (a replica's own settings, such as its deletion protection, change in place)
        for where in self._table_regions(new, region):
            self.client("dynamodb", where).update_table(
                TableName=rid, DeletionProtectionEnabled=bool(new.get("deletionProtectionEnabled"))
            )
        return rid, outputs

    def _dynamodb_table_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        for where in reversed(self._table_regions(i, region)):
            self.client("dynamodb", where).delete_table(TableName=rid)  # refused while deletion protection is on

    # -- SQS and SNS ------------------------------------------------------------------------------------------

    @staticmethod
    def _queue_attributes(i: dict[str, Any]) -> dict[str, str]:
        mapping = {
            "visibilityTimeoutSeconds": "VisibilityTimeout",
            "messageRetentionSeconds": "MessageRetentionPeriod",
            "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
            "redrivePolicy": "RedrivePolicy",
        }
        attrs = {attr: str(i[key]) for key, attr in mapping.items() if i.get(key) is not None}
        if i.get("sqsManagedSseEnabled"):
            attrs["SqsManagedSseEnabled"] = "true"
        return attrs

    def _sqs_queue_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        sqs = self.client("sqs", region)
        url = sqs.create_queue(QueueName=i["name"], Attributes=self._queue_attributes(i))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"url": url, "arn": arn, "name": i["name"]}

    def _sqs_queue_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("name") != new.get("name"):
            return None
        self.client("sqs", region).set_queue_attributes(QueueUrl=rid, Attributes=self._queue_attributes(new))
        return rid, outputs

    def _sqs_queue_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        self.client("sqs", region).delete_queue(QueueUrl=rid)

    def _sqs_queuepolicy_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("sqs", region).set_queue_attributes(QueueUrl=i["queueUrl"], Attributes={"Policy": i["policy"]})
        return i["queueUrl"], {}

    def _sqs_queuepolicy_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        return self._sqs_queuepolicy_create(name, new, region)

    def _sqs_queuepolicy_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        self.client("sqs", region).set_queue_attributes(QueueUrl=rid, Attributes={"Policy": ""})

    def _sns_topic_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        attrs = {"SignatureVersion": str(i.get("signatureVersion", 1))}
        if i.get("kmsMasterKeyId"):
            attrs["KmsMasterKeyId"] = i["kmsMasterKeyId"]
        arn = self.client("sns", region).create_topic(Name=i["name"], Attributes=attrs)["TopicArn"]
        return arn, {"arn": arn, "name": i["name"]}

    def _sns_topic_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        self.client("sns", region).delete_topic(TopicArn=rid)

    def _sns_topicpolicy_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("sns", region).set_topic_attributes(
            TopicArn=i["arn"], AttributeName="Policy", AttributeValue=i["policy"]
        )
        return i["arn"], {}

    def _sns_topicpolicy_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        return self._sns_topicpolicy_create(name, new, region)

    def _sns_topicpolicy_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        return None  # the topic's default policy is back when the topic itself goes

    def _sns_topicsubscription_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        attrs: dict[str, str] = {}
        for key, attr in (
            ("filterPolicy", "FilterPolicy"),
            ("filterPolicyScope", "FilterPolicyScope"),
            ("deliveryPolicy", "DeliveryPolicy"),
            ("redrivePolicy", "RedrivePolicy"),
        ):
            if i.get(key):
                attrs[attr] = str(i[key])
        if i.get("rawMessageDelivery") is not None:
            attrs["RawMessageDelivery"] = "true" if i["rawMessageDelivery"] else "false"
        arn = self.client("sns", region).subscribe(
            TopicArn=i["topic"],
            Protocol=i["protocol"],
            Endpoint=i["endpoint"],
            Attributes=attrs,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {"arn": arn}

    def _sns_topicsubscription_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        self.client("sns", region).unsubscribe(SubscriptionArn=rid)

    # -- SES --------------------------------------------------------------------------------------------------

    def _sesv2_emailidentity_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        attrs = i.get("dkimSigningAttributes") or {}
        kwargs: dict[str, Any] = {"EmailIdentity": i["emailIdentity"]}
        if attrs.get("nextSigningKeyLength"):
            kwargs["DkimSigningAttributes"] = {"NextSigningKeyLength": attrs["nextSigningKeyLength"]}
        self.client("sesv2", region).create_email_identity(**kwargs)
        return self._sesv2_emailidentity_read(i["emailIdentity"], i, region)

    def _sesv2_emailidentity_read(self, import_id: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        found = self.client("sesv2", region).get_email_identity(EmailIdentity=import_id)
        dkim = found.get("DkimAttributes") or {}
        # moto returns no DKIM tokens: stand-ins, stable per identity and region
        tokens = dkim.get("Tokens") or [_digest(import_id, region, str(n), n=32) for n in range(3)]
        attrs = {**(i.get("dkimSigningAttributes") or {}), "tokens": tokens, "status": dkim.get("Status", "")}
        arn = f"arn:aws:ses:{region}:{ACCOUNT}:identity/{import_id}"
        return import_id, {"arn": arn, "emailIdentity": import_id, "dkimSigningAttributes": attrs}

    def _sesv2_emailidentity_delete(self, rid: str, i: dict[str, Any], outputs: dict[str, Any], region: str) -> None:
        self.client("sesv2", region).delete_email_identity(EmailIdentity=rid)

    def _ses_domainidentityverification_create(
        self, name: str, i: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]]:
        # the wait: SES must report the identity verified (moto verifies at once; an identity nobody created fails)
        status = (
            self.client("ses", region)
            .get_identity_verification_attributes(Identities=[i["domain"]])["VerificationAttributes"]
            .get(i["domain"], {})
            .get("VerificationStatus")
        )
        if status != "Success":
            raise ProviderError(f"SES identity {i['domain']} in {region} is not verified ({status})")
        return i["domain"], {"arn": f"arn:aws:ses:{region}:{ACCOUNT}:identity/{i['domain']}"}

    def _ses_domainidentityverification_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        return None  # a wait, nothing in AWS

    @staticmethod
    def _config_set_kwargs(i: dict[str, Any]) -> dict[str, Any]:
        delivery = i.get("deliveryOptions") or {}
        kwargs: dict[str, Any] = {
            "ConfigurationSetName": i["configurationSetName"],
            "DeliveryOptions": {
                k: v
                for k, v in (
                    ("TlsPolicy", delivery.get("tlsPolicy")),
                    ("SendingPoolName", delivery.get("sendingPoolName")),
                    ("MaxDeliverySeconds", delivery.get("maxDeliverySeconds")),
                )
                if v is not None
            },
            "ReputationOptions": {
                "ReputationMetricsEnabled": bool((i.get("reputationOptions") or {}).get("reputationMetricsEnabled"))
            },
            "SendingOptions": {"SendingEnabled": bool((i.get("sendingOptions") or {}).get("sendingEnabled", True))},
            "SuppressionOptions": {
                "SuppressedReasons": list((i.get("suppressionOptions") or {}).get("suppressedReasons") or [])
            },
        }
        tracking = i.get("trackingOptions")
        if tracking:
            kwargs["TrackingOptions"] = {
                "CustomRedirectDomain": tracking["customRedirectDomain"],
                "HttpsPolicy": tracking.get("httpsPolicy", "OPTIONAL"),
            }
        return kwargs

    def _sesv2_configurationset_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("sesv2", region).create_configuration_set(**self._config_set_kwargs(i))
        cs = i["configurationSetName"]
        return cs, {"arn": f"arn:aws:ses:{region}:{ACCOUNT}:configuration-set/{cs}"}

    def _sesv2_configurationset_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("configurationSetName") != new.get("configurationSetName"):
            return None
        # moto has no Put*Options calls: the set is recreated under its name (its destinations are state-only)
        self.client("sesv2", region).delete_configuration_set(ConfigurationSetName=rid)
        return self._sesv2_configurationset_create(name, new, region)

    def _sesv2_configurationset_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("sesv2", region).delete_configuration_set(ConfigurationSetName=rid)

    def _sesv2_dedicatedippool_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("sesv2", region).create_dedicated_ip_pool(PoolName=i["poolName"], ScalingMode=i["scalingMode"])
        return i["poolName"], {"arn": f"arn:aws:ses:{region}:{ACCOUNT}:dedicated-ip-pool/{i['poolName']}"}

    def _sesv2_dedicatedippool_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("sesv2", region).delete_dedicated_ip_pool(PoolName=rid)

    # -- S3, SSM, random --------------------------------------------------------------------------------------

    def _s3_bucket_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": i["bucket"]}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client("s3", region).create_bucket(**kwargs)
        return i["bucket"], {"bucket": i["bucket"], "arn": f"arn:aws:s3:::{i['bucket']}"}

    def _s3_bucket_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("s3", region).delete_bucket(Bucket=rid)

    def _s3_bucketserversideencryptionconfiguration_create(self, name: str, i: dict[str, Any], region: str) -> Any:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": r["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
                },
                "BucketKeyEnabled": bool(r.get("bucketKeyEnabled")),
            }
            for r in i["rules"]
        ]
        self.client("s3", region).put_bucket_encryption(
            Bucket=i["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )
        return i["bucket"], {}

    def _s3_bucketserversideencryptionconfiguration_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("s3", region).delete_bucket_encryption(Bucket=rid)

    def _s3_bucketpublicaccessblock_create(self, name: str, i: dict[str, Any], region: str) -> Any:
        self.client("s3", region).put_public_access_block(
            Bucket=i["bucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": bool(i.get("blockPublicAcls")),
                "IgnorePublicAcls": bool(i.get("ignorePublicAcls")),
                "BlockPublicPolicy": bool(i.get("blockPublicPolicy")),
                "RestrictPublicBuckets": bool(i.get("restrictPublicBuckets")),
            },
        )
        return i["bucket"], {}

    def _s3_bucketpublicaccessblock_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("s3", region).delete_public_access_block(Bucket=rid)

    def _s3_bucketlifecycleconfiguration_create(self, name: str, i: dict[str, Any], region: str) -> Any:
        rules = []
        for r in i["rules"]:
            rule: dict[str, Any] = {"ID": r["id"], "Status": r["status"], "Filter": {"Prefix": ""}}
            if r.get("abortIncompleteMultipartUpload"):
                rule["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": int(r["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
                }
            if r.get("expiration"):
                rule["Expiration"] = {"Days": int(r["expiration"]["days"])}
            if r.get("transitions"):
                rule["Transitions"] = [
                    {"Days": int(t["days"]), "StorageClass": t["storageClass"]} for t in r["transitions"]
                ]
            rules.append(rule)
        self.client("s3", region).put_bucket_lifecycle_configuration(
            Bucket=i["bucket"], LifecycleConfiguration={"Rules": rules}
        )
        return i["bucket"], {}

    def _s3_bucketlifecycleconfiguration_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("s3", region).delete_bucket_lifecycle(Bucket=rid)

    def _ssm_parameter_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("ssm", region).put_parameter(
            Name=i["name"], Type=i["type"], Value=i["value"], Description=i.get("description", ""), Overwrite=True
        )
        return i["name"], {"arn": f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{i['name']}", "name": i["name"]}

    def _ssm_parameter_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("name") != new.get("name"):
            return None
        return self._ssm_parameter_create(name, new, region)

    def _ssm_parameter_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("ssm", region).delete_parameter(Name=rid)

    def _index_randompassword_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        alphabet = string.ascii_letters + string.digits
        value = "".join(secrets.choice(alphabet) for _ in range(int(i["length"])))
        return name, {"result": value}

    def _index_randompassword_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        return None

    # -- IAM --------------------------------------------------------------------------------------------------

    def _iam_role_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        role = self.client("iam").create_role(
            RoleName=i["name"], AssumeRolePolicyDocument=i["assumeRolePolicy"], Description=i.get("description", "")
        )["Role"]
        return i["name"], {"arn": role["Arn"], "name": i["name"]}

    def _iam_role_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("name") != new.get("name"):
            return None
        self.client("iam").update_assume_role_policy(RoleName=rid, PolicyDocument=new["assumeRolePolicy"])
        return rid, outputs

    def _iam_role_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("iam").delete_role(RoleName=rid)

    def _iam_rolepolicy_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        # moto validates the document as IAM does (a statement without Resource is MalformedPolicyDocument)
        self.client("iam").put_role_policy(RoleName=i["role"], PolicyName=name, PolicyDocument=i["policy"])
        return f"{i['role']}:{name}", {"name": name}

    def _iam_rolepolicy_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        if old.get("role") != new.get("role"):
            return None
        return self._iam_rolepolicy_create(name, new, region)

    def _iam_rolepolicy_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        role, _, policy = rid.partition(":")
        self.client("iam").delete_role_policy(RoleName=role, PolicyName=policy)

    # -- CloudWatch, EventBridge ------------------------------------------------------------------------------

    def _cloudwatch_loggroup_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        logs = self.client("logs", region)
        logs.create_log_group(logGroupName=i["name"])
        logs.put_retention_policy(logGroupName=i["name"], retentionInDays=int(i["retentionInDays"]))
        return i["name"], {"arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{i['name']}", "name": i["name"]}

    def _cloudwatch_loggroup_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("name") != new.get("name"):
            return None
        self.client("logs", region).put_retention_policy(logGroupName=rid, retentionInDays=int(new["retentionInDays"]))
        return rid, outputs

    def _cloudwatch_loggroup_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("logs", region).delete_log_group(logGroupName=rid)

    def _cloudwatch_metricalarm_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "AlarmName": i["name"],
            "AlarmDescription": i.get("alarmDescription", ""),
            "Namespace": i["namespace"],
            "MetricName": i["metricName"],
            "Statistic": i["statistic"],
            "Period": int(i["period"]),
            "EvaluationPeriods": int(i["evaluationPeriods"]),
            "Threshold": float(i["threshold"]),
            "ComparisonOperator": i["comparisonOperator"],
            "TreatMissingData": i.get("treatMissingData", "missing"),
            "AlarmActions": list(i.get("alarmActions") or []),
            "OKActions": list(i.get("okActions") or []),
            "Dimensions": [{"Name": k, "Value": v} for k, v in (i.get("dimensions") or {}).items()],
        }
        if i.get("datapointsToAlarm"):
            kwargs["DatapointsToAlarm"] = int(i["datapointsToAlarm"])
        self.client("cloudwatch", region).put_metric_alarm(**kwargs)
        return i["name"], {"arn": f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{i['name']}"}

    def _cloudwatch_metricalarm_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        if old.get("name") != new.get("name"):
            return None
        return self._cloudwatch_metricalarm_create(name, new, region)

    def _cloudwatch_metricalarm_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("cloudwatch", region).delete_alarms(AlarmNames=[rid])

    def _cloudwatch_dashboard_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("cloudwatch", region).put_dashboard(
            DashboardName=i["dashboardName"], DashboardBody=i["dashboardBody"]
        )
        return i["dashboardName"], {"dashboardName": i["dashboardName"]}

    def _cloudwatch_dashboard_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        return self._cloudwatch_dashboard_create(name, new, region)

    def _cloudwatch_dashboard_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("cloudwatch", region).delete_dashboards(DashboardNames=[rid])

    def _cloudwatch_eventrule_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        arn = self.client("events", region).put_rule(
            Name=i["name"],
            ScheduleExpression=i["scheduleExpression"],
            Description=i.get("description", ""),
            State="ENABLED",
        )["RuleArn"]
        return i["name"], {"arn": arn, "name": i["name"]}

    def _cloudwatch_eventrule_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        if old.get("name") != new.get("name"):
            return None
        return self._cloudwatch_eventrule_create(name, new, region)

    def _cloudwatch_eventrule_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("events", region).delete_rule(Name=rid)

    def _cloudwatch_eventtarget_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("events", region).put_targets(Rule=i["rule"], Targets=[{"Id": i["targetId"], "Arn": i["arn"]}])
        return f"{i['rule']}-{i['targetId']}", {}

    def _cloudwatch_eventtarget_update(self, name: str, rid: str, old: Any, new: Any, outputs: Any, region: str) -> Any:
        if (old.get("rule"), old.get("targetId")) != (new.get("rule"), new.get("targetId")):
            return None
        return self._cloudwatch_eventtarget_create(name, new, region)

    def _cloudwatch_eventtarget_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("events", region).remove_targets(Rule=i["rule"], Ids=[i["targetId"]])

    # -- Lambda -----------------------------------------------------------------------------------------------

    def archive_bytes(self, sha256: str) -> bytes:
        from infra.rehearsal.engine import ARCHIVES

        if sha256 not in self._archives and sha256 in ARCHIVES:
            self._archives[sha256] = Path(ARCHIVES[sha256]).read_bytes()
        if sha256 not in self._archives:
            raise ProviderError(f"no package with sha256 {sha256} was declared by the program")
        return self._archives[sha256]

    @staticmethod
    def _function_configuration(i: dict[str, Any]) -> dict[str, Any]:
        return {
            "FunctionName": i["name"],
            "Role": i["role"],
            "Handler": i["handler"],
            "Runtime": i["runtime"],
            "Description": i.get("description", ""),
            "Timeout": int(i["timeout"]),
            "MemorySize": int(i["memorySize"]),
            "Environment": {"Variables": dict((i.get("environment") or {}).get("variables") or {})},
        }

    def _function_outputs(self, configuration: dict[str, Any], region: str) -> dict[str, Any]:
        arn = configuration["FunctionArn"]
        return {
            "arn": arn,
            "name": configuration["FunctionName"],
            "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "codeSha256": configuration["CodeSha256"],
        }

    def _lambda_function_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        lam = self.client("lambda", region)
        zipped = self.archive_bytes(i["code"]["archive-sha256"])
        created = lam.create_function(
            **self._function_configuration(i),
            Code={"ZipFile": zipped},
            Architectures=list(i.get("architectures") or ["x86_64"]),
        )
        if base64.b64encode(hashlib.sha256(zipped).digest()).decode() != i.get("sourceCodeHash"):
            raise ProviderError(f"{i['name']}: the package's bytes do not match sourceCodeHash")
        if i.get("reservedConcurrentExecutions") is not None:
            lam.put_function_concurrency(
                FunctionName=i["name"], ReservedConcurrentExecutions=int(i["reservedConcurrentExecutions"])
            )
        return i["name"], self._function_outputs(created, region)

    def _lambda_function_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("name") != new.get("name"):
            return None
        lam = self.client("lambda", region)
        configuration = lam.update_function_configuration(**self._function_configuration(new))
        if old.get("code") != new.get("code"):
            configuration = lam.update_function_code(
                FunctionName=rid, ZipFile=self.archive_bytes(new["code"]["archive-sha256"])
            )
        if new.get("reservedConcurrentExecutions") is not None:
            lam.put_function_concurrency(
                FunctionName=rid, ReservedConcurrentExecutions=int(new["reservedConcurrentExecutions"])
            )
        elif old.get("reservedConcurrentExecutions") is not None:
            lam.delete_function_concurrency(FunctionName=rid)
        return rid, self._function_outputs(configuration, region)

    def _lambda_function_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("lambda", region).delete_function(FunctionName=rid)

    def _lambda_permission_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        statement = i.get("statementId") or name
        self.client("lambda", region).add_permission(
            FunctionName=i["function"],
            StatementId=statement,
            Action=i["action"],
            Principal=i["principal"],
            SourceArn=i["sourceArn"],
        )
        return statement, {"statementId": statement}

    def _lambda_permission_delete(self, rid: str, i: dict[str, Any], outputs: Any, region: str) -> None:
        self.client("lambda", region).remove_permission(FunctionName=i["function"], StatementId=rid)

    @staticmethod
    def _mapping_kwargs(i: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "FunctionName": i["functionName"],
            "BatchSize": int(i["batchSize"]),
            "Enabled": bool(i.get("enabled", True)),
            "FunctionResponseTypes": list(i.get("functionResponseTypes") or []),
        }
        if i.get("maximumBatchingWindowInSeconds") is not None:
            kwargs["MaximumBatchingWindowInSeconds"] = int(i["maximumBatchingWindowInSeconds"])
        if i.get("scalingConfig"):
            kwargs["ScalingConfig"] = {"MaximumConcurrency": int(i["scalingConfig"]["maximumConcurrency"])}
        for key, name in (
            ("startingPosition", "StartingPosition"),
            ("tumblingWindowInSeconds", "TumblingWindowInSeconds"),
            ("bisectBatchOnFunctionError", "BisectBatchOnFunctionError"),
            ("maximumRetryAttempts", "MaximumRetryAttempts"),
            ("maximumRecordAgeInSeconds", "MaximumRecordAgeInSeconds"),
        ):
            if i.get(key) is not None:
                kwargs[name] = i[key]
        return kwargs

    def _lambda_eventsourcemapping_create(
        self, name: str, i: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]]:
        mapping = self.client("lambda", region).create_event_source_mapping(
            EventSourceArn=i["eventSourceArn"], **self._mapping_kwargs(i)
        )
        return mapping["UUID"], {"uuid": mapping["UUID"], "functionArn": mapping["FunctionArn"]}

    def _lambda_eventsourcemapping_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if old.get("eventSourceArn") != new.get("eventSourceArn"):
            return None
        self.client("lambda", region).update_event_source_mapping(UUID=rid, **self._mapping_kwargs(new))
        return rid, outputs

    def _lambda_eventsourcemapping_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("lambda", region).delete_event_source_mapping(UUID=rid)

    # -- API Gateway ------------------------------------------------------------------------------------------

    def _import_paths(self, api_id: str, body: dict[str, Any], region: str) -> None:
        """Resources, methods and integrations from the API definition, as ImportRestApi/PutRestApi build them."""
        apig = self.client("apigateway", region)
        by_path = {r["path"]: r["id"] for r in apig.get_resources(restApiId=api_id)["items"]}
        for path in sorted(body.get("paths", {})):
            parent = "/"
            for part in path.strip("/").split("/"):
                current = (parent.rstrip("/") + "/" + part) if part else parent
                if current not in by_path:
                    created = apig.create_resource(restApiId=api_id, parentId=by_path[parent], pathPart=part)
                    by_path[current] = created["id"]
                parent = current
            for method, operation in body["paths"][path].items():
                if method == "parameters" or not isinstance(operation, dict):
                    continue
                apig.put_method(
                    restApiId=api_id, resourceId=by_path[path], httpMethod=method.upper(), authorizationType="NONE"
                )
                integration = operation.get("x-amazon-apigateway-integration") or {}
                apig.put_integration(
                    restApiId=api_id,
                    resourceId=by_path[path],
                    httpMethod=method.upper(),
                    type=str(integration.get("type", "aws_proxy")).upper(),
                    integrationHttpMethod=integration.get("httpMethod", "POST"),
                    uri=integration["uri"],
                )

    def _api_outputs(self, api_id: str, region: str) -> dict[str, Any]:
        apig = self.client("apigateway", region)
        root = next(r["id"] for r in apig.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        return {
            "id": api_id,
            "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT}:{api_id}",
            "rootResourceId": root,
        }

    def _apigateway_restapi_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        body = json.loads(i["body"])
        api = self.client("apigateway", region).create_rest_api(
            name=i["name"],
            description=i.get("description", ""),
            endpointConfiguration={"types": [i["endpointConfiguration"]["types"]]},
            binaryMediaTypes=list(body.get("x-amazon-apigateway-binary-media-types") or []),
        )
        self._import_paths(api["id"], body, region)
        return api["id"], self._api_outputs(api["id"], region)

    def _apigateway_restapi_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        # PutRestApi mode=overwrite: the definition replaces every resource of the API
        apig = self.client("apigateway", region)
        for resource in apig.get_resources(restApiId=rid)["items"]:
            if resource["path"].count("/") == 1 and resource["path"] != "/":
                apig.delete_resource(restApiId=rid, resourceId=resource["id"])
        self._import_paths(rid, json.loads(new["body"]), region)
        return rid, self._api_outputs(rid, region)

    def _apigateway_restapi_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("apigateway", region).delete_rest_api(restApiId=rid)

    def _apigateway_deployment_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        deployment = self.client("apigateway", region).create_deployment(
            restApiId=i["restApi"], description=i.get("description", "")
        )
        return deployment["id"], {"id": deployment["id"]}

    def _apigateway_deployment_delete(self, rid: str, i: dict[str, Any], outputs: Any, region: str) -> None:
        self.client("apigateway", region).delete_deployment(restApiId=i["restApi"], deploymentId=rid)

    def _apigateway_stage_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        self.client("apigateway", region).create_stage(
            restApiId=i["restApi"],
            stageName=i["stageName"],
            deploymentId=i["deployment"],
            description=i.get("description", ""),
        )
        url = f"https://{i['restApi']}.execute-api.{region}.amazonaws.com/{i['stageName']}"
        return f"ags-{i['restApi']}-{i['stageName']}", {"invokeUrl": url}

    def _apigateway_stage_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if (old.get("restApi"), old.get("stageName")) != (new.get("restApi"), new.get("stageName")):
            return None
        self.client("apigateway", region).update_stage(
            restApiId=new["restApi"],
            stageName=new["stageName"],
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": new["deployment"]}],
        )
        return rid, outputs

    def _apigateway_stage_delete(self, rid: str, i: dict[str, Any], outputs: Any, region: str) -> None:
        self.client("apigateway", region).delete_stage(restApiId=i["restApi"], stageName=i["stageName"])

    # -- ACM and Route53 --------------------------------------------------------------------------------------

    def _acm_certificate_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        acm = self.client("acm", region)
        arn = acm.request_certificate(DomainName=i["domainName"], ValidationMethod=i["validationMethod"])[
            "CertificateArn"
        ]
        options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
        record = options[0]["ResourceRecord"]
        return arn, {
            "arn": arn,
            "domainValidationOptions": [
                {
                    "domainName": i["domainName"],
                    "resourceRecordName": record["Name"],
                    "resourceRecordType": record["Type"],
                    "resourceRecordValue": record["Value"],
                }
            ],
        }

    def _acm_certificate_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        self.client("acm", region).delete_certificate(CertificateArn=rid)

    def _acm_certificatevalidation_create(
        self, name: str, i: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]]:
        # the wait: ACM validates once the validation record answers; here: the record must be in the zone
        zone_records = {
            r["Name"].rstrip(".")
            for zone in self.client("route53").list_hosted_zones()["HostedZones"]
            for r in self.client("route53").list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        }
        missing = [f for f in i.get("validationRecordFqdns") or [] if f.rstrip(".") not in zone_records]
        if missing:
            raise ProviderError(f"certificate validation would wait forever: no record {missing}")
        return i["certificateArn"], {"certificateArn": i["certificateArn"]}

    def _acm_certificatevalidation_delete(self, rid: str, i: Any, outputs: Any, region: str) -> None:
        return None

    @staticmethod
    def _record_set(i: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"Name": i["name"], "Type": i["type"]}
        if i.get("aliases"):
            alias = i["aliases"][0]
            record["AliasTarget"] = {
                "HostedZoneId": alias["zoneId"],
                "DNSName": alias["name"],
                "EvaluateTargetHealth": bool(alias.get("evaluateTargetHealth")),
            }
        else:
            record["TTL"] = int(i["ttl"])
            record["ResourceRecords"] = [
                {"Value": f'"{v}"' if i["type"] == "TXT" else v} for v in i.get("records") or []
            ]
        return record

    def _route53_record_create(self, name: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        action = "UPSERT" if i.get("allowOverwrite") else "CREATE"  # CREATE fails on an existing record, as in AWS
        self.client("route53").change_resource_record_sets(
            HostedZoneId=i["zoneId"],
            ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": self._record_set(i)}]},
        )
        return f"{i['zoneId']}_{i['name']}_{i['type']}", {"fqdn": i["name"].rstrip(".")}

    def _route53_record_read(self, import_id: str, i: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        zone, _, rest = import_id.partition("_")
        name, _, record_type = rest.rpartition("_")
        found = [
            r
            for r in self.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if r["Name"].rstrip(".") == name and r["Type"] == record_type
        ]
        if not found:
            raise ProviderError(f"import {import_id}: no such record")
        values = [v["Value"].strip('"') for v in found[0].get("ResourceRecords", [])]
        declared = [str(v).replace('""', "") for v in i.get("records") or []]
        if values != declared:
            # an import whose declared inputs differ from what exists is refused, never silently applied
            raise ProviderError(f"import {import_id}: the record holds {values}, the program declares {declared}")
        return import_id, {"fqdn": name}

    def _route53_record_update(
        self, name: str, rid: str, old: dict[str, Any], new: dict[str, Any], outputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]] | None:
        if (old.get("zoneId"), old.get("name"), old.get("type")) != (
            new.get("zoneId"),
            new.get("name"),
            new.get("type"),
        ):
            return None
        self.client("route53").change_resource_record_sets(
            HostedZoneId=new["zoneId"],
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": self._record_set(new)}]},
        )
        return rid, outputs

    def _route53_record_delete(self, rid: str, i: dict[str, Any], outputs: Any, region: str) -> None:
        self.client("route53").change_resource_record_sets(
            HostedZoneId=i["zoneId"],
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": self._record_set(i)}]},
        )
