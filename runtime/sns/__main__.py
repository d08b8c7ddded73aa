"""``python -m runtime.sns``: operator tools for SNS certificates.

* ``seed-cert <SigningCertURL> <dir>``: validate the URL, download the certificate (same rules as the verifier:
  HTTPS, timeout, no redirects, size cap), check it parses, and write it into ``dir`` (``SNS_CERT_DIR``) under the
  URL's file name. Run it where the internet is reachable, then ship the folder with the Lambda package or mount it.
* ``local-signer <key path> <cert dir>``: create (or reuse) a local signing key and write its certificate into
  ``cert dir``; prints the SigningCertURL to use (the local stack and demos sign with it).
"""

from __future__ import annotations

import argparse
import os
import sys

from runtime.sns.certs import default_fetch, parse_certificate
from runtime.sns.errors import SnsError
from runtime.sns.urls import validate_cert_url


def seed_cert(url: str, cert_dir: str, timeout: float = 5.0) -> str:
    """Download and store one certificate; returns the written path."""
    cert_url = validate_cert_url(url)
    pem = default_fetch(url, timeout)
    parse_certificate(pem, "download")
    os.makedirs(cert_dir, exist_ok=True)
    path = os.path.join(cert_dir, cert_url.file_name)
    with open(path, "wb") as handle:
        handle.write(pem)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.sns", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed-cert", help="download a SigningCertURL into SNS_CERT_DIR")
    seed.add_argument(
        "url", help="the SigningCertURL (https://sns.<region>.amazonaws.com/SimpleNotificationService-...)"
    )
    seed.add_argument("cert_dir", help="the folder SNS_CERT_DIR names; created if missing")
    seed.add_argument("--timeout", type=float, default=5.0, help="download timeout in seconds (default 5)")
    local = commands.add_parser("local-signer", help="create a local signing key and certificate")
    local.add_argument("key_path", help="PEM file of the signing key (created if missing, reused otherwise)")
    local.add_argument("cert_dir", help="folder the certificate is written to (use it as SNS_CERT_DIR)")
    local.add_argument("--region", default="us-east-1", help="region in the SigningCertURL (default us-east-1)")
    args = parser.parse_args(argv)
    try:
        if args.command == "seed-cert":
            print(seed_cert(args.url, args.cert_dir, args.timeout))
        else:
            from runtime.sns.signing import LocalSnsSigner

            signer = LocalSnsSigner.load_or_create(args.key_path, args.cert_dir, region=args.region)
            print(signer.cert_url)
    except SnsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
