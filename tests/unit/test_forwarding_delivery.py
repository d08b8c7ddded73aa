"""Signing and retry behaviour of the forwarder (no network: the poster is a fake)."""

from __future__ import annotations

import json

import pytest

from runtime.forwarding import signing
from runtime.forwarding.delivery import Forwarder, event_dict

SECRET = "forward-secret-0123456789"


class FakePoster:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, url, body, headers, timeout):
        self.calls.append((url, body, dict(headers)))
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def forwarder(poster, sleeps):
    return Forwarder(
        "https://api.example.com/hook", SECRET, post=poster, sleep=sleeps.append, clock=lambda: 1_700_000_000
    )


def test_signature_is_hmac_sha256_over_timestamp_dot_body_and_verifies():
    body = b'{"events":[]}'
    sig = signing.signature(SECRET, 1_700_000_000, body)
    assert sig.startswith("v1=") and len(sig) == 3 + 64
    assert signing.verify([SECRET], "1700000000", sig, body, now=1_700_000_010)
    assert not signing.verify([SECRET], "1700000000", sig, body + b" ", now=1_700_000_010)
    assert not signing.verify(["other-secret-0123456789"], "1700000000", sig, body, now=1_700_000_010)
    assert not signing.verify([SECRET], "1700000000", sig, body, now=1_700_000_000 + 3600)  # replay window
    assert not signing.verify([SECRET], None, sig, body, now=1_700_000_000)


def test_delivery_posts_signed_batch_once_on_success():
    poster, sleeps = FakePoster([200]), []
    result = forwarder(poster, sleeps).deliver([{"event_type": "Open", "message_id": "m1"}])
    assert result.ok and result.attempts == 1 and sleeps == []
    url, body, headers = poster.calls[0]
    assert json.loads(body)["events"] == [{"event_type": "Open", "message_id": "m1"}]
    assert signing.verify(
        [SECRET], headers["X-Sesame-Timestamp"], headers["X-Sesame-Signature"], body, now=1_700_000_000
    )


def test_delivery_retries_with_exponential_backoff_then_gives_up_after_three_attempts():
    poster, sleeps = FakePoster([503, OSError("connection refused"), 500]), []
    result = forwarder(poster, sleeps).deliver([{"event_type": "Open"}])
    assert not result.ok and result.attempts == 3 and len(poster.calls) == 3
    assert sleeps == [0.5, 1.0]


def test_delivery_recovers_on_a_later_attempt():
    poster, sleeps = FakePoster([429, 204]), []
    assert forwarder(poster, sleeps).deliver([{"event_type": "Open"}]).ok
    assert sleeps == [0.5]


def test_client_errors_are_not_retried():
    poster, sleeps = FakePoster([400]), []
    result = forwarder(poster, sleeps).deliver([{"event_type": "Open"}])
    assert not result.ok and result.attempts == 1 and result.error == "HTTP 400"


def test_forwarder_refuses_to_run_unsigned():
    with pytest.raises(ValueError):
        Forwarder("https://api.example.com/hook", "")


def test_event_dict_accepts_pydantic_models_and_mappings():
    from pydantic import BaseModel

    class Ev(BaseModel):
        event_type: str
        tags: tuple[str, ...] = ()

    assert event_dict(Ev(event_type="Bounce", tags=("a",))) == {"event_type": "Bounce", "tags": ["a"]}
    assert event_dict({"event_type": "Open"}) == {"event_type": "Open"}
    with pytest.raises(TypeError):
        event_dict(42)
