"""S3 faults that botocore does not retry on its own, and every object's row.

Real moto S3 server behind the fault-injecting proxy (tests/s3_faults.py): connection resets and
stalls in the middle of `GetObject`'s body, objects replaced mid-read, PUTs that keep failing,
keys ending in "/". The slow, random-rate scenarios through `pii-pipeline process` are in
test_s3_faults.py (`make test-faults`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pii_assets.bucket import get_json, list_objects, max_attempts, read_object
from pii_assets.dataset import latest_version, read_version
from pii_assets.dataset_validation import coverage
from pii_assets.definitions import build_definitions
from pii_assets.extraction import OfflineExtractor
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_assets.rollup import full_rows
from pii_pipeline.runner import process
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from tests.s3_faults import Fault, FaultRates, S3FaultProxy
from tests.test_s3_errors import letter_pdf, put, stored_result

KEYS = ["a.pdf", "b.pdf", "c.pdf"]


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    running = S3FaultProxy(s3_endpoint).start()
    yield running
    running.stop()


@pytest.fixture
def proxied(store: DocumentStore, proxy: S3FaultProxy) -> DocumentStore:
    """The test's bucket through the proxy, three attempts per call."""
    return DocumentStore(bucket=store.bucket, endpoint_url=proxy.endpoint_url, max_attempts=3)


def test_client_uses_botocores_standard_or_adaptive_retries(store: DocumentStore) -> None:
    config = store.client().meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 60.0)
    adaptive = DocumentStore(bucket=store.bucket, retry_mode="adaptive", max_attempts=7)
    assert adaptive.client().meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert max_attempts(adaptive.client()) == 7


