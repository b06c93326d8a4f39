"""The labeled dataset's versions on S3: two Delta Lake tables, one commit per version.

    {dataset_prefix}documents/              Delta table, one row per object
    {dataset_prefix}entities/               Delta table, one row per entity
    {dataset_prefix}versions/v000042.json   the version's manifest (written after its commits)
    {dataset_prefix}versions/v000042.md     its dataset card
    {dataset_prefix}_latest.json            the newest version; moves only forward

Dataset version N is version N of the `documents` table (created empty as its version 0); its
manifest names the `entities` table version committed with it. A publish replaces only the rows
of documents whose content changed (and deletes those of removed documents): cost and bytes
written follow the changes, not the dataset. A publish that changes nothing commits nothing.

Publishing is optimistic: read the base version, prepare, commit `entities` then `documents`;
a conflicting concurrent commit (delta-rs's conflict checker) makes it start over from the new
base, so racing publishers never lose or duplicate a document.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError

from pii_assets.bucket import (
    BucketLayout,
    error_code,
    put_json,
    require_private_bucket,
    write_object,
)
from pii_assets.dataset_card import combine_facts, render_card, version_facts
from pii_assets.dataset_changes import DatasetDiff, diff_versions, fingerprints
from pii_assets.dataset_schema import (
    DATASET_FORMAT,
    DOCUMENTS_SCHEMA,
    ENTITIES_SCHEMA,
    build_tables,
    placeholder_result,
)
from pii_assets.dataset_tables import (
    DOCUMENTS,
    ENTITIES,
    CommitFailedError,
    DatasetLocation,
    DeltaError,
    changed_values,
    ensure_table,
    location,
    new_publish_id,
    open_table,
    read_table,
    replace_rows,
    rows_for_keys,
    vacuum,
)
from pii_assets.dataset_versions import (  # reading versions needs no pyarrow: `dataset list`
    LATEST_POINTER,
    _card_key,
    _is_delta_pointer,
    _key,
    _manifest_key,
    _pointer,
    existing_versions,
    latest_version,
    read_card,
    read_manifest,
    version_name,
    version_number,
)

__all__ = [
    "DATASET_FORMAT",
    "DOCUMENTS_SCHEMA",
    "ENTITIES_SCHEMA",
    "Change",
    "PublishedVersion",
    "build_tables",
    "placeholder_result",
    # reading versions (pii_assets/dataset_versions.py)
    "existing_versions",
    "latest_version",
    "read_card",
    "read_manifest",
    "version_name",
    "version_number",
]

REJECTED_FOLDER = "rejected/"
# A publish that lost a race starts over; beyond this many tries it gives up (and says so).
MAX_ATTEMPTS = 8
# Above this many changed documents a full build rewrites the tables instead of replacing rows
# by a predicate naming each document.
_MAX_KEYED_REPLACE = 20_000
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


class PublishConflict(RuntimeError):
    """Concurrent publishers kept winning the race for `MAX_ATTEMPTS` tries."""


@dataclass(frozen=True)
class Change:
    """What a publish would do: replace the rows of `partitions` by `documents` / `entities`
    (a removed partition has no new row); `full` replaces the whole tables."""

    documents: pa.Table
    entities: pa.Table
    partitions: frozenset[str] = frozenset()
    full: bool = False


@dataclass(frozen=True)
class Prepared:
    """A change against its base version, reduced to the documents whose rows really change."""

    change: Change
    base_version: int
    old_documents: pa.Table  # rows the change replaces or removes
    old_entities: pa.Table
    diff: DatasetDiff
    # Documents of the change whose key other (kept) rows of the base already hold.
    existing_duplicates: int = 0

    @property
    def unchanged(self) -> bool:
        return not (self.diff.added or self.diff.removed or self.diff.changed)


@dataclass(frozen=True)
class PublishedVersion:
    """What a publish did. `status`: "published", "rejected" (a blocking check failed; nothing
    committed) or "unchanged" (the tables would equal the base's: no new version)."""

    version: str | None
    parent: str | None
    path: str
    documents: int
    entities: int
    manifest: dict[str, Any] = field(default_factory=dict)
    status: str = "published"


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_version(
    client: Any, layout: BucketLayout, version: str, where: DatasetLocation | None = None
) -> tuple[pa.Table, pa.Table]:
    """A version's documents and entities tables (Delta time travel to the versions its
    manifest names). Raises LookupError if the tables do not reach back that far."""
    where = where or location(client, layout)
    manifest = read_manifest(client, layout, version) or {}
    number = version_number(version)
    tables = []
    for name, schema, key in (
        (DOCUMENTS, DOCUMENTS_SCHEMA, "documents_version"),
        (ENTITIES, ENTITIES_SCHEMA, "entities_version"),
    ):
        try:
            delta = open_table(where, name, manifest.get(key, number))
            if delta is None:
                raise LookupError(f"{version} cannot be read: no {name} table")
            tables.append(read_table(delta, schema))
        except (DeltaError, OSError, ValueError, RuntimeError) as exc:
            # delta-rs: no such table version; pyarrow: a data file vacuumed away.
            raise LookupError(f"{version} cannot be read: {type(exc).__name__}") from None
    return tables[0], tables[1]


def diff_between(client: Any, layout: BucketLayout, old: str, new: str) -> DatasetDiff:
    """What changed from version `old` to `new`: the documents the tables' change data feed
    names for the commits in between, their rows at both versions compared by content, and
    entity counts by type from both manifests. Where the change data no longer covers the range
    (vacuumed), both versions are read whole and compared."""
    where = location(client, layout)
    manifests = [read_manifest(client, layout, v) or {} for v in (old, new)]
    numbers = {
        name: [
            m.get(f"{name}_version", version_number(v))
            for m, v in zip(manifests, (old, new), strict=True)
        ]
        for name in (DOCUMENTS, ENTITIES)
    }
    try:
        keys: set[str] = set()
        for name in (DOCUMENTS, ENTITIES):
            low, high = sorted(numbers[name])
            keys |= changed_values(where, name, "document_key", low, high)
        rows = []
        for index in (0, 1):
            documents = open_table(where, DOCUMENTS, numbers[DOCUMENTS][index])
            entities = open_table(where, ENTITIES, numbers[ENTITIES][index])
            if documents is None or entities is None:
                raise LookupError("no tables")
            rows.append(
                (
                    rows_for_keys(documents, "document_key", keys, DOCUMENTS_SCHEMA),
                    rows_for_keys(entities, "document_key", keys, ENTITIES_SCHEMA),
                )
            )
    except Exception:  # the change data or a data file is gone: compare the versions whole
        rows = [read_version(client, layout, v, where) for v in (old, new)]
    diff = diff_versions(*rows[0], *rows[1])
    before = [m.get("facts", {}).get("entities_by_type") for m in manifests]
    if before[0] is None or before[1] is None:
        return diff
    return DatasetDiff(diff.added, diff.removed, diff.changed, before[0], before[1])


# --- publishing ---------------------------------------------------------------------------


def _in(column: pa.ChunkedArray, values: Iterable[str]) -> pa.ChunkedArray:
    return pc.is_in(column, value_set=pa.array(sorted(set(values)), type=pa.string()))


def _prepare(documents: Any, entities: Any, change: Change) -> Prepared:
    """`change` against the tables as opened: the rows it replaces, what really changes."""
    base = documents.version()
    if change.full:
        old_docs = read_table(documents, DOCUMENTS_SCHEMA)
        old_ents = read_table(entities, ENTITIES_SCHEMA)
    else:
        old_docs = rows_for_keys(documents, "partition_key", change.partitions, DOCUMENTS_SCHEMA)
        keys = set(old_docs.column("document_key").to_pylist())
        keys |= set(change.documents.column("document_key").to_pylist())
        old_ents = rows_for_keys(entities, "document_key", keys, ENTITIES_SCHEMA)
        old_ents = old_ents.filter(_in(old_ents.column("document_key"), keys))
    old = fingerprints(old_docs, old_ents)
    new = fingerprints(change.documents, change.entities)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    touched = set(added) | set(removed) | set(changed)
    if change.full and touched and len(touched) > _MAX_KEYED_REPLACE:
        # Most of the table changes: rewrite it whole rather than name every document.
        return Prepared(change, base, old_docs, old_ents, DatasetDiff(added, removed, changed))

    # Only documents whose rows change are written; the rest keep their rows (and processed_at).
    new_docs = change.documents.filter(_in(change.documents.column("document_key"), touched))
    new_ents = change.entities.filter(_in(change.entities.column("document_key"), touched))
    old_docs = old_docs.filter(_in(old_docs.column("document_key"), touched))
    old_ents = old_ents.filter(_in(old_ents.column("document_key"), touched))
    partitions = set(new_docs.column("partition_key").to_pylist())
    partitions |= set(old_docs.column("partition_key").to_pylist())
    duplicates = 0
    if new_docs.num_rows:
        holders = rows_for_keys(
            documents,
            "document_key",
            new_docs.column("document_key").to_pylist(),
            DOCUMENTS_SCHEMA,
        )
        kept = holders.filter(pc.invert(_in(holders.column("partition_key"), change.partitions)))
        duplicates = kept.num_rows
    return Prepared(
        change=Change(new_docs, new_ents, frozenset(partitions)),
        base_version=base,
        old_documents=old_docs,
        old_entities=old_ents,
        diff=DatasetDiff(added=added, removed=removed, changed=changed),
        existing_duplicates=duplicates,
    )


def _parent_facts(
    client: Any, layout: BucketLayout, where: DatasetLocation, number: int
) -> tuple[dict[str, Any], dict[str, int]]:
    """Facts and row counts of version `number` (0: the empty tables): from its manifest, or
    computed from its tables when it has none (its publisher stopped before writing it)."""
    if number <= 0:
        return version_facts(DOCUMENTS_SCHEMA.empty_table(), ENTITIES_SCHEMA.empty_table()), {
            "documents": 0,
            "entities": 0,
        }
    manifest = read_manifest(client, layout, version_name(number))
    if manifest and "facts" in manifest:
        return manifest["facts"], manifest["row_counts"]
    documents = open_table(where, DOCUMENTS, number)
    entities = open_table(where, ENTITIES)
    docs = read_table(documents, DOCUMENTS_SCHEMA) if documents else DOCUMENTS_SCHEMA.empty_table()
    ents = read_table(entities, ENTITIES_SCHEMA) if entities else ENTITIES_SCHEMA.empty_table()
    return version_facts(docs, ents), {"documents": docs.num_rows, "entities": ents.num_rows}


def _manifest(
    prepared: Prepared,
    *,
    parent_facts: dict[str, Any],
    parent_rows: dict[str, int],
    code_version: str,
    created_at: str,
    value_policy: dict[str, Any],
    full: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """`full`: the version was built from every document's result (a full rebuild), though it
    writes only the documents whose rows changed."""
    change = prepared.change
    minus = version_facts(prepared.old_documents, prepared.old_entities)
    plus = version_facts(change.documents, change.entities)
    facts = combine_facts(parent_facts, minus, plus)
    diff = DatasetDiff(
        added=prepared.diff.added,
        removed=prepared.diff.removed,
        changed=prepared.diff.changed,
        entities_before=parent_facts.get("entities_by_type", {}),
        entities_after=facts["entities_by_type"],
    )
    rows = {
        "documents": parent_rows["documents"]
        - prepared.old_documents.num_rows
        + change.documents.num_rows,
        "entities": parent_rows["entities"]
        - prepared.old_entities.num_rows
        + change.entities.num_rows,
    }
    return {
        "format": DATASET_FORMAT,
        "table_format": "delta",
        "created_at": created_at,
        "code_version": code_version,
        "build": "full" if full else "incremental",
        "row_counts": rows,
        "schema": {
            "documents": [f"{f.name}: {f.type}" for f in DOCUMENTS_SCHEMA],
            "entities": [f"{f.name}: {f.type}" for f in ENTITIES_SCHEMA],
        },
        "facts": facts,
        # What this version's own rows added: cost and tokens of the documents it (re)wrote.
        "version_cost": {
            "cost_usd": round(plus["total_cost_usd"] - minus["total_cost_usd"], 6),
            "input_tokens": plus["input_tokens"] - minus["input_tokens"],
            "output_tokens": plus["output_tokens"] - minus["output_tokens"],
            "documents_written": change.documents.num_rows,
        },
        "changes": diff.summary(),
        # The value policy in force and, per policy, how many documents' rows were written
        # under it (value_policy.py; a changed policy makes the next publish a full rebuild).
        "entity_values": {
            **value_policy,
            "documents": facts.get("documents_by_entity_values", {}),
        },
        **extra,
    }


def _move_pointer(client: Any, layout: BucketLayout, record: dict[str, Any]) -> bool:
    """Point `_latest.json` at `record["version"]` unless it names a newer one: a conditional
    write (`If-Match` on the ETag read, `If-None-Match: *` when absent), read again and retried
    when another publisher wrote in between (S3 User Guide, "Conditional writes"). Returns
    whether it moved."""
    mine = version_number(record["version"])
    for _ in range(50):
        current, etag = _pointer(client, layout)
        if _is_delta_pointer(current) and version_number(current["version"]) >= mine:
            return False
        condition = {"if_match": etag} if etag else {"if_none_match": "*"}
        try:
            put_json(client, layout, _key(layout, LATEST_POINTER), record, **condition)
            return True
        except ClientError as exc:
            if error_code(exc) not in _CONFLICT_CODES:
                raise
    raise PublishConflict("_latest.json kept changing under 50 conditional writes")


def _write_rejected(
    client: Any, layout: BucketLayout, manifest: dict[str, Any], publish_id: str
) -> str:
    stamp = manifest["created_at"].replace(":", "").replace("+0000", "Z")
    name = f"{stamp}-{publish_id[:8]}"
    root = _key(layout, f"{REJECTED_FOLDER}{name}")
    card = render_card(manifest).encode()
    write_object(client, layout, f"{root}.md", card, content_type="text/markdown; charset=utf-8")
    put_json(client, layout, f"{root}.json", manifest)
    return name


Checks = Callable[[Prepared], Sequence[Any]]  # outcomes with .name, .passed, .blocking


def publish(
    client: Any,
    layout: BucketLayout,
    change: Change,
    *,
    code_version: str,
    checks: Checks | None = None,
    extra_manifest: dict[str, Any] | None = None,
    where: DatasetLocation | None = None,
) -> tuple[PublishedVersion, Prepared, list[Any]]:
    """Publish `change` as the next version, or nothing if it changes no document's rows.

    `checks` run on the prepared change; a failing blocking one commits nothing and writes the
    would-be manifest and card under `rejected/` for inspection. Returns what was done, the
    prepared change (its diff) and the check outcomes. Raises PublishConflict when concurrent
    publishers won `MAX_ATTEMPTS` races in a row, and `bucket.PublicOutputError` before writing
    anything when the layout requires a private bucket and this one does not block public access.
    """
    require_private_bucket(client, layout)
    where = where or location(client, layout)
    extra = dict(extra_manifest or {})
    for attempt in range(MAX_ATTEMPTS):
        created_at = datetime.now(UTC).isoformat()
        documents = ensure_table(where, DOCUMENTS, DOCUMENTS_SCHEMA)
        entities = ensure_table(where, ENTITIES, ENTITIES_SCHEMA)
        entities_base = entities.version()
        prepared = _prepare(documents, entities, change)
        base = prepared.base_version
        parent = version_name(base) if base > 0 else None
        outcomes = list(checks(prepared)) if checks else []
        if prepared.unchanged:
            return (
                PublishedVersion(None, parent, where.uri(""), 0, 0, status="unchanged"),
                prepared,
                outcomes,
            )
        parent_facts, parent_rows = _parent_facts(client, layout, where, base)
        manifest = _manifest(
            prepared,
            parent_facts=parent_facts,
            parent_rows=parent_rows,
            code_version=code_version,
            created_at=created_at,
            value_policy=layout.value_policy.manifest_entry(),
            full=change.full,
            extra={**extra, "checks": {o.name: o.passed for o in outcomes}},
        )
        publish_id = new_publish_id()
        rejected = [o.name for o in outcomes if o.blocking and not o.passed]
        if rejected:
            manifest.update(version=None, parent_version=parent, status="rejected")
            name = _write_rejected(client, layout, manifest, publish_id)
            return (
                PublishedVersion(
                    None,
                    parent,
                    _key(layout, REJECTED_FOLDER + name),
                    0,
                    0,
                    manifest,
                    status="rejected",
                ),
                prepared,
                outcomes,
            )
        new = prepared.change
        entity_keys = set(prepared.old_entities.column("document_key").to_pylist())
        entity_keys |= set(prepared.old_documents.column("document_key").to_pylist())
        entity_keys |= set(new.documents.column("document_key").to_pylist())
        try:
            entities_version = replace_rows(
                entities,
                "document_key",
                entity_keys,
                new.entities,
                publish_id=publish_id,
                full=new.full,
                attempts=where.attempts,
            )
            documents_version = replace_rows(
                documents,
                "partition_key",
                new.partitions,
                new.documents,
                publish_id=publish_id,
                full=new.full,
                attempts=where.attempts,
            )
        except CommitFailedError:
            # Another publisher committed rows this change read: start over from its version.
            time.sleep(min(2.0, 0.05 * 2**attempt))
            continue
        paired = (read_manifest(client, layout, parent) or {}) if parent else {}
        consistent = (base == 0 and entities_base == 0) or (
            paired.get("entities_version") == entities_base
        )
        if documents_version != base + 1 or entities_version != entities_base + 1 or not consistent:
            # Another publisher's commit landed in between (on other documents): count from the
            # tables as they are now rather than from the base's facts.
            now_docs = read_table(documents, DOCUMENTS_SCHEMA)
            now_ents = read_table(open_table(where, ENTITIES, entities_version), ENTITIES_SCHEMA)
            manifest["facts"] = version_facts(now_docs, now_ents)
            manifest["row_counts"] = {"documents": now_docs.num_rows, "entities": now_ents.num_rows}
        version = version_name(documents_version)
        parent = version_name(documents_version - 1) if documents_version > 1 else None
        manifest.update(
            version=version,
            parent_version=parent,
            status="published",
            documents_version=documents_version,
            entities_version=entities_version,
            publish_id=publish_id,
        )
        write_object(
            client,
            layout,
            _card_key(layout, version),
            render_card(manifest).encode(),
            content_type="text/markdown; charset=utf-8",
        )
        put_json(client, layout, _manifest_key(layout, version), manifest, if_none_match="*")
        _move_pointer(
            client,
            layout,
            {
                "version": version,
                "documents_version": documents_version,
                "entities_version": entities_version,
                "created_at": created_at,
                "path": where.uri(""),
            },
        )
        return (
            PublishedVersion(
                version,
                parent,
                where.uri(""),
                manifest["row_counts"]["documents"],
                manifest["row_counts"]["entities"],
                manifest,
            ),
            prepared,
            outcomes,
        )
    raise PublishConflict(
        f"concurrent publishers changed the tables during {MAX_ATTEMPTS} tries; try again"
    )


def publish_version(
    client: Any,
    layout: BucketLayout,
    documents: pa.Table,
    entities: pa.Table,
    *,
    code_version: str,
    extra_manifest: dict[str, Any] | None = None,
) -> PublishedVersion:
    """Publish these whole tables as the next version (only the documents whose rows differ
    are written); the dataset's previous rows of other documents are deleted."""
    change = Change(documents, entities, frozenset(), full=True)
    published, _, _ = publish(
        client, layout, change, code_version=code_version, extra_manifest=extra_manifest
    )
    return published


# --- retention ----------------------------------------------------------------------------


def apply_retention(client: Any, layout: BucketLayout, retention_days: float) -> list[str]:
    """Keep every version of the last `retention_days` days readable and no more: vacuum both
    tables (delete data files only older versions use) and drop those versions' manifests and
    cards. 0 keeps everything. The latest version always stays. Returns the versions dropped."""
    if retention_days <= 0:
        return []
    where = location(client, layout)
    for table in (DOCUMENTS, ENTITIES):
        vacuum(where, table, int(retention_days * 24))
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    latest = latest_version(client, layout)
    dropped = []
    for version in existing_versions(client, layout):
        if version == latest:
            continue
        manifest = read_manifest(client, layout, version) or {}
        created = manifest.get("created_at")
        if created and datetime.fromisoformat(created) < cutoff:
            dropped.append(version)
    for version in dropped:
        client.delete_objects(
            Bucket=layout.bucket,
            Delete={
                "Objects": [
                    {"Key": _manifest_key(layout, version)},
                    {"Key": _card_key(layout, version)},
                ],
                "Quiet": True,
            },
        )
    return dropped
