"""Dataset versions written to the real S3 server and read back with plain pyarrow."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from pii_assets.dataset import (
    DOCUMENTS_SCHEMA,
    ENTITIES_SCHEMA,
    build_tables,
    existing_versions,
    latest_version,
    publish_version,
    read_manifest,
)
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


def test_versions_are_immutable_and_readable_with_plain_pyarrow(store, s3_endpoint) -> None:
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

    latest = json.loads(
        client.get_object(Bucket=store.bucket, Key=layout.dataset_prefix + "_latest.json")[
            "Body"
        ].read()
    )
    assert latest["path"] == second.path

    fs = plain_pyarrow_fs(s3_endpoint)
    root = f"{store.bucket}/{layout.dataset_prefix}"
    v1 = ds.dataset(f"{root}v000001/documents", filesystem=fs, format="parquet").to_table()
    v2 = ds.dataset(f"{root}v000002/entities", filesystem=fs, format="parquet").to_table()
    assert v1.num_rows == 1 and v2.num_rows == 3
    manifest = json.loads(
        client.get_object(Bucket=store.bucket, Key=f"{layout.dataset_prefix}v000002/manifest.json")[
            "Body"
        ].read()
    )
    assert manifest["row_counts"] == {"documents": 2, "entities": 3}
    assert manifest["parent_version"] == "v000001"


@pytest.mark.parametrize("publishers", [4])
def test_concurrent_publishers_never_share_a_version(store, publishers: int) -> None:
    client, layout = store.client(), store.layout()
    tables = build_tables([("a", result("a", 1))])
    with ThreadPoolExecutor(publishers) as pool:
        published = list(
            pool.map(
                lambda _: publish_version(client, layout, *tables, code_version="t"),
                range(publishers),
            )
        )
    versions = sorted(p.version for p in published)
    assert versions == [f"v{i:06d}" for i in range(1, publishers + 1)]
    assert existing_versions(client, layout) == versions


def test_pruning_keeps_the_newest_versions_and_the_latest(store) -> None:
    from pii_assets.dataset import prune_versions

    client, layout = store.client(), store.layout()
    tables = build_tables([("a", result("a", 1))])
    for _ in range(4):
        publish_version(client, layout, *tables, code_version="t")
    assert prune_versions(client, layout, keep=0) == []
    assert prune_versions(client, layout, keep=2) == ["v000001", "v000002"]
    assert existing_versions(client, layout) == ["v000003", "v000004"]
    assert latest_version(client, layout) == "v000004"


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
    card = (
        store.client()
        .get_object(
            Bucket=store.bucket, Key=f"{layout.dataset_prefix}{published.version}/README.md"
        )["Body"]
        .read()
        .decode()
    )
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
