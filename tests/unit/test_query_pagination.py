from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.query.errors import InvalidPageTokenError
from runtime.query.pagination import PageTokens

CURSOR = {"campaign_id": "c1", "status_key": "delivered#2026-05-01T10:00:00.000Z#m1", "message_id": "m1"}


def test_round_trip_and_no_token_for_last_page():
    tokens = PageTokens("secret-0123456789")
    token = tokens.encode(CURSOR, "campaign-messages\nc1\n")
    assert token is not None and all(c.isalnum() or c in "-_." for c in token)
    assert tokens.decode(token, "campaign-messages\nc1\n") == CURSOR
    assert tokens.encode(None, "x") is None
    assert tokens.decode(None, "x") is None and tokens.decode("", "x") is None


def test_token_bound_to_route_and_filters():
    tokens = PageTokens("secret-0123456789")
    token = tokens.encode(CURSOR, "campaign-messages\nc1\n")
    with pytest.raises(InvalidPageTokenError):
        tokens.decode(token, "campaign-messages\nc1\ndelivered")
    with pytest.raises(InvalidPageTokenError):
        tokens.decode(token, "campaign-messages\nc2\n")


def test_token_from_another_secret_is_refused():
    token = PageTokens("secret-0123456789").encode(CURSOR, "b")
    with pytest.raises(InvalidPageTokenError):
        PageTokens("another-secret-0123").decode(token, "b")


@settings(max_examples=100, deadline=None)
@given(position=st.integers(min_value=0, max_value=200), char=st.sampled_from("AQgw-_x0"))
def test_any_single_character_change_is_refused(position, char):
    tokens = PageTokens("secret-0123456789")
    token = tokens.encode(CURSOR, "b")
    assert token is not None
    i = position % len(token)
    tampered = token[:i] + char + token[i + 1 :]
    if tampered == token:
        return
    with pytest.raises(InvalidPageTokenError):
        tokens.decode(tampered, "b")


@pytest.mark.parametrize("bad", ["nodot", ".", "a.", ".b", "a.b.c", "!!!.???", "x" * 5000])
def test_malformed_tokens_are_refused(bad):
    with pytest.raises(InvalidPageTokenError):
        PageTokens("secret-0123456789").decode(bad, "b")
