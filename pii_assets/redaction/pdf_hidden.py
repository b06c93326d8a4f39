"""What a PDF page holds but does not show, found so a redacted copy can drop it whole: content
drawn outside the CropBox (the visible page) and text in optional content (layers) switched off.
The pipeline may not have read or located it, so the copy keeps none of it, PII or not.

- Outside the CropBox: PDF 32000-1:2008 §14.11.2 — viewers show only the CropBox; the content
  stream may draw anywhere (inside the MediaBox or beyond it). Redaction annotations over
  everything around the CropBox remove that text and blank those image pixels.
- Optional content: §8.11 — a group's default state comes from the `/D` configuration
  (`/BaseState`, `/ON`, `/OFF`, `/AS`); content in a group that is off is not shown, and MuPDF
  does not extract it. The page's words are read with every group on and with every group off;
  any word not in the default view is hidden, and a redaction over it removes it (MuPDF's
  redaction removes text whatever its group's state).
- Beside the pages: the outline's bookmark titles (§12.3.3), the page labels' prefixes (§12.4.2)
  and the layers' names (§8.11.2) are shown in a viewer's panels; the copy drops the outline and
  the page labels and names every layer "Layer N" (the layers and their states stay, so the
  page shows what it showed).

No I/O; PyMuPDF only (`Page.add_redact_annot`, `Document.xref_set_key`).
"""

from __future__ import annotations

import re

import pymupdf

# Far enough to hold anything a content stream can draw around a page (PDF units, 1/72 in;
# PDF 32000-1:2008 Annex C: implementations limit real numbers to about ±32767 or more).
_FAR = 1e6

# The names `drop_navigation` gives layers.
_LAYER_NAME = re.compile(r"Layer \d+")

Word = tuple[float, float, float, float, str]


def around(crop: pymupdf.Rect) -> list[pymupdf.Rect]:
    """Four rectangles covering the plane except `crop` (page coordinates, as the CropBox)."""
    return [
        pymupdf.Rect(-_FAR, -_FAR, _FAR, crop.y0),
        pymupdf.Rect(-_FAR, crop.y1, _FAR, _FAR),
        pymupdf.Rect(-_FAR, crop.y0, crop.x0, crop.y1),
        pymupdf.Rect(crop.x1, crop.y0, _FAR, crop.y1),
    ]


def page_crop(page: pymupdf.Page) -> pymupdf.Rect:
    """The visible page in the unrotated page space annotations use (origin: the CropBox's
    top-left corner, so the CropBox is (0, 0, width, height))."""
    crop = page.cropbox
    return pymupdf.Rect(0, 0, crop.width, crop.height)


def has_layers(doc: pymupdf.Document) -> bool:
    return doc.xref_get_key(doc.pdf_catalog(), "OCProperties")[0] != "null"


def _words(doc: pymupdf.Document) -> list[set[Word]]:
    return [
        {(round(w[0], 1), round(w[1], 1), round(w[2], 1), round(w[3], 1), w[4]) for w in words}
        for words in (page.get_text("words") for page in doc)
    ]


def _with_layers(data: bytes, state: str) -> list[set[Word]]:
    """Each page's words with every optional content group `state` ("ON" / "OFF")."""
    doc = pymupdf.open(stream=data, filetype="pdf")
    try:
        catalog = doc.pdf_catalog()
        doc.xref_set_key(catalog, "OCProperties/D/BaseState", f"/{state}")
        doc.xref_set_key(catalog, "OCProperties/D/ON", "[]")
        doc.xref_set_key(catalog, "OCProperties/D/OFF", "[]")
        doc.xref_set_key(catalog, "OCProperties/D/AS", "null")
        # Opened again: MuPDF reads the default configuration when it opens a document.
        shown = pymupdf.open(stream=doc.tobytes(), filetype="pdf")
        try:
            return _words(shown)
        finally:
            shown.close()
    finally:
        doc.close()


def hidden_words(doc: pymupdf.Document) -> list[list[pymupdf.Rect]]:
    """By 0-based page, the rectangles of words only optional content switched off holds (words
    in the default view excepted). Empty lists for a document without layers. `doc` must be
    unencrypted (its bytes are read again with other layer states)."""
    if not has_layers(doc):
        return [[] for _ in range(doc.page_count)]
    data = doc.tobytes()
    shown = _words(doc)
    hidden: list[list[pymupdf.Rect]] = []
    every_on, every_off = _with_layers(data, "ON"), _with_layers(data, "OFF")
    for index, visible in enumerate(shown):
        extra = (every_on[index] | every_off[index]) - visible
        hidden.append([pymupdf.Rect(w[:4]) for w in sorted(extra)])
    return hidden


def drop_navigation(doc: pymupdf.Document) -> None:
    """Removes the outline (every bookmark) and the page labels, and renames each optional
    content group "Layer N" (1-based, in xref order)."""
    doc.set_toc([])
    catalog = doc.pdf_catalog()
    if doc.xref_get_key(catalog, "PageLabels")[0] != "null":
        doc.xref_set_key(catalog, "PageLabels", "null")
    for number, xref in enumerate(sorted(doc.get_ocgs()), start=1):
        doc.xref_set_key(xref, "Name", f"(Layer {number})")


def navigation_left(doc: pymupdf.Document) -> dict[str, int]:
    """What the copy's panels still show: bookmarks, page labels with a prefix, layers named
    other than "Layer N" (`drop_navigation`'s names). The copy's check that none is left."""
    return {
        "bookmarks": len(doc.get_toc(simple=True)),
        "page labels": sum(1 for rule in doc.get_page_labels() if rule.get("prefix")),
        "layer names": sum(
            1
            for group in doc.get_ocgs().values()
            if not _LAYER_NAME.fullmatch(str(group.get("name", "")))
        ),
    }


def outside_crop_words(doc: pymupdf.Document) -> int:
    """Words drawn outside the pages' CropBoxes (inside the MediaBox), read on a copy whose
    CropBoxes are reset to the MediaBoxes: the copy's check that none is left."""
    probe = pymupdf.open(stream=doc.tobytes(), filetype="pdf")
    try:
        count = 0
        for page in probe:
            crop = page.cropbox  # MediaBox coordinates, y down
            page.set_cropbox(page.mediabox)
            for word in page.get_text("words"):
                centre = pymupdf.Point((word[0] + word[2]) / 2, (word[1] + word[3]) / 2)
                if not crop.contains(centre):
                    count += 1
        return count
    finally:
        probe.close()


def layer_words_left(doc: pymupdf.Document) -> int:
    """Words still held by optional content switched off: the copy's check that none is left."""
    return sum(len(rects) for rects in hidden_words(doc))
