"""``runtime.client.SesameClient`` and ``sesame send|message|stats`` over real HTTP (127.0.0.1) against the app on
moto."""

from __future__ import annotations

import json

import pytest

from runtime import cli
from runtime.client import SesameApiError, SesameClient
from tests.support.chalice_http import serve
from tests.support.sender_app import API_KEY, AUTH, sender_stack


def cli_json(out: str) -> dict:
    """The CLI's indented JSON document from stdout (the app served in-process may log one-line JSON there too)."""
    lines = out.splitlines()
    start = lines.index("{")
    end = len(lines) - 1 - lines[::-1].index("}")
    return json.loads("\n".join(lines[start : end + 1]))


@pytest.fixture
def served(monkeypatch):
    with sender_stack(monkeypatch) as stack, serve(stack.client) as url:
        yield stack, url


def test_client_sends_replays_with_the_key_and_reads_the_message(served):
    stack, url = served
    client = SesameClient(url, API_KEY)
    first = client.send(
        from_="receipts@example.com", to=["ada@example.org"], subject="Hi", text="x", idempotency_key="k1"
    )
    again = client.send(
        from_="receipts@example.com", to=["ada@example.org"], subject="Hi", text="x", idempotency_key="k1"
    )
    assert first.status == 200 and not first.replayed
    assert again.replayed and again.body == first.body
    (result,) = first.results
    assert client.message(result["message_id"])["message"]["status"] == "sent"
    assert len(stack.fakes["us-east-1"].sent) == 1


def test_client_raises_the_api_error_with_the_named_fields(served):
    _, url = served
    client = SesameClient(url, API_KEY)
    with pytest.raises(SesameApiError) as error:
        client.send(to=["not-an-address"], subject="Hi", text="x")
    assert error.value.status == 400
    assert any(p.startswith("to.0:") for p in error.value.errors)
    with pytest.raises(SesameApiError) as error:
        SesameClient(url, "ssm_wrong").message("nope")
    assert error.value.status == 403


def test_client_refuses_plain_http_outside_localhost():
    with pytest.raises(ValueError, match="https"):
        SesameClient("http://api.example.com", API_KEY)


def test_cli_send_exits_2_on_a_207_and_prints_the_results(served, capsys):
    stack, url = served
    stack.client.http.put("/suppressions/bob@example.org", headers=AUTH, body=json.dumps({"scope": "all"}))
    argv = ["send", "--api-url", url, "--api-key", API_KEY, "--to", "ada@example.org", "--to", "bob@example.org"]
    code = cli.main([*argv, "--subject", "Receipt", "--text", "Thanks", "--tag", "kind=receipt"])
    out = cli_json(capsys.readouterr().out)
    assert code == 2
    assert out["http_status"] == 207
    assert [r["status"] for r in out["results"]] == ["sent", "suppressed"]
    message_id = out["results"][0]["message_id"]
    assert cli.main(["message", message_id, "--api-url", url, "--api-key", API_KEY]) == 0
    assert cli_json(capsys.readouterr().out)["message"]["message_id"] == message_id


def test_cli_send_reports_each_invalid_field_and_exits_1(served, capsys):
    _, url = served
    code = cli.main(["send", "--api-url", url, "--api-key", API_KEY, "--to", "ada@example.org", "--tag", "k=a b"])
    assert code == 1
    assert "error: tags: tag 'k': its value must be" in capsys.readouterr().err
    code = cli.main(["send", "--api-url", url, "--api-key", API_KEY, "--to", "ada@example.org", "--text", "x"])
    assert code == 1
    assert "error: subject: required" in capsys.readouterr().err
    assert cli.main(["send", "--api-url", url, "--api-key", API_KEY, "--tag", "novalue"]) == 1
    assert "NAME=VALUE" in capsys.readouterr().err


def test_cli_stats_prints_the_campaign_counters(served, capsys):
    stack, url = served
    body = {"from": "news@example.com", "to": ["ada@example.org"], "subject": "Hi", "text": "x"}
    stack.client.http.put("/suppressions/ada@example.org", headers=AUTH, body=json.dumps({"scope": "all"}))
    SesameClient(url, API_KEY).send_request({**body, "campaign_id": "promo", "configuration_set": "marketing"})
    assert cli.main(["stats", "promo", "--api-url", url, "--api-key", API_KEY]) == 0
    stats = cli_json(capsys.readouterr().out)
    assert stats["campaign_id"] == "promo"
    assert stats["counters"]["suppressed"] == 1
