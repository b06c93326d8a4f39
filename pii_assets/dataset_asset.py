"""The labeled dataset asset: each materialization commits a new version of the Delta tables,
or none when no document's rows changed.

A version is built incrementally from the previous one when this instance published it (its
materialization records the version and the event-log and partition positions it covered):
only the partitions materialized or registered since are read and their rows replaced. Otherwise,
or on request, every result is read from a full listing of the input prefix.
"""

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from pii_assets.asset_names import (
    DATASET_ASSET,
    DATASET_ASSET_KEY,
    REDACTION_ASSET_KEY,
    REVIEWS_ASSET_KEY,
)
from pii_assets.bucket import list_objects
from pii_assets.dataset import (
    PublishedVersion,
    apply_retention,
    latest_version,
    publish,
    read_manifest,
)
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA
from pii_assets.dataset_tables import DOCUMENTS, location, open_table, read_table
from pii_assets.dataset_validation import CHECKS, COVERAGE_CHECK, CheckOutcome, coverage, validate
from pii_assets.event_log import (
    deleted_documents,
    document_outcomes,
    document_records,
    newest_outcome_id,
    spend_today_usd,
)
from pii_assets.metadata import budget_metadata, dataset_metadata
from pii_assets.partitions import ONE_SHARD, DocumentShards
from pii_assets.rollup import full_rollup, incremental_rollup, partition_rows
from pii_assets.row_extras import row_extras
from resources.s3 import DocumentStore

DATASET_CODE_VERSION = "dataset-3"
_PARTITION_PAGE = 10_000


class PublishConfig(dg.Config):
    full_rebuild: bool = Field(
        default=False, description="Re-read every document's result instead of the changes."
    )
    reconcile: bool = Field(
        default=False,
        description="Also compare every registered partition with the dataset's rows, so rows "
        "of documents whose partition was deleted leave it (reads all partition keys; the daily "
        "schedule sets it).",
    )


@dataclass(frozen=True)
class _Base:
    version: str
    event_cursor: int
    partitions_cursors: list[str | None]


def _materialized_since(
    instance: dg.DagsterInstance, after: int, asset_keys: Sequence[dg.AssetKey]
) -> tuple[set[str], int]:
    """Partitions of the document asset (every shard's) with an outcome after storage id `after`
    (materialized, or observed failed: pii_assets/event_log.py), and the newest id; also those
    whose redacted copy or review was recorded since (their rows link to them), and those whose
    object left the bucket (observed `deleted`: no longer registered, their rows are removed)."""
    keys: set[str] = set()
    newest = after
    for record in itertools.chain(
        document_outcomes(instance, after_storage_id=after, asset_keys=asset_keys),
        deleted_documents(instance, after_storage_id=after, asset_keys=asset_keys),
        document_records(
            instance,
            "materializations",
            after_storage_id=after,
            asset_keys=(REDACTION_ASSET_KEY, REVIEWS_ASSET_KEY),
        ),
    ):
        if record.partition_key:
            keys.add(record.partition_key)
        newest = max(newest, record.storage_id)
    return keys, newest


def _partitions_added_since(
    instance: dg.DagsterInstance, shards: DocumentShards, cursors: Sequence[str | None]
) -> tuple[set[str], list[str | None]]:
    """Partitions registered after each shard's cursor (Dagster's storage-id cursor of the
    dynamic partitions, None: from the first), and the cursors after the newest of each."""
    added: set[str] = set()
    after: list[str | None] = []
    for shard, cursor in enumerate(cursors):
        while True:
            page = instance.get_paginated_dynamic_partitions(
                shards.partitions_name(shard), limit=_PARTITION_PAGE, ascending=True, cursor=cursor
            )
            added.update(page.results)
            cursor = page.cursor
            if not page.has_more:
                break
        after.append(cursor)
    return added, after


def _newest_partition_cursors(
    instance: dg.DagsterInstance, shards: DocumentShards
) -> list[str | None]:
    return [
        instance.get_paginated_dynamic_partitions(
            shards.partitions_name(shard), limit=1, ascending=False
        ).cursor
        for shard in range(shards.count)
    ]


