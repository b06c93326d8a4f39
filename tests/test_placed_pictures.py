"""Pictures placed on a PDF text page are OCR'd and merged with its text layer (real PyMuPDF,
real Tesseract, pictures drawn with Pillow). Every value is invented.

A page with a real text layer is never OCR'd as a whole; a screenshot of a form pasted on it (or
into a Word document LibreOffice renders to PDF) holds values no text layer carries.
"""

from __future__ import annotations

import base64
import io
import subprocess
import tempfile
import time
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pii_assets.documents import DocumentLimits, open_document, pictures
from pii_assets.documents.base import lines_text
from pii_assets.documents.office import soffice_path
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass
from pii_pipeline.corpus import scanned_pdf, single_page_pdf
from tests.sample_pages import LETTER_LINES

NAME, SSN, EMAIL = "Wendell Okonkwo-Prime", "372-81-5599", "wendell.op@marchfield.test"
SCREENSHOT = [f"Name: {NAME}", f"SSN: {SSN}", EMAIL]
VALUES = {"PERSON": NAME, "US_SSN": SSN, "EMAIL_ADDRESS": EMAIL}
PICTURE = pymupdf.Rect(72, 450, 450, 560)  # ~25% of the page's width, 110 pt tall


def picture_png(lines: list[str], size: tuple[int, int] = (900, 260), font: int = 36) -> bytes:
    """A screenshot-like picture of the lines: black text on white, drawn by Pillow."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    face = ImageFont.load_default(size=font)
    for row, line in enumerate(lines):
        draw.text((20, 20 + row * 60), line, fill="black", font=face)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def text_page(doc: pymupdf.Document) -> pymupdf.Page:
    """A page of ordinary prose in its text layer (25 lines, no values)."""
    page = doc.new_page()
    for row in range(25):
        page.insert_text(
            (72, 72 + 14 * row),
            f"This paragraph describes the quarterly operating plan, item {row}.",
            fontsize=10,
        )
    return page


def page_with_picture(png: bytes, rect: pymupdf.Rect = PICTURE, rotation: int = 0) -> bytes:
    with pymupdf.open() as doc:
        page = text_page(doc)
        page.insert_image(rect, stream=png)
        page.set_rotation(rotation)
        return doc.tobytes()


def extract(data: bytes, **limits: object) -> DocumentResult:
    return extract_document(
        data,
        document_key="doc.pdf",
        etag="",
        extractor=OfflineExtractor(),
        limits=DocumentLimits(**limits),
    )


def found(result: DocumentResult) -> dict[str, str]:
    return {e.entity_type: e.text for e in result.entities}


def inside(box: tuple[float, float, float, float], region: tuple[float, ...]) -> bool:
    slack = 0.005
    return (
        box[0] >= region[0] - slack
        and box[1] >= region[1] - slack
        and box[2] <= region[2] + slack
        and box[3] <= region[3] + slack
    )


@pytest.mark.parametrize("rotation", [0, 90])
def test_screenshot_on_a_text_page_is_ocrd_and_merged(rotation: int) -> None:
    data = page_with_picture(picture_png(SCREENSHOT), rotation=rotation)
    result = extract(data)
    assert result.status == "ok"
    assert found(result) == VALUES
    assert (result.coverage.pages_text_and_ocr, result.coverage.pages_text) == (1, 0)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page = doc[0]
        box = PICTURE * page.rotation_matrix
        width, height = page.rect.width, page.rect.height
        region = (box.x0 / width, box.y0 / height, box.x1 / width, box.y1 / height)
    for entity in result.entities:
        assert entity.source == "text+ocr" and entity.page == 1
        assert inside((entity.x0, entity.y0, entity.x1, entity.y1), region), entity.entity_type
    # The text layer is kept as it is, each line once.
    with open_document(data, name="doc.pdf") as opened:
        (page,) = list(opened.pages())
    assert lines_text(page.words).count("quarterly operating plan, item 7.") == 1


def word_with_screenshot(png: bytes) -> bytes:
    """A Word document (saved by LibreOffice from HTML) with prose and the picture pasted in."""
    source = base64.b64encode(png).decode()
    html = (
        "<html><body><p>Quarterly memo. The intake form is attached below as a screenshot.</p>"
        "<p>Please review the figures before the meeting and reply with comments.</p>"
        f'<p><img src="data:image/png;base64,{source}" width="450" height="130"></p>'
        "<p>Regards, the planning office.</p></body></html>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memo.html"
        path.write_text(html)
        subprocess.run(
            [
                soffice_path(),
                f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                "docx:MS Word 2007 XML",
                "--outdir",
                tmp,
                str(path),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            env={"HOME": tmp, "PATH": "/usr/bin:/bin"},
        )
        return (Path(tmp) / "memo.docx").read_bytes()


def test_screenshot_pasted_into_a_word_document_is_read() -> None:
    """Word documents reach the same reader as the PDF LibreOffice renders."""
    data = word_with_screenshot(picture_png(SCREENSHOT))
    result = extract_document(data, document_key="memo.docx", etag="", extractor=OfflineExtractor())
    assert result.status == "ok"
    assert found(result) == VALUES
    assert result.coverage.pages_text_and_ocr == 1


def test_the_same_picture_on_every_page_is_ocrd_once() -> None:
    """A logo or a form repeated at the same place on every page (a Word document's header)
    reads the same: its words are reused, and every page still has them."""
    png = picture_png(SCREENSHOT)
    with pymupdf.open() as doc:
        for _ in range(4):
            text_page(doc).insert_image(PICTURE, stream=png)
        pages = doc.tobytes()

    def timed(data: bytes) -> tuple[float, DocumentResult]:
        started = time.perf_counter()
        result = extract(data)
        return time.perf_counter() - started, result

    one, _ = min(timed(page_with_picture(png)) for _ in range(2))
    four, result = min(timed(pages) for _ in range(2))
    assert result.status == "ok" and result.coverage.pages_text_and_ocr == 4
    assert {(e.page, e.entity_type) for e in result.entities} == {
        (page, kind) for page in (1, 2, 3, 4) for kind in VALUES
    }
    boxes = {(e.entity_type, e.x0, e.y0, e.x1, e.y1) for e in result.entities}
    assert len(boxes) == len(VALUES)  # the same place on every page
    assert four < 2 * one, (four, one)  # four OCRs would take about four times one


def test_text_drawn_over_a_picture_is_read_once() -> None:
    """The picture is rendered with what the page draws over it: the OCR reads the text layer's
    line there again, and `textlayer.merge` keeps the text layer's reading only."""
    png = picture_png([f"Name: {NAME}", "", EMAIL])  # the middle line left blank
    with pymupdf.open() as doc:
        page = text_page(doc)
        page.insert_image(PICTURE, stream=png)
        page.insert_text((82, 506), f"SSN: {SSN}", fontsize=12)  # over the blank line
        data = doc.tobytes()
    result = extract(data)
    assert result.status == "ok" and found(result) == VALUES
    assert [e.entity_type for e in result.entities].count("US_SSN") == 1
    with open_document(data, name="doc.pdf") as opened:
        (page,) = list(opened.pages())
    assert page.source == "text+ocr"
    assert sum(SSN in w.text for w in page.words) == 1


def test_small_icon_is_not_ocrd_and_nothing_is_doubled() -> None:
    icon = picture_png(["i"], size=(16, 16), font=12)
    with pymupdf.open() as doc:
        page = text_page(doc)
        for row, line in enumerate(SCREENSHOT):
            page.insert_text((72, 450 + 14 * row), line, fontsize=10)
        page.insert_image(pymupdf.Rect(40, 440, 46, 446), stream=icon)  # 6 pt: a bullet
        data = doc.tobytes()
    result = extract(data)
    assert result.status == "ok" and found(result) == VALUES
    assert (result.coverage.pages_text, result.coverage.pages_text_and_ocr) == (1, 0)
    assert len(result.entities) == len({(e.entity_type, e.text) for e in result.entities})


def test_searchable_scan_is_not_ocrd_again() -> None:
    """A scan carrying its own invisible OCR text layer is read from that layer, as before: its
    picture is covered by words, so it is not OCR'd a second time, and reading it costs no more
    than reading it without the text-layer check (no OCR) within a small factor."""
    letter = single_page_pdf([*LETTER_LINES[:4] * 6, *SCREENSHOT])  # a full page of text
    scan = scanned_pdf(letter, dpi=150, noise=0.0, seed=1)
    with (
        pymupdf.open(stream=letter, filetype="pdf") as source,
        pymupdf.open(stream=scan, filetype="pdf") as doc,
    ):
        for block in source[0].get_text("dict")["blocks"]:
            for line in block["lines"]:
                for span in line["spans"]:
                    doc[0].insert_text(
                        span["origin"], span["text"], fontsize=span["size"], render_mode=3
                    )
        data = doc.tobytes()

    def timed(**limits: object) -> tuple[float, DocumentResult]:
        started = time.perf_counter()
        result = extract(data, **limits)
        return time.perf_counter() - started, result

    timed()  # warm caches (dictionary, fonts)
    plain, _ = min(timed(check_text_layer=False) for _ in range(3))
    checked, result = min(timed() for _ in range(3))
    assert (result.coverage.pages_text, result.coverage.pages_text_and_ocr) == (1, 0)
    assert found(result) == VALUES
    # OCR of the page would take seconds; the check and the picture selection take milliseconds.
    assert checked < 3 * plain + 0.3, (checked, plain)


def test_picture_whose_ocr_times_out_is_unread_and_the_text_layer_kept() -> None:
    with pymupdf.open() as doc:
        page = text_page(doc)
        page.insert_text((72, 430), f"Name: {NAME}", fontsize=10)
        page.insert_image(PICTURE, stream=picture_png(SCREENSHOT))
        data = doc.tobytes()
    result = extract(data, ocr_timeout_s=0.001)
    assert result.status == "partial"
    assert found(result) == {"PERSON": NAME}  # from the text layer
    (unread,) = result.coverage.unread
    assert unread.part == "page 1" and unread.error_class == ErrorClass.TIMEOUT
    assert "pictures on it were not read" in unread.message
    for value in VALUES.values():
        assert value not in unread.message


# --- which pictures are OCR'd ---------------------------------------------------------------


PAGE = pymupdf.Rect(0, 0, 612, 792)


def regions(infos: list[tuple[tuple[float, ...], int, int]], words=()) -> list:  # noqa: ANN001
    images = [{"bbox": bbox, "width": w, "height": h} for bbox, w, h in infos]
    displayed = [(b[0] / 612, b[1] / 792, b[2] / 612, b[3] / 792) for b, _, _ in infos]
    return pictures.text_pictures(
        images, displayed, list(words), PAGE, dpi=300, max_pixels=100_000_000
    )


def test_pictures_too_small_to_hold_text_are_left_out() -> None:
    assert regions([((40, 40, 46, 46), 64, 64)]) == []  # a bullet drawn 6 pt wide
    assert regions([((72, 300, 540, 302), 2000, 8)]) == []  # a horizontal rule
    assert regions([((72, 72, 300, 200), 8, 6)]) == []  # 8 x 6 pixels drawn large
    (only,) = regions([((72, 72, 112, 96), 160, 96)])  # a logo: OCR'd, it is cheap
    assert only.box == pymupdf.Rect(72, 72, 112, 96)


def test_resolution_follows_the_picture() -> None:
    (region,) = regions([((72, 450, 450, 560), 900, 260)])  # 171 dpi on the page
    assert region.dpi == 300  # at most twice its own resolution, at most the OCR resolution
    (region,) = regions([((72, 450, 450, 560), 300, 87)])  # 57 dpi
    assert region.dpi == 114


def test_touching_pictures_are_one_region_and_many_are_one_box() -> None:
    strips = [((72, 100 + 20 * i, 540, 120 + 20 * i), 1950, 83) for i in range(10)]
    (region,) = regions(strips)
    assert region.box == pymupdf.Rect(72, 100, 540, 300)
    apart = [((72 + 100 * i, 100, 142 + 100 * i, 140), 280, 160) for i in range(5)]
    (region,) = regions(apart)  # more than MAX_REGIONS: the box around them, once
    assert region.box == pymupdf.Rect(72, 100, 542, 140)
