"""The labeled dataset asset: each materialization publishes a new immutable version.

A version is built incrementally from the previous one when this instance published it (its
materialization records the version and the event-log position it covered); otherwise, or on
request, from a full listing of the input prefix.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from pii_assets.asset_names import DATASET_ASSET, DATASET_ASSET_KEY
from pii_assets.bucket import list_objects
from pii_assets.dataset import (
    DATASET_FORMAT,
    latest_version,
    prune_versions,
    publish_version,
    read_manifest,
    read_version,
)
from pii_assets.dataset_validation import CHECKS, COVERAGE_CHECK, CheckOutcome, coverage, validate
from pii_assets.event_log import document_records
from pii_assets.metadata import dataset_metadata
from pii_assets.partitions import ONE_SHARD, DocumentShards
from pii_assets.rollup import full_rollup, incremental_rollup, partition_rows
from resources.s3 import DocumentStore

DATASET_CODE_VERSION = "dataset-2"


class PublishConfig(dg.Config):
    full_rebuild: bool = Field(
        default=False, description="Re-read every document's result instead of the changes."
    )


@dataclass(frozen=True)
class _Base:
    version: str
    event_cursor: int


def _newest_document_event(instance: dg.DagsterInstance, asset_keys: Sequence[dg.AssetKey]) -> int:
    ids = [
        records[0].storage_id
        for key in asset_keys
        if (records := instance.fetch_materializations(key, limit=1).records)
    ]
    return max(ids, default=0)


def _materialized_since(
    instance: dg.DagsterInstance, after: int, asset_keys: Sequence[dg.AssetKey]
) -> tuple[set[str], int]:
    """Partitions of the document asset (every shard's) materialized after storage id `after`,
    and the newest id."""
    keys: set[str] = set()
    newest = after
    for record in document_records(
        instance, "materializations", after_storage_id=after, asset_keys=asset_keys
    ):
        if record.partition_key:
            keys.add(record.partition_key)
        newest = max(newest, record.storage_id)
    return keys, newest


def _incremental_base(instance: dg.DagsterInstance, latest: str | None) -> _Base | None:
    """The previous version, if this instance published it and recorded what it covered."""
    event = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    if latest is None or event is None or event.asset_materialization is None:
        return None
    metadata = event.asset_materialization.metadata
    version, cursor = metadata.get("version"), metadata.get("event_cursor")
    if version is None or cursor is None or version.value != latest:
        return None
    return _Base(version=latest, event_cursor=int(cursor.value))


def _check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        metadata=outcome.metadata,
    )


def build_dataset_asset(shards: DocumentShards = ONE_SHARD) -> dg.AssetsDefinition:
    """The dataset asset, fed by every document shard's asset (partitions.py)."""

    @dg.asset(
        name=DATASET_ASSET,
        deps=shards.asset_keys,
        code_version=DATASET_CODE_VERSION,
        group_name="pii",
        description="Versioned Parquet dataset: one row per document and one per entity.",
        check_specs=[
            dg.AssetCheckSpec(name, asset=DATASET_ASSET, blocking=blocking, description=text)
            for name, (blocking, text) in CHECKS.items()
            if name != COVERAGE_CHECK
        ],
    )
    def pii_labeled_dataset(
        context: dg.AssetExecutionContext, config: PublishConfig, store: DocumentStore
    ) -> Iterator[dg.MaterializeResult]:
        yield from _publish(context, config, store, shards)

    return pii_labeled_dataset


def _publish(
    context: dg.AssetExecutionContext,
    config: PublishConfig,
    store: DocumentStore,
    shards: DocumentShards,
) -> Iterator[dg.MaterializeResult]:
    client, layout, instance = store.client(), store.layout(), context.instance
    latest = latest_version(client, layout)
    manifest = read_manifest(client, layout, latest) if latest else None
    base = None
    if not config.full_rebuild and manifest and manifest.get("format") == DATASET_FORMAT:
        base = _incremental_base(instance, latest)

    previous = read_version(client, layout, latest) if latest else None
    if base is not None and previous is not None:
        changed, cursor = _materialized_since(instance, base.event_cursor, shards.asset_keys)
        partitions = set(shards.registered(instance))
        in_version = set(previous[0].column("partition_key").to_pylist())
        refresh = (changed | (partitions - in_version)) & partitions
        rollup = incremental_rollup(
            *previous, partition_rows(client, layout, refresh), in_version - partitions
        )
        context.log.info(
            f"building on {latest}: {len(refresh)} documents refreshed, "
            f"{len(in_version - partitions)} removed"
        )
    else:
        cursor = _newest_document_event(instance, shards.asset_keys)
        rollup = full_rollup(client, layout, previous)
        context.log.info(f"full rebuild from the input listing: {rollup.documents.num_rows} rows")
    documents, entities, build = rollup.documents, rollup.entities, rollup.build
    changes = rollup.diff.summary()
    quarantined = rollup.quarantined_by_check()
    if rollup.quarantined:
        context.log.warning(
            f"{len(rollup.quarantined)} documents quarantined (failed, entities kept out of the "
            f"version) by the checks: {', '.join(f'{c}={n}' for c, n in quarantined.items())}"
        )
    outcomes = validate(documents, entities, rollup.new_documents)
    rejected = [o.name for o in outcomes if o.blocking and not o.passed]
    published = publish_version(
        client,
        layout,
        documents,
        entities,
        code_version=DATASET_CODE_VERSION,
        extra_manifest={
            "build": build,
            "changes": changes,
            "checks": {o.name: o.passed for o in outcomes},
            # Documents of this build's new rows quarantined, by the check they would fail.
            "quarantined_by_check": quarantined,
        },
        promote=not rejected,
    )
    pruned = prune_versions(client, layout, store.keep_versions) if not rejected else []
    if pruned:
        context.log.info(f"pruned {len(pruned)} old versions (PII_KEEP_VERSIONS)")
    outcome = "rejected" if rejected else "published"
    context.log.info(
        f"{outcome} {published.version} ({build}): {published.documents} documents, "
        f"{published.entities} entities at {published.path}"
    )
    metadata = dataset_metadata(published)
    metadata.update(
        {
            "build": build,
            "event_cursor": cursor,
            "documents_added": changes["documents_added"],
            "documents_removed": changes["documents_removed"],
            "documents_changed": changes["documents_changed"],
            "published": not rejected,
            "pruned_versions": len(pruned),
            "documents_quarantined": len(rollup.quarantined),
            "quarantined_by_check": dg.MetadataValue.json(quarantined),
        }
    )
    yield dg.MaterializeResult(
        metadata=metadata, check_results=[_check_result(o) for o in outcomes]
    )
    if rejected:
        raise dg.Failure(
            description=f"{published.version} was not published: blocking checks failed "
            f"({', '.join(rejected)}); _latest.json still points to {latest or 'nothing'}"
        )


pii_labeled_dataset = build_dataset_asset()


@dg.asset_check(
    asset=DATASET_ASSET_KEY,
    name=COVERAGE_CHECK,
    description=CHECKS[COVERAGE_CHECK][1],
)
def covers_input_prefix(store: DocumentStore) -> dg.AssetCheckResult:
    """Lists the bucket, so it runs apart from publishing, whose cost must not grow with it."""
    client, layout = store.client(), store.layout()
    latest = latest_version(client, layout)
    if latest is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no version published"})
    documents, _ = read_version(client, layout, latest)
    listed = (info.key for info in list_objects(client, layout.bucket, layout.input_prefix))
    outcome = coverage(documents, listed)
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"version": latest, **outcome.metadata},
    )
