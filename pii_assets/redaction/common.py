"""What every format's redaction shares: why a copy cannot be made, boxes grouped by page, the
replacement text of a value. No I/O."""

from __future__ import annotations

from collections.abc import Sequence

from pii_assets.models import Entity

# A box is grown by this share of its height on every side (at least `MIN_PAD`): OCR boxes hug
# the glyphs, and a sliver of a character left visible can still be read.
PAD_SHARE = 0.15
MIN_PAD = 0.002


class NotRedactable(Exception):
    """No copy is made; `outcome` is the `redaction` column's value (a reason), the message names
    the cause and never a value."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class RedactionFailed(NotRedactable):
    """The copy was made but its check found text left where a value was: it is not written."""

    def __init__(self, message: str) -> None:
        super().__init__("redaction_failed", message)


def replacement(entity_type: str) -> str:
    """What a value is replaced by in spreadsheets and text formats."""
    return f"[{entity_type}]"


def padded(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    pad = max(MIN_PAD, (box[3] - box[1]) * PAD_SHARE)
    return (
        max(0.0, box[0] - pad),
        max(0.0, box[1] - pad),
        min(1.0, box[2] + pad),
        min(1.0, box[3] + pad),
    )


def placed_on_pages(
    entities: Sequence[Entity], page_count: int, *, parts_removed: tuple[str, ...] = ()
) -> dict[int, list[tuple[float, float, float, float]]]:
    """Boxes by 1-based page for a paged document. Entities of embedded parts are accepted only
    when the copy drops those parts whole (`parts_removed` prefixes, e.g. a PDF's attachments);
    raises NotRedactable for any other part, and for an entity without a box."""
    pages: dict[int, list[tuple[float, float, float, float]]] = {}
    for entity in entities:
        if entity.part is not None:
            if entity.part.startswith(parts_removed) and parts_removed:
                continue
            raise NotRedactable("embedded_parts", "values inside embedded parts")
        if entity.x0 is None or entity.page is None or not 1 <= entity.page <= page_count:
            raise NotRedactable("unlocated_entities", "an entity has no box on a page")
        box = (entity.x0, entity.y0, entity.x1, entity.y1)
        pages.setdefault(entity.page, []).append(box)  # type: ignore[arg-type]
    return pages
