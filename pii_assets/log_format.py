"""Structured logs for log collectors (CloudWatch Logs, Fluent Bit, Loki): `PII_LOG_FORMAT=json`.

One JSON object per line, always the same keys (`FIELDS`, null when a record has none), for
both the run logs (Dagster's `console` logger of every job is replaced) and the Python logs of the
processes that load the code location (the gRPC code server and its run workers). A line holds what
the record's message says (our messages carry counts, classes, statuses and object keys, never
extracted values, passwords or document text, see docs/security.md) and, for an exception, its type
only: a traceback can quote values, so none is written.

Example (one line, wrapped here):
    {"timestamp": "2026-01-02T03:04:05.678Z", "level": "INFO", "logger": "dagster",
     "message": "100/100 documents in 41.2s (ok=97, partial=1, failed=2, skipped=0)",
     "run_id": "4c1f…", "job_name": "extract_documents", "step_key": "document_pii",
     "event_type": null, "exc_type": null}
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import dagster as dg

LOG_FORMAT_VARIABLE = "PII_LOG_FORMAT"
FORMATS = ("text", "json")
FIELDS = (
    "timestamp",
    "level",
    "logger",
    "message",
    "run_id",
    "job_name",
    "step_key",
    "event_type",
    "exc_type",
)
# Where Dagster puts a run log record's context (dagster/_core/log_manager.py).
_DAGSTER_META = "dagster_meta"


def log_format(environ: dict[str, str] | None = None) -> str:
    """`text` (default) or `json`, from PII_LOG_FORMAT; raises ValueError naming the variable."""
    value = (environ if environ is not None else os.environ).get(LOG_FORMAT_VARIABLE, "text")
    value = value.strip().lower() or "text"
    if value not in FORMATS:
        raise ValueError(f"{LOG_FORMAT_VARIABLE} must be one of {', '.join(FORMATS)}")
    return value


class JsonLogFormatter(logging.Formatter):
    """A LogRecord as one JSON line with exactly the keys of `FIELDS`."""

    def format(self, record: logging.LogRecord) -> str:
        meta: dict[str, Any] = getattr(record, _DAGSTER_META, None) or {}
        event = meta.get("dagster_event")
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            # A Dagster record's own message, without the run/step prefix it is rendered with.
            "message": meta.get("orig_message") or record.getMessage(),
            "run_id": meta.get("run_id"),
            "job_name": meta.get("job_name"),
            "step_key": meta.get("step_key"),
            "event_type": event.event_type_value if event is not None else None,
            "exc_type": record.exc_info[0].__name__
            if record.exc_info and record.exc_info[0]
            else None,
        }
        return json.dumps(line, ensure_ascii=False, default=str)


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="DEBUG")},
    description="Run logs as one JSON object per line on stderr (PII_LOG_FORMAT=json).",
)
def json_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    level = init_context.logger_config["log_level"].upper()
    logger = logging.getLogger("pii_pipeline.run")
    logger.setLevel(level)
    logger.propagate = False
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logger.addHandler(handler)
    return logger


def run_loggers(environ: dict[str, str] | None = None) -> dict[str, dg.LoggerDefinition]:
    """The jobs' loggers: with PII_LOG_FORMAT=json, `console` (the one Dagster uses by default,
    and the one run config such as `pii-pipeline process`'s names) writes JSON lines."""
    return {"console": json_console_logger} if log_format(environ) == "json" else {}


LOG_LEVEL_VARIABLE = "PII_LOG_LEVEL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def run_log_level(environ: dict[str, str] | None = None) -> str:
    """PII_LOG_LEVEL: the run logs' level (default DEBUG, Dagster's own, which writes every
    event); raises ValueError naming the variable."""
    value = (environ if environ is not None else os.environ).get(LOG_LEVEL_VARIABLE, "")
    value = value.strip().upper() or "DEBUG"
    if value not in LEVELS:
        raise ValueError(f"{LOG_LEVEL_VARIABLE} must be one of {', '.join(LEVELS)}")
    return value


def default_run_config(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The jobs' default run config with PII_LOG_FORMAT=json or a PII_LOG_LEVEL other than DEBUG,
    else None. Dagster uses a job's own loggers only for runs whose run config names them; the
    `console` logger (Dagster's, or the JSON one) takes the level from PII_LOG_LEVEL."""
    level = run_log_level(environ)
    if log_format(environ) != "json" and level == "DEBUG":
        return None
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def configure_process_logging(environ: dict[str, str] | None = None) -> None:
    """With PII_LOG_FORMAT=json, the handlers of the process's `dagster` and root loggers write
    JSON lines (the code server's and run workers' own messages, after the code location loads;
    the code server's start-up line before it keeps Dagster's format). When neither logger has a
    handler, the root logger gets one on stderr. Does nothing for `text`."""
    if log_format(environ) != "json":
        return
    formatter = JsonLogFormatter()
    root, dagster_logger = logging.getLogger(), logging.getLogger("dagster")
    if not root.handlers and not dagster_logger.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for logger in (root, dagster_logger):
        for handler in logger.handlers:
            handler.setFormatter(formatter)
