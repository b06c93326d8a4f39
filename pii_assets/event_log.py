"""Reading the document asset's records from Dagster's event log, page by page.

A document's outcome is recorded in one of two ways (pii_assets/document_asset.py): a
materialization (ok, partial, skipped) or, for a failed document, an observation whose
`status` is `failed`, so that the run fails and Dagster shows the partition failed.
`document_outcomes` reads both, for everything that needs every document's latest result.
With several shards (pii_assets/partitions.py), each reader takes the shards' `asset_keys`.
"""

import heapq
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET_KEY

_PAGE = 1000
FAILED = "failed"
# The status of an observation recording that a document's object left the bucket: the discovery
# tick writes it when it deletes the partition, so that the next publish removes the rows.
DELETED = "deleted"
_ONE_ASSET = (DOCUMENT_ASSET_KEY,)


def document_records(
    instance: dg.DagsterInstance,
    kind: Literal["materializations", "observations"],
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
    asset_keys: Sequence[dg.AssetKey] = _ONE_ASSET,
) -> Iterator[dg.EventLogRecord]:
    """Every materialization or observation record of the document asset (of each shard's asset
    in `asset_keys`), oldest first: in storage-id order across the shards too, so a caller may
    keep the last record's storage id as its position."""
    fetch = (
        instance.fetch_materializations
        if kind == "materializations"
        else instance.fetch_observations
    )

    def of(asset_key: dg.AssetKey) -> Iterator[dg.EventLogRecord]:
        records_filter = dg.AssetRecordsFilter(
            asset_key=asset_key,
            after_storage_id=after_storage_id,
            after_timestamp=after_timestamp,
        )
        cursor = None
        while True:
            page = fetch(records_filter, limit=_PAGE, cursor=cursor, ascending=True)
            yield from page.records
            if not page.has_more:
                return
            cursor = page.cursor

    if len(asset_keys) == 1:
        yield from of(asset_keys[0])
        return
    # Storage ids are the event log's, shared by every asset: a merge of the per-shard pages.
    yield from heapq.merge(*(of(key) for key in asset_keys), key=lambda r: r.storage_id)


def record_metadata(record: dg.EventLogRecord) -> dict[str, Any]:
    """A materialization's or observation's metadata as plain values ({} for other records)."""
    event = record.asset_materialization or record.asset_observation
    return {name: entry.value for name, entry in event.metadata.items()} if event else {}


def is_failed_outcome(record: dg.EventLogRecord) -> bool:
    """An observation recording a document that failed (not a `not_started` one)."""
    event = record.asset_observation
    status = event.metadata.get("status") if event else None
    return status is not None and status.value == FAILED


def deleted_documents(
    instance: dg.DagsterInstance,
    *,
    after_storage_id: int | None = None,
    asset_keys: Sequence[dg.AssetKey] = _ONE_ASSET,
) -> Iterator[dg.EventLogRecord]:
    """The observations recording deleted objects' partitions after a storage id, oldest first."""
    for record in document_records(
        instance, "observations", after_storage_id=after_storage_id, asset_keys=asset_keys
    ):
        status = record_metadata(record).get("status")
        if status == DELETED:
            yield record


def document_outcomes(
    instance: dg.DagsterInstance,
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
    asset_keys: Sequence[dg.AssetKey] = _ONE_ASSET,
) -> Iterator[dg.EventLogRecord]:
    """Every document outcome after a storage id or a time, oldest first (storage-id order, across
    the shards' `asset_keys` too): the materializations and the observations of failed
    documents."""
    window = {
        "after_storage_id": after_storage_id,
        "after_timestamp": after_timestamp,
        "asset_keys": asset_keys,
    }
    failed = (
        record
        for record in document_records(instance, "observations", **window)
        if is_failed_outcome(record)
    )
    materialized = document_records(instance, "materializations", **window)
    yield from heapq.merge(materialized, failed, key=lambda record: record.storage_id)


def newest_outcome_id(
    instance: dg.DagsterInstance, asset_keys: Sequence[dg.AssetKey] = _ONE_ASSET
) -> int:
    """The storage id of the newest materialization or observation of the document asset (of any
    shard's in `asset_keys`; 0: none): a position from which `document_outcomes` reads what came
    after."""
    newest = 0
    for asset_key in asset_keys:
        for fetch in (instance.fetch_materializations, instance.fetch_observations):
            records = fetch(asset_key, limit=1).records
            newest = max(newest, records[0].storage_id if records else 0)
    return newest


def spend_today_usd(
    instance: dg.DagsterInstance,
    now: datetime | None = None,
    asset_keys: Sequence[dg.AssetKey] = _ONE_ASSET,
) -> float:
    """USD recorded today (UTC) on the document asset's outcomes (their `cost_usd`), over every
    shard's asset in `asset_keys`: a document that failed after paid LLM calls counts too."""
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    total = 0.0
    for record in document_outcomes(instance, after_timestamp=midnight, asset_keys=asset_keys):
        total += float(record_metadata(record).get("cost_usd") or 0.0)
    return total
