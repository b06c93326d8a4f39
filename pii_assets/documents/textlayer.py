"""Whether a PDF page's text layer can be trusted, and merging it with the page's OCR.

A text layer is what the PDF says its glyphs mean, not what they look like. A font whose ToUnicode
map is wrong (subset fonts mapped to glyph ids, shuffled maps, private-use code points) draws the
right words while its text layer is a cipher; a scanned page stamped with one real line (a Bates
number, a fax header) has a text layer that says nothing about the picture under it. Both read as
"text" to a reader that only counts characters.

The check runs in stages so that the normal page pays for character statistics only:

1. `suspicion`: character-class statistics of the text layer: characters no text uses (control,
   private-use, unassigned, U+FFFD), words of four or more letters without a vowel, and a share of
   the language's most frequent letters far below what the language uses (a substitution cipher
   moves letters off them). A page that looks suspicious has its dictionary share measured
   (`ocr_quality.dictionary_share`); one that reads as language is trusted after all.
2. `mostly_image`: images cover most of the page and the text layer covers little of them.
3. Pages from 1 or 2 are OCR'd by the reader; `is_cipher` compares the text layer with the OCR
   words at the same positions (a text layer that disagrees with what its glyphs show is
   discarded), and `merge` keeps both readings, each word once, in its true position.
"""

from __future__ import annotations

import difflib
import re
import string
from collections import Counter
from collections.abc import Sequence
from functools import cache

from pii_assets.documents.ocr_quality import _dictionaries, dictionary_share
from pii_assets.models import Word

# Characters no real text layer is made of: C0/C1 controls (tab and line breaks aside), the
# private-use areas (glyphs mapped to PUA code points) and U+FFFD, the replacement character MuPDF
# emits for a code it cannot map. Only those inside words count: a symbol font's bullet (U+F0B7)
# standing alone before a list item is normal.
_BAD = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff"
_BAD_CHARS = re.compile(f"[{_BAD}]")
_BAD_IN_WORD = re.compile(f"[{_BAD}](?=\\S)|(?<=\\S)[{_BAD}]")
# A share of such characters above this is more than a stray symbol.
MAX_BAD_CHAR_SHARE = 0.02
# Words of four or more ASCII consonants, all lower case after the first ("Dchsc", "wkhq"):
# acronyms are upper case, and "rhythm" has its y. A Caesar shift or a shuffled map makes many;
# normal pages of the evaluation corpus have at most one in 13 words. Their share is taken of all
# the page's words (counted from its spaces: no second scan).
_VOWELLESS = re.compile(r"\b[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ][b-df-hj-np-tv-xz]{3,}\b")
MIN_WORDS_FOR_VOWELS = 10
MAX_VOWELLESS_SHARE = 0.05
# The language's most frequent letters (e t o a i n h s in English) make up ~64% of its letters; a
# substitution cipher of the same text puts ~31% on them on average. A page whose share is below
# `MIN_FREQUENT_SHARE` of its language's goes on to the dictionary. Measured on the evaluation
# corpus's 200 text pages: 22% of them fall below (the dictionary clears every one), and 99.9% of
# random letter substitutions of the same pages do.
FREQUENT_LETTERS = 8
MIN_LETTERS_FOR_FREQUENCY = 30
MIN_FREQUENT_SHARE = 0.85
_ALPHABET = string.ascii_lowercase  # the frequency test is for Latin scripts
# A text layer whose dictionary share is at least this reads as language: trusted without OCR.
# (Text layers of the evaluation corpus measure 0.67 and up; ciphers of them below 0.2.) A short
# page is judged from a few words: a cover sheet's "Claim file" and an e-mail address are enough.
READS_AS_LANGUAGE = 0.5
MIN_DICTIONARY_WORDS = 3

# Stage 2: images cover at least this share of the page ...
MOSTLY_IMAGE = 0.5
# ... and the text layer's words cover less than this share of the image area (a line of 45
# characters across a letter-size scan covers ~1%; a scan's hidden OCR layer 10-40%).
LITTLE_TEXT = 0.05

# Stage 3: two boxes are one place when they overlap by this share of the smaller one.
SAME_PLACE = 0.5
# OCR words with fewer letters and digits than this are too short to compare (punctuation, "a").
MIN_COMPARED_CHARS = 4
# An OCR word agrees with the text layer words under it at this similarity (difflib ratio):
# OCR of a rendered page misreads a character or two; a cipher shares almost none.
AGREES = 0.75
MIN_PAIRS = 3
MIN_AGREEMENT = 0.5


@cache
def _frequent_letters(language: str) -> tuple[frozenset[str], float] | None:
    """The language's `FREQUENT_LETTERS` most frequent letters and their share of all letters,
    counted over the 5,000 most frequent words of its dictionary (pyspellchecker's word-frequency
    lists, weighted by frequency); None without a dictionary."""
    dictionaries = _dictionaries(language)
    if not dictionaries:
        return None
    counts: Counter[str] = Counter()
    for dictionary in dictionaries:
        for word, count in dictionary.word_frequency.dictionary.most_common(5000):
            for char in word:
                if char.isalpha():
                    counts[char] += count
    total = sum(counts.values())
    if not total:
        return None
    top = counts.most_common(FREQUENT_LETTERS)
    return frozenset(char for char, _ in top), sum(count for _, count in top) / total


def bad_char_share(text: str) -> float:
    """Share of the text's non-space characters that no text is made of, inside words (see
    `_BAD_IN_WORD`)."""
    chars = len(text) - text.count(" ") - text.count("\n")
    if chars <= 0 or _BAD_CHARS.search(text) is None:  # the normal page: one quick scan
        return 0.0
    return len(_BAD_IN_WORD.findall(text)) / chars


