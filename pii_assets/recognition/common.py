"""What every recognizer yields, and the context-word helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    entity_type: str
    start: int
    end: int
    confidence: float


def before(text: str, start: int, pattern: re.Pattern[str], window: int = 40) -> bool:
    """Whether a context keyword appears shortly before `start` (the previous row included)."""
    return pattern.search(text, max(0, start - window), start) is not None


def before_on_row(text: str, start: int, pattern: re.Pattern[str], window: int = 30) -> bool:
    """Whether a keyword appears shortly before `start` on the same row."""
    row_start = text.rfind("\n", 0, start) + 1
    return pattern.search(text, max(row_start, start - window), start) is not None


def distance_before(
    text: str, start: int, pattern: re.Pattern[str], window: int = 40, *, same_row: bool = False
) -> int | None:
    """Characters between the nearest keyword before `start` and `start`, or None if none."""
    lower = max(0, start - window)
    if same_row:
        lower = max(lower, text.rfind("\n", 0, start) + 1)
    last = None
    for m in pattern.finditer(text, lower, start):
        last = m
    return None if last is None else start - last.end()


def nearer(a: int | None, b: int | None) -> bool:
    """Whether distance `a` is found and no farther than `b` (ties go to `a`)."""
    return a is not None and (b is None or a <= b)


def clamp(confidence: float) -> float:
    return min(1.0, max(0.0, confidence))
