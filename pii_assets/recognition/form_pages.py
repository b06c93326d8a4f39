"""Forms on the page: what a filled form's drawn values or a flattened form (fields burned into
the page, no fields left) still say through their layout.

- characters drawn one per comb box are joined back into one word (`join_comb_runs`), also when
  a separator is printed between groups of boxes ("[0][0][6] - [9][3] - [8][0][9][4]");
- a value drawn over a printed blank line follows its label (`fill_blanks`);
- a value in the box under a printed caption ("Your social security number") is typed by that
  caption and checked by shape like a form field's value (`caption_values`);
- a date that printed instructions compare against ("born before January 2, 1946") is not a
  birth date (`conditional_date`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from pii_assets.models import ENTITY_TYPES, Word
from pii_assets.recognition.common import Candidate
from pii_assets.recognition.forms import LABEL_KINDS, label_kinds, value_type
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.tables import ascii_lower, column_cells

# --- Values under printed captions (a filled or flattened form's page) ----------------------------

# Kinds whose values are recognised under a caption; names have their own (`names.caption_names`).
_CAPTIONED_KINDS = ("ssn", "itin", "routing", "account", "phone", "dob", "email")
# Matched against the page's text in ASCII lower case: Python's re runs it several times faster
# than with IGNORECASE.
_CAPTION = re.compile("|".join(p.pattern for k, p in LABEL_KINDS if k in _CAPTIONED_KINDS))


def caption_values(page: PageText, region: str = "US") -> list[Candidate]:
    """Values drawn in the boxes under printed captions ("(2) Social security number" over a
    table's column of SSNs, "Date of birth" over a box), typed by the caption and checked by
    shape like a field's value (`form_entities`). Confidence 0.9."""
    text = page.text
    lowered = ascii_lower(text)
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
        value = text[cell.start : cell.end]
        # A neighbouring box's value can sit a space away ("318130772 Son", "1981 190522501"):
        # the first or the last word alone.
        first_end = cell.start + len(value.split(" ", 1)[0])
        last_start = cell.end - len(value.rsplit(" ", 1)[-1])
        spans = dict.fromkeys(
            ((cell.start, cell.end), (cell.start, first_end), (last_start, cell.end))
        )
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


# --- Comb fields on the page ---------------------------------------------------------------------

# Characters drawn one per box: at least this many, with a regular pitch.
_MIN_COMB = 4
_PITCH_TOLERANCE = 0.2


def join_comb_runs(words: Sequence[Word]) -> list[Word]:
    """The words with each run of single characters drawn one per comb box joined into one word
    (text joined, box the union), so "1 2 3 4 5 6 7 8 9" in an SSN's boxes reads as 123456789.

    A run is at least four one-character letters or digits on one baseline, each gap wider than
    0.8 of a character and the pitch (distance between character starts) regular within 20%:
    a comb's boxes, not words in running text.
    """
    singles = [i for i, w in enumerate(words) if _boxed(w.text)]
    if len(singles) < _MIN_COMB:
        return list(words)
    # Rows: characters whose vertical centres lie within half a character height of each other.
    rows: list[list[int]] = []
    for i in sorted(singles, key=lambda i: (words[i].y0 + words[i].y1) / 2):
        w = words[i]
        centre, height = (w.y0 + w.y1) / 2, w.y1 - w.y0
        last = words[rows[-1][-1]] if rows else None
        if last is not None and abs((last.y0 + last.y1) / 2 - centre) <= 0.5 * height:
            rows[-1].append(i)
        else:
            rows.append([i])
    replaced: dict[int, Word | None] = {}
    for members in rows:
        members.sort(key=lambda i: words[i].x0)
        for run in _regular_runs([words[i] for i in members], members):
            first = words[run[0]]
            # Printed group separators read as the ASCII hyphen the value patterns expect.
            text = "".join(words[i].text for i in run).replace("–", "-").replace("—", "-")
            joined = Word(
                text,
                first.x0,
                min(words[i].y0 for i in run),
                words[run[-1]].x1,
                max(words[i].y1 for i in run),
                first.block,
                first.line,
                first.ref,
                first.offset,
            )
            replaced[run[0]] = joined
            for i in run[1:]:
                replaced[i] = None
    if not replaced:
        return list(words)
    out: list[Word] = []
    for i, w in enumerate(words):
        if i in replaced:
            if replaced[i] is not None:
                out.append(replaced[i])  # type: ignore[arg-type]
        else:
            out.append(w)
    return out


# A separator printed between groups of comb boxes ("[0][0][6] - [9][3] - [8][0][9][4]").
_GROUP_SEPARATORS = frozenset("-–—")


def _boxed(text: str) -> bool:
    """One character in a box, a separator printed between box groups, or a group of digits
    that the text layer already reads as one word."""
    return (
        (len(text) == 1 and text.isalnum())
        or text in _GROUP_SEPARATORS
        or (text.isdigit() and len(text) <= 4)
    )


def _regular_runs(row: list[Word], indexes: list[int]) -> list[list[int]]:
    """Runs of boxed characters: single characters at a regular pitch, or digit groups with a
    separator printed between them; each run holds at least four single characters."""
    runs: list[list[int]] = []
    current = [0]
    for k in range(1, len(row) + 1):
        if k < len(row) and _next_in_comb(row, current, k):
            current.append(k)
            continue
        singles = sum(len(row[j].text) == 1 and row[j].text.isalnum() for j in current)
        grouped = any(row[j].text in _GROUP_SEPARATORS for j in current)
        if singles >= _MIN_COMB or (grouped and singles >= 3 and len(current) >= 5):
            while current and row[current[-1]].text in _GROUP_SEPARATORS:
                current.pop()
            runs.append([indexes[j] for j in current])
        current = [k]
    return runs


def _next_in_comb(row: list[Word], current: list[int], k: int) -> bool:
    prev, word = row[current[-1]], row[k]
    singles = [row[j] for j in current if len(row[j].text) == 1 and row[j].text.isalnum()]
    width = statistics.median(w.x1 - w.x0 for w in singles) if singles else prev.x1 - prev.x0
    width = max(width, 1e-6)
    gap = word.x0 - prev.x1
    if not 0.8 * width < gap < 4 * width:
        return False
    if {prev.text, word.text} & _GROUP_SEPARATORS or len(prev.text) > 1 or len(word.text) > 1:
        return True  # a group boundary: the pitch changes there
    pitches = [
        row[b].x0 - row[a].x0
        for a, b in zip(current, current[1:], strict=False)
        if len(row[a].text) == len(row[b].text) == 1 and row[a].text.isalnum()
    ]
    pitch = word.x0 - prev.x0
    if not pitches:
        return True
    usual = statistics.median(pitches)
    return abs(pitch - usual) <= _PITCH_TOLERANCE * usual


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


# --- Printed instructions ------------------------------------------------------------------------

# A date that a rule compares against: "born before January 2, 1946", "on or after 1/1/1960".
_CONDITION = re.compile(
    r"(?i)\b(?:before|after|prior to|later than|earlier than|between|until|since|by|older than"
    r"|younger than|vor dem|nach dem|avant le|après le|antes del?|después del?|prima del"
    r"|dopo il|voor|na)\s*(?:the\s*)?$"
)


def conditional_date(text: str, start: int) -> bool:
    """Whether the date at `start` is what printed instructions compare against ("born before
    January 2, 1946"), not someone's birth date: a comparison word right before it."""
    row_start = text.rfind("\n", 0, start) + 1
    return _CONDITION.search(text, max(row_start, start - 20), start) is not None
