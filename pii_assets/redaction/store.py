"""Redacted copies on S3: one document's copy written (or refused) and recorded, and the records a
dataset version links its rows to. No Dagster.

    {output_prefix}redacted/<object key under the input prefix>     the copy (the input tree)
    {output_prefix}redaction-records/<partition key>/<ETag>.json     what happened to that version

A key longer than S3's 1,024 bytes is shortened deterministically (`copy_key`); the record holds
the key the copy was written at. A review of the version (review/reviews/...) is read and its
labels are redacted too: import reviews before redacting (or redact again after an import).

The copies mirror the input tree under their own prefix, so the prefix can be shared (an IAM
policy or a bucket policy on it) without the originals. A record names the object version it was
made from; a dataset row links to the copy only when the record's ETag is the row's. Records hold
counts and outcomes, never values.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pii_assets.bucket import (
    BucketLayout,
    error_code,
    get_json,
    put_json,
    read_existing,
    read_object,
    write_object,
)
from pii_assets.models import DocumentResult
from pii_assets.redaction import REDACTED, redact_document
from pii_assets.redaction.common import NotRedactable
from pii_assets.review.store import read_review


def redacted_prefix(layout: BucketLayout) -> str:
    return f"{layout.output_prefix}redacted/"


def records_prefix(layout: BucketLayout) -> str:
    return f"{layout.output_prefix}redaction-records/"


# S3 object keys are at most 1,024 bytes of UTF-8 (S3 User Guide, "Naming Amazon S3 objects").
MAX_KEY_BYTES = 1024
_DIGEST_CHARS = 16
# A kept file name extension ("".pdf") is at most this long, so a shortened key still says the
# format; a longer "extension" is part of the name.
_MAX_EXTENSION_CHARS = 10


def copy_key(layout: BucketLayout, document_key: str) -> str:
    """The copy's key: the document's key under the input prefix, put under `redacted/`. A key
    that would exceed `MAX_KEY_BYTES` keeps a head of the relative key cut at a character
    boundary, then `~`, 16 hex digits of the BLAKE2b digest of the whole document key and the
    document's extension: deterministic, and distinct for distinct documents. Raises
    NotRedactable (`key_too_long`) when the prefix alone leaves no room for that."""
    relative = document_key
    if layout.input_prefix and document_key.startswith(layout.input_prefix):
        relative = document_key[len(layout.input_prefix) :]
    key = redacted_prefix(layout) + relative
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.blake2b(document_key.encode("utf-8"), digest_size=8).hexdigest()
    name = relative.rsplit("/", 1)[-1]
    extension = name[name.rfind(".") :] if "." in name else ""
    if len(extension) > _MAX_EXTENSION_CHARS or "~" in extension:
        extension = ""
    tail = f"~{digest[:_DIGEST_CHARS]}{extension}"
    room = MAX_KEY_BYTES - len((redacted_prefix(layout) + tail).encode("utf-8"))
    if room < 1:
        raise NotRedactable("key_too_long", "the output prefix leaves no room for a copy's key")
    head = relative.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return redacted_prefix(layout) + head + tail


def record_key(layout: BucketLayout, partition_key: str, etag: str) -> str:
    return f"{records_prefix(layout)}{partition_key}/{etag}.json"


@dataclass(frozen=True)
class RedactionRecord:
    """What redaction did with one object version: `outcome` is `redaction.REDACTED` or why
    there is no copy (`redaction.OUTCOMES`); `message` names the document and cause only."""

    partition_key: str
    document_key: str
    etag: str
    outcome: str
    message: str = ""
    copy_key: str | None = None
    redacted_values: int = 0
    redacted_at: str = ""
    # Pages of a human review whose labels were redacted too (0: no review of this version).
    reviewed_pages: int = 0

    def copy_uri(self, bucket: str) -> str | None:
        return f"s3://{bucket}/{self.copy_key}" if self.copy_key else None


def _delete_stale_copy(client: Any, layout: BucketLayout, key: str) -> None:
    """A copy of an earlier version at the same key is no copy of this one."""
    # Nothing there, or not ours to delete: the record says there is no copy either way.
    with contextlib.suppress(ClientError):
        client.delete_object(Bucket=layout.bucket, Key=key)


def redact_partition(
    client: Any,
    layout: BucketLayout,
    partition_key: str,
    *,
    passwords: Sequence[str] = (),
    max_bytes: int | None = None,
) -> RedactionRecord:
    """Redact the partition's document from its stored result, write the copy (through
    `bucket.write_object`) and the record. Never raises for a document problem: the record says
    it. Raises ClientError / BotoCoreError when S3 fails."""
    now = datetime.now(UTC).isoformat()
    data = get_json(client, layout.bucket, layout.result_key(partition_key))
    if data is None:
        return RedactionRecord(partition_key, "", "", "no_result", "not extracted yet")
    result = DocumentResult.from_json_dict(data)
    key = result.document_key
    record = RedactionRecord(partition_key, key, result.etag, "", redacted_at=now)
    try:
        target = copy_key(layout, key)
    except NotRedactable as exc:
        return _recorded(client, layout, record, exc.outcome, f"{key}: {exc}")
    try:
        body = read_object(client, layout.bucket, key, max_bytes=max_bytes)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchKey", "404"):
            raise
        return _recorded(client, layout, record, "changed", f"{key}: the object is gone")
    if body.etag != result.etag or body.data is None:
        _delete_stale_copy(client, layout, target)
        return _recorded(
            client, layout, record, "changed", f"{key}: the object changed since it was extracted"
        )
    review = read_review(client, layout, partition_key, result.etag)
    try:
        copy = redact_document(body.data, result, passwords=passwords, review=review)
    except NotRedactable as exc:
        _delete_stale_copy(client, layout, target)
        return _recorded(client, layout, record, exc.outcome, f"{key}: {exc}")
    write_object(client, layout, target, copy.data, content_type=copy.content_type)
    done = RedactionRecord(
        partition_key,
        key,
        result.etag,
        REDACTED,
        "",
        target,
        copy.redacted_values,
        now,
        len(review.pages) if review else 0,
    )
    put_json(client, layout, record_key(layout, partition_key, result.etag), asdict(done))
    return done


def _recorded(
    client: Any, layout: BucketLayout, record: RedactionRecord, outcome: str, message: str
) -> RedactionRecord:
    done = RedactionRecord(
        record.partition_key,
        record.document_key,
        record.etag,
        outcome,
        message,
        redacted_at=record.redacted_at,
    )
    put_json(client, layout, record_key(layout, done.partition_key, done.etag), asdict(done))
    return done


def _read_record(client: Any, layout: BucketLayout, key: str) -> RedactionRecord | None:
    data = get_json(client, layout.bucket, key)
    return RedactionRecord(**data) if data else None


def records_for(
    client: Any, layout: BucketLayout, versions: Iterable[tuple[str, str]], *, listing: bool
) -> dict[str, RedactionRecord]:
    """The record of each (partition key, ETag) that has one, by partition key. `listing`: list
    the records prefix once and read only the records that exist (many versions); otherwise one
    GET per version (a few)."""
    wanted = {record_key(layout, pk, etag): pk for pk, etag in versions if etag}
    return read_existing(
        client,
        layout.bucket,
        wanted,
        records_prefix(layout),
        lambda key: _read_record(client, layout, key),
        listing=listing,
    )


def record_summary(records: Iterable[RedactionRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.outcome] = counts.get(record.outcome, 0) + 1
    return dict(sorted(counts.items()))
