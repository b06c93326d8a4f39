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
    changed: list[str] = field(default_factory=list)  # re-extracted, or new ETag/status/version
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


def _fingerprints(documents: pa.Table) -> dict[str, tuple[Any, ...]]:
    # processed_at: a re-extracted document counts as changed even when its output is the same.
    columns = ["document_key", "etag", "status", "code_version", "entity_count", "processed_at"]
    rows = documents.select(columns).to_pylist()
    return {row["document_key"]: tuple(row[c] for c in columns[1:]) for row in rows}


def entity_type_counts(entities: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(entities.column("entity_type")).to_pylist()
    return dict(sorted((c["values"], c["counts"]) for c in counts))


def diff_versions(
    old_documents: pa.Table | None,
    old_entities: pa.Table | None,
    new_documents: pa.Table,
    new_entities: pa.Table,
) -> DatasetDiff:
    old = _fingerprints(old_documents) if old_documents is not None else {}
    new = _fingerprints(new_documents)
    return DatasetDiff(
        added=sorted(set(new) - set(old)),
        removed=sorted(set(old) - set(new)),
        changed=sorted(k for k in set(old) & set(new) if old[k] != new[k]),
        entities_before=entity_type_counts(old_entities) if old_entities is not None else {},
        entities_after=entity_type_counts(new_entities),
    )
