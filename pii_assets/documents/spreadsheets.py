"""Spreadsheets read from their cells: xlsx/xlsm (openpyxl, read-only), xls (xlrd), ods
(python-calamine), all three in `workbooks`, and csv/tsv (the standard library's csv module),
here.

Nothing is rendered, so nothing is clipped by a column's width: every sheet, hidden ones included,
and each cell's displayed value (`cell_values.display_text`) reach the recognizers, and so do the
cells' comments (notes). Cells are laid out on virtual pages (`PageContent`, area "cell", source
"cells", `paged=False`): up to `ROWS_PER_UNIT` rows of a sheet per unit, one row of words per
row, each cell's words `COLUMN_GAP_CHARS` character widths from the next cell's (so
`recognition.layout.PageText` puts a tab between cells and `recognition.tables` finds columns by
their header), and the sheet's header row repeated at the top of every unit so that column context
holds. Every word carries its cell reference (`Word.ref`, "Payroll!C5", the sheet name quoted as
Excel quotes it) and each unit maps its columns to their header (`column_headers`,
{"Payroll!C": "Email"}), from which `locations.place` gives each entity its cell and header.
Comments are units of area "comment" whose words carry the commented cell's reference.

Memory stays bounded: one sheet is read at a time, xlsx sheets and csv files are streamed row by
row, and only one unit of rows is held at once. A sheet that cannot be read is recorded as the
unread part "sheet:<name>" (the document becomes `partial`); the other sheets are still read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.sniff import TEXT_SAMPLE_BYTES
from pii_assets.documents.sniff import text_encoding as sniff_text_encoding
from pii_assets.documents.virtual_page import CHAR_PT, LINE_HEIGHT, LINE_PT, text_lines
from pii_assets.models import Coverage, DocumentError, ErrorClass, Word

# Rows of a sheet per unit, besides the repeated header row: few enough for the table-column
# logic (`recognition.tables` reads 80 rows below a header), many enough to keep units few.
ROWS_PER_UNIT = 40
# A unit holds at most this many cells (very wide sheets get fewer rows per unit).
MAX_CELLS_PER_UNIT = 2000
# Comments per comment unit.
COMMENTS_PER_UNIT = 50
# Character widths between two cells: more than `recognition.layout.COLUMN_GAP` (2.5), so the
# cells read as separate columns (a tab), never as one run of words.
COLUMN_GAP_CHARS = 4
# Coverage part kind of each area of a sheet's texts outside its cells.
TEXT_AREA_KINDS = {
    "header_footer": "headers_footers",
    "data_validation": "data_validations",
    "link": "links",
}
# Rows looked at for the header row, and the longest text a header cell may have.
_HEADER_SEARCH_ROWS = 5
_MAX_HEADER_CHARS = 64
# Csv fields may be long (free-text columns); the module's default limit is 128 KiB.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_CSV_SNIFF_BYTES = 64 * 1024

_LABELS = {
    "xlsx": "Excel workbook",
    "xls": "Excel 97-2003 workbook",
    "ods": "OpenDocument spreadsheet",
    "csv": "CSV file",
    "tsv": "TSV file",
}


@dataclass(frozen=True, slots=True)
class Cell:
    """One non-empty cell: 1-based row and column, and its displayed text."""

    row: int
    column: int
    text: str


@dataclass
class Sheet:
    """One sheet as a format backend gives it: rows of non-empty cells (in row order, streamed),
    and a loader of its comments as (row, column, text), read after the cells."""

    name: str | None  # None: a csv/tsv file, whose cells have no sheet name
    hidden: bool
    rows: Iterable[list[Cell]]
    comments: Callable[[], Iterable[tuple[int, int, str]]] = field(default=lambda: ())
    # Text the sheet holds outside its cells, as (area, reference, text): its print headers and
    # footers, its data validations (`workbook_parts`); read after the comments.
    texts: Callable[[], Iterable[tuple[str, str | None, str]]] = field(default=lambda: ())


def column_letters(column: int) -> str:
    """1 -> "A", 27 -> "AA" (ECMA-376 Part 1 §18.3.1.4 cell references)."""
    letters = ""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


_PLAIN_SHEET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_LOOKS_LIKE_REF = re.compile(r"(?i)[a-z]{1,3}[0-9]+|r[0-9]*c[0-9]*|r|c|true|false")


def sheet_prefix(name: str | None) -> str:
    """ "Payroll!" / "'Q1 2024'!" / "" (no sheet): quoted as Excel writes references, when the
    name has characters other than letters, digits, "_" and ".", starts with a digit, or reads
    as a cell reference; a quote inside is doubled."""
    if name is None:
        return ""
    if _PLAIN_SHEET_NAME.fullmatch(name) and not _LOOKS_LIKE_REF.fullmatch(name):
        return f"{name}!"
    return "'" + name.replace("'", "''") + "'!"


class SpreadsheetReader:
    """A `DocumentReader` over a spreadsheet's sheets, given by a format backend."""

    def __init__(
        self,
        sheets: Callable[[], Iterator[Sheet]],
        *,
        name: str,
        close: Callable[[], None] = lambda: None,
        extras: Callable[[Coverage], Iterable[PageContent]] | None = None,
    ) -> None:
        self._sheets = sheets
        self._extras = extras
        self._name = name
        self._close = close
        self.page_count = 0
        self.truncated = False
        self.coverage = Coverage()
        self._units = 0
        self._headers: dict[str, str] = {}  # the current sheet's column headers

    def close(self) -> None:
        self._close()

    def pages(self) -> Iterator[PageContent]:
        """Every sheet's cell units, then its comment units, one sheet after the other."""
        for sheet in self._sheets():
            label = f"sheet:{sheet.name}" if sheet.name is not None else "cells"
            where = f"{self._name}: sheet {sheet.name!r}" if sheet.name is not None else self._name
            self._headers = {}
            try:
                yield from self._cell_units(sheet)
                yield from self._comment_units(sheet)
            except DocumentError as exc:
                self.coverage.unreadable(label, exc.error_class, str(exc))
                continue
            except Exception as exc:  # a library's parse error: the sheet's bytes are damaged
                self.coverage.unreadable(
                    label,
                    ErrorClass.CORRUPT,
                    f"{where} cannot be read ({type(exc).__name__}); it is probably damaged",
                )
                continue
            if sheet.name is not None:
                self.coverage.read("sheets")
                if sheet.hidden:
                    self.coverage.read("hidden_sheets")
            yield from self._text_units(sheet, label=label, where=where)
        if self._extras is not None:
            # The workbook's own texts (document properties, defined names), numbered on.
            for unit in self._extras(self.coverage):
                self._units += 1
                unit.number = self._units
                yield unit

    def _text_units(self, sheet: Sheet, *, label: str, where: str) -> Iterator[PageContent]:
        """The sheet's headers, footers and data validations: a unit per area; when they cannot
        be read, the part "<sheet label> headers, footers, validations" is unread."""
        try:
            texts = list(sheet.texts())
        except Exception as exc:
            self.coverage.unreadable(
                f"{label} headers, footers, validations",
                ErrorClass.CORRUPT,
                f"{where}: its headers, footers and data validations cannot be read "
                f"({type(exc).__name__})",
            )
            return
        for area in dict.fromkeys(area for area, _, _ in texts):
            items = [(ref, text) for a, ref, text in texts if a == area]
            self.coverage.read(TEXT_AREA_KINDS[area], len(items))
            for start in range(0, len(items), COMMENTS_PER_UNIT):
                words, width, height = text_lines(items[start : start + COMMENTS_PER_UNIT])
                yield self._unit(words, width, height, source="plain", area=area)

    def _unit(self, words: list[Word], width: float, height: float, **kwargs) -> PageContent:
        self._units += 1
        return PageContent(
            number=self._units,
            words=words,
            width=width,
            height=height,
            paged=False,
            **kwargs,
        )

    def _cell_units(self, sheet: Sheet) -> Iterator[PageContent]:
        prefix = sheet_prefix(sheet.name)
        header: list[Cell] | None = None
        searching, seen = True, 0
        chunk: list[list[Cell]] = []
        cells = 0
        for row in sheet.rows:
            if not row:
                continue
            if searching:
                # The first row of two or more cells (among the first few) is the header row
                # when it reads as one; a title above the table is passed over.
                seen += 1
                if len(row) >= 2:
                    header = row if _is_header(row) else None
                    searching = False
                elif seen >= _HEADER_SEARCH_ROWS:
                    searching = False
            chunk.append(row)
            cells += len(row)
            if len(chunk) >= ROWS_PER_UNIT or cells >= MAX_CELLS_PER_UNIT:
                yield self._cells_unit(chunk, header, prefix)
                chunk, cells = [], 0
        if chunk:
            yield self._cells_unit(chunk, header, prefix)

    def _cells_unit(
        self, rows: list[list[Cell]], header: list[Cell] | None, prefix: str
    ) -> PageContent:
        count = sum(len(row) for row in rows)
        if header is not None and not any(row is header for row in rows):
            rows = [header, *rows]  # repeated for the column context; counted once, where it is
        words, width, height = layout_rows(rows, prefix)
        if header is not None and not self._headers:
            self._headers = {f"{prefix}{column_letters(c.column)}": c.text for c in header}
        self.coverage.read("cells", count)
        return self._unit(
            words, width, height, source="cells", area="cell", column_headers=self._headers
        )

    def _comment_units(self, sheet: Sheet) -> Iterator[PageContent]:
        prefix = sheet_prefix(sheet.name)
        batch: list[tuple[str, str]] = []
        for row, column, text in sheet.comments():
            if not text.strip():
                continue
            batch.append((f"{prefix}{column_letters(column)}{row}", text))
            if len(batch) >= COMMENTS_PER_UNIT:
                yield self._comments_unit(batch)
                batch = []
        if batch:
            yield self._comments_unit(batch)

    def _comments_unit(self, comments: list[tuple[str, str]]) -> PageContent:
        words, width, height = text_lines(comments)
        self.coverage.read("comments", len(comments))
        return self._unit(
            words, width, height, source="plain", area="comment", column_headers=self._headers
        )


