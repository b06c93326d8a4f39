"""Discovery sensor: new and changed S3 objects become partitions and batched extraction runs."""

import dagster as dg

from pii_assets.bucket import list_objects
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.partitions import documents_partitions
from resources.s3 import DocumentStore
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


def plan_for(
    instance: dg.DagsterInstance,
    store: DocumentStore,
    cursor: str | None,
    *,
    batch_size: int,
    max_runs: int,
) -> TickPlan:
    layout = store.layout()
    return plan_tick(
        list_objects(store.client(), layout.bucket, layout.input_prefix),
        partition_key_of=layout.partition_key,
        known_partitions=instance.get_dynamic_partitions(documents_partitions.name),
        state=DiscoveryState.decode(cursor),
        batch_size=batch_size,
        max_runs=max_runs,
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
    *, batch_size: int, max_runs: int, interval_s: int
) -> dg.SensorDefinition:
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
        return sensor_result(plan)

    return document_discovery
