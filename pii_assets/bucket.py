"""Where things live in the bucket, and the S3 calls every stage shares (no Dagster here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pii_assets import partition_keys


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class BucketLayout:
    """The prefixes of one pipeline deployment. Every derived path includes the partition key."""

    bucket: str
    input_prefix: str = "documents/"
    output_prefix: str = "labeled-datasets/"
    processed_prefix: str = "processed/"
    results_prefix: str = "extracted/"

    def partition_key(self, object_key: str) -> str:
        return partition_keys.encode(object_key, self.input_prefix)

    def result_key(self, partition_key: str) -> str:
        return f"{self.results_prefix}{partition_key}.json"

    def marker_key(self, partition_key: str) -> str:
        return f"{self.processed_prefix}{partition_key}.json"

    @property
    def dataset_prefix(self) -> str:
        return f"{self.output_prefix}pii_labeled_dataset/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def strip_etag(raw: str) -> str:
    return raw.strip('"')


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
    """Every object under prefix, in key order, one paginated LIST per 1,000 keys.

    Keys ending in "/" are folder placeholders made by consoles, not documents.
    """
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            key = item["Key"]
            if key.endswith("/"):
                continue
            yield ObjectInfo(key=key, etag=strip_etag(item["ETag"]), size=int(item["Size"]))


def resolve_object_key(client: Any, layout: BucketLayout, partition_key: str) -> str | None:
    """The object key a partition stands for (one LIST only for long, digest-form keys)."""
    return partition_keys.resolve(
        partition_key,
        layout.input_prefix,
        lambda prefix: (info.key for info in list_objects(client, layout.bucket, prefix)),
    )


def get_json(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON object at key, or None if there is none."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    with body:
        return json.loads(body.read())


def put_json(client: Any, bucket: str, key: str, data: dict[str, Any]) -> None:
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"),
        ContentType="application/json",
    )
