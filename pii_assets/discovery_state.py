"""What discovery remembers per object, in one store shared by the sensor and `pii-pipeline process`
(no Dagster here).

One row per object ever seen under the input prefix (a deleted object keeps a tombstone, so a late
"created" event cannot bring it back): the version last seen (ETag fingerprint, storage class,
S3's time and event sequencer), the version last requested and by which batch, the partition's
position among the registered partitions, and the retry bookkeeping of transient failures.
Everything a tick does is a query by key or by index (`retry_at`, `batch`, `object_key`), so its
cost grows with the changes it handles, not with the bucket; nothing per object lives in a sensor
cursor.

The store is a SQLAlchemy database: the Dagster instance's own Postgres database when it has one
(tables `pii_discovery_objects` and `pii_discovery_meta` beside Dagster's), else a SQLite file in
the instance's folder. Claims are single `UPDATE … RETURNING` statements, so two claimers (the
daemon's sensor and `process`) never both request one object version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from pii_assets.models import ErrorClass

# Failures that can go away by themselves: requested again with exponential backoff, up to a cap.
# Permanent ones (corrupt, unsupported, encrypted without password, llm_auth ...) are not.
TRANSIENT_ERROR_CLASSES: frozenset[str] = frozenset(
    {
        ErrorClass.LLM_UNAVAILABLE,
        ErrorClass.LLM_RATE_LIMITED,
        ErrorClass.S3_THROTTLED,
        ErrorClass.TIMEOUT,
    }
)
# Not document error classes: why a request is retried when its run never produced an outcome.
RUN_FAILED = "run_failed"  # the run ended failed or canceled (e.g. its process was killed)
RUN_MISSING = "run_missing"  # no run carries the batch: the request was lost before launch

_metadata = sa.MetaData()
# Byte order (UTF-8 binary, as S3 lists keys) for range comparisons on Postgres; SQLite's default
# BINARY collation already compares bytes.
_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
OBJECTS = sa.Table(
    "pii_discovery_objects",
    _metadata,
    sa.Column("partition_key", sa.Text, primary_key=True),
    sa.Column("object_key", _KEY, nullable=True, index=True),
    sa.Column("shard", sa.Integer, nullable=False, default=0),  # partitions.shard_of
    sa.Column("ordinal", sa.BigInteger, nullable=True),  # position among the shard's partitions
    sa.Column("etag", sa.Text, nullable=True),  # None: deleted (a tombstone)
    sa.Column("storage_class", sa.Text, nullable=False, default="STANDARD"),
    sa.Column("changed_at", sa.Float, nullable=True),  # S3's time of the version (or deletion)
    sa.Column("sequencer", sa.Text, nullable=True),
    sa.Column("requested", sa.Text, nullable=True),  # fingerprint last requested
    sa.Column("batch", sa.Text, nullable=True),  # run key of that request
    sa.Column("requested_at", sa.Float, nullable=True),
    sa.Column("settled", sa.Boolean, nullable=False, default=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.Float, nullable=True, index=True),  # due for a request from then
    sa.Column("error_class", sa.Text, nullable=True),  # last transient failure
    sa.UniqueConstraint("shard", "ordinal", name="uq_pii_discovery_position"),
)
# Requests in flight are few (the runs of a few ticks) among millions of rows: a partial index
# keeps finding them independent of the bucket's size.
sa.Index(
    "ix_pii_discovery_in_flight",
    OBJECTS.c.batch,
    postgresql_where=OBJECTS.c.settled.is_(False),
    sqlite_where=OBJECTS.c.settled.is_(False),
)
META = sa.Table(
    "pii_discovery_meta",
    _metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
_LOCK = "registration"  # the row every registering transaction locks first


def _counter(shard: int) -> str:
    return f"next_ordinal:{shard}"


_CHUNK = 500  # keys per IN (...) clause, under SQLite's parameter limit


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: the n-th transient failure of a version is requested again after
    `base_s` × 2^(n-1) seconds (capped at `max_delay_s`), and not after `max_attempts` failures.
    The doubling follows AWS's "Exponential backoff and jitter" (Architecture Blog, 2015) without
    the jitter: a sensor tick already spreads retries to its own interval."""

    max_attempts: int = 5
    base_s: float = 60.0
    max_delay_s: float = 6 * 3600.0

    def delay_s(self, attempts: int) -> float:
        return min(self.max_delay_s, self.base_s * 2 ** max(0, attempts - 1))


