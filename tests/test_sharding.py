"""Documents sharded across several dynamically partitioned assets, all feeding the dataset:
real definitions, Dagster instance, S3 server and offline extractor."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pii_assets.asset_names import DATASET_ASSET_KEY
from pii_assets.dataset import latest_version, read_version
from pii_assets.definitions import build_definitions
from pii_assets.partitions import DocumentShards, shard_of
from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.runner import process, reprocess, stale_partitions
from resources.settings import DiscoverySettings, PipelineSettings
from tests.test_discovery_sensor import put

SHARDS = 3


def test_shard_of_is_stable_and_spreads_keys() -> None:
    # Fixed values: a key must never move to another shard between versions or processes.
    assert [shard_of(f"doc-{i}.pdf", 16) for i in range(6)] == [
        shard_of(f"doc-{i}.pdf", 16) for i in range(6)
    ]
    assert shard_of("invoices%2F2024%2Fjan.pdf", 1) == 0
    counts = Counter(shard_of(f"doc-{i:06d}.pdf", 16) for i in range(16_000))
    assert len(counts) == 16 and max(counts.values()) < 1.1 * 1_000


def test_names_keep_the_plain_layout_for_one_shard() -> None:
    one, many = DocumentShards(1), DocumentShards(SHARDS)
    assert (one.partitions_name(0), one.asset_key(0).path, one.job_name(0)) == (
        "documents",
        ["document_pii"],
        "extract_documents",
    )
    assert many.job_names == [f"extract_documents_s{i:02d}" for i in range(SHARDS)]
    with pytest.raises(ValueError, match="PII_DOCUMENT_SHARDS"):
        DocumentShards(0)


def test_a_sharded_layout_extracts_and_publishes_every_document(store, instance) -> None:
    settings = DiscoverySettings(document_shards=SHARDS)
    shards = DocumentShards(SHARDS)
    names = [f"letter-{i:02d}.pdf" for i in range(9)]
    for name in names:
        put(store, name, single_page_pdf([f"Letter {name}", "Email: someone@example.org"]))
    defs = build_definitions(
        PipelineSettings(batch_size=10), resources={"store": store}, discovery=settings
    )
    assert {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()} == {
        *(f"document_pii_s{i:02d}" for i in range(SHARDS)),
        "pii_labeled_dataset",
    }
    report = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=settings)
    assert report.ok and report.documents_requested == len(names)
    by_shard = Counter(shards.shard_of(name) for name in names)
    assert report.runs == len(by_shard)  # one run per shard: a range never spans two shards
    for shard in range(SHARDS):
        assert sorted(shards.in_shard(instance, shard)) == sorted(
            n for n in names if shards.shard_of(n) == shard
        )
    documents, entities = read_version(
        store.client(), store.layout(), latest_version(store.client(), store.layout())
    )
    assert sorted(documents.column("partition_key").to_pylist()) == names
    assert set(documents.column("status").to_pylist()) == {"ok"}
    assert entities.num_rows >= len(names)

    # Nothing is stale; reprocessing a few partitions of two shards publishes an incremental
    # version in which their rows replace the old ones.
    code_version = defs.get_assets_def(shards.asset_key(0)).code_versions_by_key[
        shards.asset_key(0)
    ]
    assert stale_partitions(instance, code_version, shards) == []
    again = reprocess(defs, instance, names[:4], batch_size=10, shards=shards)
    assert again.ok and again.documents_requested == 4
    documents, _ = read_version(store.client(), store.layout(), again.dataset_version)
    assert sorted(documents.column("partition_key").to_pylist()) == names

    # New objects in several shards: the next version is built incrementally from every shard's
    # new partitions (one partition position per shard in the dataset's metadata).
    added = ["zeta-1.pdf", "zeta-2.pdf", "zeta-3.pdf", "zeta-4.pdf"]
    assert len({shards.shard_of(name) for name in added}) > 1
    for name in added:
        put(store, name, single_page_pdf([f"Letter {name}", "Email: someone@example.org"]))
    third = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=settings)
    assert third.ok and third.documents_requested == len(added)
    documents, _ = read_version(store.client(), store.layout(), third.dataset_version)
    assert sorted(documents.column("partition_key").to_pylist()) == sorted(names + added)
    event = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    metadata = event.asset_materialization.metadata
    assert metadata["build"].value == "incremental"
    assert len(json.loads(metadata["partitions_cursor"].value)) == SHARDS
