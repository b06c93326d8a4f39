"""One-shot processing, as a cron job or a Lambda would run the pipeline.

It evaluates the same discovery sensor the daemon runs, executes the batched runs it asks for
through the Dagster instance (so they show in the UI's run history), then publishes a dataset
version. Its cursor lives in the instance's key-value store, apart from the daemon's sensor cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.document_asset import CODE_VERSION_TAG
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB, PUBLISH_JOB
from pii_assets.partitions import documents_partitions
from pii_pipeline.run_recovery import PoolBlocked, Recovery, execute_owned, recover_orphaned_runs
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from sensors.discovery import plan_for, record_archived_objects, run_request
from sensors.discovery_plan import Batch, DiscoveryState, consecutive_runs, run_key

CURSOR_KEY = "pii_pipeline/process/discovery_cursor"
# What the audit marker of an archived object recorded by `process` names as its run.
RECORDED_BY = "pii-pipeline process"
# Each tick launches at most max_runs_per_tick batches; this bounds the ticks of one call.
_MAX_TICKS = 10_000
_QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# How long a run waits for a slot of a limited pool (PII_POOL_WAIT_S's default).
DEFAULT_POOL_WAIT_S = PipelineSettings.pool_wait_s


@dataclass
class ProcessReport:
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    documents_requested: int = 0
    new_partitions: int = 0
    deleted_partitions: int = 0
    archived: int = 0  # archived objects recorded as skipped without a GET
    listed: int = 0
    dataset_version: str | None = None
    dataset_path: str | None = None
    publish_failed: bool = False
    # "published", "unchanged" (no document's rows changed: no new version) or "rejected".
    publish_status: str | None = None
    publish_errors: list[dict[str, str]] = field(default_factory=list)
    # Why each failed extraction run failed: run id, step, error class and message (no values).
    run_failures: list[dict[str, str]] = field(default_factory=list)
    # Runs of a dead process failed (and their pool slots freed) before this call planned.
    recovery: Recovery = field(default_factory=Recovery)
    # A pool that stayed full for PII_POOL_WAIT_S: the remaining batches were left for later.
    pool_blocked: PoolBlocked | None = None

    @property
    def ok(self) -> bool:
        return not self.failed_runs and not self.publish_failed and self.pool_blocked is None


def _load_cursor(instance: dg.DagsterInstance) -> str | None:
    return instance.run_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)


def _save_cursor(instance: dg.DagsterInstance, state: DiscoveryState) -> None:
    instance.run_storage.set_cursor_values({CURSOR_KEY: state.encode()})


def _execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    request: dg.RunRequest,
    *,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_pool_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> dg.ExecuteInProcessResult | PoolBlocked:
    """The run, executed in this process and tagged with it (`run_recovery.execute_owned`), or
    the pool that stayed full for `pool_wait_s` seconds."""
    return execute_owned(
        defs.resolve_job_def(job_name),
        instance,
        run_config=_QUIET_LOGS,
        tags={**request.tags, "pii/launched_by": "pii-pipeline process"},
        partition_key=request.partition_key,
        pool_wait_s=pool_wait_s,
        on_pool_wait=on_pool_wait,
    )


def _record_run(report: ProcessReport, result: dg.ExecuteInProcessResult, documents: int) -> bool:
    report.runs += 1
    report.documents_requested += documents
    if not result.success:
        report.failed_runs.append(result.run_id)
        report.run_failures.extend(_failures(result))
    return result.success


def process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    batch_size: int,
    max_runs: int,
    publish: bool = True,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_plan: Callable[[int], None] = lambda documents: None,
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
    on_pool_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> ProcessReport:
    """Discover, extract in batches until nothing is left, then publish a version.

    First, runs of this host whose process died are failed and their pool slots freed
    (`run_recovery.recover_orphaned_runs`); their documents are requested again. Like the
    discovery sensor, each tick records archived objects as `skipped/archived` without reading
    them (reported as runless materializations). A document this call already ran (e.g. one S3
    throttled, which discovery requests again) is left for the next call. When the extraction
    pool stays full for `pool_wait_s` seconds, the remaining batches are left for the next call
    (`report.pool_blocked` says who holds the pool).
    """
    store: DocumentStore = defs.resources["store"].process_config_and_initialize()
    code_version = _document_code_version(defs)
    report = ProcessReport(recovery=recover_orphaned_runs(instance))
    attempted: set[str] = set()
    for _ in range(_MAX_TICKS):
        if report.pool_blocked is not None:
            break
        plan = plan_for(
            instance, store, _load_cursor(instance), batch_size=batch_size, max_runs=max_runs
        )
        report.listed = plan.listed
        if plan.new_partitions:
            instance.add_dynamic_partitions(documents_partitions.name, plan.new_partitions)
            report.new_partitions += len(plan.new_partitions)
        for key in plan.deleted_partitions:
            instance.delete_dynamic_partition(documents_partitions.name, key)
        report.deleted_partitions += len(plan.deleted_partitions)
        if plan.archived:
            for event in record_archived_objects(plan, store, code_version, RECORDED_BY):
                instance.report_runless_asset_event(event)
                report.archived += 1
            _save_cursor(instance, plan.state_after([]))
        # A document run (or a batch failed) in this call is not run again by it: the next call
        # tries again.
        batches = [b for b in plan.batches if not attempted.intersection(b.partition_keys)]
        if not batches:
            if plan.archived:
                continue  # the per-tick bound may have left more archived objects
            break
        on_plan(sum(len(b.partition_keys) for b in batches) + plan.pending)
        completed: list[Batch] = []
        for batch in batches:
            attempted.update(batch.partition_keys)
            result = _execute(
                defs,
                instance,
                EXTRACT_JOB,
                run_request(batch),
                pool_wait_s=pool_wait_s,
                on_pool_wait=on_pool_wait,
            )
            if isinstance(result, PoolBlocked):
                report.pool_blocked = result
                break
            ok = _record_run(report, result, len(batch.partition_keys))
            if ok:
                completed.append(batch)
                _save_cursor(instance, plan.state_after(completed))
            on_batch(batch, ok)
    if publish:
        _publish(defs, instance, report)
    return report


def _document_code_version(defs: dg.Definitions) -> str:
    assets_def = defs.get_assets_def(DOCUMENT_ASSET_KEY)
    return assets_def.code_versions_by_key[DOCUMENT_ASSET_KEY] or ""


def stale_partitions(instance: dg.DagsterInstance, code_version: str) -> list[str]:
    """Partitions whose latest materialization ran another extraction code version, or none.

    Read from the code version Dagster records on each partition's materialization, since the
    UI computes no staleness for a rollup over hundreds of partitions.
    """
    latest: dict[str, str | None] = {}
    for record in document_records(instance, "materializations"):
        if record.partition_key:
            tags = record.event_log_entry.tags or {}
            latest[record.partition_key] = tags.get(CODE_VERSION_TAG)
    partitions = instance.get_dynamic_partitions(documents_partitions.name)
    return [key for key in partitions if latest.get(key) != code_version]


def reprocess(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    partition_keys: list[str],
    *,
    batch_size: int,
    publish: bool = True,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
) -> ProcessReport:
    """Re-extract the given partitions in batched runs (ranges in partition order), then publish;
    as `process`, after recovering orphaned runs and waiting at most `pool_wait_s` for a slot."""
    order = instance.get_dynamic_partitions(documents_partitions.name)
    unknown = set(partition_keys) - set(order)
    if unknown:
        raise ValueError(f"{len(unknown)} partition keys are not registered partitions")
    report = ProcessReport(listed=len(order), recovery=recover_orphaned_runs(instance))
    code_version = _document_code_version(defs)
    versions = {key: code_version for key in partition_keys}
    for run in consecutive_runs(order, set(partition_keys), batch_size):
        batch = Batch(tuple(run), run_key(run, versions))
        result = _execute(defs, instance, EXTRACT_JOB, run_request(batch), pool_wait_s=pool_wait_s)
        if isinstance(result, PoolBlocked):
            report.pool_blocked = result
            break
        on_batch(batch, _record_run(report, result, len(run)))
    if publish:
        _publish(defs, instance, report)
    return report


def _publish(defs: dg.Definitions, instance: dg.DagsterInstance, report: ProcessReport) -> None:
    """Run the publish job; the version it published is reported even when a step after the
    publish (the coverage check) failed, and a failure is reported with its step, class and
    message (Dagster's failure description: our messages name checks and counts, never values)."""
    result = _execute(defs, instance, PUBLISH_JOB, dg.RunRequest())
    assert not isinstance(result, PoolBlocked)  # publishing uses no pool
    for event in result.get_asset_materialization_events():
        metadata: dict[str, Any] = event.materialization.metadata
        report.dataset_version = metadata["version"].value or None
        report.dataset_path = metadata["path"].value
        if "publish_status" in metadata:
            report.publish_status = metadata["publish_status"].value
    if result.success:
        return
    report.publish_failed = report.publish_status != "published"
    report.publish_errors.extend(_failures(result))


_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")


def _failures(result: dg.ExecuteInProcessResult) -> list[dict[str, str]]:
    """A failed run's step failures: run id, step, error class and message (Dagster's failure
    description for our own `dg.Failure`s, which name checks and counts, never values; only the
    type of any other exception, whose text could quote data). A run that failed outside any
    step gets one entry with an empty step and Dagster's run failure message."""
    failures = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            # Dagster wraps an exception raised in the step's code: the cause is the one to name.
            while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
                error = error.cause
            cls_name = error.cls_name if error else ""
            ours = cls_name in ("Failure", "DagsterFailure") and error is not None
            failures.append(
                {
                    "run_id": result.run_id,
                    "step": event.step_key or "",
                    "error_class": cls_name,
                    "message": error.message.strip()[:500] if ours else f"{cls_name} raised",
                }
            )
    if not failures:
        run_failure = next(
            (e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE),
            None,
        )
        message = (run_failure.message or "") if run_failure else "the run did not succeed"
        failures.append(
            {"run_id": result.run_id, "step": "", "error_class": "", "message": message[:500]}
        )
    return failures
