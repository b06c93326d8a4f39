"""Which pictures placed on a PDF text page may hold text the text layer does not have.

A page whose text layer reads well is not OCR'd as a whole, but a raster image on it (a
screenshot of a form pasted into a Word document, a scanned ID card on a cover letter) can hold
names and numbers that no text layer carries. `text_pictures` picks the regions of such images
that are worth OCR'ing; the reader OCRs only those regions (`ocr.regions_outcome`) and merges the
words with the text layer (`textlayer.merge`).

A region is OCR'd when the image is big enough, on the page and in its own pixels, to hold a line
of text:

- on the page at least `MIN_HEIGHT_PT` x `MIN_WIDTH_PT`: a line of 6-point type (the smallest print
  of forms and footers) with its leading is ~8 pt tall, and three such characters ~10 pt wide; an
  SSN in it ~30 pt. Recall first: a logo of that size is OCR'd too, for a fraction of a second.
- in its own pixels at least `MIN_PIXELS_HIGH` x `MIN_PIXELS_WIDE`: glyphs need ~10 pixels of
  x-height to be read at all (Tesseract's documentation, "Improving the quality of the output":
  accuracy falls off below 10 pt at 300 dpi, i.e. ~40 pixels a line, and fast below that), so a
  picture fewer than 12 pixels tall holds no line of legible text, however large it is drawn.

Pictures that touch are one region (a scan stored as strips, a screenshot cut in tiles), so no
line is cut in two. A region whose text layer already covers at least `textlayer.LITTLE_TEXT` of
it (a searchable scan's invisible OCR layer covers 10-40%) is read already and skipped: it is not
OCR'd twice. With more than `MAX_REGIONS` regions the box around all of them is OCR'd once
(Tesseract starts once, at most a page's worth of pixels). A region showing only pictures gets a
key (its box, resolution and the pictures' pixel digests): the reader reuses the words of a region
with the same key read on an earlier page (a logo in a document's header) instead of OCR'ing it
again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pymupdf

from pii_assets.documents.textlayer import LITTLE_TEXT
from pii_assets.models import Word

Box = tuple[float, float, float, float]

MIN_HEIGHT_PT = 8.0
MIN_WIDTH_PT = 10.0
MIN_PIXELS_HIGH = 12
MIN_PIXELS_WIDE = 12
# Pictures closer than this (points) are one region.
TOUCHING_PT = 2.0
MAX_REGIONS = 4
# Rendering a picture at more than twice its own resolution adds pixels, not information.
MAX_UPSAMPLING = 2.0


def text_pictures(
    images: Sequence[dict],
    displayed: Sequence[Box],
    words: Sequence[Word],
    page_box: pymupdf.Rect,
    *,
    dpi: int,
    max_pixels: int,
) -> list[Region]:
    """The regions of the page to OCR (clip in unrotated page points, resolution in dpi, and a key
    that is the same for the same pictures drawn alone at the same place on another page).

    `images` are PyMuPDF's image infos (`page.get_image_info()`: "bbox" in unrotated page
    points, "width"/"height" in pixels, with `hashes=True` each one's pixels' "digest") and
    `displayed` their boxes normalised (0..1) to the page as displayed; `words` the page's text
    layer, normalised alike; `page_box` the unrotated page in points. Each region is rendered at
    `dpi` at most, at most `MAX_UPSAMPLING` times its pictures' own resolution, and within
    `max_pixels`. Empty when no picture can hold text.
    """
    found: list[_Region] = []
    for info, shown in zip(images, displayed, strict=True):
        box = pymupdf.Rect(info["bbox"]) & page_box
        width, height = info.get("width", 0), info.get("height", 0)
        if box.is_empty or not _holds_text(box, width, height):
            continue
        native = 72 * max(width, height) / max(box.width, box.height)
        digest = info.get("digest")
        found.append(_Region(box, shown, native, frozenset([digest]) if digest else None))
    if not found:
        return []
    regions = [r for r in _joined(found) if not _read_already(r.shown, words)]
    if len(regions) > MAX_REGIONS:
        regions = [_union(regions)]
    placed = []
    for r in regions:
        resolution = _resolution(r.box, r.native, dpi, max_pixels)
        key = None
        if r.digests is not None and not _any_word_in(r.shown, words):
            key = (tuple(round(v, 1) for v in r.box), resolution, r.digests)
        placed.append(Region(r.box, resolution, key))
    return placed


class Region(NamedTuple):
    """A region to OCR: `box` in unrotated page points, rendered at `dpi`. `key` is set when the
    region shows its pictures alone (no text-layer word in it) and their digests are known: the
    same pictures at the same place on another page (a header logo) read the same, and their
    words can be reused; None otherwise."""

    box: pymupdf.Rect
    dpi: int
    key: Hashable | None = None


@dataclass
class _Region:
    box: pymupdf.Rect  # unrotated page points
    shown: Box  # normalised to the page as displayed
    native: float  # the finest resolution of its pictures, dpi
    digests: frozenset[bytes] | None  # its pictures' pixels' MD5 digests, when known


def _holds_text(box: pymupdf.Rect, width_px: int, height_px: int) -> bool:
    # Either side may run along the text (a picture can be placed turned): the shorter side of
    # the picture must hold a line, the longer one a few characters.
    short_pt, long_pt = sorted((box.width, box.height))
    short_px, long_px = sorted((width_px, height_px))
    return (
        short_pt >= MIN_HEIGHT_PT
        and long_pt >= MIN_WIDTH_PT
        and short_px >= MIN_PIXELS_HIGH
        and long_px >= MIN_PIXELS_WIDE
    )


def _union(regions: Sequence[_Region]) -> _Region:
    box = pymupdf.Rect(regions[0].box)
    for region in regions[1:]:
        box |= region.box
    shown = (
        min(r.shown[0] for r in regions),
        min(r.shown[1] for r in regions),
        max(r.shown[2] for r in regions),
        max(r.shown[3] for r in regions),
    )
    digests = None
    if all(r.digests is not None for r in regions):
        digests = frozenset().union(*(r.digests for r in regions))
    return _Region(box, shown, max(r.native for r in regions), digests)


def _touch(a: pymupdf.Rect, b: pymupdf.Rect) -> bool:
    gap = TOUCHING_PT
    return a.x0 - gap <= b.x1 and b.x0 - gap <= a.x1 and a.y0 - gap <= b.y1 and b.y0 - gap <= a.y1


def _joined(regions: list[_Region]) -> list[_Region]:
    """Regions closer than `TOUCHING_PT` joined into one, until none touch."""
    regions = list(regions)
    joined = True
    while joined:
        joined = False
        for i, j in itertools.combinations(range(len(regions)), 2):
            if _touch(regions[i].box, regions[j].box):
                regions[i] = _union((regions[i], regions[j]))
                del regions[j]
                joined = True
                break
    return regions


def _read_already(shown: Box, words: Sequence[Word]) -> bool:
    """Whether the text layer's words (centres inside the region) cover at least `LITTLE_TEXT`
    of it: an invisible OCR layer over a scan, or a picture used as the background of text."""
    x0, y0, x1, y1 = shown
    area = (x1 - x0) * (y1 - y0)
    if area <= 0:
        return True
    covered = 0.0
    for w in words:
        cx, cy = (w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            covered += (w.x1 - w.x0) * (w.y1 - w.y0)
    return covered >= LITTLE_TEXT * area


def _any_word_in(shown: Box, words: Sequence[Word]) -> bool:
    x0, y0, x1, y1 = shown
    return any(x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 <= (w.y0 + w.y1) / 2 <= y1 for w in words)


def _resolution(box: pymupdf.Rect, native: float, dpi: int, max_pixels: int) -> int:
    dpi = min(dpi, max(1, round(native * MAX_UPSAMPLING)))
    pixels = (box.width * dpi / 72) * (box.height * dpi / 72)
    if pixels > max_pixels:
        dpi = max(1, int(dpi * math.sqrt(max_pixels / pixels)))
    return dpi
