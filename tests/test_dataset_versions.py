"""Dataset versions built incrementally by the real asset on a real instance and S3 server."""

from __future__ import annotations

import json

import dagster as dg
from deltalake import DeltaTable

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.bucket import put_json
from pii_assets.dataset import (
    existing_versions,
    latest_version,
    read_card,
    read_manifest,
    read_version,
)
from pii_assets.dataset_asset import covers_input_prefix, pii_labeled_dataset
from pii_assets.dataset_tables import location
from pii_assets.models import DocumentResult, Entity, Status


def write_result(
    store,
    name: str,
    label: str,
    emails: int,
    page: int = 1,
    processed_at: str = "2026-01-01T00:00:00+00:00",
    cost_usd: float = 0.0,
) -> str:
    """An object plus the result that extraction would have written for it."""
    layout = store.layout()
    key = f"{layout.input_prefix}{name}"
    body = f"{name} {label}".encode()
    etag = store.client().put_object(Bucket=store.bucket, Key=key, Body=body)["ETag"].strip('"')
    partition_key = layout.partition_key(key)
    result = DocumentResult(
        document_key=key,
        etag=etag,
        status=Status.OK,
        pages=2,
        extractor="local",
        code_version="test",
        processed_at=processed_at,
        cost_usd=cost_usd,
        input_tokens=int(cost_usd * 1_000_000),
        entities=[
            Entity(
                "EMAIL_ADDRESS",
                f"{name}-{etag}-{i}@example.com",
                page,
                0.1,
                0.1,
                0.2,
                0.2,
                0.9,
                "text",
            )
            for i in range(emails)
        ],
    )
    put_json(store.client(), layout, layout.result_key(partition_key), result.to_json_dict())
    return partition_key


def materialized(instance: dg.DagsterInstance, *partition_keys: str) -> None:
    for key in partition_keys:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=DOCUMENT_ASSET_KEY, partition=key)
        )


def publish(
    store, instance, full: bool = False, raise_on_error: bool = True, reconcile: bool = False
):
    config = {"full_rebuild": full, "reconcile": reconcile}
    return dg.materialize(
        [pii_labeled_dataset],
        resources={"store": store},
        instance=instance,
        run_config={"ops": {"pii_labeled_dataset": {"config": config}}},
        raise_on_error=raise_on_error,
        selection=[pii_labeled_dataset.key],
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def per_document(entities) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in entities.column("document_key").to_pylist():
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_reprocessed_deleted_and_new_documents(store, instance) -> None:
    client, layout = store.client(), store.layout()
    keys = [write_result(store, f"doc{i}.pdf", "v1", emails=2) for i in range(5)]
    instance.add_dynamic_partitions("documents", keys)
    materialized(instance, *keys)
    first = metadata(publish(store, instance))
    assert first["build"] == "full" and first["version"] == "v000001"
    assert first["dagster/row_count"] == 5 and first["entities"] == 10

    # doc0 and doc1 reprocessed with other results, doc4 deleted, doc5 new.
    write_result(store, "doc0.pdf", "v2", emails=3)
    write_result(store, "doc1.pdf", "v2", emails=0)
    client.delete_object(Bucket=store.bucket, Key=f"{layout.input_prefix}doc4.pdf")
    instance.delete_dynamic_partition("documents", "doc4.pdf")
    new_key = write_result(store, "doc5.pdf", "v1", emails=1)
    instance.add_dynamic_partitions("documents", [new_key])
    materialized(instance, "doc0.pdf", "doc1.pdf", new_key)

    # A deleted partition nobody materialized again is found by a reconciling publish.
    second = metadata(publish(store, instance, reconcile=True))
    assert second["build"] == "incremental" and second["version"] == "v000002"
    assert (second["documents_added"], second["documents_removed"]) == (1, 1)
    assert second["documents_changed"] == 2
    documents, entities = read_version(client, layout, "v000002")
    assert sorted(documents.column("document_key").to_pylist()) == [
        f"{layout.input_prefix}doc{i}.pdf" for i in (0, 1, 2, 3, 5)
    ]
    per_doc = per_document(entities)
    # Replaced, never duplicated: doc0 has exactly its 3 new entities, doc1 none.
    assert per_doc[f"{layout.input_prefix}doc0.pdf"] == 3
    assert f"{layout.input_prefix}doc1.pdf" not in per_doc
    assert entities.num_rows == 3 + 2 + 2 + 1

    # Only the changed documents' rows were written: 3 written, 1 deleted.
    manifest = read_manifest(client, layout, "v000002")
    assert manifest["version_cost"]["documents_written"] == 3
    assert manifest["row_counts"] == {"documents": 5, "entities": 8}
    assert manifest["documents_version"] == 2 and manifest["entities_version"] == 2

    # A full rebuild of the same state changes nothing, so it publishes nothing.
    full = metadata(publish(store, instance, full=True))
    assert full["build"] == "full" and full["publish_status"] == "unchanged"
    assert full["version"] == "v000002" and latest_version(client, layout) == "v000002"
    assert existing_versions(client, layout) == ["v000001", "v000002"]

    # Version 1 stays readable (time travel) with the rows it had.
    old_docs, old_entities = read_version(client, layout, "v000001")
    assert old_docs.num_rows == 5 and old_entities.num_rows == 10
    assert f"{layout.input_prefix}doc4.pdf" in old_docs.column("document_key").to_pylist()

    # The tables are plain Delta tables: delta-rs reads each version with no project code.
    options = location(client, layout).storage_options
    uri = f"s3://{store.bucket}/{layout.dataset_prefix}"
    assert (
        DeltaTable(uri + "documents", version=1, storage_options=options)
        .to_pyarrow_table(columns=["document_key"])
        .num_rows
        == 5
    )
    assert len(DeltaTable(uri + "entities", storage_options=options).to_pandas()) == 8
    for version in existing_versions(client, layout):
        assert f"# PII labeled dataset {version}" in read_card(client, layout, version)


def test_a_publish_that_changes_nothing_writes_no_version(store, instance) -> None:
    """Re-extracted with the same rows (only `processed_at` differs): no new version, and the
    run's metadata says so."""
    client, layout = store.client(), store.layout()
    key = write_result(store, "same.pdf", "v1", emails=2)
    instance.add_dynamic_partitions("documents", [key])
    materialized(instance, key)
    assert metadata(publish(store, instance))["version"] == "v000001"
    write_result(store, "same.pdf", "v1", emails=2, processed_at="2026-03-03T00:00:00+00:00")
    materialized(instance, key)
    again = metadata(publish(store, instance))
    assert again["publish_status"] == "unchanged" and again["published"] is False
    assert again["version"] == "v000001" and again["documents_changed"] == 0
    assert existing_versions(client, layout) == ["v000001"]
    options = location(client, layout).storage_options
    documents = DeltaTable(
        f"s3://{store.bucket}/{layout.dataset_prefix}documents", storage_options=options
    )
    assert documents.version() == 1  # no commit at all


def test_totals_reach_the_asset_metadata(store, instance, monkeypatch) -> None:
    """Total and per-version cost and tokens, documents by status and the success rate are plain
    numbers the UI plots; today's spend and what is left of the daily budget too."""
    monkeypatch.setenv("PII_MAX_DAILY_BUDGET_USD", "5")
    keys = [write_result(store, f"c{i}.pdf", "v1", emails=1, cost_usd=0.25) for i in range(2)]
    instance.add_dynamic_partitions("documents", keys)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=DOCUMENT_ASSET_KEY, partition=keys[0], metadata={"cost_usd": 1.5}
        )
    )
    first = metadata(publish(store, instance))
    assert first["cost_usd"] == 0.5 and first["version_cost_usd"] == 0.5
    assert first["input_tokens"] == 500_000 and first["documents_ok"] == 2
    assert first["success_rate"] == 1.0
    assert first["spend_today_usd"] == 1.5 and first["daily_budget_remaining_usd"] == 3.5

    write_result(store, "c0.pdf", "v2", emails=2, cost_usd=0.5)
    materialized(instance, keys[0])
    second = metadata(publish(store, instance))
    assert second["cost_usd"] == 0.75  # 0.5 + 0.25: the version's documents as they are now
    assert second["version_cost_usd"] == 0.25  # what this version's rewritten rows added


