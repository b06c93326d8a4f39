"""What changed between two dataset versions: documents and entity counts, never values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class DatasetDiff:
    added: list[str] = field(default_factory=list)  # document keys
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the content of their rows changed
    entities_before: dict[str, int] = field(default_factory=dict)
    entities_after: dict[str, int] = field(default_factory=dict)

    def entity_delta(self) -> dict[str, int]:
        types = sorted(set(self.entities_before) | set(self.entities_after))
        return {
            t: self.entities_after.get(t, 0) - self.entities_before.get(t, 0)
            for t in types
            if self.entities_after.get(t, 0) != self.entities_before.get(t, 0)
        }

    def summary(self) -> dict[str, Any]:
        return {
            "documents_added": len(self.added),
            "documents_removed": len(self.removed),
            "documents_changed": len(self.changed),
            "entities_before": sum(self.entities_before.values()),
            "entities_after": sum(self.entities_after.values()),
            "entity_delta_by_type": self.entity_delta(),
        }


def fingerprints(documents: pa.Table, entities: pa.Table) -> dict[str, tuple[Any, ...]]:
    """Per document key, its row without `processed_at` and its entity rows, order-free: what
    "the content of a document's rows" means (a re-extraction that produced the same rows is no
    change, issue 13)."""
    doc_columns = [c for c in documents.column_names if c != "processed_at"]
    per_doc: dict[str, list[tuple[str, ...]]] = {}
    for row in entities.to_pylist():
        per_doc.setdefault(row["document_key"], []).append(tuple(repr(v) for v in row.values()))
    out: dict[str, tuple[Any, ...]] = {}
    for row in documents.select(doc_columns).to_pylist():
        key = row["document_key"]
        out[key] = (tuple(repr(v) for v in row.values()), tuple(sorted(per_doc.get(key, []))))
    return out


def entity_type_counts(entities: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(entities.column("entity_type")).to_pylist()
    return dict(sorted((c["values"], c["counts"]) for c in counts))


def diff_versions(
    old_documents: pa.Table | None,
    old_entities: pa.Table | None,
    new_documents: pa.Table,
    new_entities: pa.Table,
) -> DatasetDiff:
    """Documents added, removed and changed (content of their rows) between two sets of rows,
    with entity counts by type before and after."""
    old = fingerprints(old_documents, old_entities) if old_documents is not None else {}
    new = fingerprints(new_documents, new_entities)
    return DatasetDiff(
        added=sorted(set(new) - set(old)),
        removed=sorted(set(old) - set(new)),
        changed=sorted(k for k in set(old) & set(new) if old[k] != new[k]),
        entities_before=entity_type_counts(old_entities) if old_entities is not None else {},
        entities_after=entity_type_counts(new_entities),
    )
