"""chalice local's access log (the local stack's chalice_local.log) masks addresses and tokens in URLs, as the
app's own logs do (docs/api.md)."""

from __future__ import annotations

import io
import sys

import pytest

from runtime.local.chalice_runner import install, redact

TOKEN = "eyJ2IjoxLCJyIjoiYWJjIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"


@pytest.mark.parametrize(
    ("line", "leaks"),
    [
        ('"PUT /suppressions/jane.doe%40example.com HTTP/1.1" 200 -', ["jane.doe", "jane.doe%40"]),
        ('"GET /suppressions/jane.doe@example.com HTTP/1.1" 404 -', ["jane.doe@"]),
        ('"GET /recipients/j%2Bx%40example.com/messages?limit=5 HTTP/1.1" 200 -', ["j%2Bx", "j+x@"]),
        (f'"GET /unsubscribe?token={TOKEN} HTTP/1.1" 200 -', [TOKEN, TOKEN[:20]]),
        (f'"POST /unsubscribe?campaign=c&token={TOKEN}&x=1 HTTP/1.1" 200 -', [TOKEN[:20]]),
        ('"GET /campaigns/c1/messages?next_token=abc.def HTTP/1.1" 200 -', ["abc.def"]),
        ("code 400, message Bad request syntax ('GET /suppressions/jane@example.com')", ["jane@"]),
    ],
)
def test_addresses_and_tokens_in_urls_are_masked(line, leaks):
    masked = redact(line)
    for leak in leaks:
        assert leak not in masked, masked
    assert "example.com" in masked or "token=" in masked  # still readable: domain and parameter names kept


def test_lines_without_personal_data_are_unchanged():
    line = '"GET /campaigns/spring-2026/stats?list_name=news HTTP/1.1" 200 -'
    assert redact(line) == line


def test_chalice_locals_request_handler_writes_the_masked_line(monkeypatch):
    from chalice.local import ChaliceRequestHandler

    install()
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    class Handler:  # just enough of a request handler for http.server's logging methods
        _control_char_table = ChaliceRequestHandler._control_char_table
        log_message = ChaliceRequestHandler.log_message

        def address_string(self) -> str:
            return "127.0.0.1"

        def log_date_time_string(self) -> str:
            return "01/Jan/2026 00:00:00"

    ChaliceRequestHandler.log_message(
        Handler(), '"%s" %s %s', "GET /suppressions/jane%40example.com HTTP/1.1", "200", "-"
    )
    ChaliceRequestHandler.log_error(Handler(), "code %d, message %s", 400, f"bad /unsubscribe?token={TOKEN}")
    written = stderr.getvalue()
    assert "jane" not in written and TOKEN not in written
    assert "j***@example.com" in written and "token=[redacted]" in written
