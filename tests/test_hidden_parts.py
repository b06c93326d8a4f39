"""Text that a printout or the cells leave out, read as units of their own: Office document
properties, speaker notes, Word hidden text, spreadsheet headers/footers, data validations and
defined names, HTML comments and data attributes, zip comments. Every file is built here (raw
XML, openpyxl, LibreOffice) with invented values; each value must be found once, in its area,
and the row must be `ok`; ordinary files must give nothing from these parts."""

from __future__ import annotations

import io
import subprocess
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from pii_assets.documents.office import soffice_path
from pii_assets.documents.workbook_parts import header_footer_text, string_constants
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult
from tests.office_samples import _text_box, word_document

_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OD = "http://schemas.openxmlformats.org/officeDocument/2006"
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def extract(data: bytes, key: str) -> DocumentResult:
    result = extract_document(data, document_key=key, etag="", extractor=OfflineExtractor())
    assert result.status == "ok", (result.error_message, result.coverage.unread)
    return result


def found(result: DocumentResult) -> dict[str, list[tuple[str, str, int | None]]]:
    """value -> [(entity type, area, page)] for every entity."""
    where: dict[str, list[tuple[str, str, int | None]]] = {}
    for entity in result.entities:
        where.setdefault(entity.text, []).append((entity.entity_type, entity.area, entity.page))
    return where


