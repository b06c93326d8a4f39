"""What a document is, read from its content: magic bytes, a zip's content types, an OLE file's
streams. File names and extensions are never consulted (a PNG named `.pdf` is a PNG).

Reading is bounded: only headers, the zip's central directory and its `[Content_Types].xml`
(capped), or the OLE directory are looked at; nothing is decompressed beyond that.
"""

from __future__ import annotations

import io
import zipfile

import olefile

# Formats `open_document` reads (the package's `READERS` maps each to its module). Images MuPDF
# opens are named as PyMuPDF's `open(filetype=...)` expects.
PDF = "pdf"
IMAGE_FORMATS = ("png", "jpeg", "tiff", "gif", "bmp")
DECODED_IMAGE_FORMATS = ("webp", "heic")  # decoded by Pillow (pillow-heif) first
WORD_FORMATS = ("docx",)
SPREADSHEET_FORMATS = ("xlsx", "xls", "ods", "csv", "tsv")
RENDERED_OFFICE_FORMATS = ("doc", "ppt", "pptx", "odt", "odp", "rtf")  # LibreOffice to PDF
TEXT_FORMATS = ("txt", "json", "jsonl", "xml", "html")
EMAIL_FORMATS = ("eml", "msg")
ARCHIVE_FORMATS = ("zip", "gzip", "tar")
# Office Open XML documents a password-protected OLE package may hold.
OFFICE_FORMATS = ("docx", "xlsx", "pptx")
# An OLE compound file holding an encrypted OOXML package (how Word/Excel save a password-protected
# .docx/.xlsx); it is decrypted, then sniffed again.
ENCRYPTED_OFFICE = "encrypted-office"
# A zip whose first entry is `[Content_Types].xml` but whose directory cannot be read.
DAMAGED_OFFICE = "damaged-office"

# Recognised but not supported: named in the `unsupported_format` message.
UNSUPPORTED_LABELS = {
    "webp": "WEBP images",
    "opendocument": "OpenDocument files other than text, spreadsheets and presentations",
    "zip": "ZIP archives",
    "ole": "OLE compound files",
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RTF_MAGIC = b"{\\rtf"  # RTF 1.9.1 specification: a file starts with "{\rtf<version>"
# ODF packages name their type in a first, stored `mimetype` entry (ODF 1.2 Part 3 §3.3);
# templates read as the documents they make.
_ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.text-template": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/vnd.oasis.opendocument.presentation-template": "odp",
}
_CONTENT_TYPES = "[Content_Types].xml"
_MAX_CONTENT_TYPES_BYTES = 1 << 20  # real ones are a few KB; a bigger one is not trusted
_OOXML_MAIN_TYPES = (
    # Main part content types; macro-enabled and template variants render the same way.
    (b"wordprocessingml.document.main+xml", "docx"),
    (b"wordprocessingml.template.main+xml", "docx"),
    (b"ms-word.document.macroenabled.main+xml", "docx"),
    (b"ms-word.template.macroenabledtemplate.main+xml", "docx"),
    (b"spreadsheetml.sheet.main+xml", "xlsx"),
    (b"spreadsheetml.template.main+xml", "xlsx"),
    (b"ms-excel.sheet.macroenabled.main+xml", "xlsx"),
    (b"ms-excel.template.macroenabled.main+xml", "xlsx"),
    (b"presentationml", "pptx"),
)


def sniff_format(data: bytes) -> str | None:
    """The format named by the content, or None for bytes that are no known format.

    One of `PDF`, `IMAGE_FORMATS`, `WORD_FORMATS`, `SPREADSHEET_FORMATS` (but csv/tsv),
    `RENDERED_OFFICE_FORMATS`, `ENCRYPTED_OFFICE`, `DAMAGED_OFFICE`, or a key of
    `UNSUPPORTED_LABELS`.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if data.startswith(_OLE_MAGIC):
        return _sniff_ole(data)
    if data.startswith(_RTF_MAGIC):
        return "rtf"
    # The PDF spec tolerates junk before the header and readers accept it within the first 1 KiB.
    if b"%PDF-" in data[:1024]:
        return PDF
    return None


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if _CONTENT_TYPES not in names:
                return _sniff_odf(archive) if "mimetype" in names else "zip"
            info = archive.getinfo(_CONTENT_TYPES)
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                return DAMAGED_OFFICE
            with archive.open(info) as part:
                types = part.read(_MAX_CONTENT_TYPES_BYTES).lower()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError):
        # A truncated upload loses the central directory at the end; the first local header
        # (name at offset 30) still says whether it was an Office document.
        return (
            DAMAGED_OFFICE
            if data[30 : 30 + len(_CONTENT_TYPES)] == b"[Content_Types].xml"
            else "zip"
        )
    for marker, kind in _OOXML_MAIN_TYPES:
        if marker in types:
            return kind
    return "zip"


def _sniff_odf(archive: zipfile.ZipFile) -> str:
    """odt/ods/odp from an ODF package's `mimetype` entry; "opendocument" for other ODF types."""
    try:
        with archive.open("mimetype") as entry:
            mimetype = entry.read(100).strip()
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return "opendocument"
    return _ODF_TYPES.get(mimetype, "opendocument")


def _sniff_ole(data: bytes) -> str:
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
                return ENCRYPTED_OFFICE
            # The main stream of each binary format ([MS-DOC] §2.1.1, [MS-XLS] §2.1.2 (BIFF5
            # workbooks name it "Book"), [MS-PPT] §2.1.1).
            if ole.exists("WordDocument"):
                return "doc"
            if ole.exists("Workbook") or ole.exists("Book"):
                return "xls"
            if ole.exists("PowerPoint Document"):
                return "ppt"
    except Exception:  # olefile raises a variety of errors on damaged directories
        return "ole"
    return "ole"
