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
from pii_assets.event_log import document_outcomes
from pii_assets.jobs import EXTRACT_JOB, PUBLISH_JOB, failed_only_by_documents
from pii_assets.partitions import documents_partitions
from resources.s3 import DocumentStore
from sensors.discovery import plan_for, record_archived_objects, run_request
from sensors.discovery_plan import Batch, DiscoveryState, consecutive_runs, run_key

CURSOR_KEY = "pii_pipeline/process/discovery_cursor"
# What the audit marker of an archived object recorded by `process` names as its run.
RECORDED_BY = "pii-pipeline process"
# Each tick launches at most max_runs_per_tick batches; this bounds the ticks of one call.
_MAX_TICKS = 10_000
_QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


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

    @property
    def ok(self) -> bool:
        return not self.failed_runs and not self.publish_failed


def _load_cursor(instance: dg.DagsterInstance) -> str | None:
    return instance.run_storage.get_cursor_values({CURSOR_KEY}).get(CURSOR_KEY)


def _save_cursor(instance: dg.DagsterInstance, state: DiscoveryState) -> None:
    instance.run_storage.set_cursor_values({CURSOR_KEY: state.encode()})


def _execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        run_config=_QUIET_LOGS,
        tags={**request.tags, "pii/launched_by": "pii-pipeline process"},
        partition_key=request.partition_key,
        raise_on_error=False,
    )


def _finished(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> bool:
    """The run succeeded, or failed only through documents that failed (the others are
    materialized; the failed ones are recorded and requested again only when changed)."""
    run = instance.get_run_by_id(result.run_id)
    return result.success or (run is not None and failed_only_by_documents(run))


def process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    batch_size: int,
    max_runs: int,
    publish: bool = True,
    on_plan: Callable[[int], None] = lambda documents: None,
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
) -> ProcessReport:
    """Discover, extract in batches until nothing is left, then publish a version.

    Like the discovery sensor, each tick records archived objects as `skipped/archived` without
    reading them (reported as runless materializations). A document this call already ran (e.g.
    one S3 throttled, which discovery requests again) is left for the next call.
    """
    store: DocumentStore = defs.resources["store"].process_config_and_initialize()
    code_version = _document_code_version(defs)
    report = ProcessReport()
    attempted: set[str] = set()
    for _ in range(_MAX_TICKS):
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
            result = _execute(defs, instance, EXTRACT_JOB, run_request(batch))
            report.runs += 1
            report.documents_requested += len(batch.partition_keys)
            if _finished(instance, result):
                completed.append(batch)
                _save_cursor(instance, plan.state_after(completed))
            else:
                report.failed_runs.append(result.run_id)
            on_batch(batch, result.success)
    if publish:
        _publish(defs, instance, report)
    return report


def _document_code_version(defs: dg.Definitions) -> str:
    assets_def = defs.get_assets_def(DOCUMENT_ASSET_KEY)
    return assets_def.code_versions_by_key[DOCUMENT_ASSET_KEY] or ""


def stale_partitions(instance: dg.DagsterInstance, code_version: str) -> list[str]:
    """Partitions whose latest outcome (materialization, or failure) ran another extraction code
    version, or none.

    Read from the code version Dagster records on each partition's materialization, since the
    UI computes no staleness for a rollup over hundreds of partitions.
    """
    latest: dict[str, str | None] = {}
    for record in document_outcomes(instance):
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
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
) -> ProcessReport:
    """Re-extract the given partitions in batched runs (ranges in partition order), then publish."""
    order = instance.get_dynamic_partitions(documents_partitions.name)
    unknown = set(partition_keys) - set(order)
    if unknown:
        raise ValueError(f"{len(unknown)} partition keys are not registered partitions")
    report = ProcessReport(listed=len(order))
    code_version = _document_code_version(defs)
    versions = {key: code_version for key in partition_keys}
    for run in consecutive_runs(order, set(partition_keys), batch_size):
        batch = Batch(tuple(run), run_key(run, versions))
        result = _execute(defs, instance, EXTRACT_JOB, run_request(batch))
        report.runs += 1
        report.documents_requested += len(run)
        if not _finished(instance, result):
            report.failed_runs.append(result.run_id)
        on_batch(batch, result.success)
    if publish:
        _publish(defs, instance, report)
    return report


def _publish(defs: dg.Definitions, instance: dg.DagsterInstance, report: ProcessReport) -> None:
    """Run the publish job; the version it published is reported even when a step after the
    publish (the coverage check) failed, and a failure is reported with its step, class and
    message (Dagster's failure description: our messages name checks and counts, never values)."""
    result = _execute(defs, instance, PUBLISH_JOB, dg.RunRequest())
    for event in result.get_asset_materialization_events():
        metadata: dict[str, Any] = event.materialization.metadata
        report.dataset_version = metadata["version"].value or None
        report.dataset_path = metadata["path"].value
        if "publish_status" in metadata:
            report.publish_status = metadata["publish_status"].value
    if result.success:
        return
    report.publish_failed = report.publish_status != "published"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            cls_name = error.cls_name if error else ""
            # Our own failures (dg.Failure) describe checks and counts; any other exception's
            # text could quote data, so only its type is reported.
            ours = cls_name in ("Failure", "DagsterFailure") and error is not None
            report.publish_errors.append(
                {
                    "run_id": result.run_id,
                    "step": event.step_key or "",
                    "error_class": cls_name,
                    "message": error.message.strip()[:500] if ours else f"{cls_name} raised",
                }
            )
