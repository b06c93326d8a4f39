"""A version's facts (counts and totals, never values) and its dataset card, rendered from its
manifest. Facts add up: a version's facts are its parent's, minus those of the rows it replaced,
plus those of its new rows (`combine_facts`), so publishing never reads the whole table."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pii_assets.models import Status


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    return _value_counts(table.column(column))


def _value_counts(values: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    counts = pc.value_counts(values).to_pylist()
    return dict(sorted((c["values"], c["counts"]) for c in counts if c["values"] is not None))


def _sum(table: pa.Table, column: str) -> int:
    return int(pc.sum(table.column(column)).as_py() or 0)


def _by_status(documents: pa.Table) -> dict[str, int]:
    """Every status, `partial` included even at 0, in `Status` order, then any other."""
    counts = _counts(documents, "status")
    ordered = {str(status): counts.pop(str(status), 0) for status in Status}
    return {**ordered, **counts}


def coverage_totals(documents: pa.Table) -> dict[str, dict[str, int]]:
    """How the version's documents were read (models.Coverage summed): pages by source, parts
    read by kind, and parts that could not be read by error class."""
    column = documents.column("parts_read")
    entries = pa.list_(pa.struct([("key", pa.string()), ("value", pa.int32())]))
    parts = pc.list_flatten(column.cast(entries))  # a map is a list of key/value entries
    parts_read: dict[str, int] = {}
    if len(parts):
        table = pa.table(
            {"kind": pc.struct_field(parts, "key"), "n": pc.struct_field(parts, "value")}
        )
        for row in table.group_by("kind").aggregate([("n", "sum")]).to_pylist():
            parts_read[row["kind"]] = int(row["n_sum"])
    unread = pc.list_flatten(documents.column("unread_parts"))
    return {
        "pages_by_source": {
            "text": _sum(documents, "pages_text"),
            "ocr": _sum(documents, "pages_ocr"),
            "text+ocr": _sum(documents, "pages_text_and_ocr"),
        },
        "parts_read": dict(sorted(parts_read.items())),
        "unread_parts_by_error_class": _value_counts(pc.struct_field(unread, "error_class"))
        if len(unread)
        else {},
    }


# Review statuses of machine labels, and of the labels that make a reviewed page's ground truth.
_MACHINE = ("confirmed", "corrected", "rejected")
_REVIEWED = ("confirmed", "corrected", "added")


def _grouped(table: pa.Table, column: str, statuses: tuple[str, ...]) -> dict[str, int]:
    mask = pc.is_in(table.column("review_status"), value_set=pa.array(statuses))
    return _value_counts(table.filter(pc.fill_null(mask, False)).column(column))


def review_counts(documents: pa.Table, entities: pa.Table) -> dict[str, Any]:
    """Counts behind the machine labels' precision and recall on reviewed pages, per entity type
    and per extractor: `machine` labels on reviewed pages, `reviewed` labels (the reviewer's
    final labels: confirmed, corrected, added) and `matched` ones (confirmed: same type, same
    place). Precision = matched / machine, recall = matched / reviewed."""
    reviewed = entities.filter(pc.is_valid(entities.column("review_status")))
    extractors = documents.select(["document_key", "extractor"])
    joined = reviewed.select(
        ["document_key", "entity_type", "reviewed_entity_type", "review_status"]
    ).join(extractors, keys="document_key", join_type="left outer", use_threads=False)
    joined = joined.set_column(
        joined.schema.get_field_index("extractor"),
        "extractor",
        pc.fill_null(joined.column("extractor"), "unknown"),
    )
    by: dict[str, dict[str, dict[str, int]]] = {"type": {}, "extractor": {}}
    for name, machine_column, reviewed_column in (
        ("type", "entity_type", "reviewed_entity_type"),
        ("extractor", "extractor", "extractor"),
    ):
        for kind, column, statuses in (
            ("machine", machine_column, _MACHINE),
            ("reviewed", reviewed_column, _REVIEWED),
            ("matched", machine_column, ("confirmed",)),
        ):
            for key, count in _grouped(joined, column, statuses).items():
                by[name].setdefault(key, {})[kind] = count
    pages = documents.column("reviewed_pages")
    return {
        "reviewed_pages": int(pc.sum(pc.fill_null(pages, 0)).as_py() or 0),
        "documents_reviewed": int(pc.sum(pc.greater(pc.fill_null(pages, 0), 0)).as_py() or 0),
        "entities_by_review_status": _counts(reviewed, "review_status"),
        "review_by_type": dict(sorted(by["type"].items())),
        "review_by_extractor": dict(sorted(by["extractor"].items())),
    }


def version_facts(documents: pa.Table, entities: pa.Table) -> dict[str, Any]:
    """Counts, totals and provenance of a version: what the manifest and the card show."""
    return {
        "documents_by_status": _by_status(documents),
        "documents_by_error_class": _counts(documents, "error_class"),
        "documents_by_classification": _counts(documents, "classification"),
        "entities_by_type": _counts(entities, "entity_type"),
        "entities_by_source": _counts(entities, "source"),
        "pages": int(pc.sum(documents.column("pages")).as_py() or 0),
        "documents_by_extractor": _counts(documents, "extractor"),
        "documents_by_model": _counts(documents, "model"),
        "documents_by_code_version": _counts(documents, "code_version"),
        # Documents by the value policy their entity rows were written under (value_policy.py).
        "documents_by_entity_values": _counts(documents, "entity_values"),
        "total_cost_usd": round(float(pc.sum(documents.column("cost_usd")).as_py() or 0.0), 6),
        "input_tokens": int(pc.sum(documents.column("input_tokens")).as_py() or 0),
        "output_tokens": int(pc.sum(documents.column("output_tokens")).as_py() or 0),
        **coverage_totals(documents),
        **review_counts(documents, entities),
        # Redacted copies (pii_assets/redaction): documents by outcome ("redacted" or why not).
        "documents_by_redaction": _counts(documents, "redaction"),
    }


# Facts kept whole: every status is listed, even at 0.
_KEEP_ZEROS = frozenset({"documents_by_status", "pages_by_source"})


def _combine(key: str, base: Any, minus: Any, plus: Any) -> Any:
    if isinstance(base, dict) or isinstance(plus, dict):
        base, minus, plus = base or {}, minus or {}, plus or {}
        names = [*base, *(n for n in plus if n not in base), *(n for n in minus if n not in base)]
        out = {n: _combine(n, base.get(n, 0), minus.get(n, 0), plus.get(n, 0)) for n in names}
        if key in _KEEP_ZEROS:
            return out
        return dict(sorted((n, v) for n, v in out.items() if v))
    if isinstance(base, float) or isinstance(plus, float) or isinstance(minus, float):
        return round(float(base or 0) - float(minus or 0) + float(plus or 0), 6)
    return int(base or 0) - int(minus or 0) + int(plus or 0)


def combine_facts(
    base: dict[str, Any], minus: dict[str, Any], plus: dict[str, Any]
) -> dict[str, Any]:
    """`base` − `minus` + `plus`, key by key (all three from `version_facts`); counts of 0 are
    dropped except for statuses and page sources."""
    keys = [*base, *(k for k in plus if k not in base)]
    return {k: _combine(k, base.get(k, 0), minus.get(k, 0), plus.get(k, 0)) for k in keys}


def success_rate(documents_by_status: dict[str, int]) -> float | None:
    """Documents read completely (`ok`) among those the pipeline tried to read (`ok`,
    `partial`, `failed`; `skipped` ones were not tried); None when there are none."""
    tried = sum(documents_by_status.get(s, 0) for s in ("ok", "partial", "failed"))
    return round(documents_by_status.get("ok", 0) / tried, 6) if tried else None


def _table(rows: dict[str, Any], header: tuple[str, str]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return [*lines, ""]


_POLICY_WORDS = {
    "raw": "the values as found",
    "masked": "type-aware masked values (e.g. the last four digits of a card, an e-mail's domain)",
    "hashed": "keyed hashes of the values",
    "none": "no values (`text` is null): positions and entity types only",
}


def _value_policy_lines(entry: dict[str, Any] | None) -> list[str]:
    """The value policy the manifest records (PII_ENTITY_VALUES), and what rows hold if some
    were written under another one."""
    if not entry:
        return []
    policy = entry["policy"]
    line = f"Entity values: `{policy}`, {_POLICY_WORDS.get(policy, policy)}"
    if entry.get("hash"):
        line += f" ({entry['hash']}, key id `{entry['key_id']}`)"
    lines = [line + ".", ""]
    held = entry.get("documents", {})
    if set(held) - {policy}:
        lines += [
            "Documents by what their entity rows hold (a result written under another policy "
            "keeps no value, or under `raw` what it held, until it is extracted again):",
            "",
            *_table(held, ("entity values", "documents")),
        ]
    return lines


def _ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.3f}" if denominator else "n/a"


def _quality_table(rows: dict[str, dict[str, int]], header: str) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = [
        f"| {header} | machine labels | reviewed labels | matched | precision | recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, counts in rows.items():
        machine, reviewed = counts.get("machine", 0), counts.get("reviewed", 0)
        matched = counts.get("matched", 0)
        lines.append(
            f"| {key} | {machine} | {reviewed} | {matched} | {_ratio(matched, machine)} | "
            f"{_ratio(matched, reviewed)} |"
        )
    return [*lines, ""]


def _review_lines(facts: dict[str, Any]) -> list[str]:
    pages = facts.get("reviewed_pages", 0)
    if not pages:
        return ["## Human review", "", "_no page reviewed_", ""]
    return [
        "## Human review",
        "",
        f"{pages} pages of {facts.get('documents_reviewed', 0)} documents reviewed in Label "
        "Studio (`pii-pipeline review`). On those pages a machine label is *matched* when the "
        "reviewer kept it (same type, same place: IoU >= 0.5); precision = matched / machine "
        "labels, recall = matched / the reviewer's labels.",
        "",
        *_table(facts.get("entities_by_review_status", {}), ("review status", "entities")),
        "Machine labels against the reviews, by entity type:",
        "",
        *_quality_table(facts.get("review_by_type", {}), "entity type"),
        "By extractor:",
        "",
        *_quality_table(facts.get("review_by_extractor", {}), "extractor"),
    ]


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
        f"Delta Lake tables `documents` (version {manifest.get('documents_version', '?')}) and "
        f"`entities` (version {manifest.get('entities_version', '?')}); read them with any Delta "
        "reader, e.g. `deltalake.DeltaTable(uri, version=N).to_pandas()`.",
        "",
        *_value_policy_lines(manifest.get("entity_values")),
        "## Row counts",
        "",
        *_table({"documents": rows["documents"], "entities": rows["entities"]}, ("table", "rows")),
        "## Documents by status",
        "",
        "`ok`: read completely; `partial`: some part could not be read (see *Coverage*), the "
        "entities of the rest are kept; `failed` and `skipped`: no entities (see the error class).",
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
        "## Coverage",
        "",
        "Pages by how they were read:",
        "",
        *_table(facts.get("pages_by_source", {}), ("source", "pages")),
        "Parts read, by kind:",
        "",
        *_table(facts.get("parts_read", {}), ("kind", "parts")),
        "Parts that could not be read, by error class:",
        "",
        *_table(facts.get("unread_parts_by_error_class", {}), ("error class", "parts")),
        *_review_lines(facts),
        "## Redacted copies",
        "",
        *_table(facts.get("documents_by_redaction", {}), ("redaction", "documents")),
        "## Provenance and cost",
        "",
        f"- extractors: {', '.join(facts.get('documents_by_extractor', {})) or 'none'}",
        f"- models: {', '.join(facts.get('documents_by_model', {})) or 'none'}",
        "- extraction code versions: "
        f"{', '.join(facts.get('documents_by_code_version', {})) or 'none'}",
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
            "- documents changed (the content of their rows; a new `processed_at` alone is not "
            f"a change): {changes['documents_changed']}",
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
