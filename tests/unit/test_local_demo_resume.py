from __future__ import annotations

from typing import Any

from runtime.local.demo import ApiClient, _resume_guardrail_pauses


class FakeApi(ApiClient):
    def __init__(self, paused: list[dict[str, Any]], status: int = 200) -> None:
        super().__init__("http://local", "key")
        self.paused, self.status = paused, status
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        if method == "GET":
            return 200, {"paused": self.paused}
        return self.status, {"status": "running"} if self.status == 200 else {"error": "boom"}


def test_the_demo_resumes_each_paused_configuration_set_through_the_api_and_says_so():
    api = FakeApi(
        [
            {"kind": "configuration_set", "name": "sesame-dev-marketing", "region": "us-east-1", "by": "guardrail"},
            {"kind": "campaign", "name": "spring", "by": "guardrail"},
        ]
    )
    lines = _resume_guardrail_pauses(api)
    patches = [c for c in api.calls if c[0] == "PATCH"]
    assert [(p[1], p[2]["status"]) for p in patches] == [
        ("/reputation/configuration-sets/sesame-dev-marketing?region=us-east-1", "running")
    ]
    assert lines == [
        "guardrails: resumed configuration set sesame-dev-marketing as an operator would "
        "(PATCH /reputation/configuration-sets/sesame-dev-marketing?region=us-east-1)"
    ]


def test_a_failed_resume_is_printed_and_the_set_reported_as_still_paused():
    api = FakeApi([{"kind": "configuration_set", "name": "sesame-dev-marketing", "region": "us-east-1"}], status=503)
    (line,) = _resume_guardrail_pauses(api)
    assert "resuming sesame-dev-marketing failed (503" in line and "stays paused" in line
