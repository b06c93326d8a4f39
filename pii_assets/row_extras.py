"""What a version's rows take in besides each document's result: the review of its object
version (pii_assets/review) and its redaction record (pii_assets/redaction). No Dagster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pii_assets.bucket import BucketLayout
from pii_assets.dataset_schema import RowExtras
from pii_assets.models import DocumentResult
from pii_assets.redaction import REDACTED
from pii_assets.redaction.store import records_for
from pii_assets.review.store import reviews_for

# Above this many rows one LIST of each prefix is cheaper than a GET per row.
LISTING_ABOVE = 200


def row_extras(
    client: Any, layout: BucketLayout, rows: Sequence[tuple[str, DocumentResult]]
) -> dict[str, RowExtras]:
    """By document key, the extras of the rows that have any: the review and the redaction
    record made on the row's own object version (ETag)."""
    versions = [(partition_key, result.etag) for partition_key, result in rows]
    listing = len(versions) > LISTING_ABOVE
    reviews = reviews_for(client, layout, versions, listing=listing)
    records = records_for(client, layout, versions, listing=listing)
    extras: dict[str, RowExtras] = {}
    for partition_key, result in rows:
        review, record = reviews.get(partition_key), records.get(partition_key)
        if review is None and record is None:
            continue
        copy = record.copy_uri(layout.bucket) if record and record.outcome == REDACTED else None
        extras[result.document_key] = RowExtras(
            review=review,
            redaction=record.outcome if record else None,
            redacted_copy=copy,
        )
    return extras
