"""runtime.sns.der reads a signing certificate's RSA key and validity window exactly as cryptography.x509 does, and
refuses anything that is not a DER certificate with a ValueError (never another exception)."""

from __future__ import annotations

import datetime as dt
import random
import re
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from runtime.sns.certs import parse_certificate
from runtime.sns.der import NotRsaKeyError, pem_to_der, read_certificate
from runtime.sns.signing import shared_key

UTC = dt.UTC


def _certificate(key, not_before: dt.datetime, not_after: dt.datetime, *, extensions: bool = False) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if extensions:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("sns.us-east-1.amazonaws.com")]), critical=False
        ).add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    return builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("not_before", "not_after", "extensions"),
    [
        (dt.datetime(2026, 5, 4, 9, 0, 1, tzinfo=UTC), dt.datetime(2027, 2, 28, 23, 59, 59, tzinfo=UTC), False),
        (dt.datetime(1950, 1, 1, tzinfo=UTC), dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), True),  # UTCTime
        (dt.datetime(2024, 2, 29, 12, 0, 0, tzinfo=UTC), dt.datetime(2050, 1, 1, tzinfo=UTC), True),  # Generalized
        (dt.datetime(2000, 2, 29, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), False),
    ],
)
def test_the_key_and_validity_are_what_cryptography_x509_reads(not_before, not_after, extensions):
    cert = _certificate(shared_key(2), not_before, not_after, extensions=extensions)
    fields = read_certificate(_der(cert))
    numbers = cert.public_key().public_numbers()
    assert (fields.modulus, fields.exponent) == (numbers.n, numbers.e)
    assert fields.not_before == cert.not_valid_before_utc.timestamp() == not_before.timestamp()
    assert fields.not_after == cert.not_valid_after_utc.timestamp() == not_after.timestamp()


def test_a_pem_certificate_becomes_the_same_rsa_public_key():
    key = rsa.generate_private_key(public_exponent=3, key_size=3072)
    cert = _certificate(key, dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
    pem = b"junk before\n" + cert.public_bytes(serialization.Encoding.PEM) + b"junk after\n"
    assert pem_to_der(pem) == _der(cert)
    parsed = parse_certificate(pem, "download")
    assert parsed.public_key.public_numbers() == key.public_key().public_numbers()
    assert parsed.public_key.key_size == 3072


@pytest.mark.parametrize(
    "key", [ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate()], ids=["ec", "ed25519"]
)
def test_a_key_other_than_rsa_is_named_as_such(key):
    cert = _certificate(key, dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(NotRsaKeyError):
        read_certificate(_der(cert))


def _valid_der() -> bytes:
    return _der(_certificate(shared_key(2), dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)))


def test_every_truncation_and_trailing_data_are_refused():
    der = _valid_der()
    for length in range(len(der)):
        with pytest.raises(ValueError):
            read_certificate(der[:length])
    with pytest.raises(ValueError, match="after the certificate"):
        read_certificate(der + b"\x00")


def test_corrupted_certificates_raise_value_error_or_parse_never_anything_else():
    der = _valid_der()
    rng = random.Random(12)
    outcomes = {"refused": 0, "read": 0}
    for _ in range(3000):
        mutated = bytearray(der)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            read_certificate(bytes(mutated))
        except ValueError:
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1  # e.g. a byte of the issuer's name or of the signature changed
    assert outcomes["refused"] and outcomes["read"]


@pytest.mark.parametrize(
    "time",
    [
        b"\x17\x0b2601010000Z",
        b"\x17\x0d260101000000+",
        b"\x17\x0d261301000000Z",
        b"\x17\x0d260230000000Z",
        b"\x18\x0f20260101240000Z",
        b"\x18\x0d260101000000Z",
        b"\x17\x0d2601010000-0Z",
        b"\x04\x0d260101000000Z",
    ],
)
def test_a_validity_time_not_written_as_rfc_5280_writes_it_is_refused(time):
    der = _valid_der()
    good = b"\x17\x0d260101000000Z"
    assert der.count(good) == 1
    changed = der.replace(good, time)
    delta = len(time) - len(good)
    if delta:  # keep the outer lengths right, so only the time is wrong (lengths here are two-byte long form)
        changed = _fix_lengths(changed, delta, der.index(good))
    with pytest.raises(ValueError):
        read_certificate(changed)


def test_a_generalized_time_before_2050_is_read_too():
    """(RFC 5280 asks for UTCTime there, but the time is unambiguous; this also checks the lengths helper above.)"""
    der = _valid_der()
    good = b"\x17\x0d260101000000Z"
    changed = _fix_lengths(der.replace(good, b"\x18\x0f20260101000000Z"), 2, der.index(good))
    assert read_certificate(changed).not_before == read_certificate(der).not_before


def _fix_lengths(der: bytes, delta: int, at: int) -> bytes:
    """Adjust the lengths of the SEQUENCEs enclosing offset ``at`` (Certificate, tbsCertificate, Validity)."""
    out = bytearray(der)
    pos, ends = 0, []
    while pos < at:
        tag, length_byte = out[pos], out[pos + 1]
        head = 2 + (length_byte & 0x7F if length_byte & 0x80 else 0)
        length = int.from_bytes(out[pos + 2 : pos + head], "big") if length_byte & 0x80 else length_byte
        if pos + head + length > at and tag & 0x20:
            ends.append((pos, head, length))
            pos += head
        else:
            pos += head + length
    for start, head, length in reversed(ends):
        new = length + delta
        if head == 2:
            out[start + 1] = new
        else:
            out[start + 2 : start + head] = new.to_bytes(head - 2, "big")
    return bytes(out)


def test_pem_without_a_certificate_block_or_with_bad_base64_is_refused():
    with pytest.raises(ValueError):
        pem_to_der(b"<html>error</html>")
    with pytest.raises(ValueError):
        pem_to_der(b"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n")


def test_real_world_certificates_read_as_cryptography_x509_reads_them():
    """Every root certificate of the Mozilla bundle (certifi): issued by many CAs over decades, with v1 and v3
    encodings, UTCTime and GeneralizedTime; the RSA ones give cryptography's key and validity, the others are named
    as not RSA."""
    certifi = pytest.importorskip("certifi")
    with open(certifi.where(), "rb") as bundle:
        blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", bundle.read(), re.S)
    kinds = {"rsa": 0, "other": 0}
    for pem in blocks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cryptography warns about a few old roots' serial numbers
            cert = x509.load_pem_x509_certificate(pem)
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            with pytest.raises(NotRsaKeyError):
                read_certificate(pem_to_der(pem))
            kinds["other"] += 1
            continue
        fields = read_certificate(pem_to_der(pem))
        assert (fields.modulus, fields.exponent) == (key.public_numbers().n, key.public_numbers().e)
        assert fields.not_before == cert.not_valid_before_utc.timestamp()
        assert fields.not_after == cert.not_valid_after_utc.timestamp()
        kinds["rsa"] += 1
    assert kinds["rsa"] > 50 and kinds["other"] > 10
