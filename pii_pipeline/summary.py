"""Reading a published version back and summarising it for people and machines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from pii_assets.bucket import BucketLayout, list_objects


def download_version(client: Any, layout: BucketLayout, version: str, target: Path) -> Path:
    """Copy a version folder to local disk, e.g. to open it in pandas after the demo."""
    prefix = f"{layout.dataset_prefix}{version}/"
    root = target / version
    for info in list_objects(client, layout.bucket, prefix):
        path = root / info.key[len(prefix) :]
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(layout.bucket, info.key, str(path))
    return root


def summarize(docs: pa.Table, ents: pa.Table) -> dict[str, Any]:
    """Counts and totals only: a summary never carries an entity value."""

    def counts(table: pa.Table, column: str) -> dict[str, int]:
        values = Counter(v for v in table.column(column).to_pylist() if v is not None)
        return dict(sorted(values.items()))

    return {
        "documents": docs.num_rows,
        "pages": sum(docs.column("pages").to_pylist()),
        "documents_by_status": counts(docs, "status"),
        "error_classes": counts(docs, "error_class"),
        "classifications": counts(docs, "classification"),
        "entities": ents.num_rows,
        "entities_by_type": counts(ents, "entity_type"),
        "cost_usd": round(sum(docs.column("cost_usd").to_pylist()), 6),
    }
