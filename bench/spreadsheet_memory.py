"""Peak memory of reading large spreadsheets: a 1,000,000-row CSV versus a 10,000-row CSV, and a
50-sheet xlsx (10,000 rows a sheet) versus a one-sheet xlsx of 10,000 rows.

Each file is extracted (`extract_document` with the offline extractor: open, cells laid out on
virtual pages, recognizers) in a fresh child Python process; the figure is the child's peak
resident set (VmHWM), as in `bench.document_memory`. CSV rows are streamed and xlsx sheets are
read one at a time, row by row (openpyxl read-only), so the large files should need little more
than the small ones; what does grow is the object's own bytes, which the pipeline holds in memory
(reported beside each figure).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CSV_SMALL, CSV_LARGE = 10_000, 1_000_000
SHEET_ROWS, SHEETS = 10_000, 50

_CHILD = r"""
import json, resource, sys
from pii_assets.extraction import OfflineExtractor, extract_document

def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

path, kind = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
before = hwm_kb()
if kind == "csv":
    import pii_assets.documents as documents
    if documents.sniff_format(data) is None:  # csv is sniffed by the text formats' module
        documents.sniff_format = lambda content: "csv"
result = extract_document(data, document_key="bench", etag="", extractor=OfflineExtractor())
assert result.status == "ok", result.error_message
print(json.dumps({
    "cells": result.coverage.parts.get("cells", 0), "sheets": result.coverage.parts.get("sheets"),
    "baseline_kb": before, "peak_kb": hwm_kb(), "bytes": len(data),
    "entities": len(result.entities), "seconds": result.duration_s,
}))
"""


# Mostly order lines, and one customer's e-mail address every `PII_EVERY` rows: the figures are
# those of reading, not of holding a million found entities (the result keeps every entity).
PII_EVERY = 1000


def _row(i: int) -> list[object]:
    contact = f"customer{i}@example.com" if i % PII_EVERY == 0 else f"order {i} shipped"
    return [i, f"Widget {i % 97}", contact, round(i * 3.5, 2)]


def _csv(rows: int) -> bytes:
    lines = ["id,product,contact,amount"]
    lines.extend(",".join(map(str, _row(i))) for i in range(rows))
    return ("\n".join(lines) + "\n").encode()


def _xlsx(sheets: int, rows: int) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for s in range(sheets):
        sheet = book.create_sheet(f"Sheet {s + 1}")
        sheet.append(["id", "product", "contact", "amount"])
        for i in range(rows):
            sheet.append(_row(i))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _measure(data: bytes, kind: str) -> dict[str, int]:
    with tempfile.NamedTemporaryFile(suffix=f".{kind}") as file:
        file.write(data)
        file.flush()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, file.name, kind],
            capture_output=True,
            text=True,
            timeout=3600,
            cwd=Path(__file__).resolve().parent.parent,
        )
    if out.returncode != 0:
        raise RuntimeError(f"measuring child failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(console: Any) -> dict[str, Any]:
    csv_small = _measure(_csv(CSV_SMALL), "csv")
    csv_large = _measure(_csv(CSV_LARGE), "csv")
    xlsx_small = _measure(_xlsx(1, SHEET_ROWS), "xlsx")
    xlsx_large = _measure(_xlsx(SHEETS, SHEET_ROWS), "xlsx")

    def mb(kb: float) -> str:
        return f"{kb / 1024:.0f} MB"

    def row(figure: str, large: dict, small: dict) -> dict[str, Any]:
        ratio = large["peak_kb"] / small["peak_kb"]
        growth = large["peak_kb"] - small["peak_kb"]
        return {
            "figure": figure,
            "value": f"{mb(large['peak_kb'])} vs {mb(small['peak_kb'])} = {ratio:.2f}x "
            f"(+{mb(growth)}; file {mb(large['bytes'] / 1024)} vs {mb(small['bytes'] / 1024)}; "
            f"{large['seconds']:.0f} s vs {small['seconds']:.0f} s)",
            "target": "<= 1.5x",
            "met": ratio <= 1.5,
            "ratio": ratio,
        }

    return {
        "csv": {"small": csv_small, "large": csv_large},
        "xlsx": {"small": xlsx_small, "large": xlsx_large},
        "rows": [
            row(f"peak RSS, {CSV_LARGE:,}-row vs {CSV_SMALL:,}-row CSV", csv_large, csv_small),
            row(
                f"peak RSS, {SHEETS}-sheet vs 1-sheet xlsx ({SHEET_ROWS:,} rows a sheet)",
                xlsx_large,
                xlsx_small,
            ),
        ],
    }
