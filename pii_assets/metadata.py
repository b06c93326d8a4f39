"""Dagster metadata built from results: counts, classes and costs, never PII values."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import dagster as dg
import pyarrow as pa

from pii_assets.dataset_card import success_rate
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
from pii_assets.models import DocumentResult

# Names of embedded parts come from inside the document (an archive member "ssn 634-12-9087.pdf",
# an attachment's file name, a sheet's name): the dataset's rows keep them, Dagster's metadata and
# logs show each as its kind and a digest of the name ("member:#3f2a9c1b > page 3").
_NAMED_PART = re.compile(r"(member|attachment|sheet|part):(.*?)(?= > |$)")


def _digest(name: str) -> str:
    return "#" + hashlib.blake2b(name.encode("utf-8"), digest_size=4).hexdigest()


def opaque_part(part: str) -> str:
    """A part label with every embedded name replaced by a digest ("member:#3f2a9c1b")."""
    return _NAMED_PART.sub(lambda m: f"{m[1]}:{_digest(m[2])}", part)


def opaque_message(message: str, parts: Iterable[str]) -> str:
    """`message` with every embedded name that `parts` (unread part labels) hold replaced by its
    digest, longest first: our messages name parts, and such a name may hold a value."""
    names = {m[2] for part in parts for m in _NAMED_PART.finditer(part) if m[2]}
    for name in sorted(names, key=len, reverse=True):
        message = message.replace(name, _digest(name))
    return message


def dagster_message(result: DocumentResult) -> str:
    """The result's error message as Dagster's logs and metadata show it (`opaque_message`)."""
    return opaque_message(result.error_message or "", (u.part for u in result.coverage.unread))


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
            [
                {"part": opaque_part(u.part), "error_class": u.error_class}
                for u in coverage.unread[:50]
            ]
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
