"""Run every benchmark: `python -m bench [--only NAME ...] [--json PATH]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import (
    cli_startup,
    discovery_events,
    discovery_scale,
    document_deadline,
    document_memory,
    llm_cost,
    llm_throughput,
    page_throughput,
    parallel_runs,
    partition_scale,
    publish_scaling,
    run_overhead,
    sensor_tick,
    spreadsheet_memory,
    storage_overhead,
    text_layer_check,
)

BENCHMARKS = {
    "sensor_tick": sensor_tick.run,
    "run_overhead": run_overhead.run,
    "publish_scaling": publish_scaling.run,
    "document_memory": document_memory.run,
    "document_deadline": document_deadline.run,
    "spreadsheet_memory": spreadsheet_memory.run,
    "page_throughput": page_throughput.run,
    "text_layer_check": text_layer_check.run,
    "llm_throughput": llm_throughput.run,
    "llm_cost": llm_cost.run,
    "storage_overhead": storage_overhead.run,
    "parallel_runs": parallel_runs.run,
    "discovery_events": discovery_events.run,
    "cli_startup": cli_startup.run,
}
# `make bench-scale`: long runs (minutes to tens of minutes), out of `make bench`. publish_scaling
# is in both: `BENCH_SCALE=1` (set by `make bench-scale`) makes its large dataset 1,000,000.
SCALE_BENCHMARKS = {
    "publish_scaling": publish_scaling.run,
    "discovery_reconcile_1m": discovery_scale.run,
    "partition_scale": partition_scale.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--only", nargs="*", choices=sorted({**BENCHMARKS, **SCALE_BENCHMARKS}), default=None
    )
    parser.add_argument("--scale", action="store_true", help="the long benchmarks instead")
    parser.add_argument("--json", default=".bench/results.json", help="where to write figures")
    args = parser.parse_args(argv)
    console = Console()
    results = {}
    chosen = SCALE_BENCHMARKS if args.scale else BENCHMARKS
    if args.only:
        chosen = {n: b for n, b in {**BENCHMARKS, **SCALE_BENCHMARKS}.items() if n in args.only}
    for name, bench in chosen.items():
        console.print(f"[bold]running {name}…")
        results[name] = bench(console)
    table = Table(title="benchmarks")
    for column in ("benchmark", "figure", "value", "target", "met"):
        table.add_column(column)
    failed = False
    for name, result in results.items():
        for row in result["rows"]:
            met = row.get("met")
            failed = failed or met is False
            marker = {True: "[green]yes", False: "[red]no", None: ""}[met]
            table.add_row(name, row["figure"], row["value"], row.get("target", ""), marker)
    console.print(table)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    console.print(f"figures written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
