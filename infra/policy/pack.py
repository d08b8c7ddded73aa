"""The CrossGuard policies: each check of ``infra.policy.checks`` as a stack validation policy."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.checks import CHECKS, Check, Resource

#: HTTP tracking is a deliberate, configurable choice (sesame:trackingHttps false): warn, do not block.
ADVISORY = {"ses-tracking-https"}


def _validator(check: Check) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.props) for r in args.resources]
        for message in check(resources):
            report_violation(message, None)

    return validate


def policies() -> list[Policy]:
    return [
        StackValidationPolicy(
            name=name,
            description=description,
            validate=_validator(check),
            enforcement_level=EnforcementLevel.ADVISORY if name in ADVISORY else EnforcementLevel.MANDATORY,
        )
        for name, (description, check) in CHECKS.items()
    ]
