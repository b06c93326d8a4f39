"""Opening documents with real PyMuPDF and OCR'ing them with the real Tesseract."""

from __future__ import annotations

import io
import os
import random
import time
import tracemalloc
import zipfile

import pymupdf
import pytest
from PIL import Image

from pii_assets.documents import (
    DocumentLimits,
    OpenedDocument,
    open_document,
    sniff_format,
    tessdata_dir,
)
from pii_assets.models import DocumentError, ErrorClass
from pii_pipeline.corpus import oversized_png, page_image, scanned_pdf, single_page_pdf
from tests.bad_corpus import docx, encrypt_office, pdf_with_image_bomb, xlsx
from tests.sample_pages import EMAIL, LETTER_LINES

LINES = ["Customer record", "Name: Maria Gonzalez", "Email: maria.gonzalez@example.com"]


def multi_page_pdf(pages: int) -> bytes:
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page()
        page.insert_text((72, 72), f"This is page {number} of the quarterly report.")
    return doc.tobytes()


def opened(data: bytes, **kwargs: object) -> OpenedDocument:
    return open_document(data, name="doc", **kwargs)


def error_of(data: bytes, **kwargs: object) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        open_document(data, name="sample.bin", **kwargs)
    assert str(info.value).startswith("sample.bin: ")
    return info.value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"garbage before %PDF-1.4\n", "pdf"),
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0....", "jpeg"),
        (b"II*\x00....", "tiff"),
        (b"MM\x00*....", "tiff"),
        (b"GIF89a....", "gif"),
        (b"BM......", "bmp"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"PK\x03\x04 a zip file", "zip"),
        (b"plain text", "txt"),
        (b"\x00\x01\x02\x03 binary", None),
    ],
)
def test_sniff_format(data: bytes, expected: str | None) -> None:
    assert sniff_format(data) == expected


def test_text_pdf_words_are_normalised_with_lines_and_blocks() -> None:
    with opened(single_page_pdf(LINES)) as doc:
        assert (doc.page_count, doc.truncated) == (1, False)
        (page,) = list(doc.pages())
    assert (page.number, page.source) == (1, "text")
    assert (page.width, page.height) == (612, 792)
    assert [w.text for w in page.words[:4]] == ["Customer", "record", "Name:", "Maria"]
    assert page.text.splitlines() == LINES
    for word in page.words:
        assert 0.0 <= word.x0 < word.x1 <= 1.0 and 0.0 <= word.y0 < word.y1 <= 1.0
    # Reading order: each line lies below the previous one.
    tops: dict[tuple[int, int], float] = {}
    for word in page.words:
        tops.setdefault((word.block, word.line), word.y0)
    assert list(tops.values()) == sorted(tops.values())


def test_render_png_is_lazy_and_bounded() -> None:
    with opened(single_page_pdf(LINES)) as doc:
        page = next(doc.pages())
        png = page.render_png(max_side=800)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert max(image.size) <= 800 and max(image.size) >= 790


def test_render_needs_the_document_open() -> None:
    with opened(single_page_pdf(LINES)) as doc:
        page = next(doc.pages())
    with pytest.raises(ValueError, match="closed"):
        page.render_png(max_side=100)


def test_max_pages_truncates_but_reports_the_real_count() -> None:
    with opened(multi_page_pdf(3), limits=DocumentLimits(max_pages=2)) as doc:
        assert (doc.page_count, doc.truncated) == (3, True)
        assert [p.number for p in doc.pages()] == [1, 2]


def test_scanned_pdf_is_ocrd_with_boxes_where_the_text_is() -> None:
    scan = scanned_pdf(single_page_pdf(LINES), dpi=200, noise=4.0, rotate=0.5, seed=1)
    with opened(scan) as doc:
        (page,) = list(doc.pages())
    with opened(single_page_pdf(LINES)) as doc:
        text_words = {w.text: w for w in next(doc.pages()).words}
    assert page.source == "ocr"
    assert "Maria Gonzalez" in page.text
    ocr = next(w for w in page.words if w.text.endswith("gonzalez@example.com"))
    truth = text_words["maria.gonzalez@example.com"]
    assert abs(ocr.x0 - truth.x0) < 0.02 and abs(ocr.y0 - truth.y0) < 0.02


