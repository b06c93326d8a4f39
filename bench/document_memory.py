"""Peak memory of one document: a 300-page PDF versus a 3-page PDF with the same page content.

Each document is extracted (open + text/OCR + recognizers) in a fresh child Python process; the
figure is the child's peak resident set (VmHWM). Pages are read and released one at a time, so
the long document should need little more than the short one. The scanned variant OCRs its pages
in forked grandchildren; their peak is reported beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pymupdf

from bench.page_throughput import text_pdf
from pii_pipeline.corpus import scanned_pdf

SHORT, LONG = 3, 300
SCAN_SHORT, SCAN_LONG = 3, 24

_CHILD = r"""
import json, resource, sys
from pii_assets.extraction import OfflineExtractor, extract_document

def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

data = open(sys.argv[1], "rb").read()
before = hwm_kb()
result = extract_document(data, document_key="bench", etag="", extractor=OfflineExtractor())
assert result.status == "ok", result.error_message
print(json.dumps({
    "pages": result.pages, "baseline_kb": before, "peak_kb": hwm_kb(),
    "children_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


def _repeat_pages(one_page_pdf: bytes, pages: int) -> bytes:
    """The same page `pages` times (each a full copy, as in a real long document)."""
    out = pymupdf.open()
    with pymupdf.open(stream=one_page_pdf, filetype="pdf") as src:
        for _ in range(pages):
            out.insert_pdf(src)
    data = out.tobytes(garbage=1, deflate=True)
    out.close()
    return data


def _measure(data: bytes) -> dict[str, int]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(data)
        file.flush()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, file.name],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=Path(__file__).resolve().parent.parent,
        )
    if out.returncode != 0:
        raise RuntimeError(f"measuring child failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(console: Any) -> dict[str, Any]:
    page = text_pdf(1)
    short = _measure(_repeat_pages(page, SHORT))
    long = _measure(_repeat_pages(page, LONG))
    scan_page = scanned_pdf(page, dpi=200, noise=4.0, seed=1)
    scan_short = _measure(_repeat_pages(scan_page, SCAN_SHORT))
    scan_long = _measure(_repeat_pages(scan_page, SCAN_LONG))

    ratio = long["peak_kb"] / short["peak_kb"]
    growth_mb = (long["peak_kb"] - short["peak_kb"]) / 1024
    scan_ratio = scan_long["peak_kb"] / scan_short["peak_kb"]

    def mb(kb: int) -> str:
        return f"{kb / 1024:.0f} MB"

    return {
        "text": {"short": short, "long": long, "ratio": ratio},
        "scanned": {"short": scan_short, "long": scan_long, "ratio": scan_ratio},
        "rows": [
            {
                "figure": f"peak RSS, {LONG}-page vs {SHORT}-page text PDF",
                "value": f"{mb(long['peak_kb'])} vs {mb(short['peak_kb'])} = {ratio:.2f}x "
                f"(+{growth_mb:.1f} MB; interpreter + libraries {mb(short['baseline_kb'])})",
                "target": "<= 1.5x",
                "met": ratio <= 1.5,
            },
            {
                "figure": f"peak RSS, {SCAN_LONG}-page vs {SCAN_SHORT}-page scanned PDF (OCR)",
                "value": f"{mb(scan_long['peak_kb'])} vs {mb(scan_short['peak_kb'])} "
                f"= {scan_ratio:.2f}x; OCR child peak {mb(scan_long['children_peak_kb'])}",
                "target": "<= 1.5x",
                "met": scan_ratio <= 1.5,
            },
        ],
    }
