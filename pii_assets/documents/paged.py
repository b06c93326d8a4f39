"""Paged documents read through PyMuPDF (PDFs and images): one unit per page, each loaded, read
(text layer, OCR, or both) and released before the next.

A PDF page's text layer is checked before it is trusted (`textlayer`): one that does not read as
language, or that covers little of a page made mostly of images, has the page OCR'd as well; the
two readings are merged (source "text+ocr"), or the text layer is discarded when it disagrees with
what its glyphs show (source "ocr"). Words are normalised to NFKC (ligatures such as "ﬁ", full-width
forms) and a word drawn twice at the same place (overprint, fake bold) counts once.

A page that cannot be read (damaged, its OCR timed out, an image on it over the pixel limit) is
recorded in the coverage as unread and the other pages are still read: the document is then
`partial`, never silently `ok`. So is a PDF page MuPDF read only in part (its content stream cut
or garbled, its page object lost in a repaired file): `pdf_damage` sorts MuPDF's warnings, drained
right after the page's text is read, and the page is recorded as unread `corrupt` with its words
before the damage still read.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Hashable, Iterator

import pymupdf

from pii_assets.documents import pdf_damage, pictures, textlayer
from pii_assets.documents.base import DocumentLimits, PageContent, lines_text
from pii_assets.documents.ocr import (
    OcrError,
    ocr_outcome,
    regions_outcome,
    run_isolated,
    upright_outcome,
)
from pii_assets.documents.ocr_quality import READS_WELL, dictionary_share
from pii_assets.documents.orientation import displayed_box
from pii_assets.models import Coverage, DocumentError, ErrorClass, Word


class MupdfReader:
    """A `DocumentReader` over an open PyMuPDF document (a PDF, or an image MuPDF opened)."""

    def __init__(
        self,
        doc: pymupdf.Document,
        *,
        name: str,
        image_sizes: list[tuple[int, int]] | None,
        limits: DocumentLimits,
    ) -> None:
        self._doc = doc
        self._name = name
        self._image_sizes = image_sizes  # pixel sizes per frame; None for PDFs
        self._is_image = image_sizes is not None
        self._limits = limits
        self.page_count: int = doc.page_count
        self.truncated: bool = self.page_count > limits.max_pages
        self.coverage = Coverage()
        # OCR words of pictures already read, by `pictures.Region.key` (see `_pictures_read`).
        self._read_regions: dict[Hashable, list[tuple]] = {}

    def close(self) -> None:
        self._doc.close()
        # MuPDF keeps every warning in a process-wide list that grows with each document and
        # quotes the document's own tokens ("unknown keyword: '...'"); neither may linger.
        pymupdf.TOOLS.reset_mupdf_warnings()

    @property
    def pages_to_read(self) -> int:
        return min(self.page_count, self._limits.max_pages)

    def pages(self) -> Iterator[PageContent]:
        """Up to `max_pages` pages; each page's pixmaps and text pages are freed before the next.
        A page that cannot be read is recorded as unread and skipped."""
        for index in range(self.pages_to_read):
            page = self.load_page(index)
            if page is None:
                continue
            content = self.read_page(page, index)
            if content is not None:
                yield content

    def load_page(self, index: int) -> pymupdf.Page | None:
        """The page, or None (recorded as unread) when MuPDF cannot load it."""
        try:
            return self._doc.load_page(index)
        except Exception:
            number = index + 1
            self.coverage.unreadable(
                f"page {number}", ErrorClass.CORRUPT, f"{self._name}: page {number} cannot be read"
            )
            return None

    def read_page(self, page: pymupdf.Page, index: int) -> PageContent | None:
        """The page's unit, counted in the coverage by how it was read; None (recorded as
        unread) when it cannot be read. Raises OcrError when Tesseract itself is broken."""
        try:
            content = self._read_page(page, index)
        except OcrError:
            raise  # Tesseract itself is broken: every page would fail the same way
        except DocumentError as exc:
            self.coverage.unreadable(f"page {index + 1}", exc.error_class, str(exc))
            return None
        self.coverage.page_read(content.source)
        self.coverage.read("pages")
        return content

    def _read_page(self, page: pymupdf.Page, index: int) -> PageContent:
        if not self._is_image:
            pdf_damage.drain()  # what came before belongs to other calls
        try:
            raw = [] if self._is_image else page.get_text("words")
        except Exception as exc:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{self._name}: page {index + 1} cannot be read"
            ) from exc
        if not self._is_image:
            # Drained before anything lets go of the MuPDF gate (OCR, the LLM), so the warnings
            # are this page's own.
            self._record_damage(page, index, pdf_damage.drain())
        if self._is_image or not _has_text(raw, self._limits.min_text_chars):
            words, share, rotation = self._ocr_page(page, index)
            return self._unit(page, index, words, "ocr", share, rotation)
        words = normalise_words(raw, page, page.rect)
        if not self._limits.check_text_layer:
            return self._unit(page, index, words, "text")
        return self._checked(page, index, words)

    def _record_damage(self, page: pymupdf.Page, index: int, warnings: str) -> None:
        """Records the page as unread `corrupt` when MuPDF read it only in part (`pdf_damage`)."""
        repaired = self._doc.is_repaired
        found = pdf_damage.causes(warnings, repaired=repaired)
        if repaired and pdf_damage.page_object_missing(self._doc, page):
            found.insert(0, pdf_damage.MISSING_PAGE)
        if found:
            number = index + 1
            self.coverage.unreadable(
                f"page {number}", ErrorClass.CORRUPT, pdf_damage.message(self._name, number, found)
            )

    def _checked(self, page: pymupdf.Page, index: int, words: list[Word]) -> PageContent:
        """A page with a text layer, read after `textlayer`'s check: the text layer alone, both
        readings merged, or the OCR alone when the text layer disagrees with the page."""
        language = self._limits.ocr_language
        reason = textlayer.suspicion(lines_text(words), language)
        images = self._image_infos(page)
        if not images and reason is None:
            return self._unit(page, index, words, "text")  # most text pages: nothing to look at
        displayed = [normalised_box(i["bbox"], page) for i in images]
        cover = textlayer.image_cover(displayed)
        if reason is None and not textlayer.mostly_image(words, cover):
            return self._with_pictures(page, index, words, images, displayed)
        try:
            ocr_words, share, rotation = self._ocr_page(page, index, images)
        except OcrError:
            raise
        except DocumentError as exc:
            number = index + 1
            if reason is not None:
                raise DocumentError(
                    ErrorClass.TEXT_LAYER_UNREADABLE,
                    f"{self._name}: page {number} has a text layer that does not read as text "
                    f"({reason}) and could not be OCR'd ({exc.error_class})",
                ) from exc
            # The text layer passed the check: it is read, and the pictures it does not cover
            # are recorded as unread.
            self.coverage.unreadable(
                f"page {number}", exc.error_class, f"{exc}; only its text layer was read"
            )
            return self._unit(page, index, words, "text")
        if rotation:
            words = _upright_words(words, rotation)
        if reason is not None and textlayer.is_cipher(words, ocr_words):
            return self._unit(page, index, ocr_words, "ocr", share, rotation)
        merged = textlayer.merge(words, ocr_words)
        return self._unit(page, index, merged, "text+ocr", share, rotation)

    def _with_pictures(
        self,
        page: pymupdf.Page,
        index: int,
        words: list[Word],
        images: list[dict],
        displayed: list[tuple[float, float, float, float]],
    ) -> PageContent:
        """A text page whose text layer is trusted, with the words of the pictures placed on it
        that may hold text (`pictures.text_pictures`) OCR'd and merged in (source "text+ocr");
        the text layer alone (source "text") when no picture qualifies. A picture that cannot be
        OCR'd (timeout, over the pixel limit) is recorded as unread, its page's text layer kept.
        """
        limits = self._limits
        regions = pictures.text_pictures(
            images,
            displayed,
            words,
            page.rect * page.derotation_matrix,
            dpi=limits.ocr_dpi,
            max_pixels=limits.max_image_pixels,
        )
        if not regions:
            return self._unit(page, index, words, "text")
        try:
            self._page_images(page, index, images)  # nothing over the pixel limit is decoded
            raw = self._pictures_read(page, index, displayed, words)
        except OcrError:
            raise
        except DocumentError as exc:
            number = index + 1
            self.coverage.unreadable(
                f"page {number}",
                exc.error_class,
                f"{exc}; the pictures on it were not read, only its text layer",
            )
            return self._unit(page, index, words, "text")
        ocr_words = normalise_words(raw, page, page.rect)
        if not ocr_words:
            return self._unit(page, index, words, "text+ocr")
        return self._unit(page, index, textlayer.merge(words, ocr_words), "text+ocr")

    def _pictures_read(
        self,
        page: pymupdf.Page,
        index: int,
        displayed: list[tuple[float, float, float, float]],
        words: list[Word],
    ) -> list[tuple]:
        """The raw OCR words of the page's pictures that may hold text. A region showing the same
        pictures at the same place as on an earlier page (a logo in a Word document's header) is
        not OCR'd again: its words are reused (`pictures.Region.key`, from the pictures' pixel
        digests; only the last `_REUSED_REGIONS` regions are kept)."""
        limits = self._limits
        hashed = page.get_image_info(hashes=True)  # decodes the pictures: only now, to be read
        regions = pictures.text_pictures(
            [info for info in hashed if info.get("width")],
            displayed,
            words,
            page.rect * page.derotation_matrix,
            dpi=limits.ocr_dpi,
            max_pixels=limits.max_image_pixels,
        )
        unread = [r for r in regions if r.key is None or r.key not in self._read_regions]
        found: list[list[tuple]] = []
        if unread:
            clips = [(r.box, r.dpi) for r in unread]
            found = self._isolated(index, lambda: regions_outcome(page, clips, limits.ocr_language))
        read = dict(zip(map(id, unread), found, strict=True))
        raw: list[tuple] = []
        for region in regions:
            if id(region) in read:
                region_words = read[id(region)]
                if region.key is not None:
                    self._read_regions[region.key] = region_words
            else:
                region_words = self._read_regions[region.key]
            first = max((w[5] for w in raw), default=-1) + 1  # each region's blocks apart
            raw.extend((*w[:5], w[5] + first, *w[6:]) for w in region_words)
        while len(self._read_regions) > _REUSED_REGIONS:
            del self._read_regions[next(iter(self._read_regions))]  # the oldest first
        return raw

    def _unit(
        self,
        page: pymupdf.Page,
        index: int,
        words: list[Word],
        source: str,
        share: float | None = None,
        rotation: int = 0,
    ) -> PageContent:
        rect = page.rect
        width, height = rect.width, rect.height
        if rotation in (90, 270):
            width, height = height, width
        return PageContent(
            number=index + 1,
            words=words,
            source=source,
            width=width,
            height=height,
            ocr_dictionary_share=share,
            upright_rotation=rotation,
            _render=lambda max_side: self._render_png(index, max_side, rotation),
        )

    def _ocr_page(
        self, page: pymupdf.Page, index: int, images: list[dict] | None = None
    ) -> tuple[list[Word], float | None, int]:
        """The page's OCR words (normalised), their dictionary share and the rotation applied;
        `images` are the page's image infos when already listed."""
        dpi = self._ocr_dpi(page, index, images)
        language = self._limits.ocr_language
        raw = self._isolated(index, lambda: ocr_outcome(page, dpi, language))
        normalised = normalise_words(raw, page, page.rect)
        share = dictionary_share(lines_text(normalised), language)
        rotation = 0
        if self._limits.detect_orientation and share is not None and share < READS_WELL:
            upright = self._upright(page, index, dpi, share)
            if upright is not None:
                rotation, normalised, share = upright
        return normalised, share, rotation

    def _isolated(self, index: int, work) -> object:  # noqa: ANN001 - see ocr.run_isolated
        limits = self._limits
        return run_isolated(
            work,
            name=self._name,
            page_number=index + 1,
            timeout_s=limits.ocr_timeout_s,
            language=limits.ocr_language,
        )

    def _upright(
        self, page: pymupdf.Page, index: int, dpi: int, share: float
    ) -> tuple[int, list[Word], float] | None:
        """The page read upright (rotation, words, dictionary share) when Tesseract's orientation
        detection says it lies turned and it reads better turned; None otherwise."""
        limits = self._limits
        language = limits.ocr_language
        try:
            outcome = self._isolated(
                index, lambda: upright_outcome(page, dpi, language, limits.ocr_timeout_s)
            )
        except (OcrError, DocumentError):
            return None  # best effort: the page keeps its first reading
        if outcome is None:
            return None
        rotation, raw, (width, height) = outcome
        upright = normalise_words(raw, None, pymupdf.Rect(0, 0, width, height))
        better = dictionary_share(lines_text(upright), language)
        return (rotation, upright, better) if better is not None and better > share else None

    def _ocr_dpi(self, page: pymupdf.Page, index: int, images: list[dict] | None = None) -> int:
        limits = self._limits
        rect = page.rect
        dpi = limits.ocr_dpi
        images = self._page_images(page, index, images)
        native = self._native_dpi(page, index, images)
        if native:
            # Rendering a scan finer than it was scanned adds no information, only time, and
            # smears its grain into blobs that Tesseract reads as characters.
            dpi = max(1, min(dpi, round(native)))
        # Scale down when the page at the OCR resolution would exceed the pixel budget: a huge
        # page box (or an image claiming 1 dpi) must not become a multi-gigabyte pixmap.
        pixels = (rect.width * dpi / 72) * (rect.height * dpi / 72)
        if pixels > limits.max_image_pixels:
            dpi = max(1, int(dpi * math.sqrt(limits.max_image_pixels / pixels)))
        return dpi

    def _image_infos(self, page: pymupdf.Page) -> list[dict]:
        """The page's images with their boxes and pixel sizes (from their headers, nothing is
        decoded). Listing the page's image resources first is ~10x cheaper and most text pages
        have none."""
        if self._is_image or not page.get_images():
            return []
        return [info for info in page.get_image_info() if info.get("width")]

    def _page_images(
        self, page: pymupdf.Page, index: int, images: list[dict] | None = None
    ) -> list[dict]:
        """The page's images (sizes from their headers); rejects one over the pixel limit before
        anything decodes it (a PDF can carry a decompression bomb as well as a PNG can)."""
        if self._is_image:
            return []  # checked from the file's headers when it was opened
        if images is None:
            images = self._image_infos(page)
        limit = self._limits.max_image_pixels
        for info in images:
            width, height = info["width"], info.get("height", 0)
            if width * height > limit:
                raise DocumentError(
                    ErrorClass.IMAGE_TOO_LARGE,
                    f"{self._name}: page {index + 1} holds a {width:,} x {height:,} pixel image, "
                    f"over the limit of {limit:,} pixels",
                )
        return images

    def _native_dpi(self, page: pymupdf.Page, index: int, images: list[dict]) -> float | None:
        """The resolution of the picture that is the page: an image document or a scanned page."""
        rect = page.rect
        if rect.width <= 0:
            return None
        if self._image_sizes is not None:
            if index < len(self._image_sizes):
                return 72 * self._image_sizes[index][0] / rect.width
            return None
        if not images:
            return None
        largest = max(images, key=lambda info: pymupdf.Rect(info["bbox"]).get_area())
        bbox = pymupdf.Rect(largest["bbox"])
        # Only a picture covering most of the page is a scan; a logo on a text page is not.
        if bbox.width <= 0 or bbox.get_area() < 0.5 * rect.get_area():
            return None
        return 72 * largest["width"] / bbox.width

    def _render_png(self, index: int, max_side: int, rotation: int = 0) -> bytes:
        page = self._doc.load_page(index)
        self._page_images(page, index)
        zoom = max_side / max(page.rect.width, page.rect.height, 1.0)
        matrix = pymupdf.Matrix(zoom, zoom).prerotate(rotation)
        pixmap = page.get_pixmap(matrix=matrix, alpha=False)
        try:
            return pixmap.tobytes("png")
        finally:
            del pixmap


