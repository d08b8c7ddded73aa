from __future__ import annotations

import json
import os
import stat

import pytest

import runtime.sns.__main__ as sns_cli
from runtime.sns import InvalidCertificateUrlError
from runtime.sns.signing import LocalSnsSigner, shared_key
from tests.support.sns import TOPIC_ARN, make_signer, make_verifier


def test_persisted_key_gives_the_same_certificate_url_in_every_process(tmp_path):
    key_path, cert_dir = str(tmp_path / "state" / "key.pem"), str(tmp_path / "certs")
    first = LocalSnsSigner.load_or_create(key_path, cert_dir)
    second = LocalSnsSigner.load_or_create(key_path, cert_dir)
    assert first.cert_url == second.cert_url
    assert os.listdir(cert_dir) == [first.cert_file_name]
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    # a message signed by one instance verifies with the certificate the other one left in the folder
    assert make_verifier(second).verify(first.notification(TOPIC_ARN, "m")).Message == "m"


def test_key_file_is_kept_out_of_the_cert_dir(tmp_path):
    signer = LocalSnsSigner.load_or_create(str(tmp_path / "key.pem"), str(tmp_path / "certs"))
    assert all(name.startswith("SimpleNotificationService-") for name in os.listdir(signer.cert_dir))


def test_signers_with_different_keys_share_a_cert_dir_under_different_names(tmp_path):
    one, two = make_signer(tmp_path), make_signer(tmp_path, slot=1)
    assert one.cert_file_name != two.cert_file_name
    assert sorted(os.listdir(tmp_path)) == sorted([one.cert_file_name, two.cert_file_name])
    verifier = make_verifier(one)
    assert verifier.verify(two.notification(TOPIC_ARN, "by two")).Message == "by two"


def test_signer_without_cert_dir_creates_a_private_one():
    signer = LocalSnsSigner(key=shared_key())
    assert os.path.isfile(os.path.join(signer.cert_dir, signer.cert_file_name))


def test_default_key_is_generated_once_per_process(tmp_path):
    assert make_signer(tmp_path / "a").cert_file_name == make_signer(tmp_path / "b").cert_file_name


def test_notification_json_is_the_wire_body(tmp_path):
    signer = make_signer(tmp_path)
    body = signer.notification_json(TOPIC_ARN, "m", subject="s", message_id="mid")
    assert json.loads(body)["MessageId"] == "mid"
    assert make_verifier(signer).verify(body).Subject == "s"


def test_cli_seed_cert_writes_the_downloaded_certificate_under_the_url_file_name(tmp_path, monkeypatch, capsys):
    signer = make_signer(tmp_path / "src")
    calls = []
    monkeypatch.setattr(sns_cli, "default_fetch", lambda url, timeout: calls.append(url) or signer.cert_pem)
    target = tmp_path / "seeded"
    assert sns_cli.main(["seed-cert", signer.cert_url, str(target)]) == 0
    assert (target / signer.cert_file_name).read_bytes() == signer.cert_pem
    assert calls == [signer.cert_url]
    assert capsys.readouterr().out.strip() == str(target / signer.cert_file_name)


def test_cli_seed_cert_refuses_a_non_sns_url_without_downloading(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sns_cli, "default_fetch", lambda url, timeout: pytest.fail("downloaded"))
    assert sns_cli.main(["seed-cert", "https://s3.amazonaws.com/b/SimpleNotificationService-00aa00aa.pem", "d"]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(InvalidCertificateUrlError):
        sns_cli.seed_cert("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-00aa00aa.pem", str(tmp_path))


def test_cli_local_signer_prints_a_stable_certificate_url(tmp_path, capsys):
    args = ["local-signer", str(tmp_path / "key.pem"), str(tmp_path / "certs"), "--region", "eu-west-1"]
    assert sns_cli.main(args) == 0
    assert sns_cli.main(args) == 0
    first, second = capsys.readouterr().out.split()
    assert first == second
    assert first.startswith("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-")
