"""Reading the document asset's records from Dagster's event log, page by page."""

import heapq
from collections.abc import Iterator, Sequence
from typing import Literal

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET_KEY

_PAGE = 1000


def document_records(
    instance: dg.DagsterInstance,
    kind: Literal["materializations", "observations"],
    *,
    after_storage_id: int | None = None,
    after_timestamp: float | None = None,
    asset_keys: Sequence[dg.AssetKey] = (DOCUMENT_ASSET_KEY,),
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
