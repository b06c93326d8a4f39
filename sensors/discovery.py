"""Discovery: new and changed S3 objects become partitions and batched extraction runs.

One tick (`Discovery.tick`), shared by the `document_discovery` sensor and `pii-pipeline process`:

1. Outcomes: the runs of requests still in flight are looked up by their `pii/batch` tag, then the
   document asset's events since the last tick are read; a transient failure (or a run that
   failed, was killed, or never started) is scheduled again with backoff, up to a cap.
2. Events (`PII_DISCOVERY_MODE=events`): S3 notifications are received from SQS in batches,
   applied to the discovery state, and deleted once the state's transaction has committed.
3. Reconciliation: the input prefix is listed a page at a time from a stored continuation token
   until the tick's time budget is spent; a page's keys are compared with the state (new,
   changed, and removed in the key range the page covers). In listing mode a pass starts again
   as soon as one ends; in events mode once every `PII_RECONCILE_INTERVAL_S`.
4. Requests: due partitions are registered (in state order), claimed atomically and cut into runs
   of consecutive partitions; archived objects are recorded as skipped without a GET.

Everything is in the discovery state (`pii_assets.discovery_state`), so the sensor keeps no
cursor and a tick costs what changed, plus at most its listing budget.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import dagster as dg

from pii_assets.bucket import ObjectInfo
from pii_assets.discovery_state import (
    RUN_FAILED,
    RUN_MISSING,
    DiscoveryStore,
    Due,
    Imported,
    Observation,
    Outcome,
    RetryPolicy,
)
from pii_assets.document_asset import NOT_STARTED, recorded_materialization
from pii_assets.event_log import DELETED, FAILED, document_records, spend_today_usd
from pii_assets.jobs import failed_only_by_documents
from pii_assets.log_format import default_run_config
from pii_assets.partition_keys import decode, is_digest_key
from pii_assets.partitions import EXTRACT_JOB, ONE_SHARD, DocumentShards
from pii_assets.processing import record_archived
from pii_pipeline.run_recovery import recover_orphaned_runs
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings
from resources.settings import daily_budget_usd as daily_budget_from_env
from sensors.discovery_plan import (
    MAX_ARCHIVED_PER_TICK,
    Batch,
    batches_by_position,
    fingerprint,
    is_archived,
    run_key,
)
from sensors.listing import head_object_info, list_objects_page
from sensors.s3_events import EventQueue, ParsedEvents, parse_message

DISCOVERY_SENSOR = "document_discovery"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BATCH_TAG = "pii/batch"  # the run key of the request a run carries out
# Partitions registered per tick at most (each is a row in Dagster's table and ours).
MAX_REGISTERED_PER_TICK = 10_000
# A request whose run cannot be found this long after it was made was lost before its launch
# (e.g. the daemon stopped between the tick and the launch): it is requested again.
RUN_LEASE_S = 600.0
# Dagster tags a failed run "true" under this when its run retries will re-execute it
# (dagster._core.storage.tags.WILL_RETRY_TAG; the auto re-execution daemon reads it).
WILL_RETRY_TAG = "dagster/will_retry"
_FINISHED_BAD = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Meta names in the discovery state.
_EVENTS_AFTER = "events_after"
_TOKEN = "reconcile_token"
_LAST_KEY = "reconcile_last_key"
_PASS_STARTED = "reconcile_started_at"
_LAST_PASS = "reconcile_last_pass_started_at"
_IMPORTED = "imported_registered_partitions"


def state_url(instance: dg.DagsterInstance, override: str | None = None) -> str:
    """Where the discovery state lives: `PII_DISCOVERY_STATE_URL` when set, else the instance's
    own Postgres database, else a SQLite file in the instance's folder (one state per instance)."""
    if override:
        return override
    postgres_url = getattr(instance.run_storage, "postgres_url", None)
    if postgres_url:
        return str(postgres_url)
    return f"sqlite:///{os.path.join(instance.root_directory, 'pii_discovery.db')}"


