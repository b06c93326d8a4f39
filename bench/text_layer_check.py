"""What checking a PDF page's text layer before trusting it (`documents.textlayer`) costs on text
pages: pages per second through `extract_document` (offline extractor) with the check versus
without it (`DocumentLimits(check_text_layer=False)`), on the same 200 distinct pages of the
evaluation corpus that `page_throughput` uses.

The pages are cut into documents of `CHUNK` pages and the two runs alternate document by
document, their order swapped every round, so a slow spell on this shared machine hits both
alike. Times are this process's CPU time: no OCR child runs on these pages (the check must not
send a normal text page to OCR, and the pages it did are counted), so other programs' load does
not count. A ratio is the median over rounds of the ratio within each round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pymupdf

from bench.page_throughput import TEXT_PAGES, text_pdf
from pii_assets.documents import DocumentLimits, lines_text, open_document, textlayer
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import Coverage

ROUNDS = 7
CHUNK = 10  # pages per document
TARGET = 0.9  # the check may cost at most 10% of text-page throughput


def _pipeline(limits: DocumentLimits) -> Callable[[bytes], Coverage]:
    def run(data: bytes) -> Coverage:
        result = extract_document(
            data, document_key="bench", etag="", extractor=OfflineExtractor(), limits=limits
        )
        assert result.status == "ok", result.error_message
        return result.coverage

    return run


def _layer(limits: DocumentLimits) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        with open_document(data, name="bench", limits=limits) as doc:
            for _ in doc.pages():
                pass

    return run


def _chunks(data: bytes) -> list[bytes]:
    chunks = []
    with pymupdf.open(stream=data, filetype="pdf") as source:
        for first in range(0, source.page_count, CHUNK):
            with pymupdf.open() as out:
                out.insert_pdf(source, from_page=first, to_page=first + CHUNK - 1)
                chunks.append(out.tobytes())
    return chunks


def _rounds(
    runs: dict[str, Callable[[bytes], object]], chunks: list[bytes], rounds: int
) -> dict[str, list[float]]:
    """CPU seconds of each run over all chunks, per round; the runs alternate chunk by chunk."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for number in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        order = names if number % 2 == 0 else names[::-1]
        for chunk in chunks:
            for name in order:
                start = time.process_time()
                runs[name](chunk)
                spent[name] += time.process_time() - start
        for name in names:
            times[name].append(spent[name])
    return times


def _ratio(times: dict[str, list[float]], fast: str, slow: str) -> float:
    """Median over rounds of time(fast) / time(slow): the slow one's throughput relative to the
    fast one's."""
    return statistics.median(f / s for f, s in zip(times[fast], times[slow], strict=True))


def run(console: Any) -> dict[str, Any]:
    data = text_pdf(TEXT_PAGES)
    on, off = DocumentLimits(), DocumentLimits(check_text_layer=False)
    coverage = _pipeline(on)(data)  # also loads the dictionary once, outside the timings
    ocr_pages = coverage.pages_ocr + coverage.pages_text_and_ocr
    chunks = _chunks(data)
    times = _rounds({"without": _pipeline(off), "with": _pipeline(on)}, chunks, ROUNDS)
    layer = _rounds({"without": _layer(off), "with": _layer(on)}, chunks, ROUNDS)
    ratio = _ratio(times, "without", "with")
    layer_ratio = _ratio(layer, "without", "with")
    without, with_check = (statistics.median(times[k]) for k in ("without", "with"))

    with open_document(data, name="bench", limits=off) as doc:
        texts = [lines_text(page.words) for page in doc.pages()]
    started = time.process_time()
    for _ in range(ROUNDS):
        for text in texts:
            textlayer.suspicion(text, "eng")
    check_ms = (time.process_time() - started) / ROUNDS / len(texts) * 1000
    return {
        "text_pages": TEXT_PAGES,
        "pages_per_s_without_check": TEXT_PAGES / without,
        "pages_per_s_with_check": TEXT_PAGES / with_check,
        "ratio": ratio,
        "document_layer_ratio": layer_ratio,
        "pages_ocrd_by_the_check": ocr_pages,
        "check_ms_per_page": check_ms,
        "rows": [
            {
                "figure": f"text pages/s with the text-layer check vs without ({TEXT_PAGES})",
                "value": f"{TEXT_PAGES / with_check:.0f} vs {TEXT_PAGES / without:.0f} "
                f"= {ratio:.2f}x",
                "target": f">= {TARGET}x",
                "met": ratio >= TARGET,
            },
            {
                "figure": "  of which open + text alone (no recognizers), with vs without",
                "value": f"{layer_ratio:.2f}x",
            },
            {
                "figure": "  ms per page in the check (character statistics, dictionary)",
                "value": f"{check_ms:.3f}",
            },
            {
                "figure": "  text pages the check sent to OCR",
                "value": str(ocr_pages),
                "target": "0",
                "met": ocr_pages == 0,
            },
        ],
    }
