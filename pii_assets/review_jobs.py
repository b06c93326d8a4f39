"""Review export and import as jobs with typed config (launchpad in the UI), thin glue over
`pii_assets.review`. The import records each reviewed document as a materialization of the
`document_reviews` asset (partitioned like `document_pii`, declared here as a spec): the next
publish of `pii_labeled_dataset` refreshes those documents' rows with their reviews."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from pii_assets.asset_names import REVIEWS_ASSET, REVIEWS_ASSET_KEY
from pii_assets.bucket import read_object
from pii_assets.jobs import JOB_TAG
from pii_assets.partitions import documents_partitions
from pii_assets.review.export import MAX_PRESIGN_S, ExportFilters, ExportOptions, export_tasks
from pii_assets.review.importer import ImportSummary, import_reviews
from resources.documents import DocumentOptions
from resources.s3 import DocumentStore

EXPORT_JOB = "review_export"
IMPORT_JOB = "review_import"

reviews_spec = dg.AssetSpec(
    REVIEWS_ASSET,
    partitions_def=documents_partitions,
    group_name="pii",
    description="Human reviews imported from Label Studio (`review_import` job or `pii-pipeline "
    "review import`), under {output_prefix}review/reviews/; merged into the dataset's rows.",
)


class ReviewExportConfig(dg.Config):
    version: str = Field(default="", description="Dataset version (empty: the latest).")
    document_keys: list[str] = Field(default=[], description="Only these documents (S3 keys).")
    entity_types: list[str] = Field(
        default=[], description="Only pages holding an entity of these types."
    )
    max_confidence: float | None = Field(
        default=None, description="Only pages holding an entity with confidence below this."
    )
    sample: int | None = Field(default=None, description="A random sample of this many documents.")
    seed: int = Field(default=0, description="Seed of the random sample.")
    url_mode: str = Field(
        default="s3", description="Page image URLs: s3 (Label Studio presigns) or presigned."
    )
    url_expires_s: int = Field(
        default=MAX_PRESIGN_S, description="Presigned URLs' validity in seconds (at most 7 days)."
    )

    def filters(self) -> ExportFilters:
        return ExportFilters(
            document_keys=tuple(self.document_keys),
            entity_types=tuple(self.entity_types),
            max_confidence=self.max_confidence,
            sample=self.sample,
            seed=self.seed,
        )


class ReviewImportConfig(dg.Config):
    export_key: str = Field(
        description="S3 key, in the pipeline's bucket, of a Label Studio JSON export."
    )


def review_materializations(summary: ImportSummary) -> Iterator[dg.AssetMaterialization]:
    """One `document_reviews` materialization per reviewed document (no values)."""
    for partition_key in sorted(set(summary.documents)):
        yield dg.AssetMaterialization(asset_key=REVIEWS_ASSET_KEY, partition=partition_key)


@dg.op(description="Write Label Studio tasks and labeling configs for a dataset version.")
def export_review_tasks(
    context: dg.OpExecutionContext,
    config: ReviewExportConfig,
    store: DocumentStore,
    documents: DocumentOptions,
) -> dg.Output[dict[str, Any]]:
    summary = export_tasks(
        store.client(),
        store.layout(),
        version=config.version or None,
        filters=config.filters(),
        options=ExportOptions(
            url_mode=config.url_mode,
            url_expires_s=config.url_expires_s,
            passwords=tuple(documents.password_list()),
        ),
    )
    context.log.info(
        f"exported {sum(summary.tasks.values())} tasks of {summary.documents} documents to "
        f"{store.layout().uri(summary.prefix)}"
    )
    payload = summary.to_json_dict()
    return dg.Output(payload, metadata={"export": dg.MetadataValue.json(payload)})


@dg.op(description="Import a Label Studio JSON export as reviews (then publish the dataset).")
def import_review_export(
    context: dg.OpExecutionContext, config: ReviewImportConfig, store: DocumentStore
) -> Iterator[Any]:
    client, layout = store.client(), store.layout()
    body = read_object(client, layout.bucket, config.export_key)
    summary = import_reviews(client, layout, json.loads(body.data or b"[]"))
    yield from review_materializations(summary)
    context.log.info(
        f"{summary.pages_reviewed} pages of {len(summary.documents)} documents reviewed; "
        "materialize pii_labeled_dataset to publish them"
    )
    payload = summary.to_json_dict()
    yield dg.Output(payload, metadata={"import": dg.MetadataValue.json(payload)})


def build_review_jobs() -> list[dg.JobDefinition]:
    tags = {JOB_TAG: "review"}

    @dg.job(
        name=EXPORT_JOB,
        tags={**tags, JOB_TAG: EXPORT_JOB},
        description=export_review_tasks.description,
    )
    def review_export() -> None:
        export_review_tasks()

    @dg.job(
        name=IMPORT_JOB,
        tags={**tags, JOB_TAG: IMPORT_JOB},
        description=import_review_export.description,
    )
    def review_import() -> None:
        import_review_export()

    return [review_export, review_import]
