"""Pages per second through open + text + recognizers (`extract_document` with the offline
extractor) versus the floor: bare PyMuPDF on the same pages.

- text PDFs: bare `page.get_text("words")` over every page;
- scanned pages: bare `page.get_textpage_ocr(full=True)` (Tesseract through PyMuPDF) at the same
  resolution the pipeline picks (the scan's own), then the words;
- a text page with a screenshot on it: the pipeline (text layer plus OCR of the picture's region)
  against bare OCR of the whole page, what reading the picture would cost without the region.

The runs being compared alternate (bare, pipeline, bare, ...), so a slow spell on this shared
machine hits both alike; a ratio is the median over rounds of the ratio within each round, and a
rate is the median over rounds. Pages never repeat, so no per-value cache could flatter the
pipeline.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any

import pymupdf
from PIL import Image, ImageDraw, ImageFont

from bench.common import s3_store
from bench.eval.corpus import generate
from pii_assets.documents import open_document, tessdata_dir
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.names import persons
from pii_assets.recognition.patterns import phones
from pii_assets.recognizers import structured_candidates
from pii_pipeline.corpus import scanned_pdf
from resources.extractors import LocalExtractor

TEXT_PAGES = 200
OCR_PAGES = 6
SCAN_BATCH = 6  # one-page scanned documents
SCAN_DPI = 200


def _alternating_rounds(
    fns: dict[str, Callable[[], object]], rounds: int
) -> dict[str, list[float]]:
    """Wall time of each function in each round, the functions alternating within a round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _median_ratio(times: dict[str, list[float]], fast: str, slow: str) -> float:
    """Median over rounds of time(fast) / time(slow): the slow one's throughput relative to the
    fast one's."""
    return statistics.median(f / s for f, s in zip(times[fast], times[slow], strict=True))


def text_pdf(pages: int, *, seed: int = 11) -> bytes:
    """`pages` distinct pages from the evaluation corpus's text PDFs (forms, statements, letters,
    invoices, rosters, decoys; varied fonts and layouts). No page repeats, so nothing that caches
    per value can make the pipeline look faster than it would on a real bucket."""
    out = pymupdf.open()
    batch = 0
    while out.page_count < pages:
        for doc in generate(24, seed=seed + batch, ocr_share=0.0):
            with pymupdf.open(stream=doc.data, filetype="pdf") as src:
                out.insert_pdf(src, to_page=min(src.page_count, pages - out.page_count) - 1)
            if out.page_count >= pages:
                break
        batch += 1
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


def _recognizer_split(data: bytes) -> dict[str, float]:
    """Milliseconds per page of each part of `find_entities`, on pages already opened: where the
    time beyond bare extraction goes."""
    with open_document(data, name="bench") as doc:
        pages = [page.words for page in doc.pages()]
    texts = [PageText.build(words) for words in pages]
    taken = [structured_candidates(t) for t in texts]
    parts: dict[str, Callable[[], object]] = {
        "layout rows (PageText.build)": lambda: [PageText.build(words) for words in pages],
        "e-mail, SSN, card, IBAN, IP, birth date": lambda: [
            structured_candidates(t) for t in texts
        ],
        "names": lambda: [list(persons(t.text, t)) for t in texts],
        "phone numbers (phonenumbers)": lambda: [
            list(phones(t.text, "US", found)) for t, found in zip(texts, taken, strict=True)
        ],
    }
    times = _alternating_rounds(parts, 3)
    return {name: statistics.median(t) / len(pages) * 1000 for name, t in times.items()}


def _page_of(pdf: bytes, index: int) -> bytes:
    with pymupdf.open(stream=pdf, filetype="pdf") as src, pymupdf.open() as out:
        out.insert_pdf(src, from_page=index, to_page=index)
        return out.tobytes()


def _scan_batch_speedup() -> tuple[int, float]:
    """Documents of scans through `process_partitions` (S3 fetch, OCR, recognizers, result write)
    with the local extractor's default concurrency versus one at a time: OCR children of several
    documents run on several cores."""
    workers = LocalExtractor().document_concurrency()
    with s3_store("bench-scans") as store:
        client, layout = store.client(), store.layout()
        source = text_pdf(SCAN_BATCH, seed=29)
        keys = []
        for index in range(SCAN_BATCH):
            key = f"{layout.input_prefix}scan-{index}.pdf"
            scan = scanned_pdf(_page_of(source, index), dpi=SCAN_DPI, rotate=0.5, seed=index)
            client.put_object(Bucket=layout.bucket, Key=key, Body=scan)
            keys.append(layout.partition_key(key))

        def batch(n: int) -> Callable[[], None]:
            opts = ProcessingOptions(extractor=OfflineExtractor(), workers=n)
            return lambda: list(process_partitions(client, layout, keys, opts, "bench"))

        times = _alternating_rounds({"one": batch(1), "many": batch(workers)}, 3)
    return workers, _median_ratio(times, "one", "many")


