"""Pulumi entry: typed config in, the regional stack built, outputs exported. Nothing else lives here."""

from __future__ import annotations

import pulumi

from infra.config import load_config
from infra.program import build

config = load_config()  # validated before any resource registers
for key, value in build(config).items():
    pulumi.export(key, value)
