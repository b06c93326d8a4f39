"""What `process` reports about a failed extraction run (`run_failures`: run id, step, class and a
message without values) and that its runs are tagged with the process executing them; real S3
server, real Dagster instance."""

from __future__ import annotations

import socket

import dagster as dg

from pii_assets.definitions import build_definitions
from pii_pipeline.run_recovery import HOST_TAG, PID_TAG
from pii_pipeline.runner import process
from resources.documents import DocumentOptions
from resources.settings import PipelineSettings

SECRET = "Jane Roe 555-0142"


def test_a_failed_run_is_reported_with_its_step_and_class_and_no_value(store, instance) -> None:
    store.client().put_object(
        Bucket=store.bucket, Key="documents/a.txt", Body=f"Dear {SECRET}".encode()
    )
    # A limit the step itself rejects (`DocumentOptions.limits` raises ValueError): the run fails.
    broken = DocumentOptions(max_pages=0)
    defs = build_definitions(PipelineSettings(), resources={"store": store, "documents": broken})
    report = process(defs, instance, batch_size=10, max_runs=5, publish=False)
    assert not report.ok and len(report.failed_runs) == 1
    (run_id,) = report.failed_runs
    assert report.run_failures == [
        {
            "run_id": run_id,
            "step": "document_pii",
            "error_class": "ValueError",
            "message": "ValueError raised",  # another exception's text could quote data
        }
    ]
    run = instance.get_run_by_id(run_id)
    assert run.tags[HOST_TAG] == socket.gethostname() and run.tags[PID_TAG].isdigit()
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert SECRET not in repr(report)
