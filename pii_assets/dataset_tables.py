"""The dataset's two Delta Lake tables on S3, through `deltalake` (delta-rs): open, replace the
rows of some documents in one commit, read rows by key, read a version, change data, vacuum.

Why Delta Lake: a commit is one conditional write of the next `_delta_log/NNNNNNNNNNNNNNNNNNNN
.json` (S3 `If-None-Match: *`, delta-rs's `conditional_put`), so concurrent publishers need no
lock service or catalog, and pandas, Polars, DuckDB, Spark, Trino and Athena read the tables
with their own Delta readers (Delta protocol, "Delta Log Entries" and "Change Data Files").

delta-rs rewrites a whole data file to drop rows from it (it writes no deletion vectors), so the
files are kept small (`TARGET_FILE_BYTES`) and each commit writes its rows sorted by key: a
publish rewrites only the few files whose key range holds a changed document, whatever the size
of the table.

Some delta-rs calls (`history`, `load_cdf`, `scan`, its pyarrow filesystem's `open_input_file`)
hold Python's GIL while they wait on S3; an S3 server running in a thread of the same process (the
embedded one, in tests and the demo) then never answers. Publishing uses none of them: it reads
rows through pyarrow, file pruning through the log's per-file statistics (`get_add_actions`),
whether a commit landed through the table's transaction identifiers. Only `dataset diff` reads
change data.

S3 faults: delta-rs talks to S3 through the Rust `object_store` crate, which retries throttling,
5xx answers, and connection faults of reads and unconditional writes (`retry_options` sets its
attempts and timeouts from the same settings as botocore's). It does not retry a connection
broken while a listing's body streams, nor a conditional write (a commit) whose connection broke
after it was sent; those surface here as OSError and are retried by this module (`attempts`
tries, `bucket.backoff_s` between them). A commit carries a transaction identifier unique to the
publish (Delta protocol, "Transaction Identifiers"), so after a failure the table tells whether
the commit landed anyway, and it is never made twice: delta-rs refuses a commit whose
identifier a concurrent commit already holds.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from pii_assets.bucket import IN_PROCESS_ENDPOINTS, BucketLayout, backoff_s, max_attempts

DOCUMENTS = "documents"
ENTITIES = "entities"
# The column a table's rows are replaced by: one documents row per partition; entity rows by the
# document they belong to.
KEY_COLUMN = {DOCUMENTS: "partition_key", ENTITIES: "document_key"}

# Small files bound what a publish rewrites (see the module docstring): about 2 MiB holds some
# 60,000 entity rows. Readers list a few hundred files for ten million entities.
TARGET_FILE_BYTES = 2 * 1024 * 1024
# The change data feed gives `dataset diff` the rows each commit deleted and inserted (Delta
# protocol, "Change Data Feed"); it adds `_change_data/` files only where rows were rewritten.
# Each publish's commit carries a transaction identifier of its own (see the module docstring);
# the snapshot forgets those older than a week (Delta protocol, "Transaction Identifiers":
# `delta.setTransactionRetentionDuration`), long after any retry needed them.
TABLE_CONFIGURATION = {
    "delta.enableChangeDataFeed": "true",
    "delta.setTransactionRetentionDuration": "interval 7 days",
}
# Per-file statistics (the log's minValues/maxValues) only of these columns (Delta protocol,
# "Per-file Statistics": `delta.dataSkippingStatsColumns`): the keys publishing and `dataset diff`
# prune files by, and harmless facts. By default writers keep statistics of the first 32 columns,
# which puts the smallest and largest entity value of every file (`entities.text`) into the log,
# where catalogs and crawlers copy them and where a role given the log alone would read them.
STATS_COLUMNS = {
    DOCUMENTS: ("partition_key", "document_key", "etag", "status"),
    ENTITIES: ("document_key", "entity_id", "entity_type", "page", "confidence"),
}
_STATS_PROPERTY = "delta.dataSkippingStatsColumns"


def table_configuration(table: str) -> dict[str, str]:
    """The table properties `table` is created with (and given, when an older table lacks them)."""
    return {**TABLE_CONFIGURATION, _STATS_PROPERTY: ",".join(STATS_COLUMNS[table])}


# Attempts at one delta-rs operation when no setting says otherwise: botocore's standard default.
DEFAULT_ATTEMPTS = 3
# object_store answers that retrying cannot change: a 4xx status other than 408 (request timeout)
# and 429 (too many requests), or an object or table that is not there.
_PERMANENT = re.compile(
    r"status code: 4(?!08|29)\d\d|not ?found|no such|access ?denied|forbidden", re.IGNORECASE
)
_T = TypeVar("_T")
# Scans of the tables run in the calling thread. A threaded pyarrow scan returns while one of
# Arrow's threads may still hold the last reference to a data file opened through delta-rs's
# Python filesystem; when the interpreter exits first, that thread's destructor needs the GIL,
# Python ends the thread under it and the process aborts ("terminate called without an active
# exception", SIGABRT) after its work is done: a third of `dataset diff` runs did so (pyarrow
# 26, deltalake 1.6, CPython 3.11). Decoding serially costs little beside the S3 reads.
SCAN_THREADS = False

__all__ = ["CommitFailedError", "DatasetLocation", "DeltaError"]


@dataclass(frozen=True)
class DatasetLocation:
    """Where the tables live and how delta-rs reaches them (object_store option names).

    `storage_options` are what any Delta reader needs too (deltalake, Polars): endpoint, region,
    credentials, encryption. `retries` (`retry_options`) are delta-rs's own keys, added only to
    the pipeline's delta-rs calls (`delta_options`): Polars reads `max_retries` as a number of its
    own and refuses the string delta-rs wants.
    """

    bucket: str
    prefix: str  # the dataset prefix, ending in "/"
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)
    retries: dict[str, str] = field(default_factory=dict)

    def uri(self, table: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{table}"

    def key(self, table: str) -> str:
        return f"{self.prefix}{table}/"

    @property
    def delta_options(self) -> dict[str, str]:
        """The options of the pipeline's delta-rs calls: `storage_options` and `retries`."""
        return {**self.storage_options, **self.retries}

    @property
    def attempts(self) -> int:
        """Tries at one delta-rs operation, the first included: as many as object_store makes
        per request (`max_retries` + 1), so both layers follow PII_S3_MAX_ATTEMPTS."""
        retries = self.retries.get("max_retries")
        return int(retries) + 1 if retries is not None else DEFAULT_ATTEMPTS


