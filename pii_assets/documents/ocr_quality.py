"""How well a page's OCR text reads: the share of its words found in the OCR language's dictionary.

Tesseract turns a clean scan into text that is mostly real words, and noise, photos of screens or
handwriting into strings such as "eeee oeCee SoMeNato"; so does a page scanned on its side. The
document reader uses this to decide whether to check a scan's orientation, and the LLM extractor
whether a scan's OCR text is good enough to send instead of the (far more expensive) page image.
Dictionaries come from `pyspellchecker` (word-frequency lists); a language it has no list for has
no measure, and such pages keep going as images.
"""

from __future__ import annotations

import re
import threading
from functools import cache

from spellchecker import SpellChecker

# Tesseract language codes → pyspellchecker's.
_DICTIONARIES = {
    "eng": "en",
    "spa": "es",
    "fra": "fr",
    "deu": "de",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "rus": "ru",
    "ara": "ar",
    "lav": "lv",
    "eus": "eu",
    "fas": "fa",
}
# Words of letters only: numbers, amounts, codes and e-mail addresses say nothing about how well
# the page read, and one-letter words match any dictionary.
_WORD = re.compile(r"[^\W\d_]{2,}")
# Fewer words than this are too few to judge (a page with a logo and a date).
MIN_WORDS = 8
# Clean scans measure 0.8-1.0, as text layers do; OCR of noise, or of a page on its side, 0.6 and
# below. At or above this share a page reads well.
READS_WELL = 0.7

_load_lock = threading.Lock()


@cache
def _dictionary(code: str) -> SpellChecker:
    return SpellChecker(language=code, distance=1)


def _dictionaries(language: str) -> list[SpellChecker] | None:
    codes = [_DICTIONARIES.get(part) for part in language.split("+")]
    if not codes or any(code is None for code in codes):
        return None
    with _load_lock:  # a dictionary takes ~0.3 s to load; concurrent pages load it once
        return [_dictionary(code) for code in codes if code]


def dictionary_share(
    text: str, language: str = "eng", *, min_words: int = MIN_WORDS
) -> float | None:
    """Share of the text's words found in the dictionary of `language` (Tesseract codes, e.g.
    "eng" or "eng+deu": a word found in any of them counts). None when there is no dictionary for
    the language or the text has fewer than `min_words` words to judge."""
    words = _WORD.findall(text.lower())
    if len(words) < min_words:
        return None
    dictionaries = _dictionaries(language)
    if dictionaries is None:
        return None
    # Looked up in the word lists directly: `SpellChecker.known` adds a number check per word
    # that words of letters never need, and costs several times more (PDF text layers are
    # checked here on every page that looks suspicious).
    vocabularies = [dictionary.word_frequency.dictionary for dictionary in dictionaries]
    known = {word for word in set(words) if any(word in v for v in vocabularies)}
    return sum(word in known for word in words) / len(words)
