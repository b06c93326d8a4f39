"""Failed documents look failed: what the Dagster UI shows, read through the instance API and
Dagster's GraphQL API (the UI's own queries), after `pii-pipeline process`'s code path ran a batch
holding a corrupt PDF and an empty file next to good documents on the real S3 server."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from pii_assets.asset_names import (
    DATASET_ASSET,
    DATASET_ASSET_KEY,
    DOCUMENT_ASSET,
    DOCUMENT_ASSET_KEY,
)
from pii_assets.dataset import latest_version, read_version
from pii_assets.definitions import build_definitions
from pii_assets.document_asset import RETRY_ON_STEP_FAILURE_TAG
from pii_assets.event_log import document_outcomes, record_metadata, spend_today_usd
from pii_assets.jobs import EXTRACT_JOB, FAILED_DOCUMENTS_TAG
from pii_assets.partitions import documents_partitions
from pii_pipeline.corpus import single_page_pdf
from pii_pipeline.runner import process, stale_partitions
from resources.settings import PipelineSettings
from sensors.publish import build_publish_sensor

GOOD = {f"good{i}.pdf": [f"Customer {i}", f"Email: person{i}@example.com"] for i in range(2)}
BAD = {"broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog", "empty.png": b""}
VALUES = [line.split(": ")[-1] for lines in GOOD.values() for line in lines]
REPO_ROOT = Path(__file__).resolve().parents[1]
# The dataset asset's totals: whole version, this version's own rows, today's spend and budget.
TOTALS = (
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "version_cost_usd",
    "version_input_tokens",
    "version_output_tokens",
    "documents",
    "documents_by_status",
    "success_rate",
    "spend_today_usd",
    "daily_budget_usd",
    "daily_budget_remaining_usd",
)


@pytest.fixture
def processed(store, instance):
    """Four documents, two of them bad, processed in one batch (one run) and published."""
    client = store.client()
    for name, lines in GOOD.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=single_page_pdf(lines))
    for name, data in BAD.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": store})
    report = process(defs, instance, batch_size=10, max_runs=5)
    return defs, report


def test_failed_partitions_are_failed_and_the_run_names_them(store, instance, processed) -> None:
    defs, report = processed
    keys = sorted([*GOOD, *BAD])
    statuses = instance.get_status_by_partition(DOCUMENT_ASSET_KEY, keys, documents_partitions)
    assert statuses == {
        "broken.pdf": dg.AssetPartitionStatus.FAILED,
        "empty.png": dg.AssetPartitionStatus.FAILED,
        "good0.pdf": dg.AssetPartitionStatus.MATERIALIZED,
        "good1.pdf": dg.AssetPartitionStatus.MATERIALIZED,
    }

    # The run failed through its documents only: tagged, not retried, and `process` went on.
    (record,) = instance.get_run_records(dg.RunsFilter(job_name=EXTRACT_JOB))
    run = record.dagster_run
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags[FAILED_DOCUMENTS_TAG] == "2"
    assert run.tags[RETRY_ON_STEP_FAILURE_TAG] == "false"
    assert report.ok and report.failed_runs == [] and report.publish_status == "published"

    # Its log names the failed documents with their error classes; no content anywhere.
    logs = instance.all_logs(run.run_id)
    messages = [entry.user_message for entry in logs]
    named = [m for m in messages if "2 of 4 documents failed" in m]
    assert named and "broken.pdf (corrupt)" in named[0] and "empty.png (empty)" in named[0]
    (failure,) = [e for e in logs if e.dagster_event and e.dagster_event.is_step_failure]
    error = failure.dagster_event.step_failure_data
    assert "broken.pdf (corrupt), empty.png (empty)" in error.error.message
    assert error.user_failure_data.metadata["failed_by_error_class"].value == {
        "corrupt": 1,
        "empty": 1,
    }
    every_text = json.dumps([repr(entry) for entry in logs])
    assert not [value for value in VALUES if value in every_text]

    # Each failed document's outcome carries its error class and message, one click away.
    outcomes = {r.partition_key: r for r in document_outcomes(instance)}
    broken = outcomes["broken.pdf"]
    assert broken.asset_observation is not None and broken.asset_materialization is None
    meta = record_metadata(broken)
    assert meta["status"] == "failed" and meta["error_class"] == "corrupt"
    assert meta["error_message"].startswith("documents/broken.pdf: ")
    assert outcomes["good0.pdf"].asset_materialization is not None

    # The dataset keeps the failed rows; nothing is stale; the spend counts every outcome.
    client, layout = store.client(), store.layout()
    documents, _ = read_version(client, layout, latest_version(client, layout))
    rows = {r["document_key"]: (r["status"], r["error_class"]) for r in documents.to_pylist()}
    assert rows["documents/broken.pdf"] == ("failed", "corrupt")
    assert rows["documents/empty.png"] == ("failed", "empty")
    assert rows["documents/good0.pdf"] == ("ok", None)
    code_version = defs.get_assets_def(DOCUMENT_ASSET_KEY).code_versions_by_key[DOCUMENT_ASSET_KEY]
    assert stale_partitions(instance, code_version) == []
    assert spend_today_usd(instance) == 0.0

    # The dataset's totals, plotted by the UI over its materializations.
    latest = instance.get_latest_materialization_event(DATASET_ASSET_KEY)
    totals = {k: v.value for k, v in latest.asset_materialization.metadata.items()}
    assert totals["documents_failed"] == 2 and totals["documents_ok"] == 2
    assert totals["success_rate"] == 0.5
    assert totals["documents_by_status"]["failed"] == 2
    for key in TOTALS:
        assert key in totals, key
    assert totals["spend_today_usd"] == 0.0 and totals["daily_budget_remaining_usd"] == -1.0

    # A second process call finds nothing to do: failed documents are not requested again.
    again = process(defs, instance, batch_size=10, max_runs=5, publish=False)
    assert again.runs == 0


def test_publish_sensor_counts_a_run_failed_by_its_documents(store, instance, processed) -> None:
    sensor = build_publish_sensor(min_interval_s=0)
    with dg.build_sensor_context(instance=instance) as context:
        result = sensor(context)
    assert len(result.run_requests) == 1


def test_graphql_shows_the_failed_partitions(store, instance, processed, monkeypatch) -> None:
    """The UI's data: partition stats and statuses of `document_pii`, the failed partition's
    observation metadata, the run's status and tags, from the code location as `dagster dev`
    loads it (a code server process)."""
    monkeypatch.setenv("PII_S3_BUCKET", store.bucket)
    (record,) = instance.get_run_records(dg.RunsFilter(job_name=EXTRACT_JOB))
    query = """
    query ($key: AssetKeyInput!, $dataset: AssetKeyInput!, $runId: ID!) {
      assetNodeOrError(assetKey: $key) {
        ... on AssetNode {
          partitionStats { numMaterialized numFailed numPartitions }
          assetPartitionStatuses {
            ... on DefaultPartitionStatuses { materializedPartitions failedPartitions }
          }
          assetObservations(partitions: ["broken.pdf"]) {
            partition
            description
            metadataEntries { label ... on TextMetadataEntry { text } }
          }
        }
      }
      dataset: assetNodeOrError(assetKey: $dataset) {
        ... on AssetNode { assetMaterializations(limit: 1) { metadataEntries { label } } }
      }
      runOrError(runId: $runId) {
        ... on Run { status tags { key value } }
      }
    }
    """
    variables = {
        "key": {"path": [DOCUMENT_ASSET]},
        "dataset": {"path": [DATASET_ASSET]},
        "runId": record.dagster_run.run_id,
    }
    with define_out_of_process_context(
        str(REPO_ROOT / "workspace.yaml"), None, instance
    ) as context:
        result = execute_dagster_graphql(context, query, variables=variables)
    assert not result.errors, result.errors
    node = result.data["assetNodeOrError"]
    assert node["partitionStats"] == {"numMaterialized": 2, "numFailed": 2, "numPartitions": 4}
    statuses = node["assetPartitionStatuses"]
    assert sorted(statuses["failedPartitions"]) == ["broken.pdf", "empty.png"]
    assert sorted(statuses["materializedPartitions"]) == ["good0.pdf", "good1.pdf"]
    (observation,) = node["assetObservations"]
    assert observation["description"] == "failed: corrupt"
    entries = {e["label"]: e.get("text") for e in observation["metadataEntries"]}
    assert entries["status"] == "failed" and entries["error_class"] == "corrupt"
    assert entries["error_message"].startswith("documents/broken.pdf: ")
    (published,) = result.data["dataset"]["assetMaterializations"]
    assert set(TOTALS) <= {entry["label"] for entry in published["metadataEntries"]}
    run = result.data["runOrError"]
    assert run["status"] == "FAILURE"
    assert {"key": FAILED_DOCUMENTS_TAG, "value": "2"} in run["tags"]
