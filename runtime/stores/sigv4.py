"""AWS Signature Version 4 with ``hmac``/``hashlib``, the signing key kept per secret, day, region and service.

The same signature as botocore's ``SigV4Auth`` (tested against AWS's published test-suite values and against
botocore's output for a fixed clock and credentials, ``tests/unit/test_sigv4.py``), without what makes botocore's
cost tens of microseconds per request: header objects, URL re-parsing, and four HMACs to derive a key that changes
once a day. A signer serves one service in one region (the ingestion client's DynamoDB); the credentials are passed
per request, so refreshed session credentials (a new key and token) are used as soon as botocore hands them out.

Signed: ``host`` and every header given (names lower-cased, values trimmed, sorted), as botocore signs a DynamoDB
request (``content-type``, ``host``, ``x-amz-date``, ``x-amz-security-token``, ``x-amz-target``); the payload hash
is the SHA-256 of the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
_SIGNED = "content-type;host;x-amz-date;x-amz-target"
_SIGNED_WITH_TOKEN = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, datestamp: str, region: str, service: str) -> bytes:
    """``kSigning`` of the SigV4 specification (``datestamp`` as ``YYYYMMDD``)."""
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), datestamp)
    return _hmac(_hmac(_hmac(key, region), service), "aws4_request")


def amz_date(now: datetime) -> str:
    """``X-Amz-Date`` for a UTC instant: ``YYYYMMDD'T'HHMMSS'Z'``."""
    return now.strftime("%Y%m%dT%H%M%SZ")


def canonical_query(query: Mapping[str, str]) -> str:
    """The canonical query string (names and values URI-encoded, sorted by name then value)."""
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


class SigV4Signer:
    """Signs requests to one service in one region; ``authorization`` is the hot path."""

    def __init__(self, region: str, service: str) -> None:
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] | None = None  # (secret, datestamp, key): refreshed credentials re-derive

    def _signing_key(self, secret_key: str, datestamp: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret_key and cached[1] == datestamp:
            return cached[2]
        key = signing_key(secret_key, datestamp, self.region, self.service)
        self._key = (secret_key, datestamp, key)
        return key

    def authorization(
        self,
        *,
        method: str,
        host: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        date: str,
        access_key: str,
        secret_key: str,
    ) -> str:
        """The ``Authorization`` header value. ``date`` is the request's ``X-Amz-Date`` (which ``headers`` carries,
        with the security token if any); ``path`` is already URI-encoded; ``query`` is canonical
        (:func:`canonical_query`)."""
        signed = {"host": host}
        for name, value in headers.items():
            signed[name.lower()] = " ".join(value.split())
        names = sorted(signed)
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
        signed_headers = ";".join(names)
        canonical_request = "\n".join(
            (method, path, query, canonical_headers, signed_headers, hashlib.sha256(body).hexdigest())
        )
        return self._header(canonical_request, signed_headers, date, access_key, secret_key)

    def json_post_authorization(
        self,
        *,
        host: str,
        content_type: str,
        target: str,
        body: bytes,
        date: str,
        token: str | None,
        access_key: str,
        secret_key: str,
    ) -> str:
        """:meth:`authorization` of a JSON-protocol ``POST /`` whose headers are ``Content-Type``, ``X-Amz-Date``,
        ``X-Amz-Target`` and ``X-Amz-Security-Token`` when ``token`` (the header values need no trimming: they
        hold no spaces), the canonical request written in one piece."""
        if token:
            canonical_request = (
                f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{date}\n"
                f"x-amz-security-token:{token}\nx-amz-target:{target}\n\n{_SIGNED_WITH_TOKEN}\n"
                f"{hashlib.sha256(body).hexdigest()}"
            )
            signed_headers = _SIGNED_WITH_TOKEN
        else:
            canonical_request = (
                f"POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{date}\n"
                f"x-amz-target:{target}\n\n{_SIGNED}\n{hashlib.sha256(body).hexdigest()}"
            )
            signed_headers = _SIGNED
        return self._header(canonical_request, signed_headers, date, access_key, secret_key)

    def _header(self, canonical_request: str, signed_headers: str, date: str, access_key: str, secret_key: str) -> str:
        datestamp = date[:8]
        scope = f"{datestamp}/{self.region}/{self.service}/aws4_request"
        digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        string_to_sign = f"{ALGORITHM}\n{date}\n{scope}\n{digest}"
        key = self._signing_key(secret_key, datestamp)
        signature = hmac.digest(key, string_to_sign.encode("utf-8"), "sha256").hex()
        return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