def with_parts(package: bytes, parts: dict[str, str], overrides: dict[str, str]) -> bytes:
    """The package with `parts` added or replaced and their content types declared."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in parts:
                continue
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                declared = "".join(
                    f'<Override PartName="/{name}" ContentType="{kind}"/>'
                    for name, kind in overrides.items()
                )
                content = content.replace(b"</Types>", declared.encode() + b"</Types>")
            target.writestr(info, content)
        for name, xml in parts.items():
            target.writestr(name, xml)
    return out.getvalue()


def properties_parts() -> tuple[dict[str, str], dict[str, str]]:
    """Core, extended and custom properties holding invented values, and their content types."""
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:title>Case file 2291</dc:title><dc:creator>Odalys Kranstein</dc:creator>"
        "<cp:keywords>owner k.vantrell@example.org</cp:keywords>"
        "<dc:description>SSN 519-83-2274</dc:description>"
        "<cp:lastModifiedBy>Tobias Wrenfield</cp:lastModifiedBy>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2024-03-01T10:00:00Z</dcterms:created>'
        "</cp:coreProperties>"
    )
    app = (
        f'<Properties xmlns="{_OD}/extended-properties"><Application>Microsoft Office Word'
        "</Application><Company>Brackwater Ltd</Company><Manager>Name: Marisol Tenpenny"
        "</Manager></Properties>"
    )
    custom = (
        f'<Properties xmlns="{_OD}/custom-properties" xmlns:vt="{_OD}/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="ClaimantPhone">'
        "<vt:lpwstr>(415) 555-0132</vt:lpwstr></property></Properties>"
    )
    parts = {"docProps/core.xml": core, "docProps/app.xml": app, "docProps/custom.xml": custom}
    kinds = {
        "docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
        "docProps/app.xml": "application/vnd.openxmlformats-officedocument.extended-properties+xml",
        "docProps/custom.xml": "application/vnd.openxmlformats-officedocument.custom-properties"
        "+xml",
    }
    return parts, kinds


PROPERTY_VALUES = {
    "k.vantrell@example.org": "EMAIL_ADDRESS",
    "519-83-2274": "US_SSN",
    "Marisol Tenpenny": "PERSON",  # "manager" labels a name
    "(415) 555-0132": "PHONE_NUMBER",
}


# --- Word ---------------------------------------------------------------------------------------


def hidden_word_document() -> bytes:
    """A docx whose body holds a run hidden directly (`w:vanish`), a run hidden through its
    character style, a run whose style hides text but whose own properties show it, and whose
    package carries document properties."""
    base = word_document(["Visible paragraph about the quarterly plan."])
    with zipfile.ZipFile(io.BytesIO(base)) as package:
        document = package.read("word/document.xml").decode()
    hidden = (
        '<w:p><w:r><w:t xml:space="preserve">Shown text. </w:t></w:r>'
        '<w:r><w:rPr><w:vanish/></w:rPr><w:t xml:space="preserve">Hidden SSN 236-47-9081'
        "</w:t></w:r></w:p>"
        '<w:p><w:r><w:rPr><w:rStyle w:val="Secret"/></w:rPr><w:t xml:space="preserve">'
        "Mail tobias.wren@fallowfield.example</w:t></w:r></w:p>"
        '<w:p><w:r><w:rPr><w:rStyle w:val="Secret"/><w:vanish w:val="0"/></w:rPr>'
        '<w:t xml:space="preserve">Printed phone 212-555-0187</w:t></w:r></w:p>'
    )
    # A text box (DrawingML, with its VML copy in `mc:Fallback`) holding a hidden run.
    box = _text_box("Box SSN 412-73-5586").replace(
        '<w:r><w:t xml:space="preserve">Box', "<w:r><w:rPr><w:vanish/></w:rPr><w:t>Box"
    )
    document = document.replace("<w:body>", "<w:body>" + hidden + box)
    styles = (
        f'<w:styles xmlns:w="{_W}"><w:style w:type="character" w:styleId="Base">'
        '<w:name w:val="Base"/><w:rPr><w:vanish/></w:rPr></w:style>'
        '<w:style w:type="character" w:styleId="Secret"><w:name w:val="Secret"/>'
        '<w:basedOn w:val="Base"/></w:style></w:styles>'
    )
    parts, kinds = properties_parts()
    parts |= {"word/document.xml": document, "word/styles.xml": styles}
    kinds["word/styles.xml"] = (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"
    )
    package = with_parts(base, parts, kinds)
    # The styles part is found through the main part's relationships by Word and LibreOffice.
    return _add_relationship(package, "word/_rels/document.xml.rels", "styles", "styles.xml")


def _add_relationship(package: bytes, rels: str, kind: str, target: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        xml = source.read(rels).decode()
    xml = xml.replace(
        "</Relationships>",
        f'<Relationship Id="rIdX{kind}" Type="{_OD}/relationships/{kind}" Target="{target}"/>'
        "</Relationships>",
    )
    return with_parts(package, {rels: xml}, {})


def test_word_hidden_text_and_document_properties_are_read_once() -> None:
    result = extract(hidden_word_document(), "hidden.docx")
    where = found(result)
    assert where["236-47-9081"] == [("US_SSN", "hidden_text", None)]
    assert where["tobias.wren@fallowfield.example"] == [("EMAIL_ADDRESS", "hidden_text", None)]
    assert where["412-73-5586"] == [("US_SSN", "hidden_text", None)]  # once, in its text box
    # Shown through its own properties: printed, on the page, not hidden text.
    assert where["212-555-0187"] == [("PHONE_NUMBER", "page", 1)]
    for value, entity_type in PROPERTY_VALUES.items():
        assert where[value] == [(entity_type, "metadata", None)], value
    parts = result.coverage.parts
    assert parts["hidden_text"] == 3
    # Title, author, keywords, comments, last modified by; company, manager; one custom.
    assert parts["metadata"] == 8
    assert "Microsoft" not in " ".join(e.text for e in result.entities)


def test_ordinary_word_document_gives_nothing_from_properties() -> None:
    """LibreOffice's own docx: its properties name the application only."""
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed")
    data = convert(word_document(["Quarterly plan, nothing personal."]), "a.docx", "docx")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert "docProps/app.xml" in package.namelist()
    result = extract(data, "plain.docx")
    assert result.entities == []
    assert "hidden_text" not in result.coverage.parts


# --- Presentations ----------------------------------------------------------------------------