def screenshot_page() -> bytes:
    """A text page (25 lines of prose in its text layer) carrying a screenshot of a form drawn
    by Pillow (invented values) over ~25% of its width: read from the text layer plus OCR of the
    picture's region (`documents.pictures`)."""
    image = Image.new("RGB", (900, 260), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for row, line in enumerate(["Name: Wendell Okonkwo-Prime", "SSN: 372-81-5599", "Ref 2231"]):
        draw.text((20, 20 + 60 * row), line, fill="black", font=font)
    png = io.BytesIO()
    image.save(png, "PNG")
    with pymupdf.open() as doc:
        page = doc.new_page()
        for row in range(25):
            page.insert_text((72, 72 + 14 * row), f"The operating plan, item {row}.", fontsize=10)
        page.insert_image(pymupdf.Rect(72, 450, 450, 560), stream=png.getvalue())
        return doc.tobytes()


def _bare_page_ocr(data: bytes) -> None:
    """What reading the screenshot page would cost by OCR'ing all of it (bare PyMuPDF)."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page in doc:
            textpage = page.get_textpage_ocr(
                dpi=300, language="eng", full=True, tessdata=tessdata_dir()
            )
            page.get_text("words", textpage=textpage)


def _pipeline(data: bytes) -> None:
    result = extract_document(data, document_key="bench", etag="", extractor=OfflineExtractor())
    assert result.status == "ok", result.error_message


def run(console: Any) -> dict[str, Any]:
    text = text_pdf(TEXT_PAGES)
    scan_source = text_pdf(OCR_PAGES)
    scan = scanned_pdf(scan_source, dpi=SCAN_DPI, noise=4.0, rotate=0.5, seed=3)

    text_times = _alternating_rounds(
        {
            "bare": lambda: _bare_text(text),
            "pipeline": lambda: _pipeline(text),
            "layer": lambda: _document_layer(text),
        },
        5,
    )
    bare_text, ours_text, layer_text = (
        statistics.median(text_times[k]) for k in ("bare", "pipeline", "layer")
    )
    split = _recognizer_split(text)
    ocr_times = _alternating_rounds(
        {"bare": lambda: _bare_ocr(scan), "pipeline": lambda: _pipeline(scan)}, 5
    )
    bare_ocr, ours_ocr = (statistics.median(ocr_times[k]) for k in ("bare", "pipeline"))
    scan_workers, scan_speedup = _scan_batch_speedup()
    screenshot = screenshot_page()
    picture_times = _alternating_rounds(
        {"page": lambda: _bare_page_ocr(screenshot), "pipeline": lambda: _pipeline(screenshot)}, 3
    )
    picture_s, page_ocr_s = (statistics.median(picture_times[k]) for k in ("pipeline", "page"))

    text_ratio = _median_ratio(text_times, "bare", "pipeline")
    layer_ratio = _median_ratio(text_times, "bare", "layer")
    ocr_ratio = _median_ratio(ocr_times, "bare", "pipeline")
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
        "recognizer_ms_per_page": split,
        "screenshot_page_s": picture_s,
        "screenshot_page_full_ocr_s": page_ocr_s,
        "scan_batch_workers": scan_workers,
        "scan_batch_speedup": scan_speedup,
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
                "figure": "  ms per page: bare extraction / pipeline",
                "value": f"{bare_text / TEXT_PAGES * 1e3:.2f} / {ours_text / TEXT_PAGES * 1e3:.2f}",
            },
            *(
                {"figure": f"  ms per page: {part}", "value": f"{ms:.2f}"}
                for part, ms in split.items()
            ),
            {
                "figure": f"OCR pages/s: pipeline vs bare Tesseract in PyMuPDF ({OCR_PAGES} pages)",
                "value": f"{OCR_PAGES / ours_ocr:.2f} vs {OCR_PAGES / bare_ocr:.2f} "
                f"= {ocr_ratio:.2f}x",
                "target": ">= 0.9x",
                "met": ocr_ratio >= 0.9,
            },
            {
                "figure": "text page with a screenshot: s per page, pipeline (text layer + OCR "
                "of the picture) vs bare OCR of the whole page at 300 dpi",
                "value": f"{picture_s:.2f} vs {page_ocr_s:.2f}",
            },
            {
                "figure": f"scanned documents ({SCAN_BATCH}) through process_partitions: "
                f"{scan_workers} at once vs one at a time",
                "value": f"{scan_speedup:.2f}x faster",
            },
        ],
    }
