"""The launch form: `process_documents`, a job started from the Dagster UI's Launchpad with typed
run config, discovers and extracts like `pii-pipeline process` (the same code path, runner.process:
batches run as `extract_documents` runs of their own, then a dataset version is published).

The same settings are `pii-pipeline process` flags (`launch_environ` maps both onto the
environment variables, which stay the defaults). Passwords are given as the *names* of environment
variables (or of secrets the deployment exposes as environment variables), never as values: the
run config is stored and shown by Dagster, so a value typed there is refused, and no message ever
repeats what was typed.

One Dagster instance holds the partitions of one bucket and input prefix (a partition key is an
object key relative to that prefix), so the form's bucket and prefix must be the deployment's;
another bucket is processed by a deployment of its own (PII_S3_BUCKET, PII_INPUT_PREFIX).
"""

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import dagster as dg
from pydantic import Field

from pii_assets.jobs import JOB_TAG
from resources.documents import DocumentOptions
from resources.s3 import DocumentStore

LAUNCH_JOB = "process_documents"
LAUNCH_OP = "discover_and_extract"
# POSIX names of environment variables ("Shell and Utilities", 8.1): letters, digits, underscore.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LaunchConfig(dg.Config):
    """What the original design's Start button took; defaults come from the environment."""

    bucket: str = Field(description="S3 bucket: must be this deployment's (PII_S3_BUCKET).")
    input_prefix: str = Field(
        description="Where documents are discovered: this deployment's PII_INPUT_PREFIX."
    )
    password_env_vars: list[str] = Field(
        default=[],
        description="NAMES of environment variables (or secrets exposed as such) holding document "
        "passwords, tried in order; never the passwords themselves. Empty: PII_DOCUMENT_PASSWORDS.",
    )
    extractor: Literal["local", "openai"] = Field(
        default="local", description="local (offline recognizers) or openai (vision LLM)."
    )
    model: str = Field(
        default="", description="LLM model for the openai extractor; empty: OPENAI_MODEL."
    )
    run_budget_usd: float = Field(
        default=0.0,
        description="USD one extraction run (a batch) may spend with the LLM extractor; 0: "
        "PII_MAX_BUDGET_USD (unset: no limit).",
    )
    batch_size: int = Field(default=100, description="Documents per extraction run.")
    publish: bool = Field(default=True, description="Publish a dataset version afterwards.")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    # A malformed value is reported by the settings' own validation (resources/settings.py).
    try:
        return float(env.get(name) or default)
    except ValueError:
        return default


def launch_defaults(environ: Mapping[str, str] | None = None) -> LaunchConfig:
    """The form's initial values: the environment's settings (never a password)."""
    env = os.environ if environ is None else environ
    return LaunchConfig(
        bucket=env.get("PII_S3_BUCKET") or "pii-documents",
        input_prefix=env.get("PII_INPUT_PREFIX", "documents/"),
        password_env_vars=["PII_DOCUMENT_PASSWORDS"] if env.get("PII_DOCUMENT_PASSWORDS") else [],
        extractor="openai" if env.get("PII_EXTRACTOR") == "openai" else "local",
        model=env.get("OPENAI_MODEL", ""),
        run_budget_usd=_number(env, "PII_MAX_BUDGET_USD", 0.0),
        batch_size=int(_number(env, "PII_BATCH_SIZE", 100)),
    )


def passwords_from(names: list[str], environ: Mapping[str, str]) -> list[str]:
    """The passwords the named variables hold, in order. Raises ValueError naming the entry by
    its position only: an entry that is not a set variable's name may be a password."""
    passwords: list[str] = []
    for index, name in enumerate(names):
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(
                f"password_env_vars[{index}] is not an environment variable name (letters, digits "
                "and _): give the NAME of the variable holding the password, never the password"
            )
        if name not in environ:
            raise ValueError(
                f"password_env_vars[{index}] names no environment variable set for this process"
            )
        passwords.extend(part for part in environ[name].split(",") if part)
    return passwords


