from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from runtime.sns import (
    CertificateStore,
    CertificateUnavailableError,
    InvalidCertificateError,
    InvalidCertificateUrlError,
    SnsVerifier,
)
from runtime.sns.certs import MAX_CERT_BYTES, clear_process_cache, default_fetch
from runtime.sns.signing import shared_key
from tests.support.sns import TOPIC_ARN, make_signer

URL_NAME = "SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
URL = f"https://sns.us-east-1.amazonaws.com/{URL_NAME}"


class RecordingFetch:
    def __init__(self, body: bytes | Exception) -> None:
        self.body = body
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls.append((url, timeout))
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


def _certificate(key, days: int = 30, start_days: int = -1) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=start_days))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return make_signer(tmp_path_factory.mktemp("certs"))


def test_cert_dir_is_consulted_before_any_download(signer):
    fetch = RecordingFetch(AssertionError("must not download"))
    store = CertificateStore(signer.cert_dir, fetch=fetch, cache={})
    key = store.public_key(signer.cert_url)
    assert key.public_numbers() == x509.load_pem_x509_certificate(signer.cert_pem).public_key().public_numbers()
    assert fetch.calls == []


def test_downloads_with_the_timeout_when_cert_dir_has_no_file(tmp_path, signer):
    fetch = RecordingFetch(signer.cert_pem)
    store = CertificateStore(str(tmp_path), fetch=fetch, timeout=1.5, cache={})
    store.public_key(signer.cert_url)
    assert fetch.calls == [(signer.cert_url, 1.5)]


def test_cached_key_avoids_a_second_fetch(signer):
    fetch = RecordingFetch(signer.cert_pem)
    store = CertificateStore(None, fetch=fetch, cache={})
    first = store.public_key(signer.cert_url)
    second = store.public_key(signer.cert_url)
    assert first is second
    assert len(fetch.calls) == 1


def test_process_cache_is_shared_by_stores_across_invocations(signer):
    clear_process_cache()
    try:
        fetch = RecordingFetch(signer.cert_pem)
        CertificateStore(None, fetch=fetch).public_key(signer.cert_url)
        CertificateStore(None, fetch=fetch).public_key(signer.cert_url)
        assert len(fetch.calls) == 1
    finally:
        clear_process_cache()


@pytest.mark.parametrize(
    "url",
    [
        f"http://sns.us-east-1.amazonaws.com/{URL_NAME}",
        f"https://sns.us-east-1.amazonaws.com.evil.example/{URL_NAME}",
        f"https://s3.amazonaws.com/bucket/{URL_NAME}",
    ],
)
def test_invalid_url_is_refused_and_never_fetched_or_read(tmp_path, url):
    fetch = RecordingFetch(b"unused")
    with pytest.raises(InvalidCertificateUrlError):
        CertificateStore(str(tmp_path), fetch=fetch, cache={}).public_key(url)
    assert fetch.calls == []


def test_download_failure_is_transient_and_not_cached(signer):
    fetch = RecordingFetch(CertificateUnavailableError("down"))
    store = CertificateStore(None, fetch=fetch, cache={})
    with pytest.raises(CertificateUnavailableError) as raised:
        store.public_key(URL)
    assert raised.value.http_status == 503
    fetch.body = signer.cert_pem
    store.public_key(URL)
    assert len(fetch.calls) == 2


def test_non_certificate_download_is_transient():
    with pytest.raises(CertificateUnavailableError):
        CertificateStore(None, fetch=RecordingFetch(b"<html>error</html>"), cache={}).public_key(URL)


def test_oversized_download_is_refused():
    fetch = RecordingFetch(b"x" * (MAX_CERT_BYTES + 1))
    with pytest.raises(CertificateUnavailableError):
        CertificateStore(None, fetch=fetch, cache={}).public_key(URL)


def test_expired_certificate_is_refused():
    pem = _certificate(shared_key(2), days=1)
    store = CertificateStore(None, fetch=RecordingFetch(pem), cache={}, clock=lambda: 4_000_000_000.0)
    with pytest.raises(InvalidCertificateError):
        store.public_key(URL)


def test_expiry_check_can_be_disabled():
    pem = _certificate(shared_key(2), days=1)
    store = CertificateStore(None, fetch=RecordingFetch(pem), cache={}, clock=lambda: 4e9, check_validity=False)
    assert store.public_key(URL).key_size == 2048


@pytest.mark.parametrize(
    "key",
    [rsa.generate_private_key(public_exponent=65537, key_size=1024), ec.generate_private_key(ec.SECP256R1())],
    ids=["rsa-1024", "ec-p256"],
)
def test_weak_or_non_rsa_certificate_is_refused(key):
    with pytest.raises(InvalidCertificateError):
        CertificateStore(None, fetch=RecordingFetch(_certificate(key)), cache={}).public_key(URL)


def test_verifier_reports_unavailable_certificate_as_transient(signer):
    envelope = signer.notification(TOPIC_ARN, "m")
    store = CertificateStore(None, fetch=RecordingFetch(CertificateUnavailableError("timeout")), cache={})
    with pytest.raises(CertificateUnavailableError):
        SnsVerifier([TOPIC_ARN], store).verify(envelope)


# -- default_fetch, with a fake HTTPS connection ---------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self._body = body
        self._headers = headers or {}

    def getheader(self, name: str) -> str | None:
        return self._headers.get(name)

    def read(self, amount: int = -1) -> bytes:
        chunk, self._body = self._body[:amount], self._body[amount:]
        return chunk


