"""The generated bad-input corpus through the real pipeline: real S3 server, real Dagster instance,
real PyMuPDF, Tesseract and LibreOffice. Every object ends up once in the dataset with the status
and error class it deserves, the batch fails only through its failed documents (each other one is
materialized), and no password leaks anywhere."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest

from pii_assets.dataset import latest_version, read_version
from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB, FAILED_DOCUMENTS_TAG, PUBLISH_JOB
from resources.documents import DocumentOptions
from resources.settings import PipelineSettings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG
from tests.bad_corpus import ALL_PASSWORDS, CONFIGURED_PASSWORDS, PII_VALUES, bad_corpus

MAX_PAGES = 3
MAX_FILE_MB = 1


@pytest.fixture(scope="module")
def corpus():
    return {item.name: item for item in bad_corpus(max_file_bytes=MAX_FILE_MB << 20, max_pages=3)}


def test_every_bad_input_gets_its_status_through_the_pipeline(
    store, instance, corpus, caplog
) -> None:
    caplog.set_level(logging.INFO)
    client = store.client()
    layout = store.layout()
    for name, item in corpus.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=item.data)
    keys = {layout.partition_key(f"documents/{name}"): name for name in corpus}
    instance.add_dynamic_partitions("documents", list(keys))
    documents = DocumentOptions(
        passwords=",".join(CONFIGURED_PASSWORDS), max_file_mb=MAX_FILE_MB, max_pages=MAX_PAGES
    )
    defs = build_definitions(PipelineSettings(), resources={"store": store, "documents": documents})

    first, *_, last = keys
    result = defs.resolve_job_def(EXTRACT_JOB).execute_in_process(
        instance=instance, tags={RANGE_START_TAG: first, RANGE_END_TAG: last}, raise_on_error=False
    )
    # One bad document never harms the others: each is materialized; the failed ones are
    # observed and make the run fail, tagged with their count (tests/test_failed_documents.py).
    failed = {key for key, name in keys.items() if corpus[name].status == "failed"}
    assert failed and not result.success
    assert instance.get_run_by_id(result.run_id).tags[FAILED_DOCUMENTS_TAG] == str(len(failed))
    materialized = {e.materialization.partition for e in result.get_asset_materialization_events()}
    assert materialized == set(keys) - failed
    published = defs.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance)
    assert published.success

    # Nothing lost: every object is in the dataset once, with the status it deserves.
    docs_table, entities_table = read_version(client, layout, latest_version(client, layout))
    rows = docs_table.to_pylist()
    assert sorted(row["document_key"] for row in rows) == sorted(f"documents/{n}" for n in corpus)
    problems = []
    for row in rows:
        item = corpus[row["document_key"].removeprefix("documents/")]
        got = (row["status"], row["error_class"])
        if got != (item.status, item.error_class):
            problems.append((item.name, got, row["error_message"]))
            continue
        if item.status != "ok":
            assert row["error_message"].startswith(row["document_key"] + ": "), row
            assert not any(value in row["error_message"] for value in PII_VALUES)
        if item.pages is not None:
            assert (row["pages"], row["truncated"]) == (item.pages, item.truncated), item.name
    assert problems == []

    found: dict[str, set[str]] = {}
    for entity in entities_table.to_pylist():
        found.setdefault(entity["document_key"].removeprefix("documents/"), set()).add(
            entity["entity_type"]
        )
    for item in corpus.values():
        missing = item.entity_types - found.get(item.name, set())
        assert not missing, (item.name, missing)
    # Truncation: only the first MAX_PAGES pages were read.
    assert {
        e["page"] for e in entities_table.to_pylist() if e["document_key"].endswith("long.pdf")
    } == set(range(1, MAX_PAGES + 1))

    # No password anywhere: results, markers, dataset rows, event log, Python logs.
    texts = []
    for prefix in (layout.results_prefix, layout.processed_prefix):
        listing = client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
        for obj in listing.get("Contents", []):
            texts.append(client.get_object(Bucket=store.bucket, Key=obj["Key"])["Body"].read())
    assert len(texts) == 2 * len(corpus)
    texts.append(json.dumps(rows, default=str).encode())
    texts.append(json.dumps(entities_table.to_pylist(), default=str).encode())
    for run_id in (result.run_id, published.run_id):
        texts.extend(repr(entry).encode() for entry in instance.all_logs(run_id))
    texts.extend(record.getMessage().encode() for record in caplog.records)
    for password in ALL_PASSWORDS:
        leaks = [text[:80] for text in texts if password.encode() in text]
        assert not leaks, "a password leaked"

    # Document content stays out of markers and metadata (entities live only in results).
    for key in keys:
        marker = client.get_object(Bucket=store.bucket, Key=layout.marker_key(key))["Body"].read()
        assert not any(value.encode() in marker for value in PII_VALUES)
    for entry in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ):
        assert not any(value in repr(entry) for value in PII_VALUES)
