"""The per-document extraction asset, dynamically partitioned: one partition per S3 object.

A failed document looks failed in Dagster: its outcome is an observation (`status=failed`,
error class and message), not a materialization, and the step fails once every other document of
the batch is materialized, so Dagster's partition status shows that partition failed (a planned
partition left unmaterialized by a failed run) and the run says which documents failed. See
docs/pending/ops-ui.md ("Failed documents in the UI").
"""

import time
from collections import Counter
from collections.abc import Iterator
from itertools import chain
from typing import Any

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.jobs import FAILED_DOCUMENTS_TAG
from pii_assets.metadata import dagster_message, partition_metadata
from pii_assets.models import DocumentResult, Status
from pii_assets.partitions import ONE_SHARD, DocumentShards
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_assets.resume import earlier_attempts, reusable_results
from resources.documents import DocumentOptions
from resources.extractors import ExtractorResource
from resources.s3 import DocumentStore

_PROGRESS_EVERY = 10
NOT_STARTED = "not_started"
# Extraction steps of all runs share this Dagster concurrency pool, so parallel runs cannot exceed
# an LLM provider's limits: `dagster instance concurrency set pii_extraction N` (see docs/llm.md).
EXTRACTION_POOL = "pii_extraction"
CODE_VERSION_TAG = "dagster/code_version"
# Dagster's run retries would re-read documents that fail the same way again: a run failed by
# its documents is not retried (a dead worker, a crash of the step still are).
RETRY_ON_STEP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
# Failed documents named in the run's log and failure; the rest are counted.
_NAMED_IN_LOG = 100
_NAMED_IN_FAILURE = 20

AssetEvent = dg.MaterializeResult | dg.AssetMaterialization | dg.AssetObservation


def recorded_materialization(
    partition_key: str,
    result: DocumentResult,
    code_version: str,
    asset_key: dg.AssetKey = DOCUMENT_ASSET_KEY,
) -> dg.AssetMaterialization:
    """A partition's result recorded outside a run (an archived object, by the discovery tick),
    reported like the asset reports the others, so the next dataset version picks it up;
    `asset_key` is the partition's shard's asset."""
    return dg.AssetMaterialization(
        asset_key=asset_key,
        partition=partition_key,
        metadata={**partition_metadata(result), "unlocated": 0},
        tags={CODE_VERSION_TAG: code_version} if code_version else None,
    )


def status_counts(statuses: Counter[str]) -> str:
    """ "ok=3, partial=1, failed=0, skipped=2": every status, in a fixed order, for run logs."""
    return ", ".join(f"{status}={statuses.get(str(status), 0)}" for status in Status)


def failed_observation(
    partition_key: str,
    result: DocumentResult,
    metadata: dict[str, Any],
    code_version: str,
    asset_key: dg.AssetKey = DOCUMENT_ASSET_KEY,
) -> dg.AssetObservation:
    """A failed document's outcome: its metadata with the error class and message (messages
    name the document or part and the cause, never content: pii_assets/models.py)."""
    return dg.AssetObservation(
        asset_key=asset_key,
        partition=partition_key,
        description=f"failed: {result.error_class}",
        metadata={**metadata, "error_message": dagster_message(result)},
        tags={CODE_VERSION_TAG: code_version} if code_version else None,
    )


def _named(failed: dict[str, DocumentResult], limit: int) -> str:
    keys = sorted(failed)
    named = ", ".join(f"{key} ({failed[key].error_class})" for key in keys[:limit])
    return named + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def documents_failed(
    context: dg.AssetExecutionContext, failed: dict[str, DocumentResult], total: int
) -> dg.Failure:
    """Tag the run with its failed documents (no retry) and log them by key and error class;
    the Failure to raise once every other document is reported."""
    by_class = Counter(str(result.error_class) for result in failed.values())
    context.instance.add_run_tags(
        context.run.run_id,
        {FAILED_DOCUMENTS_TAG: str(len(failed)), RETRY_ON_STEP_FAILURE_TAG: "false"},
    )
    context.log.error(
        f"{len(failed)} of {total} documents failed: {_named(failed, _NAMED_IN_LOG)}; the others "
        "are materialized, the failed ones recorded as observations (error class and message)"
    )
    # One line per document with its message: our messages name the document or part and the
    # cause, never content (pii_assets/models.py), and the UI links a failed partition to this log.
    for key in sorted(failed)[:_NAMED_IN_LOG]:
        result = failed[key]
        context.log.error(f"failed {key}: {result.error_class}: {dagster_message(result)}")
    return dg.Failure(
        description=f"{len(failed)} of {total} documents failed: "
        f"{_named(failed, _NAMED_IN_FAILURE)}",
        metadata={
            "failed_documents": len(failed),
            "failed_by_error_class": dg.MetadataValue.json(dict(sorted(by_class.items()))),
            "failed_partitions": dg.MetadataValue.json(sorted(failed)[:_NAMED_IN_LOG]),
        },
        allow_retries=False,
    )