def _is_header(row: list[Cell]) -> bool:
    """Whether a row reads as column headers: short labels, no numbers, dates or e-mails."""
    for cell in row:
        text = cell.text.strip()
        digits = sum(ch.isdigit() for ch in text)
        if (
            not text
            or len(text) > _MAX_HEADER_CHARS
            or "@" in text
            or not any(ch.isalpha() for ch in text)
            or digits * 2 >= len(text)
        ):
            return False
    return True


def layout_rows(rows: Sequence[list[Cell]], prefix: str) -> tuple[list[Word], float, float]:
    """Rows of cells as words on a virtual page: (words, width pt, height pt).

    Each column is as wide as its longest cell line in these rows; cells are `COLUMN_GAP_CHARS`
    apart; a cell's words are one character apart on its lines (a cell's line breaks become
    lines of the row). Every word's `ref` is its cell ("Payroll!C5").
    """
    columns = sorted({cell.column for row in rows for cell in row})
    widths = dict.fromkeys(columns, 1)
    lines_of: list[list[tuple[Cell, list[str]]]] = []
    for row in rows:
        laid = []
        for cell in row:
            lines = [" ".join(line.split()) for line in cell.text.splitlines()] or [""]
            laid.append((cell, lines))
            widths[cell.column] = max(widths[cell.column], *(len(line) for line in lines))
        lines_of.append(laid)
    content = sum(widths.values())
    # `recognition.tables` lets a value start up to 1.5% of the page width left of its header:
    # on wide pages the gap grows with the content so a neighbouring column stays outside that.
    gap = COLUMN_GAP_CHARS + content // 40
    x_of: dict[int, int] = {}
    x = 0
    for column in columns:
        x_of[column] = x
        x += widths[column] + gap
    total_chars = max(1, x - gap)
    slots = sum(max(len(lines) for _, lines in laid) if laid else 1 for laid in lines_of)
    sx, sy = 1.0 / total_chars, 1.0 / max(1, slots)
    words: list[Word] = []
    slot = 0
    for laid in lines_of:
        height = max((len(lines) for _, lines in laid), default=1)
        for cell, lines in laid:
            ref = f"{prefix}{column_letters(cell.column)}{cell.row}"
            for index, line in enumerate(lines):
                y0 = (slot + index) * sy
                offset = x_of[cell.column]
                for text in line.split():
                    words.append(
                        Word(
                            text,
                            offset * sx,
                            y0,
                            (offset + len(text)) * sx,
                            y0 + LINE_HEIGHT * sy,
                            0,
                            slot + index,
                            ref=ref,
                        )
                    )
                    offset += len(text) + 1
        slot += height
    # Words in reading order: by line, then left to right (cells were laid out cell by cell).
    words.sort(key=lambda w: (w.line, w.x0))
    return words, total_chars * CHAR_PT, max(1, slots) * LINE_PT


