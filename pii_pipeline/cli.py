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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pii_pipeline import dataset_cli, metrics_cli, review_cli
from pii_pipeline.local_s3 import PortTaken

# Dagster, pyarrow, deltalake, moto and boto3 take seconds to import: each command imports what
# it uses, so `--help` and `dataset list` answer in well under 2 s (bench row `cli_startup`).
if TYPE_CHECKING:
    from pii_pipeline.run_recovery import PoolBlocked
    from pii_pipeline.runner import ProcessReport
    from resources.s3 import DocumentStore

console = Console(stderr=True)


def _store() -> DocumentStore:
    from resources.settings import build_store

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
    from pii_pipeline.local_s3 import ensure_bucket

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
    from pii_assets.bucket import require_private_bucket
    from pii_assets.dataset import read_manifest
    from pii_assets.definitions import build_definitions
    from pii_pipeline.runner import process
    from pii_pipeline.summary import summarize
    from resources.settings import PipelineSettings

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
        out.print(f"[red]run {run_id} failed; its documents are requested again after a backoff")
    if report.waiting:
        out.print(
            f"[red]{len(report.waiting)} documents are claimed for runs that never started (a "
            "process killed between its claim and its run?); they are requested again 10 minutes "
            "after their claim:",
            soft_wrap=True,
        )
        for key in report.waiting[:20]:
            out.print(f"  {key}")
    if report.pool_blocked is not None:
        out.print(
            f"[red]{report.pool_blocked.message()}; the remaining documents are left for the "
            "next process",
            soft_wrap=True,
        )
    if report.postponed:
        waiting = [p for p in report.postponed if p.next_attempt_at is not None]
        given_up = [p for p in report.postponed if p.next_attempt_at is None]
        if waiting:
            soonest = datetime.fromtimestamp(min(p.next_attempt_at for p in waiting), UTC)
            out.print(
                f"[red]{len(waiting)} documents failed for a transient cause and were left for a "
                f"later attempt (the next at {soonest:%Y-%m-%d %H:%M:%S} UTC; the sensor or the "
                "next process retries them):"
            )
        for item in waiting[:20]:
            out.print(f"  {item.partition_key}: {item.error_class}, attempt {item.attempts}")
        if given_up:
            out.print(
                f"[red]{len(given_up)} documents used up their attempts "
                "(PII_RETRY_MAX_ATTEMPTS); `pii-pipeline reprocess --partition KEY…` retries them:"
            )
        for item in given_up[:20]:
            out.print(f"  {item.partition_key}: {item.error_class}, {item.attempts} attempts")


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
        "events": report.events,
        # Documents left failed for a transient cause: retried later, or given up (null).
        "documents_postponed": [
            {
                "partition_key": p.partition_key,
                "error_class": p.error_class,
                "attempts": p.attempts,
                "next_attempt_at": (
                    datetime.fromtimestamp(p.next_attempt_at, UTC).isoformat()
                    if p.next_attempt_at is not None
                    else None
                ),
            }
            for p in report.postponed
        ],
        "run_failures": report.run_failures,
        # Claimed for a run that does not exist: requested again RUN_LEASE_S after the claim.
        "documents_waiting": report.waiting,
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


def _apply_launch_flags(args: argparse.Namespace) -> None:
    """`process` flags: the launch form's settings (pii_assets/launch.py), set as the environment
    variables they stand for, in this process only; unset flags keep the environment's values."""
    from pii_assets.launch import LaunchConfig, launch_defaults, launch_environ

    given = {
        name: getattr(args, name)
        for name in ("bucket", "input_prefix", "extractor", "model", "run_budget_usd", "batch_size")
        if getattr(args, name) is not None
    }
    if not given and not args.password_env:
        return
    config = LaunchConfig(
        **{
            **launch_defaults().model_dump(),
            **given,
            "password_env_vars": args.password_env or [],
        }
    )
    os.environ.update(launch_environ(config, os.environ))