def _is_aws_endpoint(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


def _milliseconds(seconds: float) -> str:
    # delta-rs and object_store parse durations with `humantime` ("1500ms"; no "1.5s").
    return f"{max(1, round(seconds * 1000))}ms"


def retry_options(client: Any) -> dict[str, str]:
    """object_store's retry and timeout options from the boto3 client's configuration.

    - `max_retries`: the client's attempts per call (`bucket.max_attempts`, PII_S3_MAX_ATTEMPTS)
      less the first; object_store retries 5xx, 429, 408, connection faults, timeouts of reads
      and unconditional writes, and a GET body broken mid-stream (resumed with a ranged GET on
      the same ETag), with exponential backoff and jitter (its defaults: 100 ms doubling up to
      15 s, and no retry begun after 3 minutes).
    - `connect_timeout`: the client's connect timeout (PII_S3_CONNECT_TIMEOUT_S).
    - `timeout`: the client's read timeout (PII_S3_READ_TIMEOUT_S). object_store has no timeout
      between two bytes; this one bounds each request from connecting to its last byte, ample
      for the tables' files (about 2 MiB, `TARGET_FILE_BYTES`).

    Keys: object_store's `ClientConfigKey` (src/client/mod.rs) and delta-rs's retry keys
    (crates/core/src/logstore/storage/retry_ext.rs). botocore's `adaptive` mode has no
    object_store counterpart: delta-rs backs off on throttling without rate-limiting itself.
    """
    config = client.meta.config
    options = {"max_retries": str(max_attempts(client) - 1)}
    if config.connect_timeout:
        options["connect_timeout"] = _milliseconds(float(config.connect_timeout))
    if config.read_timeout:
        options["timeout"] = _milliseconds(float(config.read_timeout))
    return options


def storage_options(client: Any, layout: BucketLayout) -> dict[str, str]:
    """delta-rs options matching a boto3 client: its endpoint (only a non-AWS one; AWS is found
    from the region), region, the same credentials, and the layout's server-side encryption
    (`OutputEncryption.object_store_options`), which every object delta-rs writes gets: data
    files, change data files, log entries and checkpoints. Readers use them as they are.

    Credentials are the client's own, frozen now (botocore refreshes temporary ones before
    freezing), so delta-rs acts as the same identity as every other write of the pipeline.
    """
    options: dict[str, str] = {
        "AWS_REGION": client.meta.region_name or "us-east-1",
        # Explicit, so a change of delta-rs's default cannot turn commits back into unsafe
        # renames: each commit is a put-if-absent of the next log entry.
        "conditional_put": "etag",
    }
    endpoint = client.meta.endpoint_url or ""
    if endpoint and not _is_aws_endpoint(endpoint):
        options["AWS_ENDPOINT_URL"] = endpoint
        # object_store prefers the S3-specific endpoint, and reads AWS_ENDPOINT_URL_S3 from the
        # environment when no option names it: this option keeps delta-rs on the client's
        # endpoint whatever the environment says (object_store src/aws/builder.rs, S3Endpoint).
        options["AWS_ENDPOINT_URL_S3"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    # botocore keeps the resolved credentials on the request signer (no public accessor).
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options["AWS_ACCESS_KEY_ID"] = frozen.access_key
        options["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
        if frozen.token:
            options["AWS_SESSION_TOKEN"] = frozen.token
    options.update(layout.encryption.object_store_options())
    return options


def location(client: Any, layout: BucketLayout) -> DatasetLocation:
    """The dataset's tables as this client reaches them: `storage_options` and, for the
    pipeline's own delta-rs calls, `retry_options`."""
    return DatasetLocation(
        layout.bucket,
        layout.dataset_prefix,
        storage_options(client, layout),
        retry_options(client),
    )


def transient(exc: BaseException) -> bool:
    """Whether a delta-rs or pyarrow error may go away on retry: an OSError (object_store's S3
    errors surface as OSError) that names no 4xx answer but 408 or 429, and no missing object.
    A conflict with a concurrent commit (CommitFailedError) is not: the caller starts over."""
    if not isinstance(exc, OSError) or isinstance(exc, FileNotFoundError | PermissionError):
        return False
    return _PERMANENT.search(str(exc)) is None


def retrying(operation: Callable[[], _T], attempts: int) -> _T:
    """`operation()`, tried again after a `transient` error, `attempts` tries in all with
    `bucket.backoff_s` between them; the last error is raised. Only for operations that can be
    repeated: reads, and writes that check what the failed try did (`replace_rows`)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except OSError as exc:
            if attempt >= attempts or not transient(exc):
                raise
        time.sleep(backoff_s(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def open_table(where: DatasetLocation, table: str, version: int | None = None) -> DeltaTable | None:
    """The table at `version` (None: the latest), or None if it was never created. Transient
    S3 errors are retried (`where.attempts`)."""

    def load() -> DeltaTable | None:
        try:
            return DeltaTable(
                where.uri(table), version=version, storage_options=where.delta_options
            )
        except TableNotFoundError:
            return None

    return retrying(load, where.attempts)


def ensure_table(where: DatasetLocation, table: str, schema: pa.Schema) -> DeltaTable:
    """The table, created empty (its version 0) if missing; a racing creator's table is used,
    and so is ours when a transient error hid that our create landed."""
    for attempt in range(1, where.attempts + 1):
        existing = open_table(where, table)
        if existing is not None:
            return _with_stats_columns(existing, table, where)
        try:
            return DeltaTable.create(
                where.uri(table),
                schema,
                mode="error",
                configuration=table_configuration(table),
                storage_options=where.delta_options,
            )
        except Exception as exc:
            # Created by a concurrent publisher between our look and our create (version 0
            # exists), or by us before the answer was lost: use it.
            existing = open_table(where, table)
            if existing is not None:
                return existing
            if attempt >= where.attempts or not transient(exc):
                raise
        time.sleep(backoff_s(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _with_stats_columns(table: DeltaTable, name: str, where: DatasetLocation) -> DeltaTable:
    """A table created before `STATS_COLUMNS` is given the property (one commit), so that the
    files later commits add carry no value statistics; files already written keep theirs until
    they are rewritten or vacuumed. A concurrent commit winning the race leaves it to the next
    publish."""
    wanted = ",".join(STATS_COLUMNS[name])
    if table.metadata().configuration.get(_STATS_PROPERTY) == wanted:
        return table
    if where.storage_options.get("AWS_ENDPOINT_URL") in IN_PROCESS_ENDPOINTS:
        return table  # delta-rs's `alter` holds the GIL while it waits: see IN_PROCESS_ENDPOINTS
    # On a failure the next publish tries again; this one's files keep the default statistics.
    with contextlib.suppress(CommitFailedError, DeltaError, OSError):
        table.alter.set_table_properties({_STATS_PROPERTY: wanted}, raise_if_not_exists=False)
    with contextlib.suppress(DeltaError, OSError):
        table.update_incremental()  # the publish builds on the table's latest version
    return table


def sql_in(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b')` for DataFusion SQL, quotes doubled (SQL string literals)."""
    literals = ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(set(values)))
    return f"{column} IN ({literals})"


def _candidate_paths(table: DeltaTable, column: str, keys: list[str]) -> set[str] | None:
    """Data files whose [min, max] statistics of `column` may hold one of `keys` (sorted), from
    the log's per-file statistics; None when the table has no statistics to prune with. delta-rs
    truncates long string statistics to a prefix for the minimum and a larger string for the
    maximum, so the test stays conservative."""
    actions = pa.table(table.get_add_actions(flatten=True))
    low, high = f"min.{column}", f"max.{column}"
    if actions.num_rows == 0:
        return set()
    if low not in actions.column_names or high not in actions.column_names:
        return None
    paths: set[str] = set()
    columns = (actions.column(name).to_pylist() for name in ("path", low, high))
    for path, lo, hi in zip(*columns, strict=True):
        if lo is None or hi is None:
            paths.add(path)
            continue
        # The first key >= lo; the file may hold a key when that key is <= hi.
        index = bisect.bisect_left(keys, lo)
        if index < len(keys) and keys[index] <= hi:
            paths.add(path)
    return paths


def rows_for_keys(
    table: DeltaTable, column: str, keys: Iterable[str], schema: pa.Schema
) -> pa.Table:
    """The rows whose `column` is one of `keys`, reading only the files that may hold them."""
    wanted = sorted(set(keys))
    if not wanted:
        return schema.empty_table()
    dataset = table.to_pyarrow_dataset()
    candidates = _candidate_paths(table, column, wanted)
    if candidates is not None:
        names = {path.rsplit("/", 1)[-1] for path in candidates}
        fragments = [f for f in dataset.get_fragments() if f.path.rsplit("/", 1)[-1] in names]
        if not fragments:
            return schema.empty_table()
        dataset = ds.FileSystemDataset(
            fragments, dataset.schema, dataset.format, dataset.filesystem
        )
    value_set = pa.array(wanted, type=pa.string())
    rows = dataset.to_table(filter=pc.field(column).isin(value_set), use_threads=SCAN_THREADS)
    return conform(rows, schema)


def read_table(table: DeltaTable, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """The whole table at the version `table` was opened at, with the documented schema."""
    rows = table.to_pyarrow_dataset().to_table(columns=columns, use_threads=SCAN_THREADS)
    if columns is not None:
        return conform(rows, pa.schema([schema.field(name) for name in columns]))
    return conform(rows, schema)


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows as read back (Delta stores no Arrow nullability or map-key types) in `schema`.
    Columns a version written by an earlier dataset format lacks (nullable ones added since)
    read as nulls."""
    for name in schema.names:
        if name not in rows.column_names and schema.field(name).nullable:
            rows = rows.append_column(name, pa.nulls(rows.num_rows, schema.field(name).type))
    rows = rows.select(schema.names)
    if rows.schema == schema:
        return rows
    return pa.Table.from_batches([batch.cast(schema) for batch in rows.to_batches()], schema=schema)


def transaction_id(publish_id: str) -> str:
    """The Delta transaction identifier (`txn` action's appId) of a publish's commits."""
    return f"pii-pipeline.publish.{publish_id}"


def _landed(table: DeltaTable, base: int, app_id: str, attempts: int) -> int | None:
    """The version of the commit holding transaction `app_id` made after version `base`, or
    None when there is none; the table is left at that version, or back at `base`."""

    def latest() -> None:
        table.update_incremental()

    retrying(latest, attempts)
    if table.transaction_version(app_id) is None:
        retrying(lambda: table.load_as_version(base), attempts)
        return None
    # Usually base + 1; later when concurrent commits landed first.
    for version in range(base + 1, table.version() + 1):
        retrying(lambda v=version: table.load_as_version(v), attempts)
        if table.transaction_version(app_id) is not None:
            return version
    raise AssertionError("unreachable: the latest version holds the transaction")


def replace_rows(
    table: DeltaTable,
    column: str,
    keys: Iterable[str],
    rows: pa.Table,
    *,
    publish_id: str,
    full: bool = False,
    attempts: int = DEFAULT_ATTEMPTS,
) -> int:
    """One commit that deletes every row whose `column` is in `keys` and adds `rows` (Delta's
    "replace where"); `full` replaces the whole table. Returns the version committed; the
    table is left at it.

    A concurrent commit that touched the same rows makes this one fail with
    `CommitFailedError` (delta-rs's conflict checker); the caller starts over from the new
    table. `rows` are written sorted by `column` so each new file covers a narrow key range.

    S3 faults: the commit carries transaction identifier `transaction_id(publish_id)`. When the
    write fails, the table is read again: if a commit holds the identifier (the answer was lost,
    or object_store retried a commit that had landed), its version is returned; otherwise a
    `transient` error is retried, `attempts` tries in all (`DatasetLocation.attempts`). Data
    files of a failed try are left unreferenced; retention's vacuum deletes them.
    """
    keys = sorted(set(keys))
    rows = rows.sort_by(column) if rows.num_rows else rows
    app_id = transaction_id(publish_id)
    writer = WriterProperties(compression="ZSTD")
    if full:
        mode, predicate = "overwrite", None
    elif keys:
        mode, predicate = "overwrite", sql_in(column, keys)
    else:
        mode, predicate = "append", None
    base = table.version()
    for attempt in range(1, attempts + 1):
        properties = CommitProperties(
            custom_metadata={"pii.publish_id": publish_id},
            app_transactions=[
                Transaction(app_id=app_id, version=attempt, last_updated=int(time.time() * 1000))
            ],
        )
        try:
            write_deltalake(
                table,
                rows,
                mode=mode,
                predicate=predicate,
                # A table of an earlier dataset format gains the nullable columns added since,
                # in this same commit (Delta protocol, "Schema Evolution").
                schema_mode="merge",
                target_file_size=TARGET_FILE_BYTES,
                writer_properties=writer,
                commit_properties=properties,
            )
            return table.version()
        except (CommitFailedError, OSError) as exc:
            landed = _landed(table, base, app_id, attempts)
            if landed is not None:
                return landed
            if isinstance(exc, CommitFailedError) or attempt >= attempts or not transient(exc):
                raise
        time.sleep(backoff_s(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def new_publish_id() -> str:
    return uuid.uuid4().hex


def changed_values(
    where: DatasetLocation, table: str, column: str, after_version: int, up_to_version: int
) -> set[str]:
    """Values of `column` in the rows the commits after `after_version` up to `up_to_version`
    inserted or deleted, from the table's change data feed (Delta protocol, "Change Data
    Feed"). Holds the GIL while it reads (see the module docstring)."""
    if up_to_version <= after_version:
        return set()
    delta = open_table(where, table)
    if delta is None:
        return set()

    def read() -> pa.Table:
        reader = delta.load_cdf(
            starting_version=after_version + 1, ending_version=up_to_version, columns=[column]
        )
        return pa.table(reader.read_all())

    changes = retrying(read, where.attempts)
    return set(pc.unique(changes.column(column)).to_pylist())


def vacuum(where: DatasetLocation, table: str, retention_hours: int) -> int:
    """Delete data files no version of the last `retention_hours` uses; returns how many. Older
    versions can no longer be read after it (Delta protocol, "VACUUM"). delta-rs records a
    vacuum that deletes files as two commits of its own (VACUUM START, VACUUM END). Retried
    whole after a transient error: a second vacuum deletes what the first left."""

    delta = open_table(where, table)
    if delta is None:
        return 0

    def run() -> int:
        delta.update_incremental()  # past a VACUUM START a failed try may have committed
        removed = delta.vacuum(
            retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
        )
        delta.cleanup_metadata()
        return len(removed)

    return retrying(run, where.attempts)
