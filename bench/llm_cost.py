"""LLM cost: estimated tokens and USD per 1,000 pages on a mixed corpus of text PDFs and scans,
`auto` routing (text layer as text, scans as images) versus always sending the page image at the
original design's settings (gpt-4o-mini, detail auto, full-size pages). Also compares the
estimates with the usage the fake OpenAI server records for the same pages.
"""

from __future__ import annotations

from typing import Any

from pii_assets.extraction import extract_document
from pii_assets.llm.pricing import Usage, cost_usd
from pii_pipeline.corpus import generate_corpus
from tests.fake_openai import FakeOpenAI
from tests.llm_helpers import make_extractor

MODEL = "gpt-4o-mini"
KINDS = ("text_pdf", "scanned_pdf")
SETTINGS = {
    "auto": {"input_mode": "auto", "max_image_side": 1024},
    "image": {"input_mode": "image", "max_image_side": 2048},  # the original design
}


def _corpus() -> list:
    return [doc for doc in generate_corpus(32, seed=11) if doc.kind in KINDS]


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
            pages = 0
            for doc in corpus:
                estimate = extractor.estimate_document_usd(doc.data)
                estimated_usd += estimate
                usd_by_kind[mode, doc.kind] = usd_by_kind.get((mode, doc.kind), 0.0) + estimate
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
                "recorded_usd_per_1000": cost_usd(recorded, extractor.price) / pages * 1000,
                "recorded_input_tokens_per_page": recorded.input_tokens / pages,
            }
            extractor.close()
    for kind in pages_by_kind:
        pages_by_kind[kind] //= len(SETTINGS)
    auto, image = figures["auto"], figures["image"]
    ratio = auto["estimated_usd_per_1000"] / image["estimated_usd_per_1000"]
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
                "figure": f"{mode}: input tokens per page (recorded)",
                "value": f"{fig['recorded_input_tokens_per_page']:,.0f}",
            }
        )
    for kind in sorted(pages_by_kind):
        kind_ratio = usd_by_kind["auto", kind] / usd_by_kind["image", kind]
        rows.append({"figure": f"auto / always-image, {kind} pages", "value": f"{kind_ratio:.2f}x"})
    rows.append(
        {
            "figure": "auto / always-image (estimated cost)",
            "value": f"{ratio:.2f}x",
            "target": "<= 0.5x",
            "met": ratio <= 0.5,
        }
    )
    return {"model": MODEL, "pages_by_kind": pages_by_kind, "modes": figures, "rows": rows}
