"""CLI start-up: wall time of `pii-pipeline --help` and `pii-pipeline dataset list` (two published
versions on the embedded S3), each the median of 5 fresh processes; and whether
`import pii_pipeline.cli` leaves Dagster, pyarrow, pandas, deltalake, moto and boto3 unimported.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.common import s3_store

TARGET_S = 2.0
REPEATS = 5
HEAVY = ("dagster", "pyarrow", "pandas", "deltalake", "moto", "boto3")
_CLI = str(Path(sys.executable).with_name("pii-pipeline"))


def _wall_s(args: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([_CLI, *args], env=env, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imported_by_cli() -> list[str]:
    """The heavy packages `import pii_pipeline.cli` imports, in a fresh interpreter."""
    code = (
        "import json, sys; import pii_pipeline.cli; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run(console: Console) -> dict[str, Any]:
    from pii_assets.dataset import build_tables, publish_version
    from pii_assets.models import DocumentResult, Status

    def row(key: str) -> tuple[str, DocumentResult]:
        return key, DocumentResult(
            document_key=f"documents/{key}", etag="e" * 32, status=Status.OK, pages=1
        )

    with s3_store("bench-cli-startup") as store:
        client, layout = store.client(), store.layout()
        for keys in (["a"], ["a", "b"]):
            tables = build_tables(row(key) for key in keys)
            publish_version(client, layout, *tables, code_version="bench")
        env = {**os.environ, "PII_S3_BUCKET": store.bucket}
        help_s = _wall_s(["--help"], env)
        list_s = _wall_s(["dataset", "list"], env)
        listed = subprocess.run(
            [_CLI, "dataset", "list", "--json"], env=env, capture_output=True, check=True
        )
        assert len(json.loads(listed.stdout)) == 2
    heavy = imported_by_cli()
    return {
        "help_s": help_s,
        "dataset_list_s": list_s,
        "heavy_imports": heavy,
        "rows": [
            {
                "figure": f"pii-pipeline --help (median of {REPEATS})",
                "value": f"{help_s:.2f} s",
                "target": f"< {TARGET_S:.0f} s",
                "met": help_s < TARGET_S,
            },
            {
                "figure": f"pii-pipeline dataset list, 2 versions (median of {REPEATS})",
                "value": f"{list_s:.2f} s",
                "target": f"< {TARGET_S:.0f} s",
                "met": list_s < TARGET_S,
            },
            {
                "figure": "heavy packages imported by `import pii_pipeline.cli`",
                "value": ", ".join(heavy) or "none",
                "target": "none",
                "met": not heavy,
            },
        ],
    }
