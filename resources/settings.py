"""Environment-driven configuration, read when the definitions are built (never at import).

Every numeric and enumerated setting is validated here, where it is read: a bad value raises
ValueError with a one-line message naming the variable (never a secret's value), so the CLI
stops before any run or publish and `dagster dev` does not load the code location.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import phonenumbers
from dagster import EnvVar

from pii_assets.notifications import DEFAULT_UI_URL, NotifyConfig
from pii_assets.partitions import MAX_SHARDS
from resources.documents import DocumentOptions
from resources.extractors import ExtractorResource, LocalExtractor
from resources.s3 import DocumentStore
from resources.store_env import (  # the variables' readers, shared with Dagster-free commands
    NAMED_BY_VARIABLE,
    _choice,
    _flag,
    _float,
    _int,
    store_values,
)

EXTRACTORS = ("local", "openai")


def env_or(name: str, default: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`EnvVar(name)` when the variable is set, else the default.

    Dagster shows an EnvVar by name, never by value, so secrets stay out of the UI.
    """
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    return EnvVar.int(name) if isinstance(default, int) else EnvVar(name)


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
        notify_settings(env)  # read by the notification sensors on each tick; checked here first
        return cls(
            extractor=extractor,
            # Upper bounds: a run's partition range and a tick's requests are rows and tags in
            # Dagster's storage; beyond these a typo would only fail later, inside a run.
            batch_size=_int(env, "PII_BATCH_SIZE", cls.batch_size, maximum=100_000),
            max_runs_per_tick=_int(
                env, "PII_MAX_RUNS_PER_TICK", cls.max_runs_per_tick, maximum=10_000
            ),
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


def build_store(environ: Mapping[str, str] | None = None) -> DocumentStore:
    """The S3 resource from `store_env.store_values` (validated values). The bucket, prefixes and
    the hash key stay `EnvVar`s when set, shown by name only."""
    env = os.environ if environ is None else environ
    values = store_values(env)
    for field, (name, _) in NAMED_BY_VARIABLE.items():
        if name in env:
            values[field] = EnvVar(name)
    if values["entity_hash_key"]:
        values["entity_hash_key"] = EnvVar("PII_ENTITY_HASH_KEY")
    return DocumentStore(**values)


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


def daily_budget_usd(environ: Mapping[str, str] | None = None) -> float | None:
    """PII_MAX_DAILY_BUDGET_USD: what all runs may spend per UTC day; unset or 0 means no limit."""
    return _float(os.environ if environ is None else environ, "PII_MAX_DAILY_BUDGET_USD") or None


def _url(environ: Mapping[str, str], name: str, default: str, *, secret: bool = False) -> str:
    """An http(s) URL; a secret one is never quoted in the error."""
    value = (environ.get(name) or default).strip()
    if value and not value.startswith(("https://", "http://")):
        shown = "" if secret else f", got {value!r}"
        raise ValueError(f"{name} must be an http:// or https:// URL{shown}")
    return value


def notify_settings(environ: Mapping[str, str] | None = None) -> NotifyConfig:
    """Notification channels and triggers (pii_assets/notifications.py), read on each sensor tick
    so the webhook URL, a secret, never enters the definitions:

    - PII_SLACK_WEBHOOK_URL: a Slack incoming webhook (secret; unset: no Slack);
    - PII_SNS_TOPIC_ARN: an SNS topic, `arn:<partition>:sns:<region>:<account>:<name>` (unset:
      no SNS);
    - PII_NOTIFY_FAILED_DOCUMENTS: notify a run with at least this many failed documents
      (default 1; 0: never);
    - PII_UI_URL: the Dagster UI the links point to (default http://127.0.0.1:3000).
    """
    env = os.environ if environ is None else environ
    arn = (env.get("PII_SNS_TOPIC_ARN") or "").strip()
    parts = arn.split(":")
    if arn and (len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3]):
        raise ValueError(
            f"PII_SNS_TOPIC_ARN must be an SNS topic ARN "
            f"(arn:aws:sns:<region>:<account>:<topic>), got {arn!r}"
        )
    return NotifyConfig(
        slack_webhook_url=_url(env, "PII_SLACK_WEBHOOK_URL", "", secret=True),
        sns_topic_arn=arn,
        failed_documents=_int(env, "PII_NOTIFY_FAILED_DOCUMENTS", 1, minimum=0),
        ui_url=_url(env, "PII_UI_URL", DEFAULT_UI_URL).rstrip("/"),
    )


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
        # SQS long polling waits at most 20 s (ReceiveMessage, WaitTimeSeconds).
        wait = _int(env, "PII_EVENTS_WAIT_S", cls.events_wait_s, minimum=0, maximum=20)
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
            state_url=_database_url(env, "PII_DISCOVERY_STATE_URL"),
            document_shards=_int(
                env, "PII_DOCUMENT_SHARDS", cls.document_shards, maximum=MAX_SHARDS
            ),
        )


def _database_url(environ: Mapping[str, str], name: str) -> str | None:
    """A SQLAlchemy database URL whose driver is installed, or None when unset. The error names
    the variable and the URL's scheme only (the URL can hold a password)."""
    raw = environ.get(name) or None
    if raw is None:
        return None
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(raw)
        url.get_dialect()
    except Exception:
        scheme = raw.split(":", 1)[0] if ":" in raw else "(none)"
        raise ValueError(
            f"{name} must be a SQLAlchemy database URL with an installed driver "
            f"(e.g. postgresql+psycopg2://… or sqlite:///…); its scheme is {scheme!r}"
        ) from None
    return raw
