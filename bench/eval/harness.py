"""Runs recognizers over the evaluation corpus and scores them, split by text-layer and OCR pages.

Opening documents (and OCR) runs in worker processes; the recognizers then run in this process
over the words each page yielded, so every system sees exactly the same page text.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from bench.eval.corpus import EvalDocument
from bench.eval.metrics import Counts, Outcome, Prediction, match_page, tally
from pii_assets.documents import open_document
from pii_assets.models import Word
from pii_assets.recognition import ner
from pii_assets.recognizers import find_entities
from pii_pipeline.corpus import TruthEntity

# A system: page words, page number, page source -> predictions.
System = Callable[[Sequence[Word], int, str], list[Prediction]]

# The entity types the generated corpus (`bench.eval.corpus`) labels. Its pages also hold values of
# other types that it does not label (the street addresses of its letters and invoices), so
# predictions of those types cannot be judged on it and are left out of its scores.
CORPUS_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
)


@dataclass
class EvalPage:
    document: str
    family: str
    kind: str
    number: int
    source: str  # as the reader read it: "text", "ocr" or "text+ocr"

    @property
    def scored_as(self) -> str:
        """The figures the page counts in: "text" for a text layer read alone, "ocr" for a page
        whose words came from Tesseract, in whole or in part (a text layer the reader's check
        had OCR'd too and merged with it: "text+ocr")."""
        return "text" if self.source == "text" else "ocr"

    words: list[Word]


def _read(document: EvalDocument) -> list[EvalPage]:
    with open_document(document.data, name=document.name) as doc:
        return [
            EvalPage(document.name, document.family, document.kind, p.number, p.source, p.words)
            for p in doc.pages()
        ]


def read_pages(documents: Sequence[EvalDocument], workers: int | None = None) -> list[EvalPage]:
    """Every page's words (text layer or OCR), in corpus order."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    if workers == 1:
        return [page for d in documents for page in _read(d)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [page for pages in pool.map(_read, documents, chunksize=1) for page in pages]


def offline_system(
    *, default_region: str | None = None, min_confidence: float = 0.5, ner_backend: str = ""
) -> System:
    """The offline recognizers; `ner_backend` ("spacy:<pipeline>", ...) adds the NER backend."""
    backend = ner.load(ner_backend) if ner_backend else None

    def run(words: Sequence[Word], number: int, source: str) -> list[Prediction]:
        return [
            Prediction(e.entity_type, e.text, e.page, _box(e.x0, e.y0, e.x1, e.y1), e.confidence)
            for e in find_entities(
                words,
                page=number,
                source=source,
                default_region=default_region,
                min_confidence=min_confidence,
                ner=backend,
            )
        ]

    return run


def _box(*values: float | None) -> tuple[float, float, float, float] | None:
    if any(v is None for v in values):
        return None
    x0, y0, x1, y1 = values
    return (x0, y0, x1, y1)  # type: ignore[return-value]


@dataclass
class SystemResult:
    counts: dict[str, dict[str, Counts]] = field(default_factory=dict)  # source -> type -> counts
    seconds: float = 0.0
    pages: int = 0


def score(
    documents: Sequence[EvalDocument],
    pages: Sequence[EvalPage],
    system: System,
    *,
    types: Collection[str] | None = None,
) -> SystemResult:
    """Counts of `system` against the documents' truth; only predictions of `types` (all when
    None) are scored."""
    truth_by_page: dict[tuple[str, int], list[TruthEntity]] = defaultdict(list)
    for d in documents:
        for t in d.truth:
            truth_by_page[(d.name, t.page)].append(t)
    outcomes: dict[str, list[Outcome]] = {"text": [], "ocr": []}
    seconds = 0.0
    for page in pages:
        started = time.perf_counter()
        predictions = system(page.words, page.number, page.source)
        seconds += time.perf_counter() - started
        if types is not None:
            predictions = [p for p in predictions if p.entity_type in types]
        truth = truth_by_page.get((page.document, page.number), [])
        outcomes[page.scored_as].extend(match_page(truth, predictions))
    result = SystemResult(seconds=seconds, pages=len(pages))
    for source, found in outcomes.items():
        result.counts[source] = tally(found)
    every = [o for found in outcomes.values() for o in found]
    result.counts["all"] = tally(every)
    return result


def throughput(pages: Sequence[EvalPage], system: System, *, min_seconds: float = 1.0) -> float:
    """Pages per second of `system` over the text-layer pages, in this (single) thread, per
    second of this process's CPU time: other processes sharing the machine do not count against
    it, so two systems measured one after the other compare fairly."""
    text_pages = [p for p in pages if p.source == "text"]
    if not text_pages:
        return 0.0
    done = 0
    started = time.process_time()
    while True:
        for page in text_pages:
            system(page.words, page.number, page.source)
        done += len(text_pages)
        elapsed = time.process_time() - started
        if elapsed >= min_seconds:
            return done / elapsed


def throughput_pair(
    pages: Sequence[EvalPage],
    ours: System,
    theirs: System,
    *,
    rounds: int = 5,
    min_seconds: float = 0.5,
) -> tuple[float, float]:
    """Pages per CPU-second of two systems over the same text-layer pages, measured in
    alternating rounds (ours, theirs, ours, ...) and reported as each one's median: load from
    other processes that comes and goes (it slows CPU time too, through shared caches and
    cores) then weighs on both alike instead of on whichever ran during it."""
    ours_rounds, theirs_rounds = [], []
    for _ in range(rounds):
        ours_rounds.append(throughput(pages, ours, min_seconds=min_seconds))
        theirs_rounds.append(throughput(pages, theirs, min_seconds=min_seconds))
    return statistics.median(ours_rounds), statistics.median(theirs_rounds)
