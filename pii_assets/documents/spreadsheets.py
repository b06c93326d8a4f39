"""Spreadsheets read from their cells: xlsx/xlsm (openpyxl, read-only), xls (xlrd), ods
(python-calamine) and csv/tsv (the standard library's csv module).

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

import codecs
import contextlib
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.cell_values import display_text
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
    ) -> None:
        self._sheets = sheets
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


# --- Format backends ----------------------------------------------------------------------------


def open_spreadsheet(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> SpreadsheetReader:
    """A reader over the spreadsheet's cells and comments; raises DocumentError when the file
    cannot be opened at all (damaged, encrypted without a configured password)."""
    if kind == "xlsx":
        return _open_xlsx(data, name=name)
    if kind == "xls":
        return _open_xls(data, name=name, passwords=passwords)
    if kind == "ods":
        return _open_ods(data, name=name)
    if kind in ("csv", "tsv"):
        return SpreadsheetReader(lambda: iter([_csv_sheet(data, kind=kind)]), name=name)
    raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind} is not a spreadsheet")


def _damaged(kind: str, name: str, exc: BaseException | None = None) -> DocumentError:
    cause = f" ({type(exc).__name__})" if exc is not None else ""
    return DocumentError(
        ErrorClass.CORRUPT, f"{name}: {_LABELS[kind]} cannot be read{cause}; it is probably damaged"
    )


def _open_xlsx(data: bytes, *, name: str) -> SpreadsheetReader:
    # openpyxl's own reader (what `openpyxl.load_workbook` runs), kept for its workbook parser:
    # it lists every sheet the workbook names, also one whose part it cannot find (which
    # `load_workbook` would drop without a word), and the package to read comments from.
    from openpyxl.reader.excel import ExcelReader

    fallback = CalamineBook(data)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, conditional formats...).
            warnings.simplefilter("ignore")
            reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
            reader.read()
    except Exception as exc:  # zipfile, XML and openpyxl's own errors alike
        return _open_xlsx_with_calamine(data, fallback, name=name, cause=exc)
    book = reader.wb
    loaded = {worksheet.title: worksheet for worksheet in book.worksheets}

    def sheets() -> Iterator[Sheet]:
        for entry in reader.parser.sheets:
            hidden = entry.state != "visible"
            try:
                rel = reader.parser.rels.get(entry.id)
            except KeyError:
                rel = None
            if rel is not None and "chartsheet" in rel.Type:
                continue  # a chart sheet holds a chart, no cells
            worksheet = loaded.get(entry.name)
            if rel is None or worksheet is None:
                # A part openpyxl cannot find (e.g. Strict OOXML paths): calamine may.
                yield Sheet(entry.name, hidden, fallback.rows(entry.name))
                continue
            # Dimensions written by some producers are wrong; without them every row is read.
            worksheet.reset_dimensions()
            yield Sheet(
                name=entry.name,
                hidden=hidden,
                rows=_xlsx_rows(worksheet, fallback),
                comments=lambda target=rel.target: _xlsx_comments(reader.archive, target),
            )

    def close() -> None:
        reader.archive.close()
        fallback.close()

    return SpreadsheetReader(sheets, name=name, close=close)


def _open_xlsx_with_calamine(
    data: bytes, book: CalamineBook, *, name: str, cause: Exception
) -> SpreadsheetReader:
    """The workbook read by calamine where openpyxl cannot open it; its comments, which calamine
    does not read, are recorded as unread when the package holds any."""
    try:
        book.book()
    except Exception:
        raise _damaged("xlsx", name, cause) from None
    reader = SpreadsheetReader(lambda: book.sheets(lambda _: ()), name=name, close=book.close)
    if _has_comments(data):
        reader.coverage.unreadable(
            "comments",
            ErrorClass.CORRUPT,
            f"{name}: the workbook's cell comments cannot be read ({type(cause).__name__}); "
            "its cells were read",
        )
    return reader


def _has_comments(data: bytes) -> bool:
    """Whether the package's content types name a comments part (ECMA-376 Part 1 §12.3.2)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            types = package.read("[Content_Types].xml")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return True  # cannot tell: not claimed as read
    return b"spreadsheetml.comments+xml" in types


def _failing_rows(error: Exception) -> Iterator[list[Cell]]:
    """Rows of a sheet that cannot be read: raises `error` when read (the sheet is unread)."""
    raise error
    yield []  # pragma: no cover - makes this a generator


def _xlsx_rows(worksheet, fallback: CalamineBook) -> Iterator[list[Cell]]:  # noqa: ANN001
    """A read-only openpyxl worksheet's rows; where openpyxl cannot parse the rest of a sheet,
    calamine reads the rows after the last one openpyxl gave."""
    last = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, row in enumerate(worksheet.iter_rows(), start=1):
                cells = []
                for cell in row:
                    value = cell.value
                    if value is None or value == "":
                        continue
                    text = display_text(value, _number_format(cell))
                    if text.strip():
                        cells.append(Cell(cell.row or number, cell.column, text))
                last = number
                yield cells
    except Exception:
        yield from fallback.rows(worksheet.title, after_row=last)


