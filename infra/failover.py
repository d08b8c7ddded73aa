"""Multi-region sending: the optional SES global endpoint (``sesv2.MultiRegionEndpoint``, home stack only, primary
= home region, secondary = the other region) and the values the sender uses for client-side failover."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig


class GlobalEndpoint(pulumi.ComponentResource):
    """``sesame:infra:GlobalEndpoint``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:GlobalEndpoint", name, None, opts)
        self.endpoint = aws.sesv2.MultiRegionEndpoint(
            "global-endpoint",
            endpoint_name=f"sesame-{cfg.environment}",
            details=aws.sesv2.MultiRegionEndpointDetailsArgs(
                # the secondary region; the primary is the region the endpoint is created in (home)
                routes_details=aws.sesv2.MultiRegionEndpointDetailsRoutesDetailsArgs(region=cfg.other_regions[0])
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.endpoint_id = self.endpoint.endpoint_id
        self.register_outputs({"endpointId": self.endpoint.endpoint_id})
