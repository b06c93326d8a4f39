"""The per-document extraction asset, dynamically partitioned: one partition per S3 object."""

import time
from collections import Counter

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET
from pii_assets.metadata import partition_metadata
from pii_assets.partitions import documents_partitions
from pii_assets.processing import ProcessingOptions, process_partition
from resources.documents import DocumentOptions
from resources.extractors import ExtractorResource
from resources.s3 import DocumentStore

_PROGRESS_EVERY = 10


def build_document_asset(*, code_version: str, batch_size: int) -> dg.AssetsDefinition:
    """The extraction asset; its code version names the extraction logic and the extractor."""

    @dg.asset(
        name=DOCUMENT_ASSET,
        partitions_def=documents_partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=batch_size),
        code_version=code_version,
        group_name="pii",
        description="PII entities of one S3 document; results under PII_RESULTS_PREFIX.",
    )
    def document_pii(
        context: dg.AssetExecutionContext,
        store: DocumentStore,
        extractor: ExtractorResource,
        documents: DocumentOptions,
    ) -> None:
        client = store.client()
        layout = store.layout()
        opts = ProcessingOptions(
            extractor=extractor.page_extractor(),
            passwords=tuple(documents.password_list()),
            limits=documents.limits(),
            max_file_bytes=documents.max_file_bytes,
            code_version=code_version,
        )
        keys = context.partition_keys
        statuses: Counter[str] = Counter()
        started = time.monotonic()
        for done, partition_key in enumerate(keys, start=1):
            result = process_partition(client, layout, partition_key, opts, context.run_id)
            statuses[str(result.status)] += 1
            context.add_asset_metadata(partition_metadata(result), partition_key=partition_key)
            if done % _PROGRESS_EVERY == 0 or done == len(keys):
                context.log.info(
                    f"{done}/{len(keys)} documents in {time.monotonic() - started:.1f}s "
                    f"({', '.join(f'{s}={n}' for s, n in sorted(statuses.items()))})"
                )

    return document_pii