def convert(data: bytes, source_name: str, target: str) -> bytes:
    """`data` (named `source_name`) saved by LibreOffice in the format of extension `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / source_name
        source.write_bytes(data)
        subprocess.run(
            [
                str(soffice_path()),
                f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(Path(tmp, "out")),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=180,
            env={"HOME": tmp, "PATH": "/usr/bin:/bin"},
        )
        return (Path(tmp) / "out" / f"{source.stem}.{target}").read_bytes()


def flat_presentation() -> bytes:
    """A flat ODP of two slides, speaker notes on the second, an author in its meta."""
    ns = {
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
        "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
        "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
        "dc": "http://purl.org/dc/elements/1.1/",
    }
    declarations = " ".join(f'xmlns:{k}="{v}"' for k, v in ns.items())

    def slide(name: str, text: str, notes: str | None) -> str:
        frame = (
            '<draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm">'
            f"<draw:text-box><text:p>{text}</text:p></draw:text-box></draw:frame>"
        )
        if notes:
            frame += (
                '<presentation:notes><draw:frame presentation:class="notes" svg:x="2cm" '
                'svg:y="15cm" svg:width="17cm" svg:height="10cm"><draw:text-box>'
                f"<text:p>{notes}</text:p></draw:text-box></draw:frame></presentation:notes>"
            )
        return f'<draw:page draw:name="{name}">{frame}</draw:page>'

    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {declarations} '
        'office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">'
        "<office:meta><dc:description>Contact r.okafor@example.net</dc:description>"
        "</office:meta><office:body><office:presentation>"
        + slide("p1", "Roadmap, nothing personal.", None)
        + slide("p2", "Budget, nothing personal.", "Call SSN 308-62-4417 at q.aber@example.com")
        + "</office:presentation></office:body></office:document>"
    ).encode()


@pytest.fixture(scope="module")
def presentations() -> dict[str, bytes]:
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed")
    flat = flat_presentation()
    return {kind: convert(flat, "deck.fodp", kind) for kind in ("pptx", "odp")}


@pytest.mark.parametrize("kind", ["pptx", "odp"])
def test_speaker_notes_and_properties_of_a_presentation(
    presentations: dict[str, bytes], kind: str
) -> None:
    result = extract(presentations[kind], f"deck.{kind}")
    where = found(result)
    assert where["308-62-4417"] == [("US_SSN", "speaker_notes", 2)]  # the second slide
    assert where["q.aber@example.com"] == [("EMAIL_ADDRESS", "speaker_notes", 2)]
    assert where["r.okafor@example.net"] == [("EMAIL_ADDRESS", "metadata", None)]
    assert result.coverage.parts["speaker_notes"] == 1
    assert result.pages == 2


# --- Workbooks ---------------------------------------------------------------------------------


def hidden_workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    sheet.append(["Name", "Department"])
    sheet.append(["Quillon Abernathy", "Finance"])
    sheet.oddHeader.center.text = "Prepared for SSN 563-28-7719"
    sheet.oddHeader.center.font = "Arial,Bold"
    sheet.evenFooter.left.text = "Contact m.tenpenny@brackwater.example"
    validation = DataValidation(
        type="list",
        formula1='"129-74-6650,none"',
        prompt="Ask r.okafor@example.net",
        showInputMessage=True,
    )
    sheet.add_data_validation(validation)
    validation.add("D2")
    book.defined_names["ssn_const"] = DefinedName("ssn_const", attr_text='"641-05-3382"')
    book.defined_names["staff_range"] = DefinedName("staff_range", attr_text="Staff!$A$1:$B$2")
    book.properties.creator = "Odalys Kranstein"
    book.properties.description = "Mail odalys.k@zephyrine.example"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_workbook_headers_validations_names_and_properties_are_read() -> None:
    result = extract(hidden_workbook(), "book.xlsx")
    where = found(result)
    assert where["Quillon Abernathy"] == [("PERSON", "cell", None)]
    assert where["563-28-7719"] == [("US_SSN", "header_footer", None)]
    assert where["m.tenpenny@brackwater.example"] == [("EMAIL_ADDRESS", "header_footer", None)]
    assert where["129-74-6650"] == [("US_SSN", "data_validation", None)]
    assert where["r.okafor@example.net"] == [("EMAIL_ADDRESS", "data_validation", None)]
    assert where["641-05-3382"] == [("US_SSN", "defined_name", None)]
    assert where["odalys.k@zephyrine.example"] == [("EMAIL_ADDRESS", "metadata", None)]
    parts = result.coverage.parts
    assert parts["headers_footers"] == 2
    assert parts["data_validations"] == 2  # the prompt and the list
    assert parts["defined_names"] == 1  # the range is read as cells, not again
    assert parts["metadata"] == 2


def test_ordinary_workbook_gives_only_its_cells() -> None:
    """openpyxl's own properties (creator "openpyxl") name no one."""
    book = openpyxl.Workbook()
    book.active.append(["Name", "Email"])
    book.active.append(["Quillon Abernathy", "q.aber@example.com"])
    out = io.BytesIO()
    book.save(out)
    result = extract(out.getvalue(), "plain.xlsx")
    assert {(e.text, e.area) for e in result.entities} == {
        ("Quillon Abernathy", "cell"),
        ("q.aber@example.com", "cell"),
    }
    assert result.coverage.parts["metadata"] == 1  # creator: openpyxl


