"""A generated corpus of what real buckets hold besides clean PDFs: every supported format, locked
files, limits and garbage. Each entry says what the pipeline must make of it.

Word and Excel files are written as minimal Office Open XML packages by hand (no generator
library needed); protected ones are encrypted with msoffcrypto-tool the way Office does it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pymupdf
from msoffcrypto.format.ooxml import OOXMLFile
from PIL import Image

from pii_pipeline.corpus import oversized_png, page_image, single_page_pdf

# Passwords configured for the pipeline (the second opens the protected files) and one nobody
# configured. None of them may appear in any result, marker, metadata or log.
CONFIGURED_PASSWORDS = ("Wrong-Guess-4417", "Corr3ct-Horse-Battery")
UNKNOWN_PASSWORD = "Nobody-Knows-9931"
ALL_PASSWORDS = (*CONFIGURED_PASSWORDS, UNKNOWN_PASSWORD)

PII_LINES = [
    "Employee record",
    "Name: Maria Gonzalez",
    "Email: maria.gonzalez@example.com",
    "SSN: 536-22-1234",
]
PII_VALUES = ("maria.gonzalez@example.com", "536-22-1234", "Maria Gonzalez")


@dataclass(frozen=True)
class BadInput:
    name: str
    data: bytes
    status: str
    error_class: str | None = None
    pages: int | None = None
    truncated: bool = False
    entity_types: frozenset[str] = frozenset()  # at least these are found


# --- Office Open XML ---------------------------------------------------------------------------

_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_OOXML = "application/vnd.openxmlformats-officedocument"


def _package(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():  # [Content_Types].xml first, as Office writes it
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return out.getvalue()


def docx(paragraphs: list[str]) -> bytes:
    """A Word document with one paragraph per item."""
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'
        for text in paragraphs
    )
    return _package(
        {
            "[Content_Types].xml": f'<Types xmlns="{_CT}">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package'
            f'.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" '
            f'ContentType="{_OOXML}.wordprocessingml.document.main+xml"/></Types>',
            "_rels/.rels": f'<Relationships xmlns="{_REL}"><Relationship Id="rId1" '
            f'Type="{_OFFICE_DOC}" Target="word/document.xml"/></Relationships>',
            "word/document.xml": '<w:document xmlns:w="http://schemas.openxmlformats.org/'
            f'wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>',
        }
    )


def xlsx(rows: list[list[str]]) -> bytes:
    """An Excel workbook with one sheet holding the rows as inline strings, in wide columns."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet_rows = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{chr(65 + c)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
            for c, v in enumerate(row)
        )
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    return _package(
        {
            "[Content_Types].xml": f'<Types xmlns="{_CT}">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package'
            f'.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" '
            f'ContentType="{_OOXML}.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{_OOXML}.spreadsheetml.worksheet+xml"/></Types>',
            "_rels/.rels": f'<Relationships xmlns="{_REL}"><Relationship Id="rId1" '
            f'Type="{_OFFICE_DOC}" Target="xl/workbook.xml"/></Relationships>',
            "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="http://schemas.openxmlformats'
            '.org/officeDocument/2006/relationships"><sheets><sheet name="Staff" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
            "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_REL}"><Relationship '
            'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships'
            '/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
            "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><cols><col min="1" max="2" '
            f'width="45" customWidth="1"/></cols><sheetData>{sheet_rows}</sheetData></worksheet>',
        }
    )


def encrypt_office(data: bytes, password: str) -> bytes:
    """The docx/xlsx protected with a password (agile encryption, as Office 2010+ writes it).

    msoffcrypto-tool cannot read back a package under 4 KiB (it lands in the OLE mini stream);
    real Office files are never that small, so the package is padded with an unused part first.
    """
    if len(data) < 8192:
        padded = io.BytesIO(data)
        with zipfile.ZipFile(padded, "a", zipfile.ZIP_STORED) as archive:
            archive.writestr("docProps/padding.xml", "<padding>" + " " * 8192 + "</padding>")
        data = padded.getvalue()
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


# --- PDFs and images ---------------------------------------------------------------------------


def text_pdf(pages: int, lines: list[str] = PII_LINES) -> bytes:
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page()
        for row, line in enumerate([f"Page {number}", *lines]):
            page.insert_text((72, 72 + 20 * row), line)
    data = doc.tobytes()
    doc.close()
    return data


