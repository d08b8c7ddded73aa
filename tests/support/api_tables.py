"""Test helpers of the api area: moto-backed DynamoDB tables and a low-level client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from runtime.stores.tables import create_tables

ENV = "test"
REGION = "us-east-1"


@contextmanager
def moto_tables() -> Iterator[Any]:
    """Yield a low-level DynamoDB client with every sesame table created (environment ``test``)."""
    with mock_aws():
        client = boto3.client(
            "dynamodb", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        create_tables(client, ENV)
        yield client


def table_name(logical: str) -> str:
    return f"sesame-{ENV}-{logical}"
