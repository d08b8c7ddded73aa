"""Subscription confirmation for verified SNS messages.

* ``SubscriptionConfirmation``: only for allowed topics. Preferred path: the SNS ``ConfirmSubscription`` API
  (a boto3 SNS client for the topic's region, from the composition root) with the message's ``Token`` and
  ``AuthenticateOnUnsubscribe=true`` (unsubscribing then needs AWS credentials, not just the UnsubscribeURL).
  Fallback, or when no client is given: an HTTPS GET of the ``SubscribeURL`` only if it validates
  (:func:`runtime.sns.urls.validate_subscribe_url`), with a timeout and no redirects.
* ``UnsubscribeConfirmation``: logged only. Its SubscribeURL would re-subscribe the endpoint: never visited.

Never logs the token or the URLs that contain it.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from runtime.logs import get_logger
from runtime.sns.errors import ConfirmationFailedError, UntrustedTopicError
from runtime.sns.models import SnsEnvelope
from runtime.sns.urls import validate_subscribe_url

_log = get_logger(__name__)


class HttpGet(Protocol):
    def __call__(self, url: str, timeout: float) -> int: ...


@dataclass(frozen=True, slots=True)
class ConfirmationResult:
    action: Literal["confirmed", "ignored"]
    method: Literal["api", "url", "none"]
    subscription_arn: str | None = None


def default_http_get(
    url: str,
    timeout: float,
    *,
    connection_factory: Callable[..., Any] = http.client.HTTPSConnection,
) -> int:
    """GET a validated https URL (no redirects: a 3xx is returned, not followed); returns the status code."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("only https URLs are fetched")
    conn = connection_factory(parts.hostname, 443, timeout=timeout, context=ssl.create_default_context())
    try:
        conn.request("GET", f"{parts.path or '/'}?{parts.query}", headers={"User-Agent": "sesame-sns-confirm"})
        response = conn.getresponse()
        response.read(64 * 1024)
        return int(response.status)
    finally:
        conn.close()


class SubscriptionConfirmer:
    """Handles SubscriptionConfirmation / UnsubscribeConfirmation messages that already passed verification.

    ``sns_client_for(region)`` returns a boto3 SNS client for that region (``wiring.client("sns", region)``).
    ``allow_url_fallback`` permits the validated SubscribeURL GET when the API is unavailable or fails.
    """

    def __init__(
        self,
        allowed_topic_arns: Collection[str],
        sns_client_for: Callable[[str], Any] | None = None,
        *,
        http_get: HttpGet = default_http_get,
        allow_url_fallback: bool = True,
        timeout: float = 3.0,
    ) -> None:
        self._allowed = frozenset(allowed_topic_arns)
        self._sns_client_for = sns_client_for
        self._http_get = http_get
        self._allow_url_fallback = allow_url_fallback
        self._timeout = timeout

    def handle(self, envelope: SnsEnvelope) -> ConfirmationResult:
        if envelope.TopicArn not in self._allowed:
            raise UntrustedTopicError("TopicArn is not an allowed topic (SNS_ALLOWED_TOPIC_ARNS)")
        log_fields = {"sns_message_id": envelope.MessageId, "topic_arn": envelope.TopicArn, "sns_type": envelope.Type}
        if envelope.Type == "UnsubscribeConfirmation":
            _log.warning("sns unsubscribe confirmation received; SubscribeURL not visited", extra=log_fields)
            return ConfirmationResult(action="ignored", method="none")
        if envelope.Type != "SubscriptionConfirmation":
            return ConfirmationResult(action="ignored", method="none")
        if not envelope.Token:
            raise UntrustedTopicError("SubscriptionConfirmation has no Token")

        api_error: Exception | None = None
        if self._sns_client_for is not None:
            try:
                response = self._sns_client_for(envelope.region).confirm_subscription(
                    TopicArn=envelope.TopicArn, Token=envelope.Token, AuthenticateOnUnsubscribe="true"
                )
            except Exception as exc:  # botocore ClientError/EndpointConnectionError: try the URL, else retry later
                api_error = exc
                _log.warning("sns ConfirmSubscription API failed", extra={**log_fields, "error": type(exc).__name__})
            else:
                arn = response.get("SubscriptionArn") if isinstance(response, dict) else None
                _log.info("sns subscription confirmed", extra={**log_fields, "method": "api"})
                return ConfirmationResult(action="confirmed", method="api", subscription_arn=arn)
            if not self._allow_url_fallback:
                raise ConfirmationFailedError("ConfirmSubscription failed") from api_error

        url = validate_subscribe_url(
            envelope.SubscribeURL, topic_arn=envelope.TopicArn, token=envelope.Token, region=envelope.region
        )
        try:
            status = self._http_get(url, self._timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise ConfirmationFailedError(f"SubscribeURL request failed: {type(exc).__name__}") from exc
        if status != 200:
            raise ConfirmationFailedError(f"SubscribeURL answered HTTP {status}")
        _log.info("sns subscription confirmed", extra={**log_fields, "method": "url"})
        return ConfirmationResult(action="confirmed", method="url")
