"""botocore client settings shared by the composition root (``chalicelib.wiring``) and the benches that measure
its clients: explicit timeouts, standard retries, and parameter validation only where the requests are not built
by sesame itself.

``validate=False`` is for the hot path's own well-formed calls (the ingestion Lambdas' DynamoDB requests, built by
``runtime.stores`` from parsed events): botocore's client-side validation walks every member of every request against
the service model — about a third of the CPU of an ingested event — and DynamoDB validates the request again
server-side, answering a malformed one with ``ValidationException`` (a 400 the stores do not retry).
"""

from __future__ import annotations

from typing import Any

BASE: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"mode": "standard", "max_attempts": 4},
}


def client_config(*, total_attempts: int | None = None, validate: bool = True) -> Any:
    """A ``botocore.config.Config``. ``total_attempts=1``: a client that never re-sends a request by itself — for
    calls that are not idempotent, where a re-send after a lost answer would repeat the effect (the sender's SES
    client: a second email). (botocore's own ``max_attempts`` counts retries after the first attempt:
    ``max_attempts=1`` would still send twice.)"""
    from botocore.config import Config

    config = dict(BASE)
    if total_attempts is not None:
        config["retries"] = {"mode": "standard", "total_max_attempts": total_attempts}
    if not validate:
        config["parameter_validation"] = False
    return Config(**config)
