"""Runs whose process died and full pools, on a real SQLite Dagster instance: a process executing
a run in the `pii_extraction` pool (limit 1) is killed with SIGKILL; its run is failed and its slot
freed by `recover_orphaned_runs`, never a live process's; a claim on a full pool waits with
backoff, without spinning, and says which run holds the slot."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pii_assets.document_asset import EXTRACTION_POOL
from pii_pipeline.cli import ensure_instance_home
from pii_pipeline.run_recovery import (
    HOST_TAG,
    PID_TAG,
    PoolBlocked,
    claim_pool_slot,
    execute_owned,
    owner_tags,
    process_alive,
    recover_orphaned_runs,
)

ROOT = Path(__file__).resolve().parents[1]


@dg.op(pool=EXTRACTION_POOL)
def slow_step() -> None:
    time.sleep(120)


@dg.op(pool=EXTRACTION_POOL)
def quick_step() -> int:
    return 1


@dg.job
def slow_job() -> None:
    slow_step()


@dg.job
def quick_job() -> None:
    quick_step()


_RUN_SLOW_JOB = """
import dagster as dg
from pii_pipeline.run_recovery import execute_owned
from tests.test_run_recovery import slow_job
execute_owned(slow_job, dg.DagsterInstance.get(), run_config={}, tags={}, pool_wait_s=60)
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return ensure_instance_home(tmp_path / "home")


