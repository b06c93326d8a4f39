"""Opening documents with PyMuPDF and reading them one page at a time.

PDFs and images (PNG, JPEG, multi-page TIFF, GIF, BMP) are opened directly; Word and Excel files
(docx/xlsx) are rendered to PDF with LibreOffice first (`office.py`), after decrypting protected
ones. The type comes from the content (`sniff.py`), never from the name.

Memory stays bounded by a page: pages are loaded, OCR'd and released one at a time, and OCR runs
in a forked child that holds the page's pixmap and Tesseract's state and is killed at its timeout.

Every problem with the input becomes a `DocumentError` whose message names the document and the
cause only: never passwords, never document text.
"""

from __future__ import annotations

import glob
import io
import math
import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

import pymupdf
from PIL import Image, UnidentifiedImageError

from pii_assets import sniff
from pii_assets.models import DocumentError, ErrorClass, Word
from pii_assets.mupdf_gate import MUPDF_GATE
from pii_assets.ocr_quality import READS_WELL, dictionary_share
from pii_assets.office import ToolError, convert_to_pdf, decrypt_office
from pii_assets.orientation import osd_rotation, upright_ocr
from pii_assets.sniff import sniff_format

__all__ = [
    "DocumentLimits",
    "OcrError",
    "OpenedDocument",
    "PageContent",
    "ToolError",
    "open_document",
    "sniff_format",
    "tessdata_dir",
]


@dataclass(frozen=True)
class DocumentLimits:
    max_pages: int = 500
    max_image_pixels: int = 100_000_000
    ocr_dpi: int = 300
    ocr_language: str = "eng"
    # A page with fewer text-layer characters than this is treated as scanned and OCR'd.
    min_text_chars: int = 20
    # Seconds LibreOffice may take to render one docx/xlsx to PDF.
    conversion_timeout_s: float = 120.0
    # Seconds Tesseract may take on one page; 0 runs OCR in-process without a timeout.
    ocr_timeout_s: float = 120.0
    # A scanned page whose OCR reads poorly is checked for being sideways or upside down
    # (Tesseract's orientation detection) and read again upright.
    detect_orientation: bool = True


