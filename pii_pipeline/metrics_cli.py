"""`pii-pipeline metrics [--serve PORT]`: the operators' metrics (pii_pipeline/metrics.py)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def cmd_metrics(args: argparse.Namespace) -> int:
    import dagster as dg

    from pii_pipeline.metrics import exposition, registry_for, serve

    if not os.environ.get("DAGSTER_HOME"):
        raise ValueError("DAGSTER_HOME is not set: it names the instance whose metrics are read")
    with dg.DagsterInstance.get() as instance:
        registry = registry_for(instance)
        if args.serve is None:
            sys.stdout.write(exposition(registry))
            return 0
        server = serve(registry, args.host, args.serve)
        print(f"metrics on http://{args.host}:{server.server_port}/metrics", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        server.shutdown()
        return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "metrics", help="documents, failures, cost and runs in Prometheus text format"
    )
    parser.add_argument(
        "--serve", type=int, metavar="PORT", help="answer GET /metrics on PORT instead of printing"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on with --serve")
    parser.set_defaults(func=cmd_metrics)
