"""Opening documents (PDF and images) with PyMuPDF and reading them one page at a time.

Every problem with the input becomes a `DocumentError` whose message names the document and the
cause only: never passwords, never document text.
"""

from __future__ import annotations

import glob
import io
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType

import pymupdf
from PIL import Image, UnidentifiedImageError

from pii_assets.models import DocumentError, ErrorClass, Word


@dataclass(frozen=True)
class DocumentLimits:
    max_pages: int = 500
    max_image_pixels: int = 100_000_000
    ocr_dpi: int = 300
    ocr_language: str = "eng"
    # A page with fewer text-layer characters than this is treated as scanned and OCR'd.
    min_text_chars: int = 20


class OcrError(RuntimeError):
    """Tesseract could not run (missing language data, broken install); not the document's fault."""


# Image formats PyMuPDF decodes, by the name `pymupdf.open(filetype=...)` expects. WEBP is sniffed
# so that it is reported as unsupported rather than as unknown bytes.
_IMAGE_FORMATS = ("png", "jpeg", "tiff", "gif", "bmp")


def sniff_format(data: bytes) -> str | None:
    """The format named by the content's magic bytes: "pdf", an image format, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    # The PDF spec tolerates junk before the header and readers accept it within the first 1 KiB.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


@lru_cache(maxsize=1)
def tessdata_dir() -> str | None:
    """Tesseract's language data folder, or None to let MuPDF use its own default."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env:
        return env
    try:
        return pymupdf.get_tessdata()
    except Exception:
        found = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"))
        return found[-1] if found else None


def _no_renderer(max_side: int) -> bytes:
    raise RuntimeError("this page was built without a document to render it from")


@dataclass
class PageContent:
    """The words of one page, coordinates normalised to 0..1 of the page (origin top-left)."""

    number: int  # 1-based
    words: list[Word]
    source: str  # "text" (text layer) or "ocr"
    width: float  # points
    height: float  # points
    _render: Callable[[int], bytes] = field(default=_no_renderer, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The page's words, one line of text per PyMuPDF line."""
        lines: list[str] = []
        current: tuple[int, int] | None = None
        for word in self.words:
            if (word.block, word.line) != current:
                lines.append(word.text)
                current = (word.block, word.line)
            else:
                lines[-1] += " " + word.text
        return "\n".join(lines)

    def render_png(self, max_side: int) -> bytes:
        """The page as PNG, longer side at most `max_side` pixels; needs the document still open."""
        return self._render(max_side)


class OpenedDocument:
    """An open document; use as a context manager so the PyMuPDF document is closed."""

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

    def __enter__(self) -> OpenedDocument:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._doc.close()
        # MuPDF keeps every warning in a process-wide list that grows with each document and
        # quotes the document's own tokens ("unknown keyword: '...'"); neither may linger.
        pymupdf.TOOLS.reset_mupdf_warnings()

    def pages(self) -> Iterator[PageContent]:
        """Up to `max_pages` pages; each page's pixmaps and text pages are freed before the next."""
        for index in range(min(self.page_count, self._limits.max_pages)):
            yield self._read_page(index)

    def _read_page(self, index: int) -> PageContent:
        number = index + 1
        try:
            page = self._doc.load_page(index)
            rect = page.rect
            words = [] if self._is_image else page.get_text("words")
        except Exception as exc:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{self._name}: page {number} cannot be read"
            ) from exc
        source = "text"
        if self._is_image or sum(len(w[4]) for w in words) < self._limits.min_text_chars:
            words = self._ocr_words(page, index)
            source = "ocr"
        normalised = _normalise(words, page)
        return PageContent(
            number=number,
            words=normalised,
            source=source,
            width=rect.width,
            height=rect.height,
            _render=lambda max_side: self._render_png(index, max_side),
        )

    def _ocr_words(self, page: pymupdf.Page, index: int) -> list[tuple]:
        limits = self._limits
        rect = page.rect
        dpi = limits.ocr_dpi
        native = self._native_dpi(page, index)
        if native:
            # Rendering a scan finer than it was scanned adds no information, only time, and
            # smears its grain into blobs that Tesseract reads as characters.
            dpi = max(1, min(dpi, round(native)))
        # Scale down when the page at the OCR resolution would exceed the pixel budget: a huge
        # page box (or an image claiming 1 dpi) must not become a multi-gigabyte pixmap.
        pixels = (rect.width * dpi / 72) * (rect.height * dpi / 72)
        if pixels > limits.max_image_pixels:
            dpi = max(1, int(dpi * math.sqrt(limits.max_image_pixels / pixels)))
        try:
            textpage = page.get_textpage_ocr(
                dpi=dpi, language=limits.ocr_language, full=True, tessdata=tessdata_dir()
            )
        except Exception as exc:
            raise OcrError(
                f"{self._name}: OCR of page {index + 1} failed "
                f"(language {limits.ocr_language!r}, {type(exc).__name__})"
            ) from exc
        try:
            return page.get_text("words", textpage=textpage)
        finally:
            del textpage

    def _native_dpi(self, page: pymupdf.Page, index: int) -> float | None:
        """The resolution of the picture that is the page: an image document or a scanned page."""
        rect = page.rect
        if rect.width <= 0:
            return None
        if self._image_sizes is not None:
            if index < len(self._image_sizes):
                return 72 * self._image_sizes[index][0] / rect.width
            return None
        images = [info for info in page.get_image_info() if info.get("width")]
        if not images:
            return None
        largest = max(images, key=lambda info: pymupdf.Rect(info["bbox"]).get_area())
        bbox = pymupdf.Rect(largest["bbox"])
        # Only a picture covering most of the page is a scan; a logo on a text page is not.
        if bbox.width <= 0 or bbox.get_area() < 0.5 * rect.get_area():
            return None
        return 72 * largest["width"] / bbox.width

    def _render_png(self, index: int, max_side: int) -> bytes:
        page = self._doc.load_page(index)
        zoom = max_side / max(page.rect.width, page.rect.height, 1.0)
        pixmap = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        try:
            return pixmap.tobytes("png")
        finally:
            del pixmap


