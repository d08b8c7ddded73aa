from __future__ import annotations

import json

import pytest

from runtime import cli
from runtime.sender import cli as campaign_cli

LINE = {
    "FromEmailAddress": "a@example.com",
    "Destination": {"ToAddresses": ["b@example.org"]},
    "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
}
CANDIDATE = {
    "campaign_id": "cli-1",
    "template": {"subject": "Hi", "text": "Hello {{n}}"},
    "segments": [{"list_name": "l", "recipients": [{"to_address": "x@example.org", "n": "X"}]}],
}


def test_campaign_help_lists_every_action(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["campaign", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for action in ("submit", "list", "describe", "redate", "delete"):
        assert action in out


def test_validate_reports_malformed_lines_with_line_numbers(tmp_path, capsys):
    path = tmp_path / "sends.jsonl"
    path.write_text(json.dumps(LINE) + "\n" + json.dumps({**LINE, "Destination": {"ToAddresses": ["bad"]}}) + "\n")
    assert cli.main(["campaign", "submit", str(path), "--validate"]) == 1
    err = capsys.readouterr().err
    assert "line 2: Destination.ToAddresses: not a valid email address" in err


def test_validate_accepts_a_good_candidate(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CANDIDATE))
    assert cli.main(["campaign", "submit", str(path), "--validate"]) == 0
    assert json.loads(capsys.readouterr().out) == {"valid": True, "segments": 1, "recipients": 1}


def test_validate_names_bad_candidate_fields(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**CANDIDATE, "date": "tomorrow-ish"}))
    assert cli.main(["campaign", "submit", str(path), "--validate"]) == 1
    assert "date" in capsys.readouterr().err


def test_api_mode_without_url_explains_what_to_give(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SESAME_API_URL", raising=False)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CANDIDATE))
    assert cli.main(["campaign", "submit", str(path)]) == 1
    assert "--api-url" in capsys.readouterr().err


def test_direct_mode_uses_the_campaign_service(monkeypatch, capsys):
    calls = []

    class Service:
        def describe(self, campaign_id):
            calls.append(campaign_id)
            return {"campaign_id": campaign_id, "status": "scheduled"}

        def redate(self, campaign_id, date):
            raise ValueError("date: nope")

    monkeypatch.setattr(campaign_cli, "_service", lambda: Service())
    assert cli.main(["campaign", "describe", "c9", "--direct"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "scheduled"
    assert calls == ["c9"]
    assert cli.main(["campaign", "redate", "c9", "later", "--direct"]) == 1
    assert "date: nope" in capsys.readouterr().err


class FilesService:
    """A campaign service whose file campaign validates in three steps, then ends ``outcome``."""

    def __init__(self, outcome):
        self.steps = 0
        self.outcome = outcome

    def submit(self, data):
        return {
            "campaign_id": "big",
            "status": "validating",
            "complete": False,
            "status_url": "/campaigns/big",
            "launch": {"state": "pending"},
        }

    def validate_due(self, deadline=None, *, campaign_id=None):
        assert campaign_id == "big"
        self.steps += 1
        return []

    def describe(self, campaign_id):
        status = "validating" if self.steps < 3 else self.outcome
        return {"campaign_id": campaign_id, "status": status, "validation": {"rows_validated": self.steps * 10}}


def test_submit_of_recipient_files_prints_how_to_follow_the_validation(tmp_path, capsys, monkeypatch):
    service = FilesService("scheduled")
    monkeypatch.setattr(campaign_cli, "_service", lambda: service)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(CANDIDATE))
    assert cli.main(["campaign", "submit", str(path), "--direct"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "validating" and service.steps == 0
    assert "sesame campaign status big" in captured.err and "--wait" in captured.err


@pytest.mark.parametrize(("outcome", "code"), [("scheduled", 0), ("invalid", 3)])
def test_submit_wait_direct_validates_in_steps_until_the_outcome(tmp_path, capsys, monkeypatch, outcome, code):
    service = FilesService(outcome)
    monkeypatch.setattr(campaign_cli, "_service", lambda: service)
    monkeypatch.setattr(campaign_cli.time, "sleep", lambda seconds: None)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(CANDIDATE))
    assert cli.main(["campaign", "submit", str(path), "--direct", "--wait"]) == code
    captured = capsys.readouterr()
    assert service.steps == 3 and json.loads(captured.out)["status"] == outcome
    assert "validating big: 20 rows read, 0 bad" in captured.err


def test_api_mode_sends_the_file_with_the_bearer_key_and_reports_http_errors(tmp_path, capsys):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers["Authorization"], self.headers["Content-Type"], json.loads(body)))
            self._answer(201, {"campaign_id": "cli-1", "complete": True})

        def do_DELETE(self):  # noqa: N802
            self._answer(409, {"Code": "ConflictError", "Message": "campaign cli-1 is launched"})

        def _answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        path = tmp_path / "c.json"
        path.write_text(json.dumps(CANDIDATE))
        assert cli.main(["campaign", "submit", str(path), "--api-url", url, "--api-key", "k1"]) == 0
        assert seen == [("/campaigns", "Bearer k1", "application/json", CANDIDATE)]
        assert json.loads(capsys.readouterr().out)["campaign_id"] == "cli-1"
        assert cli.main(["campaign", "delete", "cli-1", "--api-url", url, "--api-key", "k1"]) == 1
        assert "HTTP 409: campaign cli-1 is launched" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
