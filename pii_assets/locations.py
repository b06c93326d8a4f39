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
# How far (page share) a fragment's box may stick out of a form field's widget: text drawn in a
# widget can overhang its rect a little.
_SLACK = 0.005


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
    elif unit.area in ("json", "xfa", "metadata") and first.ref:
        fields["data_path"] = first.ref
    if first.offset >= 0:
        fields["line"] = first.line or None
        fields["char_start"], fields["char_end"] = _offsets(covered, entity.text)
    return replace(located, **fields)


# Areas whose entities are never the same value as one in another area: decoded text is not
# drawn twice (page areas are: a form field's value is also in the text layer).
_OWN_AREAS = ("cell", "json", "text", "email_header", "email_body")


def _value(text: str) -> str:
    """A value without its separators and case: "495-41-3921" and "495 41 3921" are one."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _key(entity: Entity) -> tuple:
    return (
        entity.part,
        entity.area if entity.area in _OWN_AREAS else None,
        entity.page,
        entity.entity_type,
        _value(entity.text),
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


def _preferred(new: Entity, old: Entity) -> bool:
    """Whether `new` should replace `old` as the one row of their value: a form field's entity
    (its box is the widget's, its type came from the field's label), else the more confident."""
    if (new.area == "form_field") != (old.area == "form_field"):
        return new.area == "form_field"
    return new.confidence > old.confidence


def _inside(inner: Entity, outer: Entity) -> bool:
    if inner.x0 is None or outer.x0 is None:
        return False
    return (
        inner.x0 >= outer.x0 - _SLACK  # type: ignore[operator]
        and inner.y0 >= outer.y0 - _SLACK  # type: ignore[operator]
        and inner.x1 <= outer.x1 + _SLACK  # type: ignore[operator]
        and inner.y1 <= outer.y1 + _SLACK  # type: ignore[operator]
    )


def _fragment(entity: Entity, of: Entity) -> bool:
    """Whether page-text `entity` is another reading of the form field's entity `of`: same part,
    page and type, and either a piece of it (its box inside, its text contained: "Ostrowski" of
    "Maribel A Ostrowski" joined from two fields) or it with a neighbour's characters (their
    boxes overlapping, its text containing the field's: "1: (217) 555-0029" after "Phone 1:")."""
    if of.area != "form_field" or entity.area == "form_field":
        return False
    if (entity.part, entity.page, entity.entity_type) != (of.part, of.page, of.entity_type):
        return False
    inner, outer = _value(entity.text), _value(of.text)
    if not inner:
        return False
    if inner in outer:
        return _inside(entity, of)
    return outer in inner and _overlap(entity, of) >= _SAME_PLACE


def deduplicate(entities: Iterable[Entity]) -> list[Entity]:
    """One entity per value and place, in first-seen order: the same type and value (ignoring
    separators and case) in the same part, page or cell, with boxes that overlap by at least half
    of the smaller one (or both without a box), is one entity; a form field's is kept, else the
    most confident, with the first one's position in the list. A page-text entity that is another
    reading of a form field's entity (a piece of it, or it with a neighbour's characters:
    `_fragment`) is dropped: one value is one row."""
    kept: list[Entity] = []
    by_key: dict[tuple, list[int]] = {}
    for entity in entities:
        indexes = by_key.setdefault(_key(entity), [])
        for index in indexes:
            if _overlap(kept[index], entity) >= _SAME_PLACE:
                if _preferred(entity, kept[index]):
                    kept[index] = entity
                break
        else:
            indexes.append(len(kept))
            kept.append(entity)
    fields = [e for e in kept if e.area == "form_field"]
    if not fields:
        return kept
    return [e for e in kept if not any(_fragment(e, f) for f in fields)]
