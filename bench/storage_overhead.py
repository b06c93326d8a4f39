"""Per-document Dagster overhead with PostgreSQL instance storage versus SQLite, same batched runs.

The same 100 one-page text PDFs are extracted in batched runs (`execute_in_process`, two runs of
50) on a SQLite instance and on a PostgreSQL instance (a throwaway local cluster), and by the bare
processing code with no Dagster at all. Rounds alternate the three so the shared machine's noise
falls on all of them alike; the overhead per document is (batched run time - work time) / documents,
median over rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from bench.common import s3_store, upload_one_page_documents
from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_pipeline.local_postgres import LocalPostgres
from resources.settings import PipelineSettings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG

DOCUMENTS = 100
BATCH = 50
ROUNDS = 3
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(console: Any) -> dict[str, Any]:
    with (
        s3_store("bench-storage") as store,
        LocalPostgres() as postgres,
        dg.instance_for_test() as sqlite,
        dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_url": postgres.url}}}
        ) as pg,
    ):
        keys = upload_one_page_documents(store, sqlite, DOCUMENTS)
        pg.add_dynamic_partitions("documents", keys)
        defs = build_definitions(PipelineSettings(), resources={"store": store})
        job = defs.resolve_job_def(EXTRACT_JOB)
        opts = ProcessingOptions(extractor=defs.resources["extractor"].page_extractor())
        client, layout = store.client(), store.layout()

        def work() -> None:
            for _ in process_partitions(client, layout, keys, opts, "bench"):
                pass

        def batched(instance: dg.DagsterInstance) -> Callable[[], None]:
            def go() -> None:
                for first in range(0, DOCUMENTS, BATCH):
                    tags = {RANGE_START_TAG: keys[first], RANGE_END_TAG: keys[first + BATCH - 1]}
                    result = job.execute_in_process(instance=instance, tags=tags, run_config=QUIET)
                    assert result.success

            return go

        batched(sqlite)()  # warm both instances and the code paths once
        batched(pg)()
        times: dict[str, list[float]] = {"work": [], "sqlite": [], "postgres": []}
        for round_number in range(ROUNDS):
            order = [("work", work), ("sqlite", batched(sqlite)), ("postgres", batched(pg))]
            if round_number % 2:
                order.reverse()
            for name, fn in order:
                times[name].append(_timed(fn))
            console.print(
                f"  round {round_number + 1}: "
                + ", ".join(f"{name} {values[-1]:.1f}s" for name, values in times.items())
            )

    work_s = statistics.median(times["work"])
    per_doc = {
        name: statistics.median(
            (t - w) / DOCUMENTS for t, w in zip(times[name], times["work"], strict=True)
        )
        for name in ("sqlite", "postgres")
    }
    ratio = per_doc["postgres"] / per_doc["sqlite"] if per_doc["sqlite"] > 0 else float("nan")
    return {
        "documents": DOCUMENTS,
        "batch_size": BATCH,
        "rounds": ROUNDS,
        "times_s": times,
        "work_s": work_s,
        "overhead_per_document_s": per_doc,
        "postgres_over_sqlite": ratio,
        "rows": [
            {"figure": f"work alone, {DOCUMENTS} docs (median)", "value": f"{work_s:.1f} s"},
            {
                "figure": "Dagster overhead per document, SQLite",
                "value": f"{per_doc['sqlite'] * 1000:.0f} ms",
            },
            {
                "figure": "Dagster overhead per document, PostgreSQL",
                "value": f"{per_doc['postgres'] * 1000:.0f} ms",
                "target": "<= 0.1 s",
                "met": per_doc["postgres"] <= 0.1,
            },
            {"figure": "PostgreSQL / SQLite overhead", "value": f"{ratio:.2f}x"},
        ],
    }
