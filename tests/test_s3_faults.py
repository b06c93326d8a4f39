"""`pii-pipeline process` against S3 at its worst: the real CLI, all its S3 traffic (boto3's and
delta-rs's, which writes and reads the dataset's Delta tables) through the fault-injecting proxy
(tests/s3_faults.py) in front of the real moto server, random faults at set rates. Every run must
succeed, and every object be in the latest version exactly once, with its entity rows once.

Slow (14 minutes on 2 busy shared cores): `make test-faults` runs them (pytest marker `faults`),
the default suite does not. The fast, scripted fault tests are in test_s3_resilience.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pii_assets.bucket import list_objects
from pii_assets.dataset import latest_version, read_version
from pii_pipeline.corpus import GeneratedDocument, generate_corpus
from resources.s3 import DocumentStore
from tests.s3_faults import FaultRates, S3FaultProxy

pytestmark = pytest.mark.faults
DOCUMENTS = 10


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    running = S3FaultProxy(s3_endpoint).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def corpus() -> list[GeneratedDocument]:
    return generate_corpus(DOCUMENTS, seed=3)


@pytest.fixture(scope="module")
def later() -> list[GeneratedDocument]:
    """Two documents of another draw: new content for the first object (the same kind: both are
    the first of their draw), and a new object."""
    return generate_corpus(2, seed=4)


def run_process(
    store: DocumentStore, proxy: S3FaultProxy, home: Path, values: set[str], **env: str
) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", "process", "--json"],
        env={
            **os.environ,
            "DAGSTER_HOME": str(home),
            "PII_S3_BUCKET": store.bucket,
            "PII_BATCH_SIZE": "4",
            "AWS_ENDPOINT_URL_S3": proxy.endpoint_url,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # No value found in the documents reaches the terminal, faults or not.
    output = done.stdout + done.stderr
    assert not [value for value in values if value in output]
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["failed_runs"] == []
    return report


def assert_every_object_once(store: DocumentStore, s3_client, version: str) -> None:
    layout = store.layout()
    assert latest_version(s3_client, layout) == version
    listed = sorted(info.key for info in list_objects(s3_client, store.bucket, "documents/"))
    documents, entities = read_version(s3_client, layout, version)
    keys = documents.column("document_key").to_pylist()
    assert sorted(keys) == listed  # each object exactly once
    statuses = dict(zip(keys, documents.column("status").to_pylist(), strict=True))
    assert set(statuses.values()) == {"ok"}, statuses  # no fault became a document's row
    # No commit was made twice: each document's entity rows once, none of a document not there.
    ids = entities.column("entity_id").to_pylist()
    assert len(ids) == len(set(ids)) and entities.num_rows > 0
    assert set(entities.column("document_key").to_pylist()) <= set(keys)


@pytest.fixture
def corpus_bucket(store: DocumentStore, s3_client, corpus) -> DocumentStore:
    for doc in corpus:
        s3_client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    return store


@pytest.mark.parametrize(
    ("rates", "env", "kinds"),
    [
        # The case: a 5% reset rate, before answers and in the middle of bodies.
        (FaultRates(reset=0.05, reset_mid_body=0.05, seed=1), {}, {"reset", "reset_mid_body"}),
        (FaultRates(slow_down=0.1, latency_s=0.02, seed=2), {}, {"slow_down"}),
        (
            FaultRates(put_failure=0.15, methods=frozenset({"PUT"}), seed=3),
            {},
            {"put_failure"},
        ),
        # Stalls past the read timeout, before the answer and mid-body: timeouts retried.
        (
            FaultRates(
                stall=0.03, stall_mid_body=0.1, stall_s=2.5, methods=frozenset({"GET"}), seed=4
            ),
            {"PII_S3_READ_TIMEOUT_S": "1"},
            {"stall", "stall_mid_body"},
        ),
        # Writes S3 carried out whose answers were lost: retried writes must not land twice.
        (
            FaultRates(lost_answer=0.05, methods=frozenset({"PUT", "POST", "DELETE"}), seed=5),
            {},
            {"lost_answer"},
        ),
    ],
    ids=["resets", "slow-down", "failing-puts", "stalls", "lost-answers"],
)
def test_process_survives(
    corpus_bucket: DocumentStore,
    proxy: S3FaultProxy,
    s3_client,
    tmp_path: Path,
    rates: FaultRates,
    env: dict[str, str],
    kinds: set[str],
    corpus: list[GeneratedDocument],
    later: list[GeneratedDocument],
) -> None:
    values = {truth.text for doc in corpus + later for truth in doc.truth}
    proxy.rates = rates
    first = run_process(corpus_bucket, proxy, tmp_path / "home", values, **env)
    assert first["documents_processed"] == DOCUMENTS
    assert first["publish_status"] == "published"
    assert_every_object_once(corpus_bucket, s3_client, "v000001")
    # Again, with nothing new: nothing is extracted again, and no document's rows change, so no
    # version is committed.
    again = run_process(corpus_bucket, proxy, tmp_path / "home", values, **env)
    assert again["documents_processed"] == 0 and again["dataset_version"] == "v000001"
    assert again["publish_status"] == "unchanged"
    # One object's content replaced and one added: a commit replacing rows ("replace where").
    bucket = corpus_bucket.bucket
    s3_client.put_object(Bucket=bucket, Key=f"documents/{corpus[0].name}", Body=later[0].data)
    s3_client.put_object(Bucket=bucket, Key=f"documents/added-{later[1].name}", Body=later[1].data)
    third = run_process(corpus_bucket, proxy, tmp_path / "home", values, **env)
    assert third["documents_processed"] == 2 and third["dataset_version"] == "v000002"
    assert_every_object_once(corpus_bucket, s3_client, "v000002")
    assert kinds <= set(proxy.injected), proxy.injected  # the faults did happen
    # delta-rs's requests went through the proxy too (its commits are conditional PUTs).
    commits = [e for e in proxy.recorded() if e.method == "PUT" and "/_delta_log/" in e.key]
    assert commits and all(e.header("If-None-Match") == "*" for e in commits)
