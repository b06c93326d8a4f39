"""Reading the document asset's records from Dagster's event log, page by page."""

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
    """Every materialization or observation record of the document asset (each shard's asset in
    `asset_keys`, one after the other), oldest first within each."""
    fetch = (
        instance.fetch_materializations
        if kind == "materializations"
        else instance.fetch_observations
    )
    for asset_key in asset_keys:
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
                break
            cursor = page.cursor
