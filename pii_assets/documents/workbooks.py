"""Workbooks read from their cells for `spreadsheets`: xlsx/xlsm (openpyxl read-only, with
python-calamine where openpyxl cannot parse a package), xls (xlrd) and ods (python-calamine).

Each format gives `spreadsheets.Sheet`s, one at a time: rows of non-empty cells with their
displayed text (`cell_values.display_text`), and the sheet's comments.
"""

from __future__ import annotations

import contextlib
import io
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence

from pii_assets.documents import workbook_parts
from pii_assets.documents.base import PageContent
from pii_assets.documents.cell_values import display_text
from pii_assets.documents.spreadsheets import (
    COMMENTS_PER_UNIT,
    Cell,
    Sheet,
    SpreadsheetReader,
    damaged,
    sheet_prefix,
)
from pii_assets.documents.virtual_page import text_unit
from pii_assets.models import Coverage, DocumentError, ErrorClass


def open_workbook(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str]
) -> SpreadsheetReader:
    """A reader over an xlsx, xls or ods workbook; raises DocumentError when it cannot be opened
    (damaged, encrypted without a configured password)."""
    if kind == "xlsx":
        return _open_xlsx(data, name=name)
    if kind == "xls":
        return _open_xls(data, name=name, passwords=passwords)
    return _open_ods(data, name=name)


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
                texts=lambda target=rel.target, sheet=entry.name: workbook_parts.sheet_texts(
                    reader.archive, target.lstrip("/"), sheet_prefix(sheet)
                ),
            )

    def close() -> None:
        reader.archive.close()
        fallback.close()

    return SpreadsheetReader(
        sheets,
        name=name,
        close=close,
        extras=lambda coverage: _xlsx_extras(data, coverage, name=name),
    )


def _xlsx_extras(data: bytes, coverage: Coverage, *, name: str) -> Iterator[PageContent]:
    """The workbook's document properties and sheet names (area "metadata") and the constants
    and comments of its defined names (area "defined_name"), each word's `ref` the name."""
    from pii_assets.documents.office import package_extras

    properties = package_extras(data, kind="xlsx")
    properties.record(coverage, name=name)
    yield from properties.units
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sheet_names = workbook_parts.sheet_name_texts(archive)
    except Exception as exc:
        coverage.unreadable(
            "sheet names",
            ErrorClass.CORRUPT,
            f"{name}: the workbook's sheet names cannot be read ({type(exc).__name__})",
        )
    else:
        # Not counted again: a sheet's name is read with the sheet ("sheets" counts them).
        yield from _text_units([(None, text) for text in sheet_names], area="metadata")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            texts = list(workbook_parts.defined_name_texts(archive))
        names = [(ref, text) for _, ref, text in texts]
    except Exception as exc:
        coverage.unreadable(
            "defined names",
            ErrorClass.CORRUPT,
            f"{name}: the workbook's defined names cannot be read ({type(exc).__name__})",
        )
        return
    coverage.read("defined_names", len(names))
    yield from _text_units(names, area="defined_name")


def _text_units(items: list[tuple[str | None, str]], *, area: str) -> Iterator[PageContent]:
    """(ref, text) items as units of `area`, numbered by the reader."""
    for start in range(0, len(items), COMMENTS_PER_UNIT):
        yield text_unit(items[start : start + COMMENTS_PER_UNIT], area=area)


def _open_xlsx_with_calamine(
    data: bytes, book: CalamineBook, *, name: str, cause: Exception
) -> SpreadsheetReader:
    """The workbook read by calamine where openpyxl cannot open it; its comments, which calamine
    does not read, are recorded as unread when the package holds any."""
    try:
        book.book()
    except Exception:
        raise damaged("xlsx", name, cause) from None
    reader = SpreadsheetReader(
        lambda: book.sheets(lambda _: ()),
        name=name,
        close=book.close,
        extras=lambda coverage: _xlsx_extras(data, coverage, name=name),
    )
    if _has_sheet_texts(data):
        reader.coverage.unreadable(
            "headers, footers, validations",
            ErrorClass.CORRUPT,
            f"{name}: the workbook's headers, footers and data validations cannot be read "
            f"({type(cause).__name__}); its cells were read",
        )
    if _has_comments(data):
        reader.coverage.unreadable(
            "comments",
            ErrorClass.CORRUPT,
            f"{name}: the workbook's cell comments cannot be read ({type(cause).__name__}); "
            "its cells were read",
        )
    return reader


def _has_sheet_texts(data: bytes) -> bool:
    """Whether a worksheet part of the package holds a header/footer or a data validation."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            return any(
                workbook_parts.mentions(package, part)
                for part in package.namelist()
                if part.lower().startswith("xl/worksheets/") and part.lower().endswith(".xml")
            )
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return True  # cannot tell: not claimed as read


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
        raise damaged("xls", name, exc) from None

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
        raise damaged("ods", name, exc) from None
    annotations: dict[str, list[tuple[int, int, str]]] | None = None

    def comments(sheet_name: str) -> list[tuple[int, int, str]]:
        nonlocal annotations
        if annotations is None:
            annotations = ods_annotations(data)
        return annotations.get(sheet_name, [])

    def properties(coverage: Coverage) -> Iterator[PageContent]:
        from pii_assets.documents.office import package_extras

        extras = package_extras(data, kind="ods")
        extras.record(coverage, name=name)
        yield from extras.units
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts = [
                    (ref, text) for _, ref, text in workbook_parts.ods_header_footer_texts(archive)
                ]
        except Exception as exc:
            coverage.unreadable(
                "headers, footers",
                ErrorClass.CORRUPT,
                f"{name}: the spreadsheet's headers and footers cannot be read "
                f"({type(exc).__name__})",
            )
            return
        coverage.read("headers_footers", len(texts))
        yield from _text_units(texts, area="header_footer")

    return SpreadsheetReader(
        lambda: book.sheets(comments), name=name, close=book.close, extras=properties
    )


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