def test_page_with_too_little_text_is_ocrd() -> None:
    picture = page_image(single_page_pdf(LINES), dpi=150)
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 40), "p. 1")  # a page number: a text layer, but not the content
    page.insert_image(pymupdf.Rect(0, 60, 612, 852), stream=picture)
    with opened(doc.tobytes()) as opened_doc:
        (content,) = list(opened_doc.pages())
    assert content.source == "ocr"
    assert "Gonzalez" in content.text


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_image_documents_are_ocrd(fmt: str) -> None:
    data = page_image(single_page_pdf(LINES), dpi=150, fmt=fmt)
    with opened(data) as doc:
        (page,) = list(doc.pages())
    assert page.source == "ocr"
    assert "Name: Maria Gonzalez" in page.text
    assert (page.width, page.height) == pytest.approx((612, 792), abs=1)


def test_multi_page_tiff_yields_every_frame() -> None:
    frames = [
        Image.open(io.BytesIO(page_image(single_page_pdf([f"Page {n} of the scan"]), dpi=100)))
        for n in (1, 2)
    ]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], dpi=(100, 100))
    with opened(out.getvalue()) as doc:
        pages = list(doc.pages())
    assert doc.page_count == 2
    assert [p.number for p in pages] == [1, 2]
    assert "Page 2 of the scan" in pages[1].text


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_other_image_formats_open(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("L", (120, 80), 255).save(out, fmt)
    with opened(out.getvalue()) as doc:
        assert doc.page_count == 1


def test_huge_page_is_ocrd_within_the_pixel_budget() -> None:
    doc = pymupdf.open()
    doc.new_page(width=14_400, height=14_400)  # 200 x 200 inches: 3.6 G pixels at 300 dpi
    limits = DocumentLimits(max_image_pixels=2_000_000)
    with opened(doc.tobytes(), limits=limits) as huge:
        (page,) = list(huge.pages())
    assert page.source == "ocr" and page.words == []


def test_empty() -> None:
    assert error_of(b"").error_class == ErrorClass.EMPTY


@pytest.mark.parametrize(
    "data",
    [random.Random(0).randbytes(4096), b"\x00\x01\x02\x03 binary"],
)
def test_unknown_bytes_are_unsupported(data: bytes) -> None:
    assert error_of(data).error_class == ErrorClass.UNSUPPORTED_FORMAT


def test_a_damaged_zip_is_corrupt() -> None:
    assert error_of(b"PK\x03\x04zipzipzip").error_class == ErrorClass.CORRUPT


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog",
        multi_page_pdf(3)[:300],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"\xff\xd8\xff\xe0" + b"\x13" * 64,
    ],
)
def test_corrupt(data: bytes) -> None:
    assert error_of(data).error_class == ErrorClass.CORRUPT


# 12000 x 10000 is over our limit but under Pillow's own bomb threshold; 40000 x 40000 is over both.
@pytest.mark.parametrize(("width", "height"), [(12_000, 10_000), (40_000, 40_000)])
def test_image_too_large_is_rejected_from_the_header(width: int, height: int) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    error = error_of(oversized_png(width, height))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5_000_000  # decoded, 40000 x 40000 RGB would be 4.8 GB
    assert error.error_class == ErrorClass.IMAGE_TOO_LARGE
    assert "100,000,000 pixels" in str(error)


def test_image_limit_is_configurable() -> None:
    data = page_image(single_page_pdf(LINES), dpi=72)  # 612 x 792 pixels
    assert error_of(data, limits=DocumentLimits(max_image_pixels=400_000)).error_class == (
        ErrorClass.IMAGE_TOO_LARGE
    )


def test_tessdata_is_found() -> None:
    folder = tessdata_dir()
    assert folder and os.path.isfile(os.path.join(folder, "eng.traineddata"))


PASSWORD = "s3cret-Open-Sesame"


@pytest.fixture(scope="module")
def encrypted() -> bytes:
    with pymupdf.open(stream=single_page_pdf(LINES), filetype="pdf") as doc:
        return doc.tobytes(
            encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=PASSWORD, owner_pw=PASSWORD + "-owner"
        )


def test_encrypted_opens_with_a_configured_password(encrypted: bytes) -> None:
    with opened(encrypted, passwords=["wrong", PASSWORD]) as doc:
        assert "Maria Gonzalez" in next(doc.pages()).text


def test_encrypted_without_the_password(encrypted: bytes) -> None:
    error = error_of(encrypted, passwords=["wrong-one", "s3cret"])
    assert error.error_class == ErrorClass.ENCRYPTED_NO_PASSWORD
    assert (
        str(error) == "sample.bin: PDF is encrypted and none of the 2 configured passwords opens it"
    )


