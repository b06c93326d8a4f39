"""A PDF page's annotations (sticky notes and their pop-ups, free text, markup comments) as one
reading unit, and the files a PDF carries (its EmbeddedFiles name tree and FileAttachment
annotations) as embedded documents.

Annotation contents are not part of a page's text layer (a sticky note's text shows only in a
pop-up), so each annotation's contents and author are laid out inside its rectangle on the page:
an entity found there points at the note a reviewer opens. Attachments are read as parts of the
document through `children`, labelled "attachment:<filename>".

One annotation or attachment that cannot be read is recorded as unread; the others are still read.
"""

from __future__ import annotations

from collections.abc import Callable

import pymupdf

from pii_assets.documents import placed_text
from pii_assets.documents.base import PageContent
from pii_assets.documents.children import Child
from pii_assets.documents.paged import normalise_words
from pii_assets.models import Coverage, DocumentError, ErrorClass


def annotation_unit(
    page: pymupdf.Page, number: int, *, name: str, coverage: Coverage
) -> PageContent | None:
    """The page's annotation contents as one unit (area "annotation", same page number), each
    annotation's text laid out in its rectangle (a pop-up's own contents, when it has any, in the
    pop-up's); None when the page has none with text. Every annotation PyMuPDF lists (links and
    form widgets are not annotations here) is counted in `coverage` as read."""
    if page.first_annot is None:
        return None
    try:
        annots = list(page.annots())
    except Exception:
        coverage.unreadable(
            f"page {number} annotations",
            ErrorClass.CORRUPT,
            f"{name}: the annotations of page {number} cannot be read",
        )
        return None
    raw: list[placed_text.RawWord] = []
    read = block = 0
    for index, annot in enumerate(annots, start=1):
        try:
            texts = _texts(annot, page)
        except Exception:
            coverage.unreadable(
                f"page {number} annotation {index}",
                ErrorClass.CORRUPT,
                f"{name}: annotation {index} of page {number} cannot be read",
            )
            continue
        read += 1
        for lines, rect in texts:
            raw += placed_text.in_rect(lines, rect, block=block)
            block += 1
    coverage.read("annotations", read)
    if not raw:
        return None
    rect = page.rect
    return PageContent(
        number=number,
        words=normalise_words(raw, page, rect),
        source="plain",
        width=rect.width,
        height=rect.height,
        area="annotation",
    )


def _texts(annot: pymupdf.Annot, page: pymupdf.Page) -> list[tuple[list[str], pymupdf.Rect]]:
    """The annotation's text rows and where they go: its contents and author (`/T`, a person's
    name in most viewers) in its rectangle; a pop-up's own `/Contents`, when it differs, in the
    pop-up's rectangle."""
    info = annot.info
    contents = info.get("content") or ""
    rows = contents.splitlines()
    author = (info.get("title") or "").strip()
    if author and rows:
        rows.append(f"Author: {author}")
    texts = [(rows, annot.rect)] if any(row.strip() for row in rows) else []
    popup = annot.popup_xref
    if popup:
        kind, value = page.parent.xref_get_key(popup, "Contents")
        if kind == "string" and value.strip() and value != contents:
            texts.append((value.splitlines(), annot.popup_rect))
    return texts


def _extracted(get: Callable[[], bytes], *, name: str, label: str) -> Callable[[], bytes]:
    """A loader for `children.Child` whose failure is a `DocumentError` naming the part."""

    def load() -> bytes:
        try:
            return get()
        except Exception as exc:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{name}: {label} cannot be extracted from the PDF"
            ) from exc

    return load


def _size(info: dict) -> int | None:
    size = info.get("size")
    return size if isinstance(size, int) and size >= 0 else None  # -1: not recorded


class Attachments:
    """The files a PDF carries, gathered as pages are read, for `children.read_children`
    (kind "attachments"). Labels are "attachment:<filename>", numbered when a name repeats."""

    def __init__(self, doc: pymupdf.Document, *, name: str, coverage: Coverage) -> None:
        self._doc = doc
        self._name = name
        self._coverage = coverage
        self._labels: set[str] = set()
        self.children: list[Child] = []

    def _label(self, filename: str) -> str:
        label = f"attachment:{filename}"
        count = 1
        while label in self._labels:
            count += 1
            label = f"attachment:{filename} #{count}"
        self._labels.add(label)
        return label

    def add_embedded_files(self) -> None:
        """The document's EmbeddedFiles name tree (PDF 32000-1:2008 §7.11.4)."""
        doc = self._doc
        try:
            entries = doc.embfile_names()
        except Exception:
            self._coverage.unreadable(
                "attachments",
                ErrorClass.CORRUPT,
                f"{self._name}: the list of embedded files cannot be read",
            )
            return
        for position, entry in enumerate(entries, start=1):
            try:
                info = doc.embfile_info(position - 1)
            except Exception:
                self._coverage.unreadable(
                    f"attachment {position}",
                    ErrorClass.CORRUPT,
                    f"{self._name}: embedded file {position} cannot be read",
                )
                continue
            label = self._label(info.get("ufilename") or info.get("filename") or entry)
            get = _extracted(
                lambda i=position - 1: doc.embfile_get(i), name=self._name, label=label
            )
            self.children.append(Child(label, get, _size(info)))

    def add_file_annotations(self, page: pymupdf.Page, number: int) -> None:
        """The page's FileAttachment annotations (PDF 32000-1:2008 §12.5.6.15)."""
        if page.first_annot is None:
            return
        try:
            annots = list(page.annots(types=[pymupdf.PDF_ANNOT_FILE_ATTACHMENT]))
        except Exception:
            return  # recorded by `annotation_unit`, which lists the same annotations
        doc, index = self._doc, page.number
        for annot in annots:
            try:
                info = annot.file_info
            except Exception:
                self._coverage.unreadable(
                    f"page {number} file attachment",
                    ErrorClass.CORRUPT,
                    f"{self._name}: a file attachment on page {number} cannot be read",
                )
                continue
            label = self._label(info.get("filename") or f"page {number} file")
            get = _extracted(
                lambda x=annot.xref: doc.load_page(index).load_annot(x).get_file(),
                name=self._name,
                label=label,
            )
            self.children.append(Child(label, get, _size(info)))
