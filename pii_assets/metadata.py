"""Dagster metadata built from results: counts, classes and costs, never PII values."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from pii_assets.dataset_card import success_rate
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
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


def dataset_metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    """A version's figures, taken from its manifest so the UI and the card always agree. Totals
    are plain numbers, so the UI plots them over the asset's materializations: cost and tokens
    of the whole version and of the rows this version wrote, documents by status, success rate
    (`dataset_card.success_rate`)."""
    facts = manifest["facts"]
    by_status = facts["documents_by_status"]
    own = manifest.get("version_cost", {})
    rate = success_rate(by_status)
    metadata: dict[str, Any] = {
        "version": manifest["version"],
        "parent_version": manifest.get("parent_version") or "",
        "documents_table_version": manifest.get("documents_version", 0),
        "entities_table_version": manifest.get("entities_version", 0),
        "dagster/row_count": manifest["row_counts"]["documents"],
        "dagster/column_schema": _column_schema(DOCUMENTS_SCHEMA),
        "entities_schema": _column_schema(ENTITIES_SCHEMA),
        "documents": manifest["row_counts"]["documents"],
        "entities": manifest["row_counts"]["entities"],
        "documents_by_status": dg.MetadataValue.json(by_status),
        "documents_partial": by_status.get("partial", 0),
        "entities_by_type": dg.MetadataValue.json(facts["entities_by_type"]),
        "pages_by_source": dg.MetadataValue.json(facts.get("pages_by_source", {})),
        "unread_parts_by_error_class": dg.MetadataValue.json(
            facts.get("unread_parts_by_error_class", {})
        ),
        "cost_usd": dg.MetadataValue.float(float(facts["total_cost_usd"])),
        "input_tokens": facts.get("input_tokens", 0),
        "output_tokens": facts.get("output_tokens", 0),
        "version_cost_usd": dg.MetadataValue.float(float(own.get("cost_usd", 0.0))),
        "version_input_tokens": own.get("input_tokens", 0),
        "version_output_tokens": own.get("output_tokens", 0),
        "success_rate": dg.MetadataValue.float(rate if rate is not None else 0.0),
    }
    for status, count in by_status.items():
        metadata[f"documents_{status}"] = count
    return metadata


def budget_metadata(spent_today_usd: float, daily_budget_usd: float | None) -> dict[str, Any]:
    """Today's (UTC) spend on extraction and what is left of PII_MAX_DAILY_BUDGET_USD (-1: no
    daily budget is set)."""
    remaining = -1.0 if daily_budget_usd is None else max(0.0, daily_budget_usd - spent_today_usd)
    return {
        "spend_today_usd": dg.MetadataValue.float(round(spent_today_usd, 6)),
        "daily_budget_usd": dg.MetadataValue.float(daily_budget_usd or -1.0),
        "daily_budget_remaining_usd": dg.MetadataValue.float(round(remaining, 6)),
    }
