"""Publishing 1,000 changed documents on a large base versus a small one: time and bytes written.

The base tables are written directly as one commit (synthetic rows, ten entities per document,
real S3 server over HTTP); then the publish of a change of `CHANGED` consecutive documents (new
results for documents of the base, as a reprocessing batch of consecutive partitions makes) runs
through `dataset.publish`, the same code the asset runs after reading the changed results.
Bytes written are the sizes of the objects the publish added under the dataset prefix.

`make bench` compares a 10,000-document base with a 100,000-document one; `make bench-scale`
(`BENCH_SCALE=1`) compares 10,000 with 1,000,000 documents / 10,000,000 entities (issue 14's
target: at most 2x in time and in bytes). A change scattered over the whole key range is reported
too, without a target: delta-rs rewrites every small file that holds a changed document.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import pyarrow as pa

from bench.common import s3_store
from pii_assets.dataset import Change, publish
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
from pii_assets.dataset_tables import (
    DOCUMENTS,
    ENTITIES,
    KEY_COLUMN,
    ensure_table,
    location,
    replace_rows,
)

SMALL = 10_000
LARGE = 1_000_000 if os.environ.get("BENCH_SCALE") else 100_000
CHANGED = 1_000
ENTITIES_PER_DOCUMENT = 10
REPEATS = 3
TARGET = 2.0


def _key(index: int) -> str:
    return f"documents/batch/doc-{index:07d}.pdf"


def _tables(indices: range, generation: int) -> tuple[pa.Table, pa.Table]:
    """Documents and entities rows for `indices`, built column by column (no per-row objects)."""
    n = len(indices)
    keys = [_key(i) for i in indices]
    zeros = pa.array([0] * n, pa.int32())
    documents = {
        "document_key": keys,
        "partition_key": [k[len("documents/") :].replace("/", "%2F") for k in keys],
        "etag": [f"{generation:04d}{i:028d}" for i in indices],
        "status": pa.array(["ok"]).take(pa.array([0] * n)),
        "error_class": pa.nulls(n, pa.string()),
        "error_message": pa.nulls(n, pa.string()),
        "pages": pa.array([2] * n, pa.int32()),
        "truncated": pa.array([False] * n),
        "classification": pa.array(["invoice"]).take(pa.array([0] * n)),
        "extractor": pa.array(["local"]).take(pa.array([0] * n)),
        "model": pa.nulls(n, pa.string()),
        "code_version": pa.array(["bench"]).take(pa.array([0] * n)),
        "cost_usd": pa.array([0.0] * n),
        "input_tokens": pa.array([0] * n, pa.int64()),
        "output_tokens": pa.array([0] * n, pa.int64()),
        "entity_count": pa.array([ENTITIES_PER_DOCUMENT] * n, pa.int32()),
        "processed_at": pa.nulls(n, pa.timestamp("us", tz="UTC")),
        "pages_text": pa.array([2] * n, pa.int32()),
        "pages_ocr": zeros,
        "pages_text_and_ocr": zeros,
        "parts_read": pa.array([[("pages", 2)]] * n, pa.map_(pa.string(), pa.int32())),
        "unread_parts": pa.nulls(n, DOCUMENTS_SCHEMA.field("unread_parts").type),
        "entity_values": pa.array(["raw"]).take(pa.array([0] * n)),
        "reviewed_pages": zeros,
        "redaction": pa.nulls(n, pa.string()),
        "redacted_copy": pa.nulls(n, pa.string()),
    }
    m = n * ENTITIES_PER_DOCUMENT
    doc_index = [i for i in indices for _ in range(ENTITIES_PER_DOCUMENT)]
    entities = {
        "entity_id": [f"{generation:02d}{i:010d}{j:02d}" for i in indices for j in range(10)],
        "document_key": [_key(i) for i in doc_index],
        "page": pa.array([1] * m, pa.int32()),
        "entity_type": pa.array(["EMAIL_ADDRESS"]).take(pa.array([0] * m)),
        "text": [f"u{i}.{generation}@example.com" for i in doc_index],
        "x0": pa.array([0.1] * m),
        "y0": pa.array([0.1] * m),
        "x1": pa.array([0.3] * m),
        "y1": pa.array([0.2] * m),
        "confidence": pa.array([0.9] * m),
        "source": pa.array(["text"]).take(pa.array([0] * m)),
        "part": pa.nulls(m, pa.string()),
        "area": pa.array(["body"]).take(pa.array([0] * m)),
        "cell": pa.nulls(m, pa.string()),
        "column_header": pa.nulls(m, pa.string()),
        "line": pa.nulls(m, pa.int32()),
        "char_start": pa.nulls(m, pa.int64()),
        "char_end": pa.nulls(m, pa.int64()),
        "data_path": pa.nulls(m, pa.string()),
        **{
            name: pa.nulls(m, ENTITIES_SCHEMA.field(name).type)
            for name in ENTITIES_SCHEMA.names
            if name.startswith(("review", "reviewed_"))
        },
    }
    return (
        pa.table(documents).cast(DOCUMENTS_SCHEMA),
        pa.table(entities).cast(ENTITIES_SCHEMA),
    )


def _sizes(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    paginator = client.get_paginator("list_objects_v2")
    return {
        item["Key"]: item["Size"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", ())
    }


def _measure(size: int, changes: list[range]) -> list[tuple[float, int]]:
    """(seconds, bytes written) of each change published in turn on a base of `size`."""
    with s3_store(f"bench-publish-{size}") as store:
        client, layout = store.client(), store.layout()
        where = location(client, layout)
        # The base: one commit per table, written in slices to bound memory.
        for name, schema in ((DOCUMENTS, DOCUMENTS_SCHEMA), (ENTITIES, ENTITIES_SCHEMA)):
            table = ensure_table(where, name, schema)
            for start in range(0, size, 200_000):
                documents, entities = _tables(range(start, min(size, start + 200_000)), 0)
                rows = documents if name == DOCUMENTS else entities
                replace_rows(table, KEY_COLUMN[name], [], rows, publish_id="base")
        # A first publish on top writes the base's manifest, as every later one finds it.
        warm_docs, warm_ents = _tables(range(0, 1), 99)
        publish(
            client,
            layout,
            Change(warm_docs, warm_ents, frozenset(warm_docs.column("partition_key").to_pylist())),
            code_version="bench",
            where=where,
        )
        figures = []
        for generation, indices in enumerate(changes, start=1):
            documents, entities = _tables(indices, generation)
            change = Change(
                documents, entities, frozenset(documents.column("partition_key").to_pylist())
            )
            before = _sizes(client, store.bucket, layout.dataset_prefix)
            start = time.perf_counter()
            published, _, _ = publish(client, layout, change, code_version="bench", where=where)
            elapsed = time.perf_counter() - start
            assert published.status == "published"
            after = _sizes(client, store.bucket, layout.dataset_prefix)
            figures.append((elapsed, sum(v for k, v in after.items() if k not in before)))
        return figures


def _batches(size: int) -> list[range]:
    middle = size // 2
    return [range(middle + r * CHANGED, middle + (r + 1) * CHANGED) for r in range(REPEATS)]


def run(console: Any) -> dict[str, Any]:
    results: dict[int, tuple[float, float]] = {}
    for size in (SMALL, LARGE):
        console.print(f"  base of {size:,} documents ({size * ENTITIES_PER_DOCUMENT:,} entities)…")
        figures = _measure(size, _batches(size))
        results[size] = (
            statistics.median(t for t, _ in figures),
            statistics.median(b for _, b in figures),
        )
    console.print(f"  scattered change on {SMALL:,} documents…")
    step = SMALL // CHANGED
    (scattered,) = _measure(SMALL, [range(0, SMALL, step)])
    time_ratio = results[LARGE][0] / results[SMALL][0]
    bytes_ratio = results[LARGE][1] / results[SMALL][1]
    rows = [
        {
            "figure": f"publish {CHANGED:,} changed on {size:,}",
            "value": f"{t:.2f} s, {b / 1e6:.2f} MB written",
        }
        for size, (t, b) in results.items()
    ]
    rows += [
        {
            "figure": f"time {LARGE:,} / {SMALL:,}",
            "value": f"{time_ratio:.2f}x",
            "target": f"<= {TARGET}x",
            "met": time_ratio <= TARGET,
        },
        {
            "figure": f"bytes written {LARGE:,} / {SMALL:,}",
            "value": f"{bytes_ratio:.2f}x",
            "target": f"<= {TARGET}x",
            "met": bytes_ratio <= TARGET,
        },
        {
            "figure": f"{CHANGED:,} changed scattered over {SMALL:,} (no target)",
            "value": f"{scattered[0]:.2f} s, {scattered[1] / 1e6:.2f} MB written",
        },
    ]
    return {
        "changed": CHANGED,
        "sizes": [SMALL, LARGE],
        "median_publish_s": {str(k): v[0] for k, v in results.items()},
        "median_bytes_written": {str(k): v[1] for k, v in results.items()},
        "time_ratio": time_ratio,
        "bytes_ratio": bytes_ratio,
        "rows": rows,
    }
