"""WEBP and HEIC/HEIF images: decoded by Pillow / pillow-heif, OCR'd by the real Tesseract."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc

import pillow_heif
import pytest
from PIL import Image

from pii_assets.documents import DocumentLimits, sniff_format
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status
from pii_pipeline.corpus import page_image, single_page_pdf
from tests.five_values import LINES, VALUES, found

pillow_heif.register_heif_opener()

FORMATS = {"webp": "WEBP", "heic": "HEIF"}


def extract(data: bytes, key: str, **kwargs: object) -> DocumentResult:
    return extract_document(
        data, document_key=key, etag="e", extractor=OfflineExtractor(), **kwargs
    )


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, FORMATS[kind], **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def page() -> Image.Image:
    png = page_image(single_page_pdf(["Customer record", *LINES]), dpi=200)
    return Image.open(io.BytesIO(png)).convert("L")


@pytest.mark.parametrize("kind", ["webp", "heic"])
def test_the_five_values_are_read_from_the_image(page: Image.Image, kind: str) -> None:
    data = encoded(page, kind, quality=90)
    assert sniff_format(data) == kind
    result = extract(data, f"scan.{kind}")
    assert result.status == Status.OK, result.error_message
    assert (result.pages, result.coverage.pages_ocr, result.coverage.parts) == (1, 1, {"pages": 1})
    entities = found(result)
    # The values' lines, top to bottom, each a box on page 1.
    tops = [entities[entity_type].y0 for entity_type in VALUES]
    assert tops == sorted(tops)
    for entity in entities.values():
        assert (entity.page, entity.area, entity.source, entity.part) == (1, "page", "ocr", None)
        assert 0 < entity.x0 < entity.x1 < 1 and 0 < entity.y0 < entity.y1 < 1


def test_every_frame_of_an_animated_webp_is_a_page(page: Image.Image) -> None:
    blank = Image.new("L", page.size, 255)
    out = io.BytesIO()
    blank.save(out, "WEBP", save_all=True, append_images=[page], duration=500, quality=90)
    result = extract(out.getvalue(), "animated.webp")
    assert result.status == Status.OK
    assert result.pages == 2 and result.coverage.pages_ocr == 2
    assert {e.page for e in result.entities} == {2}
    assert set(found(result)) == set(VALUES)


def test_transparent_webp_is_read_on_white(page: Image.Image) -> None:
    rgba = Image.new("RGBA", page.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(page, lambda v: 255 - v))  # black text, transparent paper
    result = extract(encoded(rgba, "webp", lossless=True), "transparent.webp")
    assert result.status == Status.OK
    assert set(found(result)) == set(VALUES)


def _webp_claiming(width: int, height: int) -> bytes:
    """A WEBP whose VP8X header claims `width` x `height` pixels (RIFF container, WebP spec
    "Extended File Format"), followed by a tiny real image."""
    tiny = encoded(Image.new("L", (8, 8), 255), "webp", lossless=True)
    chunk = b"VP8X" + struct.pack("<I", 10) + bytes(4)
    chunk += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + chunk + tiny[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_an_oversized_webp_is_refused_from_its_header() -> None:
    data = _webp_claiming(16_000, 16_000)
    tracemalloc.start()
    started = time.perf_counter()
    result = extract(data, "huge.webp")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (result.status, result.error_class) == (Status.FAILED, "image_too_large")
    assert elapsed < 1 and peak < 5_000_000


def test_the_pixel_limit_applies_to_heic(page: Image.Image) -> None:
    data = encoded(page, "heic", quality=50)
    limits = DocumentLimits(max_image_pixels=page.width * page.height - 1)
    result = extract(data, "big.heic", limits=limits)
    assert (result.status, result.error_class) == (Status.FAILED, "image_too_large")


@pytest.mark.parametrize("kind", ["webp", "heic"])
def test_a_truncated_image_is_corrupt(page: Image.Image, kind: str) -> None:
    data = encoded(page, kind, quality=80)
    result = extract(data[: len(data) // 2], f"cut.{kind}")
    assert (result.status, result.error_class) == (Status.FAILED, "corrupt")
