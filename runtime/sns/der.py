"""What SNS signature checking needs from a signing certificate, read from its DER: the RSA public key and the
validity window.

``cryptography.x509`` parses a certificate completely, but importing it costs ~20 ms of CPU on every cold start of
the three functions that verify SNS messages (its names, extensions, OIDs, general names and verification
modules, and their regular expressions; ``bench/bench_coldstart.py``), for a certificate read once per container.
This module walks the DER (X.509, RFC 5280 section 4.1) to ``tbsCertificate.validity`` and
``tbsCertificate.subjectPublicKeyInfo``, and the key is built by ``cryptography``'s own RSA primitive
(``RSAPublicNumbers.public_key``), which checks it. Nothing here decides trust: a certificate is trusted for
where it came from (``runtime.sns.urls``: the SNS host over verified HTTPS, or ``SNS_CERT_DIR``), as before; the
certificate's own signature is not checked by either parser.

Strict DER only: definite lengths, low tag numbers, an outer ``SEQUENCE`` spanning the whole encoding, positive
integers, times as RFC 5280 writes them (``UTCTime`` ``YYMMDDHHMMSSZ``, years 1950-2049, and ``GeneralizedTime``
``YYYYMMDDHHMMSSZ``). Anything else is a :class:`ValueError`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
from typing import NamedTuple

_SEQUENCE = 0x30
_INTEGER = 0x02
_BIT_STRING = 0x03
_OID = 0x06
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_VERSION = 0xA0  # [0] EXPLICIT Version
#: rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 appendix A.1), as a DER OBJECT IDENTIFIER's content
RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


class NotRsaKeyError(ValueError):
    """The certificate is well formed but its subject public key is not an rsaEncryption key."""


class CertificateFields(NamedTuple):
    modulus: int
    exponent: int
    not_before: float  # epoch seconds
    not_after: float


def pem_to_der(pem: bytes) -> bytes:
    """The DER of the first ``CERTIFICATE`` block of a PEM text."""
    start = pem.find(_BEGIN)
    end = pem.find(_END, start + len(_BEGIN))
    if start < 0 or end < 0:
        raise ValueError("no PEM CERTIFICATE block")
    body = b"".join(pem[start + len(_BEGIN) : end].split())
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError("the PEM CERTIFICATE block is not base64") from exc


def _element(der: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``, which must end by ``end``."""
    if pos + 2 > end:
        raise ValueError("truncated DER element")
    tag, length = der[pos], der[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER tag in the high-tag-number form")
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("DER length not in the definite form")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise ValueError("DER element longer than its container")
    return tag, pos, pos + length


def _expect(der: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    found, start, stop = _element(der, pos, end)
    if found != tag:
        raise ValueError(f"expected DER tag {tag:#04x}, found {found:#04x}")
    return start, stop


def _positive_integer(der: bytes, start: int, stop: int) -> int:
    if start == stop or der[start] & 0x80:
        raise ValueError("RSA key integer is empty or negative")
    return int.from_bytes(der[start:stop], "big")


def _time(der: bytes, pos: int, end: int) -> tuple[float, int]:
    """(epoch seconds, position after) of the ``Time`` at ``pos``."""
    tag, start, stop = _element(der, pos, end)
    text = der[start:stop]
    if tag == _UTC_TIME and len(text) == 13:
        digits, year_digits = text[:12], 2
    elif tag == _GENERALIZED_TIME and len(text) == 15:
        digits, year_digits = text[:14], 4
    else:
        raise ValueError("certificate validity time is neither UTCTime nor GeneralizedTime as RFC 5280 writes them")
    if not (digits.isdigit() and text.endswith(b"Z")):
        raise ValueError("certificate validity time is not YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ")
    year = int(digits[:year_digits])
    if year_digits == 2:
        year += 1900 if year >= 50 else 2000
    rest = digits[year_digits:]
    month, day, hour, minute, second = (int(rest[i : i + 2]) for i in range(0, 10, 2))
    valid_day = 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
    if not valid_day or hour > 23 or minute > 59 or second > 59:
        raise ValueError("certificate validity time is not a date")
    return float(calendar.timegm((year, month, day, hour, minute, second))), stop


def read_certificate(der: bytes) -> CertificateFields:
    """The subject's RSA key numbers and the validity window of a DER X.509 certificate.

    Raises :class:`NotRsaKeyError` for a well-formed certificate whose key is not rsaEncryption, ValueError for
    anything that is not a DER certificate."""
    start, stop = _expect(der, 0, len(der), _SEQUENCE)  # Certificate
    if stop != len(der):
        raise ValueError("data after the certificate")
    pos, tbs_end = _expect(der, start, stop, _SEQUENCE)  # tbsCertificate
    tag, _, after = _element(der, pos, tbs_end)
    if tag == _VERSION:
        tag, _, after = _element(der, after, tbs_end)
    if tag != _INTEGER:  # serialNumber
        raise ValueError("certificate has no serial number")
    _, pos = _expect(der, after, tbs_end, _SEQUENCE)  # signature AlgorithmIdentifier
    _, pos = _expect(der, pos, tbs_end, _SEQUENCE)  # issuer Name
    validity, pos = _expect(der, pos, tbs_end, _SEQUENCE)
    not_before, at = _time(der, validity, pos)
    not_after, at = _time(der, at, pos)
    if at != pos:
        raise ValueError("certificate validity holds more than two times")
    _, pos = _expect(der, pos, tbs_end, _SEQUENCE)  # subject Name
    spki, spki_end = _expect(der, pos, tbs_end, _SEQUENCE)  # subjectPublicKeyInfo
    algorithm, key_at = _expect(der, spki, spki_end, _SEQUENCE)
    oid, oid_end = _expect(der, algorithm, key_at, _OID)
    if der[oid:oid_end] != RSA_ENCRYPTION:
        raise NotRsaKeyError("the certificate's public key is not an RSA (rsaEncryption) key")
    bits, bits_end = _expect(der, key_at, spki_end, _BIT_STRING)
    if bits == bits_end or der[bits] != 0:
        raise ValueError("the RSA key's BIT STRING has unused bits")
    key, key_end = _expect(der, bits + 1, bits_end, _SEQUENCE)  # RSAPublicKey
    if key_end != bits_end:
        raise ValueError("data after the RSA key")
    modulus_at, modulus_end = _expect(der, key, key_end, _INTEGER)
    exponent_at, exponent_end = _expect(der, modulus_end, key_end, _INTEGER)
    if exponent_end != key_end:
        raise ValueError("the RSA key holds more than a modulus and an exponent")
    return CertificateFields(
        modulus=_positive_integer(der, modulus_at, modulus_end),
        exponent=_positive_integer(der, exponent_at, exponent_end),
        not_before=not_before,
        not_after=not_after,
    )
