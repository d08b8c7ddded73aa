from __future__ import annotations

import pytest

from runtime.emails import recipient_hash
from runtime.tokens import TokenError, TokenSigner

H = recipient_hash("someone@example.com")


def signer(*secrets: str, now: float = 1_000_000.0) -> TokenSigner:
    return TokenSigner(list(secrets) or ["current-secret-0123456789"], clock=lambda: now)


def test_issued_token_verifies_and_binds_recipient_and_scope():
    s = signer()
    claim = s.verify(s.issue(H, "list", list_name="news", campaign_id="c1"))
    assert claim.recipient_hash == H
    assert claim.scope == "list"
    assert claim.scope_key == "LIST#news"
    assert claim.campaign_id == "c1"


def test_token_is_url_safe():
    token = signer().issue(H, "campaign", campaign_id="spring sale/2026")
    assert all(c.isalnum() or c in "-_." for c in token)


def test_token_signed_with_previous_secret_still_verifies_after_rotation():
    old = signer("previous-secret-0123456789")
    token = old.issue(H)
    rotated = signer("current-secret-0123456789", "previous-secret-0123456789")
    assert rotated.verify(token).recipient_hash == H


def test_token_from_retired_secret_is_rejected():
    token = signer("retired-secret-0123456789").issue(H)
    with pytest.raises(TokenError):
        signer("current-secret-0123456789").verify(token)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1],
        lambda t: t[1:],
        lambda t: t + "A",
        lambda t: t.replace(".", ""),
        lambda t: "x" + t,
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "a.b",
    ],
)
def test_tampered_or_truncated_token_is_rejected(mutate):
    s = signer()
    with pytest.raises(TokenError):
        s.verify(mutate(s.issue(H)))


def test_expired_token_is_rejected():
    token = signer(now=1000).issue(H, ttl_seconds=60)
    assert signer(now=1059).verify(token).expires_at == 1060
    with pytest.raises(TokenError, match="expired"):
        signer(now=1061).verify(token)


def test_short_secret_is_refused():
    with pytest.raises(ValueError):
        TokenSigner(["short"])
