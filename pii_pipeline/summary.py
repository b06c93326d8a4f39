"""Reading a published version back and summarising it for people and machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pii_assets.bucket import BucketLayout
from pii_assets.models import Status


def download_version(client: Any, layout: BucketLayout, version: str, target: Path) -> Path:
    """Write a version's two tables to local disk as plain Parquet (`documents/`, `entities/`)
    with its card, e.g. to open them in pandas after the demo."""
    import pyarrow.parquet as pq

    from pii_assets.dataset import read_card, read_version

    root = target / version
    tables = read_version(client, layout, version)
    for name, table in zip(("documents", "entities"), tables, strict=True):
        (root / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / name / "part-00000.parquet")
    (root / "README.md").write_text(read_card(client, layout, version) or "")
    return root


def summarize(manifest: dict[str, Any]) -> dict[str, Any]:
    """A version's figures from its manifest: counts and totals, never an entity value.

    Every status is listed, `partial` included at 0; the coverage totals are empty for versions
    written before they were recorded.
    """
    facts = manifest["facts"]
    statuses = {str(status): 0 for status in Status}
    statuses.update(facts["documents_by_status"])
    return {
        "documents": manifest["row_counts"]["documents"],
        "pages": facts["pages"],
        "documents_by_status": statuses,
        "pages_by_source": facts.get("pages_by_source", {}),
        "parts_read": facts.get("parts_read", {}),
        "unread_parts_by_error_class": facts.get("unread_parts_by_error_class", {}),
        "quarantined_by_check": manifest.get("quarantined_by_check", {}),
        "error_classes": facts["documents_by_error_class"],
        "classifications": facts["documents_by_classification"],
        "entities": manifest["row_counts"]["entities"],
        "entities_by_type": facts["entities_by_type"],
        "cost_usd": facts["total_cost_usd"],
    }
