"""A retried or resumed extraction run reuses what an earlier attempt of it finished, and only that
(pii_assets/resume.py), against the real S3 server and a real instance."""

from __future__ import annotations

import json
import os

import dagster as dg
from dagster._daemon.monitoring.run_monitoring import RESUME_RUN_LOG_MESSAGE

from pii_assets.definitions import build_definitions
from pii_assets.event_log import document_records
from pii_assets.jobs import EXTRACT_JOB
from pii_assets.models import DocumentResult, Status
from pii_assets.processing import record_result
from pii_assets.resume import earlier_attempts, reusable_results
from pii_pipeline.corpus import single_page_pdf
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from sensors.discovery import run_request
from sensors.discovery_plan import Batch


def result(key: str, etag: str, code_version: str = "cv1") -> DocumentResult:
    return DocumentResult(document_key=key, etag=etag, status=Status.OK, code_version=code_version)


def test_only_results_an_earlier_attempt_wrote_for_this_code_version_are_reused(store) -> None:
    client, layout = store.client(), store.layout()
    record_result(client, layout, "done.pdf", result("documents/done.pdf", "e1"), "run-a")
    record_result(client, layout, "other-run.pdf", result("documents/other.pdf", "e2"), "run-x")
    old = result("documents/old.pdf", "e3", code_version="cv0")
    record_result(client, layout, "old-code.pdf", old, "run-a")
    # The marker says e4 but the result beside it is for another ETag (overwritten since).
    record_result(client, layout, "moved.pdf", result("documents/moved.pdf", "e4"), "run-a")
    record_result(client, layout, "moved.pdf", result("documents/moved.pdf", "e5"), "run-x")
    client.put_object(
        Bucket=layout.bucket,
        Key=layout.marker_key("moved.pdf"),
        Body=b'{"run_id": "run-a", "etag": "e4", "code_version": "cv1"}',
    )
    keys = ["done.pdf", "other-run.pdf", "old-code.pdf", "moved.pdf", "never.pdf"]

    reused = reusable_results(client, layout, keys, frozenset({"run-a", "run-b"}), "cv1")
    assert list(reused) == ["done.pdf"]
    assert reused["done.pdf"].etag == "e1" and reused["done.pdf"].status == Status.OK
    assert reusable_results(client, layout, keys, frozenset(), "cv1") == {}


def test_first_attempts_reuse_nothing_retries_their_group_resumed_runs_themselves(instance) -> None:
    first = instance.add_run(dg.DagsterRun(job_name=EXTRACT_JOB, run_id="a" * 32))
    # As Dagster's run retries create it: parent and root on the run and in its tags.
    lineage = {"parent_run_id": first.run_id, "root_run_id": first.run_id}
    retry = instance.add_run(
        dg.DagsterRun(
            job_name=EXTRACT_JOB,
            run_id="b" * 32,
            tags={f"dagster/{name}": value for name, value in lineage.items()},
            **lineage,
        )
    )
    assert earlier_attempts(instance, first) == frozenset()
    assert earlier_attempts(instance, retry) == {first.run_id, retry.run_id}
    # Run monitoring resumed the first run with a new worker: same run id.
    instance.report_engine_event(RESUME_RUN_LOG_MESSAGE, first)
    assert earlier_attempts(instance, first) == {first.run_id}


def extract_job() -> dg.JobDefinition:
    """The extraction job on the test's bucket, rebuilt by Dagster from this module."""
    store = DocumentStore(
        bucket=os.environ["PII_TEST_RESUME_BUCKET"], endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"]
    )
    defs = build_definitions(PipelineSettings(), resources={"store": store})
    return defs.resolve_job_def(EXTRACT_JOB)


def test_a_reexecution_reuses_its_parent_results_instead_of_extracting(
    store, instance, monkeypatch
) -> None:
    client, layout = store.client(), store.layout()
    names = ["a.pdf", "b.pdf", "c.pdf"]
    for name in names:
        body = single_page_pdf([f"Form {name}", "Email: nadia.ferreira@example.com"])
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=body)
    instance.add_dynamic_partitions("documents", names)
    monkeypatch.setenv("PII_TEST_RESUME_BUCKET", store.bucket)
    job = dg.reconstructable(extract_job)
    tags = run_request(Batch(tuple(names), "resume")).tags
    with dg.execute_job(job, instance, tags=tags) as parent:
        assert parent.success
    # The parent's results are gone for b.pdf: as if its worker had died before writing it.
    client.delete_object(Bucket=store.bucket, Key=layout.marker_key("b.pdf"))

    options = dg.ReexecutionOptions(parent_run_id=parent.run_id, step_selection=["document_pii"])
    with dg.execute_job(job, instance, tags=tags, reexecution_options=options) as retry:
        assert retry.success
    run_of = {
        name: json.loads(
            client.get_object(Bucket=store.bucket, Key=layout.marker_key(name))["Body"].read()
        )["run_id"]
        for name in names
    }
    assert run_of == {"a.pdf": parent.run_id, "b.pdf": retry.run_id, "c.pdf": parent.run_id}
    messages = [e.message for e in instance.all_logs(retry.run_id) if e.message]
    assert "2 of 3 documents finished by an earlier attempt of this run" in " ".join(messages)
    # The retry materialized every partition of the range, the reused ones included.
    materialized = {
        record.partition_key
        for record in document_records(instance, "materializations")
        if record.run_id == retry.run_id
    }
    assert materialized == set(names)
