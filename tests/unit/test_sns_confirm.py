from __future__ import annotations

import pytest

from runtime.sns import ConfirmationFailedError, InvalidCertificateUrlError, UntrustedTopicError
from runtime.sns.confirm import SubscriptionConfirmer, default_http_get
from runtime.sns.urls import validate_subscribe_url
from tests.support.sns import EU_TOPIC_ARN, OTHER_ALLOWED_TOPIC_ARN, TOPIC_ARN, make_signer, make_verifier

TOKEN = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b"


class FakeSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict] = []

    def confirm_subscription(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {"SubscriptionArn": f"{kwargs['TopicArn']}:sub-1"}


class FakeClients:
    def __init__(self, sns: FakeSns) -> None:
        self.sns = sns
        self.regions: list[str] = []

    def __call__(self, region: str) -> FakeSns:
        self.regions.append(region)
        return self.sns


class RecordingGet:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> int:
        self.urls.append(url)
        return self.status


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return make_signer(tmp_path_factory.mktemp("certs"))


def _verified(signer, kind="SubscriptionConfirmation", topic=TOPIC_ARN):
    verifier = make_verifier(signer)
    if kind == "SubscriptionConfirmation":
        return verifier.verify(signer.subscription_confirmation(topic, token=TOKEN))
    return verifier.verify(signer.unsubscribe_confirmation(topic, token=TOKEN))


def test_confirms_through_the_sns_api_of_the_topic_region_with_the_token(signer):
    sns, get = FakeSns(), RecordingGet()
    clients = FakeClients(sns)
    result = SubscriptionConfirmer([EU_TOPIC_ARN], clients, http_get=get).handle(_verified(signer, topic=EU_TOPIC_ARN))
    assert (result.action, result.method) == ("confirmed", "api")
    assert result.subscription_arn == f"{EU_TOPIC_ARN}:sub-1"
    assert clients.regions == ["eu-west-1"]
    assert sns.calls == [{"TopicArn": EU_TOPIC_ARN, "Token": TOKEN, "AuthenticateOnUnsubscribe": "true"}]
    assert get.urls == []


def test_falls_back_to_the_validated_subscribe_url_when_the_api_fails(signer):
    get = RecordingGet()
    confirmer = SubscriptionConfirmer([TOPIC_ARN], FakeClients(FakeSns(RuntimeError("AccessDenied"))), http_get=get)
    result = confirmer.handle(_verified(signer))
    assert (result.action, result.method) == ("confirmed", "url")
    assert get.urls == [
        f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={TOKEN}"
    ]


def test_api_failure_without_fallback_is_transient(signer):
    get = RecordingGet()
    confirmer = SubscriptionConfirmer(
        [TOPIC_ARN], FakeClients(FakeSns(RuntimeError("x"))), http_get=get, allow_url_fallback=False
    )
    with pytest.raises(ConfirmationFailedError):
        confirmer.handle(_verified(signer))
    assert get.urls == []


def test_confirms_via_url_when_no_sns_client_is_configured(signer):
    get = RecordingGet()
    assert SubscriptionConfirmer([TOPIC_ARN], http_get=get).handle(_verified(signer)).method == "url"
    assert len(get.urls) == 1


def test_subscribe_url_error_status_is_transient(signer):
    with pytest.raises(ConfirmationFailedError):
        SubscriptionConfirmer([TOPIC_ARN], http_get=RecordingGet(503)).handle(_verified(signer))


def test_unsubscribe_confirmation_is_logged_and_its_url_never_visited(signer):
    sns, get = FakeSns(), RecordingGet()
    result = SubscriptionConfirmer([TOPIC_ARN], FakeClients(sns), http_get=get).handle(
        _verified(signer, "UnsubscribeConfirmation")
    )
    assert (result.action, result.method) == ("ignored", "none")
    assert get.urls == []
    assert sns.calls == []


def test_confirmation_for_a_topic_not_allowed_is_refused(signer):
    sns, get = FakeSns(), RecordingGet()
    with pytest.raises(UntrustedTopicError):
        SubscriptionConfirmer([OTHER_ALLOWED_TOPIC_ARN], FakeClients(sns), http_get=get).handle(_verified(signer))
    assert (sns.calls, get.urls) == ([], [])


def test_subscribe_url_that_does_not_validate_is_never_visited(signer):
    envelope = _verified(signer).model_copy(update={"SubscribeURL": "https://evil.example/?Action=ConfirmSubscription"})
    get = RecordingGet()
    with pytest.raises(InvalidCertificateUrlError):
        SubscriptionConfirmer([TOPIC_ARN], http_get=get).handle(envelope)
    assert get.urls == []


GOOD = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token={TOKEN}"


@pytest.mark.parametrize(
    "url",
    [
        GOOD.replace("https://", "http://"),
        GOOD.replace("sns.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com.evil.example"),
        GOOD.replace("sns.us-east-1.amazonaws.com", "sns.eu-west-1.amazonaws.com"),
        GOOD.replace("sns.us-east-1.amazonaws.com", "user@sns.us-east-1.amazonaws.com"),
        GOOD.replace("sns.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com:443"),
        GOOD.replace("sns.us-east-1.amazonaws.com", "SNS.us-east-1.amazonaws.com"),
        GOOD.replace("/?", "/x?"),
        GOOD.replace("ConfirmSubscription", "Unsubscribe"),
        GOOD.replace(TOKEN, "other"),
        GOOD.replace(TOPIC_ARN, OTHER_ALLOWED_TOPIC_ARN),
        GOOD + "&Action=Unsubscribe",
        GOOD + "&Extra=1",
        GOOD + "#frag",
        GOOD.replace("https://", "https://evil.example\\@"),
        None,
    ],
)
def test_subscribe_url_validation_refuses(url):
    with pytest.raises(InvalidCertificateUrlError):
        validate_subscribe_url(url, topic_arn=TOPIC_ARN, token=TOKEN, region="us-east-1")


def test_subscribe_url_validation_accepts_the_sns_format():
    assert validate_subscribe_url(GOOD, topic_arn=TOPIC_ARN, token=TOKEN, region="us-east-1") == GOOD


def test_default_http_get_sends_path_and_query_and_does_not_follow_redirects():
    seen: dict = {}

    class Response:
        status = 302

        def read(self, amount):
            return b""

    class Conn:
        def __init__(self, host, port, timeout, context):
            seen.update(host=host, port=port, timeout=timeout, requests=[])

        def request(self, method, path, headers=None):
            seen["requests"].append((method, path))

        def getresponse(self):
            return Response()

        def close(self):
            seen["closed"] = True

    assert default_http_get(GOOD, 2.0, connection_factory=Conn) == 302
    assert (seen["host"], seen["port"], seen["timeout"]) == ("sns.us-east-1.amazonaws.com", 443, 2.0)
    assert seen["requests"] == [("GET", GOOD.split("amazonaws.com", 1)[1])]
    assert seen["closed"]
