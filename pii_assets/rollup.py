"""Gather every document's latest result for a dataset version (no Dagster here)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pii_assets.bucket import BucketLayout, ObjectInfo, get_json, list_objects
from pii_assets.dataset import placeholder_result
from pii_assets.models import DocumentResult, ErrorClass

# botocore keeps 10 pooled connections per client; more threads would only queue for them.
_FETCH_THREADS = 8


def _row(client: Any, layout: BucketLayout, info: ObjectInfo) -> tuple[str, DocumentResult]:
    partition_key = layout.partition_key(info.key)
    data = get_json(client, layout.bucket, layout.result_key(partition_key))
    if data is None:
        message = f"{info.key}: not processed yet"
        return partition_key, placeholder_result(info, ErrorClass.NOT_YET_PROCESSED, message)
    result = DocumentResult.from_json_dict(data)
    if result.etag != info.etag:
        message = f"{info.key}: changed since it was last processed"
        return partition_key, placeholder_result(info, ErrorClass.NOT_YET_PROCESSED, message)
    return partition_key, result


def collect_rows(client: Any, layout: BucketLayout) -> list[tuple[str, DocumentResult]]:
    """One (partition key, result) pair per object under the input prefix, in key order.

    Objects without a result for their current version are rows too (skipped, not yet
    processed), so the dataset never silently drops a document.
    """
    objects = list(list_objects(client, layout.bucket, layout.input_prefix))
    with ThreadPoolExecutor(max_workers=_FETCH_THREADS) as pool:
        return list(pool.map(lambda info: _row(client, layout, info), objects))