def run_request(batch: Batch, shards: DocumentShards = ONE_SHARD) -> dg.RunRequest:
    """The run of one batch: its shard's extraction job over a partition range (or one key)."""
    tags = {"pii/documents": str(len(batch.partition_keys)), BATCH_TAG: batch.run_key}
    job_name = shards.job_name(batch.shard)
    # A range run gets no partition config, so the log format's loggers are named here.
    config = default_run_config() or {}
    if len(batch.partition_keys) == 1:
        return dg.RunRequest(
            run_key=batch.run_key,
            job_name=job_name,
            partition_key=batch.first,
            tags=tags,
            run_config=config,
        )
    return dg.RunRequest(
        run_key=batch.run_key,
        job_name=job_name,
        run_config=config,
        tags={**tags, RANGE_START_TAG: batch.first, RANGE_END_TAG: batch.last},
    )


def _metadata_value(record: dg.EventLogRecord, name: str) -> object:
    event = record.asset_materialization or record.asset_observation
    entry = event.metadata.get(name) if event else None
    return entry.value if entry is not None else None


def read_outcomes(
    instance: dg.DagsterInstance, after: int, asset_keys: Sequence[dg.AssetKey]
) -> tuple[list[Outcome], int]:
    """Outcomes from the document asset's events after storage id `after`, oldest first, and the
    newest id read. Materializations and the observations of failed documents (their `etag` and
    `error_class`: only a transient class is requested again) and of `not_started` ones are read
    up to one bound taken first, so an event written between the two reads is left for the next
    tick."""
    bound = instance.event_log_storage.get_maximum_record_id() or after
    events: list[tuple[int, Outcome]] = []
    for kind in ("materializations", "observations"):
        for record in document_records(
            instance, kind, after_storage_id=after, asset_keys=asset_keys
        ):
            if record.storage_id > bound:
                break  # records come in storage-id order, across shards too
            if not record.partition_key:
                continue
            status = _metadata_value(record, "status")
            if kind == "observations" and status == NOT_STARTED:
                events.append((record.storage_id, Outcome(record.partition_key, not_started=True)))
            elif kind == "materializations" or status == FAILED:
                # Other observations say nothing about whether the partition was read.
                etag, error_class = (
                    _metadata_value(record, "etag"),
                    _metadata_value(record, "error_class"),
                )
                outcome = Outcome(
                    record.partition_key,
                    etag=str(etag) if etag else None,
                    error_class=str(error_class) if error_class else None,
                )
                events.append((record.storage_id, outcome))
    events.sort(key=lambda item: item[0])
    return [outcome for _, outcome in events], max(after, bound)


def _retry_expected(record: dg.RunRecord, now: float) -> bool:
    """A failed run the daemon's run retries will re-execute (Dagster tags it
    `dagster/will_retry`; the retry reuses what the run finished, pii_assets/resume.py), unless
    no retry appeared within RUN_LEASE_S of its end (no daemon is running retries)."""
    run = record.dagster_run
    if run.status != dg.DagsterRunStatus.FAILURE or run.tags.get(WILL_RETRY_TAG) != "true":
        return False
    ended = record.end_time or record.update_timestamp.timestamp()
    return now - ended <= RUN_LEASE_S


@dataclass
class TickReport:
    events: int = 0  # notifications applied
    events_ignored: int = 0
    stale: int = 0  # duplicate or out-of-order events ignored
    listed: int = 0  # keys listed by the reconciliation this tick
    new: int = 0
    changed: int = 0
    deleted: int = 0
    requeued: int = 0  # requests of failed, killed or lost runs scheduled again
    requested: int = 0
    pending: int = 0  # due partitions left for a later tick
    pass_complete: bool = False  # a reconciliation pass ended this tick
    over_budget: str | None = None

    def summary(self) -> str:
        return (
            f"{self.events} events ({self.stale} stale, {self.events_ignored} ignored), "
            f"{self.listed} keys listed: {self.new} new, {self.changed} changed, "
            f"{self.deleted} deleted, {self.requeued} requeued; {self.requested} documents "
            f"requested, {self.pending} left for the next tick"
        )


