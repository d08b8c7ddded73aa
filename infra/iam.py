"""One least-privilege role per Lambda function of the app.

Each role may do only what its function's code calls (read from the handlers' code paths, listed per function in
``ACCESS`` below), on this stack's resources only:

* ``api`` (tracking, campaign and send API, behind API keys): reads the tables, writes campaigns (and their
  pause/cancel control) and suppressions, reads GetAccount (launches into a sandbox are refused) and the reputation
  snapshot, resumes/pauses the stack's configuration sets,
  deletes a recipient's messages and events (erasure), publishes campaign templates, stores campaign payloads,
  reads uploaded recipient files (``recipients/`` in the campaign bucket only), enqueues send jobs. ``POST /messages``
  runs the sender core inside the request, so it also sends email under the sender's conditions (only as
  ``*@<domain>``, through this environment's identity and configuration sets), paces and records sends (control
  table, messages, counters) and keeps idempotency keys (control table).
* ``webhook`` (public, SNS-signed): applies SES events (messages, events, campaign counters, suppressions), hands
  engagement events to the engagement queue and new events to the forward queue, confirms its SNS subscription.
  No email, no control table, no bucket.
* ``unsubscribe`` (public, token-signed): writes the suppression and the campaign's counter, forwards the event.
* ``sender``: sends email (only as ``*@<domain>``, through this environment's identity and configuration sets, in
  every region of ``sesame:regions`` for failover), reads suppressions and its campaigns' pause/cancel control, paces
  and records sends (control, messages, campaign counters), consumes and re-enqueues the send queue, submits
  campaign candidates it finds on the queue.
* ``critical_events`` / ``engagement_events``: consume their queue and apply events like the webhook.
* ``forward_events``: consumes the forward queue and parks failed batches in its dead-letter queue.
* ``count_events`` (home stack only): reads the messages table's stream and ``ADD``s the campaign counter items.
* ``check_for_campaign``: validates the recipient files of ``validating`` campaigns in steps (reads the files,
  writes its validation state and the validated plan in this region's payloads) and launches due campaigns
  (campaigns table, this region's payloads, send queue), then
  refreshes reputation and trips the guardrails: GetAccount, SES's reputation metrics, the control table's
  reputation items only, pausing campaigns and the stack's own configuration sets.

Every role writes its own log group (the stack creates it, with a retention) and reads the secrets parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import (
    API_FUNCTION,
    CAMPAIGN_SCHEDULER_FUNCTION,
    COUNTER_FUNCTION,
    CRITICAL_FUNCTION,
    ENGAGEMENT_FUNCTION,
    FORWARD_FUNCTION,
    SENDER_FUNCTION,
    UNSUBSCRIBE_FUNCTION,
    WEBHOOK_FUNCTION,
    StackConfig,
)
from infra.naming import Names

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

SES_SEND_ACTIONS = ["ses:SendEmail", "ses:SendBulkEmail"]
# campaign submission creates the campaign's SES templates in the primary and the backup region, never updates one
# (a template that exists is read back, to tell a retry of our own create from someone else's), and only under the
# environment's own prefix sesame-<env>- (runtime.sender.campaign.template_prefix): environments sharing an account
# cannot touch each other's campaign content
SES_TEMPLATE_ACTIONS = ["ses:CreateEmailTemplate", "ses:GetEmailTemplate"]
#: the event source mapping polls with the function's role; the consumers also extend visibility and delete
SQS_CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]

#: the event source mapping of a DynamoDB stream reads it with the function's role
STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]

# DynamoDB actions per table, by what the code paths call (transactions are authorised per item action)
_INGEST = {
    "messages": ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
    "campaigns": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
    "suppressions": ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
}
#: the control-table items of the reputation view and the guardrails (runtime.stores.schema): snapshot, samples,
#: configuration-set pauses — never the send ledger's or pacing's items
_REPUTATION_KEYS = ("REPUTATION#*", "GUARDRAIL#*")
_CAMPAIGN_STORE = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]
#: the sender core's control-table access (the send queue's consumer, and POST /messages, which runs it inside the
#: request): job records, pacing and idempotency keys, written alone or in the ledger's transactions
_SEND_CONTROL = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
]
#: the sender core's messages-table access: message records (PutItem/UpdateItem, ConditionCheckItem in the ledger's
#: transactions); Query: a send whose SES answer was lost is looked up by its send id on recipient-index
_SEND_MESSAGES = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]


@dataclass(frozen=True)
class Access:
    """What one function may do. Queue and table keys are logical names (``send``, ``messages``)."""

    tables: Mapping[str, Sequence[str]]
    consumes: str = ""  # the queue its event source mapping reads
    produces: tuple[str, ...] = ()  # queues it sends to; ``forward-dlq`` is the forward queue's DLQ
    sends_email: bool = False
    templates: bool = False
    bucket: tuple[str, ...] = ()  # s3 actions on the campaign bucket's objects
    confirms_subscription: bool = False
    watches: tuple[str, ...] = ()  # queues whose depth it reads (sqs:GetQueueAttributes only)
    reads_stream: str = ""  # the table whose stream its event source mapping reads
    reads_account: bool = False  # ses:GetAccount (sandbox / sending-enabled check, quotas)
    reads_reputation_metrics: bool = False  # cloudwatch:GetMetricData (SES's Reputation.* metrics)
    pauses_configuration_sets: bool = False  # ses:PutConfigurationSetSendingOptions on the stack's sets only
    # tables whose items it may touch only under these partition keys (dynamodb:LeadingKeys, wildcards allowed)
    leading_keys: Mapping[str, Sequence[str]] = field(default_factory=dict)


ACCESS: dict[str, Access] = {
    API_FUNCTION: Access(
        tables={
            # POST /messages runs the sender core (its control and messages access, queued-message items included);
            # GET/PATCH /reputation: the reputation snapshot and the configuration-set pauses (GetItem/UpdateItem)
            "control": _SEND_CONTROL,
            # and listings read index keys (Query), then the summaries (BatchGetItem); erasure deletes in batches
            "messages": [*_SEND_MESSAGES, "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
            "campaigns": [*_CAMPAIGN_STORE, "dynamodb:BatchGetItem"],
            "suppressions": [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
        },
        produces=("send",),
        sends_email=True,
        templates=True,
        bucket=("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
        watches=("critical", "critical-dlq", "engagement", "engagement-dlq"),
        reads_account=True,  # a launch into a sandboxed or disabled region is refused
        # GET /reputation refreshes a missing or old snapshot itself (the schedule normally does it)
        reads_reputation_metrics=True,
        pauses_configuration_sets=True,  # an operator resumes what a guardrail stopped
    ),
    WEBHOOK_FUNCTION: Access(tables=_INGEST, produces=("engagement", "forward"), confirms_subscription=True),
    UNSUBSCRIBE_FUNCTION: Access(
        tables={"suppressions": ["dynamodb:PutItem"], "campaigns": ["dynamodb:UpdateItem"]},
        produces=("forward",),
    ),
    SENDER_FUNCTION: Access(
        tables={
            # the suppression check: one Query of each address's partition
            "suppressions": ["dynamodb:GetItem", "dynamodb:Query"],
            "control": _SEND_CONTROL,
            "messages": _SEND_MESSAGES,
            # BatchGetItem: each batch reads its campaigns' operator control (paused units wait, cancelled never go)
            "campaigns": [*_CAMPAIGN_STORE, "dynamodb:BatchGetItem"],
        },
        consumes="send",
        produces=("send",),
        sends_email=True,
        templates=True,
        bucket=("s3:GetObject", "s3:PutObject"),
        # ... and is sent again only while no SES event can still be on its way (docs/sending.md "Exactly once")
        watches=("critical", "critical-dlq", "engagement", "engagement-dlq"),
    ),
    CRITICAL_FUNCTION: Access(tables=_INGEST, consumes="critical", produces=("forward",), confirms_subscription=True),
    ENGAGEMENT_FUNCTION: Access(
        tables=_INGEST, consumes="engagement", produces=("forward",), confirms_subscription=True
    ),
    # a failed POST goes back on the forward queue for a later attempt, then to its DLQ
    FORWARD_FUNCTION: Access(tables={}, consumes="forward", produces=("forward", "forward-dlq")),
    # the messages stream's counter consumer: the mapping reads the stream with its role; it ADDs to counter items
    COUNTER_FUNCTION: Access(tables={"campaigns": ["dynamodb:UpdateItem"]}, reads_stream="messages"),
    # launches due campaigns, then refreshes reputation and trips the guardrails (runtime.reputation)
    CAMPAIGN_SCHEDULER_FUNCTION: Access(
        tables={
            "campaigns": [*_CAMPAIGN_STORE, "dynamodb:BatchGetItem"],
            "control": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        },
        produces=("send",),
        # reads recipient files and launch plans; writes validation state and the validated plan; deletes both
        bucket=("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
        reads_account=True,
        reads_reputation_metrics=True,
        pauses_configuration_sets=True,
        leading_keys={"control": _REPUTATION_KEYS},
    ),
}


@dataclass(frozen=True)
class StackArns:
    """The ARNs the policies name (this region's)."""

    account_id: pulumi.Input[str]
    tables: Mapping[str, pulumi.Input[str]]  # logical -> table ARN
    queues: Mapping[str, pulumi.Input[str]]  # logical (and ``<logical>-dlq``) -> queue ARN
    bucket_arn: pulumi.Input[str]
    parameter_arn: pulumi.Input[str]
    topic_arns: Sequence[pulumi.Input[str]]  # the event topics (critical, engagement)
    streams: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # logical table -> stream ARN (home)


def function_policy(function: str, cfg: StackConfig, names: Names, arns: StackArns) -> dict[str, Any]:
    """The inline policy of ``function``'s role."""
    access = ACCESS[function]
    log_group = pulumi.Output.concat(
        "arn:aws:logs:", cfg.region, ":", arns.account_id, ":log-group:", names.log_group(function)
    )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group, pulumi.Output.concat(log_group, ":*")],
        },
        {"Sid": "AppSecrets", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arns.parameter_arn},
    ]
    for logical, actions in access.tables.items():
        arn = arns.tables[logical]
        resources: list[pulumi.Input[str]] = [arn]
        if any(a in ("dynamodb:Query",) for a in actions):
            resources.append(pulumi.Output.concat(arn, "/index/*"))
        statement: dict[str, Any] = {
            "Sid": f"Table{logical.capitalize()}",
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": resources,
        }
        if logical in access.leading_keys:
            statement["Condition"] = {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(access.leading_keys[logical])}
            }
        statements.append(statement)
    if access.consumes:
        statements.append(
            {
                "Sid": "ConsumeQueue",
                "Effect": "Allow",
                "Action": SQS_CONSUME_ACTIONS,
                "Resource": arns.queues[access.consumes],
            }
        )
    if access.reads_stream:
        statements.append(
            {
                "Sid": "ReadTableStream",
                "Effect": "Allow",
                "Action": STREAM_READ_ACTIONS,
                "Resource": pulumi.Output.concat(arns.tables[access.reads_stream], "/stream/*"),
            }
        )
    if access.produces:
        statements.append(
            {
                "Sid": "SendToQueues",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": [arns.queues[q] for q in access.produces],
            }
        )
    if access.watches:
        statements.append(
            {
                "Sid": "WatchQueues",
                "Effect": "Allow",
                "Action": ["sqs:GetQueueAttributes"],
                "Resource": [arns.queues[q] for q in access.watches],
            }
        )
    if access.bucket:
        statements.append(
            {
                "Sid": "CampaignPayloads",
                "Effect": "Allow",
                "Action": list(access.bucket),
                "Resource": pulumi.Output.concat(arns.bucket_arn, "/*"),
            }
        )
    if access.templates:
        statements.append(
            {
                "Sid": "ManageCampaignTemplates",
                "Effect": "Allow",
                "Action": SES_TEMPLATE_ACTIONS,
                "Resource": [
                    _ses_arn(region, arns.account_id, f"template/sesame-{cfg.environment}-*") for region in cfg.regions
                ],
            }
        )
    if access.sends_email:
        ses_resources: list[pulumi.Input[str]] = []
        for region in cfg.regions:
            ses_resources.append(_ses_arn(region, arns.account_id, f"identity/{cfg.domain}"))
            for logical in cfg.configuration_sets:
                ses_resources.append(
                    _ses_arn(region, arns.account_id, f"configuration-set/{names.configuration_set(logical)}")
                )
            # sending may name any template (a producer's TemplateName need not be sesame's); creating and reading
            # one is limited to the environment's prefix (ManageCampaignTemplates)
            ses_resources.append(_ses_arn(region, arns.account_id, "template/*"))
            # a send with ListManagementOptions is authorised against the contact list too
            ses_resources.append(_ses_arn(region, arns.account_id, "contact-list/*"))
        statements.append(
            {
                "Sid": "SendAsTheDomainThroughTheseConfigurationSets",
                "Effect": "Allow",
                "Action": SES_SEND_ACTIONS,
                "Resource": ses_resources,
                "Condition": {"StringLike": {"ses:FromAddress": f"*@{cfg.domain}"}},
            }
        )
    if access.sends_email or access.reads_account:
        # GetAccount has no resource-level permission
        statements.append({"Sid": "ReadSendingQuota", "Effect": "Allow", "Action": ["ses:GetAccount"], "Resource": "*"})
    if access.reads_reputation_metrics:
        statements.append(
            # GetMetricData has no resource-level permission (AWS/SES Reputation.* metrics)
            {"Sid": "ReadReputationMetrics", "Effect": "Allow", "Action": ["cloudwatch:GetMetricData"], "Resource": "*"}
        )
    if access.pauses_configuration_sets:
        statements.append(
            {
                "Sid": "PauseOwnConfigurationSets",
                "Effect": "Allow",
                "Action": ["ses:PutConfigurationSetSendingOptions"],
                "Resource": [
                    _ses_arn(region, arns.account_id, f"configuration-set/{names.configuration_set(logical)}")
                    for region in cfg.regions
                    for logical in cfg.configuration_sets
                ],
            }
        )
    if access.confirms_subscription:
        statements.append(
            {
                # SubscriptionConfirmation messages are confirmed through the API, for the event topics only
                "Sid": "ConfirmEventSubscription",
                "Effect": "Allow",
                "Action": ["sns:ConfirmSubscription"],
                "Resource": list(arns.topic_arns),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _ses_arn(region: str, account_id: pulumi.Input[str], suffix: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:ses:", region, ":", account_id, ":", suffix)


class FunctionRole(pulumi.ComponentResource):
    """``sesame:infra:FunctionRole`` — the role of one function and its inline policy."""

    def __init__(
        self,
        function: str,
        cfg: StackConfig,
        names: Names,
        arns: StackArns,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:FunctionRole", f"{function}-role", None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.role = aws.iam.Role(
            f"{function}-role",
            name=names.function_role(function),
            description=f"sesame {cfg.stage}: Lambda function {names.function(function)}",
            assume_role_policy=pulumi.Output.json_dumps(LAMBDA_TRUST),
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            f"{function}-policy",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(function_policy(function, cfg, names, arns)),
            opts=child,
        )
        self.arn = self.role.arn
        self.register_outputs({"roleArn": self.role.arn})
