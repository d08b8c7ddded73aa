"""Configuration sets from ``sesame:configurationSets``: reputation metrics, TLS REQUIRE, account-style suppression
for BOUNCE and COMPLAINT, optional dedicated IP pool (created by the stack from ``sesame:dedicatedIpPools``) and VDM;
event destinations: two SNS ones by event class (critical types to the critical topic, the rest to the engagement
topic: ``infra/messaging.py``, no SNS filter policy needed) and a CloudWatch one with every type.

SES rejects a configuration set whose custom tracking domain is not under a verified identity: sets with tracking
wait for the identity's verification and for the tracking domain (distribution and DNS), and use SES's default
tracking domain until the DNS records are visible (``tracking_ready`` empty, see infra/tracking.py)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.messaging import EVENT_CLASSES
from infra.naming import Names

#: All ten SES event types in the UPPER_SNAKE spelling event destinations want.
EVENT_TYPES = (
    "SEND",
    "REJECT",
    "BOUNCE",
    "COMPLAINT",
    "DELIVERY",
    "OPEN",
    "CLICK",
    "RENDERING_FAILURE",
    "DELIVERY_DELAY",
    "SUBSCRIPTION",
)
CAMPAIGN_TAG = "campaign_id"


def _vdm(engagement: bool | None, optimized: bool | None) -> aws.sesv2.ConfigurationSetVdmOptionsArgs | None:
    if engagement is None and optimized is None:
        return None
    enabled = {True: "ENABLED", False: "DISABLED"}
    return aws.sesv2.ConfigurationSetVdmOptionsArgs(
        dashboard_options=(
            aws.sesv2.ConfigurationSetVdmOptionsDashboardOptionsArgs(engagement_metrics=enabled[engagement])
            if engagement is not None
            else None
        ),
        guardian_options=(
            aws.sesv2.ConfigurationSetVdmOptionsGuardianOptionsArgs(optimized_shared_delivery=enabled[optimized])
            if optimized is not None
            else None
        ),
    )


class ConfigurationSets(pulumi.ComponentResource):
    """``sesame:infra:ConfigurationSets``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        names: Names,
        *,
        tracking_domain: str,
        https_policy: str,
        tracking_ready: list[pulumi.Resource] | None,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:ConfigurationSets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.sets: dict[str, aws.sesv2.ConfigurationSet] = {}
        self.names: dict[str, str] = {}
        self.pools: dict[str, aws.sesv2.DedicatedIpPool] = {
            logical: aws.sesv2.DedicatedIpPool(
                f"ip-pool-{logical}",
                pool_name=names.ip_pool(logical),
                scaling_mode=pool.scaling_mode,
                opts=child,
            )
            for logical, pool in cfg.dedicated_ip_pools.items()
        }
        for logical, options in cfg.configuration_sets.items():
            physical = names.configuration_set(logical)
            tracked = options.tracking and tracking_ready is not None
            config_set = aws.sesv2.ConfigurationSet(
                f"config-set-{logical}",
                configuration_set_name=physical,
                delivery_options=aws.sesv2.ConfigurationSetDeliveryOptionsArgs(
                    tls_policy="REQUIRE",
                    sending_pool_name=self.pools[options.ip_pool].pool_name if options.ip_pool else None,
                    max_delivery_seconds=options.max_delivery_seconds,
                ),
                reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(reputation_metrics_enabled=True),
                sending_options=aws.sesv2.ConfigurationSetSendingOptionsArgs(sending_enabled=True),
                suppression_options=aws.sesv2.ConfigurationSetSuppressionOptionsArgs(
                    suppressed_reasons=["BOUNCE", "COMPLAINT"]
                ),
                tracking_options=(
                    aws.sesv2.ConfigurationSetTrackingOptionsArgs(
                        custom_redirect_domain=tracking_domain, https_policy=https_policy
                    )
                    if tracked
                    else None
                ),
                vdm_options=_vdm(options.vdm_engagement_metrics, options.vdm_optimized_shared_delivery),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=list(tracking_ready or []) if tracked else None
                ),
            )
            dimension = aws.sesv2.ConfigurationSetEventDestinationEventDestinationCloudWatchDestinationDimensionConfigurationArgs  # noqa: E501
            aws.sesv2.ConfigurationSetEventDestination(
                f"config-set-{logical}-cloudwatch",
                configuration_set_name=config_set.configuration_set_name,
                event_destination_name="cloudwatch",
                event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                    enabled=True,
                    matching_event_types=list(EVENT_TYPES),
                    cloud_watch_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationCloudWatchDestinationArgs(
                        dimension_configurations=[
                            dimension(
                                dimension_name="ses:configuration-set",
                                dimension_value_source="MESSAGE_TAG",
                                default_dimension_value=physical,
                            ),
                            dimension(
                                dimension_name=CAMPAIGN_TAG,
                                dimension_value_source="MESSAGE_TAG",
                                default_dimension_value="untagged",
                            ),
                        ]
                    ),
                ),
                opts=child,
            )
            self.sets[logical] = config_set
            self.names[logical] = physical
        self._provider = provider
        self.register_outputs({"configurationSets": self.names})

    def publish_events(
        self,
        topic_arns: dict[str, pulumi.Input[str]],
        topic_policies: dict[str, pulumi.Resource],
        *,
        after: list[pulumi.Resource],
    ) -> None:
        """The SNS event destinations of every set, one per event class (``infra.messaging.EVENT_CLASSES``).

        Declared once the app exists: ``after`` are the functions whose ``SNS_ALLOWED_TOPIC_ARNS`` must name a topic
        before SES publishes to it (their consumers drop what comes from a topic they do not trust). The engagement
        destination keeps the former single destination's name (``sns``) and waits for the critical one, so no
        critical type is ever without a destination while an existing stack moves from the single topic
        (docs/deploy.md "Upgrading")."""
        provider = self._provider
        for logical, config_set in self.sets.items():
            # SES checks it may publish to the topic when the destination is created: after the topic policy
            critical = aws.sesv2.ConfigurationSetEventDestination(
                f"config-set-{logical}-sns-critical",
                configuration_set_name=config_set.configuration_set_name,
                event_destination_name="sns-critical",
                event_destination=self._sns_destination(topic_arns["critical"], EVENT_CLASSES["critical"][1]),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[topic_policies["critical"], *after]
                ),
            )
            aws.sesv2.ConfigurationSetEventDestination(
                f"config-set-{logical}-sns",
                configuration_set_name=config_set.configuration_set_name,
                event_destination_name="sns",
                event_destination=self._sns_destination(topic_arns["engagement"], EVENT_CLASSES["engagement"][1]),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[topic_policies["engagement"], critical, *after]
                ),
            )

    @staticmethod
    def _sns_destination(
        topic_arn: pulumi.Input[str], event_types: tuple[str, ...]
    ) -> aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs:
        return aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
            enabled=True,  # pulumi-aws defaults it to false
            matching_event_types=list(event_types),
            sns_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationSnsDestinationArgs(
                topic_arn=topic_arn
            ),
        )
