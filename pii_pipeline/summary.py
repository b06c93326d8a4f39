"""Reading a published version back and summarising it for people and machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pii_assets.bucket import BucketLayout, list_objects
from pii_assets.models import Status


def download_version(client: Any, layout: BucketLayout, version: str, target: Path) -> Path:
    """Copy a version folder to local disk, e.g. to open it in pandas after the demo."""
    prefix = f"{layout.dataset_prefix}{version}/"
    root = target / version
    for info in list_objects(client, layout.bucket, prefix):
        path = root / info.key[len(prefix) :]
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(layout.bucket, info.key, str(path))
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
