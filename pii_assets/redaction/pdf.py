"""PDF redaction through PyMuPDF's redaction annotations, applied: the characters under each box
are removed from the text layer (not only covered), the pixels of images under it are blacked
out, and what a page does not show is scrubbed from the file (metadata, attachments, JavaScript,
form field values, annotations, hidden text, the XFA data packet). Content the page holds but
does not show is removed whatever the pipeline found in it (`pdf_hidden`): everything drawn
outside the CropBox, and the text of optional content (layers) switched off.

Boxes come from the entities' locations (normalised to the page as displayed), so redaction works
under every value policy. With raw values (`PII_ENTITY_VALUES=raw`) every occurrence of each
value is searched for on every page and redacted too. Before the copy is accepted, each page is
read again: no word may remain inside a redacted box, and no raw value anywhere; and the copy's
hidden places must be empty (`check_hidden`): no word outside a CropBox or in a layer switched
off, no annotation, attachment, document information or XMP, no bookmark, page label prefix
or layer name but "Layer N" (`pdf_hidden.drop_navigation`).

PyMuPDF: `Page.add_redact_annot`, `Page.apply_redactions`, `Document.scrub` ("Redactions" and
"Document.scrub" in PyMuPDF's documentation).
"""

from __future__ import annotations

from collections.abc import Sequence

import pymupdf

from pii_assets.models import Entity
from pii_assets.redaction import pdf_hidden
from pii_assets.redaction.common import NotRedactable, RedactionFailed, padded, placed_on_pages

# Entities in places the copy drops whole, so they need no box: the XFA data packet
# (`_drop_xfa`), annotations (deleted), the document information dictionary and XMP metadata
# (`Document.scrub`), bookmarks, page labels and layer names (`pdf_hidden.drop_navigation`;
# read in the metadata unit). Their entities may carry a box on the virtual unit the reader
# laid them out on (page None): no page box.
DROPPED_AREAS = frozenset({"xfa", "annotation", "metadata"})
# Embedded parts the copy drops whole (`Document.scrub(attached_files=..., embedded_files=...)`)
# and the metadata when it is read as a part of its own.
DROPPED_PARTS = ("attachment:", "metadata")

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
        on_pages = [
            e
            for e in entities
            if e.area not in DROPPED_AREAS or (e.x0 is not None and e.page is not None)
        ]
        by_page = placed_on_pages(on_pages, doc.page_count, parts_removed=DROPPED_PARTS)
        hidden = pdf_hidden.hidden_words(doc)
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
            # What the page does not show goes without a trace: no fill.
            for rect in hidden[index] + pdf_hidden.around(pdf_hidden.page_crop(page)):
                page.add_redact_annot(rect, fill=False)
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
        pdf_hidden.drop_navigation(doc)
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
        copy = doc.tobytes(garbage=4, deflate=True, clean=True, encryption=pymupdf.PDF_ENCRYPT_NONE)
    finally:
        doc.close()
    check_hidden(copy)
    return copy


def check_hidden(copy: bytes) -> None:
    """Raises RedactionFailed when a place of the copy that a viewer does not show still holds
    something: words outside a CropBox or in a layer switched off, annotations, attachments,
    document information, XMP metadata, bookmarks, page label prefixes, layer names other than
    "Layer N". Messages give counts only."""
    doc = pymupdf.open(stream=copy, filetype="pdf")
    try:
        found = {
            "words outside the visible page": pdf_hidden.outside_crop_words(doc),
            "words in hidden layers": pdf_hidden.layer_words_left(doc),
            "annotations": sum(1 for page in doc for _ in page.annots()),
            "attachments": doc.embfile_count(),
            "document information entries": sum(
                1
                for key, value in (doc.metadata or {}).items()
                if value and key not in ("format", "encryption")
            ),
            "XMP metadata packets": 1 if doc.get_xml_metadata() else 0,
            **pdf_hidden.navigation_left(doc),
        }
    finally:
        doc.close()
    left = {what: count for what, count in found.items() if count}
    if left:
        raise RedactionFailed(
            "the copy still holds " + ", ".join(f"{n} {what}" for what, n in left.items())
        )


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