# --- Opening: workbooks (`workbooks`) and csv/tsv files ----------------------------------------


def open_spreadsheet(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> SpreadsheetReader:
    """A reader over the spreadsheet's cells and comments; raises DocumentError when the file
    cannot be opened at all (damaged, encrypted without a configured password)."""
    if kind in ("xlsx", "xls", "ods"):
        from pii_assets.documents import workbooks

        return workbooks.open_workbook(data, kind=kind, name=name, passwords=passwords)
    if kind in ("csv", "tsv"):
        return SpreadsheetReader(lambda: iter([_csv_sheet(data, kind=kind)]), name=name)
    raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind} is not a spreadsheet")


def damaged(kind: str, name: str, exc: BaseException | None = None) -> DocumentError:
    """The error for a spreadsheet that cannot be read; names the library's exception type only
    (its text can quote the file)."""
    cause = f" ({type(exc).__name__})" if exc is not None else ""
    return DocumentError(
        ErrorClass.CORRUPT, f"{name}: {_LABELS[kind]} cannot be read{cause}; it is probably damaged"
    )


def _csv_sheet(data: bytes, *, kind: str) -> Sheet:
    return Sheet(name=None, hidden=False, rows=_csv_rows(data, kind=kind))


def _csv_rows(data: bytes, *, kind: str) -> Iterator[list[Cell]]:
    """The file's records as rows of cells, streamed from the bytes (never all in memory)."""
    encoding = text_encoding(data)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")
    if kind == "tsv":
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab
    else:
        dialect = csv_dialect(data[:_CSV_SNIFF_BYTES].decode(encoding, errors="replace"))
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    for number, record in enumerate(csv.reader(stream, dialect), start=1):
        yield [
            Cell(number, column, value)
            for column, value in enumerate(record, start=1)
            if value.strip()
        ]


def text_encoding(data: bytes) -> str:
    """The codec of a CSV/TSV file: `sniff.text_encoding`'s (byte-order mark, UTF-16 without one,
    UTF-8, else Windows-1252, Excel's "CSV" on Western Windows), the one rule every text reader
    follows; UTF-8 for content it would not call text."""
    return sniff_text_encoding(data[:TEXT_SAMPLE_BYTES]) or "utf-8"


def csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter and quoting of a csv sample (the csv module's Sniffer over ",;|\\t"),
    Excel's comma-separated dialect when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;|\t")
    except csv.Error:
        return csv.excel
