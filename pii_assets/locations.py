"""Where each entity is, in terms a reviewer can open, and one row per value found.

Extractors return entities with a box on their unit (a page, or the virtual page a spreadsheet's
rows or a text file's lines are laid out on). `place` turns that into the entity's location: the
unit's part, area and page, plus, for non-paged units, the cell reference and column header, the
line and character offsets, or the data path (JSON path, XFA element path) of the words the box
covers. `deduplicate` keeps one entity per value and place: text drawn twice (overprint, a form
field's value also in the text layer, a text layer merged with its OCR) is one value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from pii_assets.documents.base import PageContent
from pii_assets.models import Entity, Word

# Words whose centre lies this far outside an entity's box still count as covered (rounding).
_EPSILON = 1e-6
# Two boxes of one value overlapping this much (intersection over the smaller box) are one place.
_SAME_PLACE = 0.5


def _covered(words: Sequence[Word], box: tuple[float, float, float, float]) -> list[Word]:
    x0, y0, x1, y1 = box
    inside = []
    for word in words:
        cx, cy = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
        if x0 - _EPSILON <= cx <= x1 + _EPSILON and y0 - _EPSILON <= cy <= y1 + _EPSILON:
            inside.append(word)
    return inside


def _offsets(covered: list[Word], value: str) -> tuple[int | None, int | None]:
    """Character offsets of `value` in the part's text, from the words it covers."""
    located = [w for w in covered if w.offset >= 0]
    if not located:
        return None, None
    located.sort(key=lambda w: w.offset)
    first, last = located[0], located[-1]
    tokens = value.split()
    head = tokens[0] if tokens else value
    tail = tokens[-1] if tokens else value
    start_in = first.text.find(head)
    end_in = last.text.rfind(tail)
    start = first.offset + (start_in if start_in >= 0 else 0)
    end = last.offset + (end_in + len(tail) if end_in >= 0 else len(last.text))
    return start, max(end, start)


def place(entity: Entity, unit: PageContent) -> Entity:
    """The entity with its unit's location (part, area, page) and, for units that are not pages,
    the cell, column header, line, character offsets or JSON path of the words it covers."""
    located = replace(
        entity,
        part=unit.part,
        area=unit.area,
        page=unit.number if unit.paged else None,
    )
    if unit.paged or entity.x0 is None:
        return located
    covered = _covered(unit.words, (entity.x0, entity.y0, entity.x1, entity.y1))  # type: ignore[arg-type]
    if not covered:
        return located
    first = min(covered, key=lambda w: (w.line, w.offset, w.x0))
    fields: dict[str, object] = {}
    # A spreadsheet comment's words carry the commented cell's reference.
    if unit.area in ("cell", "comment") and first.ref:
        fields["cell"] = first.ref
        sheet_column = first.ref.rstrip("0123456789")
        header = unit.column_headers.get(sheet_column)
        if header:
            fields["column_header"] = header
    elif unit.area in ("json", "xfa") and first.ref:
        fields["data_path"] = first.ref
    if first.offset >= 0:
        fields["line"] = first.line or None
        fields["char_start"], fields["char_end"] = _offsets(covered, entity.text)
    return replace(located, **fields)


# Areas whose entities are never the same value as one in another area: decoded text is not
# drawn twice (page areas are: a form field's value is also in the text layer).
_OWN_AREAS = ("cell", "json", "text", "email_header", "email_body")


def _key(entity: Entity) -> tuple:
    return (
        entity.part,
        entity.area if entity.area in _OWN_AREAS else None,
        entity.page,
        entity.entity_type,
        "".join(entity.text.split()).casefold(),
        entity.cell,
        entity.data_path,
        # Units without pages share one virtual page size: where the value is in the text tells
        # two occurrences apart (their boxes on different units can coincide).
        entity.char_start,
    )


def _overlap(a: Entity, b: Entity) -> float:
    if a.cell is not None and a.cell == b.cell:
        return 1.0  # a cell is the place (its header row is laid out again on later units)
    if a.x0 is None or b.x0 is None:
        return 1.0 if a.x0 is None and b.x0 is None else 0.0
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)  # type: ignore[operator]
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)  # type: ignore[operator]
    if ix <= 0 or iy <= 0:
        return 0.0
    area_a = (a.x1 - a.x0) * (a.y1 - a.y0)  # type: ignore[operator]
    area_b = (b.x1 - b.x0) * (b.y1 - b.y0)  # type: ignore[operator]
    smaller = min(area_a, area_b)
    return 1.0 if smaller <= 0 else (ix * iy) / smaller


def deduplicate(entities: Iterable[Entity]) -> list[Entity]:
    """One entity per value and place, in first-seen order: the same type and value (ignoring
    whitespace and case) in the same part, page or cell, with boxes that overlap by at least half
    of the smaller one (or both without a box), is one entity; the most confident is kept, with
    the first one's position in the list."""
    kept: list[Entity] = []
    by_key: dict[tuple, list[int]] = {}
    for entity in entities:
        indexes = by_key.setdefault(_key(entity), [])
        for index in indexes:
            if _overlap(kept[index], entity) >= _SAME_PLACE:
                if entity.confidence > kept[index].confidence:
                    kept[index] = entity
                break
        else:
            indexes.append(len(kept))
            kept.append(entity)
    return kept
