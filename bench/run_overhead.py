"""Run overhead: 200 one-page documents in batched runs versus one run per document.

Both go through `execute_in_process` on the same real instance (same launcher); the work itself
is timed alone too, so the Dagster overhead per document can be isolated.
"""

from __future__ import annotations

import time
from typing import Any

import dagster as dg

from bench.common import s3_store, upload_one_page_documents
from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.processing import ProcessingOptions, process_partitions
from resources.settings import PipelineSettings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG

DOCUMENTS = 200
BATCH = 100
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run(console: Any) -> dict[str, Any]:
    with s3_store("bench-overhead") as store, dg.instance_for_test() as instance:
        client = store.client()
        keys = upload_one_page_documents(store, instance, DOCUMENTS)
        defs = build_definitions(PipelineSettings(), resources={"store": store})
        job = defs.resolve_job_def(EXTRACT_JOB)
        extractor = defs.resources["extractor"].page_extractor()

        start = time.perf_counter()
        opts = ProcessingOptions(extractor=extractor)
        for _ in process_partitions(client, store.layout(), keys, opts, "bench"):
            pass
        work = time.perf_counter() - start

        start = time.perf_counter()
        for first in range(0, DOCUMENTS, BATCH):
            tags = {RANGE_START_TAG: keys[first], RANGE_END_TAG: keys[first + BATCH - 1]}
            assert job.execute_in_process(instance=instance, tags=tags, run_config=QUIET).success
        batched = time.perf_counter() - start

        start = time.perf_counter()
        for key in keys:
            assert job.execute_in_process(
                instance=instance, partition_key=key, run_config=QUIET
            ).success
        single = time.perf_counter() - start

    overhead = (batched - work) / DOCUMENTS
    speedup = single / batched
    return {
        "documents": DOCUMENTS,
        "batch_size": BATCH,
        "work_only_s": work,
        "batched_s": batched,
        "one_run_per_document_s": single,
        "batched_overhead_per_document_s": overhead,
        "speedup": speedup,
        "rows": [
            {"figure": f"work alone, {DOCUMENTS} docs", "value": f"{work:.1f} s"},
            {"figure": f"batched runs of {BATCH}", "value": f"{batched:.1f} s"},
            {"figure": "one run per document", "value": f"{single:.1f} s"},
            {
                "figure": "batched overhead per document",
                "value": f"{overhead:.3f} s",
                "target": "<= 0.1 s",
                "met": overhead <= 0.1,
            },
            {
                "figure": "one-run-per-document / batched",
                "value": f"{speedup:.1f}x",
                "target": ">= 10x",
                "met": speedup >= 10,
            },
        ],
    }
