"""Spreadsheet redaction: each value replaced by its entity type in the cell (or the cell's
comment) the entity's `cell` names.

- xlsx/xlsm (openpyxl): the workbook is loaded and saved again, so the shared-string table is
  rebuilt from the redacted cells and keeps no old value. A cell whose value holds the raw value
  gets only that part replaced; otherwise (masked, hashed or no values kept, or a formula) the
  whole cell becomes the type. What a workbook holds outside its cells is dropped whole,
  whatever the pipeline found in it (`drop_hidden`): document properties (core and custom),
  headers and footers, data validations (their lists are values), defined names (a name can
  hold a constant), pivot caches and external links (cached copies of cell values). openpyxl
  does not carry over charts, pictures or macros: the copy has none (and a macro-enabled
  workbook is written as a plain one). The saved copy is read again and those places must be
  empty (`check_hidden`).
- csv/tsv (the csv module): the file is parsed in the dialect the reader used
  (`spreadsheets.csv_dialect`) and written again in it, in its own encoding.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import openpyxl
from openpyxl.comments import Comment
from openpyxl.packaging.custom import CustomPropertyList
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.worksheet.datavalidation import DataValidationList
from openpyxl.worksheet.header_footer import HeaderFooterItem

from pii_assets.documents.spreadsheets import csv_dialect, text_encoding
from pii_assets.models import Entity
from pii_assets.redaction.common import NotRedactable, RedactionFailed, replacement

_REF = re.compile(r"^(?:(?:'(?P<quoted>(?:[^']|'')+)'|(?P<plain>[^!]+))!)?(?P<cell>[A-Z]+[0-9]+)$")


def parse_ref(ref: str) -> tuple[str | None, str]:
    """("Payroll", "C5") from "Payroll!C5", "'Q1 2024'!C5" or "C5" (no sheet)."""
    match = _REF.match(ref)
    if match is None:
        raise NotRedactable("unlocated_entities", "an entity's cell reference cannot be read")
    sheet = match["quoted"].replace("''", "'") if match["quoted"] else match["plain"]
    return sheet, match["cell"]


def _redacted_value(value: object, entities: Sequence[Entity], raw_values: bool) -> str:
    text = "" if value is None else str(value)
    whole = not raw_values or text.startswith("=")
    for entity in entities:
        if not whole and entity.text and entity.text in text:
            text = text.replace(entity.text, replacement(entity.entity_type))
        else:
            whole = True
    if whole:
        return " ".join(dict.fromkeys(replacement(e.entity_type) for e in entities))
    return text


# Entities in places `drop_hidden` empties whole, so they need no cell (by area or part name).
DROPPED_PLACES = ("metadata", "header_footer", "defined_name", "data_validation")


def _dropped(entity: Entity) -> bool:
    return entity.area in DROPPED_PLACES or (entity.part or "").startswith(DROPPED_PLACES)


def _by_cell(entities: Sequence[Entity]) -> dict[tuple[str, str | None, str], list[Entity]]:
    cells: dict[tuple[str, str | None, str], list[Entity]] = {}
    for entity in entities:
        if _dropped(entity):
            continue
        if entity.part is not None:
            raise NotRedactable("embedded_parts", "values inside embedded parts")
        if entity.area not in ("cell", "comment") or entity.cell is None:
            raise NotRedactable("unlocated_entities", "an entity is not in a cell")
        sheet, cell = parse_ref(entity.cell)
        cells.setdefault((entity.area, sheet, cell), []).append(entity)
    return cells


def redact_xlsx(data: bytes, entities: Sequence[Entity], *, raw_values: bool) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    for (area, sheet, cell), found in _by_cell(entities).items():
        if sheet is None or sheet not in workbook.sheetnames:
            raise NotRedactable("unlocated_entities", "an entity's sheet is not in the workbook")
        target = workbook[sheet][cell]
        if area == "comment":
            text = target.comment.text if target.comment is not None else ""
            target.comment = Comment(_redacted_value(text, found, raw_values), "redacted")
        else:
            target.value = _redacted_value(target.value, found, raw_values)
    drop_hidden(workbook)
    if raw_values:
        _check_workbook(workbook, entities)
    out = io.BytesIO()
    workbook.save(out)
    copy = out.getvalue()
    check_hidden(copy)
    return copy


_PROPERTIES = (
    *("creator", "lastModifiedBy", "title", "subject", "description", "keywords", "category"),
    *("contentStatus", "identifier", "language", "version", "revision"),
)
_HEADERS_FOOTERS = (
    *("oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"),
)


def drop_hidden(workbook: openpyxl.Workbook) -> None:
    """Empty what the workbook holds outside its cells and comments (openpyxl's model):
    properties, custom properties, headers and footers, data validations, defined names, pivot
    tables and external links."""
    for name in _PROPERTIES:
        setattr(workbook.properties, name, None)
    workbook.custom_doc_props = CustomPropertyList()
    workbook.defined_names.clear()
    workbook._external_links = []  # their cached values of another workbook's cells
    for sheet in workbook.worksheets:
        for name in _HEADERS_FOOTERS:
            setattr(sheet.HeaderFooter, name, HeaderFooterItem())
        sheet.data_validations = DataValidationList()
        sheet.defined_names.clear()
        sheet._pivots = []  # a pivot cache keeps its own copy of the source cells


def check_hidden(copy: bytes) -> None:
    """Raises RedactionFailed when the saved copy still holds anything in the places
    `drop_hidden` empties (counts only in the message)."""
    book = openpyxl.load_workbook(io.BytesIO(copy))
    found = {
        # openpyxl writes itself as the creator when there is none.
        "document properties": sum(
            1
            for name in _PROPERTIES
            if getattr(book.properties, name, None) not in (None, "", "openpyxl")
        ),
        "custom properties": len(book.custom_doc_props),
        "defined names": len(book.defined_names)
        + sum(len(sheet.defined_names) for sheet in book.worksheets),
        "headers and footers": sum(
            1
            for sheet in book.worksheets
            for name in _HEADERS_FOOTERS
            if getattr(sheet.HeaderFooter, name)
        ),
        "data validations": sum(len(s.data_validations.dataValidation) for s in book.worksheets),
        "pivot tables": sum(len(sheet._pivots) for sheet in book.worksheets),
        "external links": len(book._external_links),
    }
    left = {what: count for what, count in found.items() if count}
    if left:
        raise RedactionFailed(
            "the copy still holds " + ", ".join(f"{n} {what}" for what, n in left.items())
        )


def _check_workbook(workbook: openpyxl.Workbook, entities: Sequence[Entity]) -> None:
    values = {e.text for e in entities if e.text}
    left = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                texts = [str(cell.value or ""), cell.comment.text if cell.comment else ""]
                left += sum(1 for v in values for t in texts if v in t)
    if left:
        raise RedactionFailed(f"{left} values still found in cells after redaction")


def redact_csv(data: bytes, kind: str, entities: Sequence[Entity], *, raw_values: bool) -> bytes:
    encoding = text_encoding(data)
    text = data.decode(encoding, errors="replace")
    dialect = csv.excel_tab if kind == "tsv" else csv_dialect(text[: 64 * 1024])
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    for (_, _, cell), found in _by_cell(entities).items():
        letters, number = coordinate_from_string(cell)
        row, column = number - 1, column_index_from_string(letters) - 1
        if row >= len(rows) or column >= len(rows[row]):
            raise NotRedactable("unlocated_entities", "an entity's cell is not in the file")
        rows[row][column] = _redacted_value(rows[row][column], found, raw_values)
    out = io.StringIO(newline="")
    csv.writer(out, dialect).writerows(rows)
    redacted = out.getvalue()
    if raw_values:
        left = sum(1 for e in entities if e.text and e.text in redacted)
        if left:
            raise RedactionFailed(f"{left} values still found after redaction")
    return redacted.encode(encoding, errors="replace")