def _number_format(cell) -> str | None:  # noqa: ANN001 - openpyxl ReadOnlyCell
    """The cell's number format; None (General) where its style reference is broken."""
    try:
        return cell.number_format
    except (IndexError, TypeError, KeyError, ValueError):
        return None


def _xlsx_comments(archive: zipfile.ZipFile, sheet_part: str) -> Iterator[tuple[int, int, str]]:
    """The sheet's comments (notes), from the comments part its relationships name, parsed by
    openpyxl (which reads comments into fully loaded workbooks only)."""
    from openpyxl.comments.comment_sheet import CommentSheet
    from openpyxl.packaging.relationship import get_dependents, get_rels_path
    from openpyxl.utils.cell import coordinate_to_tuple
    from openpyxl.xml.constants import COMMENTS_NS
    from openpyxl.xml.functions import fromstring

    rels_path = get_rels_path(sheet_part)
    if rels_path not in archive.namelist():
        return
    for rel in get_dependents(archive, rels_path).find(COMMENTS_NS):
        comments = CommentSheet.from_tree(fromstring(archive.read(rel.target)))
        for ref, comment in comments.comments:
            row, column = coordinate_to_tuple(ref)
            yield row, column, comment.text or ""


def _open_xls(data: bytes, *, name: str, passwords: Sequence[str]) -> SpreadsheetReader:
    import xlrd

    from pii_assets.documents.office import decrypt_office

    def load(content: bytes) -> xlrd.Book:
        return xlrd.open_workbook(
            file_contents=content,
            formatting_info=True,  # number formats and notes
            on_demand=True,  # one sheet in memory at a time
            logfile=io.StringIO(),  # xlrd's diagnostics can quote the file: kept out of logs
        )

    try:
        try:
            book = load(data)
        except xlrd.XLRDError as exc:
            if "encrypted" not in str(exc).lower():
                raise
            book = load(decrypt_office(data, name=name, passwords=passwords))
    except DocumentError:
        raise
    except Exception as exc:
        raise _damaged("xls", name, exc) from None

    def sheets() -> Iterator[Sheet]:
        for index in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(index)
            except Exception as exc:
                yield Sheet(book.sheet_names()[index], False, _failing_rows(exc))
                continue
            yield Sheet(
                name=sheet.name,
                hidden=sheet.visibility != 0,
                rows=_xls_rows(book, sheet),
                comments=lambda s=sheet: [
                    (r + 1, c + 1, note.text or "") for (r, c), note in s.cell_note_map.items()
                ],
            )
            book.unload_sheet(index)

    return SpreadsheetReader(sheets, name=name, close=book.release_resources)


def _xls_rows(book, sheet) -> Iterator[list[Cell]]:  # noqa: ANN001 - xlrd Book, Sheet
    import xlrd

    for r in range(sheet.nrows):
        cells = []
        for c, cell in enumerate(sheet.row(r)):
            if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                continue
            value = cell.value
            number_format = None
            if cell.ctype == xlrd.XL_CELL_DATE:
                # A number out of the date range is shown as the number.
                with contextlib.suppress(ValueError, OverflowError, xlrd.xldate.XLDateError):
                    value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                value = bool(value)
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                value = xlrd.error_text_from_code.get(value, "#ERROR")
            elif cell.ctype == xlrd.XL_CELL_NUMBER:
                xf = book.xf_list[cell.xf_index]
                number_format = book.format_map[xf.format_key].format_str
            text = display_text(value, number_format)
            if text.strip():
                cells.append(Cell(r + 1, c + 1, text))
        yield cells


class CalamineBook:
    """python-calamine over a workbook's bytes, opened on first use: the reader of ods files, and
    of xlsx workbooks or sheets that openpyxl cannot parse (calamine is the more lenient of the
    two: case-mismatched part names, Strict OOXML, broken style references). It gives values
    (dates as dates) but no number formats or comments."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._book = None

    def book(self):  # noqa: ANN201 - python_calamine.CalamineWorkbook, imported on use
        from python_calamine import CalamineWorkbook

        if self._book is None:
            self._book = CalamineWorkbook.from_filelike(io.BytesIO(self._data))
        return self._book

    def sheets(self, comments: Callable[[str], Iterable[tuple[int, int, str]]]) -> Iterator[Sheet]:
        """Every worksheet (chart sheets hold no cells), with its comments from `comments`."""
        from python_calamine import SheetTypeEnum, SheetVisibleEnum

        for meta in self.book().sheets_metadata:
            if meta.typ == SheetTypeEnum.ChartSheet:
                continue
            yield Sheet(
                name=meta.name,
                hidden=meta.visible != SheetVisibleEnum.Visible,
                rows=self.rows(meta.name),
                comments=lambda n=meta.name: comments(n),
            )

    def rows(self, sheet_name: str, after_row: int = 0) -> Iterator[list[Cell]]:
        """The sheet's rows of non-empty cells below row `after_row` (1-based)."""
        sheet = self.book().get_sheet_by_name(sheet_name)
        first_row, first_column = sheet.start or (0, 0)
        for r, values in enumerate(sheet.to_python(), start=first_row + 1):
            if r <= after_row:
                continue
            cells = []
            for c, value in enumerate(values, start=first_column + 1):
                text = display_text(value)
                if text.strip():
                    cells.append(Cell(r, c, text))
            yield cells

    def close(self) -> None:
        if self._book is not None:
            self._book.close()