class OcrError(ToolError):
    """Tesseract could not run (missing language data, broken install); not the document's fault."""


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
    # OCR pages: share of their words in the OCR language's dictionary (`ocr_quality`); None for
    # text-layer pages and when it cannot be judged (too few words, no dictionary).
    ocr_dictionary_share: float | None = None
    # Degrees the displayed page was turned clockwise to be read upright (a scan on its side).
    # Words, width and height are those of the upright page; `orientation.displayed_box` maps a
    # box back onto the page as displayed.
    upright_rotation: int = 0
    _render: Callable[[int], bytes] = field(default=_no_renderer, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The page's words, one line of text per PyMuPDF line."""
        return lines_text(self.words)

    def render_png(self, max_side: int) -> bytes:
        """The (upright) page as PNG, longer side at most `max_side` pixels; needs the document
        still open."""
        return self._render(max_side)


def lines_text(words: Sequence[Word]) -> str:
    """Words as text, one line per PyMuPDF (or Tesseract) line."""
    lines: list[str] = []
    current: tuple[int, int] | None = None
    for word in words:
        if (word.block, word.line) != current:
            lines.append(word.text)
            current = (word.block, word.line)
        else:
            lines[-1] += " " + word.text
    return "\n".join(lines)


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
        rotation = 0
        share: float | None = None
        width, height = rect.width, rect.height
        if self._is_image or not _has_text(words, self._limits.min_text_chars):
            source = "ocr"
            dpi = self._ocr_dpi(page, index)
            language = self._limits.ocr_language
            raw = self._isolated(index, lambda: _ocr_outcome(page, dpi, language))
            normalised = _normalise(raw, page, rect)
            share = dictionary_share(lines_text(normalised), language)
            if self._limits.detect_orientation and share is not None and share < READS_WELL:
                upright = self._upright(page, index, dpi, share)
                if upright is not None:
                    rotation, normalised, share = upright
                    if rotation in (90, 270):
                        width, height = height, width
        else:
            normalised = _normalise(words, page, rect)
        return PageContent(
            number=number,
            words=normalised,
            source=source,
            width=width,
            height=height,
            ocr_dictionary_share=share,
            upright_rotation=rotation,
            _render=lambda max_side: self._render_png(index, max_side, rotation),
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
                index, lambda: _upright_outcome(page, dpi, language, limits.ocr_timeout_s)
            )
        except (OcrError, DocumentError):
            return None  # best effort: the page keeps its first reading
        if outcome is None:
            return None
        rotation, raw, (width, height) = outcome
        upright = _normalise(raw, None, pymupdf.Rect(0, 0, width, height))
        better = dictionary_share(lines_text(upright), language)
        return (rotation, upright, better) if better is not None and better > share else None

    def _ocr_dpi(self, page: pymupdf.Page, index: int) -> int:
        limits = self._limits
        rect = page.rect
        dpi = limits.ocr_dpi
        images = self._page_images(page, index)
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

    def _isolated(self, index: int, work: Callable[[], tuple[bool, object]]) -> Any:
        """What `work` (Tesseract on this page) returns, run in a child process with the OCR
        timeout (in this process when the timeout is 0 or fork is unavailable)."""
        limits = self._limits
        if limits.ocr_timeout_s > 0 and hasattr(os, "fork"):
            outcome = self._in_child(index, work)
        else:
            outcome = work()
        ok, value = outcome
        if not ok:
            raise OcrError(
                f"{self._name}: OCR of page {index + 1} failed "
                f"(language {limits.ocr_language!r}, {value})"
            )
        return value

    def _in_child(self, index: int, work: Callable[[], tuple[bool, object]]) -> tuple[bool, object]:
        """`work` in a forked child, so that a page Tesseract is stuck on can be killed and the
        page's pixmap and Tesseract's memory never grow this process. Fork copies nothing up
        front (copy-on-write) and costs milliseconds against OCR's seconds."""
        timeout_s = self._limits.ocr_timeout_s
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: OCR, send the words, exit without running any cleanup
            status = 0
            try:
                os.close(read_fd)
                payload = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
                view = memoryview(payload)
                while view:
                    view = view[os.write(write_fd, view) :]
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(write_fd)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        timed_out = False
        # The child was forked while this thread held the gate, so no other thread was inside
        # MuPDF to leave it half-changed in the child's copy. While the child works, other
        # documents' threads may use MuPDF: OCR of several documents runs on several cores.
        try:
            with MUPDF_GATE.released():
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        timed_out = True
                        break
                    ready, _, _ = select.select([read_fd], [], [], remaining)
                    if ready:
                        chunk = os.read(read_fd, 1 << 16)
                        if not chunk:
                            break
                        chunks.append(chunk)
        finally:
            os.close(read_fd)
            if timed_out:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        if timed_out:
            raise DocumentError(
                ErrorClass.TIMEOUT,
                f"{self._name}: OCR of page {index + 1} took longer than {timeout_s:g} s",
            )
        if not chunks:
            raise OcrError(
                f"{self._name}: OCR of page {index + 1} ended abnormally "
                f"(child status {os.waitstatus_to_exitcode(status)})"
            )
        return pickle.loads(b"".join(chunks))

    def _page_images(self, page: pymupdf.Page, index: int) -> list[dict]:
        """The page's images (sizes from their headers); rejects one over the pixel limit before
        anything decodes it (a PDF can carry a decompression bomb as well as a PNG can)."""
        if self._is_image:
            return []  # checked from the file's headers when it was opened
        images = [info for info in page.get_image_info() if info.get("width")]
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


def _ocr_outcome(page: pymupdf.Page, dpi: int, language: str) -> tuple[bool, object]:
    """`(True, words)` from Tesseract through MuPDF, or `(False, exception type name)`.

    Tesseract's own layout analysis straightens the slight skew of a scanned page.
    """
    try:
        textpage = page.get_textpage_ocr(
            dpi=dpi, language=language, full=True, tessdata=tessdata_dir()
        )
        try:
            return True, page.get_text("words", textpage=textpage)
        finally:
            del textpage
    except Exception as exc:
        return False, type(exc).__name__


def _upright_outcome(
    page: pymupdf.Page, dpi: int, language: str, timeout_s: float
) -> tuple[bool, object]:
    """`(True, (rotation, words, upright size))` when Tesseract's orientation detection says the
    page lies turned; `(True, None)` when it is upright or unsure; else `(False, exception type)`.
    """
    try:
        tessdata = tessdata_dir()
        rotation = osd_rotation(page, tessdata=tessdata, timeout_s=timeout_s)
        if not rotation:
            return True, None
        words, size = upright_ocr(page, rotation, dpi=dpi, language=language, tessdata=tessdata)
        return True, (rotation, words, size)
    except Exception as exc:
        return False, type(exc).__name__


def _has_text(words: list[tuple], min_chars: int) -> bool:
    chars = 0
    for word in words:
        chars += len(word[4])
        if chars >= min_chars:
            return True
    return False


def _normalise(raw_words: list[tuple], page: pymupdf.Page | None, rect: pymupdf.Rect) -> list[Word]:
    """Words normalised to `rect`; with `page`, first mapped from the unrotated page (where
    PyMuPDF positions them) onto the page as displayed."""
    left, top = rect.x0, rect.y0
    sx = 1.0 / (rect.width or 1.0)
    sy = 1.0 / (rect.height or 1.0)
    # (`page.rotation` reads the page dictionary on every access: once per page is enough.)
    matrix = page.rotation_matrix if page is not None and page.rotation else None
    words: list[Word] = []
    append = words.append  # this loop runs once per word of every page: kept tight
    for x0, y0, x1, y1, text, block, line, _ in raw_words:
        if not text or text.isspace():
            continue
        if matrix is not None:
            x0, y0, x1, y1 = pymupdf.Rect(x0, y0, x1, y1) * matrix
        nx0, ny0, nx1, ny1 = (x0 - left) * sx, (y0 - top) * sy, (x1 - left) * sx, (y1 - top) * sy
        # Glyphs can stick out of the page box; clamping is rarely needed, so it is checked first.
        if nx0 < 0.0 or ny0 < 0.0 or nx1 > 1.0 or ny1 > 1.0:
            nx0, ny0, nx1, ny1 = (min(1.0, max(0.0, v)) for v in (nx0, ny0, nx1, ny1))
        append(Word(text, nx0, ny0, nx1, ny1, block, line))
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


def _check_complete(data: bytes, kind: str, *, name: str) -> None:
    """A truncated JPEG or PNG (an interrupted upload) is corrupt, not a page with a grey band.

    JPEG is decoded at 1/8 scale (DC coefficients only: fast, 1/64 of the pixels); PNG's chunks
    and checksums are verified without decompressing the pixels.
    """
    if kind not in ("jpeg", "png"):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if kind == "png":
                    image.verify()
                else:
                    width, height = image.size
                    image.draft("L", (max(1, width // 8), max(1, height // 8)))
                    image.load()
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: {kind.upper()} is truncated or damaged"
        ) from exc


def open_document(
    data: bytes,
    *,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits = DocumentLimits(),  # noqa: B008 - frozen, so sharing it is safe
) -> OpenedDocument:
    """Opens a document of any supported format; raises DocumentError for anything that cannot be
    read, ToolError when LibreOffice or Tesseract is missing."""
    if not data:
        raise DocumentError(ErrorClass.EMPTY, f"{name}: document is empty (0 bytes)")
    kind = sniff_format(data)
    if kind == sniff.ENCRYPTED_OFFICE:
        data = decrypt_office(data, name=name, passwords=passwords)
        kind = sniff_format(data)
        if kind not in sniff.OFFICE_FORMATS:
            raise DocumentError(
                ErrorClass.UNSUPPORTED_FORMAT,
                f"{name}: the decrypted Office file is not a Word or Excel document",
            )
    if kind in sniff.OFFICE_FORMATS:
        data = convert_to_pdf(data, kind=kind, name=name, timeout_s=limits.conversion_timeout_s)
        kind = sniff.PDF
    _check_supported(kind, name=name)
    assert kind is not None
    image_sizes = None
    if kind != sniff.PDF:
        image_sizes = _image_sizes(data, name=name, limits=limits)
        _check_complete(data, kind, name=name)
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


def _check_supported(kind: str | None, *, name: str) -> None:
    if kind == sniff.PDF or kind in sniff.IMAGE_FORMATS:
        return
    if kind == sniff.DAMAGED_OFFICE:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: Office document (zip) is truncated or damaged"
        )
    if kind is None:
        raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: unrecognised file format")
    label = sniff.UNSUPPORTED_LABELS.get(kind, f"{kind.upper()} files")
    raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {label} are not supported")


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