def test_a_reset_mid_body_is_resumed_with_a_ranged_get(
    proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    data = os.urandom(300_000)
    etag = s3_client.put_object(Bucket=proxied.bucket, Key="big.bin", Body=data)["ETag"]
    proxy.script[("GET", "big.bin")] = ["reset_mid_body", "reset_mid_body"]

    read = read_object(proxied.client(), proxied.bucket, "big.bin")
    assert read.data == data and read.etag == etag.strip('"') and read.size == len(data)
    first, second, third = proxy.requests_for("GET", "big.bin")
    assert "Range" not in first
    # Each resume asks for the rest (what arrived, less the chunk being read when the connection
    # broke), on the condition that the object is still the one begun.
    starts = [int(h["Range"].removeprefix("bytes=").removesuffix("-")) for h in (second, third)]
    assert 0 < starts[0] <= starts[1] < len(data)
    assert second["If-Match"] == third["If-Match"] == etag
    assert proxy.injected["reset_mid_body"] == 2


def test_a_stall_mid_body_past_the_read_timeout_is_resumed(
    store: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    data = os.urandom(100_000)
    s3_client.put_object(Bucket=store.bucket, Key="slow.bin", Body=data)
    impatient = DocumentStore(
        bucket=store.bucket, endpoint_url=proxy.endpoint_url, read_timeout_s=0.5, max_attempts=3
    )
    proxy.rates = FaultRates(stall_s=2.0)
    proxy.script[("GET", "slow.bin")] = ["stall_mid_body"]
    assert read_object(impatient.client(), store.bucket, "slow.bin").data == data
    assert len(proxy.requests_for("GET", "slow.bin")) == 2


def test_an_object_replaced_mid_read_is_read_again_from_its_first_byte(
    proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    old, new = os.urandom(300_000), os.urandom(350_000)
    s3_client.put_object(Bucket=proxied.bucket, Key="doc.bin", Body=old)

    def replace() -> None:
        s3_client.put_object(Bucket=proxied.bucket, Key="doc.bin", Body=new)

    proxy.script[("GET", "doc.bin")] = ["reset_mid_body", replace]
    read = read_object(proxied.client(), proxied.bucket, "doc.bin")
    # Never half of one version and half of another.
    assert read.data == new and read.size == len(new)
    ranges = [h.get("Range") for h in proxy.requests_for("GET", "doc.bin")]
    # The resume was answered 412 (the object changed), so the new object was read whole.
    assert len(ranges) == 3 and ranges[0] is None and ranges[1] and ranges[2] is None


def test_an_error_answer_broken_mid_body_is_retried(
    proxied: DocumentStore, proxy: S3FaultProxy
) -> None:
    """botocore reads a GetObject's error body (NoSuchKey here) outside its retries, and lets
    urllib3's error escape; read_object retries it like any body fault."""
    proxy.script[("GET", "missing.json")] = ["reset_mid_body"]
    assert get_json(proxied.client(), proxied.bucket, "missing.json") is None
    assert len(proxy.requests_for("GET", "missing.json")) == 2


def test_an_oversized_body_is_never_downloaded(proxied: DocumentStore, s3_client) -> None:
    s3_client.put_object(Bucket=proxied.bucket, Key="huge.bin", Body=b"0" * 10_000)
    read = read_object(proxied.client(), proxied.bucket, "huge.bin", max_bytes=9_999)
    assert (read.data, read.size) == (None, 10_000)


@pytest.mark.parametrize("workers", [1, 2])
def test_body_faults_past_every_attempt_fail_that_document_alone(
    proxied: DocumentStore, proxy: S3FaultProxy, s3_client, workers: int
) -> None:
    for name in KEYS:
        put(s3_client, proxied.bucket, name)
    proxy.script[("GET", "documents/b.pdf")] = ["reset_mid_body"] * 3
    opts = ProcessingOptions(extractor=OfflineExtractor(), workers=workers)
    outcomes = dict(process_partitions(proxied.client(), proxied.layout(), KEYS, opts, "run-1"))
    assert outcomes["a.pdf"].status == outcomes["c.pdf"].status == "ok"
    failed = outcomes["b.pdf"]
    assert (failed.status, failed.error_class) == ("failed", "s3_error")
    assert failed.error_message == "documents/b.pdf: ResponseStreamingError on GetObject"
    assert stored_result(proxied, "b.pdf").error_class == "s3_error"


def test_a_result_that_cannot_be_written_fails_its_document_and_the_run_goes_on(
    proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    for name in KEYS:
        put(s3_client, proxied.bucket, name)
    layout = proxied.layout()
    # b.pdf's result can never be written; c.pdf's marker fails once, its retry succeeds.
    proxy.faults[("PUT", layout.result_key("b.pdf"))] = Fault(503, "SlowDown", "reduce rate")
    proxy.script[("PUT", layout.marker_key("c.pdf"))] = ["put_failure"]
    opts = ProcessingOptions(extractor=OfflineExtractor())
    outcomes = dict(process_partitions(proxied.client(), layout, KEYS, opts, "run-1"))

    assert outcomes["a.pdf"].status == outcomes["c.pdf"].status == "ok"
    failed = outcomes["b.pdf"]
    assert (failed.status, failed.error_class, failed.entities) == ("failed", "s3_throttled", [])
    assert failed.etag and failed.extractor == outcomes["a.pdf"].extractor
    assert "could not be written" in failed.error_message and "SlowDown" in failed.error_message
    assert "reduce rate" not in failed.error_message
    # Nothing was stored for it, so the dataset shows it as not processed yet, never as read.
    assert get_json(s3_client, proxied.bucket, layout.result_key("b.pdf")) is None
    rows = {key: result for key, result in full_rows(proxied.client(), layout)}
    assert (rows["b.pdf"].status, rows["b.pdf"].error_class) == ("skipped", "not_yet_processed")
    assert stored_result(proxied, "c.pdf").status == "ok"


def test_a_marker_that_cannot_be_written_leaves_the_failure_as_the_stored_row(
    proxied: DocumentStore, proxy: S3FaultProxy, s3_client
) -> None:
    put(s3_client, proxied.bucket, "a.pdf")
    layout = proxied.layout()
    proxy.faults[("PUT", layout.marker_key("a.pdf"))] = Fault(500, "InternalError")
    opts = ProcessingOptions(extractor=OfflineExtractor())
    ((_, row),) = process_partitions(proxied.client(), layout, ["a.pdf"], opts, "run-1")
    assert (row.status, row.error_class) == ("failed", "s3_error")
    stored = stored_result(proxied, "a.pdf")
    assert (stored.status, stored.error_class) == ("failed", "s3_error")


def test_keys_ending_in_a_slash_have_rows(instance, proxied: DocumentStore, s3_client) -> None:
    bucket = proxied.bucket
    put(s3_client, bucket, "a.pdf")
    # A folder placeholder, a "folder" key with a document in it, and the prefix's own marker.
    s3_client.put_object(Bucket=bucket, Key="documents/scans/", Body=b"")
    s3_client.put_object(Bucket=bucket, Key="documents/odd/", Body=letter_pdf("odd"))
    s3_client.put_object(Bucket=bucket, Key="documents/", Body=b"")
    listed = [info.key for info in list_objects(s3_client, bucket, "documents/")]
    assert listed == ["documents/a.pdf", "documents/odd/", "documents/scans/"]

    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": proxied})
    report = process(defs, instance, batch_size=10, max_runs=5)
    assert report.ok and report.documents_requested == 3
    documents, _ = read_version(
        proxied.client(), proxied.layout(), latest_version(proxied.client(), proxied.layout())
    )
    rows = {r["document_key"]: r for r in documents.to_pylist()}
    assert set(rows) == set(listed)  # every object once, the prefix's own marker excluded
    assert rows["documents/odd/"]["status"] == "ok"
    marker = rows["documents/scans/"]
    assert (marker["status"], marker["error_class"]) == ("skipped", "folder_marker")
    assert "folder marker" in marker["error_message"]
    assert coverage(documents, listed).passed
