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
        keep_versions=env_or("PII_KEEP_VERSIONS", 0, environ),
    )


def build_document_options(environ: Mapping[str, str] | None = None) -> DocumentOptions:
    return DocumentOptions(
        passwords=env_or("PII_DOCUMENT_PASSWORDS", "", environ),
        max_file_mb=env_or("PII_MAX_FILE_MB", 50, environ),
        max_pages=env_or("PII_MAX_PAGES", 500, environ),
        max_image_megapixels=env_or("PII_MAX_IMAGE_MEGAPIXELS", 100, environ),
        conversion_timeout_s=env_or("PII_CONVERSION_TIMEOUT_S", 120, environ),
        ocr_timeout_s=env_or("PII_OCR_TIMEOUT_S", 120, environ),
        detect_orientation=_flag(environ, "PII_OCR_DETECT_ORIENTATION", True),
    )


def _float(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name) or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _flag(environ: Mapping[str, str] | None, name: str, default: bool) -> bool:
    """A true/false variable (unset: the default)."""
    env = os.environ if environ is None else environ
    return _choice(env, name, "true" if default else "false", ("true", "false")) == "true"


def daily_budget_usd(environ: Mapping[str, str] | None = None) -> float | None:
    """PII_MAX_DAILY_BUDGET_USD: what all runs may spend per UTC day; unset or 0 means no limit."""
    return _float(os.environ if environ is None else environ, "PII_MAX_DAILY_BUDGET_USD") or None


def build_openai_extractor(environ: Mapping[str, str] | None = None) -> ExtractorResource:
    """The vision-LLM extractor. Model and input mode are plain values (they are part of the code
    version); the API key and endpoint are `EnvVar`s, shown by name only."""
    from resources.openai_extractor import OpenAIExtractor  # imports the openai client

    env = os.environ if environ is None else environ
    prices = {
        field: _float(env, name)
        for field, name in (
            ("input_usd_per_m", "PII_LLM_PRICE_INPUT"),
            ("cached_input_usd_per_m", "PII_LLM_PRICE_CACHED_INPUT"),
            ("output_usd_per_m", "PII_LLM_PRICE_OUTPUT"),
        )
    }
    timeout = _float(env, "PII_LLM_TIMEOUT_S")
    return OpenAIExtractor(
        api_key=EnvVar("OPENAI_API_KEY"),
        base_url=env_or("OPENAI_BASE_URL", "", env),
        model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
        input_mode=_choice(env, "PII_LLM_INPUT", "auto", ("auto", "image", "text")),
        ocr_as_text=_flag(env, "PII_LLM_OCR_AS_TEXT", True),
        image_detail=_choice(env, "PII_LLM_IMAGE_DETAIL", "auto", ("low", "high", "auto")),
        max_image_side=_int(env, "PII_LLM_MAX_IMAGE_SIDE", 1024, minimum=256),
        concurrency=_int(env, "PII_LLM_CONCURRENCY", 8),
        max_retries=_int(env, "PII_LLM_MAX_RETRIES", 4, minimum=0),
        timeout_s=timeout or 60.0,
        max_budget_usd=_float(env, "PII_MAX_BUDGET_USD") or 0.0,
        **{field: value for field, value in prices.items() if value is not None},
    )


def build_extractor(kind: str, environ: Mapping[str, str] | None = None) -> ExtractorResource:
    if kind == "local":
        env = os.environ if environ is None else environ
        return LocalExtractor(
            default_region=env_or("PII_PHONE_REGION", "US", env),
            concurrency=_int(env, "PII_LOCAL_CONCURRENCY", 0, minimum=0),
        )
    if kind == "openai":
        return build_openai_extractor(environ)
    raise ValueError(f"PII_EXTRACTOR must be one of {', '.join(EXTRACTORS)}, got {kind!r}")


DISCOVERY_MODES = ("listing", "events")


@dataclass(frozen=True)
class DiscoverySettings:
    """How discovery finds objects (see sensors/discovery.py and the README's "Discovery").

    `mode` "listing" lists the input prefix, a few pages per tick, continuously; "events" reads
    S3 Event Notifications from the SQS queue `queue_url` and lists the prefix once every
    `reconcile_interval_s` to catch missed events. `retry_*`: transient failures are requested
    again after `retry_base_s` × 2^(n-1) seconds, at most `retry_max_attempts` times.
    """

    mode: str = "listing"
    queue_url: str | None = None
    max_events_per_tick: int = 10_000
    events_wait_s: int = 5
    reconcile_interval_s: int = 86_400
    tick_budget_s: int = 20
    retry_max_attempts: int = 5
    retry_base_s: int = 60
    state_url: str | None = None
    document_shards: int = 1  # dynamically partitioned document assets (pii_assets/partitions.py)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DiscoverySettings:
        env = os.environ if environ is None else environ
        mode = _choice(env, "PII_DISCOVERY_MODE", "listing", DISCOVERY_MODES)
        queue_url = env.get("PII_EVENTS_QUEUE_URL") or None
        if mode == "events" and not queue_url:
            raise ValueError("PII_DISCOVERY_MODE=events needs PII_EVENTS_QUEUE_URL")
        wait = _int(env, "PII_EVENTS_WAIT_S", cls.events_wait_s, minimum=0)
        if wait > 20:
            raise ValueError(f"PII_EVENTS_WAIT_S must be at most 20 (SQS long polling), got {wait}")
        return cls(
            mode=mode,
            queue_url=queue_url,
            max_events_per_tick=_int(env, "PII_EVENTS_MAX_PER_TICK", cls.max_events_per_tick),
            events_wait_s=wait,
            reconcile_interval_s=_int(
                env, "PII_RECONCILE_INTERVAL_S", cls.reconcile_interval_s, minimum=0
            ),
            tick_budget_s=_int(env, "PII_DISCOVERY_TICK_BUDGET_S", cls.tick_budget_s),
            retry_max_attempts=_int(env, "PII_RETRY_MAX_ATTEMPTS", cls.retry_max_attempts),
            retry_base_s=_int(env, "PII_RETRY_BASE_S", cls.retry_base_s),
            state_url=env.get("PII_DISCOVERY_STATE_URL") or None,
            document_shards=_int(env, "PII_DOCUMENT_SHARDS", cls.document_shards),
        )
