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


class IdentityDns(pulumi.ComponentResource):
    """``sesame:infra:IdentityDns`` — identity, DKIM, MAIL FROM, DMARC."""

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sesame:infra:IdentityDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        domain = cfg.domain

        if cfg.byodkim_selector:
            dkim: aws.sesv2.EmailIdentityDkimSigningAttributesArgs = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
                domain_signing_selector=cfg.byodkim_selector,
                domain_signing_private_key=pulumi.Output.secret(cfg.byodkim_private_key),
            )
        else:
            dkim = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length=cfg.dkim_key_length)
        self.identity = aws.sesv2.EmailIdentity(
            "identity", email_identity=domain, dkim_signing_attributes=dkim, opts=child
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
            records.append(DnsRecord("dmarc", f"_dmarc.{domain}", "TXT", cfg.dmarc_value, "DMARC (zone-wide)"))

        self.records = records
        self.route53_records = declare(
            records, zone_id=cfg.hosted_zone_id, ttl=cfg.dns_ttl, prefix="identity", parent=self, provider=provider
        )
        self.arn = self.identity.arn
        self.register_outputs({"identityArn": self.identity.arn, "mailFromDomain": cfg.mail_from})
