"""Tesseract OCR through MuPDF, isolated in a forked child per page.

The child holds the page's pixmap and Tesseract's memory (so neither grows this process) and is
killed at the OCR timeout. Tesseract's and Leptonica's own chatter on stderr ("Image too small to
scale", "Invalid resolution 0 dpi") is diverted to the debug log, never the user's terminal.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import pymupdf

from pii_assets.documents.base import ToolError
from pii_assets.documents.forked import run_forked
from pii_assets.documents.orientation import osd_rotation, upright_ocr
from pii_assets.models import DocumentError, ErrorClass

log = logging.getLogger(__name__)


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


Outcome = tuple[bool, object]


def ocr_outcome(page: pymupdf.Page, dpi: int, language: str) -> Outcome:
    """`(True, raw words)` from Tesseract through MuPDF, or `(False, exception type name)`.

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


def regions_outcome(
    page: pymupdf.Page, regions: Sequence[tuple[pymupdf.Rect, int]], language: str
) -> Outcome:
    """`(True, [raw words of each region])` from Tesseract on each region of the page (clip in
    unrotated page points, resolution in dpi), the words placed in unrotated page points like
    `page.get_text("words")`'s; or `(False, exception type name)`.

    Each region is rendered on its own (the picture as the page shows it: clipped, masked,
    scaled) and OCR'd by MuPDF's Tesseract (`Pixmap.pdfocr_tobytes`).
    """
    try:
        tessdata = tessdata_dir()
        found: list[list[tuple]] = []
        for clip, dpi in regions:
            # Rendered with the page's own rotation undone, so the pixmap's axes are the
            # unrotated page's: the words map back with a scale and a shift.
            zoom = dpi / 72
            matrix = pymupdf.Matrix(zoom, zoom) * pymupdf.Matrix(-page.rotation)
            pixmap = page.get_pixmap(matrix=matrix, clip=clip * page.rotation_matrix, alpha=False)
            words = _placed_words(pixmap, clip, language, tessdata)
            del pixmap
            found.append(words)
        return True, found
    except Exception as exc:
        return False, type(exc).__name__


def _placed_words(
    pixmap: pymupdf.Pixmap, clip: pymupdf.Rect, language: str, tessdata: str | None
) -> list[tuple]:
    ocr_pdf = pymupdf.open(
        "pdf", pixmap.pdfocr_tobytes(compress=False, language=language, tessdata=tessdata)
    )
    try:
        ocr_page = ocr_pdf[0]
        sx = clip.width / (ocr_page.rect.width or 1.0)
        sy = clip.height / (ocr_page.rect.height or 1.0)
        return [
            (clip.x0 + x0 * sx, clip.y0 + y0 * sy, clip.x0 + x1 * sx, clip.y0 + y1 * sy, *rest)
            for x0, y0, x1, y1, *rest in ocr_page.get_text("words")
        ]
    finally:
        ocr_pdf.close()


def upright_outcome(page: pymupdf.Page, dpi: int, language: str, timeout_s: float) -> Outcome:
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


@contextlib.contextmanager
def _stderr_to_debug_log() -> Iterator[None]:
    """Tesseract and Leptonica write warnings straight to file descriptor 2 (C code, not Python
    logging); in the OCR child, fd 2 goes to a file whose lines are logged at debug level."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read(8192).decode("utf-8", "replace").splitlines():
                if line.strip():
                    log.debug("tesseract: %s", line.strip())


def run_isolated(
    work: Callable[[], Outcome],
    *,
    name: str,
    page_number: int,
    timeout_s: float,
    language: str,
) -> Any:
    """What `work` (Tesseract on one page) returns, run in a forked child killed at `timeout_s`
    (in this process when the timeout is 0 or fork is unavailable).

    Raises DocumentError(TIMEOUT) when the child runs out of time, OcrError when Tesseract fails.
    """
    if timeout_s > 0 and hasattr(os, "fork"):
        outcome = _in_child(work, name=name, page_number=page_number, timeout_s=timeout_s)
    else:
        with _stderr_to_debug_log():
            outcome = work()
    ok, value = outcome
    if not ok:
        raise OcrError(f"{name}: OCR of page {page_number} failed (language {language!r}, {value})")
    return value


def _in_child(
    work: Callable[[], Outcome], *, name: str, page_number: int, timeout_s: float
) -> Outcome:
    """`work` in a forked child (`forked.run_forked`), so that a page Tesseract is stuck on can
    be killed and the page's pixmap and Tesseract's memory never grow this process. Fork costs
    milliseconds against OCR's seconds; while the child works, other documents' threads may use
    MuPDF, so OCR of several documents runs on several cores."""
    outcome = run_forked(work, timeout_s=timeout_s)
    for line in outcome.chatter.splitlines():
        if line.strip():
            log.debug("tesseract: %s", line.strip())
    if outcome.timed_out:
        raise DocumentError(
            ErrorClass.TIMEOUT,
            f"{name}: OCR of page {page_number} took longer than {timeout_s:g} s",
        )
    if not outcome.completed:
        raise OcrError(
            f"{name}: OCR of page {page_number} ended abnormally (child status {outcome.exit_code})"
        )
    return outcome.value
