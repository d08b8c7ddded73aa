"""The app, deployed by the same ``pulumi up`` as the rest of the stack (docs/deploy.md says why).

From the ``chalice package`` zip and the app's own API definition (``infra.app_spec``):

* one Lambda function per handler, each with its own role (``infra.iam``), its log group (created first, with
  ``sesame:logRetentionDays``), its memory and timeout from ``sesame:functions`` and, where set, reserved concurrency;
* the REST API (the OpenAPI document Chalice generates; ``/webhooks/ses`` integrated with the ``webhook`` function,
  ``/unsubscribe`` with ``unsubscribe``, every other route with ``api``), its deployment and the ``api`` stage. The
  API's URL, ``https://<api id>.execute-api.<region>.amazonaws.com/api``, is known from the RestApi resource before
  any function exists (the integrations name the functions by ARN, built from their names), so the functions get
  ``SESAME_UNSUBSCRIBE_BASE_URL`` and the webhook subscription its endpoint in the same run: no second pass;
* an event source mapping per SQS consumer with ``ReportBatchItemFailures`` and ``MaximumConcurrency`` (the
  sender's from the configured send rate), and the per-minute schedule of ``check_for_campaign``;
* in the home stack only, the messages stream's consumer ``count_events`` and its mapping: the home replica's stream
  carries every region's writes, so another region's copy would only idle (with its role, log group and alarms);
* with ``sesame:webhook``, each event topic's HTTPS subscription to ``POST /webhooks/ses`` (retry policy, DLQ); the
  app confirms it, and ``pulumi up`` waits until it has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.app_spec import RUNTIME, AppPackage, api_definition
from infra.config import (
    HTTP_FUNCTIONS,
    SENDER_FUNCTION,
    STREAM_WINDOW_SECONDS,
    UNSUBSCRIBE_FUNCTION,
    WEBHOOK_FUNCTION,
    StackConfig,
)
from infra.iam import FunctionRole, StackArns
from infra.messaging import webhook_delivery_policy
from infra.naming import Names

API_STAGE = "api"
#: API Gateway route patterns (``<stage>/<method>/<path>``) each HTTP function may be invoked for.
API_SOURCES = {WEBHOOK_FUNCTION: "/*/POST/webhooks/ses", UNSUBSCRIBE_FUNCTION: "/*/*/unsubscribe"}
WEBHOOK_CONFIRMATION_MINUTES = 5


def function_arn(names: Names, cfg: StackConfig, account_id: pulumi.Input[str], function: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:lambda:", cfg.region, ":", account_id, ":function:", names.function(function))


class App(pulumi.ComponentResource):
    """``sesame:infra:App``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        package: AppPackage,
        arns: StackArns,
        environment: Mapping[str, pulumi.Input[str]],
        topic_arns: Sequence[pulumi.Input[str]],
        webhook_dlq_arn: pulumi.Input[str],
        webhook_dlq_policy: pulumi.Resource,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:App", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        spec = package.spec

        # the API first: its id gives the URL the functions and the webhook subscription need
        http_arns = {fn: function_arn(names, cfg, arns.account_id, fn) for fn in HTTP_FUNCTIONS}
        definition = pulumi.Output.all(**http_arns).apply(
            lambda resolved: api_definition(spec, names.api, dict(resolved), cfg.region)
        )
        self.api = aws.apigateway.RestApi(
            "api",
            name=names.api,
            description=f"sesame {cfg.stage}: tracking and campaign API, SES webhook, unsubscribe",
            body=definition,
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            opts=child,
        )
        self.url = pulumi.Output.concat(
            "https://", self.api.id, ".execute-api.", cfg.region, ".amazonaws.com/", API_STAGE
        )

        env: dict[str, pulumi.Input[str]] = {"SESAME_LOG_LEVEL": "INFO", **environment}
        if not cfg.unsubscribe_base_url:
            env["SESAME_UNSUBSCRIBE_BASE_URL"] = self.url
        code = pulumi.FileArchive(package.path)

        self.functions: dict[str, aws.lambda_.Function] = {}
        self.roles: dict[str, FunctionRole] = {}
        self.log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        self.event_source_mappings: dict[str, aws.lambda_.EventSourceMapping] = {}
        permissions: list[pulumi.Resource] = []
        for fn, handler in spec.handlers.items():
            if handler.stream and handler.stream not in arns.streams:
                continue  # a stream consumer lives where its stream is read: the home stack, which owns the tables
            sizing = cfg.functions[fn]
            log_group = aws.cloudwatch.LogGroup(
                f"{fn}-logs", name=names.log_group(fn), retention_in_days=cfg.log_retention_days, opts=child
            )
            role = FunctionRole(fn, cfg, names, arns, provider, opts=pulumi.ResourceOptions(parent=self))
            function = aws.lambda_.Function(
                f"{fn}-function",
                name=names.function(fn),
                description=f"sesame {cfg.stage}: {fn}",
                role=role.arn,
                handler=handler.handler,
                runtime=RUNTIME,
                architectures=["x86_64"],
                code=code,
                source_code_hash=package.code_sha256,
                memory_size=sizing.memory,
                timeout=sizing.timeout,
                reserved_concurrent_executions=sizing.reserved_concurrency,
                environment=aws.lambda_.FunctionEnvironmentArgs(variables=env),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
                # the log group exists before the first invocation (else Lambda creates one that never expires);
                # the policy is attached before anything polls a queue with the role
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[log_group, role.policy]),
            )
            self.functions[fn], self.roles[fn], self.log_groups[fn] = function, role, log_group

            if fn in HTTP_FUNCTIONS:
                permissions.append(
                    aws.lambda_.Permission(
                        f"{fn}-api-permission",
                        action="lambda:InvokeFunction",
                        function=function.name,
                        principal="apigateway.amazonaws.com",
                        source_arn=pulumi.Output.concat(self.api.execution_arn, API_SOURCES.get(fn, "/*")),
                        opts=child,
                    )
                )
            if handler.queue:
                concurrency = cfg.sender_concurrency if fn == SENDER_FUNCTION else sizing.max_concurrency
                self.event_source_mappings[fn] = aws.lambda_.EventSourceMapping(
                    f"{fn}-event-source",
                    event_source_arn=arns.queues[handler.queue],
                    function_name=function.arn,
                    batch_size=handler.batch_size,
                    maximum_batching_window_in_seconds=handler.batching_window or None,
                    # only the records a handler reports failed are retried (a handler that raises retries all)
                    function_response_types=["ReportBatchItemFailures"],
                    scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=concurrency)
                    if concurrency
                    else None,
                    enabled=True,
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[role.policy]),
                )
            if handler.stream:
                # home region only (see above): a global table's home replica stream carries every region's
                # writes. Tumbling windows make each invocation name its shard (the counter items'
                # key); a failed batch is retried and bisected until it succeeds (the counter items skip what an
                # earlier attempt applied), its age watched by the IteratorAge alarm
                self.event_source_mappings[fn] = aws.lambda_.EventSourceMapping(
                    f"{fn}-event-source",
                    event_source_arn=arns.streams[handler.stream],
                    function_name=function.arn,
                    starting_position="TRIM_HORIZON",
                    batch_size=handler.batch_size,
                    tumbling_window_in_seconds=STREAM_WINDOW_SECONDS,
                    bisect_batch_on_function_error=True,
                    maximum_retry_attempts=-1,
                    maximum_record_age_in_seconds=-1,
                    enabled=True,
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[role.policy]),
                )
            if handler.schedule:
                rule = aws.cloudwatch.EventRule(
                    f"{fn}-schedule",
                    name=names.campaign_schedule,
                    description=f"sesame {cfg.stage}: launch due campaigns",
                    schedule_expression=handler.schedule,
                    opts=child,
                )
                permission = aws.lambda_.Permission(
                    f"{fn}-schedule-permission",
                    action="lambda:InvokeFunction",
                    function=function.name,
                    principal="events.amazonaws.com",
                    source_arn=rule.arn,
                    opts=child,
                )
                aws.cloudwatch.EventTarget(
                    f"{fn}-schedule-target",
                    rule=rule.name,
                    target_id=fn,
                    arn=function.arn,
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[permission]),
                )

        self.deployment = aws.apigateway.Deployment(
            "api-deployment",
            rest_api=self.api.id,
            description=f"sesame {cfg.stage}",
            # a new deployment whenever the API definition changes
            triggers={"definition": definition.apply(lambda text: hashlib.sha256(text.encode()).hexdigest())},
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=[*permissions, *(self.functions[f] for f in HTTP_FUNCTIONS)]
            ),
        )
        self.stage = aws.apigateway.Stage(
            "api-stage",
            rest_api=self.api.id,
            deployment=self.deployment.id,
            stage_name=API_STAGE,
            description=f"sesame {cfg.stage}",
            opts=child,
        )

        # one HTTPS subscription per event topic (critical, engagement); the engagement one keeps the name the single
        # topic's subscription had, so an existing stack keeps it
        self.webhook_subscriptions: list[aws.sns.TopicSubscription] = []
        if cfg.webhook:
            for resource, topic_arn in zip(
                ("webhook-critical-subscription", "webhook-subscription"), topic_arns, strict=True
            ):
                self.webhook_subscriptions.append(
                    aws.sns.TopicSubscription(
                        resource,
                        topic=topic_arn,
                        protocol="https",
                        endpoint=pulumi.Output.concat(self.url, "/webhooks/ses"),
                        raw_message_delivery=False,
                        # the app verifies the SubscriptionConfirmation and confirms it; the run waits for that
                        endpoint_auto_confirms=True,
                        confirmation_timeout_in_minutes=WEBHOOK_CONFIRMATION_MINUTES,
                        delivery_policy=webhook_delivery_policy(cfg.webhook_max_retries),
                        redrive_policy=pulumi.Output.json_dumps({"deadLetterTargetArn": webhook_dlq_arn}),
                        opts=pulumi.ResourceOptions(
                            parent=self,
                            provider=provider,
                            depends_on=[
                                self.stage,
                                self.functions[WEBHOOK_FUNCTION],
                                *permissions,
                                webhook_dlq_policy,
                            ],
                        ),
                    )
                )
        self.register_outputs({"apiUrl": self.url, "functions": {fn: names.function(fn) for fn in self.functions}})

    def outputs(self, names: Names) -> dict[str, Any]:
        return {
            "apiId": self.api.id,
            "apiUrl": self.url,
            "functions": {fn: names.function(fn) for fn in self.functions},
            "functionRoles": {fn: role.arn for fn, role in self.roles.items()},
            "logGroups": {fn: names.log_group(fn) for fn in self.functions},
        }
