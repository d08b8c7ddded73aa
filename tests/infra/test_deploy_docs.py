"""The deployment docs show the commands that deploy: every stack config key they name exists, the README's
"Deploying" section is `pulumi up` per stack, and CI runs the rehearsal."""

from __future__ import annotations

import re

from infra.config import REMOVED_KEYS, config_keys
from tests.support.infra_stacks import ROOT

DOCS = ["README.md", "docs/deploy.md", "docs/configuration.md", "Pulumi.prod-us-east-1.yaml.example"]


def test_every_config_key_the_docs_name_exists() -> None:
    known = set(config_keys()) | {f"sesame:{key}" for key in REMOVED_KEYS}
    known.add("sesame:trackingDomian")  # configuration.md's example of a misspelt key
    for doc in DOCS:
        named = set(re.findall(r"sesame:[A-Za-z]+", (ROOT / doc).read_text()))
        assert named - known == set(), doc


def test_the_readme_deploys_each_stack_with_pulumi_up_alone() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploying to AWS") : readme.index("## Configuration")]
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```bash\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.strip()
    ]
    ups = [c for c in commands if c.startswith("pulumi up")]
    assert [u.split("--stack ")[1].split()[0] for u in ups] == ["prod-us-east-1", "prod-eu-west-1"]
    assert not [c for c in commands if "chalice" in c or "chalice_stage" in c]


def test_ci_runs_the_tests_and_the_rehearsal() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make rehearse" in ci
    assert "\nrehearse:" in (ROOT / "Makefile").read_text()
