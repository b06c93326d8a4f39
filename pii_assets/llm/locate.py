"""Find an entity's text among a page's words (text layer or OCR) to give it a bounding box.

The model answers with values, not positions. A value is matched against the page's words joined
in reading order, first as written (case-insensitive, whitespace collapsed), then with all
whitespace removed (OCR splits "4111 1111" differently from how a model writes it). The box is
the union of the matched words' boxes. The n-th entity with the same text gets the n-th match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pii_assets.models import Word

Box = tuple[float, float, float, float]
_SPACES = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass
class _Index:
    text: str
    owners: list[int]  # word index of each character of `text`


def _index(words: Sequence[Word], *, compact: bool) -> _Index:
    chars: list[str] = []
    owners: list[int] = []
    for i, word in enumerate(words):
        token = _norm(word.text)
        if compact:
            token = token.replace(" ", "")
        elif chars:
            chars.append(" ")
            owners.append(i)
        chars.extend(token)
        owners.extend([i] * len(token))
    return _Index("".join(chars), owners)


class PageLocator:
    """Locates values on one page; remembers matches so repeated values get successive boxes."""

    def __init__(self, words: Sequence[Word]) -> None:
        self._words = list(words)
        self._spaced = _index(self._words, compact=False)
        self._compact = _index(self._words, compact=True)
        self._used: dict[str, int] = {}

    def locate(self, value: str) -> Box | None:
        needle = _norm(value)
        if not needle or not self._words:
            return None
        for index, key in ((self._spaced, needle), (self._compact, needle.replace(" ", ""))):
            spans = _find_all(index.text, key)
            if spans:
                nth = self._used.get(needle, 0)
                self._used[needle] = nth + 1
                start, end = spans[nth % len(spans)]
                return self._box(index.owners[start:end])
        return None

    def _box(self, owners: list[int]) -> Box:
        chosen = [self._words[i] for i in sorted(set(owners))]
        return (
            min(w.x0 for w in chosen),
            min(w.y0 for w in chosen),
            max(w.x1 for w in chosen),
            max(w.y1 for w in chosen),
        )


def _find_all(haystack: str, needle: str) -> list[tuple[int, int]]:
    """Every occurrence; those not inside a longer word ("Ann" in "Annual") come first."""
    spans: list[tuple[int, int]] = []
    start = haystack.find(needle)
    while start != -1:
        spans.append((start, start + len(needle)))
        start = haystack.find(needle, start + 1)

    def inside_word(span: tuple[int, int]) -> bool:
        before = haystack[span[0] - 1] if span[0] > 0 else " "
        after = haystack[span[1]] if span[1] < len(haystack) else " "
        return before.isalnum() or after.isalnum()

    return sorted(spans, key=inside_word)
