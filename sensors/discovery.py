"""Discovery sensor: new and changed S3 objects become partitions and batched extraction runs."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import dagster as dg

from pii_assets.bucket import list_objects
from pii_assets.document_asset import NOT_STARTED, recorded_materialization
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.log_format import default_run_config
from pii_assets.partitions import documents_partitions
from pii_assets.processing import RETRIED_ERROR_CLASSES, record_archived
from pii_pipeline.run_recovery import recover_orphaned_runs
from resources.s3 import DocumentStore
from resources.settings import daily_budget_usd as daily_budget_from_env
from sensors.discovery_plan import Batch, DiscoveryState, TickPlan, plan_tick

DISCOVERY_SENSOR = "document_discovery"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_request(batch: Batch) -> dg.RunRequest:
    tags = {"pii/documents": str(len(batch.partition_keys))}
    # A range run gets no partition config, so the log format's loggers are named here.
    config = default_run_config() or {}
    if len(batch.partition_keys) == 1:
        return dg.RunRequest(
            run_key=batch.run_key, partition_key=batch.first, tags=tags, run_config=config
        )
    return dg.RunRequest(
        run_key=batch.run_key,
        run_config=config,
        tags={**tags, RANGE_START_TAG: batch.first, RANGE_END_TAG: batch.last},
    )


def _metadata_value(record: dg.EventLogRecord, name: str) -> object:
    event = record.asset_materialization or record.asset_observation
    entry = event.metadata.get(name) if event else None
    return entry.value if entry is not None else None


def to_request_again(instance: dg.DagsterInstance, after: int) -> tuple[set[str], int]:
    """Partitions to request again, from the document asset's events after storage id `after`:
    those a run budget left unstarted (`not_started` observations) and those S3 throttled
    (materializations whose error class is in `RETRIED_ERROR_CLASSES`); and the newest id read.

    Both kinds are read up to one bound taken first, so an event written between the two reads
    is left for the next tick instead of being skipped.
    """
    bound = instance.event_log_storage.get_maximum_record_id() or after
    events: list[tuple[int, str, bool]] = []  # (storage id, partition, asks for another try)
    for kind, field, wanted in (
        ("observations", "status", {NOT_STARTED}),
        ("materializations", "error_class", RETRIED_ERROR_CLASSES),
    ):
        for record in document_records(instance, kind, after_storage_id=after):
            if record.storage_id > bound:
                break
            again = _metadata_value(record, field) in wanted
            # Other observations say nothing about whether the partition was read.
            if record.partition_key and (again or kind == "materializations"):
                events.append((record.storage_id, record.partition_key, again))
    # Per partition, its latest event in the window decides: a materialization that read the
    # object cancels an earlier throttled one.
    latest = {key: again for _, key, again in sorted(events)}
    return {key for key, again in latest.items() if again}, max(after, bound)


def record_archived_objects(
    plan: TickPlan, store: DocumentStore, code_version: str, recorded_by: str
) -> list[dg.AssetMaterialization]:
    """Write the `skipped/archived` rows the plan lists (no GET of the objects) and return their
    materializations, for the caller to report."""
    rows = record_archived(
        store.client(),
        store.layout(),
        plan.archived,
        code_version=code_version,
        run_id=recorded_by,
    )
    return [recorded_materialization(key, result, code_version) for key, result in rows]


def plan_for(
    instance: dg.DagsterInstance,
    store: DocumentStore,
    cursor: str | None,
    *,
    batch_size: int,
    max_runs: int,
) -> TickPlan:
    layout = store.layout()
    state = DiscoveryState.decode(cursor)
    again, newest = to_request_again(instance, state.events_after)
    return plan_tick(
        list_objects(store.client(), layout.bucket, layout.input_prefix),
        partition_key_of=layout.partition_key,
        known_partitions=instance.get_dynamic_partitions(documents_partitions.name),
        state=state.forget(again, newest),
        batch_size=batch_size,
        max_runs=max_runs,
    )


def spend_today_usd(instance: dg.DagsterInstance, now: datetime | None = None) -> float:
    """USD recorded today (UTC) on the document asset's materializations (their `cost_usd`)."""
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    total = 0.0
    for record in document_records(instance, "materializations", after_timestamp=midnight):
        materialization = record.asset_materialization
        cost = materialization.metadata.get("cost_usd") if materialization else None
        total += float(cost.value or 0.0) if cost is not None else 0.0
    return total


