"""The distributed deployment for real, as processes (`make test-postgres`): PostgreSQL instance
storage with deploy/dagster.yaml, a gRPC code server started with the image's command, and
`dagster-daemon` running the discovery sensor, the queued run coordinator, run retries and the
publish sensor. Extraction runs execute in parallel; one run worker is killed with SIGKILL mid-run;
its run fails, Dagster retries it, the retry reuses what the dead worker finished and extracts the
rest, and the published version holds every object exactly once.

Not part of `make test` (70-160 s on 2 shared cores): `make test-postgres`, which CI runs too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.dataset import latest_version, read_version
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB
from pii_pipeline.corpus import scanned_pdf, single_page_pdf
from pii_pipeline.local_deployment import LocalDeployment, run_worker_pid
from pii_pipeline.local_postgres import LocalPostgres, postgres_bin_dir

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DOCUMENTS = 12
BATCH = 4
DEADLINE_S = 900
# Invented people; nothing here belongs to anyone.
PEOPLE = [
    ("Maria Gonzalez", "maria.gonzalez@example.com", "(212) 555-0142"),
    ("Dmitri Volkov", "d.volkov@example.org", "(415) 555-0190"),
    ("Aisha Rahman", "aisha.rahman@example.net", "(312) 555-0117"),
]


def scanned_form(index: int) -> bytes:
    """A one-page scan (no text layer), so each document costs an OCR pass of about a second."""
    name, email, phone = PEOPLE[index % len(PEOPLE)]
    lines = [
        f"Patient intake form {index:03d}",
        f"Name: {name}",
        f"Email: {email}",
        f"Phone: {phone}",
        "Please bring this form to your appointment.",
    ]
    return scanned_pdf(single_page_pdf(lines), dpi=150, seed=index)


def markers(client, bucket: str) -> dict[str, dict]:
    """The audit markers by partition key."""
    import json

    found = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="processed/")
    for page in pages:
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            marker = json.loads(body)
            found[marker["partition_key"]] = marker
    return found


def documents_table(store, version: str) -> list[dict]:
    """The version's documents rows (Delta Lake tables since the dataset merge)."""
    documents, _ = read_version(store.client(), store.layout(), version)
    return documents.to_pylist()


@pytest.fixture(scope="module")
def postgres():
    if postgres_bin_dir() is None:
        pytest.fail("PostgreSQL server binaries missing: run `make test-postgres` (installs them)")
    with LocalPostgres() as pg:
        yield pg


