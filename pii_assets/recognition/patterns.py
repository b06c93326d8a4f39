"""Recognizers for e-mail addresses, IP addresses and phone numbers, and the context words that
every structured recognizer shares.

The other structured types have modules of their own: payment cards, IBANs, routing and account
numbers in `financial`, SSN / ITIN / passport / driver's licence in `identifiers`, birth dates in
`dates`, street addresses in `addresses`. They are re-exported here for callers that import them
from this module.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence

import phonenumbers

from pii_assets.recognition.common import Candidate, distance_before, nearer
from pii_assets.recognition.context import NOT_PII_CONTEXT
from pii_assets.recognition.dates import DATES, birth_dates, date_value_valid, valid_date
from pii_assets.recognition.financial import cards, ibans
from pii_assets.recognition.identifiers import ssns

__all__ = [
    "DATES",
    "birth_dates",
    "cards",
    "email_valid",
    "emails",
    "ibans",
    "ips",
    "phone_valid",
    "phones",
    "ssns",
    "valid_date",
]

# --- E-mail --------------------------------------------------------------------------------------

# OCR sometimes sets the "@" apart ("maria.gonzalez @example.com"), even onto its own line. A
# top-level domain is letters, or an internationalised one in its ASCII (punycode, RFC 3492) form
# "xn--..." (RFC 5890 §2.3.2.1), which holds digits and hyphens.
_EMAIL = re.compile(
    r"(?=[A-Za-z0-9])(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.(?:[Xx][Nn]--[A-Za-z0-9-]*[A-Za-z0-9]|[A-Za-z]{2,})(?![\w-])"
)


def email_valid(value: str) -> bool:
    """Whether `value` is one e-mail address, as `emails` finds them in text."""
    return _EMAIL.fullmatch(value) is not None and not any(c.isspace() for c in value)


def emails(text: str, *, ocr: bool = False) -> Iterator[Candidate]:
    """EMAIL_ADDRESS candidates in the page text; an "@" set apart by a space counts on OCR
    pages only."""
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        local, _, _ = m[0].partition("@")
        if local[-1:].isspace() or m[0][len(local) + 1 : len(local) + 2].isspace():
            # "@" set apart: OCR's slip on a scan, but a real space in a text layer ("write to
            # us @example.com" is no address).
            if ocr:
                yield Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0.8)
        else:
            yield Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0.95)


# --- IP addresses --------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?=\d)(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
# IPv6 in the text forms of RFC 4291 §2.2, the last with an IPv4 address in its low 32 bits
# ("::ffff:192.0.2.33", "64:ff9b::198.51.100.20"), an optional zone ("fe80::7:19%wlan0", RFC
# 4007 §11) and an optional prefix length ("2001:db8:40::/48"). OCR can put a space before a
# colon ("2001 :db8::1"); it is dropped before validation. The address may not run on into a
# dotted number ("::ffff:300.1.2.3" is no address, and "::ffff:300" no part of one).
_IPV6 = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![\w:])(?:[0-9A-Fa-f]{0,4} ?:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4}(?![.:]?\d)|(?<=:))"
    r"(?:%[A-Za-z0-9_.-]*[A-Za-z0-9])?(?![\w:]|\.\d)"
)
_PREFIX_LENGTH = re.compile(r"/(\d{1,3})(?![\w/])")
_IP_LABEL = re.compile(r"(?i)\b(?:ip|ipv[46]|ip address|host|server)\b")
# A dotted quad after a version word is a version number ("revision 3.4.5.6", "Versión 2.1.0.4"):
# the five languages' words for version, revision, release, build and edition, and their
# abbreviations ("Rev.", "v", "ver.").
_VERSION_WORD = re.compile(
    r"(?i)\b(?:v|ver|vers|rev|version|versions?nummer|versión|versione|versie|revision|révision"
    r"|revisión|revisione|revisie|release|build|firmware|patch|edition|édition|edición|edizione"
    r"|ausgabe|fassung|uitgave)\b\.?"
)
_IP_CONTEXT = re.compile(
    r"(?i)\b(?:ip|ipv[46]|address|host|server|login|log-in|sign-in|signed in|from|source|client)\b"
)


def _with_prefix_length(text: str, end: int, longest: int) -> int:
    """End of the address with its CIDR prefix length ("/24"), when one follows and is valid."""
    m = _PREFIX_LENGTH.match(text, end)
    return m.end() if m and int(m[1]) <= longest else end


def ips(text: str) -> Iterator[Candidate]:
    """IP_ADDRESS candidates: IPv6 (every RFC 4291 text form, zone and prefix length included),
    then IPv4 outside them; a look-alike's label ("Version 10.0.0.1") lowers confidence."""
    v6_spans: list[tuple[int, int]] = []
    for m in _IPV6.finditer(text):
        value = m[0].replace(" ", "")
        if value.strip(":") == "":
            continue  # "::" alone: the unspecified address, which points at no one
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        end = _with_prefix_length(text, m.end(), 128)
        v6_spans.append((m.start(), end))
        yield Candidate("IP_ADDRESS", m.start(), end, 0.85)
    for m in _IPV4.finditer(text):
        if any(start <= m.start() < end for start, end in v6_spans):
            continue  # the low 32 bits of an IPv6 address
        try:
            ipaddress.IPv4Address(m[0])
        except ValueError:
            continue
        label = distance_before(text, m.start(), _IP_LABEL)
        look_alike = distance_before(text, m.start(), NOT_PII_CONTEXT, 30, same_row=True)
        version = distance_before(text, m.start(), _VERSION_WORD, 30, same_row=True)
        if version is not None and nearer(version, look_alike):
            look_alike = version
        if look_alike is not None and not nearer(label, look_alike):
            confidence = 0.3  # "Version 10.2.0.1", "Firmware build 4.2.1.0"
        elif label is not None:
            confidence = 0.9
        elif _IP_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
            confidence = 0.85
        else:
            confidence = 0.7
        yield Candidate("IP_ADDRESS", m.start(), _with_prefix_length(text, m.end(), 32), confidence)


