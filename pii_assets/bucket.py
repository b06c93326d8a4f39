"""Where things live in the bucket, and the S3 calls every stage shares (no Dagster here).

Every object the pipeline writes goes through `write_object`, which applies the layout's
server-side encryption and never an ACL; every object body it reads goes through
`read_object`, which resumes a body whose connection broke mid-stream (botocore retries a call
until its response headers arrive, not while its body streams).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError

from pii_assets import partition_keys
from pii_assets.models import ErrorClass, Status
from pii_assets.value_policy import ValuePolicy

log = logging.getLogger(__name__)

# Storage classes whose objects must be restored before a GET, as a listing shows them (S3 User
# Guide, "Working with archived objects"). GLACIER_IR (Instant Retrieval) is read like STANDARD.
# Intelligent-Tiering's archive tiers do not show in a listing (the class stays
# INTELLIGENT_TIERING): a GET of such an object answers InvalidObjectState instead.
ARCHIVED_STORAGE_CLASSES: frozenset[str] = frozenset({"GLACIER", "DEEP_ARCHIVE"})

# Error codes S3 (and botocore's standard retry mode) use for "slow down": the S3 API Reference,
# "Error responses" (SlowDown, 503), and botocore/retries/standard.py's throttling codes.
# Endpoints of S3 servers running in this process (the embedded moto server of tests, the demo
# and `pii-pipeline dev`): delta-rs calls that hold the GIL while they wait on S3 would never get
# an answer from them (pii_assets/dataset_tables.py), so such calls are not made against them.
IN_PROCESS_ENDPOINTS: set[str] = set()
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
        """The same encryption as `storage_options` for delta-rs / the Rust `object_store` crate.

        Keys and values are `object_store`'s `AmazonS3ConfigKey` encryption keys
        (`aws_server_side_encryption`: "AES256" or "aws:kms"; `aws_sse_kms_key_id`), as parsed
        by `object_store::aws::AmazonS3ConfigKey::from_str` (src/aws/builder.rs). Empty when the
        bucket's default encryption applies.
        """
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
    # What results and the entities table keep of each value (value_policy.py).
    value_policy: ValuePolicy = ValuePolicy()
    # Refuse to write results or publish unless the bucket blocks public access.
    require_private: bool = False

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

    Keys ending in "/" are listed too: with content they are documents like any other, and a
    zero-byte one (a console's folder placeholder) becomes its own `skipped/folder_marker` row
    when processed. Only an object whose key is the prefix itself is left out: it is the
    folder, not something under it, and no partition key can name it (logged when it has
    content).
    """
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            key = item["Key"]
            if key == prefix:
                if int(item["Size"]):
                    log.warning(
                        "s3://%s/%s holds %d bytes under the prefix's own key; it is the folder "
                        "itself and is not read",
                        bucket,
                        key,
                        int(item["Size"]),
                    )
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


# Faults of a response body already streaming: the connection was reset or timed out, or it
# ended before Content-Length. botocore raises these from `StreamingBody.read`, after its own
# retries are over (botocore/response.py). urllib3's own errors escape botocore unwrapped when a
# GetObject's error response (e.g. NoSuchKey) breaks while botocore reads it
# (botocore/endpoint.py, `convert_to_response_dict` runs outside the retried block).
_BODY_FAULTS = (HTTPClientError, IncompleteReadError, urllib3.exceptions.HTTPError)
# A fault loses the chunk being read (urllib3 raises without what it got), so chunks are small.
_CHUNK_BYTES = 64 * 1024
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
# Conditional writes that lost a race (S3 User Guide, "Conditional requests": 412 when the
# condition fails, 409 ConditionalRequestConflict when a concurrent write to the key won).
CONDITION_FAILED_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})


def max_attempts(client: Any) -> int:
    """The attempts (the first included) botocore makes per call on this client, which also bound
    `read_object`'s attempts at a body; 3 (botocore's standard default) when not configured."""
    retries = getattr(client.meta.config, "retries", None) or {}
    if retries.get("total_max_attempts"):
        return max(1, int(retries["total_max_attempts"]))
    if retries.get("max_attempts") is not None:  # botocore counts retries here
        return max(1, int(retries["max_attempts"]) + 1)
    return 3


