"""LLM throughput: 200 single-page documents against the fake OpenAI-compatible server answering
each call after 500 ms, with a page concurrency of 8. Ideal: 8 / 0.5 s = 16 pages/s.

The S3 server (moto) and the fake endpoint run in child processes, as real S3 and a real endpoint
are remote: their CPU work must not compete with the pipeline for this process's GIL. Measured
through the processing code the asset runs (fetch, open, call, locate, record to S3), which is
the LLM throughput, and through a whole extraction run (`execute_in_process`), which adds
Dagster's event-log writes for 200 partition materializations (see the run_overhead benchmark).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import dagster as dg

from bench.common import upload_one_page_documents
from pii_assets.asset_names import DOCUMENT_ASSET_KEY
from pii_assets.definitions import build_definitions
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_pipeline.local_s3 import use_local_credentials
from resources.openai_extractor import OpenAIExtractor
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from sensors.discovery import RANGE_END_TAG, RANGE_START_TAG
from tests.fake_openai import FakeOpenAIProcess

DOCUMENTS = 200
LATENCY_S = 0.5
CONCURRENCY = 8
IDEAL = CONCURRENCY / LATENCY_S
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ANSWER = {
    "classification": "invoice",
    "entities": [
        {"type": "PERSON", "text": "Maria Gonzalez", "page": 1, "confidence": 0.95},
        {
            "type": "EMAIL_ADDRESS",
            "text": "maria.gonzalez@example.com",
            "page": 1,
            "confidence": 0.9,
        },
    ],
}


@contextmanager
def s3_subprocess(bucket: str) -> Iterator[DocumentStore]:
    """moto's S3 server in a child process on a free loopback port, with a fresh bucket."""
    use_local_credentials()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        previous = os.environ.get("AWS_ENDPOINT_URL_S3")
        os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
        try:
            yield DocumentStore(bucket=bucket, endpoint_url=endpoint)
        finally:
            if previous is None:
                os.environ.pop("AWS_ENDPOINT_URL_S3", None)
            else:
                os.environ["AWS_ENDPOINT_URL_S3"] = previous
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(console: Any) -> dict[str, Any]:
    with (
        s3_subprocess("bench-llm-throughput") as store,
        dg.instance_for_test() as instance,
        FakeOpenAIProcess(latency_s=LATENCY_S, answer=ANSWER) as fake,
    ):
        client = store.client()
        keys = upload_one_page_documents(store, instance, DOCUMENTS)
        extractor = OpenAIExtractor(
            api_key=fake.api_key, base_url=fake.base_url, concurrency=CONCURRENCY
        )

        opts = ProcessingOptions(
            extractor=extractor.page_extractor(), workers=extractor.document_concurrency()
        )
        start = time.perf_counter()
        outcomes = list(process_partitions(client, store.layout(), keys, opts, "bench"))
        work = time.perf_counter() - start
        assert all(r is not None and r.status == "ok" for _, r in outcomes)

        defs = build_definitions(
            PipelineSettings(batch_size=DOCUMENTS),
            resources={"store": store, "extractor": extractor},
        )
        job = defs.resolve_job_def(EXTRACT_JOB)
        tags = {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
        start = time.perf_counter()
        assert job.execute_in_process(instance=instance, tags=tags, run_config=QUIET).success
        full = time.perf_counter() - start
        assert instance.get_materialized_partitions(DOCUMENT_ASSET_KEY) == set(keys)

    assert fake.stats["max_in_flight"] == CONCURRENCY and not fake.stats["rejections"]
    work_rate = DOCUMENTS / work
    run_rate = DOCUMENTS / full
    return {
        "documents": DOCUMENTS,
        "latency_s": LATENCY_S,
        "concurrency": CONCURRENCY,
        "calls": fake.stats["calls"],
        "processing_pages_per_s": work_rate,
        "run_pages_per_s": run_rate,
        "run_s": full,
        "rows": [
            {"figure": "ideal (concurrency / latency)", "value": f"{IDEAL:.1f} pages/s"},
            {
                "figure": f"LLM throughput, {DOCUMENTS} documents (processing code)",
                "value": f"{work_rate:.2f} pages/s ({work_rate / IDEAL:.2f} of ideal)",
                "target": f">= {0.85 * IDEAL:.1f} pages/s (0.85 of ideal)",
                "met": work_rate >= 0.85 * IDEAL,
            },
            {
                "figure": "whole run, with Dagster event-log writes",
                "value": f"{run_rate:.2f} pages/s ({full:.1f} s)",
            },
        ],
    }
