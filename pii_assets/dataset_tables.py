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

Some delta-rs calls (`history`, `load_cdf`, `scan`) hold Python's GIL while they wait on S3; an
S3 server running in a thread of the same process (the embedded one, in tests and the demo) then
never answers. Publishing uses none of them: it reads rows through pyarrow, file pruning through
the log's per-file statistics (`get_add_actions`). Only `dataset diff` reads change data.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from pii_assets.bucket import BucketLayout

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
TABLE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}

__all__ = ["CommitFailedError", "DatasetLocation", "DeltaError"]


@dataclass(frozen=True)
class DatasetLocation:
    """Where the tables live and how delta-rs reaches them (object_store option names)."""

    bucket: str
    prefix: str  # the dataset prefix, ending in "/"
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)

    def uri(self, table: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{table}"

    def key(self, table: str) -> str:
        return f"{self.prefix}{table}/"


def _is_aws_endpoint(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


def storage_options(client: Any, layout: BucketLayout) -> dict[str, str]:
    """delta-rs options matching a boto3 client: its endpoint (only a non-AWS one; AWS is found
    from the region), region, the same credentials, and the layout's server-side encryption.

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
    return DatasetLocation(layout.bucket, layout.dataset_prefix, storage_options(client, layout))


def open_table(where: DatasetLocation, table: str, version: int | None = None) -> DeltaTable | None:
    """The table at `version` (None: the latest), or None if it was never created."""
    try:
        return DeltaTable(where.uri(table), version=version, storage_options=where.storage_options)
    except TableNotFoundError:
        return None


def ensure_table(where: DatasetLocation, table: str, schema: pa.Schema) -> DeltaTable:
    """The table, created empty (its version 0) if missing; a racing creator's table is used."""
    existing = open_table(where, table)
    if existing is not None:
        return existing
    try:
        return DeltaTable.create(
            where.uri(table),
            schema,
            mode="error",
            configuration=TABLE_CONFIGURATION,
            storage_options=where.storage_options,
        )
    except Exception:
        # Created by a concurrent publisher between our look and our create (version 0 exists).
        existing = open_table(where, table)
        if existing is None:
            raise
        return existing


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
    rows = dataset.to_table(filter=pc.field(column).isin(value_set))
    return conform(rows, schema)


def read_table(table: DeltaTable, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """The whole table at the version `table` was opened at, with the documented schema."""
    rows = table.to_pyarrow_dataset().to_table(columns=columns)
    if columns is not None:
        return conform(rows, pa.schema([schema.field(name) for name in columns]))
    return conform(rows, schema)


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows as read back (Delta stores no Arrow nullability or map-key types) in `schema`."""
    rows = rows.select(schema.names)
    if rows.schema == schema:
        return rows
    return pa.Table.from_batches([batch.cast(schema) for batch in rows.to_batches()], schema=schema)


def replace_rows(
    table: DeltaTable,
    column: str,
    keys: Iterable[str],
    rows: pa.Table,
    *,
    publish_id: str,
    full: bool = False,
) -> int:
    """One commit that deletes every row whose `column` is in `keys` and adds `rows` (Delta's
    "replace where"); `full` replaces the whole table. Returns the version committed.

    A concurrent commit that touched the same rows makes this one fail with
    `CommitFailedError` (delta-rs's conflict checker); the caller starts over from the new
    table. `rows` are written sorted by `column` so each new file covers a narrow key range.
    """
    keys = sorted(set(keys))
    rows = rows.sort_by(column) if rows.num_rows else rows
    properties = CommitProperties(custom_metadata={"pii.publish_id": publish_id})
    writer = WriterProperties(compression="ZSTD")
    if full:
        mode, predicate = "overwrite", None
    elif keys:
        mode, predicate = "overwrite", sql_in(column, keys)
    else:
        mode, predicate = "append", None
    write_deltalake(
        table,
        rows,
        mode=mode,
        predicate=predicate,
        target_file_size=TARGET_FILE_BYTES,
        writer_properties=writer,
        commit_properties=properties,
    )
    return table.version()


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
    reader = delta.load_cdf(
        starting_version=after_version + 1, ending_version=up_to_version, columns=[column]
    )
    changes = pa.table(reader.read_all())
    return set(pc.unique(changes.column(column)).to_pylist())


def vacuum(where: DatasetLocation, table: str, retention_hours: int) -> int:
    """Delete data files no version of the last `retention_hours` uses; returns how many. Older
    versions can no longer be read after it (Delta protocol, "VACUUM")."""
    delta = open_table(where, table)
    if delta is None:
        return 0
    removed = delta.vacuum(
        retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
    )
    delta.cleanup_metadata()
    return len(removed)
