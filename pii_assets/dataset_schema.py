"""The labeled dataset's schema and how document results become its rows (no I/O here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from pii_assets.bucket import ObjectInfo
from pii_assets.models import STATUSES_WITH_ENTITIES, DocumentResult, Entity, ErrorClass, Status
from pii_assets.review.merge import judge_page
from pii_assets.review.model import (
    ADDED,
    TEXT_PAGE,
    DocumentReview,
    Label,
    entity_box,
    entity_span,
    page_key,
)

# 2: `partial` status, coverage columns on documents, location columns on entities, nullable page.
# 3: Delta Lake tables (one commit per version) instead of a folder per version; the value
#    policy: `entity_values` on documents, entity `text` nullable (policy `none`).
# 4: human review (entity `review_status` and the reviewer's type, box and span; documents'
#    `reviewed_pages`) and redacted copies (documents' `redaction`, `redacted_copy`). The new
#    columns are nullable: tables of format 3 gain them (null in rows written before).
DATASET_FORMAT = 4

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
        # Pages (or a text document's text) of this object version a person reviewed.
        pa.field("reviewed_pages", pa.int32()),
        # "redacted" when `redacted_copy` holds a redacted copy of this object version, else why
        # not (pii_assets/redaction); null: redaction has not run for this version.
        pa.field("redaction", pa.string()),
        pa.field("redacted_copy", pa.string()),
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
        # Human review (pii_assets/review): null on pages nobody reviewed; else confirmed,
        # corrected, added or rejected, with the reviewer's type, box and span (null: rejected).
        pa.field("review_status", pa.string()),
        pa.field("reviewed_entity_type", pa.string()),
        pa.field("reviewed_x0", pa.float64()),
        pa.field("reviewed_y0", pa.float64()),
        pa.field("reviewed_x1", pa.float64()),
        pa.field("reviewed_y1", pa.float64()),
        pa.field("reviewed_char_start", pa.int64()),
        pa.field("reviewed_char_end", pa.int64()),
    ]
)

_REVIEW_FIELDS = (
    "review_status",
    "reviewed_entity_type",
    "reviewed_x0",
    "reviewed_y0",
    "reviewed_x1",
    "reviewed_y1",
    "reviewed_char_start",
    "reviewed_char_end",
)

_ENTITY_FIELDS = tuple(
    name
    for name in ENTITIES_SCHEMA.names
    if name not in ("entity_id", "document_key") and name not in _REVIEW_FIELDS
)


@dataclass(frozen=True)
class RowExtras:
    """What a document's rows take in besides its result (`pii_assets/row_extras.py` loads it):
    the review of its object version, and its redaction record's outcome and copy."""

    review: DocumentReview | None = None
    redaction: str | None = None
    redacted_copy: str | None = None


