"""Matching predictions to ground truth, and precision / recall / F1 / box accuracy from counts.

A prediction matches a truth entity of the same type on the same page when their values agree
after normalisation (letters and digits only, case-folded; a similarity of at least 0.8 tolerates
an OCR slip or a span that includes or drops a "+1"). Among candidate pairs the one whose boxes
overlap most wins, so a value written twice on a page pairs with the right occurrence. Box accuracy
is the share of matched pairs whose boxes overlap with IoU >= 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pii_pipeline.corpus import TruthEntity

Box = tuple[float, float, float, float]
MIN_SIMILARITY = 0.8
MIN_IOU = 0.5


@dataclass(frozen=True)
class Prediction:
    entity_type: str
    text: str
    page: int
    box: Box | None
    confidence: float = 1.0


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    box_ok: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.box_ok += other.box_ok

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def box_accuracy(self) -> float:
        return self.box_ok / self.tp if self.tp else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "box_accuracy": round(self.box_accuracy, 4),
        }


def iou(a: Box | None, b: Box | None) -> float:
    if a is None or b is None:
        return 0.0
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def normalise(value: str) -> str:
    return "".join(c for c in value.casefold() if c.isalnum())


def similarity(a: str, b: str) -> float:
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return 1.0
    return SequenceMatcher(None, na, nb, autojunk=False).ratio()


@dataclass(frozen=True)
class Outcome:
    """One truth or prediction after matching, by type: what happened to it (no values kept)."""

    entity_type: str
    kind: str  # "tp", "fp" or "fn"
    box_ok: bool = False


def match_page(truth: Sequence[TruthEntity], predictions: Sequence[Prediction]) -> list[Outcome]:
    """Outcomes for one page: a tp per matched pair, an fn per missed truth, an fp per extra."""
    pairs: list[tuple[float, float, int, int]] = []
    for ti, t in enumerate(truth):
        for pi, p in enumerate(predictions):
            if t.entity_type != p.entity_type:
                continue
            score = similarity(t.text, p.text)
            if score >= MIN_SIMILARITY:
                pairs.append((iou(t.box, p.box), score, ti, pi))
    pairs.sort(key=lambda pair: (pair[0], pair[1]), reverse=True)
    used_t: set[int] = set()
    used_p: set[int] = set()
    outcomes: list[Outcome] = []
    for overlap, _, ti, pi in pairs:
        if ti in used_t or pi in used_p:
            continue
        used_t.add(ti)
        used_p.add(pi)
        outcomes.append(Outcome(truth[ti].entity_type, "tp", overlap >= MIN_IOU))
    outcomes.extend(Outcome(t.entity_type, "fn") for i, t in enumerate(truth) if i not in used_t)
    outcomes.extend(
        Outcome(p.entity_type, "fp") for i, p in enumerate(predictions) if i not in used_p
    )
    return outcomes


def tally(outcomes: Iterable[Outcome]) -> dict[str, Counts]:
    """Counts per entity type, plus "ALL"."""
    counts: dict[str, Counts] = {"ALL": Counts()}
    for outcome in outcomes:
        for key in (outcome.entity_type, "ALL"):
            c = counts.setdefault(key, Counts())
            if outcome.kind == "tp":
                c.tp += 1
                c.box_ok += outcome.box_ok
            elif outcome.kind == "fp":
                c.fp += 1
            else:
                c.fn += 1
    return counts
