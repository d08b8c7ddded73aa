"""Test helpers for SNS verification: a shared local signer (test CA), allowed topics and verifier factories.

Usage::

    from tests.support.sns import TOPIC_ARN, make_signer, make_verifier

    signer = make_signer(tmp_path)            # certificate written into tmp_path (use it as SNS_CERT_DIR)
    body = signer.notification_json(TOPIC_ARN, json.dumps(ses_event))
    envelope = make_verifier(signer).verify(body)

The signing key is generated once per process (``runtime.sns.signing.shared_key``), so signers are cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from runtime.sns.certs import CertificateStore
from runtime.sns.signing import LocalSnsSigner, shared_key
from runtime.sns.verify import SnsVerifier

ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:sesame-dev-ses-events"
OTHER_ALLOWED_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:sesame-dev-ses-events-2"
EU_TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:sesame-dev-ses-events"
UNTRUSTED_TOPIC_ARN = "arn:aws:sns:us-east-1:999999999999:attacker-topic"
ALLOWED_TOPIC_ARNS: tuple[str, ...] = (TOPIC_ARN, OTHER_ALLOWED_TOPIC_ARN, EU_TOPIC_ARN)


def make_signer(cert_dir: str | os.PathLike[str] | None = None, *, slot: int = 0) -> LocalSnsSigner:
    """A signer with the per-process key ``slot`` (0 = the genuine signer, 1 = "another key")."""
    return LocalSnsSigner(str(cert_dir) if cert_dir is not None else None, shared_key(slot))


def other_signer(signer: LocalSnsSigner) -> LocalSnsSigner:
    """A second signer with a different key whose certificate is in the same cert dir (under its own name)."""
    return LocalSnsSigner(signer.cert_dir, shared_key(1))


def make_store(cert_dir: str | Path | None, fetch: Callable[[str, float], bytes] | None = None) -> CertificateStore:
    """A certificate store with a private cache and a fetcher that fails the test if it is ever called."""

    def no_download(url: str, timeout: float) -> bytes:
        raise AssertionError(f"unexpected certificate download of {url}")

    return CertificateStore(str(cert_dir) if cert_dir else None, fetch=fetch or no_download, cache={})


def make_verifier(
    signer: LocalSnsSigner,
    topics: Sequence[str] = ALLOWED_TOPIC_ARNS,
    *,
    max_age_seconds: int = 3600,
    clock: Callable[[], float] = time.time,
) -> SnsVerifier:
    return SnsVerifier(list(topics), make_store(signer.cert_dir), max_age_seconds=max_age_seconds, clock=clock)


def sns_env(signer: LocalSnsSigner, topics: Sequence[str] = ALLOWED_TOPIC_ARNS) -> dict[str, Any]:
    """Env vars that make the app's verifier trust ``signer`` (for ``monkeypatch.setenv``)."""
    return {"SNS_ALLOWED_TOPIC_ARNS": ",".join(topics), "SNS_CERT_DIR": signer.cert_dir, "SNS_MAX_AGE_SECONDS": "3600"}