def test_killed_worker_is_retried_and_every_document_is_published_once(
    store, postgres, tmp_path: Path
) -> None:
    import dagster as dg

    client = store.client()
    keys = []
    for i in range(DOCUMENTS):
        key = f"intake-{i:03d}.pdf"
        client.put_object(Bucket=store.bucket, Key=f"documents/{key}", Body=scanned_form(i))
        keys.append(key)
    env = {
        "PII_S3_BUCKET": store.bucket,
        "AWS_ENDPOINT_URL_S3": os.environ["AWS_ENDPOINT_URL_S3"],
        "PII_BATCH_SIZE": str(BATCH),
        "PII_DISCOVERY_INTERVAL_S": "5",
        "PII_PUBLISH_MIN_INTERVAL_S": "0",
        # One document at a time per run, so parallelism comes from parallel runs.
        "PII_LOCAL_CONCURRENCY": "1",
    }
    overrides = {
        # Two workers on this 2-core machine; dequeue every second instead of every five.
        "concurrency": {"runs": {"max_concurrent_runs": 2}},
        "run_coordinator": {"config": {"dequeue_interval_seconds": 1}},
    }
    started = time.monotonic()
    deployment = LocalDeployment(tmp_path, env, postgres.url, instance_overrides=overrides)
    with deployment:
        instance = deployment.instance()
        killed_run = None
        finished_by_killed: set[str] = set()
        version = None
        rows: list[dict] = []
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            assert all(deployment.alive().values()), (
                f"a process exited:\n{deployment.log_tail('code_server')}\n"
                f"{deployment.log_tail('daemon')}"
            )
            runs = instance.get_runs(dg.RunsFilter(job_name=EXTRACT_JOB))
            if killed_run is None:
                seen = markers(client, store.bucket)
                for run in runs:
                    if run.status != dg.DagsterRunStatus.STARTED:
                        continue
                    done = [k for k, m in seen.items() if m["run_id"] == run.run_id]
                    pid = run_worker_pid(instance, run.run_id)
                    # Mid-run, late enough that another run has started beside it.
                    if 2 <= len(done) < BATCH and pid:
                        os.kill(pid, signal.SIGKILL)
                        killed_run = run.run_id
                        break
                if killed_run:
                    # What the worker had written when it died is final now.
                    seen = markers(client, store.bucket)
                    finished_by_killed = {k for k, m in seen.items() if m["run_id"] == killed_run}
            else:
                in_progress = [r for r in runs if not r.is_finished]
                version = latest_version(client, store.layout())
                if version and not in_progress:
                    rows = documents_table(store, version)
                    if len(rows) == DOCUMENTS and all(r["status"] == "ok" for r in rows):
                        break
            time.sleep(0.3)
        elapsed = time.monotonic() - started
        logs = f"{deployment.log_tail('daemon')}\n{deployment.log_tail('code_server')}"
        assert killed_run, f"no run was caught mid-run within {DEADLINE_S}s:\n{logs}"
        assert version and len(rows) == DOCUMENTS, f"no complete version in {elapsed:.0f}s:\n{logs}"

        runs = instance.get_runs(dg.RunsFilter(job_name=EXTRACT_JOB))
        by_id = {run.run_id: run for run in runs}
        # The dead worker's run failed and was retried (run_retries + dagster/max_retries).
        assert by_id[killed_run].status == dg.DagsterRunStatus.FAILURE
        retries = [run for run in runs if run.parent_run_id == killed_run]
        assert len(retries) == 1 and retries[0].status == dg.DagsterRunStatus.SUCCESS
        retry = retries[0]
        assert retry.tags.get("dagster/retry_number") == "1"
        # The sensor launched several runs, and two of them ran at the same time.
        launched = [run for run in runs if run.tags.get("dagster/sensor_name")]
        assert len(launched) >= DOCUMENTS // BATCH
        records = [instance.get_run_record_by_id(run.run_id) for run in runs]
        windows = sorted((r.start_time, r.end_time) for r in records if r.start_time and r.end_time)
        assert any(
            later_start < earlier_end
            for (_, earlier_end), (later_start, _) in zip(windows, windows[1:], strict=False)
        ), f"no two extraction runs overlapped: {windows}"

        # What the dead worker finished was reused, not extracted again; the rest of its batch
        # was extracted by the retry.
        final = markers(client, store.bucket)
        batch = {k for k in keys if final[k]["run_id"] in (killed_run, retry.run_id)}
        assert len(batch) == BATCH
        assert 2 <= len(finished_by_killed) < BATCH
        for key in batch:
            expected = killed_run if key in finished_by_killed else retry.run_id
            assert final[key]["run_id"] == expected, key
        retry_messages = [
            entry.message
            for entry in instance.all_logs(retry.run_id)
            if "finished by an earlier attempt" in (entry.message or "")
        ]
        assert retry_messages and retry_messages[0].startswith(
            f"{len(finished_by_killed)} of {BATCH}"
        )

        # Nothing lost, nothing twice: one materialization per partition, one row per object.
        materialized = [r.partition_key for r in document_records(instance, "materializations")]
        assert sorted(materialized) == sorted(keys)
        assert sorted(r["document_key"] for r in rows) == sorted(f"documents/{k}" for k in keys)
        assert instance.get_latest_materialization_event(DOCUMENT_ASSET_KEY) is not None

        # The operators' metrics read the same event log.
        metrics = subprocess.run(
            [str(Path(sys.executable).with_name("pii-pipeline")), "metrics"],
            env=deployment.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert metrics.returncode == 0, metrics.stderr
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.stdout)
            for s in family.samples
        }
        assert samples[("pii_documents_processed_total", (("status", "ok"),))] == DOCUMENTS
        failed_runs = ("pii_runs_total", (("job", EXTRACT_JOB), ("status", "FAILURE")))
        assert samples[failed_runs] == 1
        instance.dispose()
    print(f"\nmulti-process deployment test: {elapsed:.0f}s to a complete version")
