"""What Dagster does with 10k, 100k, 300k and 1M dynamic partitions on a Postgres instance
(`make bench-scale`, out of the default benchmarks: about 15 minutes on 2 cores).

At each level (partitions registered cumulatively, in batches of 10,000 as discovery ticks
register them; the discovery state holds one row per partition too):

- adding 10,000 partitions (`add_dynamic_partitions`, one call, as a tick does);
- a discovery tick in events mode with 100 new objects (receive, apply, register, claim) and an
  empty one;
- what a run of a partition range resolves: `get_partition_keys_in_range` over the asset's
  partitions (Dagster loads every key of the dynamic partitions definition to cut a range);
- the asset's partition page through GraphQL, as the UI loads it: partition keys, statuses and
  stats of `document_pii` (1,000 partitions materialized per level).

Needs PostgreSQL's server binaries (Debian's `postgresql`) and `dagster-postgres`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import boto3
import dagster as dg

from bench.common import median_time, s3_store
from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.discovery_state import DiscoveryStore, Imported
from pii_assets.partitions import documents_partitions
from pii_pipeline.local_postgres import LocalPostgres
from resources.settings import DiscoverySettings
from sensors.discovery import Discovery

LEVELS = (10_000, 100_000, 300_000, 1_000_000)
ADD = 10_000
TICK_EVENTS = 100
RECOMMENDED = 100_000  # Dagster's docs: at most 100,000 partitions per asset (Partitioning assets)

PAGE_QUERY = """
query PartitionPage($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      partitionKeysByDimension { name partitionKeys }
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses {
          materializedPartitions failedPartitions unmaterializedPartitions
        }
      }
    }
  }
}
"""


def _key(i: int) -> str:
    return f"dept-{i % 97:02d}%2Fdocument-{i:07d}.pdf"


def _instance(url: str, home: Path) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url: " + url + "\ntelemetry:\n  enabled: false\n"
    )
    return dg.DagsterInstance.from_config(str(home))


def _fill_state(state: DiscoveryStore, start: int, stop: int) -> None:
    """Rows for partitions already requested and settled, as after their extraction, at the next
    free positions (the way an upgraded instance's partitions are imported)."""
    first = int(state.get_meta("next_ordinal:0") or 0)
    state.import_registered(
        [
            Imported(
                partition_key=_key(i),
                object_key="documents/" + _key(i).replace("%2F", "/"),
                shard=0,
                ordinal=first + i - start,
                etag=f"{i:032x}",
            )
            for i in range(start, stop)
        ]
    )


def _graphql_page(instance: dg.DagsterInstance) -> float:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    workspace = str(Path(__file__).resolve().parent.parent / "workspace.yaml")
    with define_out_of_process_context(workspace, None, instance) as context:
        variables = {"assetKey": {"path": DOCUMENT_ASSET_KEY.path}}
        start = time.perf_counter()
        result = execute_dagster_graphql(context, PAGE_QUERY, variables)
        elapsed = time.perf_counter() - start
        node = result.data["assetNodeOrError"]
        assert node["partitionStats"]["numPartitions"] > 0, node
        return elapsed


def _resolve_range(instance: dg.DagsterInstance, level: int) -> None:
    """What a run of 100 partitions does to find its keys: Dagster loads every key of the
    dynamic partitions definition and slices it (`get_partition_keys_in_range`)."""
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        keys = documents_partitions.get_partition_keys_in_range(
            dg.PartitionKeyRange(_key(level - 200), _key(level - 101))
        )
    assert len(keys) == 100


def _tick(discovery: Discovery, store: Any, start: int) -> float:
    client = store.client()
    for i in range(TICK_EVENTS):
        client.put_object(Bucket=store.bucket, Key=f"documents/new/{start + i:07d}.pdf", Body=b"x")
    begin = time.perf_counter()
    tick = discovery.tick()
    elapsed = time.perf_counter() - begin
    assert tick.report.requested == TICK_EVENTS, tick.report
    return elapsed


def measure(console: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with LocalPostgres() as pg, s3_store("bench-partition-scale") as store:
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        endpoint = store.endpoint_url
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        queue = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        store.client().put_bucket_notification_configuration(
            Bucket=store.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        sqs.purge_queue(QueueUrl=queue)
        home = Path(os.environ.get("TMPDIR", "/tmp")) / f"pii-bench-scale-{os.getpid()}"
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; dagster-postgres ships psycopg2.
        instance = _instance(pg.url.replace("postgresql://", "postgresql+psycopg2://"), home)
        settings = DiscoverySettings(
            mode="events", queue_url=queue, events_wait_s=0, reconcile_interval_s=10**9
        )
        discovery = Discovery(
            instance,
            store,
            settings,
            batch_size=100,
            max_runs=20,
            sqs_client=sqs,
        )
        discovery.tick()  # the initial (empty) reconciliation pass
        registered = 0
        next_new = 0
        for level in LEVELS:
            console.print(f"  {level:,} partitions…")
            while registered < level - ADD:
                keys = [_key(i) for i in range(registered, registered + ADD)]
                instance.add_dynamic_partitions(documents_partitions.name, keys)
                _fill_state(discovery.state, registered, registered + ADD)
                registered += ADD
            keys = [_key(i) for i in range(registered, registered + ADD)]
            start = time.perf_counter()
            instance.add_dynamic_partitions(documents_partitions.name, keys)
            add_s = time.perf_counter() - start
            _fill_state(discovery.state, registered, registered + ADD)
            registered += ADD
            # Discovery registers its own partitions: positions stay in step with Dagster's.
            offset = registered + 10_000_000
            tick_s = _tick(discovery, store, offset + next_new)
            next_new += TICK_EVENTS
            empty_s = median_time(discovery.tick, 3)
            for i in range(level - 1_000, level):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(DOCUMENT_ASSET_KEY, partition=_key(i))
                )
            discovery.tick()  # reads those events now, not in the next level's measured tick
            keys_s = median_time(
                lambda: documents_partitions.get_partition_keys(dynamic_partitions_store=instance),
                3,
            )
            range_s = median_time(lambda level=level: _resolve_range(instance, level), 3)
            page_s = _graphql_page(instance)
            figures[str(level)] = {
                "add_10000_s": add_s,
                "tick_100_events_s": tick_s,
                "tick_empty_s": empty_s,
                "all_keys_s": keys_s,
                "range_resolution_s": range_s,
                "graphql_partition_page_s": page_s,
                "state_rows": discovery.state.counts()["objects"],
            }
            console.print(f"    {figures[str(level)]}")
        instance.dispose()
    return figures


def run(console: Any) -> dict[str, Any]:
    figures = measure(console)
    base = figures[str(LEVELS[0])]
    rows = []
    for level in LEVELS:
        f = figures[str(level)]
        for name, label in (
            ("add_10000_s", "add 10,000 partitions"),
            ("tick_100_events_s", "discovery tick, 100 events"),
            ("tick_empty_s", "discovery tick, no events"),
            ("range_resolution_s", "a run's partition range resolved"),
            ("graphql_partition_page_s", "partition page (GraphQL)"),
        ):
            ratio = f[name] / base[name] if base[name] else 0.0
            rows.append(
                {
                    "figure": f"{label} at {level:,}",
                    "value": f"{f[name]:.3f} s ({ratio:.1f}x 10k)",
                }
            )
    return {**figures, "recommended_max": RECOMMENDED, "rows": rows}