def encrypted_pdf(password: str) -> bytes:
    with pymupdf.open(stream=single_page_pdf(PII_LINES), filetype="pdf") as doc:
        return doc.tobytes(
            encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-own"
        )


def pdf_with_image_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A scanned-looking page whose image declares width x height pixels in a few bytes."""
    doc = pymupdf.open()
    page = doc.new_page()
    tiny = io.BytesIO()
    Image.new("L", (8, 8), 255).save(tiny, "PNG")
    xref = page.insert_image(page.rect, stream=tiny.getvalue())
    doc.update_object(
        xref,
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
        "/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode >>",
    )
    doc.update_stream(xref, zlib.compress(b"\xff" * 4096), compress=False)
    data = doc.tobytes()
    doc.close()
    return data


def multi_page_tiff(pages: int, dpi: int = 150) -> bytes:
    frames = [
        Image.open(io.BytesIO(page_image(single_page_pdf([f"Scan page {n}", *PII_LINES]), dpi=dpi)))
        for n in range(1, pages + 1)
    ]
    out = io.BytesIO()
    frames[0].save(
        out, "TIFF", save_all=True, append_images=frames[1:], dpi=(dpi, dpi), compression="tiff_lzw"
    )
    return out.getvalue()


def bad_corpus(*, max_file_bytes: int, max_pages: int) -> list[BadInput]:
    """The corpus; `max_file_bytes` and `max_pages` are the limits the pipeline is run with."""
    pdf = text_pdf(2)
    jpeg = page_image(single_page_pdf(PII_LINES), dpi=150, fmt="jpeg")
    png = page_image(single_page_pdf(PII_LINES), dpi=150, fmt="png")
    office = docx(PII_LINES)
    workbook = xlsx([[line] for line in PII_LINES])
    text_types = frozenset({"EMAIL_ADDRESS", "US_SSN"})
    return [
        BadInput("truncated.pdf", pdf[: len(pdf) // 3], "failed", "corrupt"),
        BadInput("zero-bytes.pdf", b"", "failed", "empty"),
        BadInput("photo-named.pdf", png, "ok", pages=1, entity_types=text_types),
        BadInput("truncated.jpg", jpeg[: len(jpeg) // 2], "failed", "corrupt"),
        BadInput("bomb.png", oversized_png(40_000, 40_000), "failed", "image_too_large"),
        BadInput("bomb-page.pdf", pdf_with_image_bomb(), "failed", "image_too_large"),
        BadInput("locked.pdf", encrypted_pdf(UNKNOWN_PASSWORD), "failed", "encrypted_no_password"),
        BadInput(
            "unlocked.pdf",
            encrypted_pdf(CONFIGURED_PASSWORDS[1]),
            "ok",
            pages=1,
            entity_types=text_types,
        ),
        BadInput("staff.docx", office, "ok", pages=1, entity_types=text_types),
        # Spreadsheets are read from their cells: no pages.
        BadInput("staff.xlsx", workbook, "ok", pages=0, entity_types=text_types),
        BadInput(
            "protected.xlsx",
            encrypt_office(workbook, CONFIGURED_PASSWORDS[1]),
            "ok",
            pages=0,
            entity_types=text_types,
        ),
        BadInput(
            "locked.docx",
            encrypt_office(office, UNKNOWN_PASSWORD),
            "failed",
            "encrypted_no_password",
        ),
        BadInput("cut.docx", office[: len(office) // 2], "failed", "corrupt"),
        BadInput("scan.tiff", multi_page_tiff(3), "ok", pages=3, entity_types=text_types),
        BadInput(
            "long.pdf",  # pages past the limit are an unread part: never `ok`
            text_pdf(max_pages + 2),
            "partial",
            "limit_exceeded",
            pages=max_pages + 2,
            truncated=True,
            entity_types=text_types,
        ),
        # Plain text named .pdf is read as what it is: text.
        BadInput(
            "notes.pdf",
            b"Name: Maria Gonzalez, just text\n",
            "ok",
            pages=0,
            entity_types=frozenset({"PERSON"}),
        ),
        BadInput("archive.zip", _zip_of_text(), "ok", pages=0),
        BadInput("mystery.pdf", bytes(range(256)) * 16, "failed", "unsupported_format"),
        BadInput("huge.pdf", b"%PDF-1.7\n" + b"0" * max_file_bytes, "skipped", "too_large"),
    ]


def _zip_of_text() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "nothing to see")
    return out.getvalue()
