"""PDF documents: opening (with the configured passwords) and composing their reading units.

Per page: the page itself (`paged.MupdfReader`, text layer checked, OCR where needed), then its
annotations (`pdf_annotations`) and its form fields (`pdf_forms`). After the pages: the XFA form's
data (`pdf_forms`) and the files the PDF carries, read as parts of the document (`children`).
Office files rendered by LibreOffice are read through here too.

A PDF MuPDF had to repair (its cross-reference table damaged, e.g. a truncated file) is never `ok`:
it gets a document-level unread part, since objects may be lost without a trace; the pages and
annotations known to be damaged are named as well (`pdf_damage`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pymupdf

from pii_assets.documents import pdf_damage
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
        self._repair_recorded = False

    def pages(self) -> Iterator[PageContent]:
        name, coverage = self._name, self.coverage
        self._record_repair()
        attachments = Attachments(self._doc, name=name, coverage=coverage)
        attachments.add_embedded_files()
        for index in range(self.pages_to_read):
            page = self.load_page(index)
            if page is None:
                continue
            number = index + 1
            content = self.read_page(page, index)
            pdf_damage.drain()
            annotations = annotation_unit(page, number, name=name, coverage=coverage)
            fields = form_field_unit(page, number, name=name, coverage=coverage)
            self._record_annotation_damage(page, number, pdf_damage.drain())
            yield from (unit for unit in (content, annotations, fields) if unit is not None)
            attachments.add_file_annotations(page, number)
        # MuPDF can also repair the file later, on meeting a broken object while reading a page.
        self._record_repair()
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

    def _record_repair(self) -> None:
        """Records the document-level unread part of a repaired PDF, once."""
        if self._repair_recorded or not self._doc.is_repaired:
            return
        self._repair_recorded = True
        self.coverage.unreadable(
            "document",
            ErrorClass.CORRUPT,
            f"{self._name}: repaired: the cross-reference table was damaged; "
            "objects may be missing",
        )

    def _record_annotation_damage(self, page: pymupdf.Page, number: int, warnings: str) -> None:
        """Records the page's annotations and form fields as unread `corrupt` when MuPDF reported
        damage reading them or, in a repaired file, some of them are lost."""
        repaired = self._doc.is_repaired
        found = pdf_damage.causes(warnings, repaired=repaired)
        lost = pdf_damage.missing_annotations(self._doc, page) if repaired else 0
        if lost:
            found.append(f"{lost} annotation{'s are' if lost > 1 else ' is'} missing")
        if found:
            self.coverage.unreadable(
                f"page {number} annotations",
                ErrorClass.CORRUPT,
                f"{self._name}: page {number} annotations: {'; '.join(found)}",
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
