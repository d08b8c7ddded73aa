"""CrossGuard entry: ``pulumi preview --policy-pack infra/policy`` (serves the policies; blocks)."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # the repository root: import infra.*

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policy.pack import policies

PolicyPack(
    name="sesame-compliance",
    description="Bulk-sender compliance for sesame stacks: DKIM, MAIL FROM + SPF, DMARC, event destinations, "
    "HTTPS tracking, complaint alarm, scoped topic policy, dead-letter queues.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
