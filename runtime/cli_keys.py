"""``sesame api-key``: create an API key and the sha256 digest to put in configuration."""

from __future__ import annotations

import argparse
import json

from runtime.auth import generate_api_key, hash_api_key


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "api-key",
        help="create an API key (or hash an existing one) for the tracking API",
        description="Prints a new API key and its sha256 digest. Give the key to API clients; put only the digest "
        "in configuration (`pulumi config set --secret sesame:apiKeyHashes ...` or SESAME_API_KEY_HASHES).",
    )
    parser.add_argument("--hash", metavar="KEY", help="print the digest of an existing key instead")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.hash:
        print(json.dumps({"sha256": hash_api_key(args.hash)}))
    else:
        key, digest = generate_api_key()
        print(json.dumps({"api_key": key, "sha256": digest}))
    return 0
