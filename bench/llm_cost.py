"""LLM cost: estimated tokens and USD per 1,000 pages on a mixed corpus of text PDFs and scans,
`auto` routing (text layers and scans whose OCR reads well as text, other pages as images) versus
always sending the page image at the original design's settings (gpt-4o-mini, detail auto,
full-size pages).

Three figures per mode: the estimate made for each page just before it is sent (its route known),
the usage the fake OpenAI server records for the same pages, and the document-level estimate made
before opening (no OCR yet, so every scan counts as an image: the upper bound budgets use).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pii_assets.documents import open_document
from pii_assets.extraction import extract_document
from pii_assets.llm.pricing import Usage, cost_usd
from pii_pipeline.corpus import GeneratedDocument, generate_corpus, scanned_pdf
from tests.fake_openai import FakeOpenAI
from tests.llm_helpers import make_extractor

MODEL = "gpt-4o-mini"
KINDS = ("text_pdf", "scanned_pdf")
SETTINGS = {
    "auto": {"input_mode": "auto", "max_image_side": 1024},
    "image": {"input_mode": "image", "max_image_side": 2048},  # the original design
}


def _corpus() -> list[GeneratedDocument]:
    """Text PDFs and clean scans from the generator, plus poor scans (coarse, noisy, skewed) of a
    third of the text PDFs, whose OCR reads badly: those must still go as images."""
    corpus = [doc for doc in generate_corpus(32, seed=11) if doc.kind in KINDS]
    poor = [
        replace(
            doc,
            name=f"poor-{doc.name}",
            kind="poor_scan",
            data=scanned_pdf(doc.data, dpi=100, noise=60.0, rotate=1.5, seed=index),
        )
        for index, doc in enumerate(corpus)
        if doc.kind == "text_pdf" and index % 3 == 0
    ]
    return corpus + poor


def run(console: Any) -> dict[str, Any]:
    corpus = _corpus()
    figures: dict[str, dict[str, float]] = {}
    pages_by_kind: dict[str, int] = {}
    usd_by_kind: dict[tuple[str, str], float] = {}
    with FakeOpenAI(models=(MODEL,)) as fake:
        for mode, settings in SETTINGS.items():
            extractor = make_extractor(fake, model=MODEL, **settings)
            fake.calls.clear()
            estimated_usd = 0.0
            upper_bound_usd = 0.0
            pages = 0
            for doc in corpus:
                upper_bound_usd += extractor.estimate_document_usd(doc.data)
                with open_document(doc.data, name=doc.name) as opened:
                    estimate = sum(
                        (extractor.estimate_page(page) for page in opened.pages()), Usage()
                    )
                estimated_usd += cost_usd(estimate, extractor.price)
                usd_by_kind[mode, doc.kind] = usd_by_kind.get((mode, doc.kind), 0.0) + cost_usd(
                    estimate, extractor.price
                )
                result = extract_document(
                    doc.data, document_key=doc.name, etag="", extractor=extractor
                )
                assert result.status == "ok", result.error_message
                pages += result.pages
                pages_by_kind[doc.kind] = pages_by_kind.get(doc.kind, 0) + result.pages
            recorded = Usage()
            for call in fake.calls:
                usage = call.usage or {}
                recorded += Usage(usage["prompt_tokens"], 0, usage["completion_tokens"])
            figures[mode] = {
                "pages": pages,
                "estimated_usd_per_1000": estimated_usd / pages * 1000,
                "upper_bound_usd_per_1000": upper_bound_usd / pages * 1000,
                "recorded_usd_per_1000": cost_usd(recorded, extractor.price) / pages * 1000,
                "recorded_input_tokens_per_page": recorded.input_tokens / pages,
            }
            extractor.close()
    for kind in pages_by_kind:
        pages_by_kind[kind] //= len(SETTINGS)
    auto, image = figures["auto"], figures["image"]
    ratio = auto["estimated_usd_per_1000"] / image["estimated_usd_per_1000"]
    recorded_ratio = auto["recorded_usd_per_1000"] / image["recorded_usd_per_1000"]
    rows = [
        {
            "figure": "corpus pages",
            "value": ", ".join(f"{kind} {n}" for kind, n in sorted(pages_by_kind.items())),
        }
    ]
    for mode, fig in figures.items():
        rows.append(
            {
                "figure": f"{mode}: USD per 1,000 pages (estimate / recorded)",
                "value": f"${fig['estimated_usd_per_1000']:.3f} / "
                f"${fig['recorded_usd_per_1000']:.3f}",
            }
        )
        rows.append(
            {
                "figure": f"{mode}: USD per 1,000 pages, estimated before opening (upper bound)",
                "value": f"${fig['upper_bound_usd_per_1000']:.3f}",
            }
        )
        rows.append(
            {
                "figure": f"{mode}: input tokens per page (recorded)",
                "value": f"{fig['recorded_input_tokens_per_page']:,.0f}",
            }
        )
    for kind in sorted(pages_by_kind):
        kind_ratio = usd_by_kind["auto", kind] / usd_by_kind["image", kind]
        rows.append({"figure": f"auto / always-image, {kind} pages", "value": f"{kind_ratio:.2f}x"})
    rows.append(
        {
            "figure": "auto / always-image (estimated cost; recorded)",
            "value": f"{ratio:.2f}x; {recorded_ratio:.2f}x",
            "target": "<= 0.5x",
            "met": ratio <= 0.5,
        }
    )
    return {"model": MODEL, "pages_by_kind": pages_by_kind, "modes": figures, "rows": rows}
