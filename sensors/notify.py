"""Notification sensors: what happened in finished runs, sent to Slack and SNS
(pii_assets/notifications.py builds and delivers; resources/settings.py `notify_settings` reads
the channels from the environment on every tick).

- `run_failure_notifier` (Dagster's `run_failure_sensor`): a run of the code location failed;
  names its failed steps with their error class. A publish refused by a blocking check is left
  to the next sensor, which says which checks.
- `run_outcome_notifier`: reads the run-finished events (success and failure) after its cursor,
  then each finished run's own events: documents failed in an extraction run (at least
  PII_NOTIFY_FAILED_DOCUMENTS), a run budget that left documents unstarted, today's spend reaching
  PII_MAX_DAILY_BUDGET_USD (once per UTC day), a version published, blocking checks failed.

Both start from "now": runs finished before a sensor first ticked are not notified. They run in
the daemon (`make dev`, a deployment); runs of `pii-pipeline process` are notified when a daemon
serves the same instance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pii_assets import notifications as notify
from pii_assets import partition_keys
from pii_assets.asset_names import DATASET_ASSET, DATASET_ASSET_KEY, DOCUMENT_ASSET_KEY
from pii_assets.document_asset import NOT_STARTED
from pii_assets.event_log import FAILED, spend_today_usd
from pii_assets.jobs import EXTRACT_JOB, JOB_TAG, PUBLISH_JOB, failed_only_by_documents
from pii_assets.partitions import DocumentShards
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings, daily_budget_usd, notify_settings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG

RUN_FAILURE_NOTIFIER = "run_failure_notifier"
RUN_OUTCOME_NOTIFIER = "run_outcome_notifier"
# Run-finished events read per tick; the rest wait for the next one.
_RUNS_PER_TICK = 100
_FINISHED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)
_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")
_NO_CHANNEL = "no notification channel set (PII_SLACK_WEBHOOK_URL, PII_SNS_TOPIC_ARN)"


def _value(metadata: dict[str, Any], name: str, default: Any = None) -> Any:
    entry = metadata.get(name)
    return default if entry is None else entry.value


def _shards() -> DocumentShards:
    """The document shards of this deployment (PII_DOCUMENT_SHARDS: pii_assets/partitions.py)."""
    return DocumentShards(DiscoverySettings.from_env().document_shards)


def _object_key(partition_key: str, input_prefix: str) -> str:
    """The S3 key a partition stands for (a digest key, which cannot be decoded, as itself)."""
    if partition_keys.is_digest_key(partition_key):
        return partition_key
    return partition_keys.decode(partition_key, input_prefix)


def failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Names of the blocking asset checks that failed in the run."""
    names = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if evaluation is not None and evaluation.blocking and not evaluation.passed:
            names.append(evaluation.check_name)
    return sorted(set(names))


def _partitions_of(run: dg.DagsterRun) -> str:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    if RANGE_START_TAG in tags:
        return f"{tags[RANGE_START_TAG]} … {tags.get(RANGE_END_TAG, '')}"
    return ""


