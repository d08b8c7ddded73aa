"""A least-privilege role for the Chalice app (``manage_iam_role: false`` + ``iam_role_arn`` in the stage).

SES send operations only on this environment's identities, configuration sets, templates and contact lists (in
every region of ``sesame:regions``, so client-side failover works) with a ``ses:FromAddress`` condition on the
domain; creating and reading campaign templates only under ``sesame-<env>-`` (never updating one); DynamoDB only
on the tables and their indexes; SQS only on the stack's queues (consume the four work
queues and the forward DLQ; send to the send, forward and engagement queues and the forward DLQ); the campaign
bucket; the secrets parameter; confirming the event topic's subscription; its own log groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import Names

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

SES_SEND_ACTIONS = ["ses:SendEmail", "ses:SendBulkEmail", "ses:SendRawEmail"]
# campaign launch creates the campaign's SES templates in the primary and the backup region (never updates one: a
# template that exists is read to tell a retry of our own create from someone else's), only under the
# environment's own prefix sesame-<env>- (runtime.sender.campaign.template_prefix)
SES_TEMPLATE_ACTIONS = ["ses:CreateEmailTemplate", "ses:GetEmailTemplate"]
DYNAMODB_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]
SQS_CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
]


def app_policy(
    cfg: StackConfig,
    names: Names,
    *,
    account_id: pulumi.Input[str],
    table_arns: Sequence[pulumi.Input[str]],
    consumed_queue_arns: Sequence[pulumi.Input[str]],
    produced_queue_arns: Sequence[pulumi.Input[str]],
    bucket_arn: pulumi.Input[str],
    parameter_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
) -> dict[str, Any]:
    ses_resources: list[pulumi.Input[str]] = []
    template_resources: list[pulumi.Input[str]] = []
    for region in cfg.regions:
        prefix = pulumi.Output.concat("arn:aws:ses:", region, ":", account_id, ":")
        ses_resources.append(pulumi.Output.concat(prefix, "identity/", cfg.domain))
        for logical in cfg.configuration_sets:
            ses_resources.append(pulumi.Output.concat(prefix, "configuration-set/", names.configuration_set(logical)))
        # sending may name any template (a producer's template_name / TemplateName need not be sesame's own);
        # creating and reading one is limited to the environment's prefix (ManageCampaignTemplates below)
        ses_resources.append(pulumi.Output.concat(prefix, "template/*"))
        # a send with ListManagementOptions is authorised against the contact list too
        ses_resources.append(pulumi.Output.concat(prefix, "contact-list/*"))
        template_resources.append(pulumi.Output.concat(prefix, f"template/sesame-{cfg.environment}-*"))
    table_resources: list[pulumi.Input[str]] = []
    for arn in table_arns:
        table_resources += [arn, pulumi.Output.concat(arn, "/index/*")]
    # Chalice names the REST API handler ``sesame-<stage>`` and every other function ``sesame-<stage>-<name>``
    api_log_group = pulumi.Output.concat(
        "arn:aws:logs:", cfg.region, ":", account_id, ":log-group:/aws/lambda/sesame-", cfg.stage
    )
    log_groups = pulumi.Output.concat(api_log_group, "-*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SendAsTheDomainThroughTheseConfigurationSets",
                "Effect": "Allow",
                "Action": SES_SEND_ACTIONS,
                "Resource": ses_resources,
                "Condition": {"StringLike": {"ses:FromAddress": f"*@{cfg.domain}"}},
            },
            {
                "Sid": "ManageCampaignTemplates",
                "Effect": "Allow",
                "Action": SES_TEMPLATE_ACTIONS,
                "Resource": template_resources,
            },
            {"Sid": "ReadSendingQuota", "Effect": "Allow", "Action": ["ses:GetAccount"], "Resource": "*"},
            {"Sid": "Tables", "Effect": "Allow", "Action": DYNAMODB_ACTIONS, "Resource": table_resources},
            {"Sid": "ConsumeQueues", "Effect": "Allow", "Action": SQS_CONSUME_ACTIONS, "Resource": consumed_queue_arns},
            {
                "Sid": "ProduceQueues",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
                "Resource": produced_queue_arns,
            },
            {
                "Sid": "CampaignPayloads",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": pulumi.Output.concat(bucket_arn, "/*"),
            },
            {"Sid": "AppSecrets", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": parameter_arn},
            {
                # the webhook confirms its own SNS subscription (SubscriptionConfirmation) through the API
                "Sid": "ConfirmEventSubscription",
                "Effect": "Allow",
                "Action": ["sns:ConfirmSubscription"],
                "Resource": topic_arn,
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [
                    api_log_group,
                    pulumi.Output.concat(api_log_group, ":*"),
                    log_groups,
                    pulumi.Output.concat(log_groups, ":*"),
                ],
            },
        ],
    }


class AppRole(pulumi.ComponentResource):
    """``sesame:infra:AppRole``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        account_id: pulumi.Input[str],
        table_arns: Mapping[str, pulumi.Input[str]],
        consumed_queue_arns: Sequence[pulumi.Input[str]],
        produced_queue_arns: Sequence[pulumi.Input[str]],
        bucket_arn: pulumi.Input[str],
        parameter_arn: pulumi.Input[str],
        topic_arn: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:AppRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.role = aws.iam.Role(
            "app-role",
            name=names.app_role,
            description=f"sesame Chalice app, stage {cfg.stage}",
            assume_role_policy=pulumi.Output.json_dumps(LAMBDA_TRUST),
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            "app-policy",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(
                app_policy(
                    cfg,
                    names,
                    account_id=account_id,
                    table_arns=list(table_arns.values()),
                    consumed_queue_arns=consumed_queue_arns,
                    produced_queue_arns=produced_queue_arns,
                    bucket_arn=bucket_arn,
                    parameter_arn=parameter_arn,
                    topic_arn=topic_arn,
                )
            ),
            opts=child,
        )
        self.arn = self.role.arn
        self.register_outputs({"roleArn": self.role.arn})
