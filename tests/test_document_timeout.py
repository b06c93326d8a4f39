"""The per-document time limit (PII_DOCUMENT_TIMEOUT_S): a PDF whose content stream inflates to
tens of megabytes (a "zip bomb" content stream, built here) fails as `timeout` within the limit,
the other documents of its batch are read as usual, and nothing the reading child started
outlives it. Real PyMuPDF, real S3 server, real Dagster instance."""

from __future__ import annotations

import os
import subprocess
import time
import zlib

import pymupdf
import pytest

from pii_assets.deadline import extract_within_limit, isolated
from pii_assets.definitions import build_definitions
from pii_assets.documents import DocumentLimits
from pii_assets.documents.forked import run_forked
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.jobs import EXTRACT_JOB, failed_only_by_documents
from pii_pipeline.corpus import generate_corpus
from resources.documents import DocumentOptions
from resources.settings import PipelineSettings, build_document_options
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG

# ~40 MB of text operators from ~120 KB: MuPDF parses it for several seconds (measured: 20 MB
# in 2.2 s), uninterruptibly; the case was 4 GiB from 7 KB, read for 95 s.
INFLATED_MB = 40
LIMIT_S = 1.0


def content_stream_bomb(inflated_mb: int = INFLATED_MB) -> bytes:
    """A one-page PDF whose page content stream is `inflated_mb` MB of text operators,
    Flate-compressed chunk by chunk (never held inflated in memory here)."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Quarterly report")
    xref = page.get_contents()[0]
    compressor = zlib.compressobj(9)
    chunk = b"BT /helv 1 Tf 1 0 0 1 10 10 Tm (x) Tj ET\n" * 25_000  # ~1 MB
    data = b"".join(compressor.compress(chunk) for _ in range(inflated_mb)) + compressor.flush()
    doc.update_stream(xref, data, compress=False)
    doc.xref_set_key(xref, "Filter", "/FlateDecode")
    return doc.tobytes()


def text_pdf(number: int) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text(
        (72, 72), f"Dear Ms Example,\nplease call 555-0100 about order {number}.\nRegards"
    )
    return doc.tobytes()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return content_stream_bomb()


def test_a_content_stream_bomb_fails_as_timeout_within_the_limit(bomb: bytes) -> None:
    extractor = OfflineExtractor()
    limits = DocumentLimits(document_timeout_s=LIMIT_S)
    assert isolated(extractor, limits)
    # The first document of a process also warms the caches its children inherit (once).
    first = extract_within_limit(
        text_pdf(0), document_key="documents/a.pdf", etag="e", extractor=extractor, limits=limits
    )
    assert first.status == "ok"
    started = time.monotonic()
    result = extract_within_limit(
        bomb, document_key="documents/bomb.pdf", etag="e", extractor=extractor, limits=limits
    )
    took = time.monotonic() - started
    assert (result.status, result.error_class) == ("failed", "timeout")
    assert result.error_message == (
        "documents/bomb.pdf: reading the document took longer than 1 s (PII_DOCUMENT_TIMEOUT_S)"
    )
    assert result.entities == [] and result.extractor == "local"
    assert LIMIT_S <= took < LIMIT_S + 2.0, took


def test_a_document_read_in_the_child_equals_one_read_in_process() -> None:
    doc = generate_corpus(4, seed=5)[0]
    extractor = OfflineExtractor()
    common = {"document_key": f"documents/{doc.name}", "etag": "e", "extractor": extractor}
    child = extract_within_limit(doc.data, limits=DocumentLimits(document_timeout_s=60), **common)
    here = extract_document(doc.data, limits=DocumentLimits(document_timeout_s=0), **common)
    assert child.status == here.status == "ok"
    assert child.entities == here.entities and child.entities
    assert (child.pages, child.classification, child.coverage) == (
        here.pages,
        here.classification,
        here.coverage,
    )


def test_nothing_the_child_started_outlives_the_limit(tmp_path) -> None:
    """A program the child starts in a session of its own (as LibreOffice is) dies with it."""
    pid_file = tmp_path / "pid"

    def work() -> None:
        program = subprocess.Popen(["sleep", "60"], start_new_session=True)
        pid_file.write_text(str(program.pid))
        time.sleep(60)

    outcome = run_forked(work, timeout_s=1.0)
    assert outcome.timed_out and not outcome.completed
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def test_a_child_that_dies_fails_its_document_not_the_run() -> None:
    outcome = run_forked(lambda: os.kill(os.getpid(), 9), timeout_s=10)
    assert not outcome.completed and not outcome.timed_out and outcome.exit_code == -9


def test_the_limit_is_validated_where_it_is_read() -> None:
    assert build_document_options({}).limits().document_timeout_s == 300
    assert build_document_options({"PII_DOCUMENT_TIMEOUT_S": "0"}).limits().document_timeout_s == 0
    for bad, why in (("-1", "at least 0"), ("abc", "an integer"), ("100000", "at most 86400")):
        with pytest.raises(ValueError, match=f"PII_DOCUMENT_TIMEOUT_S must be {why}"):
            build_document_options({"PII_DOCUMENT_TIMEOUT_S": bad})


def test_the_bomb_fails_and_its_batch_goes_on(store, instance, bomb: bytes) -> None:
    client = store.client()
    layout = store.layout()
    names = ["a-bomb.pdf", "letter-1.pdf", "letter-2.pdf", "letter-3.pdf"]
    for name, data in zip(names, [bomb, *(text_pdf(n) for n in range(1, 4))], strict=True):
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    keys = [layout.partition_key(f"documents/{name}") for name in names]
    instance.add_dynamic_partitions("documents", keys)
    # Longer than a text PDF takes on a loaded machine, shorter than the bomb's reading.
    documents = DocumentOptions(document_timeout_s=3)
    defs = build_definitions(PipelineSettings(), resources={"store": store, "documents": documents})
    started = time.monotonic()
    result = defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        raise_on_error=False,
    )
    assert time.monotonic() - started < 60
    # The run fails only through its failed document (shown failed in the UI); the batch went on.
    assert failed_only_by_documents(instance.get_run_by_id(result.run_id))
    rows = {
        event.materialization.partition: event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert set(rows) == set(keys[1:])
    assert {m["status"].value for m in rows.values()} == {"ok"}, rows
    (failed,) = [
        event.asset_observation_data.asset_observation
        for event in result.all_events
        if event.event_type_value == "ASSET_OBSERVATION"
    ]
    assert failed.partition == keys[0]
    assert (failed.metadata["status"].value, failed.metadata["error_class"].value) == (
        "failed",
        "timeout",
    )
