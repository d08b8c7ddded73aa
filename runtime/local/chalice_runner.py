"""``python -m runtime.local.chalice_runner <chalice arguments>``: ``chalice`` with a masked access log.

``chalice local`` logs every request line (``"GET /suppressions/jane%40example.com HTTP/1.1" 200 -``) through
``http.server``'s ``log_message``, so full addresses and unsubscribe tokens in URLs would land in the local stack's
``chalice_local.log``. This runner installs :func:`redact` on chalice's request handler (its access lines and its
error lines) and then runs the ``chalice`` command line unchanged, in this process (``--no-autoreload``). The app's
own logs already carry masked addresses only (docs/api.md).
"""

from __future__ import annotations

import re
import sys
from typing import Any
from urllib.parse import unquote_plus

from runtime.emails import mask_email

# an address in a URL: plain, or percent-encoded (%40 for @, %2B for +, ...)
_ADDRESS = re.compile(
    r"(?:[A-Za-z0-9._+!#$&'*=^`{|}~-]|%[0-9A-Fa-f]{2})+(?:@|%40)(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}", re.IGNORECASE
)
# query parameters whose values are secrets or opaque cursors
_SECRET_PARAMETER = re.compile(r"(?P<name>[?&\s(']?(?:token|next_token|api_key))=[^&\s\"')]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every address masked (``j***@example.com``) and every token parameter value replaced."""
    text = _SECRET_PARAMETER.sub(lambda m: f"{m.group('name')}=[redacted]", text)
    return _ADDRESS.sub(lambda m: mask_email(unquote_plus(m.group(0))), text)


def install() -> None:
    """Make chalice local's request handler log through :func:`redact` (idempotent)."""
    from chalice.local import ChaliceRequestHandler

    if getattr(ChaliceRequestHandler, "_sesame_redacted", False):
        return
    original = ChaliceRequestHandler.log_message

    def log_message(self: Any, format: str, *args: Any) -> None:
        original(self, "%s", redact(format % args))

    ChaliceRequestHandler.log_message = log_message
    ChaliceRequestHandler._sesame_redacted = True


def main(argv: list[str] | None = None) -> int:
    install()
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", *(sys.argv[1:] if argv is None else argv)]
    result = chalice_main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
