"""Pulumi entry: typed config in, the Lambda package ensured, the regional stack built, outputs exported."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.app_spec import app_package
from infra.config import load_config
from infra.program import build

config = load_config()  # validated before any resource registers (and before any package is built)
package = app_package(Path(__file__).resolve().parent)  # `chalice package`, only when the sources changed
for key, value in build(config, package).items():
    pulumi.export(key, value)