def suspicion(text: str, language: str) -> str | None:
    """Why the text layer does not read as language, or None when it does.

    Character statistics first (microseconds); only a page they find suspicious has its dictionary
    share measured, and one whose share is at least `READS_AS_LANGUAGE` is trusted after all.
    Returns a short reason ("unreadable characters", "words without vowels", "unusual letter
    frequencies") naming no content.
    """
    if bad_char_share(text) > MAX_BAD_CHAR_SHARE:
        return "unreadable characters"  # no dictionary can vouch for code points like these
    reason = _statistics(text, language)
    if reason is None:
        return None
    share = dictionary_share(text, language, min_words=MIN_DICTIONARY_WORDS)
    if share is not None and share >= READS_AS_LANGUAGE:
        return None
    return reason


def _statistics(text: str, language: str) -> str | None:
    words = text.count(" ") + text.count("\n") + 1
    if (
        words >= MIN_WORDS_FOR_VOWELS
        and len(_VOWELLESS.findall(text)) > MAX_VOWELLESS_SHARE * words
    ):
        return "words without vowels"
    frequent = _frequent_letters(language)
    if frequent is None:
        return None
    letters, expected = frequent
    lower = text.lower()
    # Letters counted one by one: a C-speed scan each, faster than any per-character loop.
    total = sum(lower.count(letter) for letter in _ALPHABET)
    if total < MIN_LETTERS_FOR_FREQUENCY:
        return None
    share = sum(lower.count(letter) for letter in letters) / total
    if share < MIN_FREQUENT_SHARE * expected:
        return "unusual letter frequencies"
    return None


def image_cover(image_boxes: Sequence[tuple[float, float, float, float]]) -> float:
    """Share of the page (0..1) covered by images, from their boxes normalised to the page
    (overlapping images may count twice; the share is capped at 1)."""
    area = 0.0
    for x0, y0, x1, y1 in image_boxes:
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
        if x1 > x0 and y1 > y0:
            area += (x1 - x0) * (y1 - y0)
    return min(area, 1.0)


def mostly_image(words: Sequence[Word], cover: float) -> bool:
    """Whether images cover most of the page (`cover`, 0..1) and the text layer's words cover
    little of them: the picture holds the content, the text layer does not."""
    if cover < MOSTLY_IMAGE:
        return False
    text_area = sum((w.x1 - w.x0) * (w.y1 - w.y0) for w in words)
    return text_area < LITTLE_TEXT * cover


def _area(word: Word) -> float:
    return max(word.x1 - word.x0, 0.0) * max(word.y1 - word.y0, 0.0)


def _same_place(a: Word, b: Word) -> bool:
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return False
    smaller = min(_area(a), _area(b))
    return smaller > 0 and ix * iy >= SAME_PLACE * smaller


class _Bands:
    """Words bucketed by vertical position, to find the ones under a box without a full scan."""

    COUNT = 64

    def __init__(self, words: Sequence[Word]) -> None:
        self._bands: list[list[int]] = [[] for _ in range(self.COUNT)]
        self.words = words
        for index, word in enumerate(words):
            for band in self._span(word):
                self._bands[band].append(index)

    def _span(self, word: Word) -> range:
        first = min(max(int(word.y0 * self.COUNT), 0), self.COUNT - 1)
        last = min(max(int(word.y1 * self.COUNT), 0), self.COUNT - 1)
        return range(first, last + 1)

    def under(self, word: Word) -> list[int]:
        """Indexes of the words at the same place as `word`, in their original order."""
        seen: set[int] = set()
        for band in self._span(word):
            seen.update(self._bands[band])
        return [i for i in sorted(seen) if _same_place(self.words[i], word)]


def _compared(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def is_cipher(text_words: Sequence[Word], ocr_words: Sequence[Word]) -> bool:
    """Whether the text layer disagrees with what its glyphs show: among OCR words (of at least
    `MIN_COMPARED_CHARS` letters or digits) lying where text-layer words are, fewer than
    `MIN_AGREEMENT` read like those words. With fewer than `MIN_PAIRS` such words (the OCR found
    nothing where the text is, e.g. invisible text) nothing is known and the layer is kept."""
    bands = _Bands(text_words)
    pairs = agreeing = 0
    for ocr in ocr_words:
        seen = _compared(ocr.text)
        if len(seen) < MIN_COMPARED_CHARS:
            continue
        under = bands.under(ocr)
        if not under:
            continue
        said = _compared("".join(text_words[i].text for i in under))
        pairs += 1
        if seen in said or difflib.SequenceMatcher(None, seen, said).ratio() >= AGREES:
            agreeing += 1
    return pairs >= MIN_PAIRS and agreeing < MIN_AGREEMENT * pairs


def merge(text_words: Sequence[Word], ocr_words: Sequence[Word]) -> list[Word]:
    """The text layer's words and the OCR words where the text layer has none, each in its own
    position: an OCR word lying where a text-layer word is drawn is the same word read twice and
    is dropped, unless the text-layer words there hold unreadable characters (then the OCR word
    replaces them). OCR lines keep their own block numbers, after the text layer's."""
    bands = _Bands(text_words)
    replaced: set[int] = set()
    added: list[Word] = []
    for ocr in ocr_words:
        under = bands.under(ocr)
        if under and not all(_BAD_CHARS.search(text_words[i].text) for i in under):
            continue
        replaced.update(under)
        added.append(ocr)
    kept = [w for i, w in enumerate(text_words) if i not in replaced]
    offset = max((w.block for w in kept), default=-1) + 1
    return kept + [
        Word(w.text, w.x0, w.y0, w.x1, w.y1, w.block + offset, w.line, w.ref, w.offset)
        for w in added
    ]
