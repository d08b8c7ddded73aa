"""SNS signing certificates: ``SNS_CERT_DIR`` first, else an HTTPS download; parsed keys cached per process.

* The URL is validated (:func:`runtime.sns.urls.validate_cert_url`) before anything is read or fetched: a URL
  that fails validation is a 403 and is never fetched.
* ``SNS_CERT_DIR`` holds PEM files named by the URL's file name (``SimpleNotificationService-<hex>.pem``).
  Lambdas in private subnets cannot reach ``sns.<region>.amazonaws.com``: pre-seed the folder instead.
* Downloads use HTTPS with certificate verification, a timeout (per socket operation and overall), no redirects
  (the connection layer never follows them; any non-200 status is a failure) and a size cap. A certificate the SNS
  host says it does not have (403/404/410) raises :class:`CertificateNotFoundError` (a verification failure: 403,
  dropped); any other failure (connection, timeout, 5xx, 429, redirect) raises :class:`CertificateUnavailableError`
  (transient: the webhook answers 5xx, SNS retries).
* Parsed public keys are cached per process, keyed by URL, so a warm Lambda container does one dictionary lookup
  per message. Download attempts are bounded (10 a minute per store) so forged, well-formed certificate names cannot
  turn the function into a request amplifier.
"""

from __future__ import annotations

import http.client
import os
import ssl
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from runtime.logs import get_logger
from runtime.sns.der import NotRsaKeyError, pem_to_der, read_certificate
from runtime.sns.errors import CertificateNotFoundError, CertificateUnavailableError, InvalidCertificateError
from runtime.sns.urls import validate_cert_url

MAX_CERT_BYTES = 64 * 1024
# answers meaning "there is no such certificate here" (refuse: 403), as opposed to "cannot answer now" (retry: 503)
NOT_FOUND_STATUSES = frozenset({403, 404, 410})
MIN_RSA_KEY_BITS = 2048
_PROCESS_CACHE_LIMIT = 256

_log = get_logger(__name__)


class FetchFunc(Protocol):
    def __call__(self, url: str, timeout: float) -> bytes: ...


class _Connection(Protocol):
    def request(self, method: str, url: str, body: Any = ..., headers: Any = ...) -> None: ...
    def getresponse(self) -> Any: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CachedCertificate:
    """A parsed signing certificate: its RSA public key and validity window (epoch seconds)."""

    public_key: RSAPublicKey
    not_before: float
    not_after: float
    source: str  # "cert_dir" or "download"


# Process-level cache keyed by SigningCertURL: survives across Lambda invocations of one container.
# Only certificates that parsed and passed the key checks are stored; failures are never cached.
_PROCESS_CACHE: dict[str, CachedCertificate] = {}


def clear_process_cache() -> None:
    """Forget every cached certificate (tests; the composition root's reset)."""
    _PROCESS_CACHE.clear()


