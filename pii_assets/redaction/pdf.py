"""PDF redaction through PyMuPDF's redaction annotations, applied: the characters under each box
are removed from the text layer (not only covered), the pixels of images under it are blacked
out, and what a page does not show is scrubbed from the file (metadata, attachments, JavaScript,
form field values, annotations, hidden text, the XFA data packet).

Boxes come from the entities' locations (normalised to the page as displayed), so redaction works
under every value policy. With raw values (`PII_ENTITY_VALUES=raw`) every occurrence of each
value is searched for on every page and redacted too. Before the copy is accepted, each page is
read again: no word may remain inside a redacted box, and no raw value anywhere.

PyMuPDF: `Page.add_redact_annot`, `Page.apply_redactions`, `Document.scrub` ("Redactions" and
"Document.scrub" in PyMuPDF's documentation).
"""

from __future__ import annotations

from collections.abc import Sequence

import pymupdf

from pii_assets.models import Entity
from pii_assets.redaction.common import NotRedactable, RedactionFailed, padded, placed_on_pages

# Searching for very short raw values would black out unrelated text ("Al", a 2-digit day).
MIN_SEARCH_CHARS = 4


def _open(data: bytes, passwords: Sequence[str]) -> pymupdf.Document:
    doc = pymupdf.open(stream=data, filetype="pdf")
    if doc.needs_pass:
        for password in passwords:
            if doc.authenticate(password):
                break
        else:
            doc.close()
            raise NotRedactable("encrypted_no_password", "no configured password opens it")
    return doc


def _rect(page: pymupdf.Page, box: tuple[float, float, float, float]) -> pymupdf.Rect:
    """A normalised box on the page as displayed, in the unrotated page space annotations use."""
    shown = page.rect  # the displayed page (rotation applied)
    rect = pymupdf.Rect(
        shown.x0 + box[0] * shown.width,
        shown.y0 + box[1] * shown.height,
        shown.x0 + box[2] * shown.width,
        shown.y0 + box[3] * shown.height,
    )
    if page.rotation:
        rect = rect * page.derotation_matrix
    return rect.normalize()


def _words_inside(page: pymupdf.Page, rects: list[pymupdf.Rect]) -> int:
    count = 0
    for word in page.get_text("words"):
        cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
        if any(r.contains(pymupdf.Point(cx, cy)) for r in rects):
            count += 1
    return count


def redact_pdf(
    data: bytes, entities: Sequence[Entity], *, raw_values: bool, passwords: Sequence[str] = ()
) -> bytes:
    """The redacted copy's bytes. Raises NotRedactable / RedactionFailed (messages name pages
    and counts, never values)."""
    doc = _open(data, passwords)
    try:
        # Attachments, metadata and the XFA data packet are dropped whole (scrub, `_drop_xfa`).
        on_pages = [e for e in entities if e.area not in ("xfa", "metadata")]
        by_page = placed_on_pages(on_pages, doc.page_count, parts_removed=("attachment:",))
        values = sorted(
            {e.text for e in entities if raw_values and e.text and len(e.text) >= MIN_SEARCH_CHARS}
        )
        for index in range(doc.page_count):
            page = doc.load_page(index)
            # Annotations (notes, free text, markup) can hold values: a copy keeps none.
            for annot in list(page.annots()):
                page.delete_annot(annot)
            rects = [_rect(page, padded(box)) for box in by_page.get(index + 1, [])]
            for value in values:
                rects.extend(page.search_for(value))
            for rect in rects:
                page.add_redact_annot(rect, fill=(0, 0, 0))
            if rects:
                page.apply_redactions(
                    images=pymupdf.PDF_REDACT_IMAGE_PIXELS,
                    graphics=pymupdf.PDF_REDACT_LINE_ART_NONE,
                    text=pymupdf.PDF_REDACT_TEXT_REMOVE,
                )
            exact = [_rect(page, box) for box in by_page.get(index + 1, [])]
            left = _words_inside(page, exact)
            found = sum(1 for value in values if page.search_for(value))
            if left or found:
                raise RedactionFailed(
                    f"page {index + 1} still shows {left} words inside redacted boxes and "
                    f"{found} values after redaction"
                )
        _drop_xfa(doc)
        doc.scrub(
            attached_files=True,
            clean_pages=True,
            embedded_files=True,
            hidden_text=True,
            javascript=True,
            metadata=True,
            redactions=True,
            remove_links=True,
            reset_fields=True,
            reset_responses=True,
            thumbnails=True,
            xml_metadata=True,
        )
        # garbage=4: objects no page uses any more (the original content streams, images and
        # fonts' text) are left out of the file, not only unreferenced.
        # The copy is not encrypted: it holds no value, and its readers have no password.
        return doc.tobytes(garbage=4, deflate=True, clean=True, encryption=pymupdf.PDF_ENCRYPT_NONE)
    finally:
        doc.close()


def _drop_xfa(doc: pymupdf.Document) -> None:
    """An XFA form's data packet repeats the field values: the copy keeps the AcroForm only."""
    catalog = doc.pdf_catalog()
    kind, value = doc.xref_get_key(catalog, "AcroForm")
    if kind == "xref":
        form = int(value.split()[0])
        if doc.xref_get_key(form, "XFA")[0] != "null":
            doc.xref_set_key(form, "XFA", "null")
    elif kind == "dict" and doc.xref_get_key(catalog, "AcroForm/XFA")[0] != "null":
        doc.xref_set_key(catalog, "AcroForm/XFA", "null")
