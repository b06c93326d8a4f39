"""Review export: a dataset version's pages as Label Studio tasks on S3. No Dagster.

Which pages: documents with entities kept (`ok`, `partial`) of the version, optionally only
`document_keys`; with an entity filter (`entity_types`, `max_confidence`: below it), only the
pages holding a matching entity, else every page of each document (a page without machine
labels can still hide a missed value: recall needs it); then, with `sample`, a random sample of
that many documents (seeded: the same seed picks the same documents). Every machine label of a
chosen page is pre-annotated, so a reviewed page is reviewed whole.

Each document is read again at the object version of its row (a changed object is skipped:
its labels are not those of what is in the bucket now). Page images are written under the
export's prefix through `bucket.write_object` and referenced by an `s3://` URL (for a Label
Studio project whose source storage is the bucket, which presigns them itself) or a presigned
HTTPS URL (`url_mode="presigned"`, valid `url_expires_s`; S3 allows at most 7 days).

What leaves the pipeline: task data hold the page (its image, or a text document's text) so a
reviewer can judge it; pre-annotations and `pii_entities` hold types, places, confidences and
ids, never values, whatever the value policy. Delete an export's prefix when the review is done.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from pii_assets.bucket import BucketLayout, error_code, read_object, write_object
from pii_assets.dataset import latest_version, read_version
from pii_assets.models import ENTITY_TYPES, STATUSES_WITH_ENTITIES, Entity
from pii_assets.review.model import MAX_PRESIGN_S, TEXT_PAGE, URL_MODES
from pii_assets.review.pages import document_text, render_pages, task_format
from pii_assets.review.store import exports_prefix
from pii_assets.review.tasks import IMAGE, TEXT, build_task, labeling_config

_ENTITY_COLUMNS = [f.name for f in fields(Entity)]


@dataclass(frozen=True)
class ExportFilters:
    document_keys: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()
    max_confidence: float | None = None  # entities with confidence below this
    sample: int | None = None  # documents
    seed: int = 0


@dataclass(frozen=True)
class ExportOptions:
    url_mode: str = "s3"
    url_expires_s: int = MAX_PRESIGN_S
    max_side: int = 1600  # pixels of a page image's longer side
    passwords: tuple[str, ...] = ()
    conversion_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.url_mode not in URL_MODES:
            raise ValueError(f"url_mode must be one of {', '.join(URL_MODES)}")
        if not 1 <= self.url_expires_s <= MAX_PRESIGN_S:
            raise ValueError(f"url_expires_s must be within 1..{MAX_PRESIGN_S}")


@dataclass
class ExportSummary:
    """What an export wrote: its id and prefix, task files, counts; skipped documents by
    reason (never values)."""

    export_id: str
    version: str
    prefix: str
    files: dict[str, str] = field(default_factory=dict)  # name -> S3 key
    tasks: dict[str, int] = field(default_factory=dict)  # kind -> tasks
    documents: int = 0
    pre_annotations: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> documents

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "version": self.version,
            "prefix": self.prefix,
            "files": self.files,
            "tasks": self.tasks,
            "documents": self.documents,
            "pre_annotations": self.pre_annotations,
            "skipped": dict(sorted(self.skipped.items())),
        }


def _entity(row: dict[str, Any]) -> Entity:
    return Entity(**{name: row[name] for name in _ENTITY_COLUMNS})


def selected_pages(
    documents: pa.Table, entities: pa.Table, filters: ExportFilters
) -> dict[str, set[str]]:
    """Document key -> page keys ("3", or "text" for a text document: decided later, when the
    document is read; here "*" stands for every page) to export."""
    docs = documents.filter(
        pc.is_in(documents.column("status"), value_set=pa.array(sorted(STATUSES_WITH_ENTITIES)))
    )
    if filters.document_keys:
        docs = docs.filter(
            pc.is_in(docs.column("document_key"), value_set=pa.array(filters.document_keys))
        )
    keys = set(docs.column("document_key").to_pylist())
    chosen: dict[str, set[str]] = {}
    if filters.entity_types or filters.max_confidence is not None:
        rows = entities.filter(pc.is_null(entities.column("part")))
        if filters.entity_types:
            types = pa.array(filters.entity_types)
            rows = rows.filter(pc.is_in(rows.column("entity_type"), value_set=types))
        if filters.max_confidence is not None:
            rows = rows.filter(pc.less(rows.column("confidence"), filters.max_confidence))
        for row in rows.select(["document_key", "page"]).to_pylist():
            if row["document_key"] in keys:
                page = TEXT_PAGE if row["page"] is None else str(row["page"])
                chosen.setdefault(row["document_key"], set()).add(page)
    else:
        chosen = {key: {"*"} for key in keys}
    if filters.sample is not None and filters.sample < len(chosen):
        picked = random.Random(filters.seed).sample(sorted(chosen), filters.sample)
        chosen = {key: chosen[key] for key in sorted(picked)}
    return chosen


def _url(client: Any, layout: BucketLayout, key: str, options: ExportOptions) -> str:
    if options.url_mode == "s3":
        return layout.uri(key)
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": layout.bucket, "Key": key},
        ExpiresIn=options.url_expires_s,
    )


def export_tasks(
    client: Any,
    layout: BucketLayout,
    *,
    version: str | None = None,
    filters: ExportFilters = ExportFilters(),  # noqa: B008 - frozen
    options: ExportOptions = ExportOptions(),  # noqa: B008 - frozen
    export_id: str | None = None,
) -> ExportSummary:
    """Write the tasks and labeling configs of `version` (default: the latest) under
    `{output_prefix}review/exports/<export id>/`. Raises LookupError when there is no such
    version. Documents that cannot be exported are counted in `skipped` by reason."""
    version = version or latest_version(client, layout)
    if version is None:
        raise LookupError("no dataset version has been published yet")
    documents, entities = read_version(client, layout, version)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    export_id = export_id or f"{stamp}-{version}-{uuid.uuid4().hex[:6]}"
    prefix = f"{exports_prefix(layout)}{export_id}/"
    summary = ExportSummary(export_id, version, prefix)
    chosen = selected_pages(documents, entities, filters)
    rows = {
        row["document_key"]: row
        for row in documents.filter(
            pc.is_in(documents.column("document_key"), value_set=pa.array(sorted(chosen) or [""]))
        ).to_pylist()
    }
    by_document: dict[str, list[dict[str, Any]]] = {}
    wanted = pa.array(sorted(chosen) or [""])
    for row in entities.filter(
        pc.is_in(entities.column("document_key"), value_set=wanted)
    ).to_pylist():
        by_document.setdefault(row["document_key"], []).append(row)
    types = tuple(sorted(set(ENTITY_TYPES) | set(entities.column("entity_type").to_pylist())))
    tasks: dict[str, list[dict[str, Any]]] = {IMAGE: [], TEXT: []}
    for key in sorted(chosen):
        row = rows[key]
        made = _document_tasks(
            client,
            layout,
            row,
            by_document.get(key, []),
            chosen[key],
            prefix,
            options,
            types,
            version,
            summary,
        )
        if made:
            summary.documents += 1
            for kind, task in made:
                tasks[kind].append(task)
                summary.pre_annotations += len(task["data"]["pii_entities"])
    for kind in (IMAGE, TEXT):
        if not tasks[kind]:
            continue
        summary.tasks[kind] = len(tasks[kind])
        summary.files[f"{kind}_tasks"] = _write(
            client,
            layout,
            f"{prefix}{kind}_tasks.json",
            json.dumps(tasks[kind], indent=1),
            "application/json",
        )
        summary.files[f"{kind}_config"] = _write(
            client,
            layout,
            f"{prefix}{kind}_labeling_config.xml",
            labeling_config(kind, types),
            "application/xml",
        )
    summary.files["summary"] = _write(
        client,
        layout,
        f"{prefix}summary.json",
        json.dumps(summary.to_json_dict(), indent=1),
        "application/json",
    )
    return summary


def _write(client: Any, layout: BucketLayout, key: str, text: str, content_type: str) -> str:
    write_object(client, layout, key, text.encode("utf-8"), content_type=content_type)
    return key


def _document_tasks(
    client: Any,
    layout: BucketLayout,
    row: dict[str, Any],
    entity_rows: Sequence[dict[str, Any]],
    pages: set[str],
    prefix: str,
    options: ExportOptions,
    types: tuple[str, ...],
    version: str,
    summary: ExportSummary,
) -> list[tuple[str, dict[str, Any]]]:
    key, etag = row["document_key"], row["etag"]
    try:
        body = read_object(client, layout.bucket, key)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchKey", "404"):
            raise
        summary.skip("object_gone")
        return []
    if body.etag != etag or body.data is None:
        summary.skip("object_changed")
        return []
    kind = task_format(body.data)
    if kind is None:
        summary.skip("format_not_reviewable")
        return []
    machine = [
        (r["entity_id"], _entity(r))
        for r in entity_rows
        if r["part"] is None and r["review_status"] != "added"
    ]
    base = {
        "document_key": key,
        "partition_key": row["partition_key"],
        "etag": etag,
        "dataset_version": version,
    }
    model_version = row["code_version"] or row["extractor"] or "unknown"
    try:
        if kind == TEXT:
            text = document_text(body.data, name=key)
            on_text = [(i, e) for i, e in machine if e.page is None]
            data = {**base, "page": TEXT_PAGE, "text": text}
            return [
                (
                    TEXT,
                    build_task(
                        TEXT, data, on_text, model_version=model_version, entity_types=types
                    ),
                )
            ]
        numbers = (
            range(1, row["pages"] + 1)
            if "*" in pages
            else sorted(int(p) for p in pages if p != TEXT_PAGE)
        )
        made = []
        for number, png, _ in render_pages(
            body.data,
            numbers,
            name=key,
            max_side=options.max_side,
            passwords=options.passwords,
            timeout_s=options.conversion_timeout_s,
        ):
            image_key = f"{prefix}pages/{row['partition_key']}/{etag}/page-{number:04d}.png"
            write_object(client, layout, image_key, png, content_type="image/png")
            on_page = [(i, e) for i, e in machine if e.page == number]
            data = {**base, "page": number, IMAGE: _url(client, layout, image_key, options)}
            made.append(
                (
                    IMAGE,
                    build_task(
                        IMAGE, data, on_page, model_version=model_version, entity_types=types
                    ),
                )
            )
        return made
    except (ClientError, BotoCoreError):
        raise  # S3 failing fails the export, not one document
    except Exception:  # noqa: BLE001 - a document that cannot be rendered never stops the rest
        summary.skip("cannot_render")
        return []
