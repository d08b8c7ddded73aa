from __future__ import annotations

import pytest

from runtime.emails import recipient_hash
from runtime.sender.headers import HeaderError, UnsubscribeHeaders
from runtime.tokens import TokenSigner

SIGNER = TokenSigner(["unit-test-secret-0123456789"])
H = recipient_hash("someone@example.com")


def test_link_is_base_url_plus_unsubscribe_path_and_a_verifiable_token():
    headers = UnsubscribeHeaders(SIGNER, "https://api.example.com/api/")
    url = headers.url(H, campaign_id="c1", list_name="news")
    prefix = "https://api.example.com/api/unsubscribe?token="
    assert url.startswith(prefix)
    claim = SIGNER.verify(url.removeprefix(prefix))
    assert (claim.recipient_hash, claim.scope, claim.list_name) == (H, "list", "news")


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_plain_http_is_accepted_for_loopback_hosts_only(base):
    assert UnsubscribeHeaders(SIGNER, base).url(H, campaign_id=None, list_name=None).startswith(base + "/unsubscribe?")


@pytest.mark.parametrize(
    "base", ["http://api.example.com", "http://127.0.0.1.evil.example", "http://localhost.evil.example", "ftp://x"]
)
def test_plain_http_to_any_other_host_is_refused(base):
    with pytest.raises(HeaderError, match="https"):
        UnsubscribeHeaders(SIGNER, base)
