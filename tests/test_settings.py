"""Settings are validated where they are read: a bad value is one line naming the variable,
before any run or publish (the real CLI, and Dagster loading the code location)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pii_assets.dataset import latest_version
from resources.s3 import DocumentStore
from resources.settings import (
    PipelineSettings,
    build_document_options,
    build_extractor,
    build_store,
)
from tests.test_s3_errors import put

ROOT = Path(__file__).resolve().parents[1]
HASH_KEY = "k" * 40  # an invented key: long enough, and easy to spot if it leaked


def _error(build, environ: dict[str, str]) -> str:
    with pytest.raises(ValueError) as caught:
        build(environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PII_MAX_FILE_MB", "-1", "PII_MAX_FILE_MB must be at least 1, got -1"),
        ("PII_MAX_FILE_MB", "big", "PII_MAX_FILE_MB must be an integer, got 'big'"),
        ("PII_MAX_PAGES", "0", "PII_MAX_PAGES must be at least 1, got 0"),
        ("PII_MAX_IMAGE_MEGAPIXELS", "0", "PII_MAX_IMAGE_MEGAPIXELS must be at least 1"),
        ("PII_CONVERSION_TIMEOUT_S", "0", "PII_CONVERSION_TIMEOUT_S must be at least 1"),
        ("PII_OCR_TIMEOUT_S", "-5", "PII_OCR_TIMEOUT_S must be at least 0, got -5"),
        ("PII_OCR_DETECT_ORIENTATION", "maybe", "PII_OCR_DETECT_ORIENTATION must be one of"),
    ],
)
def test_document_settings(name: str, value: str, expected: str) -> None:
    assert expected in _error(build_document_options, {name: value})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"PII_DATASET_RETENTION_DAYS": "-1"},
            "PII_DATASET_RETENTION_DAYS must be at least 0, got -1",
        ),
        ({"PII_S3_RETRY_MODE": "legacy"}, "PII_S3_RETRY_MODE must be one of standard, adaptive"),
        ({"PII_S3_MAX_ATTEMPTS": "0"}, "PII_S3_MAX_ATTEMPTS must be at least 1, got 0"),
        ({"PII_S3_MAX_ATTEMPTS": "100"}, "PII_S3_MAX_ATTEMPTS must be at most 20, got 100"),
        ({"PII_S3_READ_TIMEOUT_S": "0"}, "PII_S3_READ_TIMEOUT_S must be above 0, got 0"),
        ({"PII_S3_CONNECT_TIMEOUT_S": "nan"}, "PII_S3_CONNECT_TIMEOUT_S must be a finite"),
        ({"PII_INPUT_PREFIX": "documents"}, "PII_INPUT_PREFIX must end with /"),
        ({"PII_OUTPUT_SSE": "aes"}, "PII_OUTPUT_SSE must be one of (empty), AES256, aws:kms"),
        (
            {"PII_OUTPUT_SSE": "AES256", "PII_OUTPUT_KMS_KEY_ID": "alias/pii"},
            "PII_OUTPUT_KMS_KEY_ID needs PII_OUTPUT_SSE=aws:kms",
        ),
        ({"PII_ENTITY_VALUES": "secret"}, "PII_ENTITY_VALUES must be one of raw, masked"),
        ({"PII_ENTITY_VALUES": "hashed"}, "needs PII_ENTITY_HASH_KEY of at least 32 bytes"),
        (
            {"PII_ENTITY_VALUES": "hashed", "PII_ENTITY_HASH_KEY": "short-key"},
            "needs PII_ENTITY_HASH_KEY of at least 32 bytes",
        ),
        ({"PII_REQUIRE_PRIVATE_OUTPUT": "yes"}, "PII_REQUIRE_PRIVATE_OUTPUT must be one of"),
    ],
)
def test_store_settings(environ: dict[str, str], expected: str) -> None:
    message = _error(build_store, environ)
    assert expected in message
    assert "short-key" not in message  # a key is never shown


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PII_EXTRACTOR": "gpt"}, "PII_EXTRACTOR must be one of local, openai, got 'gpt'"),
        ({"PII_BATCH_SIZE": "0"}, "PII_BATCH_SIZE must be at least 1, got 0"),
        ({"PII_BATCH_SIZE": "9" * 20}, "PII_BATCH_SIZE must be at most 100000"),
        ({"PII_MAX_RUNS_PER_TICK": "x"}, "PII_MAX_RUNS_PER_TICK must be an integer"),
        ({"PII_DISCOVERY_INTERVAL_S": "-3"}, "PII_DISCOVERY_INTERVAL_S must be at least 1"),
        ({"PII_PUBLISH_MIN_INTERVAL_S": "-1"}, "PII_PUBLISH_MIN_INTERVAL_S must be at least 0"),
        ({"PII_SCHEDULE_CRON": "61 * * * *"}, "PII_SCHEDULE_CRON must be a 5-field cron"),
        ({"PII_SCHEDULE_TIMEZONE": "Mars/Base"}, "PII_SCHEDULE_TIMEZONE must be an IANA"),
        ({"PII_MAX_DAILY_BUDGET_USD": "-2"}, "PII_MAX_DAILY_BUDGET_USD must be at least 0"),
        ({"PII_MAX_DAILY_BUDGET_USD": "inf"}, "PII_MAX_DAILY_BUDGET_USD must be a finite"),
    ],
)
def test_pipeline_settings(environ: dict[str, str], expected: str) -> None:
    assert expected in _error(PipelineSettings.from_env, environ)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PII_PHONE_REGION": "XX"}, "PII_PHONE_REGION must be a region code"),
        ({"PII_LOCAL_CONCURRENCY": "-1"}, "PII_LOCAL_CONCURRENCY must be at least 0"),
    ],
)
def test_extractor_settings(environ: dict[str, str], expected: str) -> None:
    assert expected in _error(lambda env: build_extractor("local", env), environ)


def test_a_discovery_state_url_without_a_driver_is_one_line_without_the_url() -> None:
    from resources.settings import DiscoverySettings

    url = "bogus://user:s3cret@db.example/x"
    message = _error(DiscoverySettings.from_env, {"PII_DISCOVERY_STATE_URL": url})
    assert "PII_DISCOVERY_STATE_URL must be a SQLAlchemy database URL" in message
    assert "s3cret" not in message and "\n" not in message


def test_good_settings_build_the_resources() -> None:
    store = build_store(
        {
            "PII_OUTPUT_SSE": "aws:kms",
            "PII_OUTPUT_KMS_KEY_ID": "alias/pii-results",
            "PII_ENTITY_VALUES": "hashed",
            "PII_ENTITY_HASH_KEY": HASH_KEY,
            "PII_S3_RETRY_MODE": "adaptive",
            "PII_S3_MAX_ATTEMPTS": "8",
            "PII_REQUIRE_PRIVATE_OUTPUT": "true",
        }
    )
    assert (store.retry_mode, store.max_attempts) == ("adaptive", 8)
    assert store.output_sse == "aws:kms" and store.require_private_output is True
    assert HASH_KEY not in repr(store)  # the key stays an EnvVar, shown by name
    resolved = DocumentStore(bucket="b", entity_values="hashed", entity_hash_key=HASH_KEY)
    assert HASH_KEY not in repr(resolved) and HASH_KEY not in repr(resolved.layout())
    assert resolved.layout().value_policy.key_id
    options = build_document_options({"PII_MAX_FILE_MB": "7", "PII_OCR_TIMEOUT_S": "0"})
    assert (options.max_file_mb, options.ocr_timeout_s) == (7, 0)
    assert PipelineSettings.from_env({}) == PipelineSettings()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_cli_stops_before_any_run_with_one_line(store, s3_client, tmp_path: Path) -> None:
    put(s3_client, store.bucket, "a.pdf")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PII_S3_BUCKET": store.bucket,
        "PII_MAX_FILE_MB": "-1",
        "COLUMNS": "40",  # a narrow terminal must not wrap the line
    }
    done = _run([sys.executable, "-m", "pii_pipeline.cli", "process", "--json"], env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: PII_MAX_FILE_MB must be at least 1, got -1"]
    assert done.stdout == ""
    assert latest_version(s3_client, store.layout()) is None  # nothing published
    assert "Contents" not in s3_client.list_objects_v2(Bucket=store.bucket, Prefix="extracted/")


def test_dagster_does_not_load_the_code_location(tmp_path: Path) -> None:
    """`dagster dev` loads the code location the way `dagster definitions validate` does."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PII_MAX_FILE_MB": "-1"}
    dagster = str(Path(sys.executable).with_name("dagster"))
    done = _run([dagster, "definitions", "validate", "-w", "workspace.yaml"], env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "ValueError: PII_MAX_FILE_MB must be at least 1, got -1" in output
