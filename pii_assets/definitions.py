"""The code location: assets, jobs, sensors, schedule and resources, built from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from pii_assets.dataset_asset import covers_input_prefix, pii_labeled_dataset
from pii_assets.document_asset import build_document_asset
from pii_assets.extraction import EXTRACTION_CODE_VERSION
from pii_assets.jobs import build_jobs
from pii_assets.launch import build_launch_job
from pii_assets.log_format import configure_process_logging, default_run_config, run_loggers
from resources.extractors import ExtractorResource
from resources.settings import (
    PipelineSettings,
    build_document_options,
    build_extractor,
    build_store,
)
from schedules.daily import build_daily_schedule
from sensors.discovery import build_discovery_sensor
from sensors.publish import build_publish_sensor


def extraction_code_version(extractor: ExtractorResource) -> str:
    """The document asset's code version: extraction logic plus the extractor's identity, with
    its environment-provided settings resolved (an EnvVar alone names only the variable)."""
    return f"{EXTRACTION_CODE_VERSION}+{extractor.process_config_and_initialize().identity}"


def build_definitions(
    settings: PipelineSettings | None = None, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    """The definitions; `resources` replaces the environment-built ones by key (tests, tools)."""
    settings = settings or PipelineSettings.from_env()
    extractor = (resources or {}).get("extractor") or build_extractor(settings.extractor)
    code_version = extraction_code_version(extractor)
    document_asset = build_document_asset(code_version=code_version, batch_size=settings.batch_size)
    return dg.Definitions(
        assets=[document_asset, pii_labeled_dataset],
        asset_checks=[covers_input_prefix],
        # PII_LOG_FORMAT=json: run logs as JSON lines (pii_assets/log_format.py).
        jobs=[*build_jobs(default_run_config()), build_launch_job(default_run_config())],
        loggers=run_loggers() or None,
        sensors=[
            build_discovery_sensor(
                batch_size=settings.batch_size,
                max_runs=settings.max_runs_per_tick,
                interval_s=settings.discovery_interval_s,
                code_version=code_version,
            ),
            build_publish_sensor(
                min_interval_s=settings.publish_min_interval_s,
                check_interval_s=min(30, settings.discovery_interval_s),
            ),
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
