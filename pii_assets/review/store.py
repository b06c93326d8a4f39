"""Reviews on S3, keyed by object version and page, and where review exports go. No Dagster.

    {output_prefix}review/reviews/<partition key>/<ETag>.json   a DocumentReview (all its pages)
    {output_prefix}review/exports/<export id>/{image,text}_tasks.json   Label Studio tasks
    {output_prefix}review/exports/<export id>/{image,text}_labeling_config.xml
    {output_prefix}review/exports/<export id>/pages/<partition key>/<ETag>/page-0001.png
    {output_prefix}review/exports/<export id>/summary.json

A review holds for the object version (ETag) it was made on: reprocessing the same version keeps
it (a publish merges it into the rows again), a changed object has another ETag and so no review.
Reviews hold the reviewer's labels with types, places and ids, never values (whatever the value
policy).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from pii_assets.bucket import (
    CONDITION_FAILED_CODES,
    BucketLayout,
    error_code,
    put_json,
    read_existing,
    read_object,
)
from pii_assets.review.model import DocumentReview

_WRITE_TRIES = 10


def review_prefix(layout: BucketLayout) -> str:
    return f"{layout.output_prefix}review/"


def reviews_prefix(layout: BucketLayout) -> str:
    return f"{review_prefix(layout)}reviews/"


def exports_prefix(layout: BucketLayout) -> str:
    return f"{review_prefix(layout)}exports/"


def review_key(layout: BucketLayout, partition_key: str, etag: str) -> str:
    return f"{reviews_prefix(layout)}{partition_key}/{etag}.json"


def _read(client: Any, layout: BucketLayout, key: str) -> tuple[DocumentReview | None, str | None]:
    """The review at `key` and its ETag (None, None when absent)."""
    try:
        body = read_object(client, layout.bucket, key)
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None, None
        raise
    return DocumentReview.from_json_dict(json.loads(body.data or b"{}")), body.etag


def read_review(
    client: Any, layout: BucketLayout, partition_key: str, etag: str
) -> DocumentReview | None:
    return _read(client, layout, review_key(layout, partition_key, etag))[0]


def save_review(client: Any, layout: BucketLayout, review: DocumentReview) -> DocumentReview:
    """Store `review`'s pages over the stored review of the same object version (a page reviewed
    again is replaced, other pages kept): a conditional write (`If-Match` on the ETag read,
    `If-None-Match: *` when there was none), read again and retried when another import wrote in
    between. Returns the stored review."""
    key = review_key(layout, review.partition_key, review.etag)
    for _ in range(_WRITE_TRIES):
        stored, etag = _read(client, layout, key)
        merged = review
        if stored is not None:
            merged = DocumentReview(
                review.document_key,
                review.etag,
                review.partition_key,
                {**stored.pages, **review.pages},
            )
        condition = {"if_match": etag} if etag else {"if_none_match": "*"}
        try:
            put_json(client, layout, key, merged.to_json_dict(), **condition)
            return merged
        except ClientError as exc:
            if error_code(exc) not in CONDITION_FAILED_CODES | {"409"}:
                raise
    raise RuntimeError(
        f"the review of {review.partition_key} kept changing during {_WRITE_TRIES} writes"
    )


def reviews_for(
    client: Any, layout: BucketLayout, versions: Iterable[tuple[str, str]], *, listing: bool
) -> dict[str, DocumentReview]:
    """The review of each (partition key, ETag) that has one, by partition key. `listing`: list
    the reviews prefix once and read only the reviews that exist (many versions); otherwise one
    GET per version (a few)."""
    wanted = {review_key(layout, pk, etag): pk for pk, etag in versions if etag}
    return read_existing(
        client,
        layout.bucket,
        wanted,
        reviews_prefix(layout),
        lambda key: _read(client, layout, key)[0],
        listing=listing,
    )
