"""Transient failures heal by themselves: an LLM endpoint that refuses connections and comes
back, a run that fails, a request whose run never starts. Real Dagster, real S3 server, a fake
OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pii_assets.definitions import build_definitions
from pii_assets.discovery_state import RUN_FAILED, RUN_MISSING
from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.runner import process
from resources.openai_extractor import OpenAIExtractor
from resources.settings import DiscoverySettings, PipelineSettings
from sensors.discovery import BATCH_TAG, RUN_LEASE_S, WILL_RETRY_TAG, Discovery
from tests.fake_openai import DEFAULT_KEY, FakeOpenAI
from tests.llm_helpers import ScriptedAnswer
from tests.test_discovery_sensor import put

LINES = ["Payslip for March 2024", "Employee: Hannah Becker", "Net pay: 3,120.00"]


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def extractor(base_url: str) -> OpenAIExtractor:
    return OpenAIExtractor(
        api_key=DEFAULT_KEY,
        base_url=base_url,
        input_mode="image",
        max_image_side=768,
        max_retries=1,
        backoff_s=0.01,
        timeout_s=5,
    )


def test_an_llm_outage_heals_on_the_next_call(store, instance) -> None:
    for name in ("a.pdf", "b.pdf"):
        put(store, name, single_page_pdf(LINES))
    heal_now = DiscoverySettings(retry_base_s=0)  # retries due at once: the next call retries
    down = f"http://127.0.0.1:{closed_port()}/v1"
    defs = build_definitions(
        PipelineSettings(batch_size=10), resources={"store": store, "extractor": extractor(down)}
    )
    first = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert first.runs == 1 and not first.failed_runs
    assert not first.ok  # it says so: documents were left for later
    assert {(p.partition_key, p.error_class, p.attempts) for p in first.postponed} == {
        ("a.pdf", "llm_unavailable", 1),
        ("b.pdf", "llm_unavailable", 1),
    }
    with FakeOpenAI(answer=ScriptedAnswer([("PERSON", "Hannah Becker")])) as fake:
        defs = build_definitions(
            PipelineSettings(batch_size=10),
            resources={"store": store, "extractor": extractor(fake.base_url)},
        )
        second = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
        assert second.ok and second.documents_requested == 2 and second.postponed == []
        third = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
        assert third.ok and third.documents_requested == 0


def test_permanent_failures_are_not_requested_again(store, instance) -> None:
    put(store, "corrupt.pdf", b"%PDF-1.4 truncated")
    put(store, "notes.txt", b"plain words")
    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": store})
    heal_now = DiscoverySettings(retry_base_s=0)
    first = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert first.ok and first.documents_requested == 2
    again = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert again.documents_requested == 0


@dg.op
def _dies() -> None:
    raise RuntimeError("the worker died")


@dg.job
def _killed_run() -> None:
    _dies()


def test_documents_of_a_failed_run_are_requested_again_with_backoff(store, instance) -> None:
    for name in ("a.pdf", "b.pdf"):
        put(store, name)
    settings = DiscoverySettings(retry_base_s=30)
    discovery = Discovery(instance, store, settings, batch_size=10, max_runs=5)
    (batch,) = discovery.tick(now=1_000.0).batches
    # The run that carried the batch ends failed (as run monitoring marks a killed run).
    result = _killed_run.execute_in_process(
        instance=instance, tags={BATCH_TAG: batch.run_key}, raise_on_error=False
    )
    assert not result.success
    retry = discovery.tick(now=1_001.0)
    assert retry.report.requeued == 2 and retry.batches == []
    status = discovery.state.retry_status(batch.partition_keys)
    assert status == {"a.pdf": (RUN_FAILED, 1, 1_031.0), "b.pdf": (RUN_FAILED, 1, 1_031.0)}
    (again,) = discovery.tick(now=1_031.0).batches
    assert again.partition_keys == batch.partition_keys and again.run_key != batch.run_key


def test_a_request_whose_run_never_started_is_made_again(store, instance) -> None:
    put(store, "a.pdf")
    discovery = Discovery(
        instance, store, DiscoverySettings(retry_base_s=1), batch_size=10, max_runs=5
    )
    (batch,) = discovery.tick(now=1_000.0).batches  # the daemon never launches it
    assert discovery.tick(now=1_000.0 + RUN_LEASE_S - 1).report.requeued == 0
    assert discovery.tick(now=1_000.0 + RUN_LEASE_S + 1).report.requeued == 1
    assert discovery.state.retry_status(["a.pdf"])["a.pdf"][0] == RUN_MISSING
    (again,) = discovery.tick(now=1_000.0 + RUN_LEASE_S + 2).batches
    assert again.partition_keys == ("a.pdf",)


def test_process_exits_non_zero_and_names_documents_left_for_later(store, tmp_path: Path) -> None:
    put(store, "a.pdf", single_page_pdf(LINES))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PII_S3_BUCKET": store.bucket,
        "PII_EXTRACTOR": "openai",
        "OPENAI_API_KEY": DEFAULT_KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "PII_LLM_MAX_RETRIES": "0",
        "PII_LLM_INPUT": "image",
        "PII_RETRY_BASE_S": "1",
    }
    command = [sys.executable, "-m", "pii_pipeline.cli", "process"]
    down = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert down.returncode == 1, down.stderr[-2000:]
    report = json.loads(down.stdout)
    assert report["ok"] is False and report["failed_runs"] == []
    (postponed,) = report["documents_postponed"]
    assert postponed["partition_key"] == "a.pdf"
    assert postponed["error_class"] == "llm_unavailable" and postponed["attempts"] == 1
    time.sleep(1.1)  # the backoff of a first failure: PII_RETRY_BASE_S
    text = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert text.returncode == 1
    assert "failed for a transient cause and were left for a later attempt" in text.stdout
    assert "a.pdf: llm_unavailable, attempt 2" in text.stdout


@pytest.mark.parametrize("value", ["sometimes", ""])
def test_discovery_mode_is_validated(value: str) -> None:
    if value:
        with pytest.raises(ValueError, match="PII_DISCOVERY_MODE"):
            DiscoverySettings.from_env({"PII_DISCOVERY_MODE": value})
    else:
        with pytest.raises(ValueError, match="PII_EVENTS_QUEUE_URL"):
            DiscoverySettings.from_env({"PII_DISCOVERY_MODE": "events"})


@dg.op
def _finishes() -> None:
    pass


@dg.job
def _retry_of_the_run() -> None:
    _finishes()


@pytest.mark.parametrize("retried", [True, False], ids=["retried", "no-retry-daemon"])
def test_a_failed_run_dagster_will_retry_is_left_to_its_retry(
    store, instance, retried: bool
) -> None:
    put(store, "a.pdf")
    discovery = Discovery(
        instance, store, DiscoverySettings(retry_base_s=1), batch_size=10, max_runs=5
    )
    (batch,) = discovery.tick(now=time.time()).batches
    # A killed worker's run ends failed, and Dagster's run retries will re-execute it (the retry
    # reuses what the run finished): requesting its documents again would extract them twice.
    failed = _killed_run.execute_in_process(
        instance=instance,
        tags={BATCH_TAG: batch.run_key, WILL_RETRY_TAG: "true"},
        raise_on_error=False,
    )
    assert instance.get_run_by_id(failed.run_id).tags[WILL_RETRY_TAG] == "true"
    assert discovery.tick(now=time.time()).report.requeued == 0
    if retried:
        # The retry carries its parent's tags, ours included, and succeeds: the batch is done.
        _retry_of_the_run.execute_in_process(
            instance=instance, tags={BATCH_TAG: batch.run_key, "dagster/retry_number": "1"}
        )
    later = discovery.tick(now=time.time() + RUN_LEASE_S + 1)
    if retried:
        assert later.report.requeued == 0 and discovery.state.in_flight() == {}
    else:
        # No retry within the lease (no daemon runs retries): requested again after all.
        assert later.report.requeued == 1
        assert discovery.state.retry_status(["a.pdf"])["a.pdf"][0] == RUN_FAILED


def test_process_is_not_ok_while_documents_are_claimed_for_a_run_that_never_started(
    store, instance
) -> None:
    """What a `process` killed between its claim and its run leaves: the next `process` cannot
    run those documents before the claim's lease ends, and says so instead of reporting ok."""
    from pii_assets.definitions import build_definitions
    from pii_pipeline.runner import process
    from resources.settings import PipelineSettings

    put(store, "a.pdf", single_page_pdf(LINES))
    settings = DiscoverySettings()
    claimer = Discovery(instance, store, settings, batch_size=10, max_runs=5)
    (batch,) = claimer.tick().batches  # claimed; its run is never launched
    defs = build_definitions(PipelineSettings(), resources={"store": store}, discovery=settings)
    report = process(
        defs, instance, batch_size=10, max_runs=5, publish=False, discovery_settings=settings
    )
    assert report.waiting == list(batch.partition_keys) == ["a.pdf"]
    assert report.runs == 0 and not report.ok
