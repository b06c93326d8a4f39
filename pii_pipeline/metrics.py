"""Operators' metrics in the Prometheus text exposition format, read from the Dagster instance.

`pii-pipeline metrics` prints them once; `pii-pipeline metrics --serve PORT` answers
`GET /metrics` for a Prometheus scraper (or the CloudWatch agent's Prometheus input). Both read
the instance at $DAGSTER_HOME, so they see every worker's runs, wherever they ran:

- document counters from the `document_pii` materializations' metadata (status, error class,
  pages, cost, tokens) and its `not_started` observations; the server reads only the events
  written since its previous scrape;
- run counts and durations from the run records of both jobs.

Counts, classes, USD and seconds only: never an object key, a value or a message.
Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg

from pii_assets.document_asset import NOT_STARTED
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB, PUBLISH_JOB

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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

    def update(self, instance: dg.DagsterInstance) -> None:
        """Add the events written since the last update (all of them the first time)."""
        for record in document_records(
            instance, "materializations", after_storage_id=self.materializations_after
        ):
            self.materializations_after = record.storage_id
            event = record.asset_materialization
            if event is None or not record.partition_key:
                continue
            metadata = dict(event.metadata)
            status = str(_value(metadata, "status") or "unknown")
            self.by_status[status] += 1
            if status == "failed":
                self.failed_by_error_class[str(_value(metadata, "error_class") or "unknown")] += 1
            self.pages += int(_value(metadata, "pages") or 0)
            self.cost_usd += float(_value(metadata, "cost_usd") or 0.0)
            self.input_tokens += int(_value(metadata, "input_tokens") or 0)
            self.output_tokens += int(_value(metadata, "output_tokens") or 0)
        for record in document_records(
            instance, "observations", after_storage_id=self.observations_after
        ):
            self.observations_after = record.storage_id
            event = record.asset_observation
            if event is not None and _value(dict(event.metadata), "status") == NOT_STARTED:
                self.not_started += 1


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
            for record in instance.get_run_records(dg.RunsFilter(job_name=job)):
                status = record.dagster_run.status
                if status in _FINISHED:
                    stats.finished[(job, status.value)] += 1
                    if record.start_time and record.end_time:
                        stats.durations[job].append(record.end_time - record.start_time)
                elif status in _IN_PROGRESS:
                    stats.in_progress[(job, status.value)] += 1
        return stats


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def render(documents: DocumentCounters, runs: RunStats) -> str:
    """The Prometheus text format of both, every family present even when it has no samples."""
    lines: list[str] = []
    lines += _family(
        "pii_documents_processed_total",
        "counter",
        "Documents extracted (document_pii materializations), by status.",
        (
            f'pii_documents_processed_total{{status="{_label(s)}"}} {n}'
            for s, n in sorted(documents.by_status.items())
        ),
    )
    lines += _family(
        "pii_documents_failed_total",
        "counter",
        "Documents extracted with status failed, by error class.",
        (
            f'pii_documents_failed_total{{error_class="{_label(c)}"}} {n}'
            for c, n in sorted(documents.failed_by_error_class.items())
        ),
    )
    lines += _family(
        "pii_documents_not_started_total",
        "counter",
        "Documents a run budget left unstarted (requested again later).",
        [f"pii_documents_not_started_total {documents.not_started}"],
    )
    lines += _family(
        "pii_pages_processed_total",
        "counter",
        "Pages of the documents extracted.",
        [f"pii_pages_processed_total {documents.pages}"],
    )
    lines += _family(
        "pii_extraction_cost_usd_total",
        "counter",
        "LLM cost recorded on extracted documents, in USD.",
        [f"pii_extraction_cost_usd_total {_number(round(documents.cost_usd, 6))}"],
    )
    lines += _family(
        "pii_llm_tokens_total",
        "counter",
        "LLM tokens recorded on extracted documents, by direction.",
        [
            f'pii_llm_tokens_total{{direction="input"}} {documents.input_tokens}',
            f'pii_llm_tokens_total{{direction="output"}} {documents.output_tokens}',
        ],
    )
    lines += _family(
        "pii_runs_total",
        "counter",
        "Finished runs, by job and status.",
        (
            f'pii_runs_total{{job="{job}",status="{status}"}} {n}'
            for (job, status), n in sorted(runs.finished.items())
        ),
    )
    lines += _family(
        "pii_runs_in_progress",
        "gauge",
        "Runs queued, starting, started or canceling, by job and status.",
        (
            f'pii_runs_in_progress{{job="{job}",status="{status}"}} {n}'
            for (job, status), n in sorted(runs.in_progress.items())
        ),
    )
    samples: list[str] = []
    for job, durations in sorted(runs.durations.items()):
        for bound in DURATION_BUCKETS:
            count = sum(1 for d in durations if d <= bound)
            samples.append(
                f'pii_run_duration_seconds_bucket{{job="{job}",le="{_number(bound)}"}} {count}'
            )
        samples.append(f'pii_run_duration_seconds_bucket{{job="{job}",le="+Inf"}} {len(durations)}')
        samples.append(
            f'pii_run_duration_seconds_sum{{job="{job}"}} {_number(round(sum(durations), 3))}'
        )
        samples.append(f'pii_run_duration_seconds_count{{job="{job}"}} {len(durations)}')
    lines += _family(
        "pii_run_duration_seconds",
        "histogram",
        "Wall time of finished runs (start to end), by job.",
        samples,
    )
    return "\n".join(lines) + "\n"


class MetricsSource:
    """Renders the metrics of one instance; document counters are kept between calls, so each
    call reads only the events written since the previous one. Thread-safe."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self._documents = DocumentCounters()
        self._lock = threading.Lock()

    def render(self) -> str:
        with self._lock:
            self._documents.update(self.instance)
            return render(self._documents, RunStats.read(self.instance))


def serve(source: MetricsSource, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering `GET /metrics` (404 elsewhere); call `serve_forever()` on it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = source.render().encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's
            pass  # one line per scrape would drown the logs

    return ThreadingHTTPServer((host, port), Handler)