def _timestamp(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _entity_id(document_key: str, etag: str, index: int, entity_type: str, page: int | None) -> str:
    # Reproducible: the same object version yields the same ids on every rerun.
    raw = f"{document_key}\0{etag}\0{page or 0}\0{entity_type}\0{index}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def _added_id(document_key: str, etag: str, page: str, label_id: str) -> str:
    raw = f"{document_key}\0{etag}\0review\0{page}\0{label_id}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def _review_columns(status: str | None, label: Label | None) -> dict[str, Any]:
    box = label.box if label is not None and label.box is not None else (None,) * 4
    span = label.span if label is not None and label.span is not None else (None, None)
    return {
        "review_status": status,
        "reviewed_entity_type": label.entity_type if label is not None else None,
        "reviewed_x0": box[0],
        "reviewed_y0": box[1],
        "reviewed_x1": box[2],
        "reviewed_y1": box[3],
        "reviewed_char_start": span[0],
        "reviewed_char_end": span[1],
    }


def _added_entity(page: str, label: Label) -> Entity:
    """A label only the reviewer drew, as an entity row: the reviewer's type and place,
    confidence 1, source "review"."""
    box = label.box or (None, None, None, None)
    span = label.span or (None, None)
    return Entity(
        entity_type=label.entity_type,
        text=None,  # reviews keep no value (review/model.py)
        page=None if page == TEXT_PAGE else int(page),
        x0=box[0],
        y0=box[1],
        x1=box[2],
        y1=box[3],
        confidence=1.0,
        source="review",
        area="text" if page == TEXT_PAGE else "page",
        char_start=span[0],
        char_end=span[1],
    )


def entity_rows(
    result: DocumentResult, entities: list[Entity], review: DocumentReview | None
) -> Iterable[tuple[str, Entity, dict[str, Any]]]:
    """(entity id, entity, review columns) of a document's rows: its machine entities, judged on
    the pages `review` covers (`review.merge`), then the labels only the reviewer drew."""
    ids = [
        _entity_id(result.document_key, result.etag, index, e.entity_type, e.page)
        for index, e in enumerate(entities)
    ]
    judged: dict[str, dict[str, Any]] = {}
    added: list[tuple[str, Label]] = []
    if review is not None and review.etag == result.etag:
        by_page: dict[str, list[tuple[str, Entity]]] = {key: [] for key in review.pages}
        for entity_id, entity in zip(ids, entities, strict=True):
            key = page_key(entity)
            # An entity without a box or span was never shown to the reviewer: not judged.
            located = entity_box(entity) is not None or entity_span(entity) is not None
            if key in by_page and located:
                by_page[key].append((entity_id, entity))
        for key, machine in by_page.items():
            outcome = judge_page(machine, review.pages[key])
            for entity_id, judgement in outcome.judged.items():
                judged[entity_id] = _review_columns(judgement.status, judgement.label)
            added.extend((key, label) for label in outcome.added)
    unreviewed = _review_columns(None, None)
    for entity_id, entity in zip(ids, entities, strict=True):
        yield entity_id, entity, judged.get(entity_id, unreviewed)
    for key, label in added:
        entity_id = _added_id(result.document_key, result.etag, key, label.label_id)
        yield entity_id, _added_entity(key, label), _review_columns(ADDED, label)


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
    extras: Mapping[str, RowExtras] | None = None,
) -> tuple[pa.Table, pa.Table]:
    """The documents and entities tables from (partition_key, result) pairs; `extras` by
    document key (reviews of other object versions than the result's are ignored)."""
    docs: dict[str, list[Any]] = {name: [] for name in DOCUMENTS_SCHEMA.names}
    ents: dict[str, list[Any]] = {name: [] for name in ENTITIES_SCHEMA.names}
    extras = extras or {}
    nothing = RowExtras()
    for partition_key, result in rows:
        entities = result.entities if result.status in STATUSES_WITH_ENTITIES else []
        coverage = result.coverage
        extra = extras.get(result.document_key, nothing)
        review = extra.review
        # A review holds for the object version it was made on, and only where entities are kept.
        if review is not None and (
            review.etag != result.etag or result.status not in STATUSES_WITH_ENTITIES
        ):
            review = None
        built = list(entity_rows(result, entities, review))
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
            "entity_count": len(built),
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
            "reviewed_pages": len(review.pages) if review is not None else 0,
            "redaction": extra.redaction,
            "redacted_copy": extra.redacted_copy,
        }
        for name, value in doc.items():
            docs[name].append(value)
        for entity_id, e, review_columns in built:
            ents["entity_id"].append(entity_id)
            ents["document_key"].append(result.document_key)
            for name in _ENTITY_FIELDS:
                ents[name].append(getattr(e, name))
            for name, value in review_columns.items():
                ents[name].append(value)
    return (
        pa.Table.from_pydict(docs, schema=DOCUMENTS_SCHEMA),
        pa.Table.from_pydict(ents, schema=ENTITIES_SCHEMA),
    )
