"""The labeled dataset: its schema, its tables, and immutable versions written to S3.

A version folder holds `documents/` and `entities/` Parquet files and `manifest.json`; the
top-level `_latest.json` is written last, so a reader that follows it never sees a partial
version. Plain pyarrow or pandas read a version folder with no project code.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from pii_assets.bucket import (
    CONDITION_FAILED_CODES,
    BucketLayout,
    ObjectInfo,
    error_code,
    get_json,
    list_objects,
    put_json,
    read_object,
    require_private_bucket,
    write_object,
)
from pii_assets.dataset_card import render_card, version_facts
from pii_assets.models import STATUSES_WITH_ENTITIES, DocumentResult, ErrorClass, Status

# 2: `partial` status, coverage columns on documents, location columns on entities, nullable page.
# 3: the value policy: `entity_values` on documents, `text` nullable (policy `none`), the policy in
#    the manifest.
DATASET_FORMAT = 3
LATEST_POINTER = "_latest.json"
_VERSION_RE = re.compile(r"^v(\d{6,})$")

UNREAD_PART = pa.struct(
    [
        pa.field("part", pa.string(), nullable=False),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ]
)

DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field("document_key", pa.string(), nullable=False),
        pa.field("partition_key", pa.string(), nullable=False),
        pa.field("etag", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error_class", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("pages", pa.int32(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("classification", pa.string()),
        pa.field("extractor", pa.string()),
        pa.field("model", pa.string()),
        pa.field("code_version", pa.string()),
        pa.field("cost_usd", pa.float64(), nullable=False),
        pa.field("input_tokens", pa.int64(), nullable=False),
        pa.field("output_tokens", pa.int64(), nullable=False),
        pa.field("entity_count", pa.int32(), nullable=False),
        pa.field("processed_at", pa.timestamp("us", tz="UTC")),
        # Coverage: how the document was read and what could not be read (models.Coverage).
        pa.field("pages_text", pa.int32(), nullable=False),
        pa.field("pages_ocr", pa.int32(), nullable=False),
        pa.field("pages_text_and_ocr", pa.int32(), nullable=False),
        pa.field("parts_read", pa.map_(pa.string(), pa.int32())),
        pa.field("unread_parts", pa.list_(UNREAD_PART)),
        # What this document's entity rows keep of each value (value_policy.VALUE_POLICIES).
        pa.field("entity_values", pa.string(), nullable=False),
    ]
)

ENTITIES_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("document_key", pa.string(), nullable=False),
        pa.field("page", pa.int32()),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("text", pa.string()),  # as the value policy keeps it; null under `none`
        pa.field("x0", pa.float64()),
        pa.field("y0", pa.float64()),
        pa.field("x1", pa.float64()),
        pa.field("y1", pa.float64()),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        # Location beyond page and box (models.Entity).
        pa.field("part", pa.string()),
        pa.field("area", pa.string(), nullable=False),
        pa.field("cell", pa.string()),
        pa.field("column_header", pa.string()),
        pa.field("line", pa.int32()),
        pa.field("char_start", pa.int64()),
        pa.field("char_end", pa.int64()),
        pa.field("json_path", pa.string()),
    ]
)

_ENTITY_FIELDS = tuple(
    name for name in ENTITIES_SCHEMA.names if name not in ("entity_id", "document_key")
)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(column).to_pylist()
    return dict(sorted((c["values"], c["counts"]) for c in counts))


def version_name(number: int) -> str:
    return f"v{number:06d}"


def _timestamp(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _entity_id(document_key: str, etag: str, index: int, entity_type: str, page: int | None) -> str:
    # Reproducible: the same object version yields the same ids on every rerun.
    raw = f"{document_key}\0{etag}\0{page or 0}\0{entity_type}\0{index}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def placeholder_result(info: ObjectInfo, error_class: ErrorClass, message: str) -> DocumentResult:
    """The row of an object that has no result for its current version."""
    return DocumentResult(
        document_key=info.key,
        etag=info.etag,
        status=Status.SKIPPED,
        error_class=str(error_class),
        error_message=message,
    )


def build_tables(
    rows: Iterable[tuple[str, DocumentResult]],
) -> tuple[pa.Table, pa.Table]:
    """The documents and entities tables from (partition_key, result) pairs."""
    docs: dict[str, list[Any]] = {name: [] for name in DOCUMENTS_SCHEMA.names}
    ents: dict[str, list[Any]] = {name: [] for name in ENTITIES_SCHEMA.names}
    for partition_key, result in rows:
        entities = result.entities if result.status in STATUSES_WITH_ENTITIES else []
        coverage = result.coverage
        doc = {
            "document_key": result.document_key,
            "partition_key": partition_key,
            "etag": result.etag,
            "status": str(result.status),
            "error_class": result.error_class,
            "error_message": result.error_message,
            "pages": result.pages,
            "truncated": result.truncated,
            "classification": result.classification,
            "extractor": result.extractor or None,
            "model": result.model,
            "code_version": result.code_version or None,
            "cost_usd": float(result.cost_usd),
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "entity_count": len(entities),
            "processed_at": _timestamp(result.processed_at),
            "pages_text": coverage.pages_text,
            "pages_ocr": coverage.pages_ocr,
            "pages_text_and_ocr": coverage.pages_text_and_ocr,
            "parts_read": sorted(coverage.parts.items()),
            "unread_parts": [
                {"part": u.part, "error_class": u.error_class, "message": u.message}
                for u in coverage.unread
            ],
            "entity_values": result.entity_values,
        }
        for name, value in doc.items():
            docs[name].append(value)
        for index, e in enumerate(entities):
            ents["entity_id"].append(
                _entity_id(result.document_key, result.etag, index, e.entity_type, e.page)
            )
            ents["document_key"].append(result.document_key)
            for name in _ENTITY_FIELDS:
                ents[name].append(getattr(e, name))
    return (
        pa.Table.from_pydict(docs, schema=DOCUMENTS_SCHEMA),
        pa.Table.from_pydict(ents, schema=ENTITIES_SCHEMA),
    )


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    parent: str | None
    path: str
    documents: int
    entities: int
    manifest: dict[str, Any]


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_version(client: Any, layout: BucketLayout, version: str) -> tuple[pa.Table, pa.Table]:
    """A version's documents and entities tables, read with plain pyarrow from S3."""
    tables = []
    for name, schema in (("documents", DOCUMENTS_SCHEMA), ("entities", ENTITIES_SCHEMA)):
        prefix = f"{layout.dataset_prefix}{version}/{name}/"
        parts = [
            pq.read_table(io.BytesIO(read_object(client, layout.bucket, info.key).data or b""))
            for info in list_objects(client, layout.bucket, prefix)
            if info.key.endswith(".parquet")
        ]
        tables.append(pa.concat_tables(parts) if parts else schema.empty_table())
    return tables[0], tables[1]


