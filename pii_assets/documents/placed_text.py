"""Text that is not drawn on a page's text layer (annotation contents, form-field values, XFA data,
document metadata) laid out as words, so the same recognizers read it and each value keeps a place
a reviewer finds.

Words come out as PyMuPDF word tuples `(x0, y0, x1, y1, text, block, line, word)` in unrotated
page points, so `paged.normalise_words` maps them onto the page as displayed exactly like the
text layer's words. Glyphs are given equal widths: only where a word lies matters, not its shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import pymupdf

from pii_assets.documents.base import PageContent
from pii_assets.documents.paged import normalise_words

# Average glyph width as a share of the font size (Helvetica's lowercase average is ~0.5 em).
CHAR_WIDTH = 0.5
# Line height as a share of the font size.
LINE_HEIGHT = 1.2
DEFAULT_FONT_SIZE = 10.0

# Rows of a `rows_unit`'s virtual page: points per row and per character (an arbitrary page).
_ROW = 14.0
_CHAR = 6.0
_MARGIN = 36.0
_ROW_FONT = _ROW / LINE_HEIGHT

_TOKEN = re.compile(r"\S+")

RawWord = tuple[float, float, float, float, str, int, int, int]


def _row_words(
    text: str, x: float, y: float, char_width: float, height: float, block: int, line: int
) -> list[RawWord]:
    return [
        (
            x + match.start() * char_width,
            y,
            x + match.end() * char_width,
            y + height,
            match.group(),
            block,
            line,
            number,
        )
        for number, match in enumerate(_TOKEN.finditer(text))
    ]


def in_rect(
    lines: Sequence[str],
    rect: pymupdf.Rect,
    *,
    block: int,
    first_line: int = 0,
    font_size: float = DEFAULT_FONT_SIZE,
) -> list[RawWord]:
    """`lines` set top-down inside `rect`, one row each: rows at most `font_size` high, glyphs
    narrowed so the longest line fits the width. A degenerate rect (no width or height) gets
    rows of `font_size` starting at its corner."""
    rows = [line for line in lines if line.strip()]
    if not rows:
        return []
    row_height = font_size * LINE_HEIGHT
    if rect.height > 0:
        row_height = min(row_height, rect.height / len(rows))
    char_width = row_height / LINE_HEIGHT * CHAR_WIDTH
    longest = max(len(row) for row in rows)
    if rect.width > 0:
        char_width = min(char_width, rect.width / longest)
    words: list[RawWord] = []
    for index, row in enumerate(rows):
        y = rect.y0 + index * row_height
        words += _row_words(row, rect.x0, y, char_width, row_height, block, first_line + index)
    return words


def before_rect(
    text: str, rect: pymupdf.Rect, *, block: int, line: int, left: float, height: float
) -> list[RawWord]:
    """`text` on one row of `height` ending just left of `rect` (a field's label before its
    box), squeezed into the room between `left` and the rect when it does not fit."""
    if not text.strip():
        return []
    char_width = height / LINE_HEIGHT * CHAR_WIDTH
    gap = char_width
    room = max(rect.x0 - gap - left, 0.0)
    if len(text) * char_width > room:
        char_width = room / len(text)
    x = rect.x0 - gap - len(text) * char_width
    return _row_words(text, x, rect.y0, char_width, height, block, line)


def in_cells(value: str, rect: pymupdf.Rect, cells: int, *, block: int, line: int) -> list[RawWord]:
    """A comb field's value, one character per cell: the field's width divided into `cells`
    equal boxes (PDF 32000-1:2008 §12.7.4.3, the Comb flag of text fields)."""
    cell = rect.width / max(cells, 1)
    return _row_words(value, rect.x0, rect.y0, cell, rect.height, block, line)


def rows_unit(rows: Sequence[tuple[str, str]], *, area: str) -> PageContent:
    """One unit that is not a page (`paged=False`, source "plain") holding `rows`, each a pair
    (reference, row text) set on its own line of a virtual page; every word of a row carries the
    row's reference in `Word.ref` (an XFA element path, a metadata key), and its `line` is the
    1-based row, as a text file's lines are numbered. `rows` must not be empty."""
    texts = [text for _, text in rows]
    width = max(612.0, 2 * _MARGIN + _CHAR * max(len(text) for text in texts))
    height = max(792.0, 2 * _MARGIN + _ROW * len(texts))
    raw: list[RawWord] = []
    for index, text in enumerate(texts):
        top = _MARGIN + index * _ROW
        rect = pymupdf.Rect(_MARGIN, top, width - _MARGIN, top)
        raw += in_rect([text], rect, block=0, first_line=index + 1, font_size=_ROW_FONT)
    words = normalise_words(raw, None, pymupdf.Rect(0, 0, width, height))
    return PageContent(
        number=1,
        words=[replace(w, ref=rows[w.line - 1][0]) for w in words],
        source="plain",
        width=width,
        height=height,
        paged=False,
        area=area,
    )