def default_fetch(
    url: str,
    timeout: float,
    *,
    connection_factory: Callable[..., _Connection] = http.client.HTTPSConnection,
    max_bytes: int = MAX_CERT_BYTES,
    monotonic: Callable[[], float] = time.monotonic,
) -> bytes:
    """GET ``url`` over HTTPS: TLS verified, ``timeout`` per operation and overall, no redirects, size capped.

    Only called with a URL that passed :func:`validate_cert_url` (https, fixed host, no port, no query).
    """
    cert = validate_cert_url(url)
    host = url[len("https://") :].split("/", 1)[0]
    deadline = monotonic() + timeout
    conn = connection_factory(host, 443, timeout=timeout, context=ssl.create_default_context())
    try:
        conn.request("GET", "/" + cert.file_name, headers={"Accept": "*/*", "User-Agent": "sesame-sns-verifier"})
        response = conn.getresponse()
        if response.status in NOT_FOUND_STATUSES:
            raise CertificateNotFoundError(f"the SNS host has no such certificate (HTTP {response.status})")
        if response.status != 200:
            raise CertificateUnavailableError(
                f"certificate download answered HTTP {response.status} (redirects are not followed)"
            )
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise CertificateUnavailableError("certificate download is larger than the size cap")
        chunks: list[bytes] = []
        size = 0
        while True:
            if monotonic() > deadline:
                raise CertificateUnavailableError("certificate download timed out")
            chunk = response.read(min(8192, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise CertificateUnavailableError("certificate download is larger than the size cap")
        return b"".join(chunks)
    except (OSError, http.client.HTTPException) as exc:  # socket timeouts and TLS errors are OSErrors
        raise CertificateUnavailableError(f"certificate download failed: {type(exc).__name__}") from exc
    finally:
        conn.close()


def parse_certificate(pem: bytes, source: str) -> CachedCertificate:
    """Parse a PEM X.509 certificate holding an RSA key of at least 2048 bits (its key and validity window, read by
    :mod:`runtime.sns.der` without importing ``cryptography.x509``: ~20 ms of every verifying function's cold start)."""
    try:
        fields = read_certificate(pem_to_der(pem))
    except NotRsaKeyError as exc:
        raise InvalidCertificateError("signing certificate does not hold an RSA key") from exc
    except ValueError as exc:
        raise CertificateUnavailableError(f"signing certificate from {source} is not a PEM X.509 certificate") from exc
    if fields.modulus.bit_length() < MIN_RSA_KEY_BITS:
        raise InvalidCertificateError(f"signing certificate RSA key is shorter than {MIN_RSA_KEY_BITS} bits")
    try:
        key = RSAPublicNumbers(fields.exponent, fields.modulus).public_key()
    except ValueError as exc:  # cryptography's own checks of the numbers (an even modulus, an exponent < 3...)
        raise InvalidCertificateError("signing certificate RSA key is not a valid RSA public key") from exc
    return CachedCertificate(public_key=key, not_before=fields.not_before, not_after=fields.not_after, source=source)


class CertificateStore:
    """Resolves a SigningCertURL to the certificate's RSA public key.

    ``cert_dir`` (``SNS_CERT_DIR``) is consulted first; a file there is trusted as the certificate for that file
    name. Otherwise ``fetch(url, timeout)`` downloads it. ``cache`` defaults to the process-level cache; pass a
    dict to isolate a store (tests). ``check_validity`` rejects certificates outside their validity window at the
    moment :meth:`public_key` is asked about (the message's Timestamp), give or take ``validity_skew_seconds``.
    """

    def __init__(
        self,
        cert_dir: str | None,
        fetch: FetchFunc = default_fetch,
        timeout: float = 3.0,
        *,
        check_validity: bool = True,
        cache: MutableMapping[str, CachedCertificate] | None = None,
        clock: Callable[[], float] = time.time,
        max_downloads_per_minute: int = 10,
        monotonic: Callable[[], float] = time.monotonic,
        validity_skew_seconds: float = 300.0,
    ) -> None:
        self._cert_dir = cert_dir or None
        self._fetch = fetch
        self._timeout = timeout
        self._check_validity = check_validity
        self._cache: MutableMapping[str, CachedCertificate] = _PROCESS_CACHE if cache is None else cache
        self._clock = clock
        self._max_downloads = max_downloads_per_minute
        self._monotonic = monotonic
        self._downloads: deque[float] = deque()
        self._skew = validity_skew_seconds

    @property
    def cert_dir(self) -> str | None:
        return self._cert_dir

    def public_key(self, url: str, *, at: float | None = None) -> RSAPublicKey:
        """The RSA public key for ``url``, if the certificate was valid at ``at`` (epoch seconds: the message's
        Timestamp; default now) within the skew; raises a 403-class error or ``CertificateUnavailableError``."""
        entry = self._cache.get(url)
        if entry is None:
            entry = self._load(url)
        if self._check_validity:
            moment = self._clock() if at is None else at
            if moment - self._skew > entry.not_after:
                raise InvalidCertificateError("signing certificate had expired when the message was signed")
            if moment + self._skew < entry.not_before:
                raise InvalidCertificateError("signing certificate was not valid yet when the message was signed")
        return entry.public_key

    def _load(self, url: str) -> CachedCertificate:
        cert_url = validate_cert_url(url)  # defence in depth: never read or fetch anything for a bad URL
        pem = self._read_cert_dir(cert_url.file_name)
        source = "cert_dir"
        if pem is None:
            source = "download"
            self._throttle_downloads(url)
            try:
                pem = self._fetch(url, self._timeout)
            except CertificateUnavailableError as exc:
                _log.warning(
                    "sns signing certificate unavailable; pre-seed SNS_CERT_DIR with it",
                    extra={"cert_url": url, "cert_file": cert_url.file_name, "error": str(exc)},
                )
                raise
            if len(pem) > MAX_CERT_BYTES:
                raise CertificateUnavailableError("certificate download is larger than the size cap")
        entry = parse_certificate(pem, source)
        if len(self._cache) >= _PROCESS_CACHE_LIMIT:
            self._cache.clear()
        self._cache[url] = entry
        _log.info("sns signing certificate loaded", extra={"cert_url": url, "source": source})
        return entry

    def _throttle_downloads(self, url: str) -> None:
        """Bound download attempts: a flood of well-formed but unknown certificate names (each one a request to
        AWS and a wait) must not turn the function into an amplifier. Legitimate rotations need one download."""
        now = self._monotonic()
        while self._downloads and now - self._downloads[0] > 60.0:
            self._downloads.popleft()
        if len(self._downloads) >= self._max_downloads:
            _log.warning("sns certificate downloads throttled", extra={"cert_url": url})
            raise CertificateUnavailableError("too many certificate downloads in the last minute; retry later")
        self._downloads.append(now)

    def _read_cert_dir(self, file_name: str) -> bytes | None:
        if self._cert_dir is None:
            return None
        path = os.path.join(self._cert_dir, file_name)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_CERT_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CertificateUnavailableError(f"cannot read {file_name} from SNS_CERT_DIR") from exc
        if len(data) > MAX_CERT_BYTES:
            raise CertificateUnavailableError(f"{file_name} in SNS_CERT_DIR is larger than the size cap")
        return data
