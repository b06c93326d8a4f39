"""Pages scanned sideways or upside down: which way is up, reading them upright, and mapping what
was found on the upright page back onto the page as it is displayed.

Tesseract reads lines of upright text only, and MuPDF's OCR has no orientation detection, so a
page scanned on its side comes back as noise. Tesseract's orientation and script detection (OSD,
`--psm 0`, language independent) says how far to turn it. The `tesseract` program runs it; without
the program (or its `osd.traineddata`) no page is turned.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pymupdf

# OSD below this confidence is a guess (a page of numbers, a photo, a blank page).
MIN_CONFIDENCE = 2.0
# OSD needs the shapes of letters, not fine detail: a coarse rendering is enough and much faster.
OSD_DPI = 150

_ROTATE = re.compile(r"^Rotate:\s*(\d+)\s*$", re.MULTILINE)
_CONFIDENCE = re.compile(r"^Orientation confidence:\s*([\d.]+)\s*$", re.MULTILINE)


def osd_rotation(
    page: pymupdf.Page, *, tessdata: str | None, timeout_s: float, dpi: int = OSD_DPI
) -> int:
    """Degrees (0, 90, 180, 270) to turn the displayed page clockwise so its text is upright;
    0 when unsure or when Tesseract's OSD is not available."""
    binary = shutil.which("tesseract")
    if binary is None:
        return 0
    pixmap = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    try:
        image = pixmap.tobytes("png")
    finally:
        del pixmap
    command = [binary, "stdin", "stdout", "--psm", "0"]
    if tessdata:
        command += ["--tessdata-dir", tessdata]
    try:
        done = subprocess.run(
            command, input=image, capture_output=True, timeout=timeout_s or None, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    # OSD's report holds angles and script names only, never the page's text.
    report = done.stdout.decode("ascii", "replace")
    rotate, confidence = _ROTATE.search(report), _CONFIDENCE.search(report)
    if done.returncode != 0 or not rotate or not confidence:
        return 0
    degrees = int(rotate[1]) % 360
    if degrees not in (90, 180, 270) or float(confidence[1]) < MIN_CONFIDENCE:
        return 0
    return degrees


def upright_ocr(
    page: pymupdf.Page, rotation: int, *, dpi: int, language: str, tessdata: str | None
) -> tuple[list[tuple], tuple[float, float]]:
    """OCR of the page turned `rotation` degrees clockwise: raw PyMuPDF words and the size of the
    upright page they are positioned on."""
    matrix = pymupdf.Matrix(dpi / 72, dpi / 72).prerotate(rotation)
    # RGB: MuPDF's OCR writer reads nothing from a grey pixmap.
    pixmap = page.get_pixmap(matrix=matrix, colorspace=pymupdf.csRGB, alpha=False)
    try:
        pdf = pixmap.pdfocr_tobytes(language=language, tessdata=tessdata)
    finally:
        del pixmap
    with pymupdf.open(stream=pdf, filetype="pdf") as ocr:
        upright = ocr[0]
        return upright.get_text("words"), (upright.rect.width, upright.rect.height)


def displayed_box(
    box: tuple[float, float, float, float], rotation: int
) -> tuple[float, float, float, float]:
    """A normalised box on the upright page (the displayed page turned `rotation` degrees
    clockwise), as a normalised box on the displayed page."""
    x0, y0, x1, y1 = box
    if rotation == 90:  # upright (u, v) was displayed (v, 1 - u)
        return y0, 1 - x1, y1, 1 - x0
    if rotation == 180:
        return 1 - x1, 1 - y1, 1 - x0, 1 - y0
    if rotation == 270:  # upright (u, v) was displayed (1 - v, u)
        return 1 - y1, x0, 1 - y0, x1
    return box
