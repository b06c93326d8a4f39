"""The code location: assets, jobs, sensors, schedule and resources, built from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from pii_assets.dataset_asset import build_dataset_asset, covers_input_prefix
from pii_assets.document_asset import build_document_asset
from pii_assets.extraction import EXTRACTION_CODE_VERSION
from pii_assets.jobs import build_jobs
from pii_assets.launch import build_launch_job
from pii_assets.log_format import configure_process_logging, default_run_config, run_loggers
from pii_assets.partitions import DocumentShards
from pii_assets.redaction_asset import build_redaction_definitions
from pii_assets.review_jobs import build_review_jobs, reviews_spec
from resources.extractors import ExtractorResource
from resources.settings import (
    DiscoverySettings,
    PipelineSettings,
    build_document_options,
    build_extractor,
    build_store,
)
from schedules.daily import build_daily_schedule
from sensors.discovery import build_discovery_sensor
from sensors.notify import build_run_failure_notifier, build_run_outcome_notifier
from sensors.publish import build_publish_sensor


def extraction_code_version(extractor: ExtractorResource) -> str:
    """The document asset's code version: extraction logic plus the extractor's identity, with
    its environment-provided settings resolved (an EnvVar alone names only the variable)."""
    return f"{EXTRACTION_CODE_VERSION}+{extractor.process_config_and_initialize().identity}"


def build_definitions(
    settings: PipelineSettings | None = None,
    resources: Mapping[str, Any] | None = None,
    discovery: DiscoverySettings | None = None,
) -> dg.Definitions:
    """The definitions; `resources` replaces the environment-built ones by key (tests, tools)."""
    settings = settings or PipelineSettings.from_env()
    discovery = discovery or DiscoverySettings.from_env()
    extractor = (resources or {}).get("extractor") or build_extractor(settings.extractor)
    code_version = extraction_code_version(extractor)
    shards = DocumentShards(discovery.document_shards)
    document_assets = [
        build_document_asset(
            code_version=code_version, batch_size=settings.batch_size, shard=shard, shards=shards
        )
        for shard in range(shards.count)
    ]
    # Redacted copies and reviews are partitioned like the unsharded document asset; a sharded
    # deployment (PII_DOCUMENT_SHARDS > 1) leaves them out (docs/review.md, "Limits").
    review_assets: list[Any] = []
    review_jobs: list[Any] = []
    if shards.count == 1:
        redaction_asset, redact_job = build_redaction_definitions(batch_size=settings.batch_size)
        review_assets = [redaction_asset, reviews_spec]
        review_jobs = [redact_job, *build_review_jobs()]
    # PII_LOG_FORMAT=json: run logs as JSON lines (pii_assets/log_format.py).
    jobs = [*build_jobs(shards, default_run_config()), *review_jobs]
    return dg.Definitions(
        assets=[*document_assets, build_dataset_asset(shards), *review_assets],
        asset_checks=[covers_input_prefix],
        jobs=[*jobs, build_launch_job(default_run_config())],
        loggers=run_loggers() or None,
        sensors=[
            build_discovery_sensor(
                batch_size=settings.batch_size,
                max_runs=settings.max_runs_per_tick,
                interval_s=settings.discovery_interval_s,
                settings=discovery,
                code_version=code_version,
                jobs=jobs[:-1] if shards.count > 1 else None,
            ),
            build_publish_sensor(
                extract_jobs=shards.job_names,
                min_interval_s=settings.publish_min_interval_s,
                check_interval_s=min(30, settings.discovery_interval_s),
            ),
            # Slack and SNS (PII_SLACK_WEBHOOK_URL, PII_SNS_TOPIC_ARN): skip when neither is set.
            build_run_failure_notifier(),
            build_run_outcome_notifier(),
        ],
        schedules=[
            build_daily_schedule(cron=settings.schedule_cron, timezone=settings.schedule_timezone)
        ],
        resources={
            "store": build_store(),
            "extractor": extractor,
            "documents": build_document_options(),
            **(resources or {}),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    configure_process_logging()
    return build_definitions()
