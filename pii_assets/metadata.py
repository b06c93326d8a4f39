"""Dagster metadata built from results: counts, classes and costs, never PII values."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from pii_assets.dataset import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA, PublishedVersion
from pii_assets.models import DocumentResult


def partition_metadata(result: DocumentResult) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "status": str(result.status),
        "pages": result.pages,
        "truncated": result.truncated,
        "entities": len(result.entities),
        "entity_counts": dg.MetadataValue.json(result.entity_counts()),
        "extractor": result.extractor,
        "cost_usd": dg.MetadataValue.float(float(result.cost_usd)),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "duration_s": dg.MetadataValue.float(round(result.duration_s, 3)),
        "etag": result.etag,
    }
    if result.model:
        metadata["model"] = result.model
    if result.classification:
        metadata["classification"] = result.classification
    if result.error_class:
        metadata["error_class"] = result.error_class
    coverage = result.coverage
    metadata["pages_by_source"] = dg.MetadataValue.json(
        {
            "text": coverage.pages_text,
            "ocr": coverage.pages_ocr,
            "text+ocr": coverage.pages_text_and_ocr,
        }
    )
    metadata["parts_read"] = dg.MetadataValue.json(dict(sorted(coverage.parts.items())))
    metadata["unread_parts"] = len(coverage.unread)
    if coverage.unread:
        # Parts and classes only: the messages name them too, but nothing more is needed here.
        metadata["unread"] = dg.MetadataValue.json(
            [{"part": u.part, "error_class": u.error_class} for u in coverage.unread[:50]]
        )
    return metadata


def _column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=f.name, type=str(f.type), constraints=None) for f in schema]
    )


def dataset_metadata(published: PublishedVersion) -> dict[str, Any]:
    """The version's figures, taken from its manifest so the UI and the card always agree."""
    facts = published.manifest["facts"]
    return {
        "version": published.version,
        "parent_version": published.parent or "",
        "path": dg.MetadataValue.url(published.path),
        "dagster/row_count": published.documents,
        "dagster/column_schema": _column_schema(DOCUMENTS_SCHEMA),
        "entities_schema": _column_schema(ENTITIES_SCHEMA),
        "documents": published.documents,
        "entities": published.entities,
        "documents_by_status": dg.MetadataValue.json(facts["documents_by_status"]),
        "documents_partial": facts["documents_by_status"].get("partial", 0),
        "entities_by_type": dg.MetadataValue.json(facts["entities_by_type"]),
        "pages_by_source": dg.MetadataValue.json(facts["pages_by_source"]),
        "unread_parts_by_error_class": dg.MetadataValue.json(facts["unread_parts_by_error_class"]),
        "cost_usd": dg.MetadataValue.float(facts["total_cost_usd"]),
    }
