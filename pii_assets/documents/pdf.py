"""PDF documents: opening (with the configured passwords) and composing their reading units.

Per page: the page itself (`paged.MupdfReader`, text layer checked, OCR where needed), then its
annotations (`pdf_annotations`) and its form fields (`pdf_forms`). After the pages: the XFA form's
data (`pdf_forms`) and the files the PDF carries, read as parts of the document (`children`).
Office files rendered by LibreOffice are read through here too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pymupdf

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.children import read_children
from pii_assets.documents.paged import MupdfReader
from pii_assets.documents.pdf_annotations import Attachments, annotation_unit
from pii_assets.documents.pdf_forms import form_field_unit, xfa_unit
from pii_assets.models import DocumentError, ErrorClass


class PdfReader(MupdfReader):
    """A `DocumentReader` over every part of a PDF: pages, annotations, form fields, XFA data
    and attachments, in that order (annotations and fields right after their page)."""

    def __init__(
        self,
        doc: pymupdf.Document,
        *,
        name: str,
        passwords: Sequence[str],
        limits: DocumentLimits,
    ) -> None:
        super().__init__(doc, name=name, image_sizes=None, limits=limits)
        self._passwords = passwords

    def pages(self) -> Iterator[PageContent]:
        name, coverage = self._name, self.coverage
        attachments = Attachments(self._doc, name=name, coverage=coverage)
        attachments.add_embedded_files()
        for index in range(self.pages_to_read):
            page = self.load_page(index)
            if page is None:
                continue
            number = index + 1
            units = (
                self.read_page(page, index),
                annotation_unit(page, number, name=name, coverage=coverage),
                form_field_unit(page, number, name=name, coverage=coverage),
            )
            yield from (unit for unit in units if unit is not None)
            attachments.add_file_annotations(page, number)
        xfa = xfa_unit(self._doc, name=name, coverage=coverage, limits=self._limits)
        if xfa is not None:
            yield xfa
        yield from read_children(
            attachments.children,
            name=name,
            parent_part=None,
            coverage=coverage,
            kind="attachments",
            passwords=self._passwords,
            limits=self._limits,
        )


def open_pdf(
    data: bytes, *, kind: str = "pdf", name: str, passwords: Sequence[str], limits: DocumentLimits
) -> PdfReader:
    """A reader over the PDF; raises DocumentError when it cannot be opened or decrypted."""
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: PDF is damaged and cannot be opened"
        ) from exc
    try:
        if doc.needs_pass:
            authenticate(doc, name=name, passwords=passwords)
        # MuPDF repairs what it can; a document left without pages has nothing to read.
        if doc.page_count < 1:
            raise DocumentError(ErrorClass.CORRUPT, f"{name}: PDF has no readable pages")
    except BaseException:
        doc.close()
        raise
    return PdfReader(doc, name=name, passwords=passwords, limits=limits)


def authenticate(doc: pymupdf.Document, *, name: str, passwords: Sequence[str]) -> None:
    """Opens a protected PDF with the first password that works; raises DocumentError
    (ENCRYPTED_NO_PASSWORD) naming how many were tried, never which."""
    for password in passwords:
        if doc.authenticate(password):
            return
    if not passwords:
        reason = "no password is configured"
    else:
        count = len(passwords)
        reason = f"none of the {count} configured password{'s' if count > 1 else ''} opens it"
    raise DocumentError(ErrorClass.ENCRYPTED_NO_PASSWORD, f"{name}: PDF is encrypted and {reason}")
