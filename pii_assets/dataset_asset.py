"""The labeled dataset asset: each materialization commits a new version of the Delta tables,
or none when no document's rows changed.

A version is built incrementally from the previous one when this instance published it (its
materialization records the version and the event-log and partition positions it covered):
only the partitions materialized or registered since are read and their rows replaced. Otherwise,
or on request, every result is read from a full listing of the input prefix.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from pii_assets.asset_names import DATASET_ASSET, DATASET_ASSET_KEY, DOCUMENT_ASSET_KEY
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
from pii_assets.event_log import document_outcomes, newest_outcome_id, spend_today_usd
from pii_assets.metadata import budget_metadata, dataset_metadata
from pii_assets.partitions import documents_partitions
from pii_assets.rollup import full_rollup, incremental_rollup, partition_rows
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
    partitions_cursor: str | None


def _materialized_since(instance: dg.DagsterInstance, after: int) -> tuple[set[str], int]:
    """Partitions of the document asset with an outcome after storage id `after` (materialized,
    or observed failed: pii_assets/event_log.py), and the newest id."""
    keys: set[str] = set()
    newest = after
    for record in document_outcomes(instance, after_storage_id=after):
        if record.partition_key:
            keys.add(record.partition_key)
        newest = max(newest, record.storage_id)
    return keys, newest


def _partitions_added_since(
    instance: dg.DagsterInstance, cursor: str | None
) -> tuple[set[str], str | None]:
    """Partitions registered after `cursor` (Dagster's storage-id cursor of the dynamic
    partitions, None: from the first), and the cursor after the newest."""
    added: set[str] = set()
    while True:
        page = instance.get_paginated_dynamic_partitions(
            documents_partitions.name, limit=_PARTITION_PAGE, ascending=True, cursor=cursor
        )
        added.update(page.results)
        cursor = page.cursor
        if not page.has_more:
            return added, cursor


def _newest_partition_cursor(instance: dg.DagsterInstance) -> str | None:
    page = instance.get_paginated_dynamic_partitions(
        documents_partitions.name, limit=1, ascending=False
    )
    return page.cursor


def _incremental_base(instance: dg.DagsterInstance, latest: str | None) -> _Base | None:
    """The previous version, if this instance published it and recorded what it covered."""
    event = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    if latest is None or event is None or event.asset_materialization is None:
        return None
    metadata = event.asset_materialization.metadata
    version, cursor = metadata.get("version"), metadata.get("event_cursor")
    partitions = metadata.get("partitions_cursor")
    if version is None or cursor is None or partitions is None or version.value != latest:
        return None
    return _Base(latest, int(cursor.value), str(partitions.value) or None)


def _check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        metadata=outcome.metadata,
    )


def _spend_metadata(instance: dg.DagsterInstance) -> dict:
    from resources.settings import daily_budget_usd

    return budget_metadata(spend_today_usd(instance), daily_budget_usd())


@dg.asset(
    name=DATASET_ASSET,
    deps=[DOCUMENT_ASSET_KEY],
    code_version=DATASET_CODE_VERSION,
    group_name="pii",
    description="Delta Lake tables `documents` (one row per object) and `entities` (one row per "
    "entity); each materialization commits a version, or none when nothing changed.",
    check_specs=[
        dg.AssetCheckSpec(name, asset=DATASET_ASSET, blocking=blocking, description=text)
        for name, (blocking, text) in CHECKS.items()
        if name != COVERAGE_CHECK
    ],
)
def pii_labeled_dataset(
    context: dg.AssetExecutionContext, config: PublishConfig, store: DocumentStore
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
        base = _incremental_base(instance, latest)

    if base is not None:
        changed, cursor = _materialized_since(instance, base.event_cursor)
        added, partitions_cursor = _partitions_added_since(instance, base.partitions_cursor)
        refresh = changed | added
        registered = set(
            instance.get_existing_dynamic_partitions(documents_partitions.name, sorted(refresh))
        )
        removed = refresh - registered
        if config.reconcile:
            documents = open_table(where, DOCUMENTS)
            in_version = set(
                read_table(documents, DOCUMENTS_SCHEMA, ["partition_key"])
                .column("partition_key")
                .to_pylist()
            )
            every = set(instance.get_dynamic_partitions(documents_partitions.name))
            removed |= in_version - every
            registered |= every - in_version
            refresh |= every - in_version
        refresh &= registered
        rollup = incremental_rollup(partition_rows(client, layout, refresh), removed)
        context.log.info(
            f"building on {latest}: {len(refresh)} documents refreshed, {len(removed)} removed"
        )
    else:
        cursor = newest_outcome_id(instance)
        partitions_cursor = _newest_partition_cursor(instance)
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
        partitions_cursor,
        quarantined,
        len(rollup.quarantined),
        outcomes,
        latest,
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
    partitions_cursor: str | None,
    quarantined: dict[str, int],
    quarantined_count: int,
    outcomes: list[CheckOutcome],
    latest: str | None,
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
            "partitions_cursor": partitions_cursor or "",
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
            **_spend_metadata(context.instance),
        }
    )
    if published.status == "rejected":
        metadata["rejected_card"] = published.path + ".md"
        # Not a base to build on: the next publish reads everything again.
        del metadata["event_cursor"], metadata["partitions_cursor"]
    return dg.MaterializeResult(
        metadata=metadata, check_results=[_check_result(o) for o in outcomes]
    )


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