def build_run_failure_notifier(interval_s: int = 30) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=RUN_FAILURE_NOTIFIER,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies Slack and SNS of a failed run (job, run, failed steps and their "
        "error class, a link to the run); see PII_SLACK_WEBHOOK_URL, PII_SNS_TOPIC_ARN.",
    )
    def run_failure_notifier(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
        config = notify_settings()
        if not config.channels:
            return dg.SkipReason(_NO_CHANNEL)
        run = context.dagster_run
        if run.job_name == PUBLISH_JOB and failed_blocking_checks(context.instance, run.run_id):
            return dg.SkipReason("a publish refused by blocking checks: run_outcome_notifier")
        if failed_only_by_documents(run):
            # Its failed documents are run_outcome_notifier's (PII_NOTIFY_FAILED_DOCUMENTS).
            return dg.SkipReason("a run failed only by its documents: run_outcome_notifier")
        steps = {}
        for event in context.get_step_failure_events():
            error = event.step_failure_data.error if event.step_failure_data else None
            # Dagster wraps the user code's exception; its type is the one worth naming.
            while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
                error = error.cause
            steps[event.step_key or "?"] = error.cls_name if error else "unknown"
        message = notify.run_failed(
            config.ui_url,
            job_name=run.job_name,
            run_id=run.run_id,
            partitions=_partitions_of(run),
            failed_steps=steps,
        )
        _log_deliveries(context, message, notify.deliver(message, config))
        return None

    return run_failure_notifier


@dataclass
class _Cursor:
    after: int = 0  # storage id of the last run-finished event handled
    budget_day: str = ""  # the UTC day whose reached daily budget was notified

    @classmethod
    def decode(cls, raw: str | None) -> _Cursor | None:
        return cls(**json.loads(raw)) if raw else None

    def encode(self) -> str:
        return json.dumps({"after": self.after, "budget_day": self.budget_day})


@dataclass
class RunOutcome:
    """What one finished run did that is worth a notification."""

    run_id: str
    job_name: str
    documents: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # object key -> error class
    spent_usd: float = 0.0
    not_started: list[str] = field(default_factory=list)  # object keys
    dataset: dict[str, Any] | None = None  # the dataset materialization's metadata
    failed_checks: list[str] = field(default_factory=list)


def finished_runs(instance: dg.DagsterInstance, after: int) -> tuple[list[tuple[int, str]], int]:
    """(storage id, run id) of runs of our jobs that finished after storage id `after`, oldest
    first, at most about `_RUNS_PER_TICK`; and the storage id to continue from."""
    found: list[tuple[int, str]] = []
    bound: int | None = None  # with more events left of a type, nothing past its last is taken
    for event_type in _FINISHED:
        page = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(
                event_type=event_type,
                after_storage_id=after,
                job_names=[EXTRACT_JOB, *_shards().job_names, PUBLISH_JOB],
            ),
            limit=_RUNS_PER_TICK,
            ascending=True,
        )
        found += [(r.storage_id, r.run_id) for r in page.records]
        if page.has_more and page.records:
            last = page.records[-1].storage_id
            bound = last if bound is None else min(bound, last)
    if bound is not None:
        found = [item for item in found if item[0] <= bound]
    found.sort()
    return found, (found[-1][0] if found else after)


def _document_outcome(outcome: RunOutcome, metadata: dict[str, Any], partition: str, prefix: str):
    """Count one document's outcome: a materialization (ok, partial, skipped) or the observation
    of a failed document (pii_assets/event_log.py: failed documents are observed, not
    materialized, so that Dagster shows their partitions failed)."""
    status = _value(metadata, "status")
    outcome.documents += 1
    outcome.spent_usd += float(_value(metadata, "cost_usd", 0.0) or 0.0)
    if status == FAILED:
        outcome.failed[_object_key(partition, prefix)] = str(
            _value(metadata, "error_class", "") or ""
        )


def run_outcome(instance: dg.DagsterInstance, run: dg.DagsterRun, input_prefix: str) -> RunOutcome:
    """The documents, budget and dataset events a finished run recorded."""
    outcome = RunOutcome(run.run_id, run.job_name)
    documents = {DOCUMENT_ASSET_KEY, *_shards().asset_keys}
    events = instance.all_logs(
        run.run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        },
    )
    for entry in events:
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        if data is None:
            continue
        if hasattr(data, "materialization"):
            item = data.materialization
            if item.asset_key == DATASET_ASSET_KEY:
                outcome.dataset = {name: value.value for name, value in item.metadata.items()}
                continue
            if item.asset_key not in documents or item.partition is None:
                continue
            if _value(item.metadata, "status") is None:  # a run-level report (totals)
                continue
            _document_outcome(outcome, item.metadata, item.partition, input_prefix)
        elif hasattr(data, "asset_observation"):
            item = data.asset_observation
            if item.asset_key not in documents or item.partition is None:
                continue
            status = _value(item.metadata, "status")
            if status == NOT_STARTED:
                outcome.not_started.append(_object_key(item.partition, input_prefix))
            elif status == FAILED:
                _document_outcome(outcome, item.metadata, item.partition, input_prefix)
    if run.job_name == PUBLISH_JOB:
        outcome.failed_checks = failed_blocking_checks(instance, run.run_id)
    return outcome


