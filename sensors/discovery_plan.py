"""What one discovery tick should do, computed from a bucket listing (no Dagster here).

The state carried between ticks maps each partition key to a fingerprint of the object version
last requested for it: its ETag, and its storage class when that is an archived one. A tick
requests partitions that are new, whose fingerprint changed, or that exist without state (e.g.
added before a cursor reset); it records in the next state only what it actually requested, so
anything left over by the per-tick run bound is picked up next tick.

Objects the listing shows as archived (GLACIER, DEEP_ARCHIVE) are not put in runs: the plan
lists them apart (`TickPlan.archived`) for the caller to record as `skipped/archived` without a
GET (`processing.record_archived`), and they are not looked at again until their storage class
or ETag changes.

Runs cover partition *ranges*, and a range follows the order in which partitions were added, so
a batch is a run of consecutive partitions (in that order) that all need processing; unchanged
partitions never ride along.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pii_assets.bucket import ARCHIVED_STORAGE_CLASSES, ObjectInfo

_STATE_FORMAT = 1
# ETags are only compared for change, so a 12-hex-digit fingerprint keeps cursors small at 20,000+
# keys (a false "unchanged" needs a 48-bit collision between two versions of one object).
_FINGERPRINT_CHARS = 12
# Archived objects recorded per tick: 500 × 3 S3 calls on 8 threads take a few seconds.
MAX_ARCHIVED_PER_TICK = 500


def fingerprint(etag: str, storage_class: str = "STANDARD") -> str:
    """The ETag's head, plus the storage class when it is an archived one.

    Readable classes (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ...) share the plain form: a
    lifecycle move between them changes nothing that is read, so it requests nothing (and cursors
    written before storage classes counted stay valid). Moving into or out of an archived class
    changes the fingerprint.
    """
    head = etag[:_FINGERPRINT_CHARS] if len(etag) >= 32 else etag
    return f"{head}@{storage_class}" if storage_class in ARCHIVED_STORAGE_CLASSES else head


@dataclass(frozen=True)
class DiscoveryState:
    etags: dict[str, str] = field(default_factory=dict)  # partition key -> ETag fingerprint
    # Event-log position up to which "not started" observations were read (see discovery.py).
    events_after: int = 0

    def forget(self, keys: Iterable[str], events_after: int) -> DiscoveryState:
        """This state with `keys` no longer counted as requested, so they are requested again."""
        drop = set(keys)
        etags = {k: v for k, v in self.etags.items() if k not in drop}
        return DiscoveryState(etags, max(self.events_after, events_after))

    def encode(self) -> str:
        data = {"format": _STATE_FORMAT, "etags": self.etags, "events_after": self.events_after}
        payload = json.dumps(data, sort_keys=True)
        return base64.b64encode(zlib.compress(payload.encode("utf-8"), 9)).decode("ascii")

    @classmethod
    def decode(cls, cursor: str | None) -> DiscoveryState:
        if not cursor:
            return cls()
        try:
            payload = json.loads(zlib.decompress(base64.b64decode(cursor)))
        except (ValueError, zlib.error) as exc:
            raise ValueError("discovery cursor is not one this sensor wrote") from exc
        if payload.get("format") != _STATE_FORMAT:
            raise ValueError(f"discovery cursor format {payload.get('format')!r} is unknown")
        return cls(etags=dict(payload["etags"]), events_after=int(payload.get("events_after", 0)))


@dataclass(frozen=True)
class Batch:
    partition_keys: tuple[str, ...]
    run_key: str

    @property
    def first(self) -> str:
        return self.partition_keys[0]

    @property
    def last(self) -> str:
        return self.partition_keys[-1]


@dataclass(frozen=True)
class TickPlan:
    new_partitions: list[str]
    deleted_partitions: list[str]  # registered partitions whose object is gone
    batches: list[Batch]
    next_state: DiscoveryState
    listed: int
    pending: int  # partitions needing a run that this tick's run bound left for the next tick
    carried: DiscoveryState  # the previous state without deleted objects
    # Archived objects to record as `skipped/archived` this tick, without a GET: (partition key,
    # object). `next_state` and `state_after` count them as handled, so the caller records them
    # before it saves either.
    archived: list[tuple[str, ObjectInfo]] = field(default_factory=list)

    def state_after(self, completed: Iterable[Batch]) -> DiscoveryState:
        """The state once only `completed` batches are done (for callers that run batches
        themselves and must not mark a failed batch as requested); archived objects included."""
        etags = dict(self.carried.etags)
        for key, _ in self.archived:
            etags[key] = self.next_state.etags[key]
        for batch in completed:
            for key in batch.partition_keys:
                etags[key] = self.next_state.etags[key]
        return DiscoveryState(etags, self.carried.events_after)

    @property
    def requested(self) -> int:
        return sum(len(b.partition_keys) for b in self.batches)


def run_key(keys: Sequence[str], versions: dict[str, str]) -> str:
    """A run key naming the partitions and the version of each (ETag, code version...), so that
    a changed object is never deduplicated away."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(f"{key}\0{versions[key]}\n".encode())
    return f"documents-{len(keys)}-{digest.hexdigest()[:24]}"


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


def plan_tick(
    objects: Iterable[ObjectInfo],
    *,
    partition_key_of: Callable[[str], str],
    known_partitions: Sequence[str],
    state: DiscoveryState,
    batch_size: int = 100,
    max_runs: int = 20,
) -> TickPlan:
    """Plan one tick. `known_partitions` must be in the order Dagster added them."""
    if batch_size < 1 or max_runs < 1:
        raise ValueError("batch_size and max_runs must be at least 1")
    known = set(known_partitions)
    current: dict[str, str] = {}
    archived: dict[str, ObjectInfo] = {}
    new_partitions: list[str] = []
    for info in objects:
        key = partition_key_of(info.key)
        current[key] = fingerprint(info.etag, info.storage_class)
        if info.archived:
            archived[key] = info
        if key not in known:
            known.add(key)
            new_partitions.append(key)

    wanted = {key for key, etag in current.items() if state.etags.get(key) != etag}
    order = [*known_partitions, *new_partitions]
    runs = consecutive_runs(order, wanted - set(archived), batch_size)
    chosen = runs[:max_runs]
    # Recording an archived object costs three small S3 calls in the tick itself, no run: as many
    # per tick as the documents a tick may request, and at most what fits well within a sensor
    # evaluation's time (Dagster's default: 60 s).
    archived_wanted = [key for key in order if key in wanted and key in archived]
    archived_now = archived_wanted[: min(batch_size * max_runs, MAX_ARCHIVED_PER_TICK)]

    # Deleted objects leave the state; kept entries are the versions already requested.
    carried = {key: etag for key, etag in state.etags.items() if key in current}
    next_etags = dict(carried)
    for key in [*archived_now, *(key for run in chosen for key in run)]:
        next_etags[key] = current[key]
    batches = [Batch(tuple(run), run_key(run, current)) for run in chosen]
    return TickPlan(
        new_partitions=new_partitions,
        deleted_partitions=[key for key in known_partitions if key not in current],
        batches=batches,
        next_state=DiscoveryState(next_etags, state.events_after),
        listed=len(current),
        pending=sum(len(run) for run in runs[max_runs:]) + len(archived_wanted) - len(archived_now),
        carried=DiscoveryState(carried, state.events_after),
        archived=[(key, archived[key]) for key in archived_now],
    )
