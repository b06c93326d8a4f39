"""Recognizers for US Social Security numbers, ITINs, passport numbers and driver's licences.

- SSN: area/group/serial rules via python-stdnum (no area 000, 666 or 900-999, no group 00, no
  serial 0000, no advertising numbers); groups separated by dashes (also en and em dashes),
  spaces or dots.
- ITIN: nine digits starting with 9 whose fourth and fifth digits are 50-65, 70-88, 90-92 or
  94-99 (IRS Publication 1915, "Understanding Your IRS Individual Taxpayer Identification
  Number").
- US passport: nine digits, or a letter and eight digits (Next Generation passport books, U.S.
  Department of State, 2021), only after a "passport" label.
- Driver's licence: formats differ by state and country, so only after a label that names one;
  the value is one to four groups of letters and digits holding at least four digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum.us import ssn

from pii_assets.recognition.common import (
    Candidate,
    distance_before,
    labelled_value,
    mentions,
    nearer,
)
from pii_assets.recognition.context import NOT_PII_CONTEXT

# --- SSN and ITIN --------------------------------------------------------------------------------

# Groups separated by a dash (ASCII, en or em dash: word processors and printed forms use them),
# a space or a dot; a dash may have a space on each side ("123 – 45 – 6789" on a form whose boxes
# are printed around dashes).
_SEPARATED = re.compile(
    r"(?=\d)(?<![\d.\-–—])(\d{3})( ?[-–—] ?|[ .])(\d{2})\2(\d{4})(?![\d\-–—]|\.\d)"
)
_COMPACT = re.compile(r"(?=\d)(?<![\d.-])(\d{3})(\d{2})(\d{4})(?![\d-]|\.\d)")
_SSN_CONTEXT = re.compile(
    r"(?i)(?:\bssn\b|social security|\bsoc\.? ?sec\b|\bss ?#|\bss no\b|\bssa\b|taxpayer id"
    r"|\bitin\b|\btin\b|taxpayer identification)"
)
_ITIN_GROUPS = frozenset((*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)))


def itin_valid(area: str, group: str, serial: str) -> bool:
    """Whether the three digit groups (3, 2, 4 digits) are in the IRS's ITIN ranges."""
    return area[0] == "9" and int(group) in _ITIN_GROUPS and serial.isdigit()


def ssn_type(digits: str) -> str | None:
    """ "US_SSN" or "US_ITIN" for nine digits that are a valid one (the two share their shape; the
    digits tell them apart), else None."""
    if len(digits) != 9 or not digits.isdigit():
        return None
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if ssn.is_valid(f"{area}-{group}-{serial}"):
        return "US_SSN"
    return "US_ITIN" if itin_valid(area, group, serial) else None


def ssns(text: str) -> Iterator[Candidate]:
    """US_SSN and US_ITIN candidates (`ssn_type`)."""
    for pattern, compact in ((_SEPARATED, False), (_COMPACT, True)):
        for m in pattern.finditer(text):
            area, group, serial = (m[1], m[3], m[4]) if not compact else (m[1], m[2], m[3])
            entity_type = ssn_type(area + group + serial)
            if entity_type is None:
                continue
            label = distance_before(text, m.start(), _SSN_CONTEXT)
            look_alike = distance_before(text, m.start(), NOT_PII_CONTEXT, 30, same_row=True)
            labelled = nearer(label, look_alike)
            if compact and not labelled:
                continue  # nine bare digits are anything
            if labelled:
                confidence = 0.95
            elif look_alike is not None:
                confidence = 0.3
            else:
                confidence = 0.6
            yield Candidate(entity_type, m.start(), m.end(), confidence)


# --- Passport and driver's licence ---------------------------------------------------------------

_QUALIFIER = r"(?: ?(?:number|num\.?|no\.?|nr\.?|#|id))?(?: \([^)\n]{0,30}\))?[ \t]*[:#.]?"
_PASSPORT_LABEL = re.compile(r"(?i)\b(?:us |u\.s\. )?passport(?: book| card)?" + _QUALIFIER)
_US_PASSPORT = re.compile(r"(?<![\w-])(?:[A-Z]\d{8}|\d{9})(?![\w-])")
_LICENSE_LABEL = re.compile(
    r"(?i)(?<![\w-])(?:driver'?s'? licen[cs]e|driving licen[cs]e|drivers? lic\.?|operator'?s"
    r" licen[cs]e|\bdl|\bdln|f[üu]hrerschein(?:nummer)?|permis de conduire|licencia de conducir"
    r"|permiso de conducir|carn[ée] de conducir|patente(?: di guida)?|rijbewijs(?:nummer)?)"
    + _QUALIFIER
)
# Later groups hold a digit: "D1234567 EXP 12/2026" is the licence "D1234567" and its expiry.
_LICENSE_VALUE = re.compile(
    r"(?<![\w-])[A-Z0-9]{1,14}(?:[ -](?=[A-Z]*\d)[A-Z0-9]{1,10}){0,3}(?![\w/-]|\.\w)"
)


_LICENSE_KEYS = (
    *("licen", "dl", "führerschein", "fuhrerschein", "permis", "licencia", "permiso", "carn"),
    *("patente", "rijbewijs"),
)


def passport_valid(value: str) -> bool:
    """Whether `value` has the form of a US passport number."""
    return _US_PASSPORT.fullmatch(value) is not None


def license_valid(value: str) -> bool:
    """Whether `value` can be a driver's licence number: one to four groups of letters and
    digits, 5 to 20 of them, at least four digits."""
    compact = value.replace(" ", "").replace("-", "")
    digits = sum(c.isdigit() for c in value)
    return bool(_LICENSE_VALUE.fullmatch(value)) and digits >= 4 and 5 <= len(compact) <= 20


def passports(text: str) -> Iterator[Candidate]:
    """US_PASSPORT candidates: a US passport number right after a passport label."""
    if not mentions(text, ("passport",)):
        return
    for label in _PASSPORT_LABEL.finditer(text):
        m = labelled_value(text, label, _US_PASSPORT, 30)
        if m is not None:
            yield Candidate("US_PASSPORT", m.start(), m.end(), 0.85)


def driver_licenses(text: str) -> Iterator[Candidate]:
    """DRIVER_LICENSE candidates: a licence number right after a driver's-licence label."""
    if not mentions(text, _LICENSE_KEYS):
        return
    for label in _LICENSE_LABEL.finditer(text):
        m = labelled_value(text, label, _LICENSE_VALUE, 30)
        if m is not None and license_valid(m[0]):
            yield Candidate("DRIVER_LICENSE", m.start(), m.end(), 0.85)
