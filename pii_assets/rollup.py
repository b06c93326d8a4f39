"""Gather document results into the change a dataset version makes (no Dagster here).

Two ways: `full_rollup` lists the input prefix and reads every result (first version, or when the
previous version cannot be trusted as a base) and replaces the whole tables; `incremental_rollup`
reads only the results of partitions that changed since the previous version and replaces only
their rows, so publishing costs grow with the number of changed documents, not with the dataset.

Stored results enter under the layout's value policy (`ValuePolicy.apply`), whatever policy
they were written under. Rows enter a version through `checked_tables`: a document whose rows
would break a dataset check (duplicate entity rows, pages out of range, bad boxes) is quarantined
there, `failed` / `quarantined` without its entities, and the version is published with
everything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pii_assets.bucket import BucketLayout, ObjectInfo, get_json, list_objects, resolve_object_key
from pii_assets.dataset import Change
from pii_assets.dataset_schema import RowExtras, build_tables, placeholder_result
from pii_assets.dataset_validation import problem_documents
from pii_assets.models import DocumentResult, ErrorClass, Status
from pii_assets.row_extras import row_extras

# botocore keeps 10 pooled connections per client; more threads would only queue for them.
_FETCH_THREADS = 8

Row = tuple[str, DocumentResult]


def _placeholder(key: str, etag: str, message: str) -> DocumentResult:
    info = ObjectInfo(key=key, etag=etag, size=0)
    return placeholder_result(info, ErrorClass.NOT_YET_PROCESSED, f"{key}: {message}")


def _listed_row(client: Any, layout: BucketLayout, info: ObjectInfo) -> Row:
    partition_key = layout.partition_key(info.key)
    data = get_json(client, layout.bucket, layout.result_key(partition_key))
    if data is None:
        return partition_key, _placeholder(info.key, info.etag, "not processed yet")
    result = layout.value_policy.apply(DocumentResult.from_json_dict(data))
    # No ETag: S3 refused the object before saying which version it is (throttled); nothing was
    # read, so the row stands for whatever version is listed now.
    if result.etag and result.etag != info.etag:
        return partition_key, _placeholder(info.key, info.etag, "changed since last processed")
    return partition_key, result


def full_rows(client: Any, layout: BucketLayout) -> list[Row]:
    """One row per object under the input prefix, in key order.

    Objects without a result for their current version are rows too (skipped, not yet
    processed), so the dataset never silently drops a document.
    """
    objects = list(list_objects(client, layout.bucket, layout.input_prefix))
    with ThreadPoolExecutor(max_workers=_FETCH_THREADS) as pool:
        return list(pool.map(lambda info: _listed_row(client, layout, info), objects))


def _partition_row(client: Any, layout: BucketLayout, partition_key: str) -> Row | None:
    data = get_json(client, layout.bucket, layout.result_key(partition_key))
    if data is not None:
        return partition_key, layout.value_policy.apply(DocumentResult.from_json_dict(data))
    object_key = resolve_object_key(client, layout, partition_key)
    if object_key is None:
        return None  # registered, but the object is gone and was never processed
    return partition_key, _placeholder(object_key, "", "not processed yet")


def partition_rows(client: Any, layout: BucketLayout, partition_keys: Iterable[str]) -> list[Row]:
    """The latest result of each partition (a placeholder if it has none yet)."""
    keys = sorted(set(partition_keys))
    with ThreadPoolExecutor(max_workers=_FETCH_THREADS) as pool:
        rows = pool.map(lambda key: _partition_row(client, layout, key), keys)
        return [row for row in rows if row is not None]


def quarantined(result: DocumentResult, checks: list[str]) -> DocumentResult:
    """The document's row when its rows would fail `checks`: `failed` / `quarantined`, no
    entities, the rest (pages, coverage, cost) as extracted. The message names the checks only."""
    count = len(result.entities)
    message = (
        f"{result.document_key}: quarantined, its {count} entit{'y' if count == 1 else 'ies'} "
        f"would fail the dataset checks {', '.join(checks)}; kept out of this version"
    )
    return replace(
        result,
        status=Status.FAILED,
        error_class=str(ErrorClass.QUARANTINED),
        error_message=message,
        entities=[],
    )


def _not_in(column: pa.ChunkedArray, values: set[str]) -> pa.ChunkedArray:
    return pc.invert(pc.is_in(column, value_set=pa.array(sorted(values), type=pa.string())))


def checked_tables(
    rows: list[Row], extras: dict[str, RowExtras] | None = None
) -> tuple[pa.Table, pa.Table, dict[str, list[str]]]:
    """The tables of rows entering a version (with their reviews and redaction records,
    `extras`), with each document whose entity rows fail a per-document check
    (`dataset_validation.problem_documents`) quarantined; and those documents with the checks
    they failed. The checks are vectorised over these rows only; only the quarantined documents'
    rows are built twice."""
    documents, entities = build_tables(rows, extras)
    problems = problem_documents(documents, entities)
    if not problems:
        return documents, entities, {}
    keys = set(problems)
    replaced, _ = build_tables(
        [
            (partition_key, quarantined(result, problems[result.document_key]))
            for partition_key, result in rows
            if result.document_key in keys
        ],
        extras,
    )
    documents = pa.concat_tables(
        [documents.filter(_not_in(documents["document_key"], keys)), replaced]
    )
    entities = entities.filter(_not_in(entities.column("document_key"), keys))
    return documents.sort_by("document_key"), entities, problems


@dataclass(frozen=True)
class Rollup:
    """The change a new version makes and how it was built."""

    change: Change
    build: str  # "full" or "incremental"
    # Documents quarantined in this build -> the checks their rows would have failed.
    quarantined: dict[str, list[str]] = field(default_factory=dict)

    def quarantined_by_check(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for checks in self.quarantined.values():
            for check in checks:
                counts[check] = counts.get(check, 0) + 1
        return dict(sorted(counts.items()))


def full_rollup(client: Any, layout: BucketLayout) -> Rollup:
    """Every object's row, replacing the whole tables."""
    rows = full_rows(client, layout)
    documents, entities, problems = checked_tables(rows, row_extras(client, layout, rows))
    partitions = frozenset(documents.column("partition_key").to_pylist())
    return Rollup(Change(documents, entities, partitions, full=True), "full", problems)


def incremental_rollup(
    refreshed: list[Row],
    removed_partitions: Iterable[str],
    extras: dict[str, RowExtras] | None = None,
) -> Rollup:
    """The refreshed partitions' rows (with their `extras`, `row_extras.row_extras`), replacing
    theirs; removed partitions' rows deleted. A reprocessed document's rows replace its old rows,
    never duplicate them."""
    documents, entities, problems = checked_tables(refreshed, extras)
    partitions = frozenset({key for key, _ in refreshed} | set(removed_partitions))
    return Rollup(Change(documents, entities, partitions), "incremental", problems)
