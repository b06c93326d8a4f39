"""Discovery sensor: new and changed S3 objects become partitions and batched extraction runs."""

from datetime import UTC, datetime
from typing import Literal

import dagster as dg

from pii_assets.bucket import list_objects
from pii_assets.document_asset import NOT_STARTED
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.partitions import documents_partitions
from resources.s3 import DocumentStore
from resources.settings import daily_budget_usd as daily_budget_from_env
from sensors.discovery_plan import Batch, DiscoveryState, TickPlan, plan_tick

DISCOVERY_SENSOR = "document_discovery"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_request(batch: Batch) -> dg.RunRequest:
    tags = {"pii/documents": str(len(batch.partition_keys))}
    if len(batch.partition_keys) == 1:
        return dg.RunRequest(run_key=batch.run_key, partition_key=batch.first, tags=tags)
    return dg.RunRequest(
        run_key=batch.run_key,
        tags={**tags, RANGE_START_TAG: batch.first, RANGE_END_TAG: batch.last},
    )


def not_started_since(instance: dg.DagsterInstance, after: int) -> tuple[set[str], int]:
    """Partitions a run budget left unstarted (their `not_started` observations after storage id
    `after`), and the newest id seen: the sensor requests them again."""
    keys: set[str] = set()
    newest = after
    for record in document_records(instance, "observations", after_storage_id=after):
        newest = max(newest, record.storage_id)
        observation = record.asset_observation
        status = observation.metadata.get("status") if observation else None
        if status is not None and status.value == NOT_STARTED and record.partition_key:
            keys.add(record.partition_key)
    return keys, newest


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
    unstarted, newest = not_started_since(instance, state.events_after)
    return plan_tick(
        list_objects(store.client(), layout.bucket, layout.input_prefix),
        partition_key_of=layout.partition_key,
        known_partitions=instance.get_dynamic_partitions(documents_partitions.name),
        state=state.forget(unstarted, newest),
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


def over_budget_result(plan: TickPlan, spent: float, budget: float) -> dg.SensorResult:
    """Partitions are still registered, but nothing is launched nor marked as requested."""
    result = sensor_result(plan)
    waiting = plan.requested + plan.pending
    return dg.SensorResult(
        run_requests=[],
        dynamic_partitions_requests=result.dynamic_partitions_requests,
        cursor=plan.state_after([]).encode(),
        skip_reason=(
            f"daily LLM budget reached: ${spent:.4f} spent today (UTC) of "
            f"${budget:.4f} (PII_MAX_DAILY_BUDGET_USD); {waiting} documents wait for tomorrow"
        ),
    )


def sensor_result(plan: TickPlan) -> dg.SensorResult:
    partitions: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if plan.new_partitions:
        partitions.append(documents_partitions.build_add_request(plan.new_partitions))
    # A deleted object's partition goes too, so the next dataset version drops its rows.
    if plan.deleted_partitions:
        partitions.append(documents_partitions.build_delete_request(plan.deleted_partitions))
    skip = None
    if not plan.batches:
        skip = f"{plan.listed} objects listed; nothing new or changed"
    return dg.SensorResult(
        run_requests=[run_request(b) for b in plan.batches],
        dynamic_partitions_requests=partitions,
        cursor=plan.next_state.encode(),
        skip_reason=skip,
    )


def build_discovery_sensor(
    *,
    batch_size: int,
    max_runs: int,
    interval_s: int,
    daily_budget_usd: float | None | Literal["env"] = "env",
) -> dg.SensorDefinition:
    """`daily_budget_usd` defaults to PII_MAX_DAILY_BUDGET_USD (unset: no daily limit)."""
    daily_budget = daily_budget_from_env() if daily_budget_usd == "env" else daily_budget_usd

    @dg.sensor(
        name=DISCOVERY_SENSOR,
        job_name=EXTRACT_JOB,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Lists the input prefix (paginated, no per-object HEAD), registers new objects as "
            f"partitions and launches up to {max_runs} runs of up to {batch_size} documents."
        ),
    )
    def document_discovery(
        context: dg.SensorEvaluationContext, store: DocumentStore
    ) -> dg.SensorResult:
        plan = plan_for(
            context.instance, store, context.cursor, batch_size=batch_size, max_runs=max_runs
        )
        context.log.info(
            f"listed {plan.listed} objects: {len(plan.new_partitions)} new partitions, "
            f"{len(plan.deleted_partitions)} deleted, "
            f"{plan.requested} documents in {len(plan.batches)} runs, {plan.pending} left for "
            "the next tick"
        )
        if daily_budget and plan.batches:
            spent = spend_today_usd(context.instance)
            if spent >= daily_budget:
                return over_budget_result(plan, spent, daily_budget)
        return sensor_result(plan)

    return document_discovery
