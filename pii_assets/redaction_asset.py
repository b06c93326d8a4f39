"""The redacted-copies asset, partitioned like `document_pii`, and its job. All the wiring is
here (`build_redaction_definitions`), built against one partitions definition, so it follows the
document asset wherever that goes (e.g. sharded across several assets)."""

from collections import Counter

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET_KEY, REDACTION_ASSET
from pii_assets.jobs import JOB_TAG
from pii_assets.partitions import documents_partitions
from pii_assets.redaction.store import RedactionRecord, redact_partition, redacted_prefix
from resources.documents import DocumentOptions
from resources.s3 import DocumentStore

REDACT_JOB = "redact_documents"
# Bump when how copies are made changes: it marks every partition's copy stale.
REDACTION_CODE_VERSION = "redaction-2"  # 2: hidden places dropped, reviews redacted


def _metadata(record: RedactionRecord, bucket: str) -> dict[str, object]:
    metadata: dict[str, object] = {
        "redaction": record.outcome,
        "etag": record.etag,
        "redacted_values": record.redacted_values,
        "reviewed_pages": record.reviewed_pages,
    }
    uri = record.copy_uri(bucket)
    if uri:
        metadata["redacted_copy"] = dg.MetadataValue.url(uri)
    if record.message:
        metadata["reason"] = record.message
    return metadata


def build_redaction_definitions(
    *,
    batch_size: int,
    partitions_def: dg.PartitionsDefinition = documents_partitions,
    upstream: dg.AssetKey = DOCUMENT_ASSET_KEY,
) -> "tuple[dg.AssetsDefinition, dg.UnresolvedAssetJobDefinition]":
    """The `redacted_documents` asset (one partition per document, like `upstream`) and the
    `redact_documents` job that materializes ranges of its partitions."""

    @dg.asset(
        name=REDACTION_ASSET,
        partitions_def=partitions_def,
        deps=[upstream],
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=batch_size),
        code_version=REDACTION_CODE_VERSION,
        group_name="pii",
        description="A redacted copy of each `ok` document under {output_prefix}redacted/ (PDF "
        "text removed, image boxes filled, cell and text values replaced by the entity type); "
        "the dataset's `redacted_copy` links to it.",
    )
    def redacted_documents(
        context: dg.AssetExecutionContext, store: DocumentStore, documents: DocumentOptions
    ) -> dg.MaterializeResult:
        client, layout = store.client(), store.layout()
        outcomes: Counter[str] = Counter()
        for partition_key in context.partition_keys:
            record = redact_partition(
                client,
                layout,
                partition_key,
                passwords=documents.password_list(),
                max_bytes=documents.max_file_bytes,
            )
            outcomes[record.outcome] += 1
            context.add_asset_metadata(
                _metadata(record, layout.bucket), partition_key=partition_key
            )
        summary = ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items()))
        context.log.info(
            f"{len(context.partition_keys)} documents ({summary}); copies under "
            f"{layout.uri(redacted_prefix(layout))}"
        )
        return dg.MaterializeResult(
            metadata={f"run_{outcome}": count for outcome, count in sorted(outcomes.items())}
        )

    job = dg.define_asset_job(
        REDACT_JOB,
        selection=[REDACTION_ASSET],
        executor_def=dg.in_process_executor,
        tags={JOB_TAG: REDACT_JOB},
        description="Write redacted copies of a range of documents.",
    )
    return redacted_documents, job
