"""The launch form: `process_documents` run with typed run config through a real Dagster instance
and the real S3 server, as the Launchpad launches it; passwords only by the names of environment
variables; the same settings as `pii-pipeline process` flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pii_assets.dataset import latest_version, read_version
from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.launch import LAUNCH_JOB, LAUNCH_OP, launch_defaults, launch_environ
from pii_pipeline.corpus import single_page_pdf
from resources.settings import PipelineSettings
from tests.bad_corpus import encrypted_pdf

PASSWORD = "Launch-Form-Secret-7731"
PASSWORD_VAR = "PII_TEST_LAUNCH_PASSWORD"


def upload(store) -> None:
    client = store.client()
    for i in range(2):
        body = single_page_pdf([f"Customer {i}", f"Email: person{i}@example.com"])
        client.put_object(Bucket=store.bucket, Key=f"documents/doc{i}.pdf", Body=body)
    client.put_object(Bucket=store.bucket, Key="documents/locked.pdf", Body=encrypted_pdf(PASSWORD))


def launch(store, instance, **config) -> dg.ExecuteInProcessResult:
    defs = build_definitions(PipelineSettings(), resources={"store": store})
    form = {"bucket": store.bucket, "input_prefix": "documents/", **config}
    return defs.resolve_job_def(LAUNCH_JOB).execute_in_process(
        instance=instance,
        run_config={"ops": {LAUNCH_OP: {"config": form}}},
        raise_on_error=False,
    )


def every_log_text(instance: dg.DagsterInstance) -> str:
    runs = instance.get_runs()
    return json.dumps([repr(entry) for run in runs for entry in instance.all_logs(run.run_id)])


def test_launch_form_discovers_extracts_and_publishes(store, instance, monkeypatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    upload(store)
    result = launch(store, instance, password_env_vars=[PASSWORD_VAR], batch_size=2)
    assert result.success
    (output,) = [e for e in result.all_events if e.is_successful_output]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert metadata["extraction_runs"] == 2  # 3 documents in batches of 2
    assert metadata["documents_requested"] == 3
    assert metadata["dataset_version"] == "v000001"
    assert metadata["publish_status"] == "published"
    # The batches ran as extraction runs of their own, visible in the run history.
    assert len(instance.get_runs(dg.RunsFilter(job_name=EXTRACT_JOB))) == 2

    client, layout = store.client(), store.layout()
    documents, _ = read_version(client, layout, latest_version(client, layout))
    statuses = {r["document_key"]: r["status"] for r in documents.to_pylist()}
    assert statuses == {f"documents/{n}": "ok" for n in ("doc0.pdf", "doc1.pdf", "locked.pdf")}
    assert PASSWORD not in every_log_text(instance)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        # A password typed where a name belongs: not a variable name, refused.
        (PASSWORD, "password_env_vars[0] is not an environment variable name"),
        # A name-like password: no such variable, refused without repeating it.
        ("hunter2secret", "password_env_vars[0] names no environment variable set"),
    ],
)
def test_a_password_value_is_refused_without_repeating_it(store, instance, given, message) -> None:
    upload(store)
    result = launch(store, instance, password_env_vars=[given])
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert message in failure.step_failure_data.error.message
    assert given not in failure.step_failure_data.error.message
    assert instance.get_runs(dg.RunsFilter(job_name=EXTRACT_JOB)) == []  # nothing extracted
    logs = every_log_text(instance)
    assert given not in logs


def test_another_bucket_is_refused(store, instance) -> None:
    result = launch(store, instance, bucket="someone-elses-bucket")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "must be this deployment's" in failure.step_failure_data.error.message


def test_form_defaults_are_the_environment() -> None:
    environ = {
        "PII_S3_BUCKET": "acme-docs",
        "PII_INPUT_PREFIX": "inbox/",
        "PII_DOCUMENT_PASSWORDS": "never-shown",
        "PII_EXTRACTOR": "openai",
        "OPENAI_MODEL": "gpt-4o",
        "PII_MAX_BUDGET_USD": "2.5",
        "PII_BATCH_SIZE": "25",
    }
    defaults = launch_defaults(environ)
    assert defaults.model_dump() == {
        "bucket": "acme-docs",
        "input_prefix": "inbox/",
        "password_env_vars": ["PII_DOCUMENT_PASSWORDS"],
        "extractor": "openai",
        "model": "gpt-4o",
        "run_budget_usd": 2.5,
        "batch_size": 25,
        "publish": True,
    }
    assert "never-shown" not in json.dumps(defaults.model_dump())
    # The form's values map back onto the same variables, passwords read from the named one.
    assert launch_environ(defaults, environ) == {
        "PII_S3_BUCKET": "acme-docs",
        "PII_INPUT_PREFIX": "inbox/",
        "PII_EXTRACTOR": "openai",
        "PII_BATCH_SIZE": "25",
        "OPENAI_MODEL": "gpt-4o",
        "PII_MAX_BUDGET_USD": "2.5",
        "PII_DOCUMENT_PASSWORDS": "never-shown",
    }
    defs = build_definitions(PipelineSettings())
    job = defs.resolve_job_def(LAUNCH_JOB)
    assert set(job.run_config["ops"][LAUNCH_OP]["config"]) == set(defaults.model_dump())


def test_process_flags_are_the_form(store, tmp_path: Path) -> None:
    upload(store)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PII_S3_BUCKET": "not-this-one",
        PASSWORD_VAR: PASSWORD,
    }
    env.pop("PII_DOCUMENT_PASSWORDS", None)
    args = ["--bucket", store.bucket, "--password-env", PASSWORD_VAR, "--batch-size", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", "process", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["runs"] == 2 and report["documents_processed"] == 3
    assert report["summary"]["documents_by_status"]["ok"] == 3
    assert PASSWORD not in done.stdout + done.stderr

    refused = subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", "process", "--password-env", PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode == 2
    assert "is not an environment variable name" in refused.stderr
    assert PASSWORD not in refused.stdout + refused.stderr
