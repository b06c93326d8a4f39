"""Spreadsheets are read from their cells: every sheet (hidden ones too), displayed values, cell
comments, nothing clipped by a column's width; each value with its cell and column header.

Workbooks are written with openpyxl (as pandas exports do: no column widths), converted to xls
and ods by LibreOffice, and read from public test suites' fetched repositories
(tests/public_corpus.py).
"""

from __future__ import annotations

import datetime
import io
import subprocess
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment
from python_calamine import CalamineWorkbook, SheetTypeEnum

from pii_assets.documents import DocumentLimits, open_document
from pii_assets.documents.cell_values import display_text
from pii_assets.documents.office import soffice_path
from pii_assets.documents.spreadsheets import open_spreadsheet, sheet_prefix
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.locations import deduplicate, place
from pii_assets.models import DocumentResult, Status
from tests.public_corpus import public_file

# Public test workbooks of two spreadsheet libraries (MIT), read from their fetched repositories
# (tests/public_corpus.py): sample values only, no real person's data.
CALAMINE_PY = ("dimastbk/python-calamine", "tests/data/")
CALAMINE = ("tafia/calamine", "tests/")
PUBLIC = {
    **{
        name: CALAMINE_PY
        for name in (
            "any_sheets.xlsx",
            "any_sheets.xls",
            "any_sheets.ods",
            "base.xlsx",
            "base.xls",
            "base.ods",
            "password.xls",
            "password.ods",
        )
    },
    **{
        name: CALAMINE
        for name in (
            "with-annotation.ods",
            "date.xlsx",
            "merge_cells.xls",
            "issues.xls",
            "issue_419.xlsx",
            "minimal_package.xlsx",
            "strict_iso_paths.xlsx",
            "empty_s_attribute.xlsx",
        )
    },
}


def public(name: str) -> bytes:
    repository, folder = PUBLIC[name]
    return public_file(repository, folder + name)


HEADER = ["Name", "SSN", "Email", "Phone"]
ROWS = [
    ["Maria Gonzalez", "536-22-1234", "maria.gonzalez@example.com", "(415) 555-0132"],
    ["James O'Connor", "412-73-5586", "j.oconnor@example.org", "+1 212 555 0187"],
]
HIDDEN = [
    ["Name", "Email", "SSN", "Date of birth"],
    ["Peter Miller", "peter.miller@example.net", "301-44-5821", datetime.date(1980, 5, 17)],
    ["Anna Schmidt", "anna.schmidt@example.com", "318-52-6633", datetime.date(1975, 11, 2)],
]
COMMENT = "Name: Robert Brown\nphone (646) 555-0143"


