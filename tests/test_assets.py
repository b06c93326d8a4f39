"""The assets on a real Dagster instance against the real S3 server, with real extraction."""

from __future__ import annotations

import io
import json
import zipfile

import dagster as dg

from pii_assets.asset_names import DATASET_ASSET, DOCUMENT_ASSET
from pii_assets.definitions import build_definitions
from pii_assets.event_log import document_outcomes, record_metadata
from pii_assets.jobs import EXTRACT_JOB, FAILED_DOCUMENTS_TAG, PUBLISH_JOB
from pii_pipeline.corpus import generate_corpus
from resources.settings import PipelineSettings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG


def definitions_on(store) -> dg.Definitions:
    return build_definitions(PipelineSettings(), resources={"store": store})


def latest_partition_metadata(instance: dg.DagsterInstance, key: str) -> dict:
    """The partition's latest outcome: a materialization, or a failed document's observation."""
    records = [r for r in document_outcomes(instance) if r.partition_key == key]
    assert records
    return record_metadata(records[-1])


_NAME_SSN = "634-12-9087"


def test_ranged_run_records_each_partition_and_survives_bad_documents(store, instance) -> None:
    client = store.client()
    corpus = generate_corpus(2, seed=3)
    uploads = {doc.name: doc.data for doc in corpus}
    uploads["broken.pdf"] = b"%PDF-1.7\n1 0 obj << /Type /Catalog"  # truncated upload
    uploads["empty.png"] = b""
    # An archive whose broken member's name holds a value: partial; Dagster shows the name as a
    # digest, the dataset row keeps it.
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("notes.txt", "Nothing personal here.\n")
        zf.writestr(f"scan of {_NAME_SSN}.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    uploads["bundle.zip"] = bundle.getvalue()
    for name, data in uploads.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    keys = [store.layout().partition_key(f"documents/{name}") for name in uploads]
    instance.add_dynamic_partitions("documents", keys)

    defs = definitions_on(store)
    result = defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        raise_on_error=False,
    )
    # The two bad documents fail the run (tagged with their count); the others are materialized.
    assert not result.success
    assert instance.get_run_by_id(result.run_id).tags[FAILED_DOCUMENTS_TAG] == "2"
    materialized = {e.materialization.partition for e in result.get_asset_materialization_events()}
    assert materialized == set(keys) - {"broken.pdf", "empty.png"}

    metadata = {key: latest_partition_metadata(instance, key) for key in keys}
    for doc in corpus:
        meta = metadata[store.layout().partition_key(f"documents/{doc.name}")]
        assert meta["status"] == "ok"
        assert meta["entities"] > 0 and meta["pages"] >= 1
        assert meta["extractor"] == "local" and meta["cost_usd"] == 0.0
    assert metadata["broken.pdf"]["status"] == "failed"
    assert metadata["broken.pdf"]["error_class"] == "corrupt"
    assert metadata["empty.png"]["error_class"] == "empty"
    # Per-partition values, not one value copied over the range.
    assert len({m["etag"] for m in metadata.values()}) == len(keys)

    truth_values = {t.text for doc in corpus for t in doc.truth}
    for key in keys:
        marker_key = store.layout().marker_key(key)
        raw = client.get_object(Bucket=store.bucket, Key=marker_key)["Body"].read().decode()
        marker = json.loads(raw)
        assert marker["run_id"] == result.run_id
        assert not [v for v in truth_values if v in raw]
    for meta in metadata.values():
        assert not [v for v in truth_values if v in json.dumps(meta, default=str)]
    assert metadata["bundle.zip"]["status"] == "partial"
    assert metadata["bundle.zip"]["unread"][0]["part"].startswith("member:#")
    logged = " ".join(str(e.message) for e in instance.all_logs(result.run_id))
    assert _NAME_SSN not in json.dumps(metadata, default=str) + logged

    published = defs.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance)
    assert published.success
    (event,) = published.get_asset_materialization_events()
    assert event.asset_key == dg.AssetKey(DATASET_ASSET)
    dataset_meta = event.materialization.metadata
    assert dataset_meta["dagster/row_count"].value == len(uploads)
    assert dataset_meta["version"].value == "v000001"
    assert sum(dataset_meta["entities_by_type"].value.values()) == dataset_meta["entities"].value


def test_definitions_load_with_assets_sensors_and_schedule() -> None:
    defs = build_definitions(PipelineSettings())
    repo = defs.get_repository_def()
    assert {s.name for s in repo.sensor_defs} == {
        "document_discovery",
        "dataset_publisher",
        "run_failure_notifier",
        "run_outcome_notifier",
    }
    assert {s.name for s in repo.schedule_defs} == {"daily_dataset_publish"}
    assert repo.get_schedule_def("daily_dataset_publish").cron_schedule == "0 2 * * *"
    assert {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()} == {
        DOCUMENT_ASSET,
        DATASET_ASSET,
        "redacted_documents",
        "document_reviews",
    }
    for sensor in repo.sensor_defs:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
