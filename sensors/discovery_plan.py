"""How one discovery tick turns due partitions into batched runs (no Dagster here).

A run covers a partition *range*, and a range covers every registered partition between its ends
in the order Dagster added them. The discovery state gives each registered partition its position
in that order (`discovery_state.DiscoveryStore.register_due`), so a batch is a run of due
partitions with consecutive positions: unchanged partitions never ride along, and a gap (a
partition not due, or deleted) always ends a batch.

Objects the listing shows as archived (GLACIER, DEEP_ARCHIVE) are not put in runs: the caller
records them as `skipped/archived` without a GET (`processing.record_archived`), and they are not
looked at again until their storage class or ETag changes (their fingerprint says so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pii_assets.bucket import ARCHIVED_STORAGE_CLASSES
from pii_assets.discovery_state import Due

# Archived objects recorded per tick: 500 × 3 S3 calls on 8 threads take a few seconds.
MAX_ARCHIVED_PER_TICK = 500


def fingerprint(etag: str, storage_class: str = "STANDARD") -> str:
    """The ETag, plus the storage class when it is an archived one.

    Readable classes (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...) share the plain form: a
    lifecycle move between them changes nothing that is read, so it requests nothing. Moving into
    or out of an archived class changes the fingerprint. The ETag is kept whole: an archived
    object's row is written from the state alone, and the dataset shows its ETag.
    """
    return f"{etag}@{storage_class}" if storage_class in ARCHIVED_STORAGE_CLASSES else etag


@dataclass(frozen=True)
class Batch:
    partition_keys: tuple[str, ...]
    run_key: str
    shard: int = 0

    @property
    def first(self) -> str:
        return self.partition_keys[0]

    @property
    def last(self) -> str:
        return self.partition_keys[-1]


def run_key(keys: Sequence[str], versions: dict[str, str], salt: str = "") -> str:
    """A run key naming the partitions and the version of each (ETag, code version...), so that
    a changed object is never deduplicated away; `salt` (e.g. the claim time) makes a retry of
    the same versions a new run rather than a duplicate of the failed one."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(f"{key}\0{versions[key]}\n".encode())
    digest.update(salt.encode())
    return f"documents-{len(keys)}-{digest.hexdigest()[:24]}"


def batches_by_position(due: Sequence[Due], batch_size: int) -> list[list[Due]]:
    """Due partitions (shard by shard, in position order) cut into runs of consecutive positions
    of one shard, each at most `batch_size` long."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    runs: list[list[Due]] = []
    for item in due:
        current = runs[-1] if runs else None
        if (
            current is not None
            and len(current) < batch_size
            and current[-1].ordinal is not None
            and item.shard == current[-1].shard
            and item.ordinal == current[-1].ordinal + 1
        ):
            current.append(item)
        else:
            runs.append([item])
    return runs


def is_archived(item: Due) -> bool:
    return item.storage_class in ARCHIVED_STORAGE_CLASSES


def consecutive_runs(ordered: Iterable[str], wanted: set[str], batch_size: int) -> list[list[str]]:
    """Maximal runs of consecutive `wanted` keys in `ordered`, each at most batch_size long: a
    partition range covers every partition between its ends, so only neighbours can share one."""
    runs: list[list[str]] = []
    current: list[str] = []
    for key in ordered:
        if key in wanted and len(current) < batch_size:
            current.append(key)
            continue
        if current:
            runs.append(current)
        current = [key] if key in wanted else []
    if current:
        runs.append(current)
    return runs
