"""Dataset versions built incrementally by the real asset on a real instance and S3 server."""

from __future__ import annotations

import json

import dagster as dg
import pyarrow.dataset as ds

from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.bucket import put_json
from pii_assets.dataset import existing_versions, latest_version, read_manifest, read_version
from pii_assets.dataset_asset import covers_input_prefix, pii_labeled_dataset
from pii_assets.models import DocumentResult, Entity, Status
from tests.test_dataset import plain_pyarrow_fs


def write_result(store, name: str, label: str, emails: int, page: int = 1) -> str:
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
        processed_at="2026-01-01T00:00:00+00:00",
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


def publish(store, instance, full: bool = False, raise_on_error: bool = True):
    return dg.materialize(
        [pii_labeled_dataset],
        resources={"store": store},
        instance=instance,
        run_config={"ops": {"pii_labeled_dataset": {"config": {"full_rebuild": full}}}},
        raise_on_error=raise_on_error,
        selection=[pii_labeled_dataset.key],
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


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

    second = metadata(publish(store, instance))
    assert second["build"] == "incremental" and second["version"] == "v000002"
    assert (second["documents_added"], second["documents_removed"]) == (1, 1)
    assert second["documents_changed"] == 2
    documents, entities = read_version(client, layout, "v000002")
    assert sorted(documents.column("document_key").to_pylist()) == [
        f"{layout.input_prefix}doc{i}.pdf" for i in (0, 1, 2, 3, 5)
    ]
    per_doc = {}
    for key in entities.column("document_key").to_pylist():
        per_doc[key] = per_doc.get(key, 0) + 1
    # Replaced, never duplicated: doc0 has exactly its 3 new entities, doc1 none.
    assert per_doc[f"{layout.input_prefix}doc0.pdf"] == 3
    assert f"{layout.input_prefix}doc1.pdf" not in per_doc
    assert entities.num_rows == 3 + 2 + 2 + 1

    # An incremental build equals a full rebuild of the same state.
    full = metadata(publish(store, instance, full=True))
    full_docs, full_ents = read_version(client, layout, full["version"])
    assert full["build"] == "full"
    assert (
        full_docs.sort_by("document_key")
        .drop_columns(["processed_at"])
        .equals(documents.sort_by("document_key").drop_columns(["processed_at"]))
    )
    assert sorted(full_ents.column("entity_id").to_pylist()) == sorted(
        entities.column("entity_id").to_pylist()
    )

    # Every version stays readable with plain pyarrow.
    fs = plain_pyarrow_fs(store.endpoint_url)
    for version in existing_versions(client, layout):
        root = f"{store.bucket}/{layout.dataset_prefix}{version}"
        for table in ("documents", "entities"):
            ds.dataset(f"{root}/{table}", filesystem=fs, format="parquet").to_table()
        card = client.get_object(
            Bucket=store.bucket, Key=f"{layout.dataset_prefix}{version}/README.md"
        )
        assert f"# PII labeled dataset {version}" in card["Body"].read().decode()


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
    put_json(client, layout, twin, data)
    instance.add_dynamic_partitions("documents", ["twin.pdf"])
    materialized(instance, "twin.pdf")

    result = publish(store, instance, raise_on_error=False)
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["documents_unique"] is False
    assert checks["entities_unique"] is True
    assert latest_version(client, layout) == "v000001"
    rejected = read_manifest(client, layout, "v000002")
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
