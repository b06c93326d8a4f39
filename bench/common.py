"""Shared benchmark plumbing: the embedded S3 server and timing helpers."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from pii_pipeline.local_s3 import LocalS3Server, use_local_credentials
from resources.s3 import DocumentStore


@contextmanager
def s3_store(bucket: str) -> Iterator[DocumentStore]:
    """A fresh bucket on a fresh embedded S3 server (real HTTP on loopback)."""
    use_local_credentials()
    server = LocalS3Server().start()
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
    try:
        boto3.client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket=bucket)
        yield DocumentStore(bucket=bucket, endpoint_url=server.endpoint_url)
    finally:
        server.stop()


def median_time(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def upload_one_page_documents(store: DocumentStore, instance: Any, count: int) -> list[str]:
    """`count` one-page text PDFs under the input prefix, registered as partitions."""
    from pii_pipeline.corpus import single_page_pdf

    client = store.client()
    keys = []
    for i in range(count):
        body = single_page_pdf(
            [f"Invoice {i}", "Name: Maria Gonzalez", "Email: maria.gonzalez@example.com"]
        )
        key = f"doc-{i:04d}.pdf"
        client.put_object(Bucket=store.bucket, Key=f"{store.input_prefix}{key}", Body=body)
        keys.append(key)
    instance.add_dynamic_partitions("documents", keys)
    return keys
