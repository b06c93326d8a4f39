"""Jobs: batched extraction runs (in-process executor) and dataset publishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from pii_assets.asset_names import DATASET_ASSET
from pii_assets.partitions import EXTRACT_JOB, ONE_SHARD, DocumentShards

PUBLISH_JOB = "publish_dataset"
__all__ = ["EXTRACT_JOB", "JOB_TAG", "PUBLISH_JOB", "build_jobs"]
# Every run carries its job's name under this tag, for the run queue's tag limits
# (deploy/dagster.yaml) and for metrics. Every shard's extraction job tags its runs with the
# unsharded name `extract_documents`, so limits and metrics keyed on it hold for all shards.
JOB_TAG = "pii/job"
# Dagster's run retries (the daemon, `run_retries` in dagster.yaml) re-execute a failed extraction
# run up to this many times: a run whose worker died is finished by a retry, which reuses the
# results the dead worker had already written (pii_assets/resume.py). Publishing is not retried:
# the next sensor tick or schedule publishes anyway.
EXTRACT_MAX_RETRIES = 2
# Set on an extraction run in which documents failed, to how many (pii_assets/document_asset.py).
# Such a run fails only through its documents (the others are materialized and the run is not
# retried), so the publish sensor and `pii-pipeline process` treat it as finished.
FAILED_DOCUMENTS_TAG = "pii/failed_documents"


def failed_only_by_documents(run: dg.DagsterRun) -> bool:
    """A failed extraction run whose step reported every document, some of them failed."""
    return run.status == dg.DagsterRunStatus.FAILURE and FAILED_DOCUMENTS_TAG in run.tags


def build_jobs(
    shards: DocumentShards = ONE_SHARD,
    run_config: Mapping[str, Any] | None = None,
) -> list[dg.UnresolvedAssetJobDefinition]:
    """One extraction job per shard (a job runs one partitions definition), then the publish job;
    `run_config` is their default run config (e.g. the JSON log format's loggers)."""
    # One step per run, so a multiprocess executor only adds a process start (~1.6 s measured).
    extract = [
        dg.define_asset_job(
            shards.job_name(shard),
            selection=[shards.asset_key(shard)],
            executor_def=dg.in_process_executor,
            tags={JOB_TAG: EXTRACT_JOB, "dagster/max_retries": str(EXTRACT_MAX_RETRIES)},
            config=run_config,
            description="Extract PII from a batch (a partition range) of documents.",
        )
        for shard in range(shards.count)
    ]
    publish = dg.define_asset_job(
        PUBLISH_JOB,
        selection=[DATASET_ASSET],
        executor_def=dg.in_process_executor,
        tags={JOB_TAG: PUBLISH_JOB},
        config=run_config,
        description="Publish a new version of the labeled dataset.",
    )
    return [*extract, publish]
