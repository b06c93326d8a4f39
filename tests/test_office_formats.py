"""Legacy and OpenDocument office files: sniffed from their content, then rendered by LibreOffice
(doc, rtf, odt, ppt, pptx, odp) or read from their cells (xls, ods), each with its values found.

The files are written by LibreOffice in the test from a Word document or a flat OpenDocument
presentation built here; every value is invented.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest

from pii_assets.documents import sniff_format
from pii_assets.documents.office import soffice_path
from pii_assets.extraction import OfflineExtractor, extract_document
from tests.office_samples import word_document

VALUES = {
    "PERSON": "Maria Gonzalez",
    "EMAIL_ADDRESS": "maria.gonzalez@example.com",
    "US_SSN": "536-22-1234",
}
LINES = [
    "Name: Maria Gonzalez",
    "Email: maria.gonzalez@example.com",
    "SSN: 536-22-1234",
]


def _slide(lines: list[str], *, hidden: bool = False) -> str:
    style = ' draw:style-name="hidden"' if hidden else ""
    return (
        f'<draw:page draw:name="p{len(lines)}{hidden}"{style}><draw:frame svg:x="2cm" '
        'svg:y="2cm" svg:width="22cm" svg:height="6cm"><draw:text-box>'
        + "".join(f"<text:p>{line}</text:p>" for line in lines)
        + "</draw:text-box></draw:frame></draw:page>"
    )


def _flat_presentation(*slides: str) -> bytes:
    """A flat (single XML file) OpenDocument presentation; LibreOffice saves it as ppt/pptx/odp.
    The "hidden" page style hides a slide in the slide show (ODF 1.2 §20.384)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
        'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        'office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">'
        '<office:automatic-styles><style:style style:name="hidden" style:family="drawing-page">'
        '<style:drawing-page-properties presentation:visibility="hidden"/></style:style>'
        "</office:automatic-styles><office:body><office:presentation>"
        + "".join(slides)
        + "</office:presentation></office:body></office:document>"
    ).encode()


def _convert(data: bytes, source_name: str, target: str) -> bytes:
    """`data` (named `source_name`) saved by LibreOffice in the format of extension `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / source_name
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
        return (Path(tmp) / f"{source.stem}.{target}").read_bytes()


def _workbook() -> bytes:
    import io

    book = openpyxl.Workbook()
    book.active.append(["Name", "Email", "SSN"])
    book.active.append(list(VALUES.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sample(kind: str) -> bytes:
    if kind in ("doc", "rtf", "odt"):
        return _convert(word_document(LINES), "sample.docx", kind)
    if kind in ("ppt", "pptx", "odp"):
        return _convert(_flat_presentation(_slide(LINES)), "sample.fodp", kind)
    return _convert(_workbook(), "sample.xlsx", kind)


@pytest.mark.parametrize(
    ("kind", "area"),
    [
        ("doc", "page"),
        ("rtf", "page"),
        ("odt", "page"),
        ("ppt", "page"),
        ("pptx", "page"),
        ("odp", "page"),
        ("xls", "cell"),
        ("ods", "cell"),
    ],
)
def test_office_format_is_sniffed_and_its_values_found(kind: str, area: str) -> None:
    data = _sample(kind)
    assert sniff_format(data) == kind
    result = extract_document(
        data, document_key=f"sample.{kind}", etag="", extractor=OfflineExtractor()
    )
    assert result.status == "ok", result.error_message
    found = {(e.entity_type, e.text) for e in result.entities}
    assert set(VALUES.items()) <= found, kind
    assert {e.area for e in result.entities} == {area}


def test_encrypted_opendocument_is_named_as_such() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        package.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:'
            '1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data'
            ' manifest:checksum-type="SHA1/1K"/></manifest:file-entry></manifest:manifest>',
        )
        package.writestr("content.xml", b"\x8f\x01 encrypted bytes")
    result = extract_document(
        out.getvalue(), document_key="locked.odt", etag="", extractor=OfflineExtractor()
    )
    assert result.status == "failed"
    assert result.error_class == "encrypted_no_password"


def test_rtf_is_sniffed_from_its_header() -> None:
    assert sniff_format(b"{\\rtf1\\ansi Hello}") == "rtf"


@pytest.mark.parametrize("kind", ["pptx", "odp"])
def test_hidden_slides_are_read(kind: str) -> None:
    hidden = _slide(["Email: hidden.slide@example.com"], hidden=True)
    data = _convert(_flat_presentation(_slide(LINES), hidden), "hidden.fodp", kind)
    result = extract_document(
        data, document_key=f"hidden.{kind}", etag="", extractor=OfflineExtractor()
    )
    assert result.pages == 2
    assert ("EMAIL_ADDRESS", "hidden.slide@example.com", 2) in {
        (e.entity_type, e.text, e.page) for e in result.entities
    }


def test_comments_of_rendered_word_processing_files_are_exported_as_pdf_annotations() -> None:
    """doc/odt/rtf comments leave LibreOffice as PDF text annotations, which the PDF reader
    reads with the page (docx comments are read from the package: tests/test_word.py)."""
    import pymupdf

    from pii_assets.documents.office import convert_to_pdf

    odt = _convert(word_document(LINES, comment="Mail reviewer@example.com"), "c.docx", "odt")
    pdf = convert_to_pdf(odt, kind="odt", name="c.odt", timeout_s=120)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        notes = [annot.info["content"] for page in doc for annot in page.annots()]
    assert notes == ["Mail reviewer@example.com"]
