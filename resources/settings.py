"""Environment-driven configuration, read when the definitions are built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import EnvVar

from resources.documents import DocumentOptions
from resources.extractors import ExtractorResource, LocalExtractor
from resources.s3 import DocumentStore

EXTRACTORS = ("local", "openai")


def env_or(name: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`EnvVar(name)` when the variable is set, else the default.

    Dagster shows an EnvVar by name, never by value, so secrets stay out of the UI.
    """
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    return EnvVar.int(name) if isinstance(default, int) else EnvVar(name)


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class PipelineSettings:
    """Settings that shape the definitions themselves (intervals, batch sizes, extractor)."""

    extractor: str = "local"
    batch_size: int = 100
    max_runs_per_tick: int = 20
    discovery_interval_s: int = 30
    publish_min_interval_s: int = 300
    schedule_cron: str = "0 2 * * *"
    schedule_timezone: str = "UTC"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        extractor = env.get("PII_EXTRACTOR", "local") or "local"
        if extractor not in EXTRACTORS:
            raise ValueError(f"PII_EXTRACTOR must be one of {', '.join(EXTRACTORS)}")
        return cls(
            extractor=extractor,
            batch_size=_int(env, "PII_BATCH_SIZE", cls.batch_size),
            max_runs_per_tick=_int(env, "PII_MAX_RUNS_PER_TICK", cls.max_runs_per_tick),
            discovery_interval_s=_int(env, "PII_DISCOVERY_INTERVAL_S", cls.discovery_interval_s),
            publish_min_interval_s=_int(
                env, "PII_PUBLISH_MIN_INTERVAL_S", cls.publish_min_interval_s, minimum=0
            ),
            schedule_cron=env.get("PII_SCHEDULE_CRON", cls.schedule_cron) or cls.schedule_cron,
            schedule_timezone=env.get("PII_SCHEDULE_TIMEZONE", cls.schedule_timezone) or "UTC",
        )


def build_store(environ: Mapping[str, str] | None = None) -> DocumentStore:
    return DocumentStore(
        bucket=env_or("PII_S3_BUCKET", "pii-documents", environ),
        input_prefix=env_or("PII_INPUT_PREFIX", "documents/", environ),
        output_prefix=env_or("PII_OUTPUT_PREFIX", "labeled-datasets/", environ),
        processed_prefix=env_or("PII_PROCESSED_PREFIX", "processed/", environ),
        results_prefix=env_or("PII_RESULTS_PREFIX", "extracted/", environ),
    )


def build_document_options(environ: Mapping[str, str] | None = None) -> DocumentOptions:
    return DocumentOptions(
        passwords=env_or("PII_DOCUMENT_PASSWORDS", "", environ),
        max_file_mb=env_or("PII_MAX_FILE_MB", 50, environ),
        max_pages=env_or("PII_MAX_PAGES", 500, environ),
    )


def build_extractor(kind: str) -> ExtractorResource:
    if kind == "local":
        return LocalExtractor(default_region=env_or("PII_PHONE_REGION", "US"))
    raise ValueError(
        f"PII_EXTRACTOR={kind!r} is not available in this version; use PII_EXTRACTOR=local"
    )
