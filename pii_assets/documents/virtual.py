"""Decoded text laid out on virtual pages, so that the page recognizers read it.

Text files, JSON values, markup text and e-mail headers and bodies have no pages. Their content
becomes *rows* of words; each word keeps where it really is (`Word.line`: 1-based line of the
decoded text, `Word.offset`: character offset in it, `Word.ref`: a JSON path), and rows are
grouped into units (`PageContent`, `paged=False`) of at most `ROWS_PER_UNIT` rows and
`CHARS_PER_UNIT` characters, built one at a time as the rows arrive: a file's words are never all
in memory at once.

On the virtual page a word's box spans its columns (one column per character, tabs expanded to
the next multiple of 8) and its row, so that a gap of three or more columns reads as a column
break (`recognition.layout.COLUMN_GAP`), as it would on a printed page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from pii_assets.documents.base import PageContent
from pii_assets.models import Coverage, Word

# Rows per unit and characters per unit: small enough for the recognizers' per-page work and an
# LLM's context, large enough that a label and its value rarely fall on two units.
ROWS_PER_UNIT = 120
CHARS_PER_UNIT = 24_000
# A longer line is cut (at whitespace where there is some) into rows of at most this many
# characters: a minified file has one line of megabytes.
MAX_ROW_CHARS = 2_000
TAB_SIZE = 8
# Arbitrary page size of a virtual page, in points (US Letter).
PAGE_WIDTH, PAGE_HEIGHT = 612.0, 792.0
# A row's words fill this share of its height, so rows never overlap.
_ROW_FILL = 0.8


class Token(NamedTuple):
    """One word of a row: its text, first column, source line and offset (-1: not in the source
    text, e.g. a JSON key path written as a label) and reference (a JSON path)."""

    text: str
    column: int
    line: int = 0
    offset: int = -1
    ref: str | None = None


@dataclass(slots=True)
class Row:
    """A row of a virtual page; `items` is how many source items (lines, JSON values, headers)
    it completes, for the coverage counts."""

    tokens: list[Token] = field(default_factory=list)
    items: int = 0
    width: int = 0  # columns up to the end of the last word
    chars: int = 0  # characters of the words, a space after each

    def add_text(
        self,
        text: str,
        *,
        line: int = 0,
        offset: int = -1,
        ref: str | None = None,
        gap: int = 1,
    ) -> None:
        """Appends the words of `text` after the row's last word (`gap` columns after it), each
        with `offset` + its index in `text` (when `offset` >= 0)."""
        start = self.width + gap if self.tokens else 0
        tabs = "\t" in text
        append = self.tokens.append  # runs once per word of every text file: kept tight
        for match in _WORD.finditer(text):
            index, word = match.start(), match.group()
            column = start + (visual_column(text, index) if tabs else index)
            append(Token(word, column, line, offset + index if offset >= 0 else -1, ref))
            self.width = column + len(word)
            self.chars += len(word) + 1


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"\S+")


def name_words(name: str) -> str:
    """A field name (a JSON key, an XML element) as the lower-case words of a label:
    "full_name", "fullName" and "full-name" read "full name"."""
    return " ".join(_CAMEL.sub(" ", name).replace("_", " ").replace("-", " ").split()).lower()


def visual_column(text: str, index: int) -> int:
    """The column of `text[index]` with tabs expanded to the next multiple of `TAB_SIZE`."""
    if "\t" not in text[:index]:
        return index
    column = 0
    for char in text[:index]:
        column = (column // TAB_SIZE + 1) * TAB_SIZE if char == "\t" else column + 1
    return column


def split_words(text: str) -> Iterator[tuple[int, str]]:
    """(index, word) for each run of non-whitespace characters in `text`."""
    for match in _WORD.finditer(text):
        yield match.start(), match.group()


def cut(text: str, limit: int = MAX_ROW_CHARS) -> Iterator[tuple[int, str]]:
    """(index, piece) covering `text` in pieces of at most `limit` characters, cut after the last
    whitespace in each piece when there is one, so words stay whole."""
    start = 0
    while len(text) - start > limit:
        end = start + limit
        space = max(text.rfind(" ", start, end), text.rfind("\t", start, end))
        if space > start:
            end = space + 1
        yield start, text[start:end]
        start = end
    yield start, text[start:]


def paginate(
    rows: Iterable[Row],
    *,
    area: str,
    numbers: Iterator[int] | None = None,
    rows_per_unit: int = ROWS_PER_UNIT,
    chars_per_unit: int = CHARS_PER_UNIT,
) -> Iterator[tuple[PageContent | None, int]]:
    """Units of consecutive rows (`paged=False`, source "plain"), each with the number of source
    items its rows complete; rows without words (blank lines) give None instead of a unit.
    `numbers` numbers the units (default 1, 2, ...)."""
    numbers = numbers if numbers is not None else itertools.count(1)
    batch: list[Row] = []
    chars = 0
    for row in rows:
        batch.append(row)
        chars += row.chars
        if len(batch) >= rows_per_unit or chars >= chars_per_unit:
            yield _unit(batch, area=area, numbers=numbers), sum(r.items for r in batch)
            batch, chars = [], 0
    if batch:
        yield _unit(batch, area=area, numbers=numbers), sum(r.items for r in batch)


class UnitsReader:
    """A `DocumentReader` over units made by a generator that is given the reader's coverage
    (to count what it reads and record what it cannot); formats without pages use it."""

    page_count: int = 0
    truncated: bool = False

    def __init__(
        self,
        units: Callable[[Coverage], Iterator[PageContent]],
        *,
        close: Callable[[], object] | None = None,
    ) -> None:
        self.coverage = Coverage()
        self._units = units
        self._close = close

    def pages(self) -> Iterator[PageContent]:
        return self._units(self.coverage)

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _unit(rows: list[Row], *, area: str, numbers: Iterator[int]) -> PageContent | None:
    if not any(row.tokens for row in rows):
        return None
    columns = max(max(row.width for row in rows), 1)
    height = 1.0 / len(rows)
    words: list[Word] = []
    for index, row in enumerate(rows):
        top = index * height
        bottom = top + _ROW_FILL * height
        for token in row.tokens:
            words.append(
                Word(
                    token.text,
                    token.column / columns,
                    top,
                    (token.column + len(token.text)) / columns,
                    bottom,
                    # Rows are blocks: two rows cut from one long line stay two rows.
                    block=index,
                    line=token.line,
                    ref=token.ref,
                    offset=token.offset,
                )
            )
    return PageContent(
        number=next(numbers),
        words=words,
        source="plain",
        width=PAGE_WIDTH,
        height=PAGE_HEIGHT,
        paged=False,
        area=area,
    )