# --- Phone numbers -------------------------------------------------------------------------------

_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|contact|reach|dial|whatsapp|hotline"
    r"|telefon|handy|mobil|téléphone|portable|teléfono|móvil|celular|telefono|cellulare"
    r"|telefoon|mobiel|gsm)\b"
)
# Labels that say a number is a phone number even when it is national in another region ("Call her
# Japanese number 080-4321-9876"): tried in `_OTHER_REGIONS` when the document's region fails.
_PHONE_NUMBER_LABEL = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp|(?:my|his|her|their|our|your)"
    r"(?: [a-z]+)? number(?: is)?|telefon|handy|téléphone|portable|teléfono|móvil|telefono"
    r"|cellulare|telefoon|mobiel)\b"
)
# Regions tried for a labelled national number that is not valid in the document's region: the
# five languages' countries, the anglophone ones, and the largest other numbering plans.
_OTHER_REGIONS = (
    *("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "IE", "IN", "IL", "BR", "MX"),
    *("JP", "CN", "KR", "CH", "AT", "BE", "PT", "PL", "SE"),
)
# Digit runs that could hold a phone number; only these reach the (slow) phonenumbers matcher. A
# run glued to a word ("at617-555-0148") is part of that word, not a number on its own. A colon
# followed by a space ends a label ("Phone 1: (217) 555-0134"): the label's digit is no country
# code; a colon between digits is OCR's reading of a separator.
#
# Between the numbers of a list ("(415) 867-2231, 312-704-5598", "030 84712365; 0171 2345678",
# "030 84712365 / 0171 2345678", "... or ...") a comma or semicolon and a space, a spaced slash,
# or "or" in the five languages separates values: a run is a list of such items, each at most
# as long as one number, and `_list_items` splits it.
_RUN_ITEM = r"\+?\(?\d(?:(?:[\d().\-]|[ ](?!/[ \t])|/(?![ \t])|[;,:](?![ \t])){0,24}\d)?"
_LIST_SEPARATOR = re.compile(r"[,;][ \t]+|[ \t]+(?:/|or|oder|ou|o)[ \t]+")
_PHONE_RUN = re.compile(
    rf"(?=[+(\d])(?<![^\W\d_])(?=[\d ().\-/;,:+]{{7}}){_RUN_ITEM}"
    rf"(?:(?:{_LIST_SEPARATOR.pattern}){_RUN_ITEM})*"
)
# OCR reads some separators as ":" ";" or ","; they are read as spaces (same length, same offsets).
_OCR_SEPARATORS = str.maketrans(":;,", "   ")
# North American numbers as people write them: "(415) 555-0132", "415-555-0132", "415.555.0132".
_NANP_GROUPING = re.compile(r"\(\d{3}\) ?\d{3}[ .-]\d{4}|\b\d{3}([.-])\d{3}\1\d{4}\b")
_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")
# A time of day ("10:00", "10:00:00", RFC 5322's Date and Received fields): two-digit groups
# after a colon. A phone number's digits end before it ("Jun 2025 10:00:00" is no number).
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")


def phones(
    text: str, region: str, taken: Sequence[Candidate], *, also: str | None = None
) -> Iterator[Candidate]:
    """Phone numbers valid in `region` (national form) or written with a country code; a
    national number of another region only after a phone label. `also` is a second region whose
    numbers are recognised by their grouping alone: the US when the region was chosen by the
    page's language, so "(415) 555-0132" in a Spanish paragraph of a US form is still found."""
    for run in _PHONE_RUN.finditer(text):
        for offset, piece in _outside_times(run[0]):
            # The label before a list ("Phones: ..., ...") labels every number in it.
            listed = run.start() + offset
            for item_offset, item in _list_items(piece):
                at = listed + item_offset
                yield from _phones_in(text, at, listed, item, region, taken, also)


# A list item with fewer digits than any phone number has is no value of its own: the separator
# before or after it is OCR's reading of a number's own separator ("(415) 867, 2231"), or an
# area code's slash ("030 / 84712365").
_FEWEST_DIGITS = 7


def _list_items(piece: str) -> Iterator[tuple[int, str]]:
    """The values of a digit run written as a list, with their offsets in `piece`."""
    if not _LIST_SEPARATOR.search(piece):
        yield 0, piece
        return
    bounds = [0]
    for separator in _LIST_SEPARATOR.finditer(piece):
        bounds += [separator.start(), separator.end()]
    bounds.append(len(piece))
    items = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    merged: list[tuple[int, int]] = []
    for start, end in items:
        # A short side joins the item before it (or the one after, when it comes first).
        if merged and (
            _digits(piece, start, end) < _FEWEST_DIGITS
            or _digits(piece, *merged[-1]) < _FEWEST_DIGITS
        ):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    for start, end in merged:
        yield start, piece[start:end]


def _digits(piece: str, start: int, end: int) -> int:
    return sum(c.isdigit() for c in piece[start:end])


def _outside_times(run: str) -> Iterator[tuple[int, str]]:
    """The pieces of a digit run around the times of day in it, with their offsets."""
    position = 0
    for time in _TIME.finditer(run):
        yield position, run[position : time.start()]
        position = time.end()
    yield position, run[position:]


def _phones_in(
    text: str,
    at: int,
    listed: int,
    piece: str,
    region: str,
    taken: Sequence[Candidate],
    also: str | None,
) -> Iterator[Candidate]:
    """Phone numbers in `piece`, which starts at `at` in `text`, in a list that starts at
    `listed` (where its label is looked for)."""
    value = piece.translate(_OCR_SEPARATORS)
    if sum(map(str.isdigit, value)) < 7 or _DATE_ONLY.fullmatch(value.strip()):
        return
    # Digits already recognised as a card, IBAN, SSN, IP address or date need no second look.
    if any(t.start <= at and at + len(piece) <= t.end for t in taken):
        return
    found = list(_matches(value, region))
    if not found and also and also != region and _NANP_GROUPING.search(value):
        found = list(_matches(value, also))
    if not found and not value.lstrip().startswith("+") and not _local_only(value, region):
        label = distance_before(text, listed, _PHONE_NUMBER_LABEL, 30)
        if label is not None and not _look_alike_nearer(text, listed, label):
            for other in _OTHER_REGIONS:
                if other != region:
                    found = list(_matches(value, other))
                    if found:
                        break
    for m in found:
        start, end = at + m.start, at + m.end
        # A bracket without its pair belongs to the text around ("(855-373-4636 TTY)").
        if text[start] == "(" and ")" not in text[start:end]:
            start += 1
        if text[end - 1] == ")" and "(" not in text[start:end]:
            end -= 1
        yield Candidate("PHONE_NUMBER", start, end, _phone_confidence(text, min(start, listed), m))


# A phone number as a field or a box holds it: digits, separators, brackets, a leading "+" and
# an extension ("ext. 12", "x12").
_PHONE_VALUE = re.compile(
    r"\s*\+?[\d\s().\-\u2013\u2014/]+?(?:\s*(?:ext\.?|x|#)\s*\d{1,6})?\s*", re.IGNORECASE
)


def phone_valid(value: str, region: str) -> bool:
    """Whether `value` is one phone number, read as a labelled value: valid in `region`, or,
    written without a country code, in another country's plan (like a number after a phone
    label in text: "Call her Japanese number 080-4321-9876"). Only digits and a phone number's
    separators and brackets (`phonenumbers` would read the digits out of "Reference: 5143 4149
    7853" too), and no date ("2023-05-23" is a number in some eight-digit plan)."""
    if not 7 <= sum(c.isdigit() for c in value) <= 15 or not _PHONE_VALUE.fullmatch(value):
        return False
    if date_value_valid(value.strip(" ()[]")):
        return False
    regions = [region]
    if not value.lstrip().startswith("+") and not _local_only(value, region):
        regions += [other for other in _OTHER_REGIONS if other != region]
    for other in regions:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, other)):
                return True
        except phonenumbers.NumberParseException:
            return False
    return False


