"""What a human review of a document holds: per page, the reviewer's labels (the ground truth of
that page) and the machine labels the reviewer was shown. No Dagster, no I/O.

A review belongs to one object version: document key + ETag. Pages are keyed by `page_key`:
the 1-based page number of a paged document ("3"), or "text" for the whole decoded text of a
text document (its labels are character spans). Boxes are normalised to the page (0..1, origin
top-left), like `models.Entity`; spans are character offsets (end exclusive) in the decoded text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pii_assets.models import Entity

# How exported tasks reference page images: s3:// URIs or presigned HTTPS URLs.
URL_MODES = ("s3", "presigned")
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 presigned URLs: at most 7 days (S3 User Guide)

# What a reviewed page says about each entity row (the `review_status` column).
CONFIRMED = "confirmed"  # the reviewer kept the machine label: same type, same place
CORRECTED = "corrected"  # the reviewer changed its type or moved it elsewhere
ADDED = "added"  # a label only the reviewer drew (the machine missed it)
REJECTED = "rejected"  # a machine label the reviewer removed (not PII, or not there)
REVIEW_STATUSES: tuple[str, ...] = (CONFIRMED, CORRECTED, ADDED, REJECTED)

TEXT_PAGE = "text"

Box = tuple[float, float, float, float]
Span = tuple[int, int]


def page_key(entity: Entity) -> str | None:
    """The review page an entity belongs to, or None when it cannot be reviewed: entities of
    embedded parts, and units that are neither pages nor located spans of a text document."""
    if entity.part is not None:
        return None
    if entity.page is not None:
        return str(entity.page)
    if entity.area == "text" and entity.char_start is not None and entity.char_end is not None:
        return TEXT_PAGE
    return None


def entity_box(entity: Entity) -> Box | None:
    if entity.x0 is None or entity.y0 is None or entity.x1 is None or entity.y1 is None:
        return None
    return (entity.x0, entity.y0, entity.x1, entity.y1)


def entity_span(entity: Entity) -> Span | None:
    if entity.char_start is None or entity.char_end is None:
        return None
    return (entity.char_start, entity.char_end)


@dataclass(frozen=True, slots=True)
class Label:
    """One label of the reviewer's final annotation. `label_id` is Label Studio's region id,
    equal to the machine entity's id (`from_entity`) when the reviewer kept or edited a
    pre-annotation. No value: a span's text is not kept (its place is)."""

    label_id: str
    entity_type: str
    box: Box | None = None
    span: Span | None = None
    from_entity: str | None = None


@dataclass(frozen=True, slots=True)
class MachineRef:
    """A machine label as the reviewer was shown it (no value): lets a review follow its entity
    when reprocessing the same object version renumbers the entities."""

    entity_id: str
    entity_type: str
    box: Box | None = None
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class PageReview:
    page: str
    labels: tuple[Label, ...] = ()
    machine: tuple[MachineRef, ...] = ()
    annotation_id: int | None = None
    task_id: int | None = None
    reviewed_at: str | None = None


def _tuple(value: Any) -> Any:
    return None if value is None else tuple(value)


_LABEL_FIELDS = frozenset(Label.__dataclass_fields__)
_REF_FIELDS = frozenset(MachineRef.__dataclass_fields__)


def _known(data: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    # A stored review of another release may hold a field this one does not know.
    return {name: value for name, value in data.items() if name in names}


@dataclass(slots=True)
class DocumentReview:
    """The reviewed pages of one object version."""

    document_key: str
    etag: str
    partition_key: str
    pages: dict[str, PageReview] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "document_key": self.document_key,
            "etag": self.etag,
            "partition_key": self.partition_key,
            "pages": {key: asdict(page) for key, page in sorted(self.pages.items())},
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DocumentReview:
        pages = {}
        for key, page in data.get("pages", {}).items():
            labels = tuple(
                Label(
                    **{
                        **_known(label, _LABEL_FIELDS),
                        "box": _tuple(label.get("box")),
                        "span": _tuple(label.get("span")),
                    }
                )
                for label in page.get("labels", [])
            )
            machine = tuple(
                MachineRef(
                    **{
                        **_known(ref, _REF_FIELDS),
                        "box": _tuple(ref.get("box")),
                        "span": _tuple(ref.get("span")),
                    }
                )
                for ref in page.get("machine", [])
            )
            pages[key] = PageReview(
                page=key,
                labels=labels,
                machine=machine,
                annotation_id=page.get("annotation_id"),
                task_id=page.get("task_id"),
                reviewed_at=page.get("reviewed_at"),
            )
        return cls(data["document_key"], data["etag"], data["partition_key"], pages)
