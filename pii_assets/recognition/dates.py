"""Dates of birth: a date just after a birth keyword, or in a table column headed by one, in
English, German, French, Spanish, Italian and Dutch.

Dates are ISO ("1990-04-12"), numeric day/month/year in either order ("04/12/1990",
"12.04.1990"), or with the month's name or abbreviation ("12 April 1990", "April 12, 1990",
"4. März 1985", "4 mars 1985", "4 de marzo de 1985", "4 marzo 1985", "4 maart 1985"). A two-digit
year ("3/4/85") is only read right after a birth keyword, in the most recent century that puts the
date in the past. "Born before January 2, 1946" is a condition, not someone's birth date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from pii_assets.recognition.common import Candidate, label_between
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.tables import column_cells

# Month names and their common abbreviations per language (CLDR's "wide" and "abbreviated"
# format names among them), also without accents, as people and OCR write them.
_MONTHS_BY_LANGUAGE = {
    "en": (
        ("january", "jan"),
        ("february", "feb"),
        ("march", "mar"),
        ("april", "apr"),
        ("may",),
        ("june", "jun"),
        ("july", "jul"),
        ("august", "aug"),
        ("september", "sep", "sept"),
        ("october", "oct"),
        ("november", "nov"),
        ("december", "dec"),
    ),
    "de": (
        ("januar", "jänner", "jan"),
        ("februar", "feb"),
        ("märz", "maerz", "mär", "mrz"),
        ("april", "apr"),
        ("mai",),
        ("juni", "jun"),
        ("juli", "jul"),
        ("august", "aug"),
        ("september", "sep", "sept"),
        ("oktober", "okt"),
        ("november", "nov"),
        ("dezember", "dez"),
    ),
    "fr": (
        ("janvier", "janv"),
        ("février", "fevrier", "févr", "fevr", "fév"),
        ("mars",),
        ("avril", "avr"),
        ("mai",),
        ("juin",),
        ("juillet", "juil"),
        ("août", "aout"),
        ("septembre", "sept"),
        ("octobre", "oct"),
        ("novembre", "nov"),
        ("décembre", "decembre", "déc", "dec"),
    ),
    "es": (
        ("enero", "ene"),
        ("febrero", "feb"),
        ("marzo", "mar"),
        ("abril", "abr"),
        ("mayo", "may"),
        ("junio", "jun"),
        ("julio", "jul"),
        ("agosto", "ago"),
        ("septiembre", "setiembre", "sept", "sep", "set"),
        ("octubre", "oct"),
        ("noviembre", "nov"),
        ("diciembre", "dic"),
    ),
    "it": (
        ("gennaio", "gen"),
        ("febbraio", "feb"),
        ("marzo", "mar"),
        ("aprile", "apr"),
        ("maggio", "mag"),
        ("giugno", "giu"),
        ("luglio", "lug"),
        ("agosto", "ago"),
        ("settembre", "set"),
        ("ottobre", "ott"),
        ("novembre", "nov"),
        ("dicembre", "dic"),
    ),
    "nl": (
        ("januari", "jan"),
        ("februari", "feb"),
        ("maart", "mrt"),
        ("april", "apr"),
        ("mei",),
        ("juni", "jun"),
        ("juli", "jul"),
        ("augustus", "aug"),
        ("september", "sep", "sept"),
        ("oktober", "okt"),
        ("november", "nov"),
        ("december", "dec"),
    ),
}
MONTH_NAMES: dict[str, int] = {
    name: number
    for months in _MONTHS_BY_LANGUAGE.values()
    for number, names in enumerate(months, start=1)
    for name in names
}
_MONTH = r"(?P<month_name>(?i:" + "|".join(sorted(MONTH_NAMES, key=len, reverse=True)) + r"))\.?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
# "1st", "2nd"; French "1er", Spanish/Italian "1º", "1°".
_ORDINAL = r"(?:st|nd|rd|th|er|e|º|°)?"
# Spanish "4 de marzo de 1985"; Italian, Dutch, French and German put no word between.
_DE = r"(?:[ -]|,? | de | del )"
DATES = [
    re.compile(p)
    for p in (
        r"\b" + _YEAR + r"[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})\b",
        r"\b(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-]" + _YEAR + r"\b",
        r"\b(?P<day>\d{1,2})" + _ORDINAL + r"\.?" + _DE + _MONTH + _DE + _YEAR + r"\b",
        r"\b" + _MONTH + r" (?P<day>\d{1,2})" + _ORDINAL + r",? " + _YEAR + r"\b",
    )
]
# Only after a birth keyword: "DOB: 3/4/85".
_SHORT_YEAR = re.compile(
    r"\b(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<short_year>\d{2})(?![\d/.-])"
)

# Birth keywords: English, German, French, Spanish, Italian, Dutch. The lookahead names every
# keyword's first letter, so the search skips other positions fast (a plain alternation is tried
# whole at every character: 20 times slower on a page).
_BIRTH_CONTEXT = re.compile(
    r"(?=[bdfgnBDFGN])(?i:\bd\.? ?o\.? ?b\b\.?|date of birth|birth ?date|\bborn(?: on)?\b|birthday"
    r"|geburtsdatum|\bgeb\.(?:-datum)?|\bgeboren(?: am| op)?\b|geburtstag"
    r"|date de naissance|\bn[ée]e?(?:\(e\))? le\b|\bnaissance\b"
    r"|fecha de nacimiento|f\. de nac\.|\bnacid[oa] el\b|\bnacimiento\b"
    r"|data di nascita|\bnat[oa](?:/a)? il\b|\bnascita\b"
    r"|geboortedatum|\bgeb\. ?datum)"
)
_BIRTH_HEADER = re.compile(
    r"(?:d\.?o\.?b\.?|date of birth|birth ?date|born|birthday|geburtsdatum|date de naissance"
    r"|fecha de nacimiento|data di nascita|geboortedatum)(?: \([^)]*\))?",
    re.IGNORECASE,
)
# A date that a rule compares against ("born before January 2, 1946", "nés avant le 1er janvier
# 1960", "geboren vóór 1 januari 1950", "on or after 1/1/1960"): a comparison word right before
# it states a condition about birth dates, not a person's birth date.
_CONDITION = re.compile(
    r"(?i)\b(?:before|after|prior to|later than|earlier than|between|until|since|by|older than"
    r"|younger than|vor dem|nach dem|avant(?: le)?|après(?: le)?|antes del?|después del?"
    r"|prima del|dopo il|vóór|voor|na)[ \t]*:?[ \t]*(?:the[ \t]+)?$"
)
_CONDITION_REACH = 24
_YEAR_LIKE = re.compile(r"\d{4}")
_WINDOW = 50


# A date written as digits only, as a comb field of eight boxes holds it: MMDDYYYY or DDMMYYYY.
_COMPACT_DATE = re.compile(r"(?P<a>\d{2})(?P<b>\d{2})" + _YEAR)
_DATE_SEPARATORS = re.compile(r"[\s./-]")
# After a birth label: eight digits alone, a date in either compact form (DDMMYYYY, MMDDYYYY,
# YYYYMMDD) when `birth_value_valid` reads one in them.
_DIGITS_ONLY_DATE = re.compile(r"(?<![\d.,/-])\d{8}(?![\d.,/-]?\d)")


def date_value_valid(value: str) -> bool:
    """Whether all of `value` is one real past date (`DATES`, or eight digits MMDDYYYY or
    DDMMYYYY), as a field labelled with a date holds it."""
    for pattern in DATES:
        m = pattern.fullmatch(value)
        if m and valid_date(m):
            return True
    m = _COMPACT_DATE.fullmatch(_DATE_SEPARATORS.sub("", value))
    return m is not None and valid_date(m)


# ISO 8601's basic format ("19850304", ISO 8601-1:2019 §5.2.2.1): read only where a birth label or
# caption says the value is a date; elsewhere eight digits starting 19 or 20 are more often a
# reference or a phone number.
_BASIC_DATE = re.compile(_YEAR + r"(?P<month>\d{2})(?P<day>\d{2})")


def birth_value_valid(value: str) -> bool:
    """Whether all of `value` is one real past date, as a field or box a birth label or caption
    types holds it: `date_value_valid`, or eight digits YYYYMMDD (ISO 8601 basic format)."""
    if date_value_valid(value):
        return True
    m = _BASIC_DATE.fullmatch(value)
    return m is not None and valid_date(m)


def valid_date(m: re.Match[str]) -> bool:
    """Whether the matched day, month and year are a real date, not in the future."""
    groups = m.groupdict()
    if groups.get("short_year"):
        year = _full_year(int(groups["short_year"]), int(groups["a"]), int(groups["b"]))
        return year is not None
    year = int(groups["year"])
    if groups.get("a"):
        # 04/12/1990 is 12 April in the US and 4 December elsewhere; either reading will do.
        a, b = int(groups["a"]), int(groups["b"])
        return any(_is_date(year, month, day) for month, day in ((a, b), (b, a)))
    month_name = groups.get("month_name")
    month = MONTH_NAMES[month_name.lower()] if month_name else int(groups["month"])
    return _is_date(year, month, int(groups["day"]))


def _full_year(short: int, a: int, b: int) -> int | None:
    """The most recent year ending in `short` that makes a/b a past date (either order)."""
    today = date.today()
    for century in (today.year // 100 * 100, today.year // 100 * 100 - 100):
        year = century + short
        if any(_is_date(year, month, day) for month, day in ((a, b), (b, a))):
            return year
    return None


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:
        return False


def conditional_date(text: str, start: int) -> bool:
    """Whether the date at `start` is what printed instructions compare against ("born before
    January 2, 1946"): a comparison word right before it on its row."""
    row_start = text.rfind("\n", 0, start) + 1
    return _CONDITION.search(text, max(row_start, start - _CONDITION_REACH), start) is not None


def birth_dates(text: str, page: PageText) -> Iterator[Candidate]:
    """DATE_OF_BIRTH candidates: the first valid date within 50 characters after a birth keyword
    (no other field's label, year or condition word between), and the dates in columns headed by
    one."""
    # Birth keywords are rare, so dates are only looked for just after one.
    for label in _BIRTH_CONTEXT.finditer(text):
        window_end = min(len(text), label.end() + _WINDOW)
        found = []
        for pattern in (*DATES, _SHORT_YEAR, _DIGITS_ONLY_DATE):
            m = pattern.search(text, label.end(), window_end)
            if m is None:
                continue
            if not (birth_value_valid(m[0]) if pattern is _DIGITS_ONLY_DATE else valid_date(m)):
                continue
            # A year between label and date means the date belongs to some other field, and so
            # does another field's label ("Date of birth:   Start date: 2024-05-12").
            if _YEAR_LIKE.search(text, label.end(), m.start()):
                continue
            if label_between(text, label.end(), m.start()):
                continue
            found.append(m)
        if not found:
            continue
        m = min(found, key=lambda item: (item.start(), -item.end()))
        if conditional_date(text, m.start()):
            continue
        yield Candidate("DATE_OF_BIRTH", m.start(), m.end(), 0.9)
    for cell in column_cells(page, _BIRTH_HEADER):
        for pattern in DATES:
            m = pattern.fullmatch(text, cell.start, cell.end)
            if m and valid_date(m):
                yield Candidate("DATE_OF_BIRTH", cell.start, cell.end, 0.85)
                break