def _normalise(raw_words: list[tuple], page: pymupdf.Page) -> list[Word]:
    rect = page.rect
    left, top = rect.x0, rect.y0
    sx = 1.0 / (rect.width or 1.0)
    sy = 1.0 / (rect.height or 1.0)
    # Extracted coordinates are in the unrotated page; the matrix maps them onto the page as shown.
    matrix = page.rotation_matrix if page.rotation else None
    words: list[Word] = []
    for x0, y0, x1, y1, text, block, line, _ in raw_words:
        if not text.strip():
            continue
        if matrix is not None:
            x0, y0, x1, y1 = pymupdf.Rect(x0, y0, x1, y1) * matrix
        nx0, ny0, nx1, ny1 = (x0 - left) * sx, (y0 - top) * sy, (x1 - left) * sx, (y1 - top) * sy
        # Glyphs can stick out of the page box; clamping is rarely needed, so it is checked first.
        if nx0 < 0.0 or ny0 < 0.0 or nx1 > 1.0 or ny1 > 1.0:
            nx0, ny0, nx1, ny1 = (min(1.0, max(0.0, v)) for v in (nx0, ny0, nx1, ny1))
        words.append(Word(text, nx0, ny0, nx1, ny1, block, line))
    return words


def _image_sizes(data: bytes, *, name: str, limits: DocumentLimits) -> list[tuple[int, int]]:
    """Pixel sizes of the image's frames, read from headers only; rejects oversized images."""
    too_large = DocumentError(
        ErrorClass.IMAGE_TOO_LARGE,
        f"{name}: image exceeds the limit of {limits.max_image_pixels:,} pixels",
    )
    try:
        # Pillow's own bomb check would warn or raise at its own threshold; ours decides. Its
        # error can only mean far more pixels than Pillow's (~179 M) limit, so it is ours too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                sizes: list[tuple[int, int]] = []
                for frame in range(min(getattr(image, "n_frames", 1), limits.max_pages)):
                    if frame:
                        image.seek(frame)  # reads the next frame's header, decodes nothing
                    width, height = image.size
                    if width * height > limits.max_image_pixels:
                        raise too_large
                    sizes.append((width, height))
                return sizes
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError) as exc:
        raise DocumentError(ErrorClass.CORRUPT, f"{name}: image header cannot be read") from exc


def open_document(
    data: bytes,
    *,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits = DocumentLimits(),  # noqa: B008 - frozen, so sharing it is safe
) -> OpenedDocument:
    """Opens a PDF or image document; raises DocumentError for anything that cannot be read."""
    if not data:
        raise DocumentError(ErrorClass.EMPTY, f"{name}: document is empty (0 bytes)")
    kind = sniff_format(data)
    if kind is None:
        raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: unrecognised file format")
    if kind not in _IMAGE_FORMATS and kind != "pdf":
        raise DocumentError(
            ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind.upper()} files are not supported"
        )
    image_sizes = _image_sizes(data, name=name, limits=limits) if kind != "pdf" else None
    try:
        doc = pymupdf.open(stream=data, filetype=kind)
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: {kind.upper()} is damaged and cannot be opened"
        ) from exc
    try:
        if doc.needs_pass:
            _authenticate(doc, name=name, passwords=passwords)
        # MuPDF repairs what it can; a document left without pages has nothing to read.
        if doc.page_count < 1:
            raise DocumentError(ErrorClass.CORRUPT, f"{name}: {kind.upper()} has no readable pages")
    except BaseException:
        doc.close()
        raise
    return OpenedDocument(doc, name=name, image_sizes=image_sizes, limits=limits)


def _authenticate(doc: pymupdf.Document, *, name: str, passwords: Sequence[str]) -> None:
    for password in passwords:
        if doc.authenticate(password):
            return
    if not passwords:
        reason = "no password is configured"
    else:
        count = len(passwords)
        reason = f"none of the {count} configured password{'s' if count > 1 else ''} opens it"
    raise DocumentError(ErrorClass.ENCRYPTED_NO_PASSWORD, f"{name}: PDF is encrypted and {reason}")
