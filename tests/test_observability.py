"""Observability for operators: JSON log lines (PII_LOG_FORMAT=json) and the Prometheus metrics
of `pii-pipeline metrics`, on real runs against the real S3 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.log_format import FIELDS, log_format
from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.metrics import exposition, registry_for
from resources.settings import PipelineSettings
from sensors.discovery import run_request
from sensors.discovery_plan import Batch

ROOT = Path(__file__).resolve().parents[1]
# Invented values: none of them may reach a log line.
EMAIL = "quentin.oyelaran@example.com"
PHONE = "(646) 555-0187"


def upload(store, instance, documents: dict[str, bytes]) -> list[str]:
    client = store.client()
    for name, data in documents.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    keys = [store.layout().partition_key(f"documents/{name}") for name in documents]
    instance.add_dynamic_partitions("documents", keys)
    return keys


def run_batch(store, instance, keys: list[str]) -> dg.ExecuteInProcessResult:
    """The run the discovery sensor would launch for these partitions, with its run config."""
    defs = build_definitions(PipelineSettings(), resources={"store": store})
    request = run_request(Batch(tuple(keys), "test"))
    return defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        instance=instance,
        run_config=request.run_config,
        tags=request.tags,
        partition_key=request.partition_key,
        raise_on_error=False,
    )


def letter(name: str) -> bytes:
    return single_page_pdf([f"Letter {name}", "Name: Quentin Oyelaran", f"Email: {EMAIL}", PHONE])


def test_log_format_is_validated() -> None:
    assert log_format({}) == "text"
    assert log_format({"PII_LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ValueError, match="PII_LOG_FORMAT"):
        log_format({"PII_LOG_FORMAT": "xml"})


def test_run_logs_are_json_lines_with_fixed_keys_and_no_values(
    store, instance, monkeypatch, capfd
) -> None:
    keys = upload(store, instance, {"a.pdf": letter("a"), "broken.pdf": b"%PDF-1.7\n1 0 obj"})
    monkeypatch.setenv("PII_LOG_FORMAT", "json")
    capfd.readouterr()
    result = run_batch(store, instance, keys)
    assert not result.success  # failed by broken.pdf alone (tests/test_failed_documents.py)
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    run_lines = [line for line in lines if line["run_id"] == result.run_id]
    assert run_lines, err[-2000:]
    assert all(tuple(line) == FIELDS for line in lines)
    assert {line["job_name"] for line in run_lines} == {EXTRACT_JOB}
    events = {line["event_type"] for line in run_lines}
    assert {"STEP_START", "ASSET_MATERIALIZATION", "ASSET_OBSERVATION", "STEP_FAILURE"} <= events
    assert any("2/2 documents" in line["message"] for line in run_lines)
    assert any("1 of 2 documents failed: broken.pdf (corrupt)" in line["message"] for line in lines)
    assert any(line["level"] == "DEBUG" for line in run_lines)  # Dagster's default level
    # Every line of the run is JSON: no text line names the run.
    assert not [line for line in err.splitlines() if result.run_id in line and line[0] != "{"]
    assert EMAIL not in err and PHONE not in err


def test_process_logs_are_json_lines_and_exceptions_give_their_type_only() -> None:
    script = (
        "import logging\n"
        "from pii_assets.log_format import configure_process_logging\n"
        "configure_process_logging()\n"
        "try:\n"
        f"    raise ValueError('{EMAIL}')\n"
        "except ValueError:\n"
        "    logging.getLogger('dagster.code_server').error('could not load', exc_info=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PII_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    (line,) = [json.loads(text) for text in done.stderr.splitlines()]
    assert tuple(line) == FIELDS
    assert line["message"] == "could not load" and line["exc_type"] == "ValueError"
    assert EMAIL not in done.stderr


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_documents_failures_pages_and_runs(store, instance) -> None:
    keys = upload(
        store, instance, {"a.pdf": letter("a"), "b.pdf": letter("b"), "broken.pdf": b"%PDF-1.7"}
    )
    registry = registry_for(instance)
    before = samples(exposition(registry))
    assert ("pii_documents_processed_total", (("status", "ok"),)) not in before
    # broken.pdf fails the run (recorded as an observation, counted like the others).
    assert not run_batch(store, instance, keys).success

    text = exposition(registry)
    assert EMAIL not in text and "a.pdf" not in text
    after = samples(text)
    assert after[("pii_documents_processed_total", (("status", "ok"),))] == 2
    assert after[("pii_documents_processed_total", (("status", "failed"),))] == 1
    assert after[("pii_documents_failed_total", (("error_class", "corrupt"),))] == 1
    assert after[("pii_pages_processed_total", ())] == 2
    assert after[("pii_extraction_cost_usd_total", ())] == 0
    assert after[("pii_runs_total", (("job", EXTRACT_JOB), ("status", "FAILURE")))] == 1
    assert after[("pii_run_duration_seconds_count", (("job", EXTRACT_JOB),))] == 1
    assert after[("pii_run_duration_seconds_bucket", (("job", EXTRACT_JOB), ("le", "+Inf")))] == 1

    # The same source, scraped again after another run, adds only the new events.
    assert run_batch(store, instance, keys[:1]).success
    again = samples(exposition(registry))
    assert again[("pii_documents_processed_total", (("status", "ok"),))] == 3
    assert again[("pii_runs_total", (("job", EXTRACT_JOB), ("status", "SUCCESS")))] == 1
    # A fresh reader of the whole event log agrees.
    assert samples(exposition(registry_for(instance))) == again


def test_metrics_command_prints_and_serves(store, instance) -> None:
    keys = upload(store, instance, {"a.pdf": letter("a")})
    assert run_batch(store, instance, keys).success
    env = {**os.environ, "DAGSTER_HOME": instance.root_directory}
    command = [str(Path(sys.executable).with_name("pii-pipeline")), "metrics"]
    printed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    assert samples(printed.stdout)[("pii_documents_processed_total", (("status", "ok"),))] == 1

    server = subprocess.Popen(
        [*command, "--serve", "0"], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        url = server.stdout.readline().split()[-1]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            served = samples(response.read().decode())
        assert served[("pii_runs_total", (("job", EXTRACT_JOB), ("status", "SUCCESS")))] == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0


def test_metrics_command_needs_an_instance() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    command = [str(Path(sys.executable).with_name("pii-pipeline")), "metrics"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "DAGSTER_HOME" in done.stderr