def read_manifest(client: Any, layout: BucketLayout, version: str) -> dict[str, Any] | None:
    return get_json(client, layout.bucket, f"{layout.dataset_prefix}{version}/manifest.json")


def latest_version(client: Any, layout: BucketLayout) -> str | None:
    pointer = get_json(client, layout.bucket, layout.dataset_prefix + LATEST_POINTER)
    return pointer["version"] if pointer else None


def existing_versions(client: Any, layout: BucketLayout) -> list[str]:
    """Version folders present in the bucket, oldest first (published or being written)."""
    found: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(
        Bucket=layout.bucket, Prefix=layout.dataset_prefix, Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", ()):
            name = common["Prefix"][len(layout.dataset_prefix) :].rstrip("/")
            if _VERSION_RE.match(name):
                found.append(name)
    return sorted(found, key=lambda name: int(name[1:]))


def _claim_version(client: Any, layout: BucketLayout, created_at: str) -> str:
    """Claim the next free version number with a conditional write, so racers never share one."""
    versions = existing_versions(client, layout)
    number = int(versions[-1][1:]) + 1 if versions else 1
    for _ in range(100):
        name = version_name(number)
        try:
            put_json(
                client,
                layout,
                f"{layout.dataset_prefix}{name}/_claim.json",
                {"claimed_at": created_at},
                if_none_match="*",
            )
            return name
        except ClientError as exc:
            if error_code(exc) not in CONDITION_FAILED_CODES:
                raise
            number += 1
    raise RuntimeError("could not claim a dataset version after 100 attempts")


def publish_version(
    client: Any,
    layout: BucketLayout,
    documents: pa.Table,
    entities: pa.Table,
    *,
    code_version: str,
    extra_manifest: dict[str, Any] | None = None,
    promote: bool = True,
) -> PublishedVersion:
    """Write a new immutable version, then move `_latest.json` to it.

    With `promote=False` (a blocking check failed) the folder is written for inspection, marked
    `rejected` in its manifest, and `_latest.json` does not move.

    Raises `bucket.PublicOutputError` before writing anything when the layout requires a
    private bucket and this one does not block public access.
    """
    require_private_bucket(client, layout)
    created_at = datetime.now(UTC).isoformat()
    parent = latest_version(client, layout)
    version = _claim_version(client, layout, created_at)
    root = f"{layout.dataset_prefix}{version}/"
    for folder, table in (("documents", documents), ("entities", entities)):
        write_object(
            client,
            layout,
            f"{root}{folder}/part-00000.parquet",
            _parquet_bytes(table),
            content_type="application/vnd.apache.parquet",
        )
    manifest = {
        "format": DATASET_FORMAT,
        "version": version,
        "parent_version": parent,
        "created_at": created_at,
        "code_version": code_version,
        "status": "published" if promote else "rejected",
        "row_counts": {"documents": documents.num_rows, "entities": entities.num_rows},
        "schema": {
            "documents": [f"{f.name}: {f.type}" for f in DOCUMENTS_SCHEMA],
            "entities": [f"{f.name}: {f.type}" for f in ENTITIES_SCHEMA],
        },
        "facts": version_facts(documents, entities),
        "entity_values": {
            **layout.value_policy.manifest_entry(),
            "documents": _value_counts(documents.column("entity_values")),
        },
        **(extra_manifest or {}),
    }
    write_object(
        client,
        layout,
        f"{root}README.md",
        render_card(manifest).encode("utf-8"),
        content_type="text/markdown; charset=utf-8",
    )
    # The manifest is the version's last file: a folder without one is not a published version.
    put_json(client, layout, f"{root}manifest.json", manifest)
    path = layout.uri(root)
    current = latest_version(client, layout)
    # The pointer only moves forward: a slower concurrent publisher must not move it back.
    if promote and (current is None or int(current[1:]) < int(version[1:])):
        put_json(
            client,
            layout,
            layout.dataset_prefix + LATEST_POINTER,
            {"version": version, "path": path, "created_at": created_at},
        )
    return PublishedVersion(
        version=version,
        parent=parent,
        path=path,
        documents=documents.num_rows,
        entities=entities.num_rows,
        manifest=manifest,
    )


def prune_versions(client: Any, layout: BucketLayout, keep: int) -> list[str]:
    """Delete all but the newest `keep` version folders (0 keeps all); returns those deleted.

    The version `_latest.json` points to is never deleted, nor anything newer than it (a
    concurrent publisher may be writing it).
    """
    if keep <= 0:
        return []
    versions = existing_versions(client, layout)
    latest = latest_version(client, layout)
    protected = set(versions[-keep:])
    if latest:
        protected |= {v for v in versions if int(v[1:]) >= int(latest[1:])}
    doomed = [v for v in versions if v not in protected]
    for version in doomed:
        keys = [
            {"Key": info.key}
            for info in list_objects(client, layout.bucket, f"{layout.dataset_prefix}{version}/")
        ]
        for start in range(0, len(keys), 1000):
            client.delete_objects(
                Bucket=layout.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )
    return doomed