def _local_only(value: str, region: str) -> bool:
    """Whether `value` is a local number of `region` dialled without its area code ("555-0134"
    in the US): incomplete there, and no number of another country."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return False
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY


def _matches(value: str, region: str) -> Iterator[phonenumbers.PhoneNumberMatch]:
    # A bare run of digits is one candidate to the matcher (it splits runs only at separators),
    # so a parse and a length check tell whether it can match at all: most such runs are
    # reference numbers of the wrong length, on which the matcher would spend several parses.
    token = value.strip()
    if token.isdigit() and not _possible_number(token, region):
        return
    # VALID, not STRICT_GROUPING: OCR and people group digits loosely; overlaps with SSNs and
    # dates are settled when candidates are resolved.
    yield from phonenumbers.PhoneNumberMatcher(value, region, leniency=phonenumbers.Leniency.VALID)


def _possible_number(value: str, region: str) -> bool:
    """Whether `value` has a length a phone number of its country can have (`phonenumbers`'
    metadata: the numbering plan's possible lengths); a valid number is always possible."""
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(value, region))
    except phonenumbers.NumberParseException:
        return False


def _look_alike_nearer(text: str, start: int, label: int) -> bool:
    look_alike = distance_before(text, start, NOT_PII_CONTEXT, 30, same_row=True)
    return look_alike is not None and not nearer(label, look_alike)


def _phone_confidence(text: str, start: int, m: phonenumbers.PhoneNumberMatch) -> float:
    raw = m.raw_string
    label = distance_before(text, start, _PHONE_CONTEXT, 30)
    if label is None:
        label = distance_before(text, start, _PHONE_NUMBER_LABEL, 30)
    look_alike = distance_before(text, start, NOT_PII_CONTEXT, 30, same_row=True)
    if look_alike is not None and not nearer(label, look_alike):
        return 0.3  # "Order 4155550132", "Customer ID ..."
    if label is not None:
        return 0.9
    if raw.startswith("+"):
        return 0.85
    if raw.isdigit():
        return 0.45  # an unformatted digit run is more often a reference number
    return 0.75
