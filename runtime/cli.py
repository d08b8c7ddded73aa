"""``sesame`` command line. Each area contributes a sub-command module exposing ``register(subparsers)``.

Sub-command modules are imported only when present, so the CLI works in every build of the package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command modules, each with ``register(subparsers: argparse._SubParsersAction) -> None``
SUBCOMMAND_MODULES = (
    "runtime.cli_keys",
    "runtime.sender.cli",
    "runtime.client_cli",
    "runtime.reputation.cli",
    "runtime.dlq",
    "runtime.local.simulator",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sesame",
        description="sesame: email-sending infrastructure on Amazon SES (campaigns, events, suppressions).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
