"""Publish time for a version adding 100 changed documents on top of 20,000 versus 1,000.

The base version is written directly (synthetic results, real S3 server) and recorded as the
dataset asset's last materialization, as a previous publish would have; then 100 documents get
new results and materializations, and the real dataset asset publishes on top, three times.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from bench.common import s3_store
from pii_assets.asset_names import DATASET_ASSET_KEY, DOCUMENT_ASSET_KEY
from pii_assets.bucket import put_json
from pii_assets.dataset import build_tables, publish_version
from pii_assets.dataset_asset import pii_labeled_dataset
from pii_assets.models import DocumentResult, Entity, Status

SIZES = (1_000, 20_000)
CHANGED = 100
ENTITIES_PER_DOCUMENT = 5
REPEATS = 3
TARGET = 2.0
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _result(index: int, generation: int) -> DocumentResult:
    key = f"documents/batch/doc-{index:06d}.pdf"
    return DocumentResult(
        document_key=key,
        etag=f"{generation:04d}{index:028d}",
        status=Status.OK,
        pages=2,
        extractor="local",
        code_version="bench",
        processed_at="2026-01-01T00:00:00+00:00",
        entities=[
            Entity("EMAIL_ADDRESS", f"u{index}.{j}@example.com", 1, 0.1, 0.1, 0.3, 0.2, 0.9, "text")
            for j in range(ENTITIES_PER_DOCUMENT)
        ],
    )


def _publish_times(size: int) -> list[float]:
    with s3_store(f"bench-publish-{size}") as store, dg.instance_for_test() as instance:
        client, layout = store.client(), store.layout()
        keys = [layout.partition_key(_result(i, 0).document_key) for i in range(size)]
        instance.add_dynamic_partitions("documents", keys)
        base = publish_version(
            client,
            layout,
            *build_tables((k, _result(i, 0)) for i, k in enumerate(keys)),
            code_version="bench",
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=DOCUMENT_ASSET_KEY, partition=keys[0], metadata={"bench": "base"}
            )
        )
        cursor = instance.fetch_materializations(DOCUMENT_ASSET_KEY, limit=1).records[0].storage_id
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=DATASET_ASSET_KEY,
                metadata={"version": base.version, "event_cursor": cursor},
            )
        )
        times = []
        for generation in range(1, REPEATS + 1):
            changed = range(generation * CHANGED, (generation + 1) * CHANGED)

            def rewrite(i: int, generation: int = generation) -> None:
                result = _result(i, generation)
                put_json(client, layout, layout.result_key(keys[i]), result.to_json_dict())

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(rewrite, changed))
            for i in changed:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=DOCUMENT_ASSET_KEY, partition=keys[i])
                )
            start = time.perf_counter()
            result = dg.materialize(
                [pii_labeled_dataset],
                resources={"store": store},
                instance=instance,
                run_config=QUIET,
            )
            times.append(time.perf_counter() - start)
            (event,) = result.get_asset_materialization_events()
            metadata = event.materialization.metadata
            assert metadata["build"].value == "incremental"
            assert metadata["documents_changed"].value == CHANGED
        return times


def run(console: Any) -> dict[str, Any]:
    medians = {}
    for size in SIZES:
        console.print(f"  base of {size} documents…")
        medians[size] = statistics.median(_publish_times(size))
    ratio = medians[SIZES[1]] / medians[SIZES[0]]
    return {
        "changed": CHANGED,
        "median_publish_s": {str(k): v for k, v in medians.items()},
        "ratio": ratio,
        "rows": [
            *(
                {"figure": f"publish {CHANGED} changed on {size:,}", "value": f"{t:.2f} s"}
                for size, t in medians.items()
            ),
            {
                "figure": f"{SIZES[1]:,} / {SIZES[0]:,}",
                "value": f"{ratio:.2f}x",
                "target": f"<= {TARGET}x",
                "met": ratio <= TARGET,
            },
        ],
    }
