"""`pii-pipeline dataset list|show|diff` against versions in the real S3 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pii_assets.dataset import build_tables, publish_version
from pii_assets.dataset_changes import diff_versions
from tests.test_dataset import result


def cli(store, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PII_S3_BUCKET": store.bucket}
    return subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", "dataset", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_show_and_diff(store) -> None:
    client, layout = store.client(), store.layout()
    v1 = build_tables([("a", result("a", 2)), ("b", result("b", 1))])
    v2 = build_tables([("a", result("a", 3)), ("c", result("c", 1))])
    publish_version(client, layout, *v1, code_version="t")
    publish_version(
        client,
        layout,
        *v2,
        code_version="t",
        extra_manifest={"changes": diff_versions(*v1, *v2).summary()},
    )

    listed = cli(store, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["documents"], r["entities"], r["latest"]) for r in rows] == [
        ("v000001", 2, 3, False),
        ("v000002", 2, 4, True),
    ]

    shown = cli(store, "show")
    assert shown.returncode == 0, shown.stderr
    assert "v000002" in shown.stdout and "EMAIL_ADDRESS" in shown.stdout
    assert "@example.com" not in shown.stdout  # the card carries counts, never values

    diff = cli(store, "diff", "v000001", "v000002", "--json")
    assert diff.returncode == 0, diff.stderr
    changes = json.loads(diff.stdout)
    assert changes["added"] == ["documents/c"] and changes["removed"] == ["documents/b"]
    assert changes["changed"] == ["documents/a"]
    assert changes["entity_delta_by_type"] == {"EMAIL_ADDRESS": 1}

    missing = cli(store, "show", "v000009")
    assert missing.returncode != 0