def _encode_cursors(cursors: Sequence[str | None]) -> str:
    """One shard: Dagster's cursor itself ("" for none); several: a JSON list, one per shard."""
    if len(cursors) == 1:
        return cursors[0] or ""
    return json.dumps(list(cursors))


def _decode_cursors(value: str, shards: DocumentShards) -> list[str | None] | None:
    """The cursors `_encode_cursors` wrote, or None when they were written for another shard
    count (then the version is rebuilt in full)."""
    if shards.count == 1:
        return None if value.startswith("[") else [value or None]
    try:
        cursors = json.loads(value)
    except ValueError:
        return None
    if not isinstance(cursors, list) or len(cursors) != shards.count:
        return None
    return [c or None for c in cursors]


def _existing(instance: dg.DagsterInstance, shards: DocumentShards, keys: set[str]) -> set[str]:
    """Those of `keys` registered as partitions of their shard."""
    by_shard: dict[int, list[str]] = {}
    for key in sorted(keys):
        by_shard.setdefault(shards.shard_of(key), []).append(key)
    return {
        key
        for shard, in_shard in by_shard.items()
        for key in instance.get_existing_dynamic_partitions(shards.partitions_name(shard), in_shard)
    }


def _incremental_base(
    instance: dg.DagsterInstance, latest: str | None, shards: DocumentShards
) -> _Base | None:
    """The previous version, if this instance published it and recorded what it covered."""
    event = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    if latest is None or event is None or event.asset_materialization is None:
        return None
    metadata = event.asset_materialization.metadata
    version, cursor = metadata.get("version"), metadata.get("event_cursor")
    partitions = metadata.get("partitions_cursor")
    if version is None or cursor is None or partitions is None or version.value != latest:
        return None
    cursors = _decode_cursors(str(partitions.value), shards)
    if cursors is None:
        return None
    return _Base(latest, int(cursor.value), cursors)


def _check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        metadata=outcome.metadata,
    )


def _spend_metadata(instance: dg.DagsterInstance, shards: DocumentShards) -> dict:
    from resources.settings import daily_budget_usd

    spent = spend_today_usd(instance, asset_keys=shards.asset_keys)
    return budget_metadata(spent, daily_budget_usd())


