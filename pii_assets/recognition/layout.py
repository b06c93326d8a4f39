"""A page's words as reading-order text with an offset map back to the words.

Words arrive grouped in lines (PyMuPDF's or Tesseract's block/line numbers). Lines that sit side by
side on the page (a label and its value drawn separately, table cells, a second column) are merged
into one visual row, so "Name:" and the value written 2 inches to its right read as one line of
text. Rows end in "\\n"; a gap wider than a few characters within a row is a column break, marked
by a tab. Patterns never cross "\\n" unless they mean to, and names never cross a tab.

Characters drawn one per box (a comb field of a form, flattened into the page: "1 2 3 4 5 6 7 8 9"
at a fixed pitch) are joined back into one value ("123456789"); comb groups printed close together
or around a printed dash ("1 2 3 - 4 5 - 6 7 8 9") read "123-45-6789".
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from pii_assets.models import Word

# A gap wider than this many average character widths separates columns, not words.
COLUMN_GAP = 2.5
# Two lines share a row when they overlap vertically by at least this share of the shorter one.
_ROW_OVERLAP = 0.5
# Rows looked back at when placing a line: enough for a table's cells, few enough to stay linear.
_ROW_LOOKBACK = 6
# Comb boxes: single characters whose centres are at most this many character heights apart, at
# a pitch that varies by at most this share along the run, with gaps wider than this share of a
# character's width (running text sets one-letter words a space apart, narrower than a letter).
_COMB_PITCH = 2.0
_COMB_EVEN = 0.2
_COMB_GAP = 0.8
# Printed between comb groups ("123-45-6789", "123–45–6789"), kept in the joined value.
_COMB_JOINERS = frozenset("-/–—")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_text(text: str) -> str:
    """`text` in lower case with the same length, so offsets stay put: Unicode lower case, or
    ASCII only in the rare text whose lower case is longer ("İ" lowers to two characters).
    Keywords are matched in it without IGNORECASE, which Python's re runs several times faster
    over long alternations of words."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _char_width(word: Word) -> float:
    return (word.x1 - word.x0) / max(len(word.text), 1)


def _column_gap(a: Word, b: Word) -> bool:
    """Whether the space between neighbouring words `a` and `b` is a column gap: wider than
    `COLUMN_GAP` average characters of `a`, or of `b` when `a` is punctuation alone (a bracket
    or a full stop is narrower than a character of the value beside it). Not the wider-set of
    the two: a header in capitals ("Name  DOB") is set wider than the gap its column keeps."""
    reference = a if any(c.isalnum() for c in a.text) else b
    return b.x0 - a.x1 > COLUMN_GAP * _char_width(reference)


@dataclass
class _Line:
    words: list[Word]
    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def of(cls, words: list[Word]) -> _Line:
        if len(words) == 1:
            w = words[0]
            return cls(words, w.x0, w.y0, w.x1, w.y1)
        return cls(
            words,
            min([w.x0 for w in words]),
            min([w.y0 for w in words]),
            max([w.x1 for w in words]),
            max([w.y1 for w in words]),
        )


def _source_lines(words: Sequence[Word]) -> list[_Line]:
    """The words grouped by their source line, each line cut at its column gaps: the pieces of
    a line drawn across columns (printed brackets "(    )" around an area-code box, a table's
    ruled row) leave room between them for what other lines put there ("312")."""
    lines: list[_Line] = []
    current: list[Word] = []
    key: tuple[int, int] | None = None
    for word in words:
        if current and ((word.block, word.line) != key or _column_gap(current[-1], word)):
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


def _separators(words: list[Word]) -> list[str]:
    """What the text puts between each word of a row and the next: a tab across a column gap, a
    space otherwise, nothing between the boxes of a comb field."""
    separators = [
        "\t" if _column_gap(a, b) else " " for a, b in zip(words, words[1:], strict=False)
    ]
    runs = _comb_runs(words)
    for first, last in runs:
        for index in range(first, last):
            separators[index] = ""
    # Comb groups side by side: around a printed dash, one value; close together, one space.
    for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
        pitch = _centre(words[end]) - _centre(words[end - 1])
        between = words[end + 1 : start]
        if len(between) == 1 and between[0].text in _COMB_JOINERS:
            separators[end] = separators[end + 1] = ""
        elif not between and _centre(words[start]) - _centre(words[end]) <= 3 * pitch:
            separators[end] = " "
    return separators


def _centre(word: Word) -> float:
    return (word.x0 + word.x1) / 2


def _comb_runs(words: list[Word]) -> list[tuple[int, int]]:
    """Runs (first, last index, inclusive) of single characters drawn one per box: at least two
    digits or three characters, at an even pitch of at most `_COMB_PITCH` character heights."""
    runs: list[tuple[int, int]] = []
    if sum(len(w.text) == 1 for w in words) < 2:
        return runs  # most rows: nothing drawn one character per box
    index = 0
    while index < len(words) - 1:
        last = index
        pitch = 0.0
        while last + 1 < len(words):
            a, b = words[last], words[last + 1]
            if not (len(a.text) == len(b.text) == 1 and a.text.isalnum() and b.text.isalnum()):
                break
            step = _centre(b) - _centre(a)
            height = max(a.y1 - a.y0, b.y1 - b.y0)
            if not 0 < step <= _COMB_PITCH * height:
                break
            if b.x0 - a.x1 <= _COMB_GAP * max(a.x1 - a.x0, b.x1 - b.x0):
                break  # one-letter words of running text, a space apart
            if pitch and abs(step - pitch) > _COMB_EVEN * pitch:
                break
            pitch = pitch or step
            last += 1
        count = last - index + 1
        digits = all(w.text.isdigit() for w in words[index : last + 1])
        if count >= 3 or (count == 2 and digits):
            runs.append((index, last))
            index = last + 1
        else:
            index += 1
    return runs


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
            row_words = [word for line in row for word in line.words]
            separators = _separators(row_words)
            for index, word in enumerate(row_words):
                if index:
                    separator = separators[index - 1]
                    parts.append(separator)
                    offset += len(separator)
                starts.append(offset)
                ordered.append(word)
                parts.append(word.text)
                offset += len(word.text)
        return cls("".join(parts), starts, ordered, row_starts)

    @functools.cached_property
    def lowered(self) -> str:
        """The text in lower case, of the same length (`lower_text`)."""
        return lower_text(self.text)

    @functools.cached_property
    def columns(self) -> list[tuple[int, int, int]]:
        """(row index, start, end) of each column's text in the rows of two or more columns:
        the text between tabs (column gaps), where table headers and form captions are looked
        for. Computed once per page for every recognizer that reads columns."""
        found = []
        text = self.text
        row_start = 0
        for row in range(len(self.row_starts)):
            row_end = text.find("\n", row_start)
            row_end = len(text) if row_end < 0 else row_end
            tab = text.find("\t", row_start, row_end)
            if tab >= 0:
                start = row_start
                while tab >= 0:
                    if tab > start:
                        found.append((row, start, tab))
                    start = tab + 1
                    tab = text.find("\t", start, row_end)
                if row_end > start:
                    found.append((row, start, row_end))
            row_start = row_end + 1
        return found

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
