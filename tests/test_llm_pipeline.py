"""The LLM extractor inside the pipeline: concurrent documents, the run budget (unstarted documents
stay unmaterialized), run totals and `unlocated` in metadata, and the daily budget sensor skip."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import dagster as dg
import pytest

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.definitions import build_definitions
from pii_assets.event_log import spend_today_usd
from pii_assets.extraction import extract_document
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_pipeline.corpus import single_page_pdf
from resources.openai_extractor import OpenAIExtractor
from resources.settings import PipelineSettings, build_extractor
from sensors.discovery import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    build_discovery_sensor,
)
from tests.fake_openai import DEFAULT_KEY, FakeOpenAI
from tests.llm_helpers import ScriptedAnswer, make_extractor

NAME, EMAIL, GHOST = "Hannah Becker", "hannah.becker@example.org", "Nobody Atall"
LINES = ["Payslip for March 2024", f"Employee: {NAME}", f"Email: {EMAIL}", "Net pay: 3,120.00"]


@pytest.fixture
def fake():
    answer = ScriptedAnswer([("PERSON", NAME), ("EMAIL_ADDRESS", EMAIL), ("PERSON", GHOST)])
    with FakeOpenAI(answer=answer) as server:
        yield server


def upload(store, names: list[str], data: bytes) -> list[str]:
    client = store.client()
    for name in names:
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    return [store.layout().partition_key(f"documents/{name}") for name in names]


def resource(fake: FakeOpenAI, **fields) -> OpenAIExtractor:
    return OpenAIExtractor(
        api_key=fake.api_key,
        base_url=fake.base_url,
        input_mode="image",  # the fake cannot read images: it answers every scripted entity
        max_image_side=768,
        backoff_s=0.01,
        concurrency=4,
        **fields,
    )


def run_range(store, instance, extractor: OpenAIExtractor, keys: list[str]):
    defs = build_definitions(PipelineSettings(), resources={"store": store, "extractor": extractor})
    return defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        instance=instance, tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
    )


def metadata_of(instance, key: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DOCUMENT_ASSET_KEY, asset_partitions=[key]), limit=1
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_openai_extractor_from_environment(fake) -> None:
    env = {"OPENAI_MODEL": "gpt-4o", "PII_LLM_INPUT": "image", "PII_LLM_CONCURRENCY": "3"}
    env |= {"PII_MAX_BUDGET_USD": "2.5", "OPENAI_BASE_URL": fake.base_url}
    extractor = build_extractor("openai", env)
    assert isinstance(extractor, OpenAIExtractor)
    assert extractor.identity == "openai:gpt-4o:image"
    assert extractor.concurrency == 3 and extractor.document_concurrency() > 3
    assert extractor.run_budget_usd() == 2.5
    with pytest.raises(ValueError, match="PII_LLM_INPUT"):
        build_extractor("openai", {"PII_LLM_INPUT": "pdf"})
    assert build_extractor("openai", {}).ocr_as_text is True
    assert build_extractor("openai", {"PII_LLM_OCR_AS_TEXT": "false"}).ocr_as_text is False
    with pytest.raises(ValueError, match="PII_LLM_OCR_AS_TEXT"):
        build_extractor("openai", {"PII_LLM_OCR_AS_TEXT": "maybe"})


def test_documents_run_concurrently_up_to_the_limit(store, fake) -> None:
    fake.latency_s = 0.2
    keys = upload(store, [f"doc{i:02d}.pdf" for i in range(8)], single_page_pdf(LINES))
    extractor = make_extractor(fake, input_mode="image", max_image_side=768, concurrency=4)
    # More documents in progress than calls allowed: the client bounds the calls.
    opts = ProcessingOptions(extractor=extractor, workers=6)
    started = time.monotonic()
    outcomes = list(process_partitions(store.client(), store.layout(), keys, opts, "run-1"))
    elapsed = time.monotonic() - started
    assert sorted(k for k, _ in outcomes) == sorted(keys)
    assert all(r is not None and r.status == "ok" for _, r in outcomes)
    assert fake.max_in_flight == 4
    assert elapsed < 2 * 0.2 * 2 + 0.6  # two waves of four, not eight calls in a row


def test_run_budget_leaves_unstarted_documents_unmaterialized(store, instance, fake) -> None:
    data = single_page_pdf(LINES)
    keys = upload(store, [f"slip{i}.pdf" for i in range(6)], data)
    instance.add_dynamic_partitions("documents", keys)
    # Calibrate: what one document is estimated to cost, and what it really costs.
    probe = make_extractor(fake, input_mode="image", max_image_side=768)
    estimate = probe.estimate_document_usd(data)
    actual = extract_document(data, document_key="probe", etag="", extractor=probe).cost_usd
    assert 0 < actual < estimate
    # Room for two documents' real cost plus the third's estimate: exactly three may start
    # (whatever the thread timing), since each start needs the spent + in-flight + estimate room.
    budget = 2 * actual + estimate + 0.5 * actual

    result = run_range(store, instance, resource(fake, max_budget_usd=budget), keys)
    assert result.success
    materialized = instance.get_materialized_partitions(DOCUMENT_ASSET_KEY)
    assert materialized == set(keys[:3])  # the rest stay unmaterialized, not failed
    client = store.client()
    for key in keys[3:]:  # no result, no marker for documents that were not started
        listed = client.list_objects_v2(Bucket=store.bucket, Prefix=store.layout().marker_key(key))
        assert listed.get("KeyCount", 0) == 0
    meta = metadata_of(instance, keys[0])
    assert meta["status"] == "ok" and meta["unlocated"] == 1  # the ghost has no box
    assert meta["run_documents"] == 3 and meta["run_not_started"] == 3
    assert meta["run_cost_usd"] == pytest.approx(3 * actual)
    assert meta["cost_usd"] == actual
    assert meta["extractor"] == "openai"
    records = instance.fetch_materializations(DOCUMENT_ASSET_KEY, limit=10).records
    assert all(r.event_log_entry.tags.get("dagster/code_version") for r in records)
    observed = instance.fetch_observations(DOCUMENT_ASSET_KEY, limit=10).records
    assert {r.partition_key for r in observed} == set(keys[3:])
    assert spend_today_usd(instance) == pytest.approx(3 * actual)

    # A later run with budget to spare picks the unstarted documents up.
    again = run_range(store, instance, resource(fake), keys[3:])
    assert again.success
    assert instance.get_materialized_partitions(DOCUMENT_ASSET_KEY) == set(keys)


def test_unbudgeted_run_carries_totals_and_no_pii(store, instance, fake) -> None:
    keys = upload(store, ["a.pdf", "b.pdf"], single_page_pdf(LINES))
    instance.add_dynamic_partitions("documents", keys)
    result = run_range(store, instance, resource(fake), keys)
    assert result.success
    events = result.get_asset_materialization_events()
    assert {e.materialization.partition for e in events} == set(keys)
    for event in events:
        meta = event.materialization.metadata
        assert meta["run_documents"].value == 2 and meta["unlocated"].value == 1
        assert meta["classification"].value == "invoice"
        dumped = json.dumps({k: str(v.value) for k, v in meta.items()})
        for secret in (NAME, EMAIL, DEFAULT_KEY):
            assert secret not in dumped
    logs = "\n".join(
        str(e.message) for e in instance.all_logs(result.run_id) if e.message is not None
    )
    for secret in (NAME, EMAIL, DEFAULT_KEY):
        assert secret not in logs


def _record_spend(instance, key: str, cost: float) -> None:
    instance.add_dynamic_partitions("documents", [key])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(DOCUMENT_ASSET_KEY, partition=key, metadata={"cost_usd": cost})
    )


def test_daily_budget_makes_discovery_skip_with_a_reason(store, instance) -> None:
    upload(store, ["new1.pdf"], single_page_pdf(LINES))
    sensor = build_discovery_sensor(batch_size=10, max_runs=5, interval_s=30, daily_budget_usd=1.0)

    def tick():
        return sensor(dg.build_sensor_context(instance=instance, resources={"store": store}))

    _record_spend(instance, "earlier.pdf", 0.6)
    below = tick()
    assert below.run_requests and below.skip_reason is None
    upload(store, ["new2.pdf"], single_page_pdf(LINES))
    _record_spend(instance, "later.pdf", 0.4)  # today's spend now equals the budget
    assert spend_today_usd(instance) == pytest.approx(1.0)
    over = tick()
    assert over.run_requests == []
    reason = over.skip_reason.skip_message
    assert "daily LLM budget reached" in reason and "$1.0000" in reason
    assert "1 documents wait for tomorrow" in reason
    # Nothing is marked as requested: once the day rolls over, the documents are launched.
    assert spend_today_usd(instance, now=datetime(2099, 1, 1, tzinfo=UTC)) == 0.0
    unlimited = build_discovery_sensor(
        batch_size=10, max_runs=5, interval_s=30, daily_budget_usd=None
    )
    context = dg.build_sensor_context(instance=instance, resources={"store": store})
    (request,) = unlimited(context).run_requests
    assert request.partition_key == "new2.pdf"