def test_blocking_check_keeps_a_bad_version_unpublished(store, instance) -> None:
    """A fault of the whole table (a document twice) still rejects the version; a document's
    own bad rows are quarantined instead (tests/test_quarantine.py)."""
    client, layout = store.client(), store.layout()
    good = write_result(store, "good.pdf", "v1", emails=1)
    instance.add_dynamic_partitions("documents", [good])
    materialized(instance, good)
    publish(store, instance)
    # Another partition whose result claims the same document.
    twin = layout.result_key("twin.pdf")
    data = json.loads(
        client.get_object(Bucket=store.bucket, Key=layout.result_key(good))["Body"].read()
    )
    data["etag"] = "another-version"
    put_json(client, layout, twin, data)
    instance.add_dynamic_partitions("documents", ["twin.pdf"])
    materialized(instance, "twin.pdf")

    result = publish(store, instance, raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["documents_unique"] is False
    assert checks["entities_unique"] is True
    assert latest_version(client, layout) == "v000001"
    assert existing_versions(client, layout) == ["v000001"]
    (event,) = result.get_asset_materialization_events()
    card_key = event.materialization.metadata["rejected_card"].value
    rejected = json.loads(
        client.get_object(Bucket=store.bucket, Key=card_key[: -len(".md")] + ".json")["Body"].read()
    )
    assert rejected["status"] == "rejected"
    assert rejected["checks"]["documents_unique"] is False
    # The failure message says what failed without any value.
    assert "@example.com" not in json.dumps(rejected)


def test_coverage_check_reports_unlisted_and_missing_objects(store, instance) -> None:
    key = write_result(store, "a.pdf", "v1", emails=1)
    instance.add_dynamic_partitions("documents", [key])
    publish(store, instance)
    store.client().put_object(Bucket=store.bucket, Key="documents/late.pdf", Body=b"x")
    result = dg.materialize(
        [pii_labeled_dataset, covers_input_prefix],
        resources={"store": store},
        instance=instance,
        selection=dg.AssetSelection.checks(covers_input_prefix),
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is False
    assert evaluation.metadata["missing_from_dataset"].value == 1
