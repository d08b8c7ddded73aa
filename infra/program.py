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
from infra.app import API_STAGE, App
from infra.app_spec import AppPackage, placeholder_package
from infra.archive import EventArchive
from infra.config import CONSUMERS, StackConfig, is_secret_url
from infra.config_sets import ConfigurationSets
from infra.dashboard import Dashboard
from infra.iam import StackArns
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


def build(cfg: StackConfig, package: AppPackage | None = None) -> dict[str, Any]:
    """Declare every resource of the stack ``<environment>-<region>``, the app included; returns the outputs."""
    package = package or placeholder_package()
    names = Names(cfg.environment, cfg.region)
    provider = _provider(f"aws-{cfg.region}", cfg.region, cfg)
    # ACM certificates for CloudFront must live in us-east-1
    us_east_1 = provider if cfg.region == "us-east-1" else _provider("aws-us-east-1", "us-east-1", cfg)
    account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id

    identity = IdentityDns("identity", cfg, provider, account_id)
    tracking = TrackingDomain("tracking", cfg, provider, us_east_1)
    messaging = Messaging("messaging", cfg, names, account_id, provider)
    # a configuration set may use the custom tracking domain only once SES has verified the identity and the
    # domain answers (distribution and DNS); until the records are visible the sets use SES's default domain
    tracking_ready = (
        [identity.verification, *tracking.ready] if identity.verification is not None and tracking.usable else None
    )
    config_sets = ConfigurationSets(
        "configuration-sets",
        cfg,
        names,
        tracking_domain=tracking.domain,
        https_policy=tracking.https_policy,
        tracking_ready=tracking_ready,
        provider=provider,
    )
    tables = GlobalTables("tables", cfg, account_id, provider)
    storage = CampaignStorage("campaign-storage", cfg, names, account_id, provider)
    secrets = AppSecrets("app-secrets", cfg, names, provider)

    consumed = [messaging.critical, messaging.engagement, messaging.send, messaging.forward]
    queue_arns: dict[str, pulumi.Input[str]] = {p.logical: p.queue.arn for p in consumed}
    queue_arns.update({f"{p.logical}-dlq": p.dlq.arn for p in consumed})
    arns = StackArns(
        account_id=account_id,
        tables=tables.arns,
        queues=queue_arns,
        bucket_arn=storage.bucket.arn,
        parameter_arn=secrets.parameter.arn,
        topic_arns=messaging.topic_arns,
        # the home stack owns the tables: the counter consumer reads the messages stream there only
        streams={"messages": tables.tables["messages"].stream_arn} if "messages" in tables.tables else {},
    )
    env_vars = app_environment(cfg, names, messaging=messaging, config_sets=config_sets, tables=tables)
    env_vars["SESAME_CAMPAIGN_BUCKET"] = storage.bucket.bucket
    env_vars["SNS_ALLOWED_TOPIC_ARNS"] = pulumi.Output.all(*messaging.topic_arns).apply(",".join)
    app = App(
        "app",
        cfg,
        names,
        package=package,
        arns=arns,
        environment=env_vars,
        topic_arns=messaging.topic_arns,
        webhook_dlq_arn=messaging.webhook_dlq.arn,
        webhook_dlq_policy=messaging.webhook_dlq_policy,
        provider=provider,
    )

    # SES publishes to the event topics once every function accepts them (SNS_ALLOWED_TOPIC_ARNS)
    config_sets.publish_events(
        {c: t.arn for c, t in messaging.topics.items()},
        dict(messaging.topic_policies),
        after=list(app.functions.values()),
    )

    dlq_names = [names.dlq(p.logical) for p in consumed] + [names.dlq("webhook")]
    queue_names = {p.logical: names.queue(p.logical) for p in consumed}
    alarms = Alarms(
        "alarms",
        cfg,
        names,
        dlq_names=dlq_names,
        queue_names=queue_names,
        functions=list(app.functions),
        api_name=names.api,
        api_stage=API_STAGE,
        provider=provider,
    )
    dashboard = Dashboard(
        "dashboard",
        cfg,
        names,
        config_sets=config_sets.names,
        queue_names=list(queue_names.values()),
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

    if not cfg.unsubscribe_base_url:
        env_vars["SESAME_UNSUBSCRIBE_BASE_URL"] = app.url
    outputs: dict[str, Any] = {
        "stage": cfg.stage,
        "environment": cfg.environment,
        "region": cfg.region,
        "homeRegion": cfg.home_region,
        "isHome": cfg.is_home,
        "accountId": account_id,
        "domain": cfg.domain,
        "domainOwner": cfg.domain_owner or cfg.environment,
        "identityArn": identity.arn,
        "mailFromDomain": cfg.mail_from,
        "trackingDomain": tracking.domain,
        "trackingDomainInUse": tracking_ready is not None,
        "trackingHttpsPolicy": tracking.https_policy,
        "tables": tables.names,
        "tablesOwnedHere": sorted(tables.tables),
        "eventTopicArns": {c: t.arn for c, t in messaging.topics.items()},
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
        "dashboardName": dashboard.dashboard.dashboard_name,
        "backupRegion": cfg.backup_region,
        "backupConfigurationSets": config_sets.names if cfg.backup_region else {},
        "senderConcurrency": cfg.sender_concurrency,
        "consumers": {fn: names.queue(queue) for fn, queue in CONSUMERS.items()},
        "environmentVariables": env_vars,
        **app.outputs(names),
    }
    if cfg.webhook:
        outputs["webhookUrl"] = pulumi.Output.concat(app.url, "/webhooks/ses")
    if cfg.is_home:
        outputs["appSecrets"] = secrets.document  # secret; read by the other regions' stacks
    if tracking.distribution is not None:
        outputs["trackingDistributionDomain"] = tracking.distribution.domain_name
    if archive is not None:
        outputs["archiveBucket"] = archive.bucket.bucket
    if not cfg.zone_managed:
        outputs["manualDnsRecords"] = pulumi.Output.all(*[r.as_output() for r in identity.records + tracking.records])
        outputs["dnsRecordsReady"] = cfg.dns_records_ready
        if not cfg.dns_records_ready:
            outputs["nextStep"] = (
                "add every record of manualDnsRecords at your DNS provider, then run "
                "`pulumi config set sesame:dnsRecordsReady true && pulumi up`: the stack then waits for SES and ACM "
                "to see them and switches the configuration sets to the tracking domain"
            )
    return outputs


def app_environment(
    cfg: StackConfig,
    names: Names,
    *,
    messaging: Messaging,
    config_sets: ConfigurationSets,
    tables: GlobalTables,
) -> dict[str, Any]:
    """Every function's environment variables (``runtime.settings.Settings.from_env`` reads them)."""
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
        "SESAME_SEND_UNKNOWN_GRACE_SECONDS": str(cfg.send_unknown_grace_seconds),
        "SESAME_PAUSED_RECHECK_SECONDS": str(cfg.paused_recheck_seconds),
        "SESAME_GUARDRAIL_WINDOW_MINUTES": str(cfg.guardrail_window_minutes),
        "SESAME_GUARDRAIL_MIN_VOLUME": str(cfg.guardrail_min_volume),
        "SESAME_GUARDRAIL_WARN_BOUNCE_RATE": repr(cfg.guardrail_warn_bounce_rate),
        "SESAME_GUARDRAIL_WARN_COMPLAINT_RATE": repr(cfg.guardrail_warn_complaint_rate),
        "SESAME_GUARDRAIL_PAUSE_BOUNCE_RATE": repr(cfg.guardrail_pause_bounce_rate),
        "SESAME_GUARDRAIL_PAUSE_COMPLAINT_RATE": repr(cfg.guardrail_pause_complaint_rate),
        "SESAME_WARMUP_CONFIGURATION_SETS": ",".join(
            sorted(
                logical
                for logical, cs in cfg.configuration_sets.items()
                if cfg.warmup_pool and cs.ip_pool == cfg.warmup_pool
            )
        ),
        "SESAME_FORWARD_RETRY_SECONDS": str(cfg.forward_retry_seconds),
        "SESAME_FORWARD_ATTEMPTS": str(cfg.forward_attempts),
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
        "SESAME_WARMUP_POOL": names.ip_pool(cfg.warmup_pool) if cfg.warmup_pool else "",
    }
    env.update({k: v for k, v in optional.items() if v})
    if cfg.warmup_start and not env["SESAME_WARMUP_CONFIGURATION_SETS"]:
        # the ramp caps only the configuration sets sending through sesame:warmupPool; with none, nothing ramps
        pulumi.log.warn(
            "sesame:warmupStart is set but no configuration set sends through sesame:warmupPool: no warm-up ramp "
            "applies (set sesame:warmupPool and the marketing sets' ipPool)"
        )
    return env
