"""The campaign payload bucket (``sesame-<env>-<region>-campaigns-<account>``): private, encrypted."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import Names


def private_encrypted_bucket(
    resource: str,
    bucket: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    sse_algorithm: str = "AES256",
    protect: bool = False,
) -> aws.s3.Bucket:
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    created = aws.s3.Bucket(
        resource,
        bucket=bucket,
        force_destroy=False,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, protect=protect),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{resource}-encryption",
        bucket=created.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=sse_algorithm
                ),
                bucket_key_enabled=sse_algorithm == "aws:kms",
            )
        ],
        opts=opts,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{resource}-public-access-block",
        bucket=created.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    return created


class CampaignStorage(pulumi.ComponentResource):
    """``sesame:infra:CampaignStorage``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        account_id: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:CampaignStorage", name, None, opts)
        bucket_name = pulumi.Output.from_input(account_id).apply(names.campaign_bucket)
        self.bucket = private_encrypted_bucket("campaign-bucket", bucket_name, parent=self, provider=provider)
        aws.s3.BucketLifecycleConfiguration(
            "campaign-bucket-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="abort-incomplete-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                ),
                # recipient-file validation state (runtime/sender/validation.py): what a step that died before its
                # commit wrote is never read again; committed states are deleted by the validation itself
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-validation-state",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="validation/"),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=7),
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"campaignBucket": self.bucket.bucket})