def backoff_s(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1-based): full jitter over an exponential bound,
    as botocore's standard retry mode does (botocore/retries/standard.py, ExponentialBackoff:
    base 1 s, at most 20 s)."""
    return random.random() * min(20.0, 2.0 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class ObjectBody:
    """An object read by `read_object`: its ETag (quotes stripped), size in bytes, and its bytes
    (None when the size is over the caller's limit: the body is then never downloaded)."""

    etag: str
    size: int
    data: bytes | None


def read_object(client: Any, bucket: str, key: str, *, max_bytes: int | None = None) -> ObjectBody:
    """GET an object and read its whole body, surviving a connection fault mid-body.

    botocore retries a GetObject until its headers arrive; a reset or timeout while the body
    streams surfaces from `read()`. Then the rest is asked for with a ranged GET (`Range:
    bytes=<read so far>-`) conditional on the ETag first read (`If-Match`), so two versions of
    an object are never spliced; if the object changed meanwhile (412), the read restarts from
    its first byte. Attempts: the client's `max_attempts`, with `backoff_s` between them.

    Raises ClientError (e.g. NoSuchKey, AccessDenied) or BotoCoreError when S3 cannot be read
    after those attempts.
    """
    attempts = max_attempts(client)
    etag, size, data = "", 0, bytearray()
    for attempt in range(1, attempts + 1):
        try:
            if not etag or not data:
                response = client.get_object(Bucket=bucket, Key=key)
            else:
                try:
                    response = client.get_object(
                        Bucket=bucket, Key=key, Range=f"bytes={len(data)}-", IfMatch=f'"{etag}"'
                    )
                except ClientError as exc:
                    if error_code(exc) not in _PRECONDITION_CODES:
                        raise
                    # The object was replaced mid-read: read the new one from its first byte.
                    data.clear()
                    response = client.get_object(Bucket=bucket, Key=key)
            if not data:
                etag, size = strip_etag(response["ETag"]), int(response["ContentLength"])
            if max_bytes is not None and size > max_bytes:
                response["Body"].close()  # closed unread: an oversized body is never downloaded
                return ObjectBody(etag, size, None)
            body = response["Body"]
            with body:  # (its __enter__ gives the raw urllib3 stream, not the StreamingBody)
                for chunk in body.iter_chunks(_CHUNK_BYTES):
                    data += chunk
            if len(data) != size:
                raise IncompleteReadError(actual_bytes=len(data), expected_bytes=size)
            return ObjectBody(etag, size, bytes(data))
        except _BODY_FAULTS as exc:
            if attempt == attempts:
                if isinstance(exc, BotoCoreError):
                    raise
                raise HTTPClientError(error=exc) from exc
        time.sleep(backoff_s(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def get_json(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON object at key, or None if there is none."""
    try:
        data = read_object(client, bucket, key).data
    except ClientError as exc:
        if error_code(exc) in _MISSING_CODES:
            return None
        raise
    return json.loads(data or b"null")


def write_object(
    client: Any,
    layout: BucketLayout,
    key: str,
    body: bytes,
    *,
    content_type: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> str:
    """Write one object of the pipeline's own (results, markers, dataset files, cards,
    manifests, claims, the pointer): the one place writes happen, so every object gets the
    layout's server-side encryption (`OutputEncryption.put_args`) and none gets an ACL (the
    bucket's owner-only default stands; S3 User Guide, "Controlling ownership of objects").

    `if_match` / `if_none_match` make it a conditional write (S3 answers 412
    PreconditionFailed, or 409 ConditionalRequestConflict, see `CONDITION_FAILED_CODES`).
    Returns the new ETag (quotes stripped). Raises ClientError / BotoCoreError after botocore's
    retries.
    """
    conditions: dict[str, str] = {}
    if if_match is not None:
        conditions["IfMatch"] = if_match
    if if_none_match is not None:
        conditions["IfNoneMatch"] = if_none_match
    response = client.put_object(
        Bucket=layout.bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        **layout.encryption.put_args(),
        **conditions,
    )
    return strip_etag(response.get("ETag", ""))


def put_json(
    client: Any, layout: BucketLayout, key: str, data: dict[str, Any], **conditions: str | None
) -> str:
    """`write_object` of compact, key-sorted JSON; returns the new ETag."""
    return write_object(
        client,
        layout,
        key,
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"),
        content_type="application/json",
        **conditions,
    )


class PublicOutputError(ValueError):
    """The bucket does not block public access while `PII_REQUIRE_PRIVATE_OUTPUT=true`."""


# The four settings of S3 Block Public Access; all must be on for nothing in the bucket to be
# public through an ACL or a bucket policy (S3 User Guide, "Blocking public access to your
# Amazon S3 storage").
PUBLIC_ACCESS_BLOCK_SETTINGS: tuple[str, ...] = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def require_private_bucket(client: Any, layout: BucketLayout) -> None:
    """With `layout.require_private`, refuse (PublicOutputError, one line naming the bucket and
    the missing settings) a bucket whose public access block (GetPublicAccessBlock) is missing
    or leaves one of `PUBLIC_ACCESS_BLOCK_SETTINGS` off. Does nothing otherwise.

    An account-wide block is not consulted: the bucket's own block is what the pipeline's role
    can read and what a reviewer sees on the bucket.
    """
    if not layout.require_private:
        return
    try:
        config = client.get_public_access_block(Bucket=layout.bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        config = {}
    off = [name for name in PUBLIC_ACCESS_BLOCK_SETTINGS if not config.get(name)]
    if off:
        raise PublicOutputError(
            f"PII_REQUIRE_PRIVATE_OUTPUT=true but bucket {layout.bucket} does not block public "
            f"access ({', '.join(off)} off); turn on its Block Public Access settings"
        )


def read_existing(
    client: Any,
    bucket: str,
    owners: Mapping[str, str],
    prefix: str,
    read: Callable[[str], Any],
    *,
    listing: bool,
    threads: int = 8,
) -> dict[str, Any]:
    """`read(key)` of each key of `owners` (object key -> owner, e.g. a partition key), by owner,
    leaving out what `read` returns None for. `listing`: list `prefix` once and read only the
    keys that exist (many keys); otherwise one GET per key (a few). Reads run on `threads`."""
    keys = list(owners)
    if listing:
        present = {info.key for info in list_objects(client, bucket, prefix)}
        keys = [key for key in keys if key in present]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        found = pool.map(read, keys)
        return {owners[key]: r for key, r in zip(keys, found, strict=True) if r is not None}