def launch_environ(config: LaunchConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that carry `config` (passwords resolved from the variables it
    names), for the settings builders in resources/settings.py. Raises ValueError (see
    `passwords_from`, and out-of-range numbers)."""
    if config.batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {config.batch_size}")
    if config.run_budget_usd < 0:
        raise ValueError(f"run_budget_usd must be at least 0, got {config.run_budget_usd:g}")
    overrides = {
        "PII_S3_BUCKET": config.bucket,
        "PII_INPUT_PREFIX": config.input_prefix,
        "PII_EXTRACTOR": config.extractor,
        "PII_BATCH_SIZE": str(config.batch_size),
    }
    if config.model:
        overrides["OPENAI_MODEL"] = config.model
    if config.run_budget_usd:
        overrides["PII_MAX_BUDGET_USD"] = repr(config.run_budget_usd)
    if config.password_env_vars:
        overrides["PII_DOCUMENT_PASSWORDS"] = ",".join(
            passwords_from(config.password_env_vars, environ)
        )
    return overrides


@dg.op(
    name=LAUNCH_OP,
    description="Discover new and changed objects, extract them in batched runs, publish.",
)
def discover_and_extract(
    context: dg.OpExecutionContext,
    config: LaunchConfig,
    store: DocumentStore,
    documents: DocumentOptions,
) -> dg.Output[None]:
    # Imported here: the runner imports the definitions' sensors, and only a launch needs it.
    from pii_assets.definitions import build_definitions
    from pii_pipeline.runner import process
    from resources.settings import PipelineSettings, build_extractor

    if (config.bucket, config.input_prefix) != (store.bucket, store.input_prefix):
        raise dg.Failure(
            description="bucket and input_prefix must be this deployment's "
            f"(s3://{store.bucket}/{store.input_prefix}): one Dagster instance holds the "
            "partitions of one prefix; process another one with a deployment of its own"
        )
    try:
        environ = {**os.environ, **launch_environ(config, os.environ)}
        settings = replace(
            PipelineSettings.from_env(environ),
            extractor=config.extractor,
            batch_size=config.batch_size,
        )
        extractor = build_extractor(config.extractor, environ)
    except ValueError as exc:
        # Our messages name settings and positions, never what was typed for a password.
        raise dg.Failure(description=str(exc)) from None
    if config.password_env_vars:
        # A new resource (not a copy): Dagster configures a resource from its constructor's values.
        fields = {name: getattr(documents, name) for name in DocumentOptions.model_fields}
        documents = DocumentOptions(**{**fields, "passwords": environ["PII_DOCUMENT_PASSWORDS"]})
    defs = build_definitions(
        settings, resources={"store": store, "documents": documents, "extractor": extractor}
    )
    report = process(
        defs,
        context.instance,
        batch_size=settings.batch_size,
        max_runs=settings.max_runs_per_tick,
        publish=config.publish,
    )
    summary = {
        "extraction_runs": report.runs,
        "failed_runs": dg.MetadataValue.json(report.failed_runs),
        "documents_requested": report.documents_requested,
        "new_partitions": report.new_partitions,
        "dataset_version": report.dataset_version or "",
        "publish_status": report.publish_status or "",
    }
    context.log.info(
        f"{report.documents_requested} documents in {report.runs} extraction runs "
        f"({len(report.failed_runs)} failed); dataset {report.publish_status or 'not published'}"
        f" {report.dataset_version or ''}".rstrip()
    )
    if not report.ok:
        raise dg.Failure(
            description=f"{len(report.failed_runs)} extraction runs failed"
            + (", publishing failed" if report.publish_failed else ""),
            metadata=summary,
        )
    return dg.Output(None, metadata=summary)


def build_launch_job(
    run_config: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> dg.JobDefinition:
    """The Launchpad's job; its default run config is the environment's settings, so the form
    opens filled in (`run_config`: other default run config, e.g. the log format's loggers)."""

    @dg.job(
        name=LAUNCH_JOB,
        description="Start button: discover, extract in batches and publish, with the settings "
        "of the form (defaults: the environment).",
        tags={JOB_TAG: LAUNCH_JOB},
        config={
            **(run_config or {}),
            "ops": {LAUNCH_OP: {"config": launch_defaults(environ).model_dump()}},
        },
    )
    def process_documents() -> None:
        discover_and_extract()

    return process_documents
