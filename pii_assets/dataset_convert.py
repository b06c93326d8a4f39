"""One-shot conversion of datasets published in the folder-per-version layout (format 2:
`vNNNNNN/documents/*.parquet`, `vNNNNNN/entities/*.parquet`, `vNNNNNN/manifest.json`,
`_latest.json`) into the Delta Lake tables (`pii-pipeline dataset convert`).

Each published folder, oldest first, becomes one commit that replaces only the documents whose
rows differ from the previous one, so the converted history costs what its changes cost. The old
folders stay until `delete_old` removes them (after the conversion succeeded).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pii_assets.bucket import BucketLayout, get_json, list_objects
from pii_assets.dataset import Change, existing_versions, publish
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
from pii_assets.dataset_tables import conform

LEGACY_FORMAT = 2
_FOLDER_RE = re.compile(r"^v(\d{6,})$")


@dataclass(frozen=True)
class Converted:
    legacy: str  # the folder's version name
    version: str | None  # the Delta version it became (None: no row changed)


def legacy_versions(client: Any, layout: BucketLayout) -> list[str]:
    """Folders of the old layout whose manifest says `published`, oldest first."""
    found: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(
        Bucket=layout.bucket, Prefix=layout.dataset_prefix, Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", ()):
            name = common["Prefix"][len(layout.dataset_prefix) :].rstrip("/")
            if _FOLDER_RE.match(name):
                manifest = _legacy_manifest(client, layout, name)
                if manifest and manifest.get("status", "published") == "published":
                    found.append(name)
    return sorted(found, key=lambda name: int(name[1:]))


def _legacy_manifest(client: Any, layout: BucketLayout, folder: str) -> dict[str, Any] | None:
    return get_json(client, layout.bucket, f"{layout.dataset_prefix}{folder}/manifest.json")


def read_legacy_version(
    client: Any, layout: BucketLayout, folder: str
) -> tuple[pa.Table, pa.Table]:
    """A folder's two tables in today's schema. Raises ValueError for a format this code does
    not know."""
    manifest = _legacy_manifest(client, layout, folder) or {}
    if manifest.get("format") != LEGACY_FORMAT:
        raise ValueError(
            f"{folder} has dataset format {manifest.get('format')!r}; only format "
            f"{LEGACY_FORMAT} folders can be converted"
        )
    tables = []
    for name, schema in (("documents", DOCUMENTS_SCHEMA), ("entities", ENTITIES_SCHEMA)):
        prefix = f"{layout.dataset_prefix}{folder}/{name}/"
        parts = [
            pq.read_table(
                pa.BufferReader(
                    client.get_object(Bucket=layout.bucket, Key=info.key)["Body"].read()
                )
            )
            for info in list_objects(client, layout.bucket, prefix)
            if info.key.endswith(".parquet")
        ]
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        tables.append(conform(table, schema))
    return tables[0], tables[1]


def convert(
    client: Any,
    layout: BucketLayout,
    *,
    code_version: str,
    delete_old: bool = False,
    on_version: Callable[[Converted], None] = lambda converted: None,
) -> list[Converted]:
    """Replay every published folder as a commit of the Delta tables, oldest first; then, with
    `delete_old`, delete the folders. Raises ValueError when the Delta tables already hold
    versions (a conversion runs once) or a folder has an unknown format."""
    if existing_versions(client, layout):
        raise ValueError("the dataset already has Delta versions; nothing to convert")
    folders = legacy_versions(client, layout)
    # Validate every folder first, so a conversion never stops half-way on a format error.
    for folder in folders:
        manifest = _legacy_manifest(client, layout, folder) or {}
        if manifest.get("format") != LEGACY_FORMAT:
            read_legacy_version(client, layout, folder)  # raises the ValueError
    done: list[Converted] = []
    for folder in folders:
        documents, entities = read_legacy_version(client, layout, folder)
        manifest = _legacy_manifest(client, layout, folder) or {}
        published, _, _ = publish(
            client,
            layout,
            Change(documents, entities, frozenset(), full=True),
            code_version=code_version,
            extra_manifest={
                "converted_from": folder,
                "converted_created_at": manifest.get("created_at"),
            },
        )
        converted = Converted(folder, published.version)
        done.append(converted)
        on_version(converted)
    if delete_old:
        for folder in folders:
            _delete_prefix(client, layout, f"{layout.dataset_prefix}{folder}/")
    return done


def _delete_prefix(client: Any, layout: BucketLayout, prefix: str) -> None:
    keys = [{"Key": info.key} for info in list_objects(client, layout.bucket, prefix)]
    for start in range(0, len(keys), 1000):
        client.delete_objects(
            Bucket=layout.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
        )
