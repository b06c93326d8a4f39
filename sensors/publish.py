"""Publishes a dataset version after extraction runs finish, once per burst of batches.

A run in which documents failed is failed in Dagster (so the UI shows them) but finished: its other
documents are materialized and its failed ones keep their `failed` row, so it counts too.
"""

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from pii_assets.jobs import EXTRACT_JOB, PUBLISH_JOB, failed_only_by_documents

PUBLISH_SENSOR = "dataset_publisher"
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# While extraction keeps running, publishing waits for quiet, but never longer than this many
# debounce intervals.
_MAX_WAIT_INTERVALS = 6


def build_publish_sensor(
    *,
    min_interval_s: int,
    check_interval_s: int = 30,
    extract_jobs: Sequence[str] = (EXTRACT_JOB,),
) -> dg.SensorDefinition:
    """`extract_jobs`: the extraction job of each document shard."""

    @dg.sensor(
        name=PUBLISH_SENSOR,
        job_name=PUBLISH_JOB,
        minimum_interval_seconds=check_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Publishes a dataset version when extraction runs have succeeded since the last one, "
            f"waiting for running batches to finish and at most once per {min_interval_s}s."
        ),
    )
    def dataset_publisher(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state = json.loads(context.cursor) if context.cursor else {}
        seen_until = float(state.get("seen_until", 0.0))
        published_at = float(state.get("published_at", 0.0))
        successes = [
            record
            for job_name in extract_jobs
            for record in context.instance.get_run_records(
                dg.RunsFilter(
                    job_name=job_name,
                    statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                    updated_after=datetime.fromtimestamp(seen_until, UTC),
                )
            )
            if record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            or failed_only_by_documents(record.dagster_run)
        ]
        if not successes:
            return dg.SensorResult(skip_reason="no extraction run succeeded since the last version")
        now = time.time()
        newest = max(r.update_timestamp.timestamp() for r in successes)
        oldest = min(r.update_timestamp.timestamp() for r in successes)
        active = sum(
            context.instance.get_runs_count(dg.RunsFilter(job_name=job_name, statuses=_ACTIVE))
            for job_name in extract_jobs
        )
        if active and now - oldest < _MAX_WAIT_INTERVALS * max(min_interval_s, 60):
            return dg.SensorResult(skip_reason=f"waiting for {active} extraction runs to finish")
        if now - published_at < min_interval_s:
            return dg.SensorResult(
                skip_reason=f"a version was requested less than {min_interval_s}s ago"
            )
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"publish-{newest:.6f}")],
            cursor=json.dumps({"seen_until": newest, "published_at": now}),
        )

    return dataset_publisher