def _save(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def staff_workbook() -> bytes:
    """Header row and two rows of values, no column widths (what pandas and openpyxl write)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    for row in [HEADER, *ROWS]:
        sheet.append(row)
    return _save(book)


def hidden_workbook() -> bytes:
    """A visible sheet with a commented cell, a hidden second sheet with eight values."""
    book = openpyxl.Workbook()
    visible = book.active
    visible.title = "Overview"
    visible.append(["Team", "Count"])
    visible.append(["Payroll", 2])
    visible["B2"].comment = Comment(COMMENT, "HR")
    hidden = book.create_sheet("Staff details")
    hidden.sheet_state = "hidden"
    for row in HIDDEN:
        hidden.append(row)
    return _save(book)


def extract(data: bytes, key: str = "book.xlsx") -> DocumentResult:
    return extract_document(data, document_key=key, etag="", extractor=OfflineExtractor())


def found(result: DocumentResult) -> dict[str, tuple[str, str | None, str | None, str]]:
    """value -> (entity type, cell, column header, area)."""
    return {e.text: (e.entity_type, e.cell, e.column_header, e.area) for e in result.entities}


def test_openpyxl_workbook_without_column_widths_gives_every_value_with_its_cell() -> None:
    result = extract(staff_workbook())
    assert result.status == "ok", result.error_message
    assert result.pages == 0
    values = found(result)
    types = ["PERSON", "US_SSN", "EMAIL_ADDRESS", "PHONE_NUMBER"]
    for r, row in enumerate(ROWS, start=2):
        for c, value in enumerate(row):
            cell = f"Sheet1!{'ABCD'[c]}{r}"
            assert values[value] == (types[c], cell, HEADER[c], "cell"), value
    assert len(result.entities) == 8
    assert all(e.page is None and e.source == "cells" for e in result.entities)
    assert result.coverage.parts == {"cells": 12, "sheets": 1, "metadata": 1}  # creator: openpyxl


def test_hidden_sheet_and_cell_comment_are_read() -> None:
    result = extract(hidden_workbook())
    assert result.status == "ok", result.error_message
    values = found(result)
    sheet = "'Staff details'"
    assert values["Peter Miller"] == ("PERSON", f"{sheet}!A2", "Name", "cell")
    assert values["anna.schmidt@example.com"] == ("EMAIL_ADDRESS", f"{sheet}!B3", "Email", "cell")
    assert values["301-44-5821"] == ("US_SSN", f"{sheet}!C2", "SSN", "cell")
    assert values["1975-11-02"] == ("DATE_OF_BIRTH", f"{sheet}!D3", "Date of birth", "cell")
    hidden_values = [v for row in HIDDEN[1:] for v in row]
    assert sum(1 for e in result.entities if e.cell and e.cell.startswith(sheet)) == len(
        hidden_values
    )
    assert values["Robert Brown"] == ("PERSON", "Overview!B2", "Count", "comment")
    assert values["(646) 555-0143"] == ("PHONE_NUMBER", "Overview!B2", "Count", "comment")
    parts = result.coverage.parts
    assert parts["sheets"] == 2 and parts["hidden_sheets"] == 1 and parts["comments"] == 1


def test_number_formats_show_what_a_reader_sees() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Employee", "SSN", "ZIP", "Phone"])
    sheet.append(["A-17", 536221234, 2134, 4155550132])
    sheet["B2"].number_format = "000-00-0000"
    sheet["C2"].number_format = "00000"
    sheet["D2"].number_format = "(000) 000-0000"
    with open_document(_save(book), name="f.xlsx") as doc:
        text = "\n".join(unit.text for unit in doc.pages())
    assert "536-22-1234" in text and "02134" in text and "(415) 555-0132" in text


@pytest.mark.parametrize(
    ("value", "number_format", "shown"),
    [
        (536221234, "000-00-0000", "536-22-1234"),
        (536221234.0, r"000\-00\-0000", "536-22-1234"),  # as xlrd gives it
        (12, '"ID "0000', "ID 0012"),
        (1234567, "#,##0", "1234567"),  # not a mask: General (no PII in thousands separators)
        (0.1 + 0.2, "General", "0.3"),
        (4111111111111111, "General", "4111111111111111"),
        (datetime.datetime(1985, 3, 14), "m/d/yyyy", "1985-03-14"),
        (True, None, "TRUE"),
    ],
)
def test_display_text(value: object, number_format: str | None, shown: str) -> None:
    assert display_text(value, number_format) == shown


def test_header_row_is_repeated_on_every_unit_so_later_rows_keep_their_column() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Q1 2024"
    sheet.append(["Name", "Email"])
    for n in range(1, 120):
        sheet.append([f"Employee {n}", f"user{n}@example.com"])
    sheet.append(["Laura Chen", "laura.chen@example.com"])
    result = extract(_save(book))
    values = found(result)
    assert values["Laura Chen"] == ("PERSON", "'Q1 2024'!A121", "Name", "cell")
    assert values["user100@example.com"] == ("EMAIL_ADDRESS", "'Q1 2024'!B101", "Email", "cell")
    # The repeated header row is counted once, and no value is found twice.
    assert result.coverage.parts["cells"] == 242
    cells = [e.cell for e in result.entities]
    assert len(cells) == len(set(cells))


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("Payroll", "Payroll!"),
        ("Q1 2024", "'Q1 2024'!"),
        ("O'Brien", "'O''Brien'!"),
        ("A1", "'A1'!"),
        ("2024", "'2024'!"),
        ("Sheet_2", "Sheet_2!"),
    ],
)
def test_sheet_names_are_quoted_as_excel_quotes_them(name: str, prefix: str) -> None:
    assert sheet_prefix(name) == prefix


def test_damaged_sheet_is_an_unread_part_and_the_rest_is_read() -> None:
    book = openpyxl.Workbook()
    book.active.title = "Good"
    for row in [HEADER, *ROWS]:
        book.active.append(row)
    book.create_sheet("Broken")["A1"] = "will be cut"
    source = zipfile.ZipFile(io.BytesIO(_save(book)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet2.xml":
                content = content[: len(content) // 2]  # the sheet's XML ends mid-element
            target.writestr(info, content)
    result = extract(out.getvalue())
    assert result.status == "partial"
    assert [u.part for u in result.coverage.unread] == ["sheet:Broken"]
    assert "Broken" in result.coverage.unread[0].message
    assert "will be cut" not in result.error_message
    assert found(result)["maria.gonzalez@example.com"][1] == "Good!C2"


def _libreoffice_convert(data: bytes, target: str) -> bytes:
    """The workbook saved by LibreOffice as `target` ("xls", "ods")."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "book.xlsx"
        source.write_bytes(data)
        subprocess.run(
            [
                soffice_path(),
                f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                tmp,
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            env={"HOME": tmp, "PATH": "/usr/bin:/bin"},
        )
        return (Path(tmp) / f"book.{target}").read_bytes()


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_xls_and_ods_are_read_from_their_cells_with_hidden_sheets_and_comments(kind: str) -> None:
    data = _libreoffice_convert(hidden_workbook(), kind)
    result = extract(data, key=f"book.{kind}")
    assert result.status == "ok", result.error_message
    values = found(result)
    assert values["Peter Miller"] == ("PERSON", "'Staff details'!A2", "Name", "cell")
    assert values["318-52-6633"] == ("US_SSN", "'Staff details'!C3", "SSN", "cell")
    assert values["1980-05-17"][0] == "DATE_OF_BIRTH"
    assert values["(646) 555-0143"] == ("PHONE_NUMBER", "Overview!B2", "Count", "comment")
    parts = result.coverage.parts
    assert parts["hidden_sheets"] == 1 and parts["comments"] == 1


def test_xls_number_format_turns_a_stored_number_into_the_ssn_shown() -> None:
    book = openpyxl.Workbook()
    book.active.append(["Name", "SSN"])
    book.active.append(["Maria Gonzalez", 536221234])
    book.active["B2"].number_format = "000-00-0000"
    result = extract(_libreoffice_convert(_save(book), "xls"), key="book.xls")
    assert found(result)["536-22-1234"] == ("US_SSN", "Sheet!B2", "SSN", "cell")


def _csv_result(data: bytes, kind: str) -> DocumentResult:
    """A csv/tsv file through the spreadsheet reader and the offline extractor (which kind a file
    is, csv or tsv, is sniffed from its content by the text formats' module)."""
    reader = open_spreadsheet(
        data, kind=kind, name=f"a.{kind}", passwords=(), limits=DocumentLimits()
    )
    extractor = OfflineExtractor()
    entities = []
    for unit in reader.pages():
        entities.extend(place(e, unit) for e in extractor.extract_page(unit).entities)
    result = DocumentResult(document_key=f"a.{kind}", etag="", status=Status.OK)
    result.entities = deduplicate(entities)
    result.coverage = reader.coverage
    return result


def test_csv_with_semicolons_in_windows_1252_is_read_with_its_cells() -> None:
    text = "Name;E-mail;Phone\r\nJosé Müller;jose.muller@example.com;(415) 555-0132\r\n"
    result = _csv_result(text.encode("cp1252"), "csv")
    values = found(result)
    assert values["José Müller"] == ("PERSON", "A2", "Name", "cell")
    assert values["jose.muller@example.com"] == ("EMAIL_ADDRESS", "B2", "E-mail", "cell")
    assert values["(415) 555-0132"] == ("PHONE_NUMBER", "C2", "Phone", "cell")
    assert result.coverage.parts == {"cells": 6}


def test_tsv_with_a_byte_order_mark_and_quoted_line_breaks() -> None:
    text = 'Name\tNotes\r\nMaria Gonzalez\t"call\nphone (646) 555-0143"\r\n'
    result = _csv_result(text.encode("utf-16"), "tsv")
    values = found(result)
    assert values["Maria Gonzalez"] == ("PERSON", "A2", "Name", "cell")
    assert values["(646) 555-0143"] == ("PHONE_NUMBER", "B2", "Notes", "cell")


def _worksheet_counts(data: bytes) -> tuple[int, int]:
    """(worksheets, non-empty cells) as python-calamine lists them (chart sheets hold no cells;
    calamine gives an xls chart's cached series as cells)."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    cells = 0
    for name in sheets:
        for row in book.get_sheet_by_name(name).to_python():
            cells += sum(1 for value in row if display_text(value).strip())
    return len(sheets), cells


@pytest.mark.parametrize(
    "file",
    [
        "any_sheets.xlsx",
        "any_sheets.xls",
        "any_sheets.ods",
        "base.xlsx",
        "base.xls",
        "base.ods",
        "date.xlsx",
        "issues.xls",
        "merge_cells.xls",
        "with-annotation.ods",
        # Packages openpyxl cannot parse (a case-mismatched shared-strings part name, no styles
        # part, an empty style reference, Strict OOXML): python-calamine reads them instead.
        "issue_419.xlsx",
        "minimal_package.xlsx",
        "empty_s_attribute.xlsx",
        "strict_iso_paths.xlsx",
    ],
)
@pytest.mark.public_corpus
def test_public_workbooks_every_sheet_and_cell_is_read(file: str) -> None:
    data = public(file)
    with open_document(data, name=file) as doc:
        units = list(doc.pages())
        coverage = doc.coverage
    sheets, cells = _worksheet_counts(data)
    assert coverage.unread == []
    assert coverage.parts["sheets"] == sheets
    assert coverage.parts.get("cells", 0) == cells
    # Cells and comments; the package's other parts (properties...: tests/test_hidden_parts.py).
    other = ("metadata", "header_footer", "data_validation", "defined_name", "link")
    assert all(unit.area in ("cell", "comment", *other) and not unit.paged for unit in units)


@pytest.mark.public_corpus
def test_public_workbooks_hidden_sheets_and_annotations() -> None:
    for file in ("any_sheets.xlsx", "any_sheets.xls", "any_sheets.ods"):
        with open_document(public(file), name=file) as doc:
            list(doc.pages())
            assert doc.coverage.parts["hidden_sheets"] == 2, file  # "Hidden" and "VeryHidden"
    data = public("with-annotation.ods")
    with open_document(data, name="with-annotation.ods") as doc:
        (comment,) = [u for u in doc.pages() if u.area == "comment"]
    assert comment.words and all(w.ref == "table1!A1" for w in comment.words)


@pytest.mark.parametrize("file", ["password.xls", "password.ods"])
@pytest.mark.public_corpus
def test_protected_public_workbooks_without_their_password(file: str) -> None:
    result = extract(public(file), key=file)
    assert result.status == "failed"
    assert result.error_class == "encrypted_no_password"


def test_sheet_whose_part_is_missing_is_an_unread_part_not_a_silent_miss() -> None:
    book = openpyxl.Workbook()
    book.active.title = "Good"
    book.active.append(["Name", "Email"])
    book.active.append(["Maria Gonzalez", "maria.gonzalez@example.com"])
    book.create_sheet("Gone")["A1"] = "lost"
    source = zipfile.ZipFile(io.BytesIO(_save(book)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet2.xml":
                target.writestr(info, source.read(info))
    result = extract(out.getvalue())
    assert result.status == "partial"
    assert [u.part for u in result.coverage.unread] == ["sheet:Gone"]
    assert found(result)["maria.gonzalez@example.com"][1] == "Good!B2"


def test_title_above_the_table_is_passed_over_for_the_header_row() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Staff list, March"])
    sheet.append([])
    sheet.append(["Employee name", "Date of birth"])
    sheet.append(["Laura Chen", datetime.date(1990, 7, 4)])
    result = extract(_save(book))
    values = found(result)
    assert values["Laura Chen"] == ("PERSON", "Sheet!A4", "Employee name", "cell")
    assert values["1990-07-04"] == ("DATE_OF_BIRTH", "Sheet!B4", "Date of birth", "cell")


def test_workbook_openpyxl_cannot_open_is_read_by_calamine_and_its_comments_named_unread() -> None:
    source = zipfile.ZipFile(io.BytesIO(hidden_workbook()))
    out = io.BytesIO()
    shared = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                # A shared-strings part the manifest names but the package lacks: openpyxl
                # gives up on the whole workbook.
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{shared}"/>'
                content = content.replace(b"</Types>", override.encode() + b"</Types>")
            target.writestr(info, content)
    result = extract(out.getvalue())
    assert result.status == "partial"
    assert [u.part for u in result.coverage.unread] == ["comments"]
    values = found(result)
    assert values["Peter Miller"] == ("PERSON", "'Staff details'!A2", "Name", "cell")
    assert result.coverage.parts["hidden_sheets"] == 1


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_csv_without_a_byte_order_mark_is_decoded(codec: str) -> None:
    """Exported without a BOM, UTF-16 CSV is still read as text (every other byte NUL), as plain
    text files are: never mojibake reported `ok` with nothing found."""
    text = "Customer,Email\r\nAnna Lindqvist,anna.lindqvist@example.test\r\n"
    result = extract(text.encode(codec), "export.csv")
    assert result.status == Status.OK
    found = {(e.entity_type, e.text) for e in result.entities}
    assert ("EMAIL_ADDRESS", "anna.lindqvist@example.test") in found
    assert ("PERSON", "Anna Lindqvist") in found
