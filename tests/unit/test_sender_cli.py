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
