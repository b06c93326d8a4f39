"""One partition, end to end: fetch the object, extract, write its result and audit marker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pii_assets.bucket import BucketLayout, put_json, resolve_object_key, strip_etag
from pii_assets.documents import DocumentLimits
from pii_assets.extraction import PageExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass, Status


@dataclass(frozen=True)
class ProcessingOptions:
    extractor: PageExtractor
    passwords: tuple[str, ...] = ()
    limits: DocumentLimits = DocumentLimits()
    max_file_bytes: int = 50 * 1024 * 1024
    code_version: str = ""


def _skipped(key: str, etag: str, error_class: ErrorClass, message: str, opts: ProcessingOptions):
    return DocumentResult(
        document_key=key,
        etag=etag,
        status=Status.SKIPPED,
        error_class=str(error_class),
        error_message=message,
        extractor=opts.extractor.name,
        model=opts.extractor.model,
        code_version=opts.code_version,
        processed_at=datetime.now(UTC).isoformat(),
    )


def extract_object(
    client: Any, layout: BucketLayout, partition_key: str, opts: ProcessingOptions
) -> DocumentResult:
    """The result for the object behind a partition; problems with the object are results too."""
    object_key = resolve_object_key(client, layout, partition_key)
    if object_key is None:
        return _skipped(partition_key, "", ErrorClass.NOT_FOUND, "object no longer exists", opts)
    try:
        response = client.get_object(Bucket=layout.bucket, Key=object_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            message = f"{object_key}: object no longer exists"
            return _skipped(object_key, "", ErrorClass.NOT_FOUND, message, opts)
        raise
    etag = strip_etag(response["ETag"])
    size = int(response["ContentLength"])
    with response["Body"] as body:
        if size > opts.max_file_bytes:
            # Closing the stream unread: the body of an oversized object is never downloaded.
            limit_mb = opts.max_file_bytes / 1024 / 1024
            message = f"{object_key}: {size / 1024 / 1024:.1f} MB exceeds the {limit_mb:g} MB limit"
            return _skipped(object_key, etag, ErrorClass.TOO_LARGE, message, opts)
        data = body.read()
    return extract_document(
        data,
        document_key=object_key,
        etag=etag,
        extractor=opts.extractor,
        passwords=opts.passwords,
        limits=opts.limits,
        code_version=opts.code_version,
    )


def audit_marker(result: DocumentResult, partition_key: str, run_id: str) -> dict[str, Any]:
    """What was done to one object, for auditors: counts and classes, never values."""
    return {
        "document_key": result.document_key,
        "partition_key": partition_key,
        "etag": result.etag,
        "status": str(result.status),
        "error_class": result.error_class,
        "pages": result.pages,
        "truncated": result.truncated,
        "entity_counts": result.entity_counts(),
        "extractor": result.extractor,
        "model": result.model,
        "code_version": result.code_version,
        "cost_usd": result.cost_usd,
        "run_id": run_id,
        "processed_at": result.processed_at,
    }


def process_partition(
    client: Any, layout: BucketLayout, partition_key: str, opts: ProcessingOptions, run_id: str
) -> DocumentResult:
    """Extract one partition and record its result and marker in the bucket."""
    result = extract_object(client, layout, partition_key, opts)
    put_json(client, layout.bucket, layout.result_key(partition_key), result.to_json_dict())
    put_json(
        client,
        layout.bucket,
        layout.marker_key(partition_key),
        audit_marker(result, partition_key, run_id),
    )
    return result
