"""Where things live in the bucket, and the S3 calls every stage shares (no Dagster here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pii_assets import partition_keys
from pii_assets.models import ErrorClass, Status

# Storage classes whose objects must be restored before a GET, as a listing shows them (S3 User
# Guide, "Working with archived objects"). GLACIER_IR (Instant Retrieval) is read like STANDARD.
# Intelligent-Tiering's archive tiers do not show in a listing (the class stays
# INTELLIGENT_TIERING): a GET of such an object answers InvalidObjectState instead.
ARCHIVED_STORAGE_CLASSES: frozenset[str] = frozenset({"GLACIER", "DEEP_ARCHIVE"})

# Error codes S3 (and botocore's standard retry mode) use for "slow down": the S3 API Reference,
# "Error responses" (SlowDown, 503), and botocore/retries/standard.py's throttling codes.
_THROTTLING_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}
)
_ACCESS_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "403"})
_MISSING_CODES = frozenset({"NoSuchKey", "404"})


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    storage_class: str = "STANDARD"  # as the listing gives it (ListObjectsV2 `StorageClass`)

    @property
    def archived(self) -> bool:
        """A GET would answer InvalidObjectState until the object is restored."""
        return self.storage_class in ARCHIVED_STORAGE_CLASSES


# Server-side encryption settings of the objects the pipeline writes (S3 User Guide, "Protecting
# data with server-side encryption"): None follows the bucket's default encryption.
SSE_ALGORITHMS: tuple[str, ...] = ("AES256", "aws:kms")


@dataclass(frozen=True, slots=True)
class OutputEncryption:
    """How every object the pipeline writes is encrypted at rest.

    `algorithm` None leaves it to the bucket's default encryption; "AES256" is SSE-S3;
    "aws:kms" is SSE-KMS with `kms_key_id` (a key id, ARN or alias; None: the AWS-managed key).
    """

    algorithm: str | None = None
    kms_key_id: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm is not None and self.algorithm not in SSE_ALGORITHMS:
            raise ValueError(f"server-side encryption must be one of {', '.join(SSE_ALGORITHMS)}")
        if self.kms_key_id and self.algorithm != "aws:kms":
            raise ValueError("a KMS key id needs server-side encryption aws:kms")

    def put_args(self) -> dict[str, str]:
        """Extra arguments for boto3's `put_object` / `create_multipart_upload` / `copy_object`."""
        if self.algorithm is None:
            return {}
        args = {"ServerSideEncryption": self.algorithm}
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def object_store_options(self) -> dict[str, str]:
        """The same settings as storage options of delta-rs (Rust `object_store`'s
        `aws_server_side_encryption` and `aws_sse_kms_key_id`), for the dataset's Delta writes."""
        if self.algorithm is None:
            return {}
        options = {"aws_server_side_encryption": self.algorithm}
        if self.kms_key_id:
            options["aws_sse_kms_key_id"] = self.kms_key_id
        return options


@dataclass(frozen=True, slots=True)
class BucketLayout:
    """The prefixes of one pipeline deployment. Every derived path includes the partition key."""

    bucket: str
    input_prefix: str = "documents/"
    output_prefix: str = "labeled-datasets/"
    processed_prefix: str = "processed/"
    results_prefix: str = "extracted/"
    encryption: OutputEncryption = OutputEncryption()

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
            yield ObjectInfo(
                key=key,
                etag=strip_etag(item["ETag"]),
                size=int(item["Size"]),
                storage_class=item.get("StorageClass") or "STANDARD",
            )


def resolve_object_key(client: Any, layout: BucketLayout, partition_key: str) -> str | None:
    """The object key a partition stands for (one LIST only for long, digest-form keys)."""
    return partition_keys.resolve(
        partition_key,
        layout.input_prefix,
        lambda prefix: (info.key for info in list_objects(client, layout.bucket, prefix)),
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify_s3_error(exc: ClientError | BotoCoreError) -> tuple[Status, ErrorClass]:
    """The row an S3 error on reading one object becomes (after botocore's own retries).

    InvalidObjectState (an archived object; S3 sends it with HTTP 403) is `skipped/archived`;
    AccessDenied (e.g. a KMS key the role cannot use) is `failed/access_denied`; SlowDown and
    other throttling codes, or HTTP 503, are `failed/s3_throttled`; NoSuchKey is
    `skipped/not_found`; anything else, including connection errors, is `failed/s3_error`.
    """
    if not isinstance(exc, ClientError):
        return Status.FAILED, ErrorClass.S3_ERROR
    code = error_code(exc)
    http_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "InvalidObjectState":
        return Status.SKIPPED, ErrorClass.ARCHIVED
    if code in _MISSING_CODES:
        return Status.SKIPPED, ErrorClass.NOT_FOUND
    if code in _THROTTLING_CODES or http_status == 503:
        return Status.FAILED, ErrorClass.S3_THROTTLED
    if code in _ACCESS_CODES:
        return Status.FAILED, ErrorClass.ACCESS_DENIED
    return Status.FAILED, ErrorClass.S3_ERROR


def describe_s3_error(exc: ClientError | BotoCoreError, operation: str) -> str:
    """The cause in our words: the error code and HTTP status, or the exception type. S3's own
    message is left out: it can name the role, the key policy or the KMS key."""
    if isinstance(exc, ClientError):
        http_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"S3 answered {error_code(exc) or 'an error'} (HTTP {http_status}) to {operation}"
    return f"{type(exc).__name__} on {operation}"


def get_json(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON object at key, or None if there is none."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if error_code(exc) in _MISSING_CODES:
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
