"""Reputation, quotas and guardrails (issue 13): ``guardrails`` (rolling rates and levels, pure), ``service`` (the
per-minute refresh, the ``/reputation`` answer, pausing and resuming), ``wiring`` (built from settings)."""
