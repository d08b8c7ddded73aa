"""What a Lambda's first invocation imports: the composition root builds each handler's objects without boto3 (or
s3transfer), and the send path without the campaign models (docs: README "Benchmarks", bench_coldstart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(probe: str, extra: dict[str, str] | None = None, timeout: int = 120) -> str:
    """Run ``probe`` in a fresh interpreter, the handlers on its path, none of this process's SESAME_/AWS_ settings
    (only ``extra``'s); its last line of output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESAME_", "AWS_"))}
    env.update(
        {"PYTHONPATH": os.pathsep.join([str(ROOT / "chalice_app"), str(ROOT)]), "AWS_DEFAULT_REGION": "us-east-1"}
    )
    env.update(extra or {})
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip().splitlines()[-1]


#: what building the sender needs: credentials (never used: nothing is sent) and the send queue's URL
_SENDER_ENV = {
    "AWS_ACCESS_KEY_ID": "cold",
    "AWS_SECRET_ACCESS_KEY": "cold",
    "SESAME_SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sesame-dev-send",
}

_PROBE = r"""
import json, sys
from chalicelib import sending, events_handlers
sending.consumer()
events_handlers._engine()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "s3transfer", "runtime"))))
"""


def test_building_the_sender_and_the_ingestion_engine_imports_neither_boto3_nor_the_campaign_models() -> None:
    output = _run(_PROBE, _SENDER_ENV)
    modules = set(json.loads(output))
    assert "runtime.sender.consumer" in modules and "runtime.ingest.engine" in modules  # the probe did build them
    assert not {m for m in modules if m.split(".")[0] in ("boto3", "s3transfer")}
    assert "runtime.sender.campaign" not in modules
    assert "runtime.sender.templates" not in modules


def test_the_send_path_parses_and_expands_a_job_without_importing_pydantic() -> None:
    probe = (
        "import json, sys\n"
        "from chalicelib import sending\n"
        "from runtime.sender.jobs import parse_job, units_of\n"
        "sending.consumer()\n"
        "line = {'FromEmailAddress': 'news@example.com', 'Destination': {'ToAddresses': ['a@example.org']},\n"
        "        'Content': {'Simple': {'Subject': {'Data': 'Hi'}, 'Body': {'Text': {'Data': 'x'}}}}}\n"
        "assert units_of(parse_job(json.dumps(line), 'sqs-1'))[0].recipient == 'a@example.org'\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic')))\n"
    )
    output = _run(probe, _SENDER_ENV)
    assert json.loads(output) == []


def test_importing_the_handlers_package_raises_the_young_gc_threshold_for_the_cold_start() -> None:
    probe = "import gc, chalicelib; print(gc.get_threshold()[0], chalicelib.GC_YOUNG_THRESHOLD)"
    output = _run(probe, timeout=60)
    threshold, wanted = (int(x) for x in output.split())
    assert threshold == wanted >= 10 * 700  # well above CPython's default young generation


def test_the_forwarding_handler_builds_its_settings_and_sink_without_importing_pydantic() -> None:
    probe = (
        "import json, sys\n"
        "from chalicelib import forwarding\n"
        "assert forwarding._sink() is not None\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic')))\n"
    )
    output = _run(
        probe,
        {
            "SESAME_FORWARD_URL": "https://hooks.example.com/sesame",
            "SESAME_FORWARD_SECRET": "forward-secret-0123456789",
        },
    )
    assert json.loads(output) == []


def test_verifying_parsing_and_applying_ses_events_imports_neither_pydantic_nor_the_in_memory_store() -> None:
    """The ingestion functions and the webhook verify the SNS envelope and parse the SES record without pydantic (its
    import and the models' validators were ~40-75 ms of their cold starts) or the ``pydantic_core`` package (only its
    compiled module, ``runtime.fastcore``), and build the engine without the in-memory store (tests, local stack)."""
    probe = (
        "import json, sys, tempfile\n"
        "from runtime.ingest.engine import IngestEngine\n"
        "from runtime.ingest.pipeline import decode, decode_batch\n"
        "from tests.support.ingest import ses_record\n"
        "from tests.support.sns import TOPIC_ARN, make_signer, make_verifier\n"
        "signer = make_signer(tempfile.mkdtemp())\n"
        "verifier = make_verifier(signer)\n"
        "bodies = [signer.notification_json(TOPIC_ARN, json.dumps(ses_record(t))) for t in ('Bounce', 'Delivery')]\n"
        "decoded = decode_batch(verifier, bodies)\n"
        "assert [d.event.event_type for d in decoded] == ['Bounce', 'Delivery'], decoded\n"
        "assert decode(verifier, bodies[0]).envelope.TopicArn == TOPIC_ARN\n"
        "assert decoded[0].event.detail['bounceType'] == 'Permanent'\n"
        "names = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'typing_extensions')]\n"
        "names += [m for m in sys.modules if m == 'runtime.ingest.memory']\n"
        "print(json.dumps(sorted(names)))\n"
    )
    assert json.loads(_run(probe)) == ["pydantic_core._pydantic_core"]


def test_the_compiled_core_loaded_alone_is_the_one_the_pydantic_core_package_uses_later() -> None:
    probe = (
        "import json, sys\n"
        "from runtime import fastcore\n"
        "alone = sorted(m for m in sys.modules if m.startswith('pydantic'))\n"
        "import pydantic_core\n"
        "from pydantic import BaseModel\n"
        "class M(BaseModel):\n"
        "    a: int\n"
        "same = [getattr(pydantic_core, n) is getattr(fastcore, n)\n"
        "        for n in ('from_json', 'ValidationError', 'SchemaValidator', 'SchemaSerializer')]\n"
        'same.append(M.model_validate_json(\'{"a": "2"}\').a == 2)\n'
        "print(json.dumps([alone, same]))\n"
    )
    assert json.loads(_run(probe)) == [["pydantic_core._pydantic_core"], [True, True, True, True, True]]


_GC_PROBE = r"""
import gc, json, os
import chalicelib
from chalicelib import forwarding
states = [gc.isenabled()]
event = {"Records": [{"messageId": "m-1", "receiptHandle": "r-1", "body": "{}", "attributes": {},
                      "messageAttributes": {}, "eventSource": "aws:sqs",
                      "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}]}
failing = os.environ.get("PROBE_FAIL") == "1"
if failing:
    os.environ["SESAME_EVENT_TTL_DAYS"] = "0"  # the handler's settings are invalid: its first invocation raises
try:
    forwarding.forward_events(event, None)
except Exception as exc:
    states.append(type(exc).__name__)
states += [gc.isenabled(), gc.get_freeze_count() > 0]
print(json.dumps(states))
"""


def _gc_probe(extra: dict[str, str]) -> list[object]:
    output = _run(_GC_PROBE, extra)
    result: list[object] = json.loads(output)
    return result


def test_in_a_lambda_container_the_collector_is_off_until_the_first_invocation_ends_then_the_cold_start_is_frozen() -> (
    None
):
    assert _gc_probe({"AWS_LAMBDA_FUNCTION_NAME": "forward_events"}) == [False, True, True]


def test_a_first_invocation_that_raises_still_switches_the_collector_back_on() -> None:
    states = _gc_probe({"AWS_LAMBDA_FUNCTION_NAME": "forward_events", "PROBE_FAIL": "1"})
    assert states == [False, "SettingsError", True, True]


def test_outside_lambda_importing_the_handlers_leaves_the_collector_on() -> None:
    assert _gc_probe({}) == [True, True, False]


def test_the_api_functions_first_request_ends_its_cold_start() -> None:
    probe = (
        "import gc, json\n"
        "import app\n"
        "before = gc.isenabled()\n"
        "event = {'resource': '/health', 'path': '/health', 'httpMethod': 'GET', 'headers': {}, "
        "'multiValueHeaders': {}, 'queryStringParameters': None, 'multiValueQueryStringParameters': None, "
        "'pathParameters': None, 'stageVariables': None, 'requestContext': {'resourcePath': '/health', "
        "'httpMethod': 'GET', 'path': '/api/health', 'stage': 'api', 'requestId': 'r', "
        "'identity': {'sourceIp': '192.0.2.1'}}, 'body': None, 'isBase64Encoded': False}\n"
        "status = app.app(event, None)['statusCode']\n"
        "print(json.dumps([before, status, gc.isenabled(), gc.get_freeze_count() > 0]))\n"
    )
    output = _run(probe, {"AWS_LAMBDA_FUNCTION_NAME": "api_handler"})
    assert json.loads(output) == [False, 200, True, True]


def test_every_event_function_of_the_app_ends_its_cold_start_after_its_first_invocation() -> None:
    probe = (
        "import importlib, json\n"
        "import app\n"
        "found = {}\n"
        "for source in app.app.event_sources:\n"
        "    module, name = source.handler_string.rsplit('.', 1)\n"
        "    handler = getattr(importlib.import_module(module), name)\n"
        "    found[source.handler_string] = bool(getattr(handler.func, 'ends_cold_start', False))\n"
        "print(json.dumps(found))\n"
    )
    output = _run(probe)
    found = json.loads(output)
    assert "chalicelib.sending.send_batch" in found and "chalicelib.forwarding.forward_events" in found
    assert [handler for handler, ends in found.items() if not ends] == []


def test_verifying_an_sns_message_reads_its_certificate_without_importing_cryptography_x509(tmp_path) -> None:
    from tests.support.sns import TOPIC_ARN, make_signer

    signer = make_signer(tmp_path / "certs")
    (tmp_path / "envelope.json").write_text(signer.notification_json(TOPIC_ARN, "hello"))
    probe = (
        "import json, os, sys\n"
        "from runtime.sns import CertificateStore, SnsVerifier\n"
        "store = CertificateStore(os.environ['SNS_CERT_DIR'], cache={})\n"
        f"SnsVerifier([{TOPIC_ARN!r}], store).verify(open({str(tmp_path / 'envelope.json')!r}).read())\n"
        "print(json.dumps(['verified', 'cryptography.x509' in sys.modules]))\n"
    )
    assert json.loads(_run(probe, {"SNS_CERT_DIR": signer.cert_dir})) == ["verified", False]
