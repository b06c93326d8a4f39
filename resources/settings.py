"""Environment-driven configuration, read when the definitions are built (never at import).

Every numeric and enumerated setting is validated here, where it is read: a bad value raises
ValueError with a one-line message naming the variable (never a secret's value), so the CLI
stops before any run or publish and `dagster dev` does not load the code location.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import phonenumbers
from dagster import EnvVar

from pii_assets.bucket import SSE_ALGORITHMS
from pii_assets.value_policy import MIN_HASH_KEY_BYTES, VALUE_POLICIES
from resources.documents import DocumentOptions
from resources.extractors import ExtractorResource, LocalExtractor
from resources.s3 import RETRY_MODES, DocumentStore

EXTRACTORS = ("local", "openai")


def env_or(name: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`EnvVar(name)` when the variable is set, else the default.

    Dagster shows an EnvVar by name, never by value, so secrets stay out of the UI.
    """
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    return EnvVar.int(name) if isinstance(default, int) else EnvVar(name)


def _int(
    environ: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 1,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
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
    # Seconds `pii-pipeline process` waits for a slot of a full pool (e.g. `dagster instance
    # concurrency set pii_extraction 1`) before it leaves the remaining batches for later.
    pool_wait_s: int = 600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        extractor = _choice(env, "PII_EXTRACTOR", "local", EXTRACTORS)
        cron = env.get("PII_SCHEDULE_CRON", cls.schedule_cron) or cls.schedule_cron
        timezone = env.get("PII_SCHEDULE_TIMEZONE", cls.schedule_timezone) or "UTC"
        _check_schedule(cron, timezone)
        daily_budget_usd(env)  # read by the discovery sensor on each tick; checked here first
        return cls(
            extractor=extractor,
            batch_size=_int(env, "PII_BATCH_SIZE", cls.batch_size),
            max_runs_per_tick=_int(env, "PII_MAX_RUNS_PER_TICK", cls.max_runs_per_tick),
            discovery_interval_s=_int(env, "PII_DISCOVERY_INTERVAL_S", cls.discovery_interval_s),
            publish_min_interval_s=_int(
                env, "PII_PUBLISH_MIN_INTERVAL_S", cls.publish_min_interval_s, minimum=0
            ),
            schedule_cron=cron,
            schedule_timezone=timezone,
            pool_wait_s=_int(env, "PII_POOL_WAIT_S", cls.pool_wait_s, minimum=0, maximum=86_400),
        )


def _check_schedule(cron: str, timezone: str) -> None:
    """Dagster's own checks of a schedule (5-field cron, IANA time zone), as one-line errors."""
    try:
        dg.ScheduleDefinition(
            name="settings_check",
            job_name="settings_check",
            execution_timezone=timezone,
            cron_schedule="0 0 * * *",
        )
    except dg.DagsterInvalidDefinitionError:
        raise ValueError(
            f"PII_SCHEDULE_TIMEZONE must be an IANA time zone, got {timezone!r}"
        ) from None
    try:
        dg.ScheduleDefinition(name="settings_check", job_name="settings_check", cron_schedule=cron)
    except dg.DagsterInvalidDefinitionError:
        raise ValueError(
            f"PII_SCHEDULE_CRON must be a 5-field cron expression, got {cron!r}"
        ) from None


def _prefix(env: Mapping[str, str], name: str, default: str) -> str | EnvVar:
    """A key prefix: empty (the whole bucket) or ending in "/", so that `documents/` never also
    matches `documents-old/`."""
    value = env.get(name, default)
    if value and not value.endswith("/"):
        raise ValueError(
            f"{name} must end with / (or be empty for the whole bucket), got {value!r}"
        )
    return env_or(name, default, env)


def build_store(environ: Mapping[str, str] | None = None) -> DocumentStore:
    """The S3 resource. Numbers and choices are validated values; the bucket, prefixes and the
    hash key stay `EnvVar`s when set, shown by name only."""
    env = os.environ if environ is None else environ
    sse = _choice(env, "PII_OUTPUT_SSE", "", ("", *SSE_ALGORITHMS))
    kms_key_id = env.get("PII_OUTPUT_KMS_KEY_ID", "").strip()
    if kms_key_id and sse != "aws:kms":
        raise ValueError("PII_OUTPUT_KMS_KEY_ID needs PII_OUTPUT_SSE=aws:kms")
    entity_values = _choice(env, "PII_ENTITY_VALUES", "raw", VALUE_POLICIES)
    hash_key = env.get("PII_ENTITY_HASH_KEY", "")
    if entity_values == "hashed" and len(hash_key.encode("utf-8")) < MIN_HASH_KEY_BYTES:
        raise ValueError(
            f"PII_ENTITY_VALUES=hashed needs PII_ENTITY_HASH_KEY of at least "
            f"{MIN_HASH_KEY_BYTES} bytes (e.g. 64 hex digits from a secrets manager)"
        )
    return DocumentStore(
        bucket=env_or("PII_S3_BUCKET", "pii-documents", env),
        input_prefix=_prefix(env, "PII_INPUT_PREFIX", "documents/"),
        output_prefix=_prefix(env, "PII_OUTPUT_PREFIX", "labeled-datasets/"),
        processed_prefix=_prefix(env, "PII_PROCESSED_PREFIX", "processed/"),
        results_prefix=_prefix(env, "PII_RESULTS_PREFIX", "extracted/"),
        retention_days=_int(env, "PII_DATASET_RETENTION_DAYS", 0, minimum=0),
        retry_mode=_choice(env, "PII_S3_RETRY_MODE", "standard", RETRY_MODES),
        max_attempts=_int(env, "PII_S3_MAX_ATTEMPTS", 5, minimum=1, maximum=20),
        connect_timeout_s=_float(env, "PII_S3_CONNECT_TIMEOUT_S", positive=True) or 10.0,
        read_timeout_s=_float(env, "PII_S3_READ_TIMEOUT_S", positive=True) or 60.0,
        output_sse=sse,
        output_kms_key_id=kms_key_id,
        entity_values=entity_values,
        entity_hash_key=EnvVar("PII_ENTITY_HASH_KEY") if hash_key else "",
        require_private_output=_flag(env, "PII_REQUIRE_PRIVATE_OUTPUT", False),
    )


def build_document_options(environ: Mapping[str, str] | None = None) -> DocumentOptions:
    """Passwords (an `EnvVar`, shown by name only) and limits (validated values)."""
    env = os.environ if environ is None else environ
    return DocumentOptions(
        passwords=env_or("PII_DOCUMENT_PASSWORDS", "", env),
        max_file_mb=_int(env, "PII_MAX_FILE_MB", 50),
        max_pages=_int(env, "PII_MAX_PAGES", 500),
        max_image_megapixels=_int(env, "PII_MAX_IMAGE_MEGAPIXELS", 100),
        conversion_timeout_s=_int(env, "PII_CONVERSION_TIMEOUT_S", 120),
        ocr_timeout_s=_int(env, "PII_OCR_TIMEOUT_S", 120, minimum=0),
        # A day at most: a larger value is a unit mistake (milliseconds), not a wish.
        document_timeout_s=_int(env, "PII_DOCUMENT_TIMEOUT_S", 300, minimum=0, maximum=86_400),
        detect_orientation=_flag(env, "PII_OCR_DETECT_ORIENTATION", True),
    )


def _float(environ: Mapping[str, str], name: str, *, positive: bool = False) -> float | None:
    """A finite number; at least 0, or above 0 when `positive`. None when unset or empty."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'above' if positive else 'at least'} 0, got {value:g}")
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name) or default
    if value not in choices:
        shown = ", ".join(choice or "(empty)" for choice in choices)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
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


def ner_backend(environ: Mapping[str, str] | None = None) -> str:
    """PII_NER_BACKEND ("spacy:<pipeline>" or "gliner:<model>"; unset: none), checked now so a
    missing package or model is one clear line when the definitions load, not a failed run. A
    plain value, not an EnvVar: it is part of the extractor's identity, hence the code version.
    Raises ValueError (malformed) or `recognition.ner.NerUnavailable` (not installed)."""
    from pii_assets.recognition import ner

    env = os.environ if environ is None else environ
    spec = (env.get("PII_NER_BACKEND") or "").strip()
    if spec:
        ner.check(spec)
    return spec


def build_extractor(kind: str, environ: Mapping[str, str] | None = None) -> ExtractorResource:
    if kind == "local":
        env = os.environ if environ is None else environ
        # Unset: each page's language chooses the region (recognition/language.py).
        region = env.get("PII_PHONE_REGION", "").strip()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"PII_PHONE_REGION must be a region code libphonenumber knows (e.g. US, GB, DE), "
                f"got {region!r}"
            )
        return LocalExtractor(
            default_region=region,
            concurrency=_int(env, "PII_LOCAL_CONCURRENCY", 0, minimum=0),
            ner_backend=ner_backend(env),
        )
    if kind == "openai":
        return build_openai_extractor(environ)
    raise ValueError(f"PII_EXTRACTOR must be one of {', '.join(EXTRACTORS)}, got {kind!r}")
