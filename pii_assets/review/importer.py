"""Review import: a Label Studio JSON export (its "JSON" export format: a list of tasks, each with
its `data`, `annotations` and `predictions`) turned into stored reviews. No Dagster.

Only tasks this pipeline exported are read (their `data` names the document, ETag and page).
Per task, the annotation that counts is the newest one not cancelled (a "skip"), a ground-truth
one first; a task without one is not reviewed. Its `rectanglelabels` regions (x, y, width,
height in percent of the image, rotated by `rotation` degrees about their top-left corner) and
`labels` spans (`start`, `end`) become the page's labels; a region whose id is a pre-annotated
entity's id started from that machine label.

Reviews keep types, places and ids, never values: a label's text is not stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pii_assets.bucket import BucketLayout
from pii_assets.models import ENTITY_TYPES
from pii_assets.review.model import (
    TEXT_PAGE,
    DocumentReview,
    Label,
    MachineRef,
    PageReview,
)
from pii_assets.review.store import save_review

_RECTANGLE = "rectanglelabels"
_SPAN = "labels"


@dataclass
class ImportSummary:
    tasks: int = 0
    pages_reviewed: int = 0
    tasks_not_reviewed: int = 0  # no annotation, or every annotation cancelled
    tasks_not_ours: int = 0  # not exported by this pipeline
    documents: list[str] = field(default_factory=list)  # partition keys reviewed
    labels: int = 0
    # Labels the dataset cannot hold, by entity type / by result type: they refuse the import.
    unknown_types: dict[str, int] = field(default_factory=dict)
    unsupported_kinds: dict[str, int] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "pages_reviewed": self.pages_reviewed,
            "tasks_not_reviewed": self.tasks_not_reviewed,
            "tasks_not_ours": self.tasks_not_ours,
            "documents": len(self.documents),
            "labels": self.labels,
        }


def _box(value: dict[str, Any]) -> tuple[float, float, float, float]:
    """A rectangle in percent, rotated `rotation` degrees clockwise about its top-left corner
    (Label Studio's convention), as the normalised box that bounds it."""
    x, y = float(value["x"]) / 100, float(value["y"]) / 100
    width, height = float(value["width"]) / 100, float(value["height"]) / 100
    angle = math.radians(float(value.get("rotation") or 0))
    corners = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
    xs, ys = [], []
    for dx, dy in corners:
        xs.append(x + dx * math.cos(angle) - dy * math.sin(angle))
        ys.append(y + dx * math.sin(angle) + dy * math.cos(angle))
    clamp = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    return (clamp(min(xs)), clamp(min(ys)), clamp(max(xs)), clamp(max(ys)))


def _annotation(task: dict[str, Any]) -> dict[str, Any] | None:
    usable = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not usable:
        return None
    return max(
        usable,
        key=lambda a: (
            bool(a.get("ground_truth")),
            str(a.get("updated_at") or a.get("created_at") or ""),
            a.get("id") or 0,
        ),
    )


def _count(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _labels(annotation: dict[str, Any], predicted: set[str], summary: ImportSummary) -> list[Label]:
    labels = []
    for item in annotation.get("result") or []:
        kind, value = str(item.get("type")), item.get("value") or {}
        names = value.get(kind) or []
        if kind not in (_RECTANGLE, _SPAN):
            # A labelled region of another kind (hypertextlabels, polygonlabels…) cannot be
            # placed on the exported page or text: never dropped silently.
            if kind.endswith("labels") and names:
                _count(summary.unsupported_kinds, kind)
            continue
        if not names:
            continue
        for name in names:
            if str(name) not in ENTITY_TYPES:
                _count(summary.unknown_types, str(name))
        label_id = str(item.get("id") or "")
        common = {
            "label_id": label_id,
            "entity_type": str(names[0]),
            "from_entity": label_id if label_id in predicted else None,
        }
        if kind == _RECTANGLE:
            labels.append(Label(**common, box=_box(value)))
        else:
            labels.append(Label(**common, span=(int(value["start"]), int(value["end"]))))
    return labels


def _machine(data: dict[str, Any]) -> tuple[MachineRef, ...]:
    return tuple(
        MachineRef(
            entity_id=str(ref["id"]),
            entity_type=str(ref["type"]),
            box=tuple(ref["box"]) if ref.get("box") else None,
            span=tuple(ref["span"]) if ref.get("span") else None,
        )
        for ref in data.get("pii_entities") or []
    )


def reviews_from_export(
    tasks: Iterable[dict[str, Any]], summary: ImportSummary | None = None
) -> list[DocumentReview]:
    """The reviews a Label Studio export holds, one per object version (pure)."""
    summary = summary if summary is not None else ImportSummary()
    reviews: dict[tuple[str, str], DocumentReview] = {}
    for task in tasks:
        summary.tasks += 1
        data = task.get("data") or {}
        if not all(data.get(k) for k in ("document_key", "partition_key", "etag", "page")):
            summary.tasks_not_ours += 1
            continue
        annotation = _annotation(task)
        if annotation is None:
            summary.tasks_not_reviewed += 1
            continue
        machine = _machine(data)
        labels = _labels(annotation, {ref.entity_id for ref in machine}, summary)
        page = TEXT_PAGE if str(data["page"]) == TEXT_PAGE else str(int(data["page"]))
        version = (data["partition_key"], data["etag"])
        review = reviews.setdefault(
            version, DocumentReview(data["document_key"], data["etag"], data["partition_key"])
        )
        review.pages[page] = PageReview(
            page=page,
            labels=tuple(labels),
            machine=machine,
            annotation_id=annotation.get("id"),
            task_id=task.get("id"),
            reviewed_at=annotation.get("updated_at") or annotation.get("created_at"),
        )
        summary.pages_reviewed += 1
        summary.labels += len(labels)
    return list(reviews.values())


class UnknownEntityTypes(ValueError):
    """Labels the dataset cannot hold: of entity types it does not have (a label added to the
    Label Studio project's configuration, a typo; every label of a region is checked), or
    labelled regions of a kind the import cannot place (hypertextlabels…): the import stores
    nothing. The message names the types or kinds and how many labels carry each, never a
    value."""


def import_reviews(
    client: Any, layout: BucketLayout, tasks: Iterable[dict[str, Any]]
) -> ImportSummary:
    """Store the reviews of a Label Studio export (`store.save_review`: pages reviewed again
    replace the stored ones). The next dataset publish merges them into the rows.

    Raises UnknownEntityTypes, storing nothing, when a label's type is not one of the dataset's
    entity types (`models.ENTITY_TYPES`)."""
    summary = ImportSummary()
    reviews = reviews_from_export(tasks, summary)
    problems = []
    if summary.unknown_types:
        listed = ", ".join(f"{n[:40]!r} ({c})" for n, c in sorted(summary.unknown_types.items()))
        problems.append(
            f"{sum(summary.unknown_types.values())} labels of entity types the dataset does not "
            f"have: {listed}; the dataset's types are {', '.join(ENTITY_TYPES)}"
        )
    if summary.unsupported_kinds:
        listed = ", ".join(f"{n[:40]} ({c})" for n, c in sorted(summary.unsupported_kinds.items()))
        problems.append(
            f"labelled regions of kinds the import cannot place: {listed} (only "
            f"{_RECTANGLE} on page images and {_SPAN} on text)"
        )
    if problems:
        raise UnknownEntityTypes(
            "review import refused, nothing stored: "
            + "; ".join(problems)
            + " (fix the labels or the project's labeling configuration)"
        )
    for review in reviews:
        save_review(client, layout, review)
        summary.documents.append(review.partition_key)
    return summary
