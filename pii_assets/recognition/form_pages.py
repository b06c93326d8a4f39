"""Forms on the page: what a filled form's drawn values or a flattened form (fields burned into
the page, no fields left) still say through their layout (characters drawn one per comb box are
joined back into one value by `layout.PageText`):

- a value drawn over a printed blank line follows its label (`fill_blanks`);
- a value in the box under a printed caption ("Your social security number") is typed by that
  caption and checked by shape like a form field's value (`caption_values`);
- so is a value in a box whose caption is printed to its left, wrapped or not ("DATE" / "OF" /
  "BIRTH"), an area code and a number in boxes side by side being one value (`beside_values`).

A date that printed instructions compare against ("born before January 2, 1946") is no birth
date wherever it is found (`dates.conditional_date`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pii_assets.models import ENTITY_TYPES, Word
from pii_assets.recognition.common import Candidate
from pii_assets.recognition.forms import LABEL_KINDS, label_kinds, value_type
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.tables import column_cells

# --- Values under printed captions (a filled or flattened form's page) ----------------------------

# Kinds whose values are recognised under a caption; names have their own (`names.caption_names`).
_CAPTIONED_KINDS = ("ssn", "itin", "routing", "account", "phone", "dob", "email")
_CAPTION_PATTERNS = [p.pattern for k, p in LABEL_KINDS if k in _CAPTIONED_KINDS]
# A caption labels the box under it: a label followed by a colon ("Phone: (415) 555-0132",
# "Date of birth:" and the value in the next column) labels the value beside it, which the
# page's recognizers read, unless a printed blank follows the colon ("Phone 1: ________").
# Matched against the page's text in lower case (Python's re runs it several times faster
# than with IGNORECASE), at word starts only: the engine leaves other positions after one test.
_CAPTION = re.compile(
    r"(?=[a-z])(?<![a-z])(?:" + "|".join(_CAPTION_PATTERNS) + r")(?![^\t\n]*:(?![ \t]*[_.]{3}))"
)

# A "caption" holding a number of its own ("Phone extension 8028", "Tel +33 6 12 34 51 25") is a
# line of text with its value, read by the page's recognizers: it heads no boxes below it.
# Printed item numbers ("(2)", "4a", "15") are shorter.
_VALUE_IN_CAPTION = re.compile(r"\d{3}|\d[ .\-]\d")


def caption_values(
    page: PageText, region: str = "US", known: Iterable[Candidate] = ()
) -> list[Candidate]:
    """Values drawn in the boxes under printed captions ("(2) Social security number" over a
    table's column of SSNs, "Date of birth" over a box), typed by the caption and checked by
    shape like a field's value (`form_entities`). Confidence 0.9. A cell whose value is one of
    the `known` candidates (the page's recognizers found it already) is not looked at again."""
    known_spans = {(c.start, c.end) for c in known}
    text = page.text
    lowered = page.lowered
    if "\t" not in text or not _CAPTION.search(lowered):
        return []
    found = []
    # A caption starts over its box or sits centred over it: both readings, each cell once.
    cells = {
        cell: None
        for centred in (False, True)
        for cell in column_cells(
            page,
            _CAPTION,
            max_rows=6,
            gaps=1,
            centred=centred,
            captions=True,
            within=True,
            match_text=lowered,
        )
    }
    for cell in cells:
        header_end = text.find("\t", cell.header)
        newline = text.find("\n", cell.header)
        ends = [e for e in (header_end, newline) if e >= 0]
        caption = text[cell.header : min(ends) if ends else len(text)]
        if _VALUE_IN_CAPTION.search(caption):
            continue
        value = text[cell.start : cell.end]
        # A neighbouring box's value can sit a space away ("318130772 Son", "1981 190522501"):
        # the first or the last word alone.
        first_end = cell.start + len(value.split(" ", 1)[0])
        last_start = cell.end - len(value.rsplit(" ", 1)[-1])
        spans = dict.fromkeys(
            ((cell.start, cell.end), (cell.start, first_end), (last_start, cell.end))
        )
        if not known_spans.isdisjoint(spans):
            continue
        for kind in label_kinds(caption):
            if kind not in _CAPTIONED_KINDS:
                continue
            typed = [(s, e, value_type(kind, text[s:e], region)) for s, e in spans]
            hits = [(s, e, t) for s, e, t in typed if t]
            if hits:
                start, end, entity_type = hits[0]
                if entity_type in ENTITY_TYPES:
                    found.append(Candidate(entity_type, start, end, 0.9))  # type: ignore[arg-type]
                break
    return list(dict.fromkeys(found))


# --- Values beside printed captions ---------------------------------------------------------------

# A caption block's lines read as one caption, up to this many.
_CAPTION_BLOCK_LINES = 4
_ITEM_NUMBER = re.compile(r"\d{1,2}[a-z]?|[A-Z]\.|\([a-z0-9]\)")


def beside_values(
    page: PageText, region: str = "US", known: Iterable[Candidate] = ()
) -> list[Candidate]:
    """Values in a box with its caption printed to its left, often wrapped over the lines of
    one text block around the box's row ("DATE" / "OF" / "BIRTH" beside "09/30/1992", "DAYTIME
    PHONE" / "NUMBER" beside an area-code box and a number box): typed by the caption's kinds
    and checked by shape like a field's value. A number split over two boxes side by side (area
    code and number) is one value. A caption ending in a colon labels a value the page's
    recognizers read; `known` values are not looked at again. Confidence 0.9."""
    text = page.text
    if "\t" not in text:
        return []
    known_spans = {(c.start, c.end) for c in known}
    columns = page.columns
    blocks: dict[int, list[Word]] | None = None
    found = []
    for index in range(1, len(columns)):
        row, start, end = columns[index]
        left_row, left_start, left_end = columns[index - 1]
        if left_row != row or text[left_end - 1] == ":" or (start, end) in known_spans:
            continue
        if not any(c.isdigit() or c == "@" for c in text[start:end]):
            continue
        if blocks is None:
            blocks = {}
            for word in page.words:
                blocks.setdefault(word.block, []).append(word)
        caption = _block_caption(
            page.words[page.word_index(left_start)].x0,
            page.words[page.word_index(left_end - 1)],
            page.words[page.word_index(start)].x0,
            blocks,
        )
        kinds = [k for k in label_kinds(caption) if k in _CAPTIONED_KINDS]
        if not kinds:
            continue
        spans = [(start, end)]
        if index + 1 < len(columns) and columns[index + 1][0] == row:
            spans.append((start, columns[index + 1][2]))  # area code | number
        for s, e in spans:
            value = text[s:e].replace("\t", " ")
            entity_type = next(filter(None, (value_type(k, value, region) for k in kinds)), None)
            if entity_type in ENTITY_TYPES:
                found.append(Candidate(entity_type, s, e, 0.9))  # type: ignore[arg-type]
                break
    return found


def _block_caption(left: float, word: Word, right: float, blocks: dict[int, list[Word]]) -> str:
    """The caption `word` ends: the lines of its text block around its own and between `left`
    (where the caption starts on the value's row) and `right` (where the value starts), in
    reading order, without item numbers ("4", "15", "A.")."""
    height = word.y1 - word.y0
    top, bottom = word.y0 - _CAPTION_BLOCK_LINES * height, word.y1 + _CAPTION_BLOCK_LINES * height
    lines = [
        w
        for w in blocks[word.block]
        if left - height <= (w.x0 + w.x1) / 2 < right and top <= (w.y0 + w.y1) / 2 <= bottom
    ]
    lines.sort(key=lambda w: (w.line, w.x0))
    return " ".join(w.text for w in lines if not _ITEM_NUMBER.fullmatch(w.text))


# --- Values written on a blank line ---------------------------------------------------------------

_BLANK = re.compile(r"[_.]{3,}:?")


def fill_blanks(words: Sequence[Word]) -> list[Word]:
    """The words with each printed blank ("Phone 1: ________") replaced by the value written over
    it: words whose centre lies within the blank's width and less than a line above or below it.
    A filled or flattened form draws its values over such lines, slightly off their baseline, so
    the text layer reads them as a row of their own; put back on the blank's row, a value follows
    its label ("Phone 1: (217) 555-0028")."""
    blanks = [i for i, w in enumerate(words) if _BLANK.fullmatch(w.text)]
    if not blanks:
        return list(words)
    lines: dict[tuple[int, int], list[int]] = {}
    for i, w in enumerate(words):
        lines.setdefault((w.block, w.line), []).append(i)
    moved: dict[int, list[int]] = {}
    taken: set[int] = set()
    for b in blanks:
        blank = words[b]
        centre = (blank.y0 + blank.y1) / 2
        for key, members in lines.items():
            if key == (blank.block, blank.line) or taken.intersection(members):
                continue
            line = [words[i] for i in members]
            # A whole line of its own lying over the blank, less than a line's height off it.
            height = min(blank.y1 - blank.y0, max(w.y1 - w.y0 for w in line))
            if all(
                blank.x0 <= (w.x0 + w.x1) / 2 <= blank.x1
                and not _BLANK.fullmatch(w.text)
                and abs((w.y0 + w.y1) / 2 - centre) <= 0.8 * height
                for w in line
            ):
                moved.setdefault(b, []).extend(members)
                taken.update(members)
        if b in moved:
            moved[b].sort(key=lambda i: words[i].x0)
    if not moved:
        return list(words)
    out: list[Word] = []
    for i, w in enumerate(words):
        if i in taken:
            continue
        if i in moved:
            out.extend(
                Word(v.text, v.x0, v.y0, v.x1, v.y1, w.block, w.line, v.ref, v.offset)
                for v in (words[j] for j in moved[i])
            )
        else:
            out.append(w)
    return out