def outcome_notifications(
    outcome: RunOutcome, config: notify.NotifyConfig
) -> list[notify.Notification]:
    """The notifications one run's outcome calls for, in the order they happened."""
    ui, run_id = config.ui_url, outcome.run_id
    messages = []
    if config.failed_documents and len(outcome.failed) >= config.failed_documents:
        messages.append(
            notify.documents_failed(
                ui, run_id=run_id, failed=outcome.failed, documents=outcome.documents
            )
        )
    if outcome.not_started:
        messages.append(
            notify.run_budget_reached(
                ui, run_id=run_id, spent_usd=outcome.spent_usd, not_started=outcome.not_started
            )
        )
    dataset = outcome.dataset or {}
    if dataset.get("publish_status") == "published":
        messages.append(
            notify.version_published(
                ui,
                run_id=run_id,
                version=str(dataset.get("version", "")),
                parent=str(dataset.get("parent_version") or ""),
                documents=int(dataset.get("documents", 0)),
                entities=int(dataset.get("entities", 0)),
                changes={
                    kind: int(dataset.get(f"documents_{kind}", 0))
                    for kind in ("added", "removed", "changed")
                },
                by_status=dataset.get("documents_by_status") or None,
                cost_usd=dataset.get("version_cost_usd"),
            )
        )
    if outcome.failed_checks:
        messages.append(
            notify.checks_failed(
                ui,
                run_id=run_id,
                checks=outcome.failed_checks,
                latest=str(dataset.get("version") or ""),
            )
        )
    return messages


def _log_deliveries(
    context: Any, message: notify.Notification, deliveries: Iterable[notify.Delivery]
) -> None:
    for delivery in deliveries:
        if delivery.delivered:
            context.log.info(f"notified {message.event} to {delivery.channel}")
        else:
            context.log.warning(
                f"notification {message.event} not delivered to {delivery.channel}: "
                f"{delivery.cause}"
            )


def build_run_outcome_notifier(interval_s: int = 30) -> dg.SensorDefinition:
    @dg.sensor(
        name=RUN_OUTCOME_NOTIFIER,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies Slack and SNS of failed documents (PII_NOTIFY_FAILED_DOCUMENTS), "
        "a run or daily budget reached, a dataset version published and blocking checks failed, "
        "with counts, object keys and links to the run.",
    )
    def run_outcome_notifier(
        context: dg.SensorEvaluationContext, store: DocumentStore
    ) -> dg.SensorResult:
        instance = context.instance
        cursor = _Cursor.decode(context.cursor)
        if cursor is None:
            # First tick: start from now, not from the instance's whole history.
            start = _Cursor(after=instance.event_log_storage.get_maximum_record_id() or 0)
            return dg.SensorResult(cursor=start.encode(), skip_reason="watching from now on")
        config = notify_settings()
        runs, after = finished_runs(instance, cursor.after)
        cursor.after = after
        if not config.channels:
            return dg.SensorResult(cursor=cursor.encode(), skip_reason=_NO_CHANNEL)
        input_prefix = store.layout().input_prefix
        sent = 0
        extraction_finished = False
        for _, run_id in runs:
            run = instance.get_run_by_id(run_id)
            if run is None:
                continue
            extraction_finished |= run.tags.get(JOB_TAG, run.job_name) == EXTRACT_JOB
            for message in outcome_notifications(run_outcome(instance, run, input_prefix), config):
                _log_deliveries(context, message, notify.deliver(message, config))
                sent += 1
        budget = daily_budget_usd()
        today = datetime.now(UTC).date().isoformat()
        if budget and extraction_finished and cursor.budget_day != today:
            spent = spend_today_usd(instance, asset_keys=_shards().asset_keys)
            if spent >= budget:
                message = notify.daily_budget_reached(
                    config.ui_url,
                    day=today,
                    spent_usd=spent,
                    budget_usd=budget,
                    asset_name=DATASET_ASSET,
                )
                _log_deliveries(context, message, notify.deliver(message, config))
                cursor.budget_day = today
                sent += 1
        skip = None if sent else f"{len(runs)} finished runs read; nothing to notify"
        return dg.SensorResult(cursor=cursor.encode(), skip_reason=skip)

    return run_outcome_notifier
