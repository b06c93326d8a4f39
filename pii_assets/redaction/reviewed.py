"""The places a human review adds to a redaction: every label the reviewer left on a reviewed
page, as an entity located by its box (a page) or its character span (a text document). No I/O.

The copy is made from the machine entities AND the reviewer's labels (their union):

- added labels (the machine missed the value) are redacted at the reviewer's place;
- corrected labels (another type, or moved) are redacted at the reviewer's place, and the
  machine's own place stays redacted too;
- rejected machine labels stay redacted: the reviewer said "not PII" or "not there", but
  redacting a few words too many costs the copy little, and a wrong rejection would otherwise
  put a value in a copy meant to hold none.

Spreadsheets and CSV are redacted by cell: a reviewer's box cannot name a cell, so a label that
does not overlap a machine entity (`review.merge.MATCH_IOU`) makes the document
`unlocated_entities` (no copy) rather than a copy that misses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pii_assets.models import Entity
from pii_assets.redaction.common import NotRedactable
from pii_assets.review.merge import MATCH_IOU, overlap
from pii_assets.review.model import TEXT_PAGE, DocumentReview, entity_box, entity_span, page_key

# The entity `source` of a place a reviewer drew.
REVIEW_SOURCE = "review"


def review_entities(
    review: DocumentReview | None, entities: Sequence[Entity], *, by_cell: bool = False
) -> list[Entity]:
    """Entities (no value: `text` is "") for the labels of `review`'s pages. `by_cell`: the
    format places values by cell; labels covered by a machine entity of the same page are
    left out, and any other raises NotRedactable (`unlocated_entities`)."""
    if review is None:
        return []
    placed: list[Entity] = []
    for key, page in sorted(review.pages.items()):
        machine = [e for e in entities if page_key(e) == key]
        for label in page.labels:
            if by_cell:
                if not any(
                    overlap(entity_box(e), entity_span(e), label.box, label.span) >= MATCH_IOU
                    for e in machine
                ):
                    raise NotRedactable(
                        "unlocated_entities", "a reviewer's label cannot be placed in a cell"
                    )
                continue
            entity = _entity(key, label.entity_type, label.box, label.span)
            if entity is None:
                raise NotRedactable("unlocated_entities", "a reviewer's label has no place")
            placed.append(entity)
    return placed


def _entity(
    key: str,
    entity_type: str,
    box: tuple[float, float, float, float] | None,
    span: tuple[int, int] | None,
) -> Entity | None:
    if key == TEXT_PAGE and span is not None:
        return Entity(
            entity_type, "", None, None, None, None, None, 1.0, REVIEW_SOURCE,
            area="text", char_start=span[0], char_end=span[1],
        )  # fmt: skip
    if key.isdigit() and box is not None:
        return Entity(entity_type, "", int(key), *box, 1.0, REVIEW_SOURCE)
    return None
