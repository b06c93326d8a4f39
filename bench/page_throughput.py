"""Pages per second through open + text + recognizers (`extract_document` with the offline
extractor) versus the floor: bare PyMuPDF on the same pages.

- text PDFs: bare `page.get_text("words")` over every page;
- scanned pages: bare `page.get_textpage_ocr(full=True)` (Tesseract through PyMuPDF) at the same
  resolution the pipeline picks (the scan's own), then the words.

Each figure is the best of a few repeats (the machine's noise only ever slows a run down).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pymupdf

from pii_assets.documents import open_document, tessdata_dir
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_pipeline.corpus import generate_corpus, scanned_pdf

TEXT_PAGES = 200
OCR_PAGES = 4
SCAN_DPI = 200


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def text_pdf(pages: int) -> bytes:
    """`pages` pages taken round-robin from generated text PDFs (forms, invoices, letters)."""
    sources = [doc.data for doc in generate_corpus(24, seed=11) if doc.kind == "text_pdf"]
    out = pymupdf.open()
    while out.page_count < pages:
        for data in sources:
            with pymupdf.open(stream=data, filetype="pdf") as src:
                out.insert_pdf(src, to_page=min(src.page_count, pages - out.page_count) - 1)
            if out.page_count >= pages:
                break
    data = out.tobytes(garbage=3, deflate=True)
    out.close()
    return data


def _bare_text(data: bytes) -> None:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page in doc:
            page.get_text("words")


def _bare_ocr(data: bytes) -> None:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page in doc:
            textpage = page.get_textpage_ocr(
                dpi=SCAN_DPI, language="eng", full=True, tessdata=tessdata_dir()
            )
            page.get_text("words", textpage=textpage)


def _document_layer(data: bytes) -> None:
    """Open + pages (text layer, normalised words), without the recognizers."""
    with open_document(data, name="bench") as doc:
        for _ in doc.pages():
            pass


def _pipeline(data: bytes) -> None:
    result = extract_document(data, document_key="bench", etag="", extractor=OfflineExtractor())
    assert result.status == "ok", result.error_message


def run(console: Any) -> dict[str, Any]:
    text = text_pdf(TEXT_PAGES)
    scan_source = text_pdf(OCR_PAGES)
    scan = scanned_pdf(scan_source, dpi=SCAN_DPI, noise=4.0, rotate=0.5, seed=3)

    bare_text = _best(lambda: _bare_text(text), 5)
    ours_text = _best(lambda: _pipeline(text), 5)
    layer_text = _best(lambda: _document_layer(text), 5)
    bare_ocr = _best(lambda: _bare_ocr(scan), 2)
    ours_ocr = _best(lambda: _pipeline(scan), 2)

    text_ratio = bare_text / ours_text
    layer_ratio = bare_text / layer_text
    ocr_ratio = bare_ocr / ours_ocr
    return {
        "text_pages": TEXT_PAGES,
        "ocr_pages": OCR_PAGES,
        "bare_text_pages_per_s": TEXT_PAGES / bare_text,
        "pipeline_text_pages_per_s": TEXT_PAGES / ours_text,
        "bare_ocr_pages_per_s": OCR_PAGES / bare_ocr,
        "pipeline_ocr_pages_per_s": OCR_PAGES / ours_ocr,
        "text_ratio": text_ratio,
        "document_layer_text_ratio": layer_ratio,
        "ocr_ratio": ocr_ratio,
        "rows": [
            {
                "figure": f"text pages/s: pipeline vs bare PyMuPDF ({TEXT_PAGES} pages)",
                "value": f"{TEXT_PAGES / ours_text:.0f} vs {TEXT_PAGES / bare_text:.0f} "
                f"= {text_ratio:.2f}x",
                "target": ">= 0.7x",
                "met": text_ratio >= 0.7,
            },
            {
                "figure": "  of which open + text alone (no recognizers) vs bare",
                "value": f"{TEXT_PAGES / layer_text:.0f} vs {TEXT_PAGES / bare_text:.0f} "
                f"= {layer_ratio:.2f}x",
            },
            {
                "figure": f"OCR pages/s: pipeline vs bare Tesseract in PyMuPDF ({OCR_PAGES} pages)",
                "value": f"{OCR_PAGES / ours_ocr:.2f} vs {OCR_PAGES / bare_ocr:.2f} "
                f"= {ocr_ratio:.2f}x",
                "target": ">= 0.9x",
                "met": ocr_ratio >= 0.9,
            },
        ],
    }
