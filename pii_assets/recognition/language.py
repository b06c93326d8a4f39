"""The language of a page's text (English, German, French, Spanish, Italian or Dutch), from counts
of each language's commonest function words, and the phone region that language implies.

The word lists are frequent function words from the Snowball stop-word lists
(https://snowballstem.org/algorithms/<language>/stop.txt, BSD licence), minus every word that is
also common in another of the six languages ("de", "la", "en", "die", "in", "es", "van"...), plus
a few form labels and letter phrases that only one of the languages uses ("Vorname", "téléphone",
"apellido", "geachte"). No word is in two lists. A page with too few of these words (a short form,
a table of numbers) has no language: None.
"""

from __future__ import annotations

import re
from collections import Counter

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl")

_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        (
            *("the", "and", "of", "to", "is", "are", "was", "were", "for", "that", "with"),
            *("this", "be", "have", "has", "you", "your", "we", "our", "they", "it", "not"),
            *("at", "by", "from", "or", "on", "which", "would", "been", "these", "please"),
            *("date", "birth", "phone", "address", "name", "number"),
        )
    ),
    "de": frozenset(
        (
            *("und", "ist", "nicht", "mit", "dem", "sich", "auf", "für", "ein", "eine", "einer"),
            *("zu", "von", "im", "auch", "wir", "sie", "ihr", "ihre", "ihnen", "wird", "werden"),
            *("sind", "oder", "aber", "nach", "wie", "das", "bei", "uns", "zum", "zur"),
            *("geburtsdatum", "vorname", "nachname", "telefon", "anschrift", "straße", "herr"),
        )
    ),
    "fr": frozenset(
        (
            *("les", "des", "du", "et", "est", "une", "pour", "dans", "qui", "pas", "sur"),
            *("avec", "vous", "nous", "votre", "vos", "ce", "cette", "sont", "au", "aux", "par"),
            *("ne", "été", "être", "mais", "ou", "leur"),
            *("prénom", "téléphone", "naissance", "adresse", "madame", "monsieur", "rue"),
        )
    ),
    "es": frozenset(
        (
            *("el", "los", "las", "y", "por", "para", "una", "su", "sus", "lo", "como"),
            *("más", "pero", "este", "esta", "entre", "cuando", "muy", "sin", "sobre", "también"),
            *("hasta", "hay", "donde", "desde", "todo", "está", "usted"),
            *("nombre", "apellido", "apellidos", "teléfono", "nacimiento", "dirección", "señor"),
        )
    ),
    "it": frozenset(
        (
            *("il", "di", "che", "è", "per", "non", "sono", "della", "dei", "delle"),
            *("alla", "nel", "nella", "gli", "anche", "più", "ma", "questo", "questa", "sua"),
            *("suo", "ci", "essere", "loro", "gentile", "cordiali"),
            *("nome", "cognome", "telefono", "nascita", "indirizzo", "signor", "signora"),
        )
    ),
    "nl": frozenset(
        (
            *("het", "een", "niet", "zijn", "op", "aan", "met", "voor", "maar", "om", "dat"),
            *("worden", "wordt", "heeft", "hebben", "deze", "uw", "ook", "bij", "naar", "nog"),
            *("zal", "geen", "door", "wij", "te", "wat", "zich", "tot", "onze"),
            *("voornaam", "achternaam", "telefoon", "geboortedatum", "adres", "geachte"),
        )
    ),
}

# The country whose national phone numbers a document in the language most likely holds.
PHONE_REGIONS: dict[str, str] = {
    "en": "US",
    "de": "DE",
    "fr": "FR",
    "es": "ES",
    "it": "IT",
    "nl": "NL",
}

# Fewest words, and the lead over the runner-up, that make a language the page's.
MIN_WORDS = 3
MIN_LEAD = 1.5
# The first words are enough to decide; long pages need not be read to the end.
MAX_CHARS = 6000

_WORD = re.compile(r"[^\W\d_]+")
_LOOKUP = {word: language for language, words in _WORDS.items() for word in words}


def detect_language(text: str) -> str | None:
    """The page's language code (one of `LANGUAGES`), or None when too few words tell."""
    # One lower-casing and one word split of the page's start, then counts in C.
    words = _WORD.findall(text[:MAX_CHARS].lower())
    counts = Counter(filter(None, map(_LOOKUP.get, words)))
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < MIN_WORDS:
        return None
    if len(ranked) > 1 and ranked[0][1] < MIN_LEAD * ranked[1][1]:
        return None
    return ranked[0][0]


def phone_region(text: str, default: str = "US") -> str:
    """The region national phone numbers on the page are read in: its language's, else
    `default`."""
    language = detect_language(text)
    return PHONE_REGIONS[language] if language else default
