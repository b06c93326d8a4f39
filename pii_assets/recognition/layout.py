"""A page's words as reading-order text with an offset map back to the words.

Words arrive grouped in lines (PyMuPDF's or Tesseract's block/line numbers). Lines that sit side by
side on the page (a label and its value drawn separately, table cells, a second column) are merged
into one visual row, so "Name:" and the value written 2 inches to its right read as one line of
text. Rows end in "\\n"; a gap wider than a few characters within a row is a column break, marked
by a tab. Patterns never cross "\\n" unless they mean to, and names never cross a tab.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from pii_assets.models import Word

# A gap wider than this many average character widths separates columns, not words.
COLUMN_GAP = 2.5
# Two lines share a row when they overlap vertically by at least this share of the shorter one.
_ROW_OVERLAP = 0.5
# Rows looked back at when placing a line: enough for a table's cells, few enough to stay linear.
_ROW_LOOKBACK = 6


def _char_width(word: Word) -> float:
    return (word.x1 - word.x0) / max(len(word.text), 1)


@dataclass
class _Line:
    words: list[Word]
    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def of(cls, words: list[Word]) -> _Line:
        return cls(
            words,
            min(w.x0 for w in words),
            min(w.y0 for w in words),
            max(w.x1 for w in words),
            max(w.y1 for w in words),
        )


def _source_lines(words: Sequence[Word]) -> list[_Line]:
    lines: list[_Line] = []
    current: list[Word] = []
    key: tuple[int, int] | None = None
    for word in words:
        if (word.block, word.line) != key and current:
            lines.append(_Line.of(current))
            current = []
        key = (word.block, word.line)
        current.append(word)
    if current:
        lines.append(_Line.of(current))
    return lines


def _joins(row: list[_Line], line: _Line) -> bool:
    """Whether `line` sits beside the row: vertically level with its nearest neighbour, and
    overlapping none of its lines horizontally."""
    nearest: _Line | None = None
    distance = float("inf")
    for other in row:
        if other.x0 < line.x1 and line.x0 < other.x1:
            return False
        gap = line.x0 - other.x1 if other.x1 <= line.x0 else other.x0 - line.x1
        if gap < distance:
            nearest, distance = other, gap
    if nearest is None:
        return False
    overlap = min(nearest.y1, line.y1) - max(nearest.y0, line.y0)
    shorter = min(nearest.y1 - nearest.y0, line.y1 - line.y0)
    return shorter > 0 and overlap >= _ROW_OVERLAP * shorter


def _rows(lines: list[_Line]) -> list[list[_Line]]:
    rows: list[list[_Line]] = []
    for line in sorted(lines, key=lambda item: (item.y0 + item.y1) / 2):
        for row in reversed(rows[-_ROW_LOOKBACK:]):
            if _joins(row, line):
                row.append(line)
                break
        else:
            rows.append([line])
    for row in rows:
        row.sort(key=lambda item: item.x0)
    return rows


@dataclass(frozen=True)
class PageText:
    text: str
    starts: list[int]  # start offset of each word in `text`
    words: list[Word]  # in reading order
    row_starts: list[int]  # index in `words` of each row's first word

    @classmethod
    def build(cls, words: Sequence[Word]) -> PageText:
        parts: list[str] = []
        starts: list[int] = []
        ordered: list[Word] = []
        row_starts: list[int] = []
        offset = 0
        for row in _rows(_source_lines(words)):
            if ordered:
                parts.append("\n")
                offset += 1
            row_starts.append(len(ordered))
            previous: Word | None = None
            for line in row:
                for word in line.words:
                    if previous is not None:
                        gap = word.x0 - previous.x1
                        parts.append("\t" if gap > COLUMN_GAP * _char_width(previous) else " ")
                        offset += 1
                    previous = word
                    starts.append(offset)
                    ordered.append(word)
                    parts.append(word.text)
                    offset += len(word.text)
        return cls("".join(parts), starts, ordered, row_starts)

    def word_index(self, offset: int) -> int:
        """Index of the word at or before the character offset."""
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def box(self, start: int, end: int) -> tuple[float, float, float, float] | None:
        """Union of the boxes of the words that the span [start, end) touches."""
        first = self.word_index(start)
        last = bisect.bisect_left(self.starts, end)
        covered = self.words[first:last]
        if not covered:
            return None
        return (
            min(w.x0 for w in covered),
            min(w.y0 for w in covered),
            max(w.x1 for w in covered),
            max(w.y1 for w in covered),
        )

    def word_end(self, index: int) -> int:
        return self.starts[index] + len(self.words[index].text)
