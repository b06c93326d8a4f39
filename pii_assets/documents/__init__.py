"""Reading documents of every format, one unit at a time (see `base` for the model).

`open_document` sniffs the format from the content (`sniff`), never from the name, and hands the
bytes to the module of its format family (`READERS`): a new format is one new module and one
line there. Every problem with the input becomes a `DocumentError` whose message names the
document and the cause only: never passwords, never document text.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from pii_assets.documents import sniff
from pii_assets.documents.base import (
    DocumentLimits,
    DocumentReader,
    OpenedDocument,
    PageContent,
    ToolError,
    lines_text,
)
from pii_assets.documents.ocr import OcrError, tessdata_dir
from pii_assets.documents.office import decrypt_office
from pii_assets.documents.sniff import sniff_format
from pii_assets.models import DocumentError, ErrorClass

__all__ = [
    "DocumentLimits",
    "DocumentReader",
    "OcrError",
    "OpenedDocument",
    "PageContent",
    "ToolError",
    "lines_text",
    "open_document",
    "sniff_format",
    "tessdata_dir",
]


# Format -> "module:function" in this package; each function is
# `open_x(data, *, kind, name, passwords, limits) -> DocumentReader` and raises DocumentError.
# Modules are imported when a format is first read: most buckets hold a few formats only.
READERS: dict[str, str] = {
    sniff.PDF: "pdf:open_pdf",
    **{kind: "images:open_image" for kind in sniff.IMAGE_FORMATS},
    **{kind: "images:open_decoded_image" for kind in sniff.DECODED_IMAGE_FORMATS},
    **{kind: "spreadsheets:open_spreadsheet" for kind in sniff.SPREADSHEET_FORMATS},
    **{kind: "word:open_word" for kind in sniff.WORD_FORMATS},
    **{kind: "office:open_rendered" for kind in sniff.RENDERED_OFFICE_FORMATS},
    **{kind: "text:open_text" for kind in sniff.TEXT_FORMATS},
    **{kind: "email:open_email" for kind in sniff.EMAIL_FORMATS},
    **{kind: "archives:open_archive" for kind in sniff.ARCHIVE_FORMATS},
}


def open_document(
    data: bytes,
    *,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits = DocumentLimits(),  # noqa: B008 - frozen, so sharing it is safe
) -> OpenedDocument:
    """Opens a document of any supported format; raises DocumentError for anything that cannot be
    read, ToolError when LibreOffice or Tesseract is missing."""
    if not data:
        raise DocumentError(ErrorClass.EMPTY, f"{name}: document is empty (0 bytes)")
    kind = sniff_format(data)
    if kind == sniff.ENCRYPTED_OFFICE:
        data = decrypt_office(data, name=name, passwords=passwords)
        kind = sniff_format(data)
        if kind not in sniff.OFFICE_FORMATS:
            raise DocumentError(
                ErrorClass.UNSUPPORTED_FORMAT,
                f"{name}: the decrypted Office file is not a Word, Excel or PowerPoint document",
            )
    target = READERS.get(kind or "")
    if target is None:
        raise _unsupported(kind, name=name)
    module_name, function = target.split(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    reader = getattr(module, function)(
        data, kind=kind, name=name, passwords=passwords, limits=limits
    )
    return OpenedDocument(reader, name=name, max_pages=limits.max_pages)


def _unsupported(kind: str | None, *, name: str) -> DocumentError:
    if kind == sniff.DAMAGED_OFFICE:
        return DocumentError(
            ErrorClass.CORRUPT, f"{name}: Office document (zip) is truncated or damaged"
        )
    if kind is None:
        return DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: unrecognised file format")
    label = sniff.UNSUPPORTED_LABELS.get(kind, f"{kind.upper()} files")
    return DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {label} are not supported")
