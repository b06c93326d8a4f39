"""`pii-pipeline dataset list|show|diff` against versions in the real S3 server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from pii_assets.bucket import put_json
from pii_assets.dataset import build_tables, latest_version, publish_version, read_version
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
    publish_version(client, layout, *v2, code_version="t")

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


def test_a_process_that_reads_the_tables_exits_cleanly(store) -> None:
    """Reading a version, whole and by key, then exiting: exit status 0 every time. A threaded
    pyarrow scan over delta-rs's Python filesystem aborted a third of such processes at exit
    (SIGABRT after the work was done); eight runs would all pass by chance with p < 0.03."""
    client, layout = store.client(), store.layout()
    publish_version(client, layout, *build_tables([("a", result("a", 2))]), code_version="t")
    publish_version(client, layout, *build_tables([("b", result("b", 1))]), code_version="t")
    script = (
        "from resources.store_env import client_and_layout\n"
        "from pii_assets.dataset import diff_between, read_version\n"
        "client, layout = client_and_layout()\n"
        "documents, entities = read_version(client, layout, 'v000002')\n"
        "assert diff_between(client, layout, 'v000001', 'v000002').added == ['documents/b']\n"
        "print(documents.num_rows, entities.num_rows)\n"
    )
    env = {**os.environ, "PII_S3_BUCKET": store.bucket}
    for _ in range(8):
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert (done.returncode, done.stdout) == (0, "1 1\n"), done.stderr


def test_diff_counts_content_changes_only(store) -> None:
    """A document re-extracted with the same rows (only `processed_at` differs) is unchanged."""
    client, layout = store.client(), store.layout()
    a = result("a", 1)
    publish_version(
        client, layout, *build_tables([("a", a), ("b", result("b", 1))]), code_version="t"
    )
    later = result("a", 1)
    later.processed_at = "2026-05-05T00:00:00+00:00"
    publish_version(
        client, layout, *build_tables([("a", later), ("b", result("b", 2))]), code_version="t"
    )
    changes = json.loads(cli(store, "diff", "v000001", "v000002", "--json").stdout)
    assert changes["changed"] == ["documents/b"] and changes["added"] == []


def test_convert_replays_the_folder_layout_as_delta_versions(store) -> None:
    """Folders of dataset format 2, as the previous code wrote them, become Delta versions."""
    client, layout = store.client(), store.layout()
    folders = [
        [("a", result("a", 2)), ("b", result("b", 1))],
        [("a", result("a", 3)), ("c", result("c", 1))],
    ]
    for number, rows in enumerate(folders, start=1):
        documents, entities = build_tables(rows)
        root = f"{layout.dataset_prefix}v{number:06d}/"
        for name, table in (("documents", documents), ("entities", entities)):
            sink = io.BytesIO()
            pq.write_table(table, sink)
            client.put_object(
                Bucket=store.bucket, Key=f"{root}{name}/part-00000.parquet", Body=sink.getvalue()
            )
        put_json(
            client,
            layout,
            f"{root}manifest.json",
            {
                "format": 2,
                "version": f"v{number:06d}",
                "status": "published",
                "created_at": "2026-01-01T00:00:00+00:00",
            },
        )
    put_json(client, layout, f"{layout.dataset_prefix}_latest.json", {"version": "v000002"})
    assert latest_version(client, layout) is None  # the old pointer names no Delta version

    converted = cli(store, "convert", "--delete-old", "--json")
    assert converted.returncode == 0, converted.stderr
    assert json.loads(converted.stdout) == [
        {"legacy": "v000001", "version": "v000001"},
        {"legacy": "v000002", "version": "v000002"},
    ]
    assert latest_version(client, layout) == "v000002"
    documents, entities = read_version(client, layout, "v000002")
    assert sorted(documents.column("document_key").to_pylist()) == ["documents/a", "documents/c"]
    assert entities.num_rows == 4
    left = client.list_objects_v2(Bucket=store.bucket, Prefix=f"{layout.dataset_prefix}v0")
    assert left.get("KeyCount", 0) == 0
    again = cli(store, "convert")
    assert again.returncode == 0 and "no version" in again.stdout + again.stderr
