"""What every recognizer yields, and the context-word helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A value a recognizer found: its type, character span [start, end) in the page text and
    confidence in [0, 1].

    A `claim` is not a value: it marks the span of something shaped like this type that failed
    validation (a malformed IBAN, a card number with a bad check digit). No other type may report
    a value overlapping it: the digits of a malformed IBAN are not a card or a phone number.
    """

    entity_type: str
    start: int
    end: int
    confidence: float
    claim: bool = False


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


def mentions(text: str, keys: tuple[str, ...]) -> bool:
    """Whether the lower-cased text holds any of `keys`: a quick test that lets a label-gated
    recognizer skip a page without its label words (most pages) before any regex runs."""
    lowered = text.lower()
    return any(key in lowered for key in keys)


def clamp(confidence: float) -> float:
    return min(1.0, max(0.0, confidence))


# Patterns that scan a whole page start with a lookahead naming the characters a match can start
# with ("(?=\\d)"): the regex engine then skips other positions with one test, where a leading
# lookbehind or alternation would be tried in full at every character (3 to 20 times slower).

# A field label: a word or two followed by a colon ("Phone:", "Date of birth:", "IBAN :").
_LABEL = re.compile(r"[^\W\d_][\w'./-]*(?:[ ][\w'./-]+){0,3}[ \t]*:(?=[ \t\n]|$)")
# A label's own qualifier in brackets ("Date of birth (as on ID):") is part of that label.
_BRACKETED = re.compile(r"\([^()\n]*\)")


def label_between(text: str, start: int, end: int) -> bool:
    """Whether another field's label ("Start date:", "IBAN:") sits in text[start:end]: a value
    found after it belongs to that field, not to the label a recognizer started from."""
    gap = _BRACKETED.sub(lambda m: " " * len(m[0]), text[start:end])
    return _LABEL.search(gap) is not None


def labelled_value(
    text: str, label: re.Match[str], value: re.Pattern[str], window: int = 40
) -> re.Match[str] | None:
    """The first match of `value` after `label` within `window` characters, on the label's row or
    at the start of the next one, with no other label between them."""
    end = min(len(text), label.end() + window)
    m = value.search(text, label.end(), end)
    if m is None:
        return None
    gap = text[label.end() : m.start()]
    if gap.count("\n") > 1 or label_between(text, label.end(), m.start()):
        return None
    return m
