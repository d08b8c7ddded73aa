"""Optional event archive: a Firehose event destination on every configuration set delivering every event to an
encrypted S3 bucket with lifecycle rules, for history beyond the DynamoDB TTL."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.config_sets import EVENT_TYPES
from infra.naming import Names
from infra.storage import private_encrypted_bucket


def _trust(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


class EventArchive(pulumi.ComponentResource):
    """``sesame:infra:EventArchive``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        account_id: pulumi.Input[str],
        config_sets: Mapping[str, pulumi.Input[str]],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:EventArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        bucket_name = pulumi.Output.from_input(account_id).apply(names.archive_bucket)
        # the archive is the event history beyond the tables' TTL: protected like the tables in production
        self.bucket = private_encrypted_bucket(
            "archive-bucket",
            bucket_name,
            parent=self,
            provider=provider,
            sse_algorithm="aws:kms",
            protect=cfg.protect_data,
        )
        aws.s3.BucketLifecycleConfiguration(
            "archive-bucket-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="archive-events",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=cfg.archive_transition_days, storage_class="GLACIER_IR"
                        )
                    ],
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=cfg.archive_expiration_days),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=child,
        )
        firehose_role = aws.iam.Role(
            "archive-firehose-role",
            name=f"{names.prefix}-{cfg.region}-archive-firehose",
            assume_role_policy=_trust("firehose.amazonaws.com", account_id),
            opts=child,
        )
        aws.iam.RolePolicy(
            "archive-firehose-policy",
            role=firehose_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:AbortMultipartUpload",
                                "s3:GetBucketLocation",
                                "s3:GetObject",
                                "s3:ListBucket",
                                "s3:ListBucketMultipartUploads",
                                "s3:PutObject",
                            ],
                            "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                        }
                    ],
                }
            ),
            opts=child,
        )
        self.stream = aws.kinesis.FirehoseDeliveryStream(
            "archive-stream",
            name=names.archive_stream,
            destination="extended_s3",
            server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                enabled=True, key_type="AWS_OWNED_CMK"
            ),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                role_arn=firehose_role.arn,
                bucket_arn=self.bucket.arn,
                prefix="events/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/",
                error_output_prefix="errors/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/",
                buffering_interval=300,
                buffering_size=64,
                compression_format="GZIP",
            ),
            opts=child,
        )
        ses_role = aws.iam.Role(
            "archive-ses-role",
            name=f"{names.prefix}-{cfg.region}-archive-ses",
            assume_role_policy=_trust("ses.amazonaws.com", account_id),
            opts=child,
        )
        ses_policy = aws.iam.RolePolicy(
            "archive-ses-policy",
            role=ses_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                            "Resource": self.stream.arn,
                        }
                    ],
                }
            ),
            opts=child,
        )
        firehose = aws.sesv2.ConfigurationSetEventDestinationEventDestinationKinesisFirehoseDestinationArgs(
            delivery_stream_arn=self.stream.arn, iam_role_arn=ses_role.arn
        )
        for logical, config_set_name in config_sets.items():
            aws.sesv2.ConfigurationSetEventDestination(
                f"config-set-{logical}-firehose",
                configuration_set_name=config_set_name,
                event_destination_name="archive",
                event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                    enabled=True,
                    matching_event_types=list(EVENT_TYPES),
                    kinesis_firehose_destination=firehose,
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ses_policy]),
            )
        self.register_outputs({"archiveBucket": self.bucket.bucket})
