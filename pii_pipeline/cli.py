"""`pii-pipeline`: the embedded S3 server, demo data, one-shot processing and the demo."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pii_assets.bucket import require_private_bucket
from pii_assets.dataset import read_manifest
from pii_pipeline import dataset_cli, metrics_cli
from pii_pipeline.local_s3 import LocalS3Server, ensure_bucket, use_local_credentials
from pii_pipeline.run_recovery import PoolBlocked
from pii_pipeline.runner import ProcessReport, process, reprocess, stale_partitions
from pii_pipeline.summary import download_version, summarize
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings, build_store

console = Console(stderr=True)


def _store() -> DocumentStore:
    return build_store().process_config_and_initialize()


INSTANCE_YAML = """\
# Written by pii-pipeline for a new instance. Two concurrent runs suit a 2-core machine.
run_queue:
  max_concurrent_runs: 2
telemetry:
  enabled: false
"""


def ensure_instance_home(home: Path) -> Path:
    """A DAGSTER_HOME folder with a dagster.yaml (written only if missing)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    return home


def _instance() -> Any:
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(".dagster_home").resolve())
        os.environ["DAGSTER_HOME"] = home
        console.print(f"DAGSTER_HOME is not set; using {home}")
    ensure_instance_home(Path(home))
    return dg.DagsterInstance.get()


