"""How many public real-world PDFs `pdf_damage` marks as damaged, and why.

Reads every PDF of the fetched corpora (`bench.public_corpus`; the PDF corpora of
`bench.robustness` plus pdf-lib's) with the product's reader and counts, per repository, the
documents given a damage part: "document" (MuPDF repaired the file) or a page or its annotations
read only in part. OCR is turned down to 1 dpi: only damage is measured here, not reading.

    .venv/bin/python -m bench.pdf_damage [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from bench import public_corpus
from bench.public_corpus import CorpusMissing
from pii_assets.documents import DocumentLimits, open_document
from pii_assets.models import DocumentError

CORPORA = {
    "py-pdf/pypdf": ("resources/",),
    "pymupdf/PyMuPDF": ("tests/resources/",),
    "qpdf/qpdf": ("qpdf/qtest/qpdf/", "libtests/qtest/"),  # many files damaged on purpose
    "Hopding/pdf-lib": ("assets/pdfs/",),
}
LIMITS = DocumentLimits(
    max_pages=20, ocr_dpi=1, detect_orientation=False, check_text_layer=False, max_depth=1
)
CAUSES = ("the page may be partly read", "annotations:", "repaired:")


def damage(data: bytes) -> tuple[str, list[str]]:
    """("failed" | "damaged" | "clean", the damage messages' causes with the name dropped)."""
    try:
        with open_document(data, name="doc.pdf", limits=LIMITS) as doc:
            for _ in doc.pages():
                pass
            unread = doc.coverage.unread
    except DocumentError:
        return "failed", []
    found = [u.message.split(": ", 1)[1] for u in unread if any(c in u.message for c in CAUSES)]
    return ("damaged" if found else "clean"), found


def run() -> dict:
    report: dict = {}
    for repository, folders in CORPORA.items():
        try:
            paths = public_corpus.listing(repository)
        except CorpusMissing as exc:
            report[repository] = {"missing": str(exc)}
            continue
        counts: Counter = Counter()
        causes: Counter = Counter()
        damaged = []
        for path in paths:
            if not path.startswith(folders) or not path.lower().endswith(".pdf"):
                continue
            try:
                data = public_corpus.read(repository, path)
            except CorpusMissing:
                continue
            outcome, found = damage(data)
            counts[outcome] += 1
            if found:
                damaged.append(path)
                causes.update({cause.split(": ")[-1] for cause in found})
        report[repository] = {"counts": dict(counts), "causes": dict(causes), "damaged": damaged}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="write the full report (paths included) here")
    args = parser.parse_args(argv)
    report = run()
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)
    for repository, entry in report.items():
        print(repository, entry.get("missing") or entry["counts"], entry.get("causes", ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
