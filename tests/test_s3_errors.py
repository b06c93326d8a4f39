"""S3 errors on one object become that object's row, never a failed run.

Real moto S3 server (it honours `StorageClass="GLACIER"` and answers InvalidObjectState to a GET),
real Dagster instance and sensor, real extraction. Faults moto cannot produce (SlowDown,
AccessDenied from a KMS key, InvalidObjectState of an Intelligent-Tiering archive tier) come from
a small proxy between boto3 and moto that answers as S3 would (tests/s3_faults.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pymupdf
import pytest

from pii_assets.bucket import get_json
from pii_assets.dataset import latest_version, read_version
from pii_assets.definitions import build_definitions
from pii_assets.extraction import OfflineExtractor
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.models import DocumentResult
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_pipeline.runner import process
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings, PipelineSettings
from sensors.discovery import DISCOVERY_SENSOR
from tests.s3_faults import Fault, S3FaultProxy
from tests.sample_pages import LETTER_LINES
from tests.test_discovery_sensor import requested_keys


def letter_pdf(label: str) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "\n".join([label, *LETTER_LINES]), fontsize=11)
    return doc.tobytes()


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    running = S3FaultProxy(s3_endpoint).start()
    yield running
    running.stop()


@pytest.fixture
def proxied(store: DocumentStore, proxy: S3FaultProxy) -> DocumentStore:
    """The test's bucket through the proxy; two attempts per call keep botocore's retries short."""
    return DocumentStore(bucket=store.bucket, endpoint_url=proxy.endpoint_url, max_attempts=2)


def put(client, bucket: str, name: str, **kwargs: str) -> str:
    """Upload a one-page letter; returns its ETag."""
    response = client.put_object(
        Bucket=bucket, Key=f"documents/{name}", Body=letter_pdf(name), **kwargs
    )
    return response["ETag"].strip('"')


def stored_result(store: DocumentStore, partition_key: str) -> DocumentResult:
    layout = store.layout()
    data = get_json(store.client(), layout.bucket, layout.result_key(partition_key))
    assert data is not None, partition_key
    return DocumentResult.from_json_dict(data)


def tick(defs: dg.Definitions, instance, store, cursor: str | None) -> dg.SensorResult:
    """One discovery tick, then what the daemon does with its result."""
    sensor = defs.resolve_sensor_def(DISCOVERY_SENSOR)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"store": store})
    result = sensor(context)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def run_requested(defs: dg.Definitions, instance, result: dg.SensorResult) -> None:
    for request in result.run_requests or []:
        outcome = defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
            instance=instance, tags=request.tags, partition_key=request.partition_key
        )
        assert outcome.success


def test_archived_object_is_skipped_without_a_get_until_its_storage_class_changes(
    instance, proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    bucket = proxied.bucket
    put(s3_client, bucket, "a.pdf")
    put(s3_client, bucket, "b.pdf")
    cold_etag = put(s3_client, bucket, "cold.pdf", StorageClass="GLACIER")
    defs = build_definitions(PipelineSettings(), resources={"store": proxied})

    first = tick(defs, instance, proxied, None)
    assert requested_keys(first, instance) == ["a.pdf", "b.pdf"]
    (event,) = first.asset_events
    assert event.partition == "cold.pdf"
    assert event.metadata["status"].value == "skipped"
    assert event.metadata["error_class"].value == "archived"
    run_requested(defs, instance, first)

    assert stored_result(proxied, "a.pdf").status == "ok"
    assert stored_result(proxied, "b.pdf").status == "ok"
    cold = stored_result(proxied, "cold.pdf")
    assert (cold.status, cold.error_class, cold.etag) == ("skipped", "archived", cold_etag)
    assert "GLACIER" in cold.error_message and "cold.pdf" in cold.error_message
    assert proxy.gets("documents/cold.pdf") == 0  # its row came from the listing alone
    marker = get_json(s3_client, bucket, proxied.layout().marker_key("cold.pdf"))
    assert marker["run_id"] == f"sensor:{DISCOVERY_SENSOR}"

    second = tick(defs, instance, proxied, first.cursor)
    assert second.run_requests == [] and second.asset_events == []
    assert proxy.gets("documents/cold.pdf") == 0

    # a.pdf, read while STANDARD, moves to GLACIER by lifecycle (same ETag): its result stays.
    s3_client.copy_object(
        Bucket=bucket,
        Key="documents/a.pdf",
        CopySource={"Bucket": bucket, "Key": "documents/a.pdf"},
        StorageClass="GLACIER",
    )
    # cold.pdf is restored and copied in place to STANDARD: now it is read.
    s3_client.restore_object(Bucket=bucket, Key="documents/cold.pdf", RestoreRequest={"Days": 1})
    s3_client.copy_object(
        Bucket=bucket,
        Key="documents/cold.pdf",
        CopySource={"Bucket": bucket, "Key": "documents/cold.pdf"},
        StorageClass="STANDARD",
    )
    third = tick(defs, instance, proxied, second.cursor)
    assert requested_keys(third, instance) == ["cold.pdf"]
    assert third.asset_events == []  # a.pdf keeps the result it was read for
    run_requested(defs, instance, third)
    assert stored_result(proxied, "cold.pdf").status == "ok"
    assert stored_result(proxied, "a.pdf").status == "ok"
    assert proxy.gets("documents/cold.pdf") == 1
    assert proxy.gets("documents/a.pdf") == 1
    assert tick(defs, instance, proxied, third.cursor).run_requests == []


def test_throttled_object_fails_alone_and_is_requested_again(
    instance, proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(s3_client, proxied.bucket, name)
    proxy.faults[("GET", "documents/b.pdf")] = Fault(503, "SlowDown", "Please reduce your rate.")
    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": proxied})

    # Retries are due at once here (no backoff), so the next call shows the healing.
    heal_now = DiscoverySettings(retry_base_s=0)
    report = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert report.runs == 1 and report.documents_requested == 3
    # Left failed for a transient cause: the call says so and is not ok.
    assert not report.ok and not report.failed_runs
    assert [(p.partition_key, p.error_class, p.attempts) for p in report.postponed] == [
        ("b.pdf", "s3_throttled", 1)
    ]
    # Two attempts (botocore's standard mode, max_attempts counting the first), and no second run
    # for it within the call.
    assert proxy.gets("documents/b.pdf") == 2
    documents, entities = read_version(
        proxied.client(), proxied.layout(), latest_version(proxied.client(), proxied.layout())
    )
    rows = {r["partition_key"]: r for r in documents.to_pylist()}
    assert rows["a.pdf"]["status"] == rows["c.pdf"]["status"] == "ok"
    assert (rows["b.pdf"]["status"], rows["b.pdf"]["error_class"]) == ("failed", "s3_throttled")
    assert "SlowDown" in rows["b.pdf"]["error_message"]
    assert "reduce your rate" not in rows["b.pdf"]["error_message"]
    assert "documents/b.pdf" not in entities.column("document_key").to_pylist()

    # The next call (a later discovery tick) requests it again; S3 answers this time.
    del proxy.faults[("GET", "documents/b.pdf")]
    again = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert again.ok and again.documents_requested == 1
    assert stored_result(proxied, "b.pdf").status == "ok"
    last = process(defs, instance, batch_size=10, max_runs=5, discovery_settings=heal_now)
    assert last.documents_requested == 0


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    ("fault", "status", "error_class"),
    [
        # A KMS key the role cannot use: S3 answers AccessDenied.
        (
            Fault(403, "AccessDenied", "User: arn:aws:sts::1:assumed-role/r is not authorized"),
            "failed",
            "access_denied",
        ),
        # An Intelligent-Tiering archive tier, which no listing shows.
        (
            Fault(403, "InvalidObjectState", "not valid for the storage class"),
            "skipped",
            "archived",
        ),
        (Fault(400, "InvalidArgument", "some other refusal"), "failed", "s3_error"),
    ],
)
def test_s3_error_on_one_object_is_its_row(
    proxied: DocumentStore,
    proxy: S3FaultProxy,
    s3_client,
    workers: int,
    fault: Fault,
    status: str,
    error_class: str,
) -> None:
    etags = {name: put(s3_client, proxied.bucket, name) for name in ("a.pdf", "b.pdf", "c.pdf")}
    proxy.faults[("GET", "documents/b.pdf")] = fault
    opts = ProcessingOptions(extractor=OfflineExtractor(), workers=workers)
    outcomes = dict(
        process_partitions(
            proxied.client(), proxied.layout(), ["a.pdf", "b.pdf", "c.pdf"], opts, "run-1"
        )
    )
    assert outcomes["a.pdf"].status == outcomes["c.pdf"].status == "ok"
    assert outcomes["a.pdf"].entities
    failed = outcomes["b.pdf"]
    assert (failed.status, failed.error_class) == (status, error_class)
    assert failed.etag == etags["b.pdf"]  # from a HEAD, so a full rebuild keeps the row
    assert "documents/b.pdf" in failed.error_message and fault.code in failed.error_message
    assert fault.message not in failed.error_message  # S3's text can name roles and keys
    assert stored_result(proxied, "b.pdf").error_class == error_class
    marker = get_json(s3_client, proxied.bucket, proxied.layout().marker_key("b.pdf"))
    assert marker["error_class"] == error_class
