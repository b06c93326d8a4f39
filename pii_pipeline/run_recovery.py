"""Runs whose process died, found and recovered; a pool slot waited for without spinning.

`pii-pipeline process` executes its runs in its own process (`execute_in_process`), so a `kill -9`
of it leaves them STARTED for ever and keeps the pool slot their step claimed: every later run in
the pool then waits for a slot that is never freed. Dagster's run monitoring cannot see this
here: it judges a run's worker through the run launcher's health check, which the default run
launcher does not offer (`supports_check_run_worker_health` is False), and an in-process run has
no launcher at all. So each run `process` starts is tagged with the host, pid and start time of
the process that runs it (`owner_tags`), and `recover_orphaned_runs` (called by `process` and by
the discovery sensor before they plan) fails the runs whose process is gone with the instance calls
run monitoring itself makes: `report_run_failed`, then `free_concurrency_slots_for_run` (what the
daemon's slot check does for finished runs). The documents of a dead extraction run get a
`not_started` observation, which the discovery tick (sensor and `process` alike) reads as
"request again" (`sensors.discovery.to_request_again`).

Only runs tagged with this host are judged, so a run of another machine sharing the instance
(PostgreSQL) is never failed from here; there, a daemon's run monitoring with a launcher that
checks workers' health recovers it (deploy/dagster.yaml).

`claim_pool_slot` is how `process` waits for a slot of a limited pool (`dagster instance
concurrency set pii_extraction 1`): Dagster's in-process executor polls a blocked claim in a loop
whose sleep is always 0 (`interval_to_next_pending_claim_check` returns `min(0, ...)` in Dagster
1.13), one core at 100% for as long as the slot stays taken. The slot is claimed here first, with
backoff and a bound (PII_POOL_WAIT_S), for the run id the run is then executed under; Dagster's
own claim then finds it claimed and goes straight on.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance.config import PoolGranularity
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.utils import make_new_run_id

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.document_asset import NOT_STARTED
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.partitions import documents_partitions

HOST_TAG = "pii/host"
PID_TAG = "pii/pid"
# The process's start time in clock ticks after boot (proc(5), field 22): a pid reused by another
# process after a reboot or wrap-around is not taken for the dead one.
PROCESS_START_TAG = "pii/process_start"
# A slot claimed before its run exists is recorded here (key + run id -> owner tags), so a claim
# left by a process killed in between is freed too.
_CLAIM_KEY = "pii_pipeline/pool_claim/"
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# Backoff while a pool is full: Dagster's own claim interval starts at 1 s and grows to 15 s.
_FIRST_WAIT_S = 0.5
_LONGEST_WAIT_S = 5.0


def _start_ticks(pid: int) -> str:
    """The process's start time (proc(5) `starttime`), or "" where /proc is missing."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return text[text.rfind(")") + 2 :].split()[19]


def owner_tags() -> dict[str, str]:
    """Tags naming this process (host, pid, start time) for the runs it executes itself."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PROCESS_START_TAG: _start_ticks(pid)}


def process_alive(pid: int, start_ticks: str = "") -> bool:
    """Whether process `pid` of this host runs (a zombie does not), and is the one that started
    at `start_ticks` when that is known."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        fields = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to tell more: os.kill said it exists
    fields_after_name = fields[fields.rfind(")") + 2 :].split()
    if fields_after_name[0] in ("Z", "X"):
        return False
    return not start_ticks or fields_after_name[19] == start_ticks


def _owner_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process the tags name is alive; None when it is not one of this host's."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    return process_alive(int(tags[PID_TAG]), tags.get(PROCESS_START_TAG, ""))


@dataclass(frozen=True)
class RecoveredRun:
    run_id: str
    job_name: str
    status: str  # what it was left in: STARTED, STARTING or NOT_STARTED
    documents_requested_again: int


@dataclass
class Recovery:
    runs: list[RecoveredRun] = field(default_factory=list)
    # Runs (or claims made before their run existed) whose pool slots were freed.
    slots_freed_for: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "runs": [vars(run) for run in self.runs],
            "slots_freed_for": self.slots_freed_for,
        }


def _run_partitions(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return [tags[PARTITION_NAME_TAG]]
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG)
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if not start or not end:
        return []
    order = instance.get_dynamic_partitions(documents_partitions.name)
    if start not in order or end not in order:
        return []
    return order[order.index(start) : order.index(end) + 1]


def recover_orphaned_runs(instance: dg.DagsterInstance) -> Recovery:
    """Fail this host's runs whose process is gone, free their pool slots (and slots still held
    by finished runs or by claims whose process is gone), and mark the documents of a dead
    extraction run `not_started` so that the next discovery tick requests them again.

    Costs one run query by tag and, with pools in use, one query of the slot tables.
    """
    recovery = Recovery()
    storage = instance.event_log_storage
    slots = storage.supports_global_concurrency_limits
    for run in instance.get_runs(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    ):
        if _owner_alive(dict(run.tags)) is not False:
            continue
        message = (
            f"the process that ran it (pid {run.tags[PID_TAG]} on {run.tags[HOST_TAG]}) is gone: "
            "marked failed by pii-pipeline's recovery of orphaned runs"
        )
        instance.report_run_failed(run, message)
        if slots:
            storage.free_concurrency_slots_for_run(run.run_id)
            recovery.slots_freed_for.append(run.run_id)
        keys = _run_partitions(instance, run) if run.job_name == EXTRACT_JOB else []
        for key in keys:
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=DOCUMENT_ASSET_KEY,
                    partition=key,
                    metadata={"status": NOT_STARTED, "reason": "run died", "run_id": run.run_id},
                )
            )
        recovery.runs.append(RecoveredRun(run.run_id, run.job_name, run.status.value, len(keys)))
    if slots:
        recovery.slots_freed_for.extend(_free_stale_claims(instance, set(recovery.slots_freed_for)))
    return recovery


