"""Domain identity per region: SESv2 identity with Easy DKIM (or BYODKIM), its DKIM records, custom MAIL FROM
with MX + SPF, and (home stack only) the zone-wide records: DMARC and the BYODKIM selector."""

from __future__ import annotations

import base64

import pulumi
import pulumi_aws as aws
from cryptography.hazmat.primitives import serialization

from infra.config import StackConfig
from infra.dns import DnsRecord, declare

SPF_VALUE = "v=spf1 include:amazonses.com ~all"
DKIM_TOKENS = 3


def byodkim_public_key(private_key_body: str) -> str:
    """Base64 DER SubjectPublicKeyInfo of a base64 (PKCS#1 or PKCS#8) RSA private key: the DKIM ``p=`` value."""
    der = base64.b64decode(private_key_body)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError as exc:
        raise ValueError("sesame:byodkimPrivateKey: not a readable RSA private key") from exc
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(public).decode("ascii")


#: How long ``pulumi up`` waits for SES to see the DKIM records (SES itself keeps trying for 72 hours).
VERIFICATION_TIMEOUT = "1h"


class IdentityDns(pulumi.ComponentResource):
    """``sesame:infra:IdentityDns`` — identity, DKIM, MAIL FROM, DMARC, and the wait for SES's verification.

    Only the stacks of the environment that owns the domain (``sesame:domainOwner``) declare the identity and its
    records; another environment's stacks reference the identity by ARN and only wait for its verification.
    ``verification`` (a ``ses.DomainIdentityVerification``, which polls SES until the identity is verified) exists
    only once the DNS records are visible: with a hosted zone (the stack creates them), or after the user has added
    the exported ``manualDnsRecords`` and set ``sesame:dnsRecordsReady``.
    """

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: pulumi.ProviderResource,
        account_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:IdentityDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        domain = cfg.domain
        self.records: list[DnsRecord] = []
        self.route53_records: list[aws.route53.Record] = []
        self.identity: aws.sesv2.EmailIdentity | None = None
        self.verification: aws.ses.DomainIdentityVerification | None = None
        self.arn: pulumi.Output[str] = pulumi.Output.concat(
            "arn:aws:ses:", cfg.region, ":", account_id, ":identity/", domain
        )
        if not cfg.owns_domain:
            if cfg.dns_waits:
                self.verification = aws.ses.DomainIdentityVerification(
                    "identity-verification",
                    domain=domain,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        provider=provider,
                        custom_timeouts=pulumi.CustomTimeouts(create=VERIFICATION_TIMEOUT),
                    ),
                )
            self.register_outputs({"identityArn": self.arn, "owner": cfg.domain_owner})
            return

        if cfg.byodkim_selector:
            dkim: aws.sesv2.EmailIdentityDkimSigningAttributesArgs = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                domain_signing_selector=cfg.byodkim_selector,
                domain_signing_private_key=pulumi.Output.secret(cfg.byodkim_private_key),
            )
        else:
            dkim = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length=cfg.dkim_key_length)
        self.identity = aws.sesv2.EmailIdentity(
            "identity",
            email_identity=domain,
            dkim_signing_attributes=dkim,
            # brownfield: the identity exists already (created by hand or another tool): adopt it on the first run
            opts=pulumi.ResourceOptions(parent=self, provider=provider, import_=domain if cfg.adopt_identity else None),
        )

        records: list[DnsRecord] = []
        if cfg.byodkim_selector:
            if cfg.is_home:  # one selector record for every region's identity: zone-wide, home stack only
                records.append(
                    DnsRecord(
                        "byodkim",
                        f"{cfg.byodkim_selector}._domainkey.{domain}",
                        "TXT",
                        f"v=DKIM1; k=rsa; p={byodkim_public_key(cfg.byodkim_private_key)}",
                        "DKIM (BYODKIM selector)",
                    )
                )
        else:
            tokens = self.identity.dkim_signing_attributes.apply(lambda attrs: list(attrs.tokens or []))
            for index in range(DKIM_TOKENS):
                token = tokens.apply(lambda t, i=index: t[i] if len(t) > i else "")  # type: ignore[misc]
                records.append(
                    DnsRecord(
                        f"dkim-{index}",
                        token.apply(lambda t: f"{t}._domainkey.{domain}"),
                        "CNAME",
                        token.apply(lambda t: f"{t}.dkim.amazonses.com"),
                        f"Easy DKIM ({cfg.region})",
                        # an adopted identity's CNAMEs are usually in the zone already, with these same values
                        overwrite=cfg.adopt_identity,
                    )
                )

        self.mail_from = aws.sesv2.EmailIdentityMailFromAttributes(
            "mail-from",
            email_identity=self.identity.email_identity,
            mail_from_domain=cfg.mail_from,
            behavior_on_mx_failure=cfg.mail_from_behavior_on_mx_failure,
            opts=child,
        )
        records.append(
            DnsRecord(
                "mail-from-mx",
                cfg.mail_from,
                "MX",
                f"10 feedback-smtp.{cfg.region}.amazonses.com",
                f"custom MAIL FROM ({cfg.region})",
            )
        )
        records.append(DnsRecord("mail-from-spf", cfg.mail_from, "TXT", SPF_VALUE, f"SPF for MAIL FROM ({cfg.region})"))
        if cfg.is_home and cfg.manage_dmarc:
            records.append(
                DnsRecord(
                    "dmarc",
                    f"_dmarc.{domain}",
                    "TXT",
                    cfg.dmarc_value,
                    "DMARC (zone-wide)",
                    import_existing=cfg.adopt_dmarc,
                )
            )

        self.records = records
        self.route53_records = declare(
            records, zone_id=cfg.hosted_zone_id, ttl=cfg.dns_ttl, prefix="identity", parent=self, provider=provider
        )
        if cfg.dns_waits:
            # SES verifies a domain once it sees the DKIM records; nothing that needs a verified identity (a
            # configuration set with the custom tracking domain) may be created before
            self.verification = aws.ses.DomainIdentityVerification(
                "identity-verification",
                domain=self.identity.email_identity,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=list(self.route53_records),
                    custom_timeouts=pulumi.CustomTimeouts(create=VERIFICATION_TIMEOUT),
                ),
            )
        self.arn = self.identity.arn
        self.register_outputs({"identityArn": self.identity.arn, "mailFromDomain": cfg.mail_from})
