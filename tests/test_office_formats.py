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

_FLAT_PRESENTATION = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">'
    '<office:body><office:presentation><draw:page draw:name="p1"><draw:frame svg:x="2cm" '
    'svg:y="2cm" svg:width="22cm" svg:height="6cm"><draw:text-box>'
    + "".join(f"<text:p>{line}</text:p>" for line in LINES)
    + "</draw:text-box></draw:frame></draw:page></office:presentation></office:body>"
    "</office:document>"
)


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
        return _convert(_FLAT_PRESENTATION.encode(), "sample.fodp", kind)
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
