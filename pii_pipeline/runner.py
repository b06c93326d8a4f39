"""One-shot processing, as a cron job or a Lambda would run the pipeline.

It runs the same discovery ticks the daemon's sensor runs (`sensors.discovery.Discovery`), on the
same discovery state, so the two never request one object version twice; it executes the
batched runs through the Dagster instance (so they show in the UI's run history), then publishes
a dataset version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from pii_assets.document_asset import CODE_VERSION_TAG
from pii_assets.event_log import document_outcomes
from pii_assets.jobs import PUBLISH_JOB, failed_only_by_documents
from pii_assets.partitions import ONE_SHARD, DocumentShards
from pii_pipeline.run_recovery import (
    PoolBlocked,
    Recovery,
    execute_owned,
    recover_orphaned_runs,
)
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings, PipelineSettings
from sensors.discovery import BATCH_TAG, Discovery, run_request
from sensors.discovery_plan import Batch, consecutive_runs, run_key

# What the audit marker of an archived object recorded by `process` names as its run.
RECORDED_BY = "pii-pipeline process"
# Each tick launches at most max_runs_per_tick batches; this bounds the ticks of one call.
_MAX_TICKS = 10_000
_QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# How long a run waits for a slot of a limited pool (PII_POOL_WAIT_S's default).
DEFAULT_POOL_WAIT_S = PipelineSettings.pool_wait_s


@dataclass(frozen=True)
class Postponed:
    """A document this call left failed for a transient cause."""

    partition_key: str
    error_class: str
    attempts: int
    next_attempt_at: float | None  # None: the attempts are used up; only `reprocess` retries it


@dataclass
class ProcessReport:
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    documents_requested: int = 0
    new_partitions: int = 0
    deleted_partitions: int = 0
    archived: int = 0  # archived objects recorded as skipped without a GET
    listed: int = 0
    events: int = 0  # S3 event notifications applied (events mode)
    dataset_version: str | None = None
    dataset_path: str | None = None
    publish_failed: bool = False
    postponed: list[Postponed] = field(default_factory=list)
    # Documents requested by a run that does not exist (yet): claimed by a process that died
    # before it launched the run, or by the daemon's sensor a moment ago. Never reported `ok`.
    waiting: list[str] = field(default_factory=list)
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
        return (
            not self.failed_runs
            and not self.publish_failed
            and not self.postponed
            and not self.waiting
            and self.pool_blocked is None
        )


def _execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    request: dg.RunRequest,
    *,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_pool_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> dg.ExecuteInProcessResult | PoolBlocked:
    """The run, executed in this process and tagged with it (`run_recovery.execute_owned`), or
    the pool that stayed full for `pool_wait_s` seconds."""
    return execute_owned(
        defs.resolve_job_def(request.job_name or PUBLISH_JOB),
        instance,
        run_config=_QUIET_LOGS,
        tags={**request.tags, "pii/launched_by": "pii-pipeline process"},
        partition_key=request.partition_key,
        pool_wait_s=pool_wait_s,
        on_pool_wait=on_pool_wait,
    )


def _finished(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> bool:
    """The run succeeded, or failed only through documents that failed (the others are
    materialized; the failed ones are recorded and requested again only when transient)."""
    run = instance.get_run_by_id(result.run_id)
    return result.success or (run is not None and failed_only_by_documents(run))


def _more_to_list(discovery: Discovery, settings: DiscoverySettings, started: float) -> bool:
    """Listing mode: a pass that started after this call began must have ended, so every object
    present at the start was seen."""
    if settings.mode != "listing":
        return False
    return discovery.pass_started_at() is not None or discovery.last_pass_started_at() < started


def _requested_without_run(instance: dg.DagsterInstance, discovery: Discovery) -> list[str]:
    """Partitions claimed for a batch no run carries out yet: claimed by another `process` that
    has not reached that batch, or by one killed between its claim and its run (the sensor
    requests them again `RUN_LEASE_S` after the claim)."""
    lost = [
        batch
        for batch in discovery.state.in_flight()
        if not instance.get_run_records(dg.RunsFilter(tags={BATCH_TAG: batch}), limit=1)
    ]
    return discovery.state.unsettled_partitions(lost)


def _record_run(
    report: ProcessReport,
    instance: dg.DagsterInstance,
    result: dg.ExecuteInProcessResult,
    documents: int,
) -> bool:
    report.runs += 1
    report.documents_requested += documents
    if _finished(instance, result):
        return True
    report.failed_runs.append(result.run_id)
    report.run_failures.extend(_failures(result))
    return False


def process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    batch_size: int,
    max_runs: int,
    publish: bool = True,
    discovery_settings: DiscoverySettings | None = None,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_plan: Callable[[int], None] = lambda documents: None,
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
    on_pool_wait: Callable[[PoolBlocked], None] = lambda blocked: None,
) -> ProcessReport:
    """Discover, extract in batches until nothing is left, then publish a version.

    First, runs of this host whose process died are failed and their pool slots freed
    (`run_recovery.recover_orphaned_runs`); their documents are requested again. Each document is
    run at most once per call: one that fails transiently (or whose run fails) is scheduled again
    with backoff in the discovery state and reported as postponed, which makes the call not
    `ok`. Archived objects are recorded as `skipped/archived` without reading them (reported as
    runless materializations). When the extraction pool stays full for `pool_wait_s` seconds,
    the remaining batches are left for the next call (`report.pool_blocked` says who holds it).
    """
    settings = discovery_settings or DiscoverySettings.from_env()
    store: DocumentStore = defs.resources["store"].process_config_and_initialize()
    report = ProcessReport(recovery=recover_orphaned_runs(instance))
    discovery = Discovery(
        instance,
        store,
        settings,
        batch_size=batch_size,
        max_runs=max_runs,
        code_version=document_code_version(defs, DocumentShards(settings.document_shards)),
        recorded_by=RECORDED_BY,
    )
    attempted: set[str] = set()
    listing = 0
    started = time.time()
    for _ in range(_MAX_TICKS):
        if report.pool_blocked is not None:
            break
        tick = discovery.tick(exclude=sorted(attempted))
        progress = tick.report
        # Objects under the prefix: the keys of the last complete listing pass (a first call
        # makes two passes; summing them counted every object twice).
        listing += progress.listed
        if progress.pass_complete:
            report.listed, listing = listing, 0
        report.events += progress.events
        report.new_partitions += progress.new
        report.deleted_partitions += progress.deleted
        for event in tick.archived:
            instance.report_runless_asset_event(event)
            report.archived += 1
        more = (
            _more_to_list(discovery, settings, started)
            or progress.events + progress.events_ignored > 0
        )
        if not tick.batches and not tick.archived and not more:
            break
        if tick.batches:
            on_plan(sum(len(b.partition_keys) for b in tick.batches) + progress.pending)
        for batch in tick.batches:
            attempted.update(batch.partition_keys)
            result = _execute(
                defs,
                instance,
                run_request(batch, discovery.shards),
                pool_wait_s=pool_wait_s,
                on_pool_wait=on_pool_wait,
            )
            if isinstance(result, PoolBlocked):
                report.pool_blocked = result
                break
            on_batch(batch, _record_run(report, instance, result, len(batch.partition_keys)))
    # The last runs' outcomes: transient failures are scheduled again, and reported.
    discovery.settle(time.time())
    report.postponed = [
        Postponed(key, error_class or "", attempts, retry_at)
        for key, (error_class, attempts, retry_at) in sorted(
            discovery.state.retry_status(attempted).items()
        )
    ]
    report.listed = report.listed or listing
    report.waiting = _requested_without_run(instance, discovery)
    if publish:
        _publish(defs, instance, report)
    return report


def document_code_version(defs: dg.Definitions, shards: DocumentShards = ONE_SHARD) -> str:
    """The document asset's code version (every shard's asset has the same)."""
    asset_key = shards.asset_key(0)
    return defs.get_assets_def(asset_key).code_versions_by_key[asset_key] or ""


def stale_partitions(
    instance: dg.DagsterInstance, code_version: str, shards: DocumentShards = ONE_SHARD
) -> list[str]:
    """Partitions whose latest outcome (materialization, or failure) ran another extraction code
    version, or none.

    Read from the code version Dagster records on each partition's materialization, since the
    UI computes no staleness for a rollup over hundreds of partitions.
    """
    latest: dict[str, str | None] = {}
    for record in document_outcomes(instance, asset_keys=shards.asset_keys):
        if record.partition_key:
            tags = record.event_log_entry.tags or {}
            latest[record.partition_key] = tags.get(CODE_VERSION_TAG)
    return [key for key in shards.registered(instance) if latest.get(key) != code_version]


def estimate_cost_usd(defs: dg.Definitions, partition_keys: list[str]) -> float | None:
    """What re-extracting these partitions is expected to cost with the LLM extractor, in USD
    (None for an extractor that costs nothing). Each object is read and estimated the way a run
    reserves its budget before a document starts (`LlmExtractor.estimate_document_usd`: an upper
    bound); objects over PII_MAX_FILE_MB or gone cost nothing (they are skipped)."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import BotoCoreError, ClientError

    from pii_assets.bucket import read_object, resolve_object_key

    extractor = defs.resources["extractor"].process_config_and_initialize()
    page_extractor = extractor.page_extractor()
    estimate = getattr(page_extractor, "estimate_document_usd", None)
    if estimate is None:
        return None
    documents = defs.resources["documents"].process_config_and_initialize()
    store: DocumentStore = defs.resources["store"].process_config_and_initialize()
    client, layout = store.client(), store.layout()
    passwords, limits = tuple(documents.password_list()), documents.limits()

    def one(partition_key: str) -> float:
        object_key = resolve_object_key(client, layout, partition_key)
        if object_key is None:
            return 0.0
        try:
            read = read_object(
                client, layout.bucket, object_key, max_bytes=documents.max_file_bytes
            )
        except (ClientError, BotoCoreError):  # gone or unreadable: a run would not spend on it
            return 0.0
        if read.data is None:  # over PII_MAX_FILE_MB: never downloaded
            return 0.0
        return float(estimate(read.data, passwords=passwords, limits=limits))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return float(sum(pool.map(one, partition_keys)))


