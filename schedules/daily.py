"""A daily publish, so consumers get the day's changes even when nothing triggered one; it also
reconciles every registered partition with the dataset (rows of deleted documents leave it)."""

from __future__ import annotations

import dagster as dg

from pii_assets.jobs import PUBLISH_JOB

DAILY_SCHEDULE = "daily_dataset_publish"


def build_daily_schedule(
    *, cron: str = "0 2 * * *", timezone: str = "UTC"
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=DAILY_SCHEDULE,
        job_name=PUBLISH_JOB,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        run_config={"ops": {"pii_labeled_dataset": {"config": {"reconcile": True}}}},
        description="Publishes a dataset version daily, reconciling removed documents "
        "(PII_SCHEDULE_CRON, PII_SCHEDULE_TIMEZONE).",
    )
