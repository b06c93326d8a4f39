"""`pii-pipeline review export|import` and `pii-pipeline redact`: human review in Label Studio
and redacted copies from the terminal, through the instance at `$DAGSTER_HOME` (the imports and
redactions show in the UI like the jobs' own)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

# Dagster, pyarrow and boto3 are imported inside the commands: `pii-pipeline --help` stays fast.
from pii_assets.review.model import MAX_PRESIGN_S, URL_MODES

console = Console(stderr=True)


def _store():
    from resources.settings import build_store

    return build_store().process_config_and_initialize()


def cmd_export(args: argparse.Namespace) -> int:
    from pii_assets.bucket import read_object
    from pii_assets.review.export import ExportFilters, ExportOptions, export_tasks
    from resources.settings import build_document_options

    store = _store()
    client, layout = store.client(), store.layout()
    documents = build_document_options().process_config_and_initialize()
    summary = export_tasks(
        client,
        layout,
        version=args.version,
        filters=ExportFilters(
            document_keys=tuple(args.document or ()),
            entity_types=tuple(args.entity_type or ()),
            max_confidence=args.confidence_below,
            sample=args.sample,
            seed=args.seed,
        ),
        options=ExportOptions(
            url_mode=args.urls,
            url_expires_s=args.expires,
            passwords=tuple(documents.password_list()),
        ),
    )
    payload = summary.to_json_dict()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for key in summary.files.values():
            body = read_object(client, layout.bucket, key)
            (out / key.rsplit("/", 1)[-1]).write_bytes(body.data or b"")
        payload["local_copy"] = str(out.resolve())
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        kinds = ", ".join(f"{k}: {v}" for k, v in summary.tasks.items()) or "none"
        console.print(
            f"{sum(summary.tasks.values())} tasks ({kinds}) "
            f"of {summary.documents} documents, {summary.pre_annotations} pre-annotations, "
            f"in {layout.uri(summary.prefix)}",
            soft_wrap=True,
            highlight=False,
        )
        for reason, count in summary.skipped.items():
            console.print(f"  skipped {count} documents: {reason}")
    return 0


def _instance() -> Any:
    from pii_pipeline.cli import _instance as instance

    return instance()


def publish_version(defs: Any, instance: Any) -> dict[str, Any]:
    """Run the publish job (as `process` does) and say what it published."""
    from pii_pipeline.runner import ProcessReport
    from pii_pipeline.runner import _publish as publish

    report = ProcessReport()
    publish(defs, instance, report)
    return {
        "dataset_version": report.dataset_version,
        "publish_status": report.publish_status,
        "publish_errors": report.publish_errors,
        "ok": report.ok,
    }


def import_and_publish(
    defs: Any, instance: Any, tasks: list[dict[str, Any]], *, publish: bool = True
) -> dict[str, Any]:
    """Store the reviews of a Label Studio export, record each reviewed document as a
    `document_reviews` materialization, then publish a version holding them."""
    from pii_assets.review.importer import import_reviews
    from pii_assets.review_jobs import review_materializations

    store = defs.resources["store"].process_config_and_initialize()
    summary = import_reviews(store.client(), store.layout(), tasks)
    for event in review_materializations(summary):
        instance.report_runless_asset_event(event)
    payload: dict[str, Any] = summary.to_json_dict()
    if publish and summary.documents:
        payload["publish"] = publish_version(defs, instance)
    return payload


def cmd_import(args: argparse.Namespace) -> int:
    from pii_assets.definitions import build_definitions

    tasks = json.loads(Path(args.export).read_text(encoding="utf-8"))
    if not isinstance(tasks, list):
        console.print("[red]error:[/red] a Label Studio JSON export is a list of tasks")
        return 2
    payload = import_and_publish(
        build_definitions(), _instance(), tasks, publish=not args.no_publish
    )
    ok = payload.get("publish", {}).get("ok", True)
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        console.print(
            f"{payload['pages_reviewed']} pages of {payload['documents']} documents reviewed "
            f"({payload['tasks_not_reviewed']} tasks without an annotation, "
            f"{payload['tasks_not_ours']} not from this pipeline)"
        )
        if "publish" in payload:
            console.print(
                f"dataset: {payload['publish']['publish_status']} "
                f"{payload['publish']['dataset_version'] or ''}"
            )
    return 0 if ok else 1


def redact(
    defs: Any, instance: Any, keys: list[str], *, batch_size: int, publish: bool = True
) -> dict[str, Any]:
    """Materialize `redacted_documents` for these partitions in runs of consecutive partitions
    (at most `batch_size` each), then publish a version linking the copies."""
    from pii_assets.partitions import documents_partitions
    from pii_assets.redaction_asset import REDACT_JOB
    from sensors.discovery_plan import consecutive_runs

    order = instance.get_dynamic_partitions(documents_partitions.name)
    unknown = set(keys) - set(order)
    if unknown:
        raise ValueError(f"{len(unknown)} keys are not registered partitions")
    job = defs.resolve_job_def(REDACT_JOB)
    failed = []
    outcomes: dict[str, int] = {}
    for run in consecutive_runs(order, set(keys), batch_size):
        tags = {"pii/launched_by": "pii-pipeline redact"}
        if len(run) > 1:
            tags["dagster/asset_partition_range_start"] = run[0]
            tags["dagster/asset_partition_range_end"] = run[-1]
        result = job.execute_in_process(
            instance=instance,
            partition_key=run[0] if len(run) == 1 else None,
            tags=tags,
            raise_on_error=False,
        )
        if not result.success:
            failed.append(result.run_id)
        for event in result.get_asset_materialization_events():
            entry = event.materialization.metadata.get("redaction")
            if entry is not None:
                outcomes[str(entry.value)] = outcomes.get(str(entry.value), 0) + 1
    payload: dict[str, Any] = {
        "documents": len(keys),
        "by_outcome": dict(sorted(outcomes.items())),
        "failed_runs": failed,
    }
    if publish and keys:
        payload["publish"] = publish_version(defs, instance)
    payload["ok"] = not failed and payload.get("publish", {}).get("ok", True)
    return payload


def cmd_redact(args: argparse.Namespace) -> int:
    from pii_assets.definitions import build_definitions
    from pii_assets.partitions import documents_partitions
    from resources.settings import PipelineSettings

    settings = PipelineSettings.from_env()
    instance = _instance()
    if args.all:
        keys = list(instance.get_dynamic_partitions(documents_partitions.name))
    else:
        layout = _store().layout()
        keys = [*args.partition, *(layout.partition_key(k) for k in args.object)]
    payload = redact(
        build_definitions(settings),
        instance,
        keys,
        batch_size=settings.batch_size,
        publish=not args.no_publish,
    )
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        console.print(f"{payload['documents']} documents: {payload['by_outcome']}")
        for run_id in payload["failed_runs"]:
            console.print(f"[red]run {run_id} failed")
    return 0 if payload["ok"] else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("review", help="human review in Label Studio: export tasks, import")
    commands = parser.add_subparsers(dest="review_command", required=True)
    p = commands.add_parser("export", help="write Label Studio tasks for a dataset version")
    p.add_argument("--version", help="dataset version (default: the latest)")
    p.add_argument(
        "--document", nargs="+", action="extend", help="only these documents (S3 object keys)"
    )
    p.add_argument(
        "--entity-type", nargs="+", action="extend", help="only pages with an entity of these types"
    )
    p.add_argument(
        "--confidence-below", type=float, help="only pages with an entity below this confidence"
    )
    p.add_argument("--sample", type=int, help="a random sample of this many documents")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--urls", choices=URL_MODES, default="s3", help="page image URLs")
    p.add_argument(
        "--expires", type=int, default=MAX_PRESIGN_S, help="presigned URLs' validity (s)"
    )
    p.add_argument("--out", help="also copy the task files and configs to this folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)
    p = commands.add_parser("import", help="import a Label Studio JSON export, then publish")
    p.add_argument("export", help="the export file (Label Studio: Export → JSON)")
    p.add_argument("--no-publish", action="store_true", help="store the reviews only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("redact", help="write redacted copies of documents, then publish")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every registered document")
    which.add_argument("--partition", nargs="+", action="extend", default=[], help="partition keys")
    which.add_argument("--object", nargs="+", action="extend", default=[], help="S3 object keys")
    p.add_argument("--no-publish", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_redact)