def over_budget_result(
    plan: TickPlan,
    spent: float,
    budget: float,
    asset_events: Sequence[dg.AssetMaterialization] = (),
) -> dg.SensorResult:
    """Partitions are still registered and archived objects recorded, but nothing is launched
    nor marked as requested."""
    result = sensor_result(plan)
    waiting = plan.requested + plan.pending
    return dg.SensorResult(
        run_requests=[],
        dynamic_partitions_requests=result.dynamic_partitions_requests,
        asset_events=list(asset_events),
        cursor=plan.state_after([]).encode(),
        skip_reason=(
            f"daily LLM budget reached: ${spent:.4f} spent today (UTC) of "
            f"${budget:.4f} (PII_MAX_DAILY_BUDGET_USD); {waiting} documents wait for tomorrow"
        ),
    )


def sensor_result(
    plan: TickPlan, asset_events: Sequence[dg.AssetMaterialization] = ()
) -> dg.SensorResult:
    partitions: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if plan.new_partitions:
        partitions.append(documents_partitions.build_add_request(plan.new_partitions))
    # A deleted object's partition goes too, so the next dataset version drops its rows.
    if plan.deleted_partitions:
        partitions.append(documents_partitions.build_delete_request(plan.deleted_partitions))
    skip = None
    if not plan.batches:
        skip = f"{plan.listed} objects listed; nothing new or changed"
        if asset_events:
            skip = f"{plan.listed} objects listed; {len(asset_events)} archived objects recorded"
    return dg.SensorResult(
        run_requests=[run_request(b) for b in plan.batches],
        dynamic_partitions_requests=partitions,
        # Archived objects' rows, recorded by this tick (the daemon reports them).
        asset_events=list(asset_events),
        cursor=plan.next_state.encode(),
        skip_reason=skip,
    )


def build_discovery_sensor(
    *,
    batch_size: int,
    max_runs: int,
    interval_s: int,
    daily_budget_usd: float | None | Literal["env"] = "env",
    code_version: str = "",
) -> dg.SensorDefinition:
    """`daily_budget_usd` defaults to PII_MAX_DAILY_BUDGET_USD (unset: no daily limit);
    `code_version` is the document asset's, tagged on the archived objects' materializations."""
    daily_budget = daily_budget_from_env() if daily_budget_usd == "env" else daily_budget_usd

    @dg.sensor(
        name=DISCOVERY_SENSOR,
        job_name=EXTRACT_JOB,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Lists the input prefix (paginated, no per-object HEAD), registers new objects as "
            f"partitions and launches up to {max_runs} runs of up to {batch_size} documents; "
            "records archived objects (GLACIER, DEEP_ARCHIVE) as skipped without reading them."
        ),
    )
    def document_discovery(
        context: dg.SensorEvaluationContext, store: DocumentStore
    ) -> dg.SensorResult:
        # Runs `pii-pipeline process` left behind when it was killed: failed, slots freed, their
        # documents marked not started, which the plan below requests again.
        for run in recover_orphaned_runs(context.instance).runs:
            context.log.warning(
                f"run {run.run_id} had lost its process: marked failed; "
                f"{run.documents_requested_again} documents requested again"
            )
        plan = plan_for(
            context.instance, store, context.cursor, batch_size=batch_size, max_runs=max_runs
        )
        events = record_archived_objects(plan, store, code_version, f"sensor:{DISCOVERY_SENSOR}")
        context.log.info(
            f"listed {plan.listed} objects: {len(plan.new_partitions)} new partitions, "
            f"{len(plan.deleted_partitions)} deleted, {len(events)} archived recorded, "
            f"{plan.requested} documents in {len(plan.batches)} runs, {plan.pending} left for "
            "the next tick"
        )
        if daily_budget and plan.batches:
            spent = spend_today_usd(context.instance)
            if spent >= daily_budget:
                return over_budget_result(plan, spent, daily_budget, events)
        return sensor_result(plan, events)

    return document_discovery
