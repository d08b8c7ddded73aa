"""The program body: ``build(cfg)`` declares one regional stack and returns its outputs.

Importable on purpose: ``__main__.py`` calls it under the Pulumi engine, ``infra.mockrun`` under Pulumi's mocks
(tests, CrossGuard checks, the local stack learning what to provision in moto).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alarms import Alarms
from infra.archive import EventArchive
from infra.config import StackConfig, is_secret_url
from infra.config_sets import ConfigurationSets
from infra.dashboard import Dashboard
from infra.failover import GlobalEndpoint
from infra.iam import AppRole
from infra.identity import IdentityDns
from infra.messaging import Messaging
from infra.naming import Names
from infra.secrets import AppSecrets
from infra.storage import CampaignStorage
from infra.tables import GlobalTables
from infra.tracking import TrackingDomain


def _provider(name: str, region: str, cfg: StackConfig) -> aws.Provider:
    return aws.Provider(
        name,
        region=region,
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"project": "sesame", "environment": cfg.environment, "stack": cfg.stage}
        ),
    )


def lambda_functions(cfg: StackConfig) -> dict[str, dict[str, int]]:
    """Chalice ``lambda_functions`` settings (timeouts size the queues' visibility timeouts)."""
    return {name: {"lambda_timeout": fn.timeout, "lambda_memory_size": fn.memory} for name, fn in cfg.functions.items()}


def build(cfg: StackConfig) -> dict[str, Any]:
    """Declare every resource of the stack ``<environment>-<region>``; returns the stack outputs."""
    names = Names(cfg.environment, cfg.region)
    provider = _provider(f"aws-{cfg.region}", cfg.region, cfg)
    # ACM certificates for CloudFront must live in us-east-1
    us_east_1 = provider if cfg.region == "us-east-1" else _provider("aws-us-east-1", "us-east-1", cfg)
    account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id

    identity = IdentityDns("identity", cfg, provider)
    tracking = TrackingDomain("tracking", cfg, provider, us_east_1, opts=pulumi.ResourceOptions(depends_on=[identity]))
    messaging = Messaging("messaging", cfg, names, account_id, provider)
    config_sets = ConfigurationSets(
        "configuration-sets",
        cfg,
        names,
        topic_arn=messaging.topic.arn,
        tracking_domain=tracking.domain,
        https_policy=tracking.https_policy,
        provider=provider,
        # SES checks it may publish to the topic when the destination is created; tracking needs the identity
        opts=pulumi.ResourceOptions(depends_on=[messaging.topic_policy, identity]),
    )
    tables = GlobalTables("tables", cfg, account_id, provider)
    storage = CampaignStorage("campaign-storage", cfg, names, account_id, provider)
    secrets = AppSecrets("app-secrets", cfg, names, provider)

    consumed = [messaging.critical, messaging.engagement, messaging.send, messaging.forward]
    role = AppRole(
        "app-role",
        cfg,
        names,
        account_id=account_id,
        table_arns=tables.arns,
        consumed_queue_arns=[p.queue.arn for p in consumed] + [messaging.forward.dlq.arn],
        # the webhook hands engagement events to the engagement queue; the forwarder parks failures in its DLQ
        produced_queue_arns=[
            messaging.send.queue.arn,
            messaging.forward.queue.arn,
            messaging.forward.dlq.arn,
            messaging.engagement.queue.arn,
        ],
        bucket_arn=storage.bucket.arn,
        parameter_arn=secrets.parameter.arn,
        topic_arn=messaging.topic.arn,
        provider=provider,
    )
    dlq_names = [names.dlq(p.logical) for p in consumed] + [names.dlq("webhook")]
    queue_names = [names.queue(p.logical) for p in consumed]
    alarms = Alarms("alarms", cfg, names, dlq_names=dlq_names, provider=provider)
    dashboard = Dashboard(
        "dashboard",
        cfg,
        names,
        config_sets=config_sets.names,
        queue_names=queue_names,
        dlq_names=dlq_names,
        provider=provider,
    )
    archive = (
        EventArchive(
            "event-archive",
            cfg,
            names,
            account_id=account_id,
            config_sets={k: v.configuration_set_name for k, v in config_sets.sets.items()},
            provider=provider,
        )
        if cfg.archive_enabled
        else None
    )
    endpoint = GlobalEndpoint("global-endpoint", cfg, provider) if cfg.multi_region_endpoint and cfg.is_home else None

    env_vars = app_environment(cfg, names, messaging=messaging, config_sets=config_sets, tables=tables)
    env_vars["SESAME_CAMPAIGN_BUCKET"] = storage.bucket.bucket
    env_vars["SNS_ALLOWED_TOPIC_ARNS"] = messaging.topic.arn

    outputs: dict[str, Any] = {
        "stage": cfg.stage,
        "environment": cfg.environment,
        "region": cfg.region,
        "homeRegion": cfg.home_region,
        "isHome": cfg.is_home,
        "accountId": account_id,
        "domain": cfg.domain,
        "identityArn": identity.arn,
        "mailFromDomain": cfg.mail_from,
        "trackingDomain": tracking.domain,
        "trackingHttpsPolicy": tracking.https_policy,
        "tables": tables.names,
        "tablesOwnedHere": sorted(tables.tables),
        "eventTopicArn": messaging.topic.arn,
        "alarmTopicArn": alarms.topic.arn,
        "queues": {
            pair.logical: {
                "name": names.queue(pair.logical),
                "url": pair.queue.url,
                "arn": pair.queue.arn,
                "dlqName": names.dlq(pair.logical),
                "dlqUrl": pair.dlq.url,
                "dlqArn": pair.dlq.arn,
            }
            for pair in consumed
        },
        "webhookDlqUrl": messaging.webhook_dlq.url,
        "configurationSets": config_sets.names,
        "defaultConfigurationSet": cfg.default_configuration_set,
        "campaignBucket": storage.bucket.bucket,
        "secretsParameterName": names.secrets_parameter,
        "iamRoleArn": role.arn,
        "dashboardName": dashboard.dashboard.dashboard_name,
        "backupRegion": cfg.backup_region,
        "backupConfigurationSets": config_sets.names if cfg.backup_region else {},
        "lambdaFunctions": lambda_functions(cfg),
        "environmentVariables": env_vars,
    }
    if cfg.is_home:
        outputs["appSecrets"] = secrets.document  # secret; read by the other regions' stacks
    if tracking.distribution is not None:
        outputs["trackingDistributionDomain"] = tracking.distribution.domain_name
    if archive is not None:
        outputs["archiveBucket"] = archive.bucket.bucket
    if endpoint is not None:
        outputs["multiRegionEndpointId"] = endpoint.endpoint_id
    if not cfg.zone_managed:
        outputs["manualDnsRecords"] = pulumi.Output.all(*[r.as_output() for r in identity.records + tracking.records])
    return outputs


def app_environment(
    cfg: StackConfig,
    names: Names,
    *,
    messaging: Messaging,
    config_sets: ConfigurationSets,
    tables: GlobalTables,
) -> dict[str, Any]:
    """The Chalice stage's environment variables (``runtime.settings.Settings.from_env`` reads them)."""
    env: dict[str, Any] = {
        "SESAME_STAGE": cfg.stage,
        "SESAME_ENVIRONMENT": cfg.environment,
        "SESAME_REGION": cfg.region,
        "SESAME_DOMAIN": cfg.domain,
        "SESAME_DEFAULT_FROM": cfg.sender_from,
        **tables.env_vars,
        "SESAME_CONFIGURATION_SETS": json.dumps(config_sets.names, sort_keys=True),
        "SESAME_DEFAULT_CONFIGURATION_SET": cfg.default_configuration_set,
        "SESAME_SECRETS_PARAMETER": names.secrets_parameter,
        "SESAME_EVENT_TTL_DAYS": str(cfg.event_ttl_days),
        "SESAME_SOFT_BOUNCE_LIMIT": str(cfg.soft_bounce_limit),
        "SESAME_SOFT_BOUNCE_SUPPRESS_DAYS": str(cfg.soft_bounce_suppress_days),
        "SESAME_DAILY_QUOTA_HEADROOM": str(cfg.daily_quota_headroom),
        "SNS_MAX_AGE_SECONDS": str(cfg.sns_max_age_seconds),
    }
    for pair in (messaging.critical, messaging.engagement, messaging.send, messaging.forward):
        env[f"SESAME_{pair.logical.upper()}_QUEUE"] = names.queue(pair.logical)
        env[f"SESAME_{pair.logical.upper()}_QUEUE_URL"] = pair.queue.url
    env["SESAME_FORWARD_DLQ_URL"] = messaging.forward.dlq.url
    if cfg.backup_region:
        env["SESAME_BACKUP_REGION"] = cfg.backup_region
        env["SESAME_BACKUP_CONFIGURATION_SETS"] = json.dumps(config_sets.names, sort_keys=True)
    optional = {
        "SESAME_CORS_ORIGINS": ",".join(cfg.cors_origins),
        "SESAME_UNSUBSCRIBE_BASE_URL": cfg.unsubscribe_base_url,
        "SESAME_UNSUBSCRIBE_MAILTO": cfg.unsubscribe_mailto,
        # a forward URL carrying credentials travels in the SSM secrets document instead (infra/secrets.py)
        "SESAME_FORWARD_URL": "" if is_secret_url("forwardUrl", cfg.forward_url) else cfg.forward_url,
        "SESAME_MAX_SEND_RATE": "" if cfg.max_send_rate is None else str(cfg.max_send_rate),
        "SESAME_WARMUP_START": cfg.warmup_start,
        "SESAME_WARMUP_POOL": cfg.warmup_pool,
    }
    env.update({k: v for k, v in optional.items() if v})
    return env
