"""Recognizers for structured values: e-mail, SSN, card, IBAN, IP address, birth date, phone.

Each is validated where a checksum or registry exists (Luhn, IBAN mod 97 via python-stdnum, SSN
area/group/serial rules, phone numbers via phonenumbers for a default region) and scored by
context: a label raises confidence, a look-alike's label ("Order", "Version", "ISBN") lowers it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import date

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

from pii_assets.recognition.common import (
    Candidate,
    before,
    before_on_row,
    clamp,
    distance_before,
    nearer,
)
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.tables import column_cells

# Labels of numbers that look like PII but are not: they lower a candidate's confidence.
_NOT_PII_CONTEXT = re.compile(
    r"(?i)(?:\b(?:order|invoice|inv|ref|reference|routing|isbn|serial|s/n|tracking|policy"
    r"|claim|sku|part|po|ticket|case|sort code|tax id|ein|zip|version|build|release|firmware"
    r"|model|product|item|batch|lot|member id|customer id|employee id|account no|acct)\b|#)"
)

# --- E-mail --------------------------------------------------------------------------------------

# OCR sometimes sets the "@" apart ("maria.gonzalez @example.com"), even onto its own line.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}\b"
)


def emails(text: str, *, ocr: bool = False) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(text):
        local, _, _ = m[0].partition("@")
        if local[-1:].isspace() or m[0][len(local) + 1 : len(local) + 2].isspace():
            # "@" set apart: OCR's slip on a scan, but a real space in a text layer ("write to
            # us @example.com" is no address).
            if ocr:
                yield Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0.8)
        else:
            yield Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0.95)


# --- US Social Security numbers ----------------------------------------------------------------

_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_COMPACT = re.compile(r"(?<![\d-])(\d{3})(\d{2})(\d{4})(?![\d-])")
_SSN_CONTEXT = re.compile(
    r"(?i)(?:\bssn\b|social security|\bsoc\.? ?sec\b|\bss ?#|\bss no\b|\bssa\b|taxpayer id)"
)


def ssns(text: str) -> Iterator[Candidate]:
    for pattern, compact in ((_SSN, False), (_SSN_COMPACT, True)):
        for m in pattern.finditer(text):
            groups = (m[1], m[3], m[4]) if not compact else (m[1], m[2], m[3])
            # stdnum rejects area 000/666/9xx, group 00, serial 0000 and advertising numbers.
            if not ssn.is_valid("-".join(groups)):
                continue
            label = distance_before(text, m.start(), _SSN_CONTEXT)
            look_alike = distance_before(text, m.start(), _NOT_PII_CONTEXT, 30, same_row=True)
            labelled = nearer(label, look_alike)
            if compact and not labelled:
                continue  # nine bare digits are anything
            if labelled:
                confidence = 0.95
            elif look_alike is not None:
                confidence = 0.3
            else:
                confidence = 0.6
            yield Candidate("US_SSN", m.start(), m.end(), confidence)


# --- Payment cards -------------------------------------------------------------------------------

# OCR sometimes reads the space between groups as a full stop ("4353.0968 5409 8178").
_CARD = re.compile(r"(?<![\d.-])\d(?:[ .-]?\d){12,22}(?![\d-]|\.\d)")
_CARD_SEPARATOR = re.compile(r"[ .-]")
_CARD_CONTEXT = re.compile(
    r"(?i)\b(?:card|visa|mastercard|amex|american express|discover|credit|debit|pan)\b"
)
# Issuer prefixes (IIN) of the major networks; a Luhn-valid number without one is a weak signal.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9])|35)")


def _card_span(groups: list[str]) -> tuple[int, int] | None:
    """The longest run of digit groups that is a Luhn-valid card number printed like one.

    The pattern can swallow a neighbouring number ("4111 1111 1111 1111 12/26"), so runs of
    groups are tried; a card is unseparated or printed in groups of 3 to 6 digits.
    """
    best: tuple[int, int] | None = None
    for first in range(len(groups)):
        for last in range(len(groups), first, -1):
            run = groups[first:last]
            digits = "".join(run)
            if not 13 <= len(digits) <= 19:
                continue
            if len(run) > 1 and any(not 3 <= len(g) <= 6 for g in run):
                continue
            if luhn.is_valid(digits) and (best is None or last - first > best[1] - best[0]):
                best = (first, last)
    return best


def cards(text: str) -> Iterator[Candidate]:
    for m in _CARD.finditer(text):
        groups = _CARD_SEPARATOR.split(m[0])
        span = _card_span(groups)
        if span is None:
            continue
        first, last = span
        start = m.start() + sum(len(g) + 1 for g in groups[:first])
        end = start + sum(len(g) + 1 for g in groups[first:last]) - 1
        confidence = 0.9 if _CARD_PREFIX.match(groups[first]) else 0.4
        if before(text, start, _CARD_CONTEXT):
            confidence += 0.08 if confidence > 0.5 else 0.3
        elif before_on_row(text, start, _NOT_PII_CONTEXT):
            confidence -= 0.5
        yield Candidate("CREDIT_CARD", start, end, clamp(confidence))


# --- IBAN ----------------------------------------------------------------------------------------

# Groups are separated by spaces; OCR sometimes reads a space as a full stop, or adds one; a long
# IBAN may wrap onto the next line (the checksum decides whether the pieces belong together).
_IBAN = re.compile(r"\b[A-Z]{2}[0-9OISB]{2}(?:(?:[.,:;]? ?|\n)[A-Z0-9]{1,4}){3,8}\b")
_IBAN_GROUP = re.compile(r"[A-Z0-9]+")
_IBAN_CONTEXT = re.compile(r"(?i)\biban\b")
# OCR's usual confusions inside the digits of an IBAN.
_OCR_DIGITS = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"})


def ibans(text: str) -> Iterator[Candidate]:
    for m in _IBAN.finditer(text):
        groups = list(_IBAN_GROUP.finditer(m[0]))
        # The pattern may run into following words ("... 0130 00 BIC"): drop trailing groups
        # until the checksum holds.
        for count in range(len(groups), 0, -1):
            compact = "".join(g[0] for g in groups[:count])
            if len(compact) < 15:
                break
            if iban.is_valid(compact) or _valid_after_ocr_repair(compact):
                end = m.start() + groups[count - 1].end()
                confidence = 0.99 if before(text, m.start(), _IBAN_CONTEXT) else 0.95
                yield Candidate("IBAN_CODE", m.start(), end, confidence)
                break


def _valid_after_ocr_repair(compact: str) -> bool:
    """Valid once letters OCR put among the digits are read as the digits they resemble: first in
    the check digits only, then in the whole account number (the checksum guards both)."""
    checks = compact[:2] + compact[2:4].translate(_OCR_DIGITS) + compact[4:]
    if checks != compact and iban.is_valid(checks):
        return True
    everything = compact[:2] + compact[2:].translate(_OCR_DIGITS)
    return everything not in (compact, checks) and iban.is_valid(everything)


# --- IP addresses --------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
# OCR can put a space before a colon ("2001 :db8::1"); it is dropped before validation.
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4} ?:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_IP_LABEL = re.compile(r"(?i)\b(?:ip|ipv[46]|ip address|host|server)\b")
_IP_CONTEXT = re.compile(
    r"(?i)\b(?:ip|ipv[46]|address|host|server|login|log-in|sign-in|signed in|from|source|client)\b"
)


def ips(text: str) -> Iterator[Candidate]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m[0])
        except ValueError:
            continue
        label = distance_before(text, m.start(), _IP_LABEL)
        look_alike = distance_before(text, m.start(), _NOT_PII_CONTEXT, 30, same_row=True)
        if look_alike is not None and not nearer(label, look_alike):
            confidence = 0.3  # "Version 10.2.0.1", "Firmware build 4.2.1.0"
        elif label is not None:
            confidence = 0.9
        elif before(text, m.start(), _IP_CONTEXT):
            confidence = 0.85
        else:
            confidence = 0.7
        yield Candidate("IP_ADDRESS", m.start(), m.end(), confidence)
    for m in _IPV6.finditer(text):
        value = m[0].replace(" ", "")
        if sum(c.isalnum() for c in value) < 4:
            continue  # "::" and times such as "10:30:" are not addresses
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield Candidate("IP_ADDRESS", m.start(), m.end(), 0.85)


# --- Dates of birth ------------------------------------------------------------------------------

_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
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
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month_name>(?i:" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r"))\.?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
DATES = [
    re.compile(p)
    for p in (
        r"\b" + _YEAR + r"[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})\b",
        r"\b(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-]" + _YEAR + r"\b",
        r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\.?[ -]" + _MONTH + r",?[ -]" + _YEAR + r"\b",
        r"\b" + _MONTH + r" (?P<day>\d{1,2})(?:st|nd|rd|th)?,? " + _YEAR + r"\b",
    )
]
_BIRTH_CONTEXT = re.compile(
    r"(?i)(?:\bd\.? ?o\.? ?b\b\.?|date of birth|birth ?date|\bborn\b|birthday|geburtsdatum"
    r"|date de naissance|fecha de nacimiento)"
)
_BIRTH_HEADER = re.compile(
    r"(?:d\.?o\.?b\.?|date of birth|birth ?date|born|birthday)(?: \([^)]*\))?", re.IGNORECASE
)
_YEAR_LIKE = re.compile(r"\d{4}")


def valid_date(m: re.Match[str]) -> bool:
    groups = m.groupdict()
    year = int(groups["year"])
    if groups.get("a"):
        # 04/12/1990 is 12 April in the US and 4 December elsewhere; either reading will do.
        a, b = int(groups["a"]), int(groups["b"])
        return any(_is_date(year, month, day) for month, day in ((a, b), (b, a)))
    month_name = groups.get("month_name")
    month = _MONTH_NAMES[month_name.lower()] if month_name else int(groups["month"])
    return _is_date(year, month, int(groups["day"]))


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        return date(year, month, day) <= date.today()
    except ValueError:
        return False


def birth_dates(text: str, page: PageText) -> Iterator[Candidate]:
    # Birth keywords are rare, so dates are only looked for just after one.
    for label in _BIRTH_CONTEXT.finditer(text):
        window_end = min(len(text), label.end() + 50)
        found = []
        for pattern in DATES:
            m = pattern.search(text, label.end(), window_end)
            # A year between label and date means the date belongs to some other field.
            if m and not _YEAR_LIKE.search(text, label.end(), m.start()) and valid_date(m):
                found.append(m)
        if found:
            m = min(found, key=lambda item: item.start())
            yield Candidate("DATE_OF_BIRTH", m.start(), m.end(), 0.9)
    for cell in column_cells(page, _BIRTH_HEADER):
        for pattern in DATES:
            m = pattern.fullmatch(text, cell.start, cell.end)
            if m and valid_date(m):
                yield Candidate("DATE_OF_BIRTH", cell.start, cell.end, 0.85)
                break


# --- Phone numbers -------------------------------------------------------------------------------

_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|contact|reach|dial|whatsapp|hotline)\b"
)
# Digit runs that could hold a phone number; only these reach the (slow) phonenumbers matcher.
_PHONE_RUN = re.compile(r"\+?\(?\d[\d ().\-/:;,]{5,24}\d")
# OCR reads some separators as ":" ";" or ","; they are read as spaces (same length, same offsets).
_OCR_SEPARATORS = str.maketrans(":;,", "   ")
_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")


def phones(text: str, region: str, taken: list[Candidate]) -> Iterator[Candidate]:
    for run in _PHONE_RUN.finditer(text):
        value = run[0].translate(_OCR_SEPARATORS)
        if sum(map(str.isdigit, value)) < 7 or _DATE_ONLY.fullmatch(value):
            continue
        # Digits already recognised as a card, IBAN, SSN, IP address or date need no second look.
        if any(t.start <= run.start() and run.end() <= t.end for t in taken):
            continue
        # VALID, not STRICT_GROUPING: OCR and people group digits loosely; overlaps with SSNs and
        # dates are settled when candidates are resolved.
        for m in phonenumbers.PhoneNumberMatcher(
            value, region, leniency=phonenumbers.Leniency.VALID
        ):
            start, end = run.start() + m.start, run.start() + m.end
            raw = m.raw_string
            label = distance_before(text, start, _PHONE_CONTEXT, 30)
            look_alike = distance_before(text, start, _NOT_PII_CONTEXT, 30, same_row=True)
            if look_alike is not None and not nearer(label, look_alike):
                confidence = 0.3  # "Order 4155550132", "Customer ID ..."
            elif label is not None:
                confidence = 0.9
            elif raw.startswith("+"):
                confidence = 0.85
            elif raw.isdigit():
                confidence = 0.45  # an unformatted digit run is more often a reference number
            else:
                confidence = 0.75
            yield Candidate("PHONE_NUMBER", start, end, confidence)