@dataclass(frozen=True, slots=True)
class Observation:
    """One object version seen by a listing or an event; `etag` None means it was removed."""

    object_key: str
    partition_key: str
    etag: str | None
    storage_class: str = "STANDARD"
    changed_at: float | None = None  # S3's LastModified or eventTime, epoch seconds
    sequencer: str | None = None  # S3 event sequencer, hexadecimal
    shard: int = 0  # partitions.shard_of(partition_key)
    # A listing is never stale: a page is fetched after every event the store already applied
    # (ticks apply events first), so it shows at least as new a state.
    listed: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the event log says happened to a partition: a materialization (`etag` read and
    `error_class`), or a run budget that left it unstarted."""

    partition_key: str
    etag: str | None = None
    error_class: str | None = None
    not_started: bool = False


@dataclass(frozen=True, slots=True)
class Due:
    partition_key: str
    shard: int
    object_key: str | None
    ordinal: int | None
    etag: str
    storage_class: str


@dataclass(frozen=True, slots=True)
class Imported:
    """A partition registered before the store existed (see `import_registered`)."""

    partition_key: str
    object_key: str | None  # None until a listing or event names it (long digest keys)
    shard: int
    ordinal: int
    etag: str | None  # ETag of its latest extraction; None: never extracted


@dataclass
class ObserveReport:
    new: int = 0
    changed: int = 0
    deleted: list[str] | None = None  # partitions (registered) whose object is gone
    stale: int = 0  # events older than what the store knows: ignored


def sequencer_newer(candidate: str, known: str | None) -> bool:
    """S3 User Guide, "Event message structure": sequencers of one key order its events once the
    shorter is left-padded with zeros; they never order events of different keys."""
    if not known:
        return True
    width = max(len(candidate), len(known))
    return candidate.upper().rjust(width, "0") > known.upper().rjust(width, "0")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class DiscoveryStore:
    """The discovery state in the database at `url` (a SQLAlchemy URL); tables made if missing."""

    def __init__(self, url: str, retry: RetryPolicy | None = None) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()
        self.engine = _engine(url)
        if url not in _READY:  # once per process: a sensor builds a store on every tick
            _metadata.create_all(self.engine, checkfirst=True)
            with self._tx() as conn:
                lock = sa.select(META.c.value).where(META.c.name == _LOCK)
                if conn.execute(lock).first() is None:
                    conn.execute(META.insert().values(name=_LOCK, value="0"))
            _READY.add(url)

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- small named values (positions, reconciliation progress) --------------------------------
    def get_meta(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(META.c.value).where(META.c.name == name)).scalar()

    def set_meta(self, values: dict[str, str | None]) -> None:
        with self._tx() as conn:
            for name, value in values.items():
                conn.execute(META.delete().where(META.c.name == name))
                if value is not None:
                    conn.execute(META.insert().values(name=name, value=value))

    # -- what S3 says ------------------------------------------------------------------------
    def observe(self, observations: Iterable[Observation], now: float) -> ObserveReport:
        """Record object versions from a listing page or events. A new or changed version (ETag or
        archived storage class) is due for a request now; a removal leaves a tombstone and returns
        the partition to delete. Events older than the known version (by sequencer, else by S3's
        time) change nothing: at-least-once delivery makes duplicates and late events harmless."""
        latest: dict[str, Observation] = {}
        report = ObserveReport(deleted=[])
        for obs in observations:
            current = latest.get(obs.partition_key)
            if current is not None:
                report.stale += 1  # one of the two describes an older state: it is dropped
                if _stale(obs, current):
                    continue
            latest[obs.partition_key] = obs
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        with self._tx() as conn:
            rows = _rows(conn, list(latest))
            for key, obs in latest.items():
                row = rows.get(key)
                if row is not None and _stale(obs, row):
                    report.stale += 1
                    continue
                known = row is not None and row.etag is not None
                if known and obs.etag == row.etag and obs.object_key == row.object_key:
                    continue  # the version the store holds: nothing to write
                values: dict[str, object] = {
                    "shard": obs.shard,
                    "object_key": obs.object_key,
                    "etag": obs.etag,
                    "storage_class": obs.storage_class,
                    "changed_at": obs.changed_at,
                    "sequencer": obs.sequencer or (row.sequencer if row is not None else None),
                    "attempts": 0,
                    "error_class": None,
                    "retry_at": now,
                    "settled": row.settled if row is not None else True,
                    "ordinal": row.ordinal if row is not None else None,
                }
                if obs.etag is None:
                    # A tombstone, also for an object never seen (a late "created" event must
                    # not bring it back); a re-created object is registered again, at the end.
                    values.update(retry_at=None, settled=True, ordinal=None)
                    if row is not None and row.ordinal is not None:
                        report.deleted.append(key)
                elif known and obs.etag == row.etag:
                    values.update(  # only the object key was missing (an imported row)
                        retry_at=row.retry_at, attempts=row.attempts, error_class=row.error_class
                    )
                else:
                    report.new += not known
                    report.changed += known
                if row is None:
                    inserts.append({"partition_key": key, **values})
                else:
                    updates.append({"_key": key, **values})
            # One statement each, run for many rows (executemany): a listing page is 1,000 keys.
            if inserts:
                conn.execute(OBJECTS.insert(), inserts)
            if updates:
                conn.execute(
                    OBJECTS.update()
                    .where(OBJECTS.c.partition_key == sa.bindparam("_key"))
                    .values({name: sa.bindparam(name) for name in updates[0] if name != "_key"}),
                    updates,
                )
        return report

    def known_in_range(
        self, after: str | None, upto: str | None, prefix: str
    ) -> dict[str, tuple[str, str | None]]:
        """What the store holds for objects with a key in (`after`, `upto`] (open ends when None)
        under `prefix`: object key -> (partition key, ETag fingerprint or None for a tombstone).
        One index range read: a listing page is compared with it, so a page where nothing
        changed writes nothing."""
        query = sa.select(OBJECTS.c.object_key, OBJECTS.c.partition_key, OBJECTS.c.etag).where(
            OBJECTS.c.object_key.startswith(prefix, autoescape=True)
        )
        if after is not None:
            query = query.where(OBJECTS.c.object_key > after)
        if upto is not None:
            query = query.where(OBJECTS.c.object_key <= upto)
        with self.engine.connect() as conn:
            return {row.object_key: (row.partition_key, row.etag) for row in conn.execute(query)}

    def import_registered(self, rows: Sequence[Imported]) -> None:
        """Seed an empty store with partitions registered before it existed (an instance that
        discovered with a sensor cursor): their positions in Dagster's order, and the version each
        was last extracted for, so nothing unchanged is extracted again."""
        if not rows:
            return
        with self._tx() as conn:
            conn.execute(
                OBJECTS.insert(),
                [
                    {
                        "partition_key": r.partition_key,
                        "object_key": r.object_key,
                        "shard": r.shard,
                        "ordinal": r.ordinal,
                        "etag": r.etag,
                        "requested": r.etag,
                        "storage_class": "STANDARD",
                        "settled": True,
                        "attempts": 0,
                    }
                    for r in rows
                ],
            )
            ends: dict[int, int] = {}
            for r in rows:
                ends[r.shard] = max(ends.get(r.shard, 0), r.ordinal + 1)
            for shard, end in ends.items():
                _lock(conn)
                first = _next_position(conn, shard, 0)
                _next_position(conn, shard, max(0, end - first))

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(OBJECTS.c.partition_key).limit(1)).first() is None

    # -- what the runs say -------------------------------------------------------------------
    def settle(self, outcomes: Iterable[Outcome], now: float) -> None:
        """Apply outcomes from the event log, in order. A transient failure of the version still
        wanted schedules the next attempt (or gives up at the cap); any other materialization of it
        settles the request; a budget-unstarted partition is due again at once."""
        last: dict[str, Outcome] = {}
        for outcome in outcomes:
            last[outcome.partition_key] = outcome
        updates: list[dict[str, object]] = []
        with self._tx() as conn:
            rows = _rows(conn, list(last))
            for key, outcome in last.items():
                row = rows.get(key)
                if row is None or row.etag is None:
                    continue
                if row.requested != row.etag and row.retry_at is not None:
                    continue  # a newer version is already due
                if outcome.not_started:
                    values = {"attempts": row.attempts, "retry_at": now, "error_class": None}
                elif outcome.error_class in TRANSIENT_ERROR_CLASSES:
                    values = self._failure(row.attempts, outcome.error_class, now)
                    del values["settled"]
                else:
                    values = {"attempts": 0, "retry_at": None, "error_class": None}
                updates.append({"_key": key, **values})
            if updates:  # one statement for all (executemany)
                conn.execute(
                    OBJECTS.update()
                    .where(OBJECTS.c.partition_key == sa.bindparam("_key"))
                    .values(
                        settled=True,
                        attempts=sa.bindparam("attempts"),
                        retry_at=sa.bindparam("retry_at"),
                        error_class=sa.bindparam("error_class"),
                    ),
                    updates,
                )

    def _failure(self, attempts: int, error_class: str | None, now: float) -> dict[str, object]:
        attempts += 1
        retry_at = (
            now + self.retry.delay_s(attempts) if attempts < self.retry.max_attempts else None
        )
        return {
            "settled": True,
            "attempts": attempts,
            "retry_at": retry_at,
            "error_class": error_class,
        }

    def in_flight(self) -> dict[str, float]:
        """Batches with a request whose outcome is not known yet -> when they were requested."""
        query = (
            sa.select(OBJECTS.c.batch, sa.func.min(OBJECTS.c.requested_at))
            .where(OBJECTS.c.settled.is_(False), OBJECTS.c.batch.is_not(None))
            .group_by(OBJECTS.c.batch)
        )
        with self.engine.connect() as conn:
            return {batch: at or 0.0 for batch, at in conn.execute(query)}

    def unsettled_partitions(self, batches: Iterable[str]) -> list[str]:
        """Partition keys of these batches whose request has no outcome yet, in key order."""
        wanted = sorted(set(batches))
        if not wanted:
            return []
        query = (
            sa.select(OBJECTS.c.partition_key)
            .where(OBJECTS.c.settled.is_(False), OBJECTS.c.batch.in_(wanted))
            .order_by(OBJECTS.c.partition_key)
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def fail_batches(self, batches: dict[str, str], now: float) -> int:
        """Unsettled requests of these batches failed as a whole (batch -> RUN_FAILED or
        RUN_MISSING): each counts as a transient failure. Returns the partitions affected."""
        affected = 0
        with self._tx() as conn:
            for batch, reason in batches.items():
                rows = conn.execute(
                    sa.select(OBJECTS.c.partition_key, OBJECTS.c.attempts).where(
                        OBJECTS.c.batch == batch, OBJECTS.c.settled.is_(False)
                    )
                ).all()
                for key, attempts in rows:
                    conn.execute(
                        OBJECTS.update()
                        .where(OBJECTS.c.partition_key == key)
                        .values(self._failure(attempts, reason, now))
                    )
                affected += len(rows)
        return affected

    def settle_batches(self, batches: Iterable[str]) -> None:
        """Requests of runs that succeeded without an outcome for them (nothing to retry)."""
        with self._tx() as conn:
            for batch in batches:
                conn.execute(
                    OBJECTS.update()
                    .where(OBJECTS.c.batch == batch, OBJECTS.c.settled.is_(False))
                    .values(settled=True)
                )

    # -- requesting --------------------------------------------------------------------------
    def register_due(
        self, limit: int, add_partitions: Callable[[int, list[str]], None]
    ) -> list[str]:
        """Give due, unregistered partitions their position in their shard and register them
        (`add_partitions(shard, keys)`, e.g. Dagster's `add_dynamic_partitions`) under the
        store's lock, so positions follow the order the partitions are added in. Returns the
        keys registered."""
        with self._tx() as conn:
            _lock(conn)
            rows = conn.execute(
                sa.select(OBJECTS.c.partition_key, OBJECTS.c.shard)
                .where(
                    OBJECTS.c.ordinal.is_(None),
                    OBJECTS.c.etag.is_not(None),
                    OBJECTS.c.retry_at.is_not(None),
                )
                .order_by(OBJECTS.c.object_key)
                .limit(limit)
            ).all()
            by_shard: dict[int, list[str]] = {}
            for key, shard in rows:
                by_shard.setdefault(shard, []).append(key)
            for shard, keys in sorted(by_shard.items()):
                first = _next_position(conn, shard, len(keys))
                conn.execute(
                    OBJECTS.update()
                    .where(OBJECTS.c.partition_key == sa.bindparam("_key"))
                    .values(ordinal=sa.bindparam("_ordinal")),
                    [{"_key": k, "_ordinal": first + i} for i, k in enumerate(keys)],
                )
                add_partitions(shard, keys)
        return [key for key, _ in rows]

    def due(self, now: float, limit: int, exclude: Iterable[str] = ()) -> list[Due]:
        """Registered partitions due for a request, shard by shard in partition order."""
        skip = set(exclude)
        query = (
            sa.select(
                OBJECTS.c.partition_key,
                OBJECTS.c.shard,
                OBJECTS.c.object_key,
                OBJECTS.c.ordinal,
                OBJECTS.c.etag,
                OBJECTS.c.storage_class,
            )
            .where(
                OBJECTS.c.retry_at <= now,
                OBJECTS.c.etag.is_not(None),
                OBJECTS.c.ordinal.is_not(None),
            )
            .order_by(OBJECTS.c.shard, OBJECTS.c.ordinal)
            .limit(limit + len(skip))
        )
        with self.engine.connect() as conn:
            rows = [Due(*row) for row in conn.execute(query) if row.partition_key not in skip]
        return rows[:limit]

    def claim(self, keys: Sequence[str], batch: str, now: float, settled: bool = False) -> set[str]:
        """Mark these partitions' current versions as requested by `batch`, atomically against
        other claimers: only keys still due are taken. Returns the keys this call claimed."""
        claimed: set[str] = set()
        with self._tx() as conn:
            for chunk in _chunks(list(keys)):
                statement = (
                    OBJECTS.update()
                    .where(OBJECTS.c.partition_key.in_(chunk), OBJECTS.c.retry_at <= now)
                    .values(
                        requested=OBJECTS.c.etag,
                        batch=batch,
                        requested_at=now,
                        settled=settled,
                        retry_at=None,
                    )
                    .returning(OBJECTS.c.partition_key)
                )
                claimed.update(conn.execute(statement).scalars())
        return claimed

    def release(self, keys: Iterable[str], now: float) -> None:
        """Claimed keys that will not be requested after all (their batch was cut): due again."""
        with self._tx() as conn:
            for chunk in _chunks(list(keys)):
                conn.execute(
                    OBJECTS.update()
                    .where(OBJECTS.c.partition_key.in_(chunk))
                    .values(retry_at=now, settled=True, batch=None)
                )

    def forget_deleted(self, keys: Iterable[str]) -> None:
        """Tombstones whose partitions were deleted: positions are freed (rows stay)."""
        with self._tx() as conn:
            for chunk in _chunks(list(keys)):
                conn.execute(
                    OBJECTS.update().where(OBJECTS.c.partition_key.in_(chunk)).values(ordinal=None)
                )

    # -- reporting ---------------------------------------------------------------------------
    def retry_status(self, keys: Iterable[str]) -> dict[str, tuple[str | None, int, float | None]]:
        """For partitions whose last attempt failed transiently: key -> (error class, attempts,
        next attempt at or None when given up)."""
        out: dict[str, tuple[str | None, int, float | None]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(keys))):
                query = sa.select(
                    OBJECTS.c.partition_key,
                    OBJECTS.c.error_class,
                    OBJECTS.c.attempts,
                    OBJECTS.c.retry_at,
                ).where(OBJECTS.c.partition_key.in_(chunk), OBJECTS.c.error_class.is_not(None))
                for key, error_class, attempts, retry_at in conn.execute(query):
                    out[key] = (error_class, attempts, retry_at)
        return out

    def due_count(self, now: float) -> int:
        """Partitions due for a request now (an index range on `retry_at`)."""
        query = sa.select(sa.func.count()).where(OBJECTS.c.retry_at <= now)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self) -> dict[str, int]:
        """Rows by kind, for benchmarks and reports: objects, tombstones, due, in flight (reads
        the whole table: not for ticks)."""
        c = OBJECTS.c
        query = sa.select(
            sa.func.count().filter(c.etag.is_not(None)),
            sa.func.count().filter(c.etag.is_(None)),
            sa.func.count().filter(c.retry_at.is_not(None)),
            sa.func.count().filter(c.settled.is_(False)),
        )
        with self.engine.connect() as conn:
            objects, tombstones, due, in_flight = conn.execute(query).one()
        return {"objects": objects, "tombstones": tombstones, "due": due, "in_flight": in_flight}


def _lock(conn: sa.Connection) -> None:
    """Serialise registrations: Postgres locks the row (FOR UPDATE); on SQLite every transaction
    is BEGIN IMMEDIATE already (see `_engine`)."""
    conn.execute(sa.select(META.c.value).where(META.c.name == _LOCK).with_for_update()).one()


def _next_position(conn: sa.Connection, shard: int, count: int) -> int:
    """Reserve `count` consecutive positions in `shard` (under `_lock`); returns the first."""
    name = _counter(shard)
    value = conn.execute(sa.select(META.c.value).where(META.c.name == name)).scalar()
    first = int(value) if value is not None else 0
    if value is None:
        conn.execute(META.insert().values(name=name, value=str(first + count)))
    else:
        conn.execute(META.update().where(META.c.name == name).values(value=str(first + count)))
    return first


def _rows(conn: sa.Connection, keys: Sequence[str]) -> dict[str, sa.Row]:
    rows: dict[str, sa.Row] = {}
    for chunk in _chunks(keys):
        for row in conn.execute(sa.select(OBJECTS).where(OBJECTS.c.partition_key.in_(chunk))):
            rows[row.partition_key] = row
    return rows


def _stale(obs: Observation, known: Observation | sa.Row) -> bool:
    """`obs` describes an older state of the object than `known` does: by sequencer when both
    have one (S3 events of one key), else by time."""
    if getattr(obs, "listed", False):
        return False
    if obs.sequencer and known.sequencer:
        return sequencer_newer(known.sequencer, obs.sequencer)
    if obs.changed_at is not None and known.changed_at is not None:
        return obs.changed_at < known.changed_at
    return False


_ENGINES: dict[str, sa.Engine] = {}
_READY: set[str] = set()  # URLs whose tables exist


def _engine(url: str) -> sa.Engine:
    """One engine per URL per process (a sensor tick must not pay a connection pool each time)."""
    if url in _ENGINES:
        return _ENGINES[url]
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # pysqlite's own BEGIN is deferred; writers must take the lock when they start, so
            # two claimers serialise instead of failing on upgrade (SQLAlchemy's SQLite docs,
            # "Serializable isolation / Savepoints / Transactional DDL").
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
    _ENGINES[url] = engine
    return engine
