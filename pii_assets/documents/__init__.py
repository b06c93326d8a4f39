"""Reading documents of every format, one unit at a time (see `base` for the model).

`open_document` sniffs the format from the content (`sniff`), never from the name, and hands the
bytes to the module of its format family: `pdf`, `images`, `office` (LibreOffice rendering and
decryption). Every problem with the input becomes a `DocumentError` whose message names the
document and the cause only: never passwords, never document text.
"""

from __future__ import annotations

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
from pii_assets.documents.images import open_image
from pii_assets.documents.ocr import OcrError, tessdata_dir
from pii_assets.documents.office import convert_to_pdf, decrypt_office
from pii_assets.documents.pdf import open_pdf
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
                f"{name}: the decrypted Office file is not a Word or Excel document",
            )
    if kind in sniff.OFFICE_FORMATS:
        data = convert_to_pdf(data, kind=kind, name=name, timeout_s=limits.conversion_timeout_s)
        kind = sniff.PDF
    if kind == sniff.PDF:
        return OpenedDocument(open_pdf(data, name=name, passwords=passwords, limits=limits))
    if kind in sniff.IMAGE_FORMATS:
        return OpenedDocument(open_image(data, kind=kind, name=name, limits=limits))
    raise _unsupported(kind, name=name)


def _unsupported(kind: str | None, *, name: str) -> DocumentError:
    if kind == sniff.DAMAGED_OFFICE:
        return DocumentError(
            ErrorClass.CORRUPT, f"{name}: Office document (zip) is truncated or damaged"
        )
    if kind is None:
        return DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: unrecognised file format")
    label = sniff.UNSUPPORTED_LABELS.get(kind, f"{kind.upper()} files")
    return DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {label} are not supported")
