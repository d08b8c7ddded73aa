"""Structured JSON logging and CloudWatch Embedded Metric Format (EMF) metrics.

Kept deliberately small (no powertools import) so the Lambda cold start stays cheap: one JSON line per log
record, one EMF document per metric flush. Never pass tokens, signatures, secrets or full addresses here; use
``runtime.emails.mask_email`` for addresses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra={...}`` keys become top-level fields."""

    def __init__(self, static: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._static = dict(static or {})

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self._static,
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure(level: str = "INFO", **static: Any) -> None:
    """Install the JSON formatter on the root logger (idempotent). Called by the composition root."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(static))
            root.setLevel(level)
            return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(static))
    root.handlers = [handler]
    root.setLevel(level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


class Metrics:
    """Collects EMF metrics and writes them as one JSON document per flush (CloudWatch extracts them from logs).

    Each ``add`` with distinct dimensions is flushed as its own EMF document, because EMF applies one dimension
    set to every metric in a document.
    """

    def __init__(
        self, namespace: str = "Sesame", stream: Any = None, static_dimensions: Mapping[str, str] | None = None
    ):
        self.namespace = namespace
        self._stream = stream
        self._static = dict(static_dimensions or {})
        self._pending: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
        self.emitted: list[dict[str, Any]] = []  # every flushed document, for tests and the local stack

    def add(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        key = tuple(sorted({**self._static, **dimensions}.items()))
        bucket = self._pending.setdefault(key, {})
        bucket[f"{name}|{unit}"] = bucket.get(f"{name}|{unit}", 0.0) + value

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for dims, values in pending.items():
            doc: dict[str, Any] = {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": [[k for k, _ in dims]],
                            "Metrics": [{"Name": key.split("|")[0], "Unit": key.split("|")[1]} for key in values],
                        }
                    ],
                },
                **dict(dims),
                **{key.split("|")[0]: value for key, value in values.items()},
            }
            self.emitted.append(doc)
            if len(self.emitted) > 1000:
                del self.emitted[:500]
            stream = self._stream or sys.stdout
            stream.write(json.dumps(doc, separators=(",", ":")) + "\n")
