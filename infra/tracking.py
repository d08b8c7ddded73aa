"""Custom open/click tracking domain per region.

HTTPS (default): ACM certificate in us-east-1 with its DNS validation record, a CloudFront distribution with origin
``r.<region>.awstrack.me`` that forwards the viewer's Host header (SES recognises the custom domain by it), and a
Route53 alias; configuration sets then use ``HttpsPolicy=REQUIRE``. HTTP mode: a plain CNAME to the awstrack.me
origin and ``HttpsPolicy=OPTIONAL``.

Without a hosted zone the records are the user's to add, so nothing may wait on them before they exist. Until
``sesame:dnsRecordsReady`` is set, the distribution is created without the alias and certificate (CloudFront's
own name, so the tracking CNAME's value is already known and exported with the other records), the certificate
is requested but not waited for, and ``usable`` is false: the configuration sets do not use the domain yet.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.dns import DnsRecord, declare

#: CloudFront's fixed hosted zone id for alias records.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
TRACKING_ORIGIN_ID = "ses-tracking"


def tracking_origin(region: str) -> str:
    return f"r.{region}.awstrack.me"


class TrackingDomain(pulumi.ComponentResource):
    """``sesame:infra:TrackingDomain``."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: pulumi.ProviderResource,
        us_east_1: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:TrackingDomain", name, None, opts)
        self.domain = cfg.tracking_domain_name
        origin = tracking_origin(cfg.region)
        records: list[DnsRecord] = []
        self.distribution: aws.cloudfront.Distribution | None = None
        self.certificate: aws.acm.Certificate | None = None
        self.validation: aws.acm.CertificateValidation | None = None
        #: the configuration sets may use the domain (its records are visible); what they must wait for
        self.usable = cfg.dns_waits
        self.ready: list[pulumi.Resource] = []

        if not cfg.tracking_https:
            self.https_policy = "OPTIONAL"
            records.append(DnsRecord("cname", self.domain, "CNAME", origin, f"tracking domain, HTTP ({cfg.region})"))
            self.records = records
            self.route53_records = declare(
                records, zone_id=cfg.hosted_zone_id, ttl=cfg.dns_ttl, prefix="tracking", parent=self, provider=provider
            )
            self.ready = list(self.route53_records)
            self.register_outputs({"trackingDomain": self.domain})
            return

        self.https_policy = "REQUIRE"
        global_opts = pulumi.ResourceOptions(parent=self, provider=us_east_1)
        self.certificate = aws.acm.Certificate(
            "tracking-certificate",
            domain_name=self.domain,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            opts=global_opts,
        )
        option = self.certificate.domain_validation_options.apply(lambda options: options[0])
        validation = DnsRecord(
            "certificate-validation",
            option.apply(lambda o: (o.resource_record_name or "").rstrip(".")),
            "CNAME",
            option.apply(lambda o: (o.resource_record_value or "").rstrip(".")),
            "ACM certificate validation for the tracking domain",
        )
        records.append(validation)
        declared = declare(
            [validation], zone_id=cfg.hosted_zone_id, ttl=cfg.dns_ttl, prefix="tracking", parent=self, provider=provider
        )
        fqdns = [r.fqdn for r in declared] if declared else [validation.name]
        viewer = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        if cfg.dns_waits:
            self.validation = aws.acm.CertificateValidation(
                "tracking-certificate-validation",
                certificate_arn=self.certificate.arn,
                validation_record_fqdns=fqdns,
                opts=global_opts,
            )
            viewer = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=self.validation.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
        self.distribution = aws.cloudfront.Distribution(
            "tracking-distribution",
            enabled=True,
            comment=f"sesame {cfg.stage} open/click tracking ({self.domain})",
            # the alias needs the validated certificate: added once the validation record is visible
            aliases=[self.domain] if cfg.dns_waits else None,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_All",
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=TRACKING_ORIGIN_ID,
                    domain_name=origin,
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="http-only",
                        origin_ssl_protocols=["TLSv1.2"],
                    ),
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=TRACKING_ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                forwarded_values=aws.cloudfront.DistributionDefaultCacheBehaviorForwardedValuesArgs(
                    query_string=True,
                    headers=["Host"],
                    cookies=aws.cloudfront.DistributionDefaultCacheBehaviorForwardedValuesCookiesArgs(forward="none"),
                ),
                min_ttl=0,
                default_ttl=0,
                max_ttl=0,
                compress=True,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=viewer,
            opts=global_opts,
        )
        self.route53_records = list(declared)
        if cfg.hosted_zone_id:
            for record_type in ("A", "AAAA"):
                self.route53_records.append(
                    aws.route53.Record(
                        f"tracking-alias-{record_type.lower()}",
                        zone_id=cfg.hosted_zone_id,
                        name=self.domain,
                        type=record_type,
                        aliases=[
                            aws.route53.RecordAliasArgs(
                                name=self.distribution.domain_name,
                                zone_id=CLOUDFRONT_ZONE_ID,
                                evaluate_target_health=False,
                            )
                        ],
                        opts=pulumi.ResourceOptions(parent=self, provider=provider),
                    )
                )
        else:
            records.append(
                DnsRecord(
                    "cname",
                    self.domain,
                    "CNAME",
                    self.distribution.domain_name,
                    f"tracking domain, HTTPS via CloudFront ({cfg.region})",
                )
            )
        self.records = records
        self.ready = [self.distribution, *self.route53_records]
        self.register_outputs({"trackingDomain": self.domain, "distributionDomain": self.distribution.domain_name})
