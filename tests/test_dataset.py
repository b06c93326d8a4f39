"""Dataset versions written to the real S3 server and read back with plain pyarrow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable

from pii_assets.dataset import (
    DOCUMENTS_SCHEMA,
    ENTITIES_SCHEMA,
    Change,
    apply_retention,
    build_tables,
    existing_versions,
    latest_version,
    publish,
    publish_version,
    read_card,
    read_manifest,
    read_version,
)
from pii_assets.dataset_tables import ENTITIES, TABLE_CONFIGURATION, location
from pii_assets.document_asset import status_counts
from pii_assets.models import Coverage, DocumentResult, Entity, Status, UnreadPart
from pii_pipeline.summary import summarize


def result(key: str, n_entities: int, status: Status = Status.OK) -> DocumentResult:
    return DocumentResult(
        document_key=f"documents/{key}",
        etag="e" * 32,
        status=status,
        error_class=None if status == Status.OK else "corrupt",
        pages=2,
        extractor="local",
        processed_at="2026-01-02T03:04:05+00:00",
        entities=[
            Entity("EMAIL_ADDRESS", f"user{i}@example.com", 1, 0.1, 0.2, 0.3, 0.25, 0.99, "text")
            for i in range(n_entities)
        ],
    )


def plain_pyarrow_fs(endpoint: str) -> pafs.S3FileSystem:
    url = urlparse(endpoint)
    return pafs.S3FileSystem(
        endpoint_override=url.netloc,
        scheme=url.scheme,
        access_key="local-demo",
        secret_key="local-demo",
        region="us-east-1",
    )


def test_build_tables_keeps_every_document_and_only_ok_entities() -> None:
    docs, ents = build_tables(
        [("a", result("a", 2)), ("b", result("b", 3, Status.FAILED)), ("c", result("c", 0))]
    )
    assert docs.schema == DOCUMENTS_SCHEMA and ents.schema == ENTITIES_SCHEMA
    assert docs.column("document_key").to_pylist() == [f"documents/{k}" for k in "abc"]
    assert docs.column("entity_count").to_pylist() == [2, 0, 0]
    assert ents.num_rows == 2
    ids = ents.column("entity_id").to_pylist()
    assert len(set(ids)) == 2
    _, again = build_tables([("a", result("a", 2))])
    assert again.column("entity_id").to_pylist() == ids  # reproducible


def test_versions_are_delta_commits_and_stay_readable(store) -> None:
    client, layout = store.client(), store.layout()
    first = publish_version(
        client, layout, *build_tables([("a", result("a", 2))]), code_version="t"
    )
    second = publish_version(
        client,
        layout,
        *build_tables([("a", result("a", 2)), ("b", result("b", 1))]),
        code_version="t",
    )
    assert (first.version, second.version) == ("v000001", "v000002")
    assert second.parent == "v000001"
    assert latest_version(client, layout) == "v000002"
    pointer = json.loads(
        client.get_object(Bucket=store.bucket, Key=layout.dataset_prefix + "_latest.json")[
            "Body"
        ].read()
    )
    assert pointer["version"] == "v000002"
    assert (pointer["documents_version"], pointer["entities_version"]) == (2, 2)

    manifest = read_manifest(client, layout, "v000002")
    assert manifest["row_counts"] == {"documents": 2, "entities": 3}
    assert manifest["parent_version"] == "v000001"
    # Only the new document's rows were written: "a" kept its rows.
    assert manifest["version_cost"]["documents_written"] == 1
    assert manifest["changes"]["documents_added"] == 1
    documents, entities = read_version(client, layout, "v000001")
    assert documents.num_rows == 1 and entities.num_rows == 2
    assert documents.schema == DOCUMENTS_SCHEMA and entities.schema == ENTITIES_SCHEMA


def _log_text(client, bucket: str, prefix: str) -> str:
    """Every object of the tables' transaction logs (commits and checkpoints), as text."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return "".join(
        client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("latin-1")
        for item in listed
        if "/_delta_log/" in item["Key"]
    )


def test_the_transaction_log_holds_no_entity_value(store) -> None:
    """Per-file statistics cover the key columns only: no entity value in the log; a table
    created before is given the property at its next publish (from another process: this one
    serves the S3 server, and delta-rs's `alter` holds the GIL while it waits)."""
    client, layout = store.client(), store.layout()
    where = location(client, layout)
    # An entities table as the earlier code created it: statistics of every column.
    DeltaTable.create(
        where.uri(ENTITIES),
        ENTITIES_SCHEMA,
        configuration=TABLE_CONFIGURATION,
        storage_options=where.storage_options,
    )
    script = (
        "import sys; sys.path.insert(0, '.')\n"
        "from resources.store_env import client_and_layout\n"
        "from pii_assets.dataset import build_tables, publish_version\n"
        "from tests.test_dataset import result\n"
        "client, layout = client_and_layout()\n"
        "for key, n in (('a', 2), ('b', 3)):\n"
        "    rows = build_tables([(key, result(key, n))])\n"
        "    publish_version(client, layout, *rows, code_version='t')\n"
    )
    env = {**os.environ, "PII_S3_BUCKET": store.bucket}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    log = _log_text(client, store.bucket, layout.dataset_prefix)
    assert "documents/b" in log  # keys are statistics, as intended
    assert "@example.com" not in log
    _, entities = read_version(client, layout, "v000002")
    assert entities.num_rows == 3