def test_encrypted_without_any_password(encrypted: bytes) -> None:
    error = error_of(encrypted)
    assert error.error_class == ErrorClass.ENCRYPTED_NO_PASSWORD
    assert "no password is configured" in str(error)


# --- Every format, sniffed from content --------------------------------------------------------


def _office_samples() -> dict[str, bytes]:
    word = docx(["Hello"])
    return {
        "docx": word,
        "xlsx": xlsx([["Hello"]]),
        "encrypted-office": encrypt_office(word, "pw"),
        "damaged-office": word[: len(word) // 2],
    }


@pytest.mark.parametrize("kind", ["docx", "xlsx", "encrypted-office", "damaged-office"])
def test_office_documents_are_sniffed_from_their_content(kind: str) -> None:
    assert sniff_format(_office_samples()[kind]) == kind


def test_other_zip_formats_are_named_as_unsupported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        # A drawing: text, spreadsheets and presentations are read (tests/test_office_formats.py).
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.graphics")
    error = error_of(out.getvalue())
    assert error.error_class == ErrorClass.UNSUPPORTED_FORMAT
    assert "OpenDocument" in str(error)


def test_docx_is_rendered_with_libreoffice_and_read_as_pdf() -> None:

    with opened(docx(LINES)) as doc:
        (page,) = list(doc.pages())
    assert page.source == "text"
    assert page.text.splitlines() == LINES


def test_conversion_timeout_kills_libreoffice() -> None:

    started = time.perf_counter()
    error = error_of(docx(LINES), limits=DocumentLimits(conversion_timeout_s=0.05))
    assert error.error_class == ErrorClass.TIMEOUT
    assert str(error) == "sample.bin: rendering the Word document to PDF took longer than 0.05 s"
    assert time.perf_counter() - started < 5


def test_damaged_office_content_fails_conversion() -> None:

    source = zipfile.ZipFile(io.BytesIO(docx(LINES)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            body = b"<w:document broken" if name == "word/document.xml" else source.read(name)
            archive.writestr(name, body)
    error = error_of(out.getvalue())
    assert error.error_class == ErrorClass.CONVERSION_FAILED
    assert "LibreOffice could not render the Word document" in str(error)


def test_missing_libreoffice_is_a_tool_error_not_the_documents_fault(monkeypatch) -> None:
    from pii_assets.documents import ToolError, office

    monkeypatch.setattr(office, "soffice_path", lambda: None)
    with pytest.raises(ToolError, match="LibreOffice .* is not installed"):
        open_document(docx(LINES), name="a.docx")


def test_encrypted_office_without_the_password_names_no_password() -> None:

    secret = "Sw0rdfish-Office"
    data = encrypt_office(docx(LINES), secret)
    tried = ["first-wrong-pw", secret[:-1]]
    error = error_of(data, passwords=tried)
    assert error.error_class == ErrorClass.ENCRYPTED_NO_PASSWORD
    assert str(error) == (
        "sample.bin: Office file is encrypted and none of the 2 configured passwords opens it"
    )
    # Nothing chained either: a traceback must not carry msoffcrypto's view of a password.
    assert error.__cause__ is None and error.__context__ is None


# --- Limits and timeouts -----------------------------------------------------------------------


def test_ocr_timeout_kills_tesseract_and_records_the_page_as_unread() -> None:
    data = page_image(single_page_pdf(LINES), dpi=150)
    limits = DocumentLimits(ocr_timeout_s=0.001)
    with opened(data, limits=limits) as doc:
        assert list(doc.pages()) == []
        [unread] = doc.coverage.unread
    assert unread.part == "page 1"
    assert unread.error_class == ErrorClass.TIMEOUT
    assert unread.message == "doc: OCR of page 1 took longer than 0.001 s"


def test_ocr_without_a_timeout_runs_in_process() -> None:
    data = page_image(single_page_pdf(LINES), dpi=150)
    with opened(data, limits=DocumentLimits(ocr_timeout_s=0)) as doc:
        assert "Maria Gonzalez" in next(doc.pages()).text


def test_image_bomb_inside_a_pdf_page_is_rejected_before_rendering() -> None:

    tracemalloc.start()
    with opened(pdf_with_image_bomb()) as doc:
        assert list(doc.pages()) == []
        [unread] = doc.coverage.unread
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert unread.error_class == ErrorClass.IMAGE_TOO_LARGE
    assert "page 1 holds a 40,000 x 40,000 pixel image" in unread.message
    assert peak < 5_000_000


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_truncated_images_are_corrupt(fmt: str) -> None:
    data = page_image(single_page_pdf(LINES), dpi=100, fmt=fmt)
    error = error_of(data[: len(data) // 2])
    assert error.error_class == ErrorClass.CORRUPT
    assert "truncated" in str(error)


def test_skewed_noisy_scan_is_read() -> None:
    lines = [*LINES, "SSN: 536-22-1234"]
    scan = scanned_pdf(single_page_pdf(lines), dpi=200, noise=8.0, rotate=2.5, seed=2)
    with opened(scan) as doc:
        text = next(doc.pages()).text
    assert "maria.gonzalez@example.com" in text and "536-22-1234" in text


# --- pages scanned sideways or upside down ------------------------------------------------------


def _turned(data: bytes, degrees: int, fmt: str) -> bytes:
    """The picture turned `degrees` counter-clockwise, as a scanner fed the page sideways."""
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.rotate(degrees, expand=True).save(out, fmt)
        return out.getvalue()


def _expected_box(box: tuple, degrees: int) -> tuple:
    """Where a normalised box of the upright page lies once the page is turned counter-clockwise."""
    x0, y0, x1, y1 = box
    return {
        90: (y0, 1 - x1, y1, 1 - x0),
        180: (1 - x1, 1 - y1, 1 - x0, 1 - y0),
        270: (1 - y1, x0, 1 - y0, x1),
    }[degrees]


@pytest.mark.parametrize(("degrees", "fmt"), [(90, "PNG"), (180, "JPEG"), (270, "PNG")])
def test_turned_scans_are_read_upright_with_boxes_on_the_page_as_shown(degrees, fmt) -> None:
    from pii_assets.extraction import OfflineExtractor, extract_document

    pdf = single_page_pdf(LETTER_LINES)
    upright = extract_document(pdf, document_key="up.pdf", etag="", extractor=OfflineExtractor())
    (reference,) = [e for e in upright.entities if e.text == EMAIL]
    picture = _turned(page_image(pdf, dpi=200, fmt=fmt.lower()), degrees, fmt)

    with opened(picture) as doc:
        page = next(doc.pages())
        assert page.upright_rotation == degrees
        assert EMAIL in page.text
        if degrees in (90, 270):  # the upright page of a sideways picture is portrait again
            assert page.height > page.width
            with Image.open(io.BytesIO(page.render_png(600))) as shown:
                assert shown.height > shown.width  # the model is shown the page upright

    result = extract_document(picture, document_key="turned", etag="", extractor=OfflineExtractor())
    assert result.status == "ok"
    (found,) = [e for e in result.entities if e.text == EMAIL]
    expected = _expected_box((reference.x0, reference.y0, reference.x1, reference.y1), degrees)
    got = (found.x0, found.y0, found.x1, found.y1)
    assert all(abs(g - e) < 0.02 for g, e in zip(got, expected, strict=True)), (got, expected)
    assert {e.entity_type for e in result.entities} >= {"PERSON", "EMAIL_ADDRESS"}


def test_upright_pages_are_not_turned_and_detection_can_be_switched_off() -> None:
    pdf = single_page_pdf(LETTER_LINES)
    scan = scanned_pdf(pdf, dpi=200, rotate=0.6, seed=2)
    with opened(scan) as doc:
        assert next(doc.pages()).upright_rotation == 0
    sideways = _turned(page_image(pdf, dpi=200, fmt="png"), 90, "PNG")
    with opened(sideways, limits=DocumentLimits(detect_orientation=False)) as doc:
        page = next(doc.pages())
        assert page.upright_rotation == 0 and EMAIL not in page.text

    from resources.settings import build_document_options

    assert build_document_options({}).limits().detect_orientation is True
    off = build_document_options({"PII_OCR_DETECT_ORIENTATION": "false"})
    assert off.limits().detect_orientation is False
    with pytest.raises(ValueError, match="PII_OCR_DETECT_ORIENTATION"):
        build_document_options({"PII_OCR_DETECT_ORIENTATION": "sideways"})


def test_without_the_tesseract_program_a_sideways_page_keeps_its_first_reading(monkeypatch) -> None:
    sideways = _turned(page_image(single_page_pdf(LETTER_LINES), dpi=200, fmt="png"), 90, "PNG")
    monkeypatch.setenv("PATH", "/nonexistent")  # OCR itself is MuPDF's; OSD needs the program
    with opened(sideways) as doc:
        page = next(doc.pages())
    assert page.source == "ocr" and page.upright_rotation == 0
