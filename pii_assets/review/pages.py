"""The pages a reviewer looks at: a document's pages rendered to PNG, as the pipeline read them
(entity boxes are normalised to the page as displayed, and so is a rendering), and a text
document's decoded text (entity character offsets index it). No S3 here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pymupdf

from pii_assets.documents import sniff
from pii_assets.documents.office import convert_to_pdf
from pii_assets.documents.pdf import authenticate
from pii_assets.documents.text import decoded, document_encoding
from pii_assets.models import DocumentError, ErrorClass

# Formats whose pages MuPDF renders directly, and those LibreOffice renders to a PDF first
# (as reading does, documents/office.py).
MUPDF_FORMATS = (sniff.PDF, *sniff.IMAGE_FORMATS)
TEXT_TASK_FORMATS = ("txt", "xml", "html")


def _open(
    data: bytes, kind: str, *, name: str, passwords: Sequence[str], timeout_s: float
) -> pymupdf.Document:
    if kind in sniff.RENDERED_OFFICE_FORMATS:
        data, kind = convert_to_pdf(data, kind=kind, name=name, timeout_s=timeout_s), sniff.PDF
    elif kind not in MUPDF_FORMATS:
        raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind} has no pages to render")
    doc = pymupdf.open(stream=data, filetype=kind)
    if doc.needs_pass:
        authenticate(doc, name=name, passwords=passwords)
    return doc


def render_pages(
    data: bytes,
    pages: Iterable[int],
    *,
    name: str,
    max_side: int = 1600,
    passwords: Sequence[str] = (),
    timeout_s: float = 120.0,
) -> Iterator[tuple[int, bytes, tuple[int, int]]]:
    """(1-based page, PNG bytes, (width, height) in pixels) for each page asked for, the longer
    side `max_side` pixels. Raises DocumentError for a format without pages."""
    kind = sniff.sniff_format(data) or ""
    doc = _open(data, kind, name=name, passwords=passwords, timeout_s=timeout_s)
    try:
        for number in sorted(set(pages)):
            if not 1 <= number <= doc.page_count:
                continue
            page = doc.load_page(number - 1)
            zoom = max_side / max(page.rect.width, page.rect.height, 1.0)
            pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            yield number, pixmap.tobytes("png"), (pixmap.width, pixmap.height)
    finally:
        doc.close()
        pymupdf.TOOLS.reset_mupdf_warnings()


def document_text(data: bytes, *, name: str) -> str:
    """The decoded text of a text document, as its entities' offsets count it. Raises
    DocumentError for other formats."""
    kind = sniff.sniff_format(data) or ""
    encoding = document_encoding(data, kind=kind) if kind in TEXT_TASK_FORMATS else None
    if encoding is None:
        raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind} is not a text format")
    return decoded(data, encoding).read()


def task_format(data: bytes) -> str | None:
    """ "image" (pages rendered), "text" (a text task), or None (not reviewable in Label Studio
    here: spreadsheets, JSON, e-mail, archives, Word files read from their structure)."""
    kind = sniff.sniff_format(data) or ""
    if kind in MUPDF_FORMATS or kind in sniff.RENDERED_OFFICE_FORMATS:
        return "image"
    if kind in TEXT_TASK_FORMATS:
        return "text"
    return None
