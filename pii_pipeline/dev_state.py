"""`pii-pipeline dev`: does the Dagster instance still match the embedded S3's bucket?

The instance remembers partitions, their materializations (each wrote a result object) and the
dataset versions it published; the bucket holds the objects, results and versions. When the
bucket lost what the instance remembers (its state folder was deleted, or the process was killed
between two saves), continuing would publish a version missing those documents, or none at all,
and discovery would not extract them again (its cursor says they were). `dev` then moves the
instance aside and starts a fresh one, which extracts every object in the bucket again.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from pii_assets.asset_names import DATASET_ASSET_KEY, DOCUMENT_ASSET_KEY
from pii_assets.bucket import BucketLayout, list_objects
from pii_assets.dataset import latest_version, version_number
from pii_assets.partitions import documents_partitions


def instance_mismatch(instance: dg.DagsterInstance, client: Any, layout: BucketLayout) -> str:
    """Why the instance is ahead of the bucket ("" when it is not): extracted partitions whose
    result object is missing, or a published dataset version the bucket does not hold."""
    registered = set(instance.get_dynamic_partitions(documents_partitions.name))
    reasons = []
    if registered:
        materialized = instance.get_materialized_partitions(DOCUMENT_ASSET_KEY) & registered
        results = {info.key for info in list_objects(client, layout.bucket, layout.results_prefix)}
        missing = [key for key in materialized if layout.result_key(key) not in results]
        if missing:
            reasons.append(f"{len(missing)} of {len(materialized)} extracted documents")
    event = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    published = metadata.get("version")
    if published is not None and published.value:
        latest = latest_version(client, layout)
        if latest is None or version_number(latest) < version_number(str(published.value)):
            reasons.append(f"dataset version {published.value}")
    return " and ".join(reasons)


def move_aside(home: Path) -> Path:
    """Rename the instance folder to `<name>.stale-<UTC time>` and return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = home.with_name(f"{home.name}.stale-{stamp}")
    shutil.move(str(home), target)
    return target
