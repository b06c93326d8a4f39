"""Text a PDF page draws but does not show, as one reading unit per page (area "hidden_text").

A page's text layer, as read by `paged`, is what the page shows: MuPDF leaves out text
- outside the page's crop box (PDF 32000-1:2008 §14.11.2: the CropBox is the region shown; what
  lies beyond it, in the MediaBox or even off the MediaBox, is still in the content stream), and
- in optional content (§8.11, layers) that the document's default configuration switches off.
Both can hold anything, and both survive in every copy of the file, so they are read here: the
page's words wherever they lie (no clip), those outside the page; and, in a document with layers,
the words on the page with every layer on that the page as shown does not have. Text inside the
page hidden by a clipping path is not read (a layout's clipped frames would repeat the page).

Layers: MuPDF fixes a document's optional-content state when it first draws anything, so layers
are not switched on the working document (it also renders the pages as shown); a copy of the
document without its optional-content properties (`/OCProperties` removed: every group then
counts as visible) is made once, for documents that have layers, and its pages are read instead.
Content marked visible only while some layer is off (an `/OCMD` with `/AllOff`) is then read too.

Where the words go: the unit is the page's (same page number), its words normalised to the page as
displayed like every page unit's. A word outside the crop box is moved onto the page at the edge
nearest to where it is drawn, keeping its size (clamped to the page): its entity lies on its page,
in the coordinates every reader of a box expects (0..1), at a place that says in which direction
the value is hidden. Redacting such a value needs the text beyond the crop box removed, not only
the box blacked out.
"""

from __future__ import annotations

from collections import Counter

import pymupdf

from pii_assets.documents.base import PageContent
from pii_assets.documents.paged import normalise_words
from pii_assets.models import Coverage, ErrorClass

# PyMuPDF's word extraction flags without `TEXT_CLIP` (also named `TEXT_MEDIABOX_CLIP`, the same
# bit): characters outside the page and outside clip paths are then kept.
_UNCLIPPED = pymupdf.TEXTFLAGS_WORDS & ~pymupdf.TEXT_CLIP


def _key(word: tuple) -> tuple:
    """A word's identity across two extractions of the same page: its text and rounded box."""
    return (word[4], *(round(v, 1) for v in word[:4]))


class HiddenText:
    """Reads the hidden text of a PDF's pages (`unit`); `close` releases the layer-free copy."""

    def __init__(self, doc: pymupdf.Document, *, name: str, coverage: Coverage) -> None:
        self._doc = doc
        self._name = name
        self._coverage = coverage
        self._visible: pymupdf.Document | None = None
        self._layers = False
        try:
            catalog = doc.pdf_catalog()
            if doc.xref_get_key(catalog, "OCProperties")[0] != "null":
                self._visible = _without_layers(doc)
                self._layers = True
        except Exception:
            coverage.unreadable(
                "hidden text",
                ErrorClass.CORRUPT,
                f"{name}: the optional content (layers) switched off cannot be read",
            )

    def close(self) -> None:
        if self._visible is not None:
            self._visible.close()
            self._visible = None

    def unit(self, page: pymupdf.Page, number: int) -> PageContent | None:
        """The page's hidden words as one unit (area "hidden_text", same page number), or None
        when the page shows all it draws. A page whose hidden text cannot be read is recorded as
        unread ("page N hidden text")."""
        try:
            raw = self._hidden_words(page)
        except Exception:
            self._coverage.unreadable(
                f"page {number} hidden text",
                ErrorClass.CORRUPT,
                f"{self._name}: the text page {number} draws but does not show cannot be read",
            )
            return None
        if not raw:
            return None
        rect = page.rect
        return PageContent(
            number=number,
            words=normalise_words(raw, page, rect),
            source="text",
            width=rect.width,
            height=rect.height,
            area="hidden_text",
        )

    def _hidden_words(self, page: pymupdf.Page) -> list[tuple]:
        # Unrotated page bounds, where PyMuPDF places words (origin: the crop box's corner).
        cropbox = page.cropbox
        bounds = pymupdf.Rect(0, 0, cropbox.width, cropbox.height)
        drawn = page if self._visible is None else self._visible.load_page(page.number)
        everywhere = drawn.get_text("words", clip=pymupdf.INFINITE_RECT(), flags=_UNCLIPPED)
        # MuPDF keeps a character that touches the page (`TEXT_CLIP`: those "entirely outside"
        # are left out), so a word the page shows in part is the page's.
        width, height = bounds.x1, bounds.y1
        hidden = [
            _onto_page(word, bounds)
            for word in everywhere
            if word[2] <= 0 or word[0] >= width or word[3] <= 0 or word[1] >= height
        ]
        if self._visible is not None:
            # On the page: the words with every layer on that the page as shown does not have.
            shown = Counter(_key(word) for word in page.get_text("words"))
            for word in drawn.get_text("words"):
                key = _key(word)
                if shown[key] > 0:
                    shown[key] -= 1
                else:
                    hidden.append(word)
        return hidden


def _without_layers(doc: pymupdf.Document) -> pymupdf.Document:
    """An unencrypted in-memory copy of `doc` whose catalog has no `/OCProperties`, opened before
    anything is drawn from it, so MuPDF treats all its optional content as visible."""
    copy = pymupdf.open(stream=doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_NONE), filetype="pdf")
    try:
        copy.xref_set_key(copy.pdf_catalog(), "OCProperties", "null")
    except BaseException:
        copy.close()
        raise
    return copy


def _onto_page(word: tuple, bounds: pymupdf.Rect) -> tuple:
    """The word moved, along each axis where it lies wholly outside `bounds`, to the nearest edge
    inside, keeping its size (`normalise_words` clamps what still sticks out)."""
    x0, y0, x1, y1 = word[:4]
    if x1 <= bounds.x0 or x0 >= bounds.x1:
        width = min(x1 - x0, bounds.width)
        x0 = bounds.x0 if x1 <= bounds.x0 else bounds.x1 - width
        x1 = x0 + width
    if y1 <= bounds.y0 or y0 >= bounds.y1:
        height = min(y1 - y0, bounds.height)
        y0 = bounds.y0 if y1 <= bounds.y0 else bounds.y1 - height
        y1 = y0 + height
    return (x0, y0, x1, y1, *word[4:])