def _free_stale_claims(instance: dg.DagsterInstance, done: set[str]) -> list[str]:
    """Free the slots and queued claims of finished runs and of pre-run claims whose process is
    gone; returns their run ids."""
    storage = instance.event_log_storage
    run_ids = storage.get_concurrency_run_ids() - done
    if not run_ids:
        return []
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(run_ids)))
    finished = {run.run_id for run in runs if run.is_finished}
    known = {run.run_id for run in runs}
    claims = instance.run_storage.get_cursor_values({_CLAIM_KEY + r for r in run_ids - known})
    stale = set(finished)
    for key, value in claims.items():
        if value and _owner_alive(json.loads(value)) is False:
            stale.add(key.removeprefix(_CLAIM_KEY))
    for run_id in sorted(stale):
        storage.free_concurrency_slots_for_run(run_id)
        instance.run_storage.set_cursor_values({_CLAIM_KEY + run_id: ""})
    return sorted(stale)


@dataclass(frozen=True)
class PoolBlocked:
    """A pool that stayed full for the whole wait, and who held its slots."""

    pool: str
    limit: int
    waited_s: float
    held_by: list[dict[str, str]]  # {"run_id", "step"} of each claimed slot

    def message(self) -> str:
        holders = ", ".join(f"run {h['run_id']} (step {h['step']})" for h in self.held_by)
        return (
            f"pool {self.pool} stayed full for {self.waited_s:.0f} s (PII_POOL_WAIT_S): its "
            f"{self.limit} slot{'s' if self.limit != 1 else ''} held by {holders or 'no run'}"
        )


def claim_pool_slot(
    instance: dg.DagsterInstance,
    pool: str,
    run_id: str,
    step_key: str,
    *,
    wait_s: float,
    on_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> PoolBlocked | None:
    """Claim a slot of `pool` for step `step_key` of the run about to be executed as `run_id`,
    waiting up to `wait_s` seconds with backoff (no CPU spent). None when claimed, or when the
    pool has no limit (Dagster does not block then); the blocking state when the wait ran out
    (the queued claim is withdrawn). `on_wait` is called once, when the first claim is refused.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    if storage.get_pool_config().pool_granularity == PoolGranularity.RUN:
        return None  # Dagster does not claim per step then: the run queue enforces the pool
    info = storage.get_concurrency_info(pool)
    if info.limit is None:
        return None
    if info.using_default_limit and info.slot_count != info.limit:
        storage.initialize_concurrency_limit_to_default(pool)  # as Dagster's own claim does
    instance.run_storage.set_cursor_values({_CLAIM_KEY + run_id: json.dumps(owner_tags())})
    started = time.monotonic()
    pause = _FIRST_WAIT_S
    told = False
    while True:
        if storage.claim_concurrency_slot(pool, run_id, step_key).is_claimed:
            return None
        waited = time.monotonic() - started
        if waited >= wait_s:
            blocked = _blocked(instance, pool, waited)
            storage.free_concurrency_slots_for_run(run_id)
            release_claim_record(instance, run_id)
            return blocked
        if not told:
            on_wait(_blocked(instance, pool, waited))
            told = True
        time.sleep(min(pause, wait_s - waited))
        pause = min(pause * 2, _LONGEST_WAIT_S)


def release_claim_record(instance: dg.DagsterInstance, run_id: str) -> None:
    """Forget the pre-run claim record once its run has run (its slots are Dagster's then)."""
    instance.run_storage.set_cursor_values({_CLAIM_KEY + run_id: ""})


def _blocked(instance: dg.DagsterInstance, pool: str, waited: float) -> PoolBlocked:
    info = instance.event_log_storage.get_concurrency_info(pool)
    held = [{"run_id": slot.run_id, "step": slot.step_key} for slot in info.claimed_slots]
    return PoolBlocked(pool, info.limit or 0, round(waited, 1), held)


def execute_owned(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    run_config: dict[str, Any],
    tags: dict[str, str],
    partition_key: str | None = None,
    pool_wait_s: float,
    on_pool_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> dg.ExecuteInProcessResult | PoolBlocked:
    """Execute `job` in this process as a run tagged with this process (`owner_tags`, so that
    `recover_orphaned_runs` fails it should the process die), once a slot of each pool its steps
    use is claimed (`claim_pool_slot`); the blocking state instead when a pool stayed full for
    `pool_wait_s` seconds (nothing was executed then). Slots the run still holds when it ends
    (e.g. it failed before its step ran) are freed."""
    run_id = make_new_run_id()
    pooled = [
        (node.name, node.definition.pool)
        for node in job.graph.nodes
        if getattr(node.definition, "pool", None)
    ]
    try:
        for step_key, pool in pooled:
            blocked = claim_pool_slot(
                instance, pool, run_id, step_key, wait_s=pool_wait_s, on_wait=on_pool_wait
            )
            if blocked is not None:
                return blocked
        return job.execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={**tags, **owner_tags()},
            partition_key=partition_key,
            raise_on_error=False,
            run_id=run_id,
        )
    finally:
        if pooled and instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            release_claim_record(instance, run_id)
