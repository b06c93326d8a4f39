"""The labeled dataset's schema and how document results become its rows (no I/O here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from pii_assets.bucket import ObjectInfo
from pii_assets.models import STATUSES_WITH_ENTITIES, DocumentResult, ErrorClass, Status

# 2: `partial` status, coverage columns on documents, location columns on entities, nullable page.
# 3: Delta Lake tables (one commit per version) instead of a folder per version; the value
#    policy: `entity_values` on documents, entity `text` nullable (policy `none`).
DATASET_FORMAT = 3

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
        pa.field("text", pa.string()),
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
        pa.field("data_path", pa.string()),
    ]
)

_ENTITY_FIELDS = tuple(
    name for name in ENTITIES_SCHEMA.names if name not in ("entity_id", "document_key")
)


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
