"""Throughput of extraction runs in parallel under the queued run coordinator, and a projection to
N workers.

The deployment of `make test-postgres` (pii_pipeline/local_deployment.py: PostgreSQL, the gRPC code
server, dagster-daemon with deploy/dagster.yaml) extracts the same OCR-bound corpus (one-page scans)
in runs of BATCH documents launched by the discovery sensor, once with `max_concurrent_runs: 1` and
once with 2, alternating, on this 2-core machine. Each run extracts one document at a time
(PII_LOCAL_CONCURRENCY=1), as one worker of a distributed deployment would per core, so the second
run's core is what the queue adds. Throughput is documents / makespan (first run's start to last
run's end, from the run records); the speedup is the ratio of medians.

The projection to N workers is a paper model from the measured pieces: a run of B documents costs
B x t_doc (extraction, from each document's `duration_s` metadata) plus o (the run's own overhead
inside its worker: resources, events) plus l (the slot's handover: the daemon's dequeue and the
launch of the next run's process, pod or task), all measured one run at a time, so N workers
extract N x B / (B x t_doc + o + l) documents per second while nothing they share (PostgreSQL, S3,
the daemon, an LLM endpoint) is the bottleneck. The figures also show t_doc with two runs at once:
when it doubles, the two runs did not get a core each (other load on the machine).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import dagster as dg

from bench.common import s3_store
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB
from pii_pipeline.corpus import scanned_pdf, single_page_pdf
from pii_pipeline.local_deployment import LocalDeployment
from pii_pipeline.local_postgres import LocalPostgres

DOCUMENTS = 12
BATCH = 6
# Queue limits of the trials, in ABBA order so a drift in the machine's load hits both alike.
ORDER = (1, 2, 2, 1)
DEADLINE_S = 600
PROJECTION_BATCH = 100  # PII_BATCH_SIZE's default
PROJECTION_WORKERS = (1, 2, 10, 100)


def _corpus() -> dict[str, bytes]:
    """One-page scans (no text layer) with invented values: each costs one OCR pass."""
    return {
        f"scan-{i:03d}.pdf": scanned_pdf(
            single_page_pdf(
                [
                    f"Enrollment form {i:03d}",
                    "Name: Oliver Brennan",
                    "Email: oliver.brennan@example.com",
                    "Phone: (503) 555-0164",
                    "Member since 2019; please keep this form for your records.",
                ]
            ),
            dpi=150,
            seed=i,
        )
        for i in range(DOCUMENTS)
    }


def _trial(endpoint: str, corpus: dict[str, bytes], limit: int, number: int) -> dict[str, Any]:
    bucket = f"bench-parallel-{number}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    for name, body in corpus.items():
        client.put_object(Bucket=bucket, Key=f"documents/{name}", Body=body)
    env = {
        "PII_S3_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "PII_BATCH_SIZE": str(BATCH),
        "PII_DISCOVERY_INTERVAL_S": "5",
        "PII_LOCAL_CONCURRENCY": "1",
    }
    overrides = {
        "concurrency": {"runs": {"max_concurrent_runs": limit}},
        "run_coordinator": {"config": {"dequeue_interval_seconds": 1}},
    }
    runs_expected = DOCUMENTS // BATCH
    with (
        tempfile.TemporaryDirectory(prefix="pii-bench-parallel-") as workdir,
        LocalPostgres() as postgres,
        LocalDeployment(Path(workdir), env, postgres.url, instance_overrides=overrides) as dep,
    ):
        instance = dep.instance()
        deadline = time.monotonic() + DEADLINE_S
        while True:
            runs = instance.get_run_records(dg.RunsFilter(job_name=EXTRACT_JOB))
            done = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS]
            failed = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
            if failed:
                raise RuntimeError(f"an extraction run failed:\n{dep.log_tail('code_server')}")
            if len(done) >= runs_expected:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs not finished in {DEADLINE_S}s:\n{dep.log_tail('daemon')}")
            time.sleep(0.5)
        work_by_run: dict[str, float] = {}
        for record in document_records(instance, "materializations"):
            meta = record.asset_materialization.metadata if record.asset_materialization else {}
            duration = meta.get("duration_s")
            work_by_run[record.run_id] = work_by_run.get(record.run_id, 0.0) + float(
                duration.value if duration is not None else 0.0
            )
        instance.dispose()
    done.sort(key=lambda r: r.start_time)
    starts = [r.start_time for r in done]
    ends = [r.end_time for r in done]
    makespan = max(ends) - min(starts)
    return {
        "limit": limit,
        "makespan_s": makespan,
        "documents_per_s": DOCUMENTS / makespan,
        "run_s": [r.end_time - r.start_time for r in done],
        # A run's start after the previous one ended: the queue's slot handed over (the daemon's
        # dequeue and the launch: a process here, a pod or task elsewhere). One run at a time only.
        "handover_s": [b.start_time - a.end_time for a, b in zip(done, done[1:], strict=False)]
        if limit == 1
        else [],
        "overhead_s": [
            (r.end_time - r.start_time) - work_by_run.get(r.dagster_run.run_id, 0.0) for r in done
        ],
        "document_s": sum(work_by_run.values()) / DOCUMENTS,
    }


def projection(t_doc: float, overhead: float, launch: float) -> list[dict[str, float]]:
    per_run = PROJECTION_BATCH * t_doc + overhead + launch
    return [
        {
            "workers": n,
            "documents_per_hour": 3600 * n * PROJECTION_BATCH / per_run,
            "efficiency": PROJECTION_BATCH * t_doc / per_run,
        }
        for n in PROJECTION_WORKERS
    ]


def run(console: Any) -> dict[str, Any]:
    corpus = _corpus()
    trials: list[dict[str, Any]] = []
    with s3_store("bench-parallel-warmup") as store:
        endpoint = store.endpoint_url or ""
        for number, limit in enumerate(ORDER):
            trial = _trial(endpoint, corpus, limit, number)
            trials.append(trial)
            console.print(
                f"  {limit} run(s) at once: {trial['makespan_s']:.1f}s for {DOCUMENTS} scans "
                f"({trial['documents_per_s']:.2f}/s)"
            )
    return summarize(trials)


def summarize(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians, speedup, the projection and the table rows from the trials."""
    rate = {
        limit: statistics.median(t["documents_per_s"] for t in trials if t["limit"] == limit)
        for limit in (1, 2)
    }
    speedup = rate[2] / rate[1]
    # The projection's pieces come from the one-run-at-a-time trials: a worker has its core alone.
    alone = [t for t in trials if t["limit"] == 1]
    t_doc = statistics.median(t["document_s"] for t in alone)
    overhead = statistics.median(o for t in alone for o in t["overhead_s"])
    launch = statistics.median(x for t in alone for x in t["handover_s"])
    shared = statistics.median(t["document_s"] for t in trials if t["limit"] == 2)
    projected = projection(t_doc, overhead, launch)
    rows = [
        {"figure": f"1 run at a time, {DOCUMENTS} scans", "value": f"{rate[1]:.2f} docs/s"},
        {"figure": "2 runs at a time", "value": f"{rate[2]:.2f} docs/s"},
        {
            "figure": "2 parallel runs / 1 (OCR-bound)",
            "value": f"{speedup:.2f}x",
            "target": ">= 1.6x",
            "met": speedup >= 1.6,
        },
        {
            "figure": "per document (OCR): 1 run / 2 runs at once",
            "value": f"{t_doc:.2f} s / {shared:.2f} s",
        },
        {"figure": "per run overhead, slot handover", "value": f"{overhead:.1f} s, {launch:.1f} s"},
    ]
    rows += [
        {
            "figure": f"projection: {p['workers']} workers, runs of {PROJECTION_BATCH}",
            "value": f"{p['documents_per_hour']:,.0f} docs/h ({p['efficiency']:.0%})",
        }
        for p in projected
    ]
    return {
        "documents": DOCUMENTS,
        "batch_size": BATCH,
        "trials": trials,
        "documents_per_s": rate,
        "speedup": speedup,
        "document_s": t_doc,
        "document_s_two_runs": shared,
        "run_overhead_s": overhead,
        "handover_s": launch,
        "projection": projected,
        "rows": rows,
    }
