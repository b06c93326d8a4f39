"""What a document is, read from its content: magic bytes, a zip's content types, an OLE file's
streams. File names and extensions are never consulted (a PNG named `.pdf` is a PNG).

Reading is bounded: only headers, the zip's central directory and its `[Content_Types].xml`
(capped), or the OLE directory are looked at; nothing is decompressed beyond that.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
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
    "avif": "AVIF images",
    "7z": "7-Zip archives",
    "rar": "RAR archives",
    "opendocument": "OpenDocument files other than text, spreadsheets and presentations",
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
        return _sniff_outlook_message(data) or _sniff_ole(data)
    if data.startswith(_RTF_MAGIC):
        return "rtf"
    # Before PDF's loose check: a tar's first member may be a PDF within the first 1 KiB.
    container = _sniff_container(data)
    if container:
        return container
    # The PDF spec tolerates junk before the header and readers accept it within the first 1 KiB.
    if b"%PDF-" in data[:1024]:
        return PDF
    return _sniff_text(data)


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


# --- Outlook messages, archives, decoded images, text (the text/e-mail/archive reader's part) ---

# Outlook .msg files ([MS-OXMSG] 2.1, 2.2.3): an OLE file whose root holds the property stream
# and the named-property mapping storage.
_MSG_STREAMS = ("__properties_version1.0", "__nameid_version1.0")
# ISO base media file `ftyp` brands (ISO/IEC 23008-12 Annex B) of HEVC-coded HEIF images, the
# ones pillow-heif decodes; "mif1"/"msf1" are generic HEIF brands, decided by compatible brands.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"miaf"})
# How much of a document is looked at to tell text from binary and one text format from another.
TEXT_SAMPLE_BYTES = 16 * 1024
# C0 controls other than tab, line feed, vertical tab, form feed, carriage return and escape,
# plus DEL: text files hardly ever hold them, binary files always do.
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x1B)) + bytes(range(0x1C, 0x20))
_MAX_CONTROL_SHARE = 0.01
# RFC 5322 §3.6 fields (plus the trace and MIME fields every delivered message has): a header
# block naming two of these, one of them an originator or trace field, is an e-mail.
_MAIL_FIELDS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender"}
    | {"received", "return-path", "mime-version", "delivered-to", "x-mailer", "in-reply-to"}
)
_MAIL_ANCHORS = frozenset(
    {"from", "sender", "received", "return-path", "message-id", "mime-version", "delivered-to"}
)
_HEADER_LINE = re.compile(r"([!-9;-~]+)[ \t]*:")  # RFC 5322 §3.6.8 field name, then a colon
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|div|p|table|span|a|br|h[1-6]|ul|ol|form"
    r"|link|script|style|center|font|b|i)[\s>/]",
    re.IGNORECASE,
)
_XML_START = re.compile(r"<(?:\?xml[\s?]|[A-Za-z_][\w.:-]*[\s>/]|!--)")
_DELIMITERS = (("\t", "tsv"), (",", "csv"), (";", "csv"), ("|", "csv"))


def _sniff_outlook_message(data: bytes) -> str | None:
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if all(ole.exists(name) for name in _MSG_STREAMS):
                return "msg"
    except Exception:  # olefile raises a variety of errors on damaged directories
        return None
    return None


def _sniff_container(data: bytes) -> str | None:
    """Archives and images that are neither MuPDF's nor Office's, from their magic numbers."""
    if data.startswith(b"\x1f\x8b"):  # RFC 1952 §2.3.1
        return "gzip"
    if data[257:262] == b"ustar":  # POSIX.1-1988 ustar (and GNU tar) header magic
        return "tar"
    if data.startswith(b"PK\x05\x06"):  # an empty zip: only the end of central directory
        return "zip"
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if data.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        major = data[8:12]
        compatible = {data[i : i + 4] for i in range(16, min(size, 64), 4)}
        if major in _HEIC_BRANDS or (major in _GENERIC_HEIF_BRANDS and compatible & _HEIC_BRANDS):
            return "heic"
        if major in _AVIF_BRANDS or compatible & _AVIF_BRANDS:
            return "avif"
    return None


def text_encoding(sample: bytes) -> str | None:
    """The codec to decode a document whose first bytes are `sample`, or None when they are not
    text: a byte-order mark's codec; UTF-16 without one when every other byte is NUL; UTF-8 when
    the sample decodes as UTF-8 (a character cut at its end allowed); else Windows-1252, the
    WHATWG Encoding Standard's fallback for unlabelled Western text (with undefined bytes
    replaced when decoding). Binary content (NUL bytes, C0 controls) gives None."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if sample.startswith(bom):
            return codec
    if not sample:
        return None
    if b"\x00" in sample:
        return _utf16_without_bom(sample)
    controls = sum(sample.count(byte) for byte in _CONTROL_BYTES)
    if controls > _MAX_CONTROL_SHARE * len(sample):
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _utf16_without_bom(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if not odd:
        return None
    even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nuls > 0.4 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.4 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _sniff_text(data: bytes) -> str | None:
    """A text format from the start of the content: e-mail, JSON / JSON Lines, HTML, XML,
    CSV/TSV or plain text; None for binary content. RTF is the Office reader's (`{\\rtf`)."""
    sample = data[:TEXT_SAMPLE_BYTES]
    encoding = text_encoding(sample)
    if encoding is None:
        return None
    text = sample.decode(encoding, errors="replace")
    complete = len(data) <= TEXT_SAMPLE_BYTES
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith("{\\rtf"):
        return None
    if _looks_like_email(text):
        return "eml"
    if start[:1] in ("{", "["):
        json_kind = _json_kind(start)
        if json_kind:
            return json_kind
    if start.startswith("<"):
        head = start[:2048]
        if _HTML_START.match(head) or re.search(r"<html[\s>]", head, re.IGNORECASE):
            return "html"
        if _XML_START.match(head):
            return "xml"
    return _delimited_kind(text, complete=complete) or "txt"


def _looks_like_email(text: str) -> bool:
    lines = text.splitlines()
    if lines and lines[0].startswith("From "):  # an mbox "From " separator line
        lines = lines[1:]
    names: set[str] = set()
    for line in lines[:200]:
        if not line.strip():
            break
        if line[0] in " \t":  # a folded continuation line (RFC 5322 §2.2.3)
            if not names:
                return False
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            return False
        names.add(match[1].lower())
    known = names & _MAIL_FIELDS
    return len(known) >= 2 and bool(known & _MAIL_ANCHORS)


def _json_kind(start: str) -> str | None:
    """ "jsonl" when the first line is a whole JSON value and more lines follow (no JSON document
    continues after a whole value), "json" when the text opens like a JSON document, None
    otherwise ("[INFO] ..." is a log line)."""
    first, _, rest = start.partition("\n")
    try:
        json.loads(first)
    except ValueError:
        pass
    else:
        return "jsonl" if rest.strip() else "json"
    after = start[1:].lstrip()[:1]
    if start[0] == "{":
        return "json" if after in ('"', "}") else None
    return "json" if after and after in '{["-0123456789tfn]' else None


def _delimited_kind(text: str, *, complete: bool) -> str | None:
    """ "csv" or "tsv" when the sample's records (at least two) all have the same number (two or
    more) of delimiter-separated fields; the spreadsheet reader finds the delimiter again."""
    if not complete:
        text = text[: text.rfind("\n") + 1]  # the last line may be cut
    if text.count("\n") < 1:
        return None
    for delimiter, kind in _DELIMITERS:
        if delimiter not in text:
            continue
        try:
            records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        except csv.Error:
            continue
        widths = {len(record) for record in records}
        if len(records) >= 2 and len(widths) == 1 and widths.pop() >= 2:
            return kind
    return None