@dataclass
class Tick:
    batches: list[Batch] = field(default_factory=list)
    archived: list[dg.AssetMaterialization] = field(default_factory=list)
    report: TickReport = field(default_factory=TickReport)


class Discovery:
    """Discovery for one Dagster instance and bucket; `tick()` does one step of it."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        store: DocumentStore,
        settings: DiscoverySettings,
        *,
        batch_size: int,
        max_runs: int,
        code_version: str = "",
        recorded_by: str = f"sensor:{DISCOVERY_SENSOR}",
        sqs_client: Any = None,
    ) -> None:
        self.instance = instance
        self.documents = store
        self.layout = store.layout()
        self.settings = settings
        self.shards = DocumentShards(settings.document_shards)
        self.batch_size = batch_size
        self.max_runs = max_runs
        self.code_version = code_version
        self.recorded_by = recorded_by
        retry = RetryPolicy(settings.retry_max_attempts, float(settings.retry_base_s))
        self.state = DiscoveryStore(state_url(instance, settings.state_url), retry)
        self._import_registered()
        self.queue = None
        if settings.mode == "events" and settings.queue_url:
            self.queue = EventQueue(
                sqs_client or _sqs_client(settings.queue_url), settings.queue_url
            )

    def _import_registered(self) -> None:
        """Once per state: partitions Dagster already has (discovered before the state existed,
        with a sensor cursor) are imported with their positions and last extracted ETags, so an
        upgrade extracts nothing again. A one-off read of the partitions and the event log."""
        if self.state.get_meta(_IMPORTED) is not None:
            return
        if self.state.is_empty():
            etags: dict[str, str] = {}
            for record in document_records(
                self.instance, "materializations", asset_keys=self.shards.asset_keys
            ):
                etag = _metadata_value(record, "etag")
                if record.partition_key and etag:
                    etags[record.partition_key] = str(etag)
            rows = []
            prefix = self.layout.input_prefix
            for shard in range(self.shards.count):
                for ordinal, key in enumerate(self.shards.in_shard(self.instance, shard)):
                    object_key = None if is_digest_key(key) else decode(key, prefix)
                    etag = etags.get(key)
                    rows.append(Imported(key, object_key, shard, ordinal, etag))
            self.state.import_registered(rows)
        self.state.set_meta({_IMPORTED: "1"})

    # -- 1. outcomes ---------------------------------------------------------------------------
    def settle(self, now: float) -> int:
        """Apply what runs did since the last tick; returns the requests scheduled again."""
        in_flight = self.state.in_flight()
        # The newest run of each batch: a run Dagster retried (run_retries) has a child run with
        # its parent's tags, `pii/batch` included.
        newest: dict[str, dg.RunRecord] = {}
        if in_flight:
            for record in self.instance.get_run_records(
                dg.RunsFilter(tags={BATCH_TAG: sorted(in_flight)})
            ):
                batch = record.dagster_run.tags[BATCH_TAG]
                if batch not in newest or record.storage_id > newest[batch].storage_id:
                    newest[batch] = record
        runs = {
            batch: (
                dg.DagsterRunStatus.STARTED  # still Dagster's to finish: its retry is coming
                if _retry_expected(record, now)
                # Failed only through its documents: each has its outcome (a failed observation),
                # the run is finished like a successful one (pii_assets/jobs.py).
                else dg.DagsterRunStatus.SUCCESS
                if failed_only_by_documents(record.dagster_run)
                else record.dagster_run.status
            )
            for batch, record in newest.items()
        }
        # Statuses first, events second: a run seen finished has all its events in this read.
        after = int(self.state.get_meta(_EVENTS_AFTER) or 0)
        outcomes, newest = read_outcomes(self.instance, after, self.shards.asset_keys)
        self.state.settle(outcomes, now)
        self.state.set_meta({_EVENTS_AFTER: str(newest)})
        failed = {batch: RUN_FAILED for batch, status in runs.items() if status in _FINISHED_BAD}
        failed.update(
            {
                batch: RUN_MISSING
                for batch, requested_at in in_flight.items()
                if batch not in runs and now - requested_at > RUN_LEASE_S
            }
        )
        succeeded = [b for b, status in runs.items() if status == dg.DagsterRunStatus.SUCCESS]
        self.state.settle_batches(succeeded)
        return self.state.fail_batches(failed, now) if failed else 0

    # -- 2. events ---------------------------------------------------------------------------
    def _apply(self, observations: list[Observation], report: TickReport, now: float) -> None:
        outcome = self.state.observe([self._sharded(o) for o in observations], now)
        report.new += outcome.new
        report.changed += outcome.changed
        report.stale += outcome.stale
        for key in outcome.deleted or ():
            shard = self.shards.shard_of(key)
            # Recorded first: the next publish removes the document's rows (a deleted partition
            # leaves no other trace in the event log), and the UI shows why it went.
            self.instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=self.shards.asset_key(shard),
                    partition=key,
                    metadata={"status": DELETED},
                )
            )
            self.instance.delete_dynamic_partition(self.shards.partitions_name(shard), key)
        report.deleted += len(outcome.deleted or ())

    def _sharded(self, obs: Observation) -> Observation:
        shard = self.shards.shard_of(obs.partition_key)
        return obs if shard == obs.shard else dataclasses.replace(obs, shard=shard)

    def read_events(self, report: TickReport, now: float, deadline: float) -> None:
        if self.queue is None:
            return
        for messages in self.queue.receive(
            self.settings.max_events_per_tick, self.settings.events_wait_s, deadline
        ):
            parsed = ParsedEvents()
            for message in messages:
                parse_message(
                    message.body,
                    self.layout.bucket,
                    self.layout.input_prefix,
                    self.layout.partition_key,
                    fingerprint,
                    parsed,
                )
            parsed.observations.extend(self._look_up(parsed.look_up))
            self._apply(parsed.observations, report, now)
            # Applied and committed: only now may SQS forget them (at-least-once delivery).
            self.queue.delete(messages)
            report.events += len(parsed.observations)
            report.events_ignored += parsed.ignored

    def _look_up(self, keys: Iterable[str]) -> list[Observation]:
        client = self.documents.client()
        found = []
        for key in keys:
            info = head_object_info(client, self.layout.bucket, key)
            etag = fingerprint(info.etag, info.storage_class) if info else None
            storage_class = info.storage_class if info else "STANDARD"
            found.append(
                Observation(key, self.layout.partition_key(key), etag, storage_class, listed=True)
            )
        return found

    # -- 3. reconciliation ---------------------------------------------------------------------
    def reconcile(self, report: TickReport, now: float, deadline: float, force: bool) -> None:
        """List pages from the stored continuation token until the deadline or the pass's end."""
        started = self.state.get_meta(_PASS_STARTED)
        if started is None:
            last_pass = float(self.state.get_meta(_LAST_PASS) or 0)
            interval = 0 if self.settings.mode == "listing" else self.settings.reconcile_interval_s
            if not force and last_pass and now - last_pass < interval:
                return
            started = str(now)
            self.state.set_meta({_PASS_STARTED: started, _TOKEN: None, _LAST_KEY: None})
        token = self.state.get_meta(_TOKEN)
        last_key = self.state.get_meta(_LAST_KEY)
        client = self.documents.client()
        while True:
            page = list_objects_page(
                client, self.layout.bucket, self.layout.input_prefix, token, last_key
            )
            # The key range this page covers: (last key of the previous page, its own last key],
            # open-ended on the last page. Folder placeholders count: they end pages too.
            upto = page.last_key if page.next_token else None
            known = self.state.known_in_range(last_key, upto, self.layout.input_prefix)
            listed = {info.key for info in page.objects}
            changes = []
            for info in page.objects:
                partition_key = self.layout.partition_key(info.key)
                etag = fingerprint(info.etag, info.storage_class)
                if known.get(info.key) != (partition_key, etag):
                    changes.append(
                        Observation(info.key, partition_key, etag, info.storage_class, listed=True)
                    )
            # Objects the store holds in this range that the page does not list are gone.
            changes.extend(
                Observation(key, partition_key, None, changed_at=now, listed=True)
                for key, (partition_key, etag) in known.items()
                if etag is not None and key not in listed
            )
            if changes:
                self._apply(changes, report, now)
            report.listed += len(page.objects)
            if not page.next_token:
                self.state.set_meta(
                    {_PASS_STARTED: None, _TOKEN: None, _LAST_KEY: None, _LAST_PASS: started}
                )
                report.pass_complete = True
                return
            token, last_key = page.next_token, page.last_key
            self.state.set_meta({_TOKEN: token, _LAST_KEY: last_key})
            if time.monotonic() >= deadline:
                return

    def pass_started_at(self) -> float | None:
        """When the reconciliation pass in progress started (None: none in progress)."""
        value = self.state.get_meta(_PASS_STARTED)
        return float(value) if value is not None else None

    def last_pass_started_at(self) -> float:
        return float(self.state.get_meta(_LAST_PASS) or 0)

    # -- 4. requests ---------------------------------------------------------------------------
    def _register(self) -> None:
        self.state.register_due(
            MAX_REGISTERED_PER_TICK,
            lambda shard, keys: self.instance.add_dynamic_partitions(
                self.shards.partitions_name(shard), keys
            ),
        )

    def request(
        self, report: TickReport, now: float, exclude: Sequence[str] = ()
    ) -> tuple[list[Batch], list[dg.AssetMaterialization]]:
        self._register()
        limit = self.batch_size * self.max_runs
        due = self.state.due(now, limit + MAX_ARCHIVED_PER_TICK, exclude)
        archived = [item for item in due if is_archived(item)][:MAX_ARCHIVED_PER_TICK]
        readable = [item for item in due if not is_archived(item)]
        batches: list[Batch] = []
        for run in batches_by_position(readable, self.batch_size):
            if len(batches) >= self.max_runs:
                break
            batches.extend(self._claim(run, now))
        events = self._record_archived(archived, now)
        report.requested = sum(len(b.partition_keys) for b in batches)
        report.pending = max(0, self.state.due_count(now) - len(exclude))
        return batches, events

    def _claim(self, run: list[Due], now: float) -> list[Batch]:
        versions = {item.partition_key: item.etag for item in run}
        keys = [item.partition_key for item in run]
        key = run_key(keys, versions, salt=f"{now:.6f}")
        claimed = self.state.claim(keys, key, now)
        if len(claimed) == len(keys):
            return [Batch(tuple(keys), key, run[0].shard)]
        # Another claimer took some: the rest may no longer be consecutive, so each goes alone.
        self.state.release(claimed, now)
        return []

    def _record_archived(self, archived: list[Due], now: float) -> list[dg.AssetMaterialization]:
        if not archived:
            return []
        keys = [item.partition_key for item in archived]
        claimed = self.state.claim(keys, f"archived-{now:.6f}", now, settled=True)
        objects = [
            (item.partition_key, _object_info(item))
            for item in archived
            if item.partition_key in claimed
        ]
        rows = record_archived(
            self.documents.client(),
            self.layout,
            objects,
            code_version=self.code_version,
            run_id=self.recorded_by,
        )
        return [
            recorded_materialization(
                k, result, self.code_version, self.shards.asset_key(self.shards.shard_of(k))
            )
            for k, result in rows
        ]

    # -- a whole tick --------------------------------------------------------------------------
    def tick(
        self,
        *,
        now: float | None = None,
        exclude: Sequence[str] = (),
        launch: bool = True,
        force_reconcile: bool = False,
    ) -> Tick:
        """One tick; `launch` False skips step 4 (a daily budget reached), `exclude` keeps these
        partitions out of this tick's requests (`process` runs a document once per call)."""
        now = time.time() if now is None else now
        deadline = time.monotonic() + self.settings.tick_budget_s
        tick = Tick()
        tick.report.requeued = self.settle(now)
        self.read_events(tick.report, now, deadline)
        self.reconcile(tick.report, now, deadline, force_reconcile)
        if launch:
            tick.batches, tick.archived = self.request(tick.report, now, exclude)
        else:
            self._register()
            tick.report.pending = self.state.due_count(now)
        return tick