def cmd_process(args: argparse.Namespace) -> int:
    _apply_launch_flags(args)
    report, summary = _run_process(publish=not args.no_publish, quiet=args.json)
    if args.json:
        print(json.dumps(_report_json(report, summary), indent=2, sort_keys=True))
    else:
        _print_summary(report, summary)
    return 0 if report.ok else 1


def cmd_reprocess(args: argparse.Namespace) -> int:
    from pii_assets.dataset import read_manifest
    from pii_assets.definitions import build_definitions
    from pii_assets.partitions import DocumentShards
    from pii_pipeline.runner import (
        document_code_version,
        estimate_cost_usd,
        reprocess,
        stale_partitions,
    )
    from pii_pipeline.summary import summarize
    from resources.settings import DiscoverySettings, PipelineSettings

    settings = PipelineSettings.from_env()
    shards = DocumentShards(DiscoverySettings.from_env().document_shards)
    defs = build_definitions(settings)
    instance = _instance()
    if args.stale:
        keys = stale_partitions(instance, document_code_version(defs, shards), shards)
    else:
        layout = _store().layout()
        keys = [*args.partition, *(layout.partition_key(k) for k in args.object)]
    if args.dry_run or not keys:
        cost = estimate_cost_usd(defs, keys) if keys else None
        payload = {"partitions": keys, "count": len(keys), "estimated_cost_usd": cost}
        if args.json:
            print(json.dumps(payload, indent=2))
            return 0
        for key in keys:
            print(key)
        line = f"{len(keys)} partitions to reprocess"
        if cost is not None:
            line += f"; estimated LLM cost at most ${cost:.4f} (each document's pre-start estimate)"
        console.print(line)
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
            shards=shards,
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
    from pii_pipeline.local_s3 import LocalS3Server, use_local_credentials

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
    from pii_pipeline.local_s3 import LocalS3Server, use_local_credentials
    from pii_pipeline.summary import download_version

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


def _fresh_instance_if_behind(home: Path) -> None:
    """Move the instance aside when the bucket lost what it remembers (pii_pipeline/dev_state)."""
    import dagster as dg

    from pii_pipeline.dev_state import instance_mismatch, move_aside

    if not (home / "dagster.yaml").exists():
        return
    store = _store()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        behind = instance_mismatch(instance, store.client(), store.layout())
    if behind:
        moved = move_aside(home)
        console.print(
            f"[yellow]The Dagster instance remembers {behind} that the embedded S3 no longer "
            f"holds; it was moved to {moved} and a fresh instance starts, which extracts every "
            "object in the bucket again.",
            soft_wrap=True,
        )


_DEV_SUPERSEDED_WARNING = "ignore:Function `dev_command` is superseded"


