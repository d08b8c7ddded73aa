"""Strict validation of the two kinds of SNS URL sesame ever acts on.

* ``SigningCertURL`` must be exactly ``https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<hex>.pem``
  (``.cn`` exactly for ``cn-*`` regions). A suffix or substring match on ``amazonaws.com`` is the well-known hole
  (``sns.us-east-1.amazonaws.com.evil.example``, ``...amazonaws.com@evil.example``, S3-hosted certificates), so the
  whole URL is matched by one anchored, ASCII-only, case-sensitive pattern: no other scheme, host, port, userinfo,
  query, fragment, path or file name passes.
* ``SubscribeURL`` of a ``SubscriptionConfirmation``: ``https://sns.<topic region>.amazonaws.com[.cn]/`` with
  ``Action=ConfirmSubscription`` and the message's own ``TopicArn`` and ``Token``.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs, urlsplit

from runtime.sns.errors import InvalidCertificateUrlError

# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-3, us-isob-east-1 ...
REGION_PATTERN = r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}"
_CERT_URL_RE = re.compile(
    r"https://sns\.(" + REGION_PATTERN + r")\.amazonaws\.com(\.cn)?/(SimpleNotificationService-[0-9a-f]{8,128}\.pem)"
)


# compiled on first use: a cold start that only verifies notifications never needs them
@functools.cache
def _region_re() -> re.Pattern[str]:
    return re.compile(REGION_PATTERN)


@functools.cache
def _sns_host_re() -> re.Pattern[str]:
    return re.compile(r"sns\.(" + REGION_PATTERN + r")\.amazonaws\.com(\.cn)?")


class CertUrl:
    """A validated SigningCertURL (read-only; a plain slotted class: no dataclass to build on a cold start)."""

    __slots__ = ("file_name", "region", "url")
    url: str
    region: str
    file_name: str

    def __init__(self, url: str, region: str, file_name: str) -> None:
        setter = object.__setattr__
        setter(self, "url", url)
        setter(self, "region", region)
        setter(self, "file_name", file_name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CertUrl is read-only")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not CertUrl:
            return NotImplemented
        return (self.url, self.region, self.file_name) == (other.url, other.region, other.file_name)

    def __hash__(self) -> int:
        return hash((self.url, self.region, self.file_name))

    def __repr__(self) -> str:
        return f"CertUrl(url={self.url!r}, region={self.region!r}, file_name={self.file_name!r})"


def sns_host(region: str) -> str:
    """The regional SNS endpoint host (``sns.cn-north-1.amazonaws.com.cn`` in the China partition)."""
    return f"sns.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


def is_region(value: str) -> bool:
    return _region_re().fullmatch(value) is not None


def validate_cert_url(url: object, region: str | None = None) -> CertUrl:
    """Return the parsed SigningCertURL or raise :class:`InvalidCertificateUrlError`.

    With ``region``, the URL's region must also be that region (the topic's region: SNS signs with the
    certificate of the region the topic lives in).
    """
    if not isinstance(url, str):
        raise InvalidCertificateUrlError("SigningCertURL is missing or not a string")
    match = _CERT_URL_RE.fullmatch(url)
    if match is None:
        raise InvalidCertificateUrlError(
            "SigningCertURL must be https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<hex>.pem"
        )
    cert_region, cn_suffix, file_name = match.group(1), match.group(2), match.group(3)
    if cert_region.startswith("cn-") != bool(cn_suffix):
        raise InvalidCertificateUrlError("SigningCertURL host does not match its region's partition")
    if region is not None and cert_region != region:
        raise InvalidCertificateUrlError("SigningCertURL region does not match the topic's region")
    return CertUrl(url=url, region=cert_region, file_name=file_name)


def validate_subscribe_url(url: object, *, topic_arn: str, token: str, region: str) -> str:
    """Return ``url`` if it is a ConfirmSubscription URL of the topic's regional SNS endpoint, else raise.

    Checked: https; host exactly ``sns.<region>.amazonaws.com[.cn]`` for the topic's region; no userinfo, port
    or fragment; path ``/``; ``Action=ConfirmSubscription`` and the message's own ``TopicArn`` and ``Token``, each
    exactly once, and no other parameters.
    """
    if not isinstance(url, str) or not url.isascii() or any(c in url for c in " \t\r\n\\"):
        raise InvalidCertificateUrlError("SubscribeURL is missing or not a plain ASCII URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCertificateUrlError("SubscribeURL is not a valid URL") from exc
    if parts.scheme != "https":
        raise InvalidCertificateUrlError("SubscribeURL must use https")
    if "@" in parts.netloc or port is not None or parts.netloc != sns_host(region):
        raise InvalidCertificateUrlError("SubscribeURL host must be the topic region's SNS endpoint")
    if _sns_host_re().fullmatch(parts.netloc) is None:
        raise InvalidCertificateUrlError("SubscribeURL host must be the topic region's SNS endpoint")
    if parts.path not in ("", "/") or parts.fragment:
        raise InvalidCertificateUrlError("SubscribeURL must have path / and no fragment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InvalidCertificateUrlError("SubscribeURL query is not valid") from exc
    expected = {"Action": ["ConfirmSubscription"], "TopicArn": [topic_arn], "Token": [token]}
    if query != expected:
        raise InvalidCertificateUrlError("SubscribeURL must confirm this message's topic with this message's token")
    return url
