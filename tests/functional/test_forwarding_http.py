"""The forwarding POST over real HTTP, against a server on 127.0.0.1: redirects are never followed (a 302 would
carry the signed request to any host, and the target's 200 would count as delivered), a 3xx is a failure, and only
https is accepted outside loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from runtime.forwarding.delivery import Forwarder, urllib_post

SECRET = "forward-secret-0123456789"


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).hits.append((self.path, dict(self.headers)))
        if self.path.startswith("/redirect/"):
            status = int(self.path.rsplit("/", 1)[1])
            self.send_response(status)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/stolen")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        return


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_counts_as_a_failure(server, status):
    forwarder = Forwarder(f"{server}/redirect/{status}", SECRET, sleep=lambda _: None, timeout=2.0)
    result = forwarder.deliver([{"event_type": "Bounce", "message_id": "m1"}])
    assert not result.ok and result.status == status and result.error == f"HTTP {status}"
    assert result.attempts == 1  # a redirect is not retried: the endpoint is misconfigured
    assert [path for path, _ in _Handler.hits] == [f"/redirect/{status}"]  # the signed body went nowhere else


def test_a_plain_200_from_loopback_http_is_delivered(server):
    assert urllib_post(f"{server}/hook", b"{}", {"Content-Type": "application/json"}, 2.0) == 200
    assert [path for path, _ in _Handler.hits] == ["/hook"]


@pytest.mark.parametrize(
    "url",
    ["http://api.example.com/hook", "http://10.0.0.8/hook", "ftp://api.example.com/hook", "file:///etc/passwd"],
)
def test_only_https_is_accepted_outside_loopback(url):
    with pytest.raises(ValueError, match="https"):
        Forwarder(url, SECRET)
    with pytest.raises(ValueError, match="https"):
        urllib_post(url, b"{}", {}, 1.0)


@pytest.mark.parametrize("url", ["https://api.example.com/hook", "http://localhost:8080/h", "http://[::1]:9/h"])
def test_https_and_loopback_http_are_accepted(url):
    assert Forwarder(url, SECRET).url == url
