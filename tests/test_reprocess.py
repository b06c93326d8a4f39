"""Reprocessing end to end: a changed extractor configuration makes partitions stale; stale and
chosen partitions are re-extracted in batched runs and replace their rows in the next version."""

from __future__ import annotations

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.dataset import read_version
from pii_assets.definitions import build_definitions
from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.runner import process, reprocess, stale_partitions
from resources.extractors import LocalExtractor
from resources.settings import PipelineSettings


def code_version(defs) -> str:
    return defs.get_assets_def(DOCUMENT_ASSET_KEY).code_versions_by_key[DOCUMENT_ASSET_KEY]


def test_stale_partitions_and_chosen_backfill(store, instance) -> None:
    client, layout = store.client(), store.layout()
    for i in range(5):
        body = single_page_pdf([f"Customer {i}", f"Email: person{i}@example.com"])
        client.put_object(Bucket=store.bucket, Key=f"documents/doc{i}.pdf", Body=body)
    settings = PipelineSettings(batch_size=2)
    defs = build_definitions(settings, resources={"store": store})
    first = process(defs, instance, batch_size=2, max_runs=20)
    assert first.ok and first.runs == 3 and first.dataset_version == "v000001"
    assert stale_partitions(instance, code_version(defs)) == []

    # A new extractor configuration is a new code version: every partition is stale.
    changed = build_definitions(
        settings, resources={"store": store, "extractor": LocalExtractor(min_confidence=0.6)}
    )
    assert code_version(changed) != code_version(defs)
    stale = stale_partitions(instance, code_version(changed))
    assert stale == [f"doc{i}.pdf" for i in range(5)]
    report = reprocess(changed, instance, stale, batch_size=2)
    assert report.ok and report.runs == 3 and report.dataset_version == "v000002"
    assert stale_partitions(instance, code_version(changed)) == []
    documents, entities = read_version(client, layout, "v000002")
    assert documents.num_rows == 5
    assert set(documents.column("code_version").to_pylist()) == {code_version(changed)}
    keys = entities.column("document_key").to_pylist()
    assert len(keys) == len(set(zip(keys, entities.column("text").to_pylist(), strict=True)))

    # A chosen set of partitions: non-adjacent ones cannot share a partition range.
    chosen = reprocess(changed, instance, ["doc0.pdf", "doc1.pdf", "doc3.pdf"], batch_size=10)
    assert chosen.ok and chosen.runs == 2 and chosen.documents_requested == 3
    again, again_entities = read_version(client, layout, chosen.dataset_version)
    assert again.num_rows == 5 and again_entities.num_rows == entities.num_rows


def test_dry_run_lists_partitions_and_estimates_the_llm_cost(store, tmp_path) -> None:
    import json
    import os
    import subprocess
    import sys

    from pii_assets.llm.extractor import LlmExtractor
    from resources.openai_extractor import OpenAIExtractor

    client = store.client()
    bodies = {
        f"invoices/{i} final.pdf": single_page_pdf([f"Invoice {i}", "Email: a@example.com"])
        for i in range(3)
    }
    for name, body in bodies.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=body)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PII_S3_BUCKET": store.bucket,
        "PII_EXTRACTOR": "openai",
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_MODEL": "gpt-4o-mini",
    }
    objects = [f"documents/{name}" for name in bodies]
    command = [sys.executable, "-m", "pii_pipeline.cli", "reprocess", "--object", *objects]
    listed = subprocess.run(
        [*command, "--dry-run", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    payload = json.loads(listed.stdout)
    keys = [store.layout().partition_key(key) for key in objects]
    assert payload["partitions"] == keys and payload["count"] == 3
    # The same estimate a run reserves before each document starts.
    resource = OpenAIExtractor(api_key="sk-test-not-a-real-key", model="gpt-4o-mini")
    extractor = resource.page_extractor()
    assert isinstance(extractor, LlmExtractor)
    expected = sum(extractor.estimate_document_usd(body) for body in bodies.values())
    assert payload["estimated_cost_usd"] > 0
    assert abs(payload["estimated_cost_usd"] - expected) < 1e-9
    text = subprocess.run(
        [*command, "--dry-run"], env=env, capture_output=True, text=True, timeout=300
    )
    assert text.returncode == 0
    assert text.stdout.splitlines() == keys  # one per line (keys may hold spaces)
    assert "3 partitions to reprocess; estimated LLM cost at most $" in text.stderr