def test_header_footer_codes_and_string_constants() -> None:
    assert header_footer_text('&L&"Arial,Bold"&12Left &P of &N&CCentre&R&KFF0000R&&D') == (
        "\nLeft of\nCentre\nR&D"
    )
    assert string_constants('IF(A1="x","say ""hi""")') == ["x", 'say "hi"']


# --- HTML and zip ------------------------------------------------------------------------------


def test_html_comments_and_data_attributes_are_read_at_their_place() -> None:
    page = (
        "<html><body><p>Welcome</p>\n"
        "<!-- debug: customer SSN 563-28-7719 -->\n"
        '<div data-customer-email="t.wren@fallowfield.example" class="x">Account</div>\n'
        '<a href="mailto:help.desk@example.org">Write</a> <a href="/about">About</a>\n'
        "<p>Nothing else.</p></body></html>\n"
    )
    result = extract(page.encode(), "page.html")
    located = {e.text: (e.area, e.line, e.char_start, e.char_end) for e in result.entities}
    for value, line in (
        ("563-28-7719", 2),
        ("t.wren@fallowfield.example", 3),
        ("help.desk@example.org", 4),
    ):
        start = page.index(value)
        assert located[value] == ("text", line, start, start + len(value)), value
    assert len(result.entities) == 3


def test_zip_and_member_comments_are_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "Nothing personal here.\n")
        archive.getinfo("notes.txt").comment = b"checked by SSN 401-58-7723"
        archive.comment = b"archived by f.bramble@hollowmere.example"
    result = extract(out.getvalue(), "archive.zip")
    where = found(result)
    assert where["f.bramble@hollowmere.example"] == [("EMAIL_ADDRESS", "metadata", None)]
    assert where["401-58-7723"] == [("US_SSN", "metadata", None)]
    assert result.coverage.parts["metadata"] == 2


def test_ods_headers_footers_and_properties_are_read() -> None:
    """The workbook saved by LibreOffice as ODS: its header in styles.xml, its properties in
    meta.xml (LibreOffice keeps the header, not the even-page footer)."""
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed")
    result = extract(convert(hidden_workbook(), "book.xlsx", "ods"), "book.ods")
    where = found(result)
    assert where["563-28-7719"] == [("US_SSN", "header_footer", None)]
    assert where["odalys.k@zephyrine.example"] == [("EMAIL_ADDRESS", "metadata", None)]
    assert where["Quillon Abernathy"] == [("PERSON", "cell", None)]


def test_ordinary_ods_gives_only_its_cells() -> None:
    """LibreOffice's default page style prints the sheet name and page number: nothing."""
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed")
    book = openpyxl.Workbook()
    book.active.append(["Name", "Email"])
    book.active.append(["Quillon Abernathy", "q.aber@example.com"])
    out = io.BytesIO()
    book.save(out)
    result = extract(convert(out.getvalue(), "plain.xlsx", "ods"), "plain.ods")
    assert {(e.text, e.area) for e in result.entities} == {
        ("Quillon Abernathy", "cell"),
        ("q.aber@example.com", "cell"),
    }
