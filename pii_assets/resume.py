"""Finishing a batch whose worker died: results an earlier attempt already wrote are reused.

A run worker can die mid-run (a lost pod or ECS task, an out-of-memory kill). Dagster then either
resumes the same run with a new worker (run monitoring, `max_resume_run_attempts`; the run id stays)
or fails it and re-executes it as a new run of the same retry group (run retries, the
`dagster/max_retries` tag). Either way the new attempt gets the whole partition range again; the
documents the dead worker had finished already have their result and audit marker in S3
(`processing.record_result` writes the result first, the marker last), so they are taken from
there instead of being extracted (and, with an LLM, paid for) again. The others are extracted as
usual, so every document of the range is materialized exactly once by the attempt that finishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

# The daemon's own count of the new workers it gave a run (engine events it writes on resuming).
from dagster._daemon.monitoring.run_monitoring import count_resume_run_attempts

from pii_assets.bucket import BucketLayout, get_json
from pii_assets.models import DocumentResult

# botocore pools 10 connections per client; more threads would only queue for them.
_THREADS = 8


def earlier_attempts(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[str]:
    """Ids of the runs whose results `run` may reuse; empty for a first attempt.

    A re-execution (it has a parent run) may reuse every run of its retry group; a run resumed by
    a new worker (the daemon logged a resume for it) may reuse its own earlier worker's results.
    """
    attempts: set[str] = set()
    if run.parent_run_id:
        group = instance.get_run_group(run.run_id)
        if group is not None:
            attempts.update(member.run_id for member in group[1])
    if count_resume_run_attempts(instance, run.run_id):
        attempts.add(run.run_id)
    return frozenset(attempts)


def _reusable(
    client: Any, layout: BucketLayout, key: str, attempts: frozenset[str], code_version: str
) -> DocumentResult | None:
    marker = get_json(client, layout.bucket, layout.marker_key(key))
    if marker is None or marker.get("run_id") not in attempts:
        return None
    if marker.get("code_version") != code_version:
        return None
    stored = get_json(client, layout.bucket, layout.result_key(key))
    # The marker is written after its result: a result for another ETag is not the one it audits.
    if stored is None or stored.get("etag") != marker.get("etag"):
        return None
    return DocumentResult.from_json_dict(stored)


def reusable_results(
    client: Any,
    layout: BucketLayout,
    partition_keys: Sequence[str],
    attempts: frozenset[str],
    code_version: str,
) -> dict[str, DocumentResult]:
    """The results of `partition_keys` that one of `attempts` wrote with `code_version`, by
    partition key: the audit marker names one of those runs and the stored result has the
    marker's ETag. Costs one GET of each marker (eight at a time) and one of each matching result;
    nothing when `attempts` is empty. S3 errors propagate (the attempt fails and is retried)."""
    if not attempts or not partition_keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(partition_keys))) as pool:
        found = pool.map(
            lambda key: _reusable(client, layout, key, attempts, code_version), partition_keys
        )
        return {
            key: result
            for key, result in zip(partition_keys, found, strict=True)
            if result is not None
        }
