"""Text that is not on a page (comments, deleted text, notes) laid out on a virtual page, so the
recognizers read it like any page: one line of words per text line, words one character apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from pii_assets.documents.base import PageContent
from pii_assets.models import Word

# Virtual page size of one character and one line, in points (arbitrary but plausible).
CHAR_PT, LINE_PT = 6.0, 14.0
# A line's height within its slot: consecutive lines never overlap vertically.
LINE_HEIGHT = 0.8


def text_lines(items: Sequence[tuple[str | None, str]]) -> tuple[list[Word], float, float]:
    """Texts as lines of words, a blank line between two texts so that no value runs from one
    into the next: (words, width pt, height pt). Each item is (ref, text); every word of the
    text carries `ref` (a spreadsheet comment's cell, "Payroll!C5"; None for none)."""
    lines: list[tuple[str | None, list[str]]] = []
    for ref, text in items:
        if lines:
            lines.append((ref, []))
        lines.extend((ref, line.split()) for line in text.splitlines() if line.strip())
    total_chars = max([1, *(len(" ".join(words)) for _, words in lines)])
    sx, sy = 1.0 / total_chars, 1.0 / max(1, len(lines))
    out: list[Word] = []
    for index, (ref, line_words) in enumerate(lines):
        offset = 0
        y0 = index * sy
        for text in line_words:
            x1 = (offset + len(text)) * sx
            out.append(Word(text, offset * sx, y0, x1, y0 + LINE_HEIGHT * sy, 0, index, ref=ref))
            offset += len(text) + 1
    return out, total_chars * CHAR_PT, max(1, len(lines)) * LINE_PT


def text_unit(
    items: Sequence[tuple[str | None, str]],
    *,
    area: str,
    number: int = 0,
    paged: bool = False,
    part: str | None = None,
) -> PageContent:
    """(ref, text) items as one unit of decoded text (`source` "plain") laid out by
    `text_lines`; `number`, `paged` and `part` as `PageContent` has them."""
    words, width, height = text_lines(items)
    return PageContent(
        number=number,
        words=words,
        source="plain",
        width=width,
        height=height,
        paged=paged,
        part=part,
        area=area,
    )
