"""Dagster metadata built from results: counts, classes and costs, never PII values."""

from __future__ import annotations

from collections import Counter
from typing import Any

import dagster as dg
import pyarrow as pa

from pii_assets.dataset import PublishedVersion
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
    return metadata


def _column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=f.name, type=str(f.type), constraints=None) for f in schema]
    )


def dataset_metadata(
    published: PublishedVersion, documents: pa.Table, entities: pa.Table
) -> dict[str, Any]:
    status_counts = Counter(documents.column("status").to_pylist())
    entity_counts = Counter(entities.column("entity_type").to_pylist())
    cost = sum(documents.column("cost_usd").to_pylist())
    return {
        "version": published.version,
        "parent_version": published.parent or "",
        "path": dg.MetadataValue.url(published.path),
        "dagster/row_count": documents.num_rows,
        "dagster/column_schema": _column_schema(documents.schema),
        "entities_schema": _column_schema(entities.schema),
        "documents": documents.num_rows,
        "entities": entities.num_rows,
        "documents_by_status": dg.MetadataValue.json(dict(sorted(status_counts.items()))),
        "entities_by_type": dg.MetadataValue.json(dict(sorted(entity_counts.items()))),
        "cost_usd": dg.MetadataValue.float(round(cost, 6)),
    }
