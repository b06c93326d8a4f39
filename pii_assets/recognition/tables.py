"""Table columns by their header: the cells below a header such as "Name" or "Date of birth".

Cells are found by geometry, not by line numbers, so a table whose cells OCR reads as separate
blocks, merges with a neighbour or decorates with stray marks still lines up: a word belongs to
the column whose header it starts under.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pii_assets.recognition.layout import PageText

# Rows after the header that are read before giving up on a table.
_MAX_ROWS = 80
# How far (page widths) a value may start left of its header: OCR boxes and skew wobble.
_SLACK = 0.015


@dataclass(frozen=True)
class Cell:
    start: int  # character offsets in the page text
    end: int
    header: int = -1  # offset of the header the cell is under


def _row_range(page: PageText, row: int) -> range:
    first = page.row_starts[row]
    last = page.row_starts[row + 1] if row + 1 < len(page.row_starts) else len(page.words)
    return range(first, last)


def _has_text(word: str) -> bool:
    return any(c.isalnum() for c in word)


def column_cells(
    page: PageText,
    header: re.Pattern[str],
    *,
    max_rows: int = _MAX_ROWS,
    gaps: int = 1,
    centred: bool = False,
    captions: bool = False,
    within: bool = False,
    match_text: str | None = None,
) -> Iterator[Cell]:
    """The cell under every header that `header` matches, row by row until the table ends (more
    than `gaps` rows in a row with nothing in the column) or `max_rows` rows were read (a form
    caption labels the box under it: a row or a few).

    A header is a match standing alone between column gaps (tabs) or the row's ends, in a row of
    at least two columns. `centred`: the header may be centred over its column (a form's caption
    over a box), so a word whose centre lies under the header belongs to the column even when it
    starts left of it. `captions`: the headers are a form's captions, which wrap onto more lines
    and sit among other text, so text running across the column's edges is stepped over instead
    of ending the table. `within`: a column's text is a header when `header` matches any part
    of it ("(2) Social security" holds "social security"), not all of it. `match_text`: the page
    text as `header` is matched against, of the same length (e.g. `page.lowered` for a
    pattern without IGNORECASE, which Python's re runs several times faster).
    """
    # Each column's text (between tabs) is a header when `header` matches it (`within`).
    match = header.search if within else header.fullmatch
    matched = page.text if match_text is None else match_text
    for row, start, end in page.columns:
        if not match(matched, start, end):
            continue
        words = _row_range(page, row)
        first = page.word_index(start)
        after = page.word_index(end - 1) + 1
        left = page.words[first].x0 - _SLACK
        right = page.words[after].x0 - _SLACK / 3 if after in words else 1.01
        if centred:  # a caption centred over a wider box: its column reaches further left
            left -= 0.5 * (page.words[after - 1].x1 - page.words[first].x0)
        for cell in _cells_below(page, row + 1, left, right, max_rows, gaps, captions):
            yield Cell(cell.start, cell.end, start)


def _cells_below(
    page: PageText,
    row: int,
    left: float,
    right: float,
    max_rows: int,
    gaps: int,
    captions: bool = False,
) -> Iterator[Cell]:
    misses = 0
    for below in range(row, min(len(page.row_starts), row + max_rows)):
        inside = []
        for index in _row_range(page, below):
            word = page.words[index]
            if (word.x0 < left - _SLACK and word.x1 > left + 2 * _SLACK) or (
                word.x0 < right and word.x1 > right + 2 * _SLACK
            ):
                if captions:
                    continue
                return  # text running across the column's edges: prose, the table is over
            if left <= word.x0 < right and _has_text(word.text):
                inside.append(index)
        if not inside:
            misses += 1
            if misses > gaps:
                return
            continue
        misses = 0
        # The words under the header, up to the first column gap (a tab) between them.
        last = inside[0]
        for index in inside[1:]:
            if index != last + 1 or page.text[page.starts[index] - 1] == "\t":
                break
            last = index
        yield Cell(page.starts[inside[0]], page.word_end(last))
