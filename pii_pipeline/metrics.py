"""Operators' metrics in the Prometheus text exposition format, read from the Dagster instance.

`pii-pipeline metrics` prints them once; `pii-pipeline metrics --serve PORT` answers
`GET /metrics` for a Prometheus scraper (or the CloudWatch agent's Prometheus input). Both read
the instance at $DAGSTER_HOME, so they see every worker's runs, wherever they ran:

- document counters from the `document_pii` materializations' metadata (status, error class,
  pages, cost, tokens) and its `not_started` observations; the server reads only the events
  written since its previous scrape;
- run counts and durations from the run records of both jobs.

Counts, classes, USD and seconds only: never an object key, a value or a message. The format
(names, `_total`, escaping) is prometheus_client's.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pii_assets.document_asset import NOT_STARTED
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB, JOB_TAG, PUBLISH_JOB
from pii_assets.partitions import DocumentShards
from resources.settings import DiscoverySettings

# Run duration buckets in seconds: a batch of 100 text PDFs takes about 10 s, of 100 scans minutes.
DURATION_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_FINISHED = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}
_IN_PROGRESS = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


def _value(metadata: dict[str, Any], name: str) -> Any:
    entry = metadata.get(name)
    return entry.value if entry is not None else None


@dataclass
class DocumentCounters:
    """Running totals over the document asset's events, with the storage ids read so far."""

    by_status: Counter[str] = field(default_factory=Counter)
    failed_by_error_class: Counter[str] = field(default_factory=Counter)
    pages: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    not_started: int = 0
    materializations_after: int | None = None
    observations_after: int | None = None
    # Every shard's document asset (PII_DOCUMENT_SHARDS, pii_assets/partitions.py).
    asset_keys: tuple[dg.AssetKey, ...] = field(
        default_factory=lambda: tuple(
            DocumentShards(DiscoverySettings.from_env().document_shards).asset_keys
        )
    )

    def update(self, instance: dg.DagsterInstance) -> None:
        """Add the events written since the last update (all of them the first time): the
        materializations, and the observations of failed and of unstarted documents."""
        for record in document_records(
            instance,
            "materializations",
            after_storage_id=self.materializations_after,
            asset_keys=self.asset_keys,
        ):
            self.materializations_after = record.storage_id
            event = record.asset_materialization
            if event is not None and record.partition_key:
                self._count(dict(event.metadata))
        for record in document_records(
            instance,
            "observations",
            after_storage_id=self.observations_after,
            asset_keys=self.asset_keys,
        ):
            self.observations_after = record.storage_id
            event = record.asset_observation
            status = _value(dict(event.metadata), "status") if event is not None else None
            if status == NOT_STARTED:
                self.not_started += 1
            elif event is not None and record.partition_key and status == "failed":
                self._count(dict(event.metadata))

    def _count(self, metadata: dict) -> None:
        status = str(_value(metadata, "status") or "unknown")
        self.by_status[status] += 1
        if status == "failed":
            self.failed_by_error_class[str(_value(metadata, "error_class") or "unknown")] += 1
        self.pages += int(_value(metadata, "pages") or 0)
        self.cost_usd += float(_value(metadata, "cost_usd") or 0.0)
        self.input_tokens += int(_value(metadata, "input_tokens") or 0)
        self.output_tokens += int(_value(metadata, "output_tokens") or 0)


@dataclass
class RunStats:
    """Run counts by job and status, and finished runs' durations by job."""

    finished: Counter[tuple[str, str]] = field(default_factory=Counter)
    in_progress: Counter[tuple[str, str]] = field(default_factory=Counter)
    durations: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def read(cls, instance: dg.DagsterInstance) -> RunStats:
        stats = cls()
        for job in (EXTRACT_JOB, PUBLISH_JOB):
            stats.durations[job] = []
            # By the job tag: every shard's extraction job tags its runs `extract_documents`.
            for record in instance.get_run_records(dg.RunsFilter(tags={JOB_TAG: job})):
                status = record.dagster_run.status
                if status in _FINISHED:
                    stats.finished[(job, status.value)] += 1
                    if record.start_time and record.end_time:
                        stats.durations[job].append(record.end_time - record.start_time)
                elif status in _IN_PROGRESS:
                    stats.in_progress[(job, status.value)] += 1
        return stats


def families(documents: DocumentCounters, runs: RunStats) -> list[Metric]:
    """The metric families; every family is present even when it has no samples yet."""
    processed = CounterMetricFamily(
        "pii_documents_processed",
        "Documents extracted (document_pii materializations), by status.",
        labels=["status"],
    )
    for status, n in sorted(documents.by_status.items()):
        processed.add_metric([status], n)
    failed = CounterMetricFamily(
        "pii_documents_failed",
        "Documents extracted with status failed, by error class.",
        labels=["error_class"],
    )
    for error_class, n in sorted(documents.failed_by_error_class.items()):
        failed.add_metric([error_class], n)
    tokens = CounterMetricFamily(
        "pii_llm_tokens",
        "LLM tokens recorded on extracted documents, by direction.",
        labels=["direction"],
    )
    tokens.add_metric(["input"], documents.input_tokens)
    tokens.add_metric(["output"], documents.output_tokens)
    finished = CounterMetricFamily(
        "pii_runs", "Finished runs, by job and status.", labels=["job", "status"]
    )
    for (job, status), n in sorted(runs.finished.items()):
        finished.add_metric([job, status], n)
    in_progress = GaugeMetricFamily(
        "pii_runs_in_progress",
        "Runs queued, starting, started or canceling, by job and status.",
        labels=["job", "status"],
    )
    for (job, status), n in sorted(runs.in_progress.items()):
        in_progress.add_metric([job, status], n)
    durations = HistogramMetricFamily(
        "pii_run_duration_seconds",
        "Wall time of finished runs (start to end), by job.",
        labels=["job"],
    )
    for job, values in sorted(runs.durations.items()):
        buckets = [(repr(b), sum(1 for d in values if d <= b)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(values)))
        durations.add_metric([job], buckets, sum(values))
    return [
        processed,
        failed,
        CounterMetricFamily(
            "pii_documents_not_started",
            "Documents a run budget left unstarted (requested again later).",
            value=documents.not_started,
        ),
        CounterMetricFamily(
            "pii_pages_processed", "Pages of the documents extracted.", value=documents.pages
        ),
        CounterMetricFamily(
            "pii_extraction_cost_usd",
            "LLM cost recorded on extracted documents, in USD.",
            value=round(documents.cost_usd, 6),
        ),
        tokens,
        finished,
        in_progress,
        durations,
    ]


class InstanceCollector(Collector):
    """A prometheus_client collector over one instance; document counters are kept between
    collections, so each reads only the events written since the previous one. Thread-safe."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self._documents = DocumentCounters()
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self._documents.update(self.instance)
            yield from families(self._documents, RunStats.read(self.instance))


def registry_for(instance: dg.DagsterInstance) -> CollectorRegistry:
    """A registry holding only the instance's metrics (no process metrics of this tool)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(InstanceCollector(instance))
    return registry


def exposition(registry: CollectorRegistry) -> str:
    """The registry's metrics in the Prometheus text format."""
    return generate_latest(registry).decode("utf-8")


def serve(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve `GET /metrics` on host:port from a background thread; returns the server (its
    `server_port` is the bound port; `shutdown()` stops it)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