def seed_demo(count: int, seed: int) -> int:
    """Upload the generated demo corpus under the input prefix; returns documents uploaded."""
    from pii_pipeline.corpus import generate_corpus

    store = _store()
    client = store.client()
    ensure_bucket(store.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3"), store.bucket)
    documents = generate_corpus(count, seed=seed)
    for doc in documents:
        client.put_object(Bucket=store.bucket, Key=store.input_prefix + doc.name, Body=doc.data)
    console.print(
        f"uploaded {len(documents)} documents to s3://{store.bucket}/{store.input_prefix}"
    )
    return len(documents)


def _run_process(publish: bool = True, quiet: bool = False) -> tuple[ProcessReport, dict | None]:
    from pii_assets.definitions import build_definitions

    settings = PipelineSettings.from_env()
    defs = build_definitions(settings)
    store = _store()
    # Before any run: a refusal is one line here, not a failed run per batch.
    require_private_bucket(store.client(), store.layout())
    instance = _instance()
    with Progress(
        TextColumn("[bold]extracting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("documents"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("extract", total=None)

        def on_plan(documents: int) -> None:
            progress.update(task, total=progress.tasks[0].completed + documents)

        def on_batch(batch: Any, ok: bool) -> None:
            progress.advance(task, len(batch.partition_keys))

        def on_pool_wait(blocked: PoolBlocked) -> None:
            holders = ", ".join(h["run_id"] for h in blocked.held_by) or "no run"
            console.print(
                f"waiting up to {settings.pool_wait_s} s (PII_POOL_WAIT_S) for a slot of pool "
                f"{blocked.pool}, held by {holders}",
                highlight=False,
                soft_wrap=True,
            )

        report = process(
            defs,
            instance,
            batch_size=settings.batch_size,
            max_runs=settings.max_runs_per_tick,
            publish=publish,
            pool_wait_s=settings.pool_wait_s,
            on_plan=on_plan,
            on_batch=on_batch,
            on_pool_wait=on_pool_wait,
        )
    summary = None
    if report.dataset_version:
        store = _store()
        summary = summarize(read_manifest(store.client(), store.layout(), report.dataset_version))
    return report, summary


def _print_summary(report: ProcessReport, summary: dict | None) -> None:
    out = Console()
    table = Table(title="pii-pipeline process", show_header=False)
    table.add_row("objects listed", str(report.listed))
    table.add_row("new partitions", str(report.new_partitions))
    table.add_row("documents processed", str(report.documents_requested))
    if report.archived:
        table.add_row("archived (recorded, not read)", str(report.archived))
    table.add_row("runs (failed)", f"{report.runs} ({len(report.failed_runs)})")
    if summary:
        table.add_row("dataset version", str(report.dataset_version))
        table.add_row("documents in dataset", str(summary["documents"]))
        for name in (
            "documents_by_status",
            "error_classes",
            "classifications",
            "pages_by_source",
            "unread_parts_by_error_class",
            "quarantined_by_check",
        ):
            if summary.get(name):
                pairs = ", ".join(f"{k}={v}" for k, v in summary[name].items())
                table.add_row(name.replace("_", " "), pairs)
        table.add_row("pages", str(summary["pages"]))
        table.add_row("entities", str(summary["entities"]))
        for entity_type, n in summary["entities_by_type"].items():
            table.add_row(f"  {entity_type}", str(n))
        table.add_row("cost (USD)", f"{summary['cost_usd']:.4f}")
    elif report.publish_failed:
        table.add_row("dataset", "[red]publishing failed: see the run in the Dagster UI")
    out.print(table)
    if report.dataset_path:
        out.print(f"dataset: {report.dataset_path}", soft_wrap=True)
    for run in report.recovery.runs:
        out.print(f"run {run.run_id} ({run.job_name}) had lost its process: marked failed")
    for failure in report.run_failures:
        step = f" in step {failure['step']}" if failure["step"] else ""
        why = f"run {failure['run_id']} failed{step}: {failure['message']}"
        out.print(f"[red]{why}", soft_wrap=True, highlight=False)
    for run_id in report.failed_runs:
        out.print(f"[red]run {run_id} failed; its documents are retried on the next process")
    if report.pool_blocked is not None:
        out.print(
            f"[red]{report.pool_blocked.message()}; the remaining documents are left for the "
            "next process",
            soft_wrap=True,
        )


def _report_json(report: ProcessReport, summary: dict | None) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "listed": report.listed,
        "new_partitions": report.new_partitions,
        "deleted_partitions": report.deleted_partitions,
        "documents_processed": report.documents_requested,
        "documents_archived": report.archived,
        "runs": report.runs,
        "failed_runs": report.failed_runs,
        "run_failures": report.run_failures,
        "recovered": report.recovery.as_json(),
        "pool_blocked": (
            {**vars(report.pool_blocked), "message": report.pool_blocked.message()}
            if report.pool_blocked is not None
            else None
        ),
        "dataset_version": report.dataset_version,
        "dataset_path": report.dataset_path,
        "publish_status": report.publish_status,
        "publish_errors": report.publish_errors,
        "summary": summary,
    }


def cmd_process(args: argparse.Namespace) -> int:
    report, summary = _run_process(publish=not args.no_publish, quiet=args.json)
    if args.json:
        print(json.dumps(_report_json(report, summary), indent=2, sort_keys=True))
    else:
        _print_summary(report, summary)
    return 0 if report.ok else 1


def cmd_reprocess(args: argparse.Namespace) -> int:
    from pii_assets.asset_names import DOCUMENT_ASSET_KEY
    from pii_assets.definitions import build_definitions

    settings = PipelineSettings.from_env()
    defs = build_definitions(settings)
    instance = _instance()
    if args.stale:
        code_version = defs.get_assets_def(DOCUMENT_ASSET_KEY).code_versions_by_key[
            DOCUMENT_ASSET_KEY
        ]
        keys = stale_partitions(instance, code_version or "")
    else:
        layout = _store().layout()
        keys = [*args.partition, *(layout.partition_key(k) for k in args.object)]
    if args.dry_run or not keys:
        payload = {"partitions": keys, "count": len(keys)}
        print(
            json.dumps(payload, indent=2) if args.json else f"{len(keys)} partitions to reprocess"
        )
        return 0
    with Progress(
        TextColumn("[bold]reprocessing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=args.json,
    ) as progress:
        task = progress.add_task("reprocess", total=len(keys))
        report = reprocess(
            defs,
            instance,
            keys,
            batch_size=settings.batch_size,
            publish=not args.no_publish,
            pool_wait_s=settings.pool_wait_s,
            on_batch=lambda batch, ok: progress.advance(task, len(batch.partition_keys)),
        )
    summary = None
    if report.dataset_version:
        store = _store()
        summary = summarize(read_manifest(store.client(), store.layout(), report.dataset_version))
    if args.json:
        print(json.dumps(_report_json(report, summary), indent=2, sort_keys=True))
    else:
        _print_summary(report, summary)
    return 0 if report.ok else 1


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_s3_server(args: argparse.Namespace) -> int:
    use_local_credentials()
    server = LocalS3Server(port=args.port).start()
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
    print(f"embedded S3 listening on {server.endpoint_url}", flush=True)
    if args.seed:
        seed_demo(args.count, args.corpus_seed)
    print(f"export AWS_ENDPOINT_URL_S3={server.endpoint_url}", flush=True)
    try:
        _wait_for_signal()
    finally:
        server.stop()
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    seed_demo(args.count, args.corpus_seed)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    home = workdir / "dagster_home"
    # A fresh instance each time: the embedded S3 starts empty, so old cursors would mislead.
    shutil.rmtree(home, ignore_errors=True)
    ensure_instance_home(home)
    os.environ["DAGSTER_HOME"] = str(home)
    use_local_credentials()
    server = LocalS3Server().start()
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
    try:
        console.print(f"embedded S3 on {server.endpoint_url}; Dagster instance in {home}")
        seed_demo(args.count, args.corpus_seed)
        report, summary = _run_process()
        _print_summary(report, summary)
        if report.dataset_version:
            store = _store()
            local = download_version(
                store.client(), store.layout(), report.dataset_version, workdir / "dataset"
            )
            out = Console()
            out.print(
                f"\nDataset {report.dataset_version} copied to [bold]{local}[/bold]; open it:"
            )
            snippet = f"import pandas as pd; print(pd.read_parquet('{local}/entities'))"
            out.print(f'  .venv/bin/python -c "{snippet}"', soft_wrap=True, highlight=False)
            out.print("Browse the assets, runs and per-document metadata in the UI: [bold]make dev")
        return 0 if report.ok else 1
    finally:
        server.stop()


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded S3 with the demo corpus, then `dagster dev` with the sensors on."""
    home = ensure_instance_home(Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve())
    use_local_credentials()
    server = LocalS3Server(port=args.s3_port).start()
    env = {**os.environ, "DAGSTER_HOME": str(home), "AWS_ENDPOINT_URL_S3": server.endpoint_url}
    os.environ.update(env)
    try:
        seed_demo(args.count, args.corpus_seed)
        console.print(f"embedded S3 on {server.endpoint_url}; UI on http://127.0.0.1:{args.port}")
        command = [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(args.port),
        ]
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pii-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def corpus_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--count", type=int, default=12, help="documents to generate")
        p.add_argument("--corpus-seed", type=int, default=7, help="seed of the generated corpus")

    p = sub.add_parser("s3-server", help="run the embedded S3 server on loopback")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--seed", action="store_true", help="create the bucket and upload the demo")
    corpus_args(p)
    p.set_defaults(func=cmd_s3_server)

    p = sub.add_parser("seed-demo", help="upload a generated corpus with fake PII")
    corpus_args(p)
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("process", help="discover, extract and publish once, then exit")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--no-publish", action="store_true", help="extract only")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("reprocess", help="re-extract partitions in batched runs, then publish")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--stale", action="store_true", help="partitions extracted by another code version"
    )
    which.add_argument("--partition", nargs="+", default=[], help="partition keys")
    which.add_argument("--object", nargs="+", default=[], help="S3 object keys")
    p.add_argument("--dry-run", action="store_true", help="only list what would be reprocessed")
    p.add_argument("--no-publish", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("dev", help="embedded S3 with the demo corpus + dagster dev")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    p.add_argument("--s3-port", type=int, default=9000, help="embedded S3 port")
    corpus_args(p)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("demo", help="embedded S3 + demo corpus + process, with a summary")
    p.add_argument("--workdir", default=".demo", help="instance and dataset copy go here")
    corpus_args(p)
    p.set_defaults(func=cmd_demo)
    dataset_cli.add_parser(sub)
    metrics_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Dagster's notices about its own beta APIs are for us, not for people running the tool.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    try:
        return args.func(args)
    except ValueError as exc:
        # Configuration errors: the message names the variable, never a secret value.
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        return 2
    except (BotoCoreError, ClientError) as exc:
        # botocore's messages name the operation, bucket and endpoint, never credentials.
        console.print(f"[red]S3 error:[/red] {exc}", soft_wrap=True, highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
