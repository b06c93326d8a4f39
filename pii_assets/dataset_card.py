"""The dataset card: a README.md in each version folder, rendered from its manifest."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    counts = pc.value_counts(table.column(column)).to_pylist()
    return dict(sorted((c["values"], c["counts"]) for c in counts if c["values"] is not None))


def version_facts(documents: pa.Table, entities: pa.Table) -> dict[str, Any]:
    """Counts, totals and provenance of a version: what the manifest and the card show."""
    return {
        "documents_by_status": _counts(documents, "status"),
        "documents_by_error_class": _counts(documents, "error_class"),
        "documents_by_classification": _counts(documents, "classification"),
        "entities_by_type": _counts(entities, "entity_type"),
        "entities_by_source": _counts(entities, "source"),
        "pages": int(pc.sum(documents.column("pages")).as_py() or 0),
        "extractors": sorted(_counts(documents, "extractor")),
        "models": sorted(_counts(documents, "model")),
        "code_versions": sorted(_counts(documents, "code_version")),
        "total_cost_usd": round(float(pc.sum(documents.column("cost_usd")).as_py() or 0.0), 6),
        "input_tokens": int(pc.sum(documents.column("input_tokens")).as_py() or 0),
        "output_tokens": int(pc.sum(documents.column("output_tokens")).as_py() or 0),
    }


def _table(rows: dict[str, Any], header: tuple[str, str]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return [*lines, ""]


def render_card(manifest: dict[str, Any]) -> str:
    facts = manifest.get("facts", {})
    changes = manifest.get("changes", {})
    rows = manifest["row_counts"]
    parent = manifest.get("parent_version") or "none"
    lines = [
        f"# PII labeled dataset {manifest['version']}",
        "",
        f"Created {manifest['created_at']}; parent version: {parent}.",
        f"Built {manifest.get('build', 'full')} by dataset code {manifest['code_version']}.",
        "",
        "Read it with plain pandas or pyarrow: `pandas.read_parquet('<this folder>/documents')`.",
        "",
        "## Row counts",
        "",
        *_table({"documents": rows["documents"], "entities": rows["entities"]}, ("table", "rows")),
        "## Documents by status",
        "",
        *_table(facts.get("documents_by_status", {}), ("status", "documents")),
        "## Documents by error class",
        "",
        *_table(facts.get("documents_by_error_class", {}), ("error class", "documents")),
        "## Documents by classification",
        "",
        *_table(facts.get("documents_by_classification", {}), ("classification", "documents")),
        "## Entities by type",
        "",
        *_table(facts.get("entities_by_type", {}), ("entity type", "entities")),
        "## Provenance and cost",
        "",
        f"- extractors: {', '.join(facts.get('extractors', [])) or 'none'}",
        f"- models: {', '.join(facts.get('models', [])) or 'none'}",
        f"- extraction code versions: {', '.join(facts.get('code_versions', [])) or 'none'}",
        f"- pages: {facts.get('pages', 0)}",
        f"- total cost: ${facts.get('total_cost_usd', 0.0):.4f} "
        f"({facts.get('input_tokens', 0)} input / {facts.get('output_tokens', 0)} output tokens)",
        "",
        "## Changes since the parent version",
        "",
    ]
    if changes:
        lines += [
            f"- documents added: {changes['documents_added']}",
            f"- documents removed: {changes['documents_removed']}",
            f"- documents changed (new ETag, status or extraction code): "
            f"{changes['documents_changed']}",
            f"- entities: {changes['entities_before']} → {changes['entities_after']}",
        ]
        for entity_type, delta in changes.get("entity_delta_by_type", {}).items():
            lines.append(f"  - {entity_type}: {delta:+d}")
    else:
        lines.append("_first version_")
    lines += ["", "## Schema", ""]
    for table, columns in manifest["schema"].items():
        lines.append(f"**{table}**: " + ", ".join(f"`{c}`" for c in columns))
        lines.append("")
    return "\n".join(lines)