def _dev_workspace(home: Path) -> Path:
    """The project's workspace (workspace.yaml: the installed `pii_assets.definitions` module),
    written into the instance's directory, so that `dev` runs from any directory, not only the
    checkout."""
    import yaml

    from pii_pipeline.local_deployment import CODE_LOCATION

    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": "pii_assets.definitions",
                    "location_name": CODE_LOCATION,
                }
            }
        ]
    }
    path = home / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace, sort_keys=False))
    return path


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded S3 (objects kept in --s3-dir between restarts) with the demo corpus, then
    `dagster dev` with the sensors on. A taken port is a one-line error (PortTaken)."""
    from pii_pipeline.local_s3 import LocalS3Server, require_free_port, use_local_credentials

    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    require_free_port("127.0.0.1", args.ui_port, "Dagster UI; choose another with --ui-port")
    use_local_credentials()
    state_dir = Path(args.s3_dir).resolve()
    try:
        server = LocalS3Server(port=args.s3_port, state_dir=state_dir).start()
    except PortTaken as exc:
        raise PortTaken(f"{exc}; choose another with --s3-port") from None
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "AWS_ENDPOINT_URL_S3": server.endpoint_url,
        # Run logs at INFO in this terminal (pii_assets/log_format.py), not every DEBUG event.
        "PII_LOG_LEVEL": os.environ.get("PII_LOG_LEVEL", "INFO"),
        # `dagster dev` warns that it is superseded by the `dg` tool, which we do not use.
        "PYTHONWARNINGS": ",".join(
            filter(None, [os.environ.get("PYTHONWARNINGS"), _DEV_SUPERSEDED_WARNING])
        ),
    }
    os.environ.update(env)
    try:
        if server.restored:
            console.print(f"embedded S3: {server.restored} objects restored from {state_dir}")
        seed_demo(args.count, args.corpus_seed)  # creates the bucket when it is new
        _fresh_instance_if_behind(home)
        ensure_instance_home(home)
        console.print(
            f"embedded S3 on {server.endpoint_url} (objects kept in {state_dir}); "
            f"UI on http://127.0.0.1:{args.ui_port}"
        )
        command = [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            str(_dev_workspace(home)),
            "-h",
            "127.0.0.1",
            "-p",
            str(args.ui_port),
            "--log-level",
            "info",
        ]
        return _run_until_stopped(command, env)
    finally:
        server.stop()


def _run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    """Run `command`, passing SIGTERM on and waiting through Ctrl-C (which reaches it as well,
    being in the terminal's process group) until it has shut down its own processes."""
    proc = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


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
    # The launch form's settings (the UI's `process_documents` job); default: the environment.
    p.add_argument("--bucket", help="S3 bucket (PII_S3_BUCKET)")
    p.add_argument("--input-prefix", help="where documents are discovered (PII_INPUT_PREFIX)")
    p.add_argument(
        "--password-env",
        action="append",
        metavar="NAME",
        help="NAME of an environment variable holding document passwords (repeatable; never "
        "the password itself)",
    )
    p.add_argument("--extractor", choices=("local", "openai"), help="PII_EXTRACTOR")
    p.add_argument("--model", help="LLM model of the openai extractor (OPENAI_MODEL)")
    p.add_argument(
        "--run-budget-usd", type=float, help="USD per extraction run (PII_MAX_BUDGET_USD)"
    )
    p.add_argument("--batch-size", type=int, help="documents per extraction run (PII_BATCH_SIZE)")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("reprocess", help="re-extract partitions in batched runs, then publish")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--stale", action="store_true", help="partitions extracted by another code version"
    )
    which.add_argument("--partition", nargs="+", action="extend", default=[], help="partition keys")
    which.add_argument("--object", nargs="+", action="extend", default=[], help="S3 object keys")
    p.add_argument("--dry-run", action="store_true", help="only list what would be reprocessed")
    p.add_argument("--no-publish", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("dev", help="embedded S3 with the demo corpus + dagster dev")
    p.add_argument(
        "--ui-port", "--port", dest="ui_port", type=int, default=3000, help="Dagster UI port"
    )
    p.add_argument("--s3-port", type=int, default=9000, help="embedded S3 port")
    p.add_argument("--s3-dir", default=".dev_s3", help="folder keeping the embedded S3's objects")
    corpus_args(p)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("demo", help="embedded S3 + demo corpus + process, with a summary")
    p.add_argument("--workdir", default=".demo", help="instance and dataset copy go here")
    corpus_args(p)
    p.set_defaults(func=cmd_demo)
    dataset_cli.add_parser(sub)
    metrics_cli.add_parser(sub)
    review_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A shell starts background jobs (`cmd &`) with SIGINT ignored, and Dagster maps SIGTERM onto
    # SIGINT's handler (dagster/_utils/interrupts.py, for Kubernetes), so such a `process` would
    # ignore SIGTERM as well: give SIGINT Python's own handler back.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return args.func(args)
    except PortTaken as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        return 2
    except ValueError as exc:
        # Configuration errors: the message names the variable, never a secret value.
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        return 2
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if not isinstance(exc, BotoCoreError | ClientError):
            raise
        # botocore's messages name the operation, bucket and endpoint, never credentials.
        console.print(f"[red]S3 error:[/red] {exc}", soft_wrap=True, highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
