"""PDF documents: opening (with the configured passwords) and composing their reading units.

Per page: the page itself (`paged.MupdfReader`, text layer checked, OCR where needed), then its
annotations (`pdf_annotations`), its form fields (`pdf_forms`) and the text it draws but does not
show (outside its crop box, in layers switched off: `pdf_hidden`). After the pages: the XFA form's
data (`pdf_forms`), the document's metadata (`pdf_metadata`) and the files the PDF carries, read
as parts of the document (`children`). Office files rendered by LibreOffice are read through here
too, without the metadata of the rendering (the Office readers read the file's own properties).

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
from pii_assets.documents.pdf_hidden import HiddenText
from pii_assets.documents.pdf_metadata import metadata_unit
from pii_assets.models import DocumentError, ErrorClass


class PdfReader(MupdfReader):
    """A `DocumentReader` over every part of a PDF: pages, annotations, form fields, hidden text,
    XFA data, metadata and attachments, in that order (annotations, fields and hidden text right
    after their page). `metadata=False` leaves out the document's metadata (a rendering's)."""

    def __init__(
        self,
        doc: pymupdf.Document,
        *,
        name: str,
        passwords: Sequence[str],
        limits: DocumentLimits,
        metadata: bool = True,
    ) -> None:
        super().__init__(doc, name=name, image_sizes=None, limits=limits)
        self._passwords = passwords
        self._metadata = metadata
        self._repair_recorded = False
        self._hidden: HiddenText | None = None

    def close(self) -> None:
        if self._hidden is not None:
            self._hidden.close()
        super().close()

    def pages(self) -> Iterator[PageContent]:
        name, coverage = self._name, self.coverage
        self._record_repair()
        attachments = Attachments(self._doc, name=name, coverage=coverage)
        attachments.add_embedded_files()
        hidden = self._hidden = HiddenText(self._doc, name=name, coverage=coverage)
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
            unseen = hidden.unit(page, number)
            pdf_damage.drain()  # the same content stream: its damage is the page's, recorded
            units = (content, annotations, fields, unseen)
            yield from (unit for unit in units if unit is not None)
            attachments.add_file_annotations(page, number)
        # MuPDF can also repair the file later, on meeting a broken object while reading a page.
        self._record_repair()
        xfa = xfa_unit(self._doc, name=name, coverage=coverage, limits=self._limits)
        if xfa is not None:
            yield xfa
        if self._metadata:
            info = metadata_unit(self._doc, name=name, coverage=coverage, limits=self._limits)
            if info is not None:
                yield info
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
    data: bytes,
    *,
    kind: str = "rendered",
    name: str,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> PdfReader:
    """A reader over the PDF; raises DocumentError when it cannot be opened or decrypted.

    `kind` is the format of the object read: "pdf" (`open_document`) for a PDF, whose metadata is
    then read too; the Office readers pass LibreOffice's rendering without a kind: the rendering's
    metadata is LibreOffice's copy of the Office file's properties, which they read themselves."""
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
    return PdfReader(doc, name=name, passwords=passwords, limits=limits, metadata=kind == "pdf")


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