def _object_info(item: Due) -> ObjectInfo:
    # The fingerprint's ETag head is enough for the row: it is what the store compares.
    return ObjectInfo(
        key=item.object_key or "",
        etag=item.etag.split("@")[0],
        size=0,
        storage_class=item.storage_class,
    )


def _sqs_client(queue_url: str) -> Any:
    """An SQS client for the queue: boto3 reads AWS_ENDPOINT_URL_SQS itself (service-specific
    endpoints); the region is the queue URL's (`https://sqs.REGION.amazonaws.com/...`), else
    AWS_REGION or AWS_DEFAULT_REGION."""
    import boto3

    host = urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    region = parts[1] if len(parts) > 3 and parts[0] == "sqs" else None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client("sqs", region_name=region)


def build_discovery_sensor(
    *,
    batch_size: int,
    max_runs: int,
    interval_s: int,
    settings: DiscoverySettings | None = None,
    daily_budget_usd: float | None | Literal["env"] = "env",
    code_version: str = "",
    discovery_factory: Callable[..., Discovery] = Discovery,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None,
) -> dg.SensorDefinition:
    """`daily_budget_usd` defaults to PII_MAX_DAILY_BUDGET_USD (unset: no daily limit);
    `code_version` is the document asset's, tagged on the archived objects' materializations;
    `jobs` are the shards' extraction jobs (required with more than one shard)."""
    daily_budget = daily_budget_from_env() if daily_budget_usd == "env" else daily_budget_usd
    settings = settings or DiscoverySettings()
    source = (
        f"S3 event notifications from SQS, with a listing pass every "
        f"{settings.reconcile_interval_s}s"
        if settings.mode == "events"
        else "a listing of the input prefix, a few pages per tick"
    )

    shards = DocumentShards(settings.document_shards)
    if jobs is None and shards.count > 1:
        raise ValueError("a sharded layout needs the shards' extraction jobs")
    targets: dict[str, Any] = {"jobs": list(jobs)} if jobs else {"job_name": EXTRACT_JOB}

    @dg.sensor(
        name=DISCOVERY_SENSOR,
        **targets,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Finds new, changed and removed objects from {source}; registers partitions and "
            f"launches up to {max_runs} runs of up to {batch_size} documents; requests transient "
            "failures again with backoff; records archived objects (GLACIER, DEEP_ARCHIVE) as "
            "skipped without reading them. State: the discovery state store, not the cursor."
        ),
    )
    def document_discovery(
        context: dg.SensorEvaluationContext, store: DocumentStore
    ) -> dg.SensorResult:
        # Runs `pii-pipeline process` left behind when it was killed: failed, slots freed, their
        # documents requested again.
        for run in recover_orphaned_runs(context.instance).runs:
            context.log.warning(
                f"run {run.run_id} had lost its process: marked failed; "
                f"{run.documents_requested_again} documents requested again"
            )
        discovery = discovery_factory(
            context.instance,
            store,
            settings,
            batch_size=batch_size,
            max_runs=max_runs,
            code_version=code_version,
        )
        launch, over = True, None
        if daily_budget:
            spent = spend_today_usd(context.instance, asset_keys=shards.asset_keys)
            if spent >= daily_budget:
                launch = False
                over = (
                    f"daily LLM budget reached: ${spent:.4f} spent today (UTC) of "
                    f"${daily_budget:.4f} (PII_MAX_DAILY_BUDGET_USD)"
                )
        tick = discovery.tick(launch=launch)
        report = tick.report
        context.log.info(report.summary())
        skip = None
        if over:
            skip = f"{over}; {report.pending} documents wait for tomorrow"
        elif not tick.batches:
            skip = f"nothing to request: {report.summary()}"
        return dg.SensorResult(
            run_requests=[run_request(b, shards) for b in tick.batches],
            # Archived objects' rows, recorded by this tick (the daemon reports them).
            asset_events=list(tick.archived),
            skip_reason=skip,
        )

    return document_discovery