@pytest.fixture
def pooled(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots(EXTRACTION_POOL, 1)
        yield instance


def _start_slow_run(home: Path, instance: dg.DagsterInstance) -> tuple[subprocess.Popen, str]:
    worker = subprocess.Popen(
        [sys.executable, "-c", _RUN_SLOW_JOB],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        claimed = instance.event_log_storage.get_concurrency_info(EXTRACTION_POOL).claimed_slots
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if claimed and runs:
            return worker, runs[0].run_id
        time.sleep(0.2)
    worker.kill()
    raise AssertionError("the worker never started its run")


def test_a_killed_process_run_is_failed_and_its_slot_freed(
    home: Path, pooled: dg.DagsterInstance
) -> None:
    worker, run_id = _start_slow_run(home, pooled)
    run = pooled.get_run_by_id(run_id)
    assert run is not None and run.tags[PID_TAG] == str(worker.pid)
    # While it lives, nothing is touched.
    assert recover_orphaned_runs(pooled).runs == []
    assert pooled.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED

    worker.send_signal(signal.SIGKILL)
    time.sleep(0.5)  # not reaped yet: a zombie is dead too
    assert not process_alive(worker.pid)
    recovery = recover_orphaned_runs(pooled)
    worker.wait()
    assert [(r.run_id, r.job_name, r.status) for r in recovery.runs] == [
        (run_id, "slow_job", "STARTED")
    ]
    assert pooled.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    info = pooled.event_log_storage.get_concurrency_info(EXTRACTION_POOL)
    assert info.claimed_slots == [] and info.pending_steps == []
    failure = pooled.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert f"pid {worker.pid}" in failure[0].message and "is gone" in failure[0].message
    # Recovered once: the next call finds nothing.
    assert recover_orphaned_runs(pooled).runs == []
    # The pool is free again: a run gets its slot at once.
    result = execute_owned(quick_job, pooled, run_config={}, tags={}, pool_wait_s=5)
    assert isinstance(result, dg.ExecuteInProcessResult) and result.success


def test_a_full_pool_is_waited_for_without_spinning_and_names_its_holder(
    pooled: dg.DagsterInstance,
) -> None:
    # A live holder: this very process, claiming for a run about to start.
    assert claim_pool_slot(pooled, EXTRACTION_POOL, "holder-run", "step", wait_s=1) is None
    told: list[PoolBlocked] = []
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    blocked = execute_owned(
        quick_job, pooled, run_config={}, tags={}, pool_wait_s=3, on_pool_wait=told.append
    )
    waited = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    assert isinstance(blocked, PoolBlocked)
    assert blocked.held_by == [{"run_id": "holder-run", "step": "step"}]
    assert blocked.message() == (
        f"pool {EXTRACTION_POOL} stayed full for 3 s (PII_POOL_WAIT_S): its 1 slot held by "
        "run holder-run (step step)"
    )
    assert len(told) == 1 and told[0].held_by == blocked.held_by
    assert 3 <= waited < 8
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    assert cpu < 0.5 * waited, cpu  # it slept: Dagster's own wait would spin one core
    # Nothing ran, and its queued claim was withdrawn: only the holder is in the pool.
    assert pooled.get_runs() == []
    info = pooled.event_log_storage.get_concurrency_info(EXTRACTION_POOL)
    assert {step.run_id for step in info.pending_steps} == {"holder-run"}
    # A live holder is never recovered; once it lets go, the run gets the slot.
    assert recover_orphaned_runs(pooled).slots_freed_for == []
    pooled.event_log_storage.free_concurrency_slots_for_run("holder-run")
    result = execute_owned(quick_job, pooled, run_config={}, tags={}, pool_wait_s=3)
    assert isinstance(result, dg.ExecuteInProcessResult) and result.success
    assert pooled.event_log_storage.get_concurrency_info(EXTRACTION_POOL).claimed_slots == []


def test_a_claim_left_by_a_dead_process_before_its_run_existed_is_freed(
    pooled: dg.DagsterInstance,
) -> None:
    """`kill -9` between the claim and the run's creation leaves a slot with no run."""
    dead_pid = _a_dead_pid()
    tags = {**owner_tags(), PID_TAG: str(dead_pid)}
    pooled.run_storage.set_cursor_values({"pii_pipeline/pool_claim/dead-run": json.dumps(tags)})
    pooled.event_log_storage.claim_concurrency_slot(EXTRACTION_POOL, "dead-run", "step")
    assert pooled.event_log_storage.get_concurrency_info(EXTRACTION_POOL).claimed_slots
    recovery = recover_orphaned_runs(pooled)
    assert recovery.slots_freed_for == ["dead-run"]
    assert pooled.event_log_storage.get_concurrency_info(EXTRACTION_POOL).claimed_slots == []


def test_runs_of_another_host_are_never_judged(pooled: dg.DagsterInstance) -> None:
    run = pooled.create_run_for_job(
        quick_job, tags={HOST_TAG: "another-host", PID_TAG: "1"}, status=dg.DagsterRunStatus.STARTED
    )
    assert recover_orphaned_runs(pooled).runs == []
    assert pooled.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED


def test_the_pool_wait_is_validated_where_it_is_read() -> None:
    from resources.settings import PipelineSettings

    assert PipelineSettings.from_env({}).pool_wait_s == 600
    assert PipelineSettings.from_env({"PII_POOL_WAIT_S": "0"}).pool_wait_s == 0
    for bad, why in (("-5", "at least 0"), ("soon", "an integer"), ("90000", "at most 86400")):
        with pytest.raises(ValueError, match=f"PII_POOL_WAIT_S must be {why}"):
            PipelineSettings.from_env({"PII_POOL_WAIT_S": bad})


def test_the_sensor_fails_a_dead_process_run_and_requests_its_documents_again(
    instance, store
) -> None:
    """What `kill -9` of `pii-pipeline process` leaves (its batch's run STARTED, tagged with a
    process that is gone), seen by the discovery sensor's next tick."""
    from pii_assets.definitions import build_definitions
    from pii_assets.jobs import EXTRACT_JOB
    from resources.settings import PipelineSettings
    from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG
    from tests.test_discovery_sensor import put, requested_keys, tick

    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(store, name)
    first = tick(instance, store)
    assert requested_keys(first, instance) == ["a.pdf", "b.pdf", "c.pdf"]
    dead_pid = _a_dead_pid()
    job = build_definitions(PipelineSettings()).resolve_job_def(EXTRACT_JOB)
    run = instance.create_run_for_job(
        job,
        tags={
            **owner_tags(),
            PID_TAG: str(dead_pid),
            RANGE_START_TAG: "a.pdf",
            RANGE_END_TAG: "b.pdf",
        },
        status=dg.DagsterRunStatus.STARTED,
    )
    # The sensor counted the batch as requested; the tick fails the dead run first and its two
    # documents are requested again.
    again = tick(instance, store)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert requested_keys(again, instance) == ["a.pdf", "b.pdf"]


def _a_dead_pid() -> int:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(gone.stdout)