# Regions whose words are kept for later pages: a document's repeated logos are a handful.
_REUSED_REGIONS = 16


def _has_text(words: list[tuple], min_chars: int) -> bool:
    chars = 0
    for word in words:
        chars += len(word[4])
        if chars >= min_chars:
            return True
    return False


# A word drawn again over at least this share of itself (overprint, fake bold drawn twice with a
# slight offset) is the same word.
_OVERPRINT = 0.6


def normalise_words(
    raw_words: list[tuple], page: pymupdf.Page | None, rect: pymupdf.Rect
) -> list[Word]:
    """PyMuPDF's word tuples as `Word`s normalised to `rect`; with `page`, first mapped from the
    unrotated page (where PyMuPDF positions them) onto the page as displayed.

    Each word's text is normalised to NFKC (Unicode Standard Annex #15): ligatures ("ﬁ", "ﬀ"),
    full-width forms ("ＳＳＮ") and other compatibility characters become the letters recognizers
    match. A word whose text was already seen at the same place (`_OVERPRINT`) is left out.
    """
    left, top = rect.x0, rect.y0
    sx = 1.0 / (rect.width or 1.0)
    sy = 1.0 / (rect.height or 1.0)
    # (`page.rotation` reads the page dictionary on every access: once per page is enough.)
    matrix = page.rotation_matrix if page is not None and page.rotation else None
    words: list[Word] = []
    seen: dict[str, list[Word]] = {}
    append = words.append  # this loop runs once per word of every page: kept tight
    for x0, y0, x1, y1, text, block, line, _ in raw_words:
        if not text or text.isspace():
            continue
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        if matrix is not None:
            x0, y0, x1, y1 = pymupdf.Rect(x0, y0, x1, y1) * matrix
        nx0, ny0, nx1, ny1 = (x0 - left) * sx, (y0 - top) * sy, (x1 - left) * sx, (y1 - top) * sy
        # Glyphs can stick out of the page box; clamping is rarely needed, so it is checked first.
        if nx0 < 0.0 or ny0 < 0.0 or nx1 > 1.0 or ny1 > 1.0:
            nx0, ny0, nx1, ny1 = (min(1.0, max(0.0, v)) for v in (nx0, ny0, nx1, ny1))
        word = Word(text, nx0, ny0, nx1, ny1, block, line)
        same_text = seen.get(text)
        if same_text is None:
            seen[text] = [word]
        elif any(_drawn_over(word, other) for other in same_text):
            continue
        else:
            same_text.append(word)
        append(word)
    return words


def _drawn_over(a: Word, b: Word) -> bool:
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return False
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return ix * iy >= _OVERPRINT * smaller


def normalised_box(bbox: tuple, page: pymupdf.Page) -> tuple[float, float, float, float]:
    """A box in unrotated page coordinates (where PyMuPDF reports images) normalised to the page
    as displayed."""
    box = pymupdf.Rect(bbox)
    if page.rotation:
        box = box * page.rotation_matrix
    rect = page.rect
    width, height = rect.width or 1.0, rect.height or 1.0
    return (
        (box.x0 - rect.x0) / width,
        (box.y0 - rect.y0) / height,
        (box.x1 - rect.x0) / width,
        (box.y1 - rect.y0) / height,
    )


def _upright_words(words: list[Word], rotation: int) -> list[Word]:
    """Words of the page as displayed, placed on the page turned `rotation` degrees clockwise
    (where the OCR of a sideways scan reads): the inverse of `orientation.displayed_box`."""
    back = (360 - rotation) % 360
    placed = []
    for word in words:
        x0, y0, x1, y1 = displayed_box((word.x0, word.y0, word.x1, word.y1), back)
        placed.append(Word(word.text, x0, y0, x1, y1, word.block, word.line, word.ref, word.offset))
    return placed
