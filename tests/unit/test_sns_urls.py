from __future__ import annotations

import pytest

from runtime.sns import InvalidCertificateUrlError, validate_cert_url
from runtime.sns.urls import sns_host

NAME = "SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (f"https://sns.us-east-1.amazonaws.com/{NAME}", "us-east-1"),
        (f"https://sns.eu-central-2.amazonaws.com/{NAME}", "eu-central-2"),
        (f"https://sns.us-gov-west-1.amazonaws.com/{NAME}", "us-gov-west-1"),
        (f"https://sns.ap-southeast-3.amazonaws.com/{NAME}", "ap-southeast-3"),
        (f"https://sns.cn-north-1.amazonaws.com.cn/{NAME}", "cn-north-1"),
    ],
)
def test_accepts_sns_certificate_urls_of_every_partition(url, region):
    parsed = validate_cert_url(url)
    assert (parsed.region, parsed.file_name) == (region, NAME)


@pytest.mark.parametrize(
    "url",
    [
        f"https://sns.cn-north-1.amazonaws.com/{NAME}",  # China region needs .com.cn
        f"https://sns.us-east-1.amazonaws.com.cn/{NAME}",
        f"https://sns.useast1.amazonaws.com/{NAME}",
        f"https://sns.us-east-1.amazonaws.com/{NAME.upper()}",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-xyz123456.pem",
        f"https://sns.us-east-1.amazonaws.com//{NAME}",
        f" https://sns.us-east-1.amazonaws.com/{NAME}",
        f"HTTPS://sns.us-east-1.amazonaws.com/{NAME}",
        f"https:/sns.us-east-1.amazonaws.com/{NAME}",
        f"https://sns.us-east-1.amazonaws.com/{NAME}\x00",
        f"//sns.us-east-1.amazonaws.com/{NAME}",
        "",
    ],
)
def test_refuses_near_miss_certificate_urls(url):
    with pytest.raises(InvalidCertificateUrlError):
        validate_cert_url(url)


def test_refuses_certificate_url_of_another_region_than_the_topic():
    with pytest.raises(InvalidCertificateUrlError):
        validate_cert_url(f"https://sns.us-east-1.amazonaws.com/{NAME}", region="eu-west-1")


@pytest.mark.parametrize("value", [None, 42, b"https://sns.us-east-1.amazonaws.com/x.pem"])
def test_refuses_non_string_certificate_url(value):
    with pytest.raises(InvalidCertificateUrlError):
        validate_cert_url(value)


def test_sns_host_uses_the_china_partition_domain():
    assert sns_host("us-east-1") == "sns.us-east-1.amazonaws.com"
    assert sns_host("cn-northwest-1") == "sns.cn-northwest-1.amazonaws.com.cn"