def test_publishing_the_same_tables_again_writes_no_version(store) -> None:
    client, layout = store.client(), store.layout()
    tables = build_tables([("a", result("a", 1))])
    assert publish_version(client, layout, *tables, code_version="t").version == "v000001"
    again = publish_version(client, layout, *tables, code_version="t")
    assert (again.status, again.version, again.parent) == ("unchanged", None, "v000001")
    assert existing_versions(client, layout) == ["v000001"]


def test_racing_publishers_lose_and_duplicate_nothing(store) -> None:
    """Four publishers at once, each replacing its own documents and one shared document: every
    commit lands as its own version, the shared document has one row in every version, and
    `_latest.json` ends on the highest version."""
    client, layout = store.client(), store.layout()
    publish_version(
        client, layout, *build_tables([("shared", result("shared", 1))]), code_version="t"
    )

    def publisher(index: int) -> str | None:
        rows = [(f"own{index}", result(f"own{index}", index + 1))]
        rows.append(("shared", result("shared", index + 2)))
        documents, entities = build_tables(rows)
        change = Change(documents, entities, frozenset(key for key, _ in rows))
        published, _, _ = publish(client, layout, change, code_version="t")
        return published.version

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(publisher, range(4)))
    assert sorted(versions) == [f"v{i:06d}" for i in range(2, 6)]
    assert latest_version(client, layout) == "v000005"
    for version in existing_versions(client, layout):
        documents, _ = read_version(client, layout, version)
        keys = documents.column("document_key").to_pylist()
        assert len(keys) == len(set(keys)), version
    # The last version is exact: its counts match its tables.
    documents, entities = read_version(client, layout, "v000005")
    manifest = read_manifest(client, layout, "v000005")
    assert manifest["row_counts"] == {"documents": 5, "entities": entities.num_rows}
    documents, _ = read_version(client, layout, "v000005")
    assert sorted(documents.column("document_key").to_pylist()) == sorted(
        ["documents/shared", *(f"documents/own{i}" for i in range(4))]
    )


def test_the_pointer_never_moves_back(store) -> None:
    """A publisher that finishes late (its version is older) leaves `_latest.json` alone."""
    from pii_assets.dataset import _move_pointer

    client, layout = store.client(), store.layout()
    for rows in ([("a", result("a", 1))], [("a", result("a", 2))]):
        publish_version(client, layout, *build_tables(rows), code_version="t")
    record = {"version": "v000001", "documents_version": 1, "entities_version": 1}
    assert _move_pointer(client, layout, record) is False
    assert latest_version(client, layout) == "v000002"


def test_retention_vacuums_older_versions(store) -> None:
    client, layout = store.client(), store.layout()
    for count in (1, 2, 3):
        publish_version(
            client, layout, *build_tables([("a", result("a", count))]), code_version="t"
        )
    assert apply_retention(client, layout, 0) == []
    assert read_version(client, layout, "v000001")[1].num_rows == 1
    # A retention shorter than the versions' age: only the latest stays readable.
    dropped = apply_retention(client, layout, 1e-9)
    assert dropped == ["v000001", "v000002"]
    assert existing_versions(client, layout) == ["v000003"]
    assert read_version(client, layout, "v000003")[1].num_rows == 3
    with pytest.raises(LookupError):
        read_version(client, layout, "v000001")


def test_partial_status_and_coverage_totals_reach_facts_card_and_summary(store) -> None:

    partial = result("mixed.pdf", 1, Status.PARTIAL)
    partial.coverage = Coverage(
        pages_text=1,
        parts={"pages": 1, "attachments": 1},
        unread=[UnreadPart("attachment:a.zip", "limit_exceeded", "a.zip: too deep")],
    )
    scan = result("scan.pdf", 0)
    scan.coverage = Coverage(pages_ocr=2, pages_text_and_ocr=1, parts={"pages": 3})
    rows = [("mixed.pdf", partial), ("scan.pdf", scan)]
    published = publish_version(
        store.client(), store.layout(), *build_tables(rows), code_version="t"
    )
    facts = published.manifest["facts"]
    assert facts["documents_by_status"] == {"ok": 1, "partial": 1, "failed": 0, "skipped": 0}
    assert facts["pages_by_source"] == {"text": 1, "ocr": 2, "text+ocr": 1}
    assert facts["parts_read"] == {"attachments": 1, "pages": 4}
    assert facts["unread_parts_by_error_class"] == {"limit_exceeded": 1}

    layout = store.layout()
    card = read_card(store.client(), layout, published.version)
    for line in (
        "| partial | 1 |",
        "| text+ocr | 1 |",
        "| attachments | 1 |",
        "| limit_exceeded | 1 |",
    ):
        assert line in card

    summary = summarize(read_manifest(store.client(), layout, published.version))
    assert summary["documents_by_status"]["partial"] == 1
    assert summary["unread_parts_by_error_class"] == {"limit_exceeded": 1}
    # Run logs name every status, partial included, in one order.
    assert status_counts(Counter({"ok": 3, "failed": 1})) == "ok=3, partial=0, failed=1, skipped=0"
