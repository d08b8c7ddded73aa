from __future__ import annotations

import json

import pytest

from runtime.sns import SnsError, SnsMalformedError, SnsVerificationError
from tests.support.sns import make_signer, make_verifier
from tests.support.sns_forgeries import ALL_ATTACKS, ATTACKS, MALFORMED, Attack, as_body, genuine_envelope


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return make_signer(tmp_path_factory.mktemp("sns-certs"))


def test_corpus_has_at_least_25_distinct_verification_attacks():
    names = [attack.name for attack in ATTACKS]
    assert len(names) >= 25
    assert len(set(names)) == len(names)
    assert all(issubclass(a.expected, SnsVerificationError) and a.status == 403 for a in ATTACKS)
    assert all(issubclass(a.expected, SnsMalformedError) and a.status == 400 for a in MALFORMED)


def test_genuine_envelope_passes_so_each_refusal_is_caused_by_its_forgery(signer):
    assert make_verifier(signer).verify(as_body(genuine_envelope(signer))).Type == "Notification"


@pytest.mark.parametrize("attack", ALL_ATTACKS, ids=[a.name for a in ALL_ATTACKS])
def test_forgery_is_refused_with_the_expected_error(signer, attack: Attack):
    forged = attack.build(signer)
    with pytest.raises(SnsError) as raised:
        make_verifier(signer).verify(as_body(forged))
    assert type(raised.value) is attack.expected, str(raised.value)
    assert raised.value.http_status == attack.status


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_forgery_as_mapping_is_refused_the_same_way(signer, attack: Attack):
    forged = attack.build(signer)
    mapping = forged if isinstance(forged, dict) else json.loads(forged)  # duplicate keys: the last one wins
    with pytest.raises(attack.expected):
        make_verifier(signer).verify(mapping)