def _open_ods(data: bytes, *, name: str) -> SpreadsheetReader:
    from python_calamine import PasswordError

    from pii_assets.documents.office import odf_encrypted

    if odf_encrypted(data):
        raise DocumentError(
            ErrorClass.ENCRYPTED_NO_PASSWORD,
            f"{name}: OpenDocument spreadsheet is encrypted; ODF encryption is not supported",
        )
    book = CalamineBook(data)
    try:
        book.book()
    except PasswordError:
        raise DocumentError(
            ErrorClass.ENCRYPTED_NO_PASSWORD,
            f"{name}: OpenDocument spreadsheet is encrypted; ODF encryption is not supported",
        ) from None
    except Exception as exc:
        raise _damaged("ods", name, exc) from None
    annotations: dict[str, list[tuple[int, int, str]]] | None = None

    def comments(sheet_name: str) -> list[tuple[int, int, str]]:
        nonlocal annotations
        if annotations is None:
            annotations = ods_annotations(data)
        return annotations.get(sheet_name, [])

    return SpreadsheetReader(lambda: book.sheets(comments), name=name, close=book.close)


_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def ods_annotations(data: bytes) -> dict[str, list[tuple[int, int, str]]]:
    """Cell annotations (comments) of an ODS file by sheet: [(row, column, text)], 1-based.

    python-calamine reads cell values only; annotations are read from `content.xml` (ODF 1.2
    Part 1 §9.1 tables, §14.1 annotations), streamed, with row and column repeats counted.
    """
    from defusedxml.ElementTree import iterparse

    found: dict[str, list[tuple[int, int, str]]] = {}
    table = row = column = 0
    sheet = ""
    cell_column = 0
    tags = {
        "table": f"{{{_ODF_TABLE}}}table",
        "row": f"{{{_ODF_TABLE}}}table-row",
        "cell": f"{{{_ODF_TABLE}}}table-cell",
        "covered": f"{{{_ODF_TABLE}}}covered-table-cell",
        "note": f"{{{_ODF_OFFICE}}}annotation",
        "p": f"{{{_ODF_TEXT}}}p",
    }
    rows_repeated = f"{{{_ODF_TABLE}}}number-rows-repeated"
    columns_repeated = f"{{{_ODF_TABLE}}}number-columns-repeated"
    depth_in_note = 0
    with zipfile.ZipFile(io.BytesIO(data)) as package, package.open("content.xml") as content:
        for event, element in iterparse(content, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == tags["table"]:
                    table += 1
                    sheet = element.get(f"{{{_ODF_TABLE}}}name", f"Sheet{table}")
                    row = 0
                elif tag == tags["row"]:
                    column = 0
                elif tag in (tags["cell"], tags["covered"]):
                    cell_column = column + 1
                elif tag == tags["note"]:
                    depth_in_note += 1
                continue
            if tag == tags["note"]:
                depth_in_note -= 1
                text = "\n".join(
                    "".join(p.itertext()) for p in element.iter(tags["p"])
                )  # dc:creator and dc:date are siblings of the paragraphs: left out
                found.setdefault(sheet, []).append((row + 1, cell_column, text))
                element.clear()
            elif tag in (tags["cell"], tags["covered"]):
                column += int(element.get(columns_repeated, "1"))
                if not depth_in_note:
                    element.clear()
            elif tag == tags["row"]:
                row += int(element.get(rows_repeated, "1"))
                element.clear()
    return found


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


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def text_encoding(data: bytes) -> str:
    """The codec of a text file: its byte order mark's (the codec drops the mark), else UTF-8
    when the start decodes as UTF-8, else Windows-1252 (Excel's "CSV" on Western Windows)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    sample = data[:_CSV_SNIFF_BYTES]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a multi-byte character is still UTF-8.
        if exc.start < len(sample) - 3:
            return "cp1252"
    return "utf-8"


def csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter and quoting of a csv sample (the csv module's Sniffer over ",;|\\t"),
    Excel's comma-separated dialect when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;|\t")
    except csv.Error:
        return csv.excel