def build_dataset_asset(shards: DocumentShards = ONE_SHARD) -> dg.AssetsDefinition:
    """The dataset asset, fed by every document shard's asset (partitions.py)."""

    @dg.asset(
        name=DATASET_ASSET,
        deps=shards.asset_keys,
        code_version=DATASET_CODE_VERSION,
        group_name="pii",
        description="Delta Lake tables `documents` (one row per object) and `entities` (one row "
        "per entity); each materialization commits a version, or none when nothing changed.",
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
    where = location(client, layout)
    latest = latest_version(client, layout)
    manifest = read_manifest(client, layout, latest) if latest else None
    base = None
    if (
        not config.full_rebuild
        and manifest
        and manifest.get("table_format") == "delta"
        # A new value policy rewrites every row: a full rebuild applies it to each stored result.
        and manifest.get("entity_values", {}).get("key_id") == layout.value_policy.key_id
        and manifest.get("entity_values", {}).get("policy") == layout.value_policy.mode
    ):
        base = _incremental_base(instance, latest, shards)

    if base is not None:
        changed, cursor = _materialized_since(instance, base.event_cursor, shards.asset_keys)
        added, partitions_cursors = _partitions_added_since(
            instance, shards, base.partitions_cursors
        )
        refresh = changed | added
        registered = _existing(instance, shards, refresh)
        removed = refresh - registered
        if config.reconcile:
            documents = open_table(where, DOCUMENTS)
            in_version = set(
                read_table(documents, DOCUMENTS_SCHEMA, ["partition_key"])
                .column("partition_key")
                .to_pylist()
            )
            every = set(shards.registered(instance))
            removed |= in_version - every
            registered |= every - in_version
            refresh |= every - in_version
        refresh &= registered
        rows = partition_rows(client, layout, refresh)
        rollup = incremental_rollup(rows, removed, row_extras(client, layout, rows))
        context.log.info(
            f"building on {latest}: {len(refresh)} documents refreshed, {len(removed)} removed"
        )
    else:
        cursor = newest_outcome_id(instance, shards.asset_keys)
        partitions_cursors = _newest_partition_cursors(instance, shards)
        rollup = full_rollup(client, layout)
        context.log.info(
            f"full rebuild from the input listing: {rollup.change.documents.num_rows} rows"
        )
    quarantined = rollup.quarantined_by_check()
    if rollup.quarantined:
        context.log.warning(
            f"{len(rollup.quarantined)} documents quarantined (failed, entities kept out of the "
            f"version) by the checks: {', '.join(f'{c}={n}' for c, n in quarantined.items())}"
        )

    def checks(prepared) -> list[CheckOutcome]:
        return validate(
            prepared.change.documents,
            prepared.change.entities,
            existing_duplicates=prepared.existing_duplicates,
        )

    published, prepared, outcomes = publish(
        client,
        layout,
        rollup.change,
        code_version=DATASET_CODE_VERSION,
        checks=checks,
        # Documents of this build's new rows quarantined, by the check they would fail.
        extra_manifest={"quarantined_by_check": quarantined},
        where=where,
    )
    yield _materialization(
        context,
        store,
        published,
        rollup.build,
        cursor,
        _encode_cursors(partitions_cursors),
        quarantined,
        len(rollup.quarantined),
        outcomes,
        latest,
        shards,
    )
    if published.status == "rejected":
        rejected = [o.name for o in outcomes if o.blocking and not o.passed]
        raise dg.Failure(
            description=f"no version was published: blocking checks failed "
            f"({', '.join(rejected)}); the would-be card is at {published.path}.md; "
            f"{latest or 'no version'} stays the latest"
        )


def _materialization(
    context: dg.AssetExecutionContext,
    store: DocumentStore,
    published: PublishedVersion,
    build: str,
    cursor: int,
    partitions_cursor: str,
    quarantined: dict[str, int],
    quarantined_count: int,
    outcomes: list[CheckOutcome],
    latest: str | None,
    shards: DocumentShards,
) -> dg.MaterializeResult:
    client, layout = store.client(), store.layout()
    if published.status == "published":
        manifest = published.manifest
        dropped = apply_retention(client, layout, store.retention_days)
        if dropped:
            context.log.info(
                f"vacuumed: {len(dropped)} versions older than {store.retention_days} days are no "
                "longer readable (PII_DATASET_RETENTION_DAYS)"
            )
        context.log.info(
            f"published {published.version} ({build}): {published.documents} documents, "
            f"{published.entities} entities at {published.path}"
        )
    else:
        dropped = []
        manifest = (read_manifest(client, layout, latest) if latest else None) or {}
        context.log.info(
            "no new version: no document's rows changed"
            if published.status == "unchanged"
            else "no new version: a blocking check failed"
        )
    changes = published.manifest.get("changes") or {}
    metadata = dataset_metadata(manifest) if manifest.get("facts") else {}
    metadata.update(
        {
            "build": build,
            "event_cursor": cursor,
            "partitions_cursor": partitions_cursor,
            # The version this materialization stands for: the new one, or the unchanged latest.
            "version": published.version or (latest or ""),
            "path": dg.MetadataValue.url(location(client, layout).uri("")),
            "published": published.status == "published",
            "publish_status": published.status,
            "documents_added": changes.get("documents_added", 0),
            "documents_removed": changes.get("documents_removed", 0),
            "documents_changed": changes.get("documents_changed", 0),
            "versions_vacuumed": len(dropped),
            "documents_quarantined": quarantined_count,
            "quarantined_by_check": dg.MetadataValue.json(quarantined),
            **_spend_metadata(context.instance, shards),
        }
    )
    if published.status == "rejected":
        metadata["rejected_card"] = published.path + ".md"
        # Not a base to build on: the next publish reads everything again.
        del metadata["event_cursor"], metadata["partitions_cursor"]
    return dg.MaterializeResult(
        metadata=metadata, check_results=[_check_result(o) for o in outcomes]
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
    documents = open_table(location(client, layout), DOCUMENTS) if latest else None
    if documents is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no version published"})
    keys = read_table(documents, DOCUMENTS_SCHEMA, ["document_key"])
    listed = (info.key for info in list_objects(client, layout.bucket, layout.input_prefix))
    outcome = coverage(keys, listed)
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"version": latest, **outcome.metadata},
    )