def reprocess(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    partition_keys: list[str],
    *,
    batch_size: int,
    publish: bool = True,
    shards: DocumentShards = ONE_SHARD,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    on_batch: Callable[[Batch, bool], None] = lambda batch, ok: None,
) -> ProcessReport:
    """Re-extract the given partitions in batched runs (ranges in partition order within each
    shard), then publish; as `process`, after recovering orphaned runs and waiting at most
    `pool_wait_s` for a pool slot."""
    wanted = set(partition_keys)
    orders = [shards.in_shard(instance, shard) for shard in range(shards.count)]
    unknown = wanted - {key for order in orders for key in order}
    if unknown:
        raise ValueError(f"{len(unknown)} partition keys are not registered partitions")
    report = ProcessReport(
        listed=sum(len(order) for order in orders), recovery=recover_orphaned_runs(instance)
    )
    code_version = document_code_version(defs, shards)
    versions = {key: code_version for key in partition_keys}
    salt = f"{time.time():.6f}"  # a new reprocess of the same partitions is a new run
    for shard, order in enumerate(orders):
        if report.pool_blocked is not None:
            break
        for run in consecutive_runs(order, wanted, batch_size):
            batch = Batch(tuple(run), run_key(run, versions, salt), shard)
            result = _execute(defs, instance, run_request(batch, shards), pool_wait_s=pool_wait_s)
            if isinstance(result, PoolBlocked):
                report.pool_blocked = result
                break
            on_batch(batch, _record_run(report, instance, result, len(run)))
    if publish:
        _publish(defs, instance, report)
    return report


def _publish(defs: dg.Definitions, instance: dg.DagsterInstance, report: ProcessReport) -> None:
    """Run the publish job; the version it published is reported even when a step after the
    publish (the coverage check) failed, and a failure is reported with its step, class and
    message (Dagster's failure description: our messages name checks and counts, never values)."""
    result = _execute(defs, instance, dg.RunRequest(job_name=PUBLISH_JOB))
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