def _run_totals(results: list[DocumentResult], not_started: int) -> dict[str, Any]:
    return {
        "run_documents": len(results),
        "run_not_started": not_started,
        "run_cost_usd": dg.MetadataValue.float(float(sum(r.cost_usd for r in results))),
        "run_input_tokens": sum(r.input_tokens for r in results),
        "run_output_tokens": sum(r.output_tokens for r in results),
    }


def build_document_asset(
    *, code_version: str, batch_size: int, shard: int = 0, shards: DocumentShards = ONE_SHARD
) -> dg.AssetsDefinition:
    """The extraction asset of one shard (see partitions.py); its code version names the
    extraction logic and the extractor."""

    @dg.asset(
        name=shards.asset_key(shard).to_user_string(),
        partitions_def=shards.partitions_defs[shard],
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=batch_size),
        code_version=code_version,
        group_name="pii",
        pool=EXTRACTION_POOL,
        # Documents the run budget leaves unstarted must stay unmaterialized: see below.
        output_required=False,
        description="PII entities of one S3 document; results under PII_RESULTS_PREFIX.",
    )
    def document_pii(
        context: dg.AssetExecutionContext,
        store: DocumentStore,
        extractor: ExtractorResource,
        documents: DocumentOptions,
    ) -> Iterator[AssetEvent]:
        client = store.client()
        layout = store.layout()
        opts = ProcessingOptions(
            extractor=extractor.page_extractor(),
            passwords=tuple(documents.password_list()),
            limits=documents.limits(),
            max_file_bytes=documents.max_file_bytes,
            code_version=code_version,
            workers=extractor.document_concurrency(),
            budget_usd=extractor.run_budget_usd(),
        )
        keys = context.partition_keys
        statuses: Counter[str] = Counter()
        results: dict[str, DocumentResult] = {}
        metadata: dict[str, dict[str, Any]] = {}
        not_started: list[str] = []
        started = time.monotonic()
        # A retry or a resumed run: what the dead worker finished is reused (pii_assets/resume.py).
        attempts = earlier_attempts(context.instance, context.run)
        reused = reusable_results(client, layout, keys, attempts, code_version)
        if attempts:
            context.log.info(
                f"{len(reused)} of {len(keys)} documents finished by an earlier attempt of this "
                "run; their stored results are reused"
            )
        remaining = [key for key in keys if key not in reused]
        # Documents run on worker threads; metadata is added here, in the step's own thread.
        for partition_key, result in chain(
            reused.items(),
            process_partitions(client, layout, remaining, opts, context.run.run_id),
        ):
            if result is None:
                not_started.append(partition_key)
                continue
            results[partition_key] = result
            statuses[str(result.status)] += 1
            unlocated = sum(1 for entity in result.entities if entity.x0 is None)
            metadata[partition_key] = {**partition_metadata(result), "unlocated": unlocated}
            context.add_asset_metadata(metadata[partition_key], partition_key=partition_key)
            done = len(results)
            if done % _PROGRESS_EVERY == 0 or done + len(not_started) == len(keys):
                context.log.info(
                    f"{done}/{len(keys)} documents in {time.monotonic() - started:.1f}s "
                    f"({status_counts(statuses)})"
                )
        totals = _run_totals(list(results.values()), len(not_started))
        failed = {key: r for key, r in results.items() if r.status == Status.FAILED}
        if not not_started and not failed:
            yield dg.MaterializeResult(metadata=totals)
            return
        # An output would materialize every partition of the range, so the finished documents are
        # reported one by one; the failed ones are observed (they stay unmaterialized, and the
        # failed step marks them failed) and the unstarted ones get an observation too: they stay
        # unmaterialized (not failed), and a later run picks them up.
        if not_started:
            spent = totals["run_cost_usd"].value
            context.log.warning(
                f"run budget of ${opts.budget_usd:.4f} reached after ${spent:.4f}: "
                f"{len(not_started)} of {len(keys)} documents not started, left unmaterialized"
            )
        for partition_key, meta in metadata.items():
            if partition_key in failed:
                yield failed_observation(
                    partition_key,
                    failed[partition_key],
                    {**totals, **meta},
                    code_version,
                    context.asset_key,
                )
                continue
            yield dg.AssetMaterialization(
                asset_key=context.asset_key,
                partition=partition_key,
                metadata={**totals, **meta},
                tags={CODE_VERSION_TAG: code_version},
            )
        for partition_key in not_started:
            yield dg.AssetObservation(
                asset_key=context.asset_key,
                partition=partition_key,
                metadata={"status": NOT_STARTED, "reason": "run budget"},
            )
        if failed:
            raise documents_failed(context, failed, len(keys))

    return document_pii