class FakeConnectionFactory:
    def __init__(self, *responses: FakeResponse | Exception) -> None:
        self.responses = list(responses)
        self.connections: list[dict] = []

    def __call__(self, host, port, timeout, context):
        record = {"host": host, "port": port, "timeout": timeout, "requests": [], "closed": False}
        self.connections.append(record)
        factory = self

        class Conn:
            def request(self, method, path, body=None, headers=None):
                record["requests"].append((method, path))

            def getresponse(self):
                response = factory.responses.pop(0)
                if isinstance(response, Exception):
                    raise response
                return response

            def close(self):
                record["closed"] = True

        return Conn()


def test_default_fetch_gets_the_certificate_over_https_with_the_timeout():
    factory = FakeConnectionFactory(FakeResponse(200, b"PEM"))
    assert default_fetch(URL, 2.5, connection_factory=factory) == b"PEM"
    (conn,) = factory.connections
    assert (conn["host"], conn["port"], conn["timeout"]) == ("sns.us-east-1.amazonaws.com", 443, 2.5)
    assert conn["requests"] == [("GET", f"/{URL_NAME}")]
    assert conn["closed"]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_default_fetch_does_not_follow_redirects(status):
    redirect = FakeResponse(status, b"", {"Location": "https://evil.example/cert.pem"})
    factory = FakeConnectionFactory(redirect, FakeResponse(200, b"EVIL"))
    with pytest.raises(CertificateUnavailableError):
        default_fetch(URL, 1.0, connection_factory=factory)
    assert len(factory.connections) == 1
    assert len(factory.connections[0]["requests"]) == 1


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_certificate_the_sns_host_does_not_have_is_not_found_and_refused_not_retried(status):
    from runtime.sns import CertificateNotFoundError, SnsVerificationError

    factory = FakeConnectionFactory(FakeResponse(status, b"<Error>NoSuchKey</Error>"))
    with pytest.raises(CertificateNotFoundError) as raised:
        default_fetch(URL, 1.0, connection_factory=factory)
    assert isinstance(raised.value, SnsVerificationError) and raised.value.http_status == 403


@pytest.mark.parametrize("answer", [500, 502, 503, 504, 429, ConnectionRefusedError("refused"), OSError("no route")])
def test_an_sns_host_that_cannot_answer_now_is_unavailable_and_retried(answer):
    response = FakeResponse(answer, b"") if isinstance(answer, int) else answer
    with pytest.raises(CertificateUnavailableError) as raised:
        default_fetch(URL, 1.0, connection_factory=FakeConnectionFactory(response))
    assert raised.value.http_status == 503


def test_verifier_refuses_a_message_whose_certificate_sns_does_not_host(signer):
    from runtime.sns import CertificateNotFoundError

    envelope = signer.notification(TOPIC_ARN, "m")
    factory = FakeConnectionFactory(FakeResponse(404, b""))
    store = CertificateStore(None, fetch=lambda url, t: default_fetch(url, t, connection_factory=factory), cache={})
    with pytest.raises(CertificateNotFoundError):
        SnsVerifier([TOPIC_ARN], store).verify(envelope)


def test_default_fetch_turns_a_socket_timeout_into_a_transient_error():
    factory = FakeConnectionFactory(TimeoutError("timed out"))
    with pytest.raises(CertificateUnavailableError):
        default_fetch(URL, 0.1, connection_factory=factory)
    assert factory.connections[0]["closed"]


def test_default_fetch_stops_reading_past_the_size_cap():
    factory = FakeConnectionFactory(FakeResponse(200, b"x" * 5000))
    with pytest.raises(CertificateUnavailableError):
        default_fetch(URL, 1.0, connection_factory=factory, max_bytes=1000)


def test_default_fetch_refuses_declared_oversized_body():
    factory = FakeConnectionFactory(FakeResponse(200, b"", {"Content-Length": str(MAX_CERT_BYTES + 1)}))
    with pytest.raises(CertificateUnavailableError):
        default_fetch(URL, 1.0, connection_factory=factory)


def test_default_fetch_enforces_an_overall_deadline_on_slow_bodies():
    ticks = iter([0.0, 0.5, 5.0, 9.0])
    factory = FakeConnectionFactory(FakeResponse(200, b"x" * 20000))
    with pytest.raises(CertificateUnavailableError):
        default_fetch(URL, 1.0, connection_factory=factory, monotonic=lambda: next(ticks))


def test_default_fetch_never_connects_for_an_invalid_url():
    factory = FakeConnectionFactory(FakeResponse(200, b"x"))
    with pytest.raises(InvalidCertificateUrlError):
        default_fetch(f"https://evil.example/{URL_NAME}", 1.0, connection_factory=factory)
    assert factory.connections == []


def test_download_attempts_are_bounded_per_minute(signer):
    now = [0.0]
    fetch = RecordingFetch(CertificateUnavailableError("404"))
    store = CertificateStore(None, fetch=fetch, cache={}, max_downloads_per_minute=3, monotonic=lambda: now[0])
    for i in range(5):
        with pytest.raises(CertificateUnavailableError):
            store.public_key(URL.replace("0123", f"{i:04d}"))
    assert len(fetch.calls) == 3
    now[0] = 61.0
    fetch.body = signer.cert_pem
    store.public_key(URL)
    assert len(fetch.calls) == 4


def test_cert_dir_hits_do_not_count_against_the_download_bound(signer):
    fetch = RecordingFetch(AssertionError("must not download"))
    store = CertificateStore(signer.cert_dir, fetch=fetch, cache={}, max_downloads_per_minute=0)
    assert store.public_key(signer.cert_url).key_size == 2048
