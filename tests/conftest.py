"""Shared fixtures: a real moto S3 server over HTTP on loopback and real Dagster instances."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import boto3
import dagster as dg
import pytest

from pii_pipeline.local_s3 import LOCAL_CREDENTIALS, LocalS3Server
from resources.s3 import DocumentStore

_bucket_numbers = itertools.count()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = LocalS3Server().start()
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
    yield server.endpoint_url
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str):
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def store(s3_endpoint: str, s3_client) -> DocumentStore:
    """A DocumentStore on a fresh bucket of its own."""
    bucket = f"test-bucket-{os.getpid()}-{next(_bucket_numbers)}"
    s3_client.create_bucket(Bucket=bucket)
    return DocumentStore(bucket=bucket, endpoint_url=s3_endpoint)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst
