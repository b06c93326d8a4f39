"""Offline PII recognizers over a page's words: regexes, checksums and nearby context words.

The words are joined into line text with a character-offset map back to the words, so a match
that spans several words ("+1 (415) 555-0132", "DE89 3704 0044 ...") becomes one entity whose box
is the union of those words' boxes.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

from pii_assets.models import Entity, Word

# --- Page text with an offset map back to the words --------------------------------------------


# A gap wider than this many average character widths separates columns, not words.
_COLUMN_GAP = 2.5


def _char_width(word: Word) -> float:
    return (word.x1 - word.x0) / max(len(word.text), 1)


@dataclass(frozen=True)
class _PageText:
    text: str
    starts: list[int]  # start offset of each word in `text`
    words: list[Word]

    @classmethod
    def build(cls, words: Sequence[Word]) -> _PageText:
        parts: list[str] = []
        starts: list[int] = []
        offset = 0
        current: tuple[int, int] | None = None
        previous: Word | None = None
        for word in words:
            if previous is not None:
                # Lines end in "\n" so that patterns, which never cross it, stay on one line;
                # a wide gap within a line is a column break, marked by a tab.
                if (word.block, word.line) != current:
                    parts.append("\n")
                elif word.x0 - previous.x1 > _COLUMN_GAP * _char_width(previous):
                    parts.append("\t")
                else:
                    parts.append(" ")
                offset += 1
            current = (word.block, word.line)
            previous = word
            starts.append(offset)
            parts.append(word.text)
            offset += len(word.text)
        return cls("".join(parts), starts, list(words))

    def box(self, start: int, end: int) -> tuple[float, float, float, float] | None:
        """Union of the boxes of the words that the span [start, end) touches."""
        first = max(0, bisect.bisect_right(self.starts, start) - 1)
        last = bisect.bisect_left(self.starts, end)
        covered = self.words[first:last]
        if not covered:
            return None
        return (
            min(w.x0 for w in covered),
            min(w.y0 for w in covered),
            max(w.x1 for w in covered),
            max(w.y1 for w in covered),
        )


@dataclass(frozen=True)
class _Candidate:
    entity_type: str
    start: int
    end: int
    confidence: float


def _context(text: str, start: int, pattern: re.Pattern[str], window: int = 40) -> bool:
    """Whether a context keyword appears shortly before the match (the previous line included)."""
    return pattern.search(text, max(0, start - window), start) is not None


# --- Recognizers ---------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)


def _emails(text: str) -> Iterator[_Candidate]:
    for m in _EMAIL.finditer(text):
        yield _Candidate("EMAIL_ADDRESS", m.start(), m.end(), 0.95)


_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|social security|soc\.? sec|ss#|ss no)")


def _ssns(text: str) -> Iterator[_Candidate]:
    for m in _SSN.finditer(text):
        # stdnum rejects area 000/666/9xx, group 00, serial 0000 and known advertising numbers.
        if ssn.is_valid(f"{m[1]}-{m[3]}-{m[4]}"):
            confidence = 0.95 if _context(text, m.start(), _SSN_CONTEXT) else 0.6
            yield _Candidate("US_SSN", m.start(), m.end(), confidence)


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,22}(?![\d-])")
_CARD_SEPARATOR = re.compile(r"[ -]")
_CARD_CONTEXT = re.compile(r"(?i)\b(?:card|visa|mastercard|amex|american express|credit|debit)\b")
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


def _cards(text: str) -> Iterator[_Candidate]:
    for m in _CARD.finditer(text):
        groups = _CARD_SEPARATOR.split(m[0])
        span = _card_span(groups)
        if span is None:
            continue
        first, last = span
        start = m.start() + sum(len(g) + 1 for g in groups[:first])
        end = start + sum(len(g) + 1 for g in groups[first:last]) - 1
        confidence = 0.9 if _CARD_PREFIX.match(groups[first]) else 0.4
        if _context(text, start, _CARD_CONTEXT):
            confidence += 0.08 if confidence > 0.5 else 0.3
        yield _Candidate("CREDIT_CARD", start, end, confidence)


# Groups are separated by spaces; OCR sometimes reads a space as a full stop, or adds one.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\.? ?[A-Z0-9]{1,4}){3,8}\b")
_IBAN_GROUP = re.compile(r"[A-Z0-9]+")
_IBAN_CONTEXT = re.compile(r"(?i)\biban\b")


def _ibans(text: str) -> Iterator[_Candidate]:
    for m in _IBAN.finditer(text):
        groups = list(_IBAN_GROUP.finditer(m[0]))
        # The pattern may run into following words ("... 0130 00 BIC"): drop trailing groups
        # until the checksum holds.
        for count in range(len(groups), 0, -1):
            compact = "".join(g[0] for g in groups[:count])
            if len(compact) >= 15 and iban.is_valid(compact):
                end = m.start() + groups[count - 1].end()
                confidence = 0.99 if _context(text, m.start(), _IBAN_CONTEXT) else 0.95
                yield _Candidate("IBAN_CODE", m.start(), end, confidence)
                break


_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
# OCR can put a space before a colon ("2001 :db8::1"); it is dropped before validation.
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4} ?:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_IP_CONTEXT = re.compile(r"(?i)\b(?:ip|ipv[46]|address|host|server|login|sign-in)\b")


def _ips(text: str) -> Iterator[_Candidate]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m[0])
        except ValueError:
            continue
        confidence = 0.9 if _context(text, m.start(), _IP_CONTEXT) else 0.7
        yield _Candidate("IP_ADDRESS", m.start(), m.end(), confidence)
    for m in _IPV6.finditer(text):
        value = m[0].replace(" ", "")
        if sum(c.isalnum() for c in value) < 4:
            continue  # "::" and times such as "10:30:" are not addresses
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield _Candidate("IP_ADDRESS", m.start(), m.end(), 0.85)


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
_DATES = [
    re.compile(p)
    for p in (
        r"\b" + _YEAR + r"-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b",
        r"\b(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-]" + _YEAR + r"\b",
        r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\.? " + _MONTH + r",? " + _YEAR + r"\b",
        r"\b" + _MONTH + r" (?P<day>\d{1,2})(?:st|nd|rd|th)?,? " + _YEAR + r"\b",
    )
]
_BIRTH_CONTEXT = re.compile(
    r"(?i)(?:\bd\.?o\.?b\b|date of birth|birth ?date|\bborn\b|birthday|geburtsdatum)"
)
_YEAR_LIKE = re.compile(r"\d{4}")


def _valid_date(m: re.Match[str]) -> bool:
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


def _birth_dates(text: str) -> Iterator[_Candidate]:
    # Birth keywords are rare, so dates are only looked for just after one.
    for label in _BIRTH_CONTEXT.finditer(text):
        window_end = min(len(text), label.end() + 50)
        for pattern in _DATES:
            m = pattern.search(text, label.end(), window_end)
            # A year between label and date means the date belongs to some other field.
            if m and not _YEAR_LIKE.search(text, label.end(), m.start()) and _valid_date(m):
                yield _Candidate("DATE_OF_BIRTH", m.start(), m.end(), 0.9)


# A name is capitalised tokens separated by single spaces (a tab marks a column gap), middle
# initials allowed. A token followed by ":" and more text is the next field's label ("Name: Maria
# Gonzalez Email: ..."); a colon ending the line is usually OCR's reading of a stray mark.
_TOKEN = r"(?:[A-Z](?:'[A-Z])?[a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?)(?!\w)(?!:[ \t]*\S)"
_INITIAL = r"[A-Z]\.(?!\w)"
_NAME = rf"(?P<name>{_TOKEN}(?: (?:{_TOKEN}|{_INITIAL})){{0,3}})"
_LABELS = (
    "full name|name|applicant|patient|employee|customer|client|account holder|cardholder"
    "|card holder|bill to|billed to|ship to|tenant|insured|policyholder|beneficiary"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?"
# (pattern, confidence, fewest name tokens): after a title a surname alone is a name.
_PERSON_PATTERNS = (
    (re.compile(rf"(?<![\w-])(?P<label>(?i:{_LABELS}))[ \t]*:[ \t]*(?:\n[ \t]*)?{_NAME}"), 0.85, 2),
    (re.compile(rf"\b(?i:dear)[ \t]+{_TITLES}[ \t]+{_NAME}"), 0.8, 1),
    (re.compile(rf"\b(?i:dear)[ \t]+{_NAME}"), 0.7, 2),
    (
        re.compile(
            r"\b(?i:sincerely|regards|yours truly|best wishes|respectfully|cordially)"
            rf"[ \t]*,?[ \t]*\n[ \t]*{_NAME}[ \t]*(?:\n|$)"
        ),
        0.75,
        2,
    ),
)
# Capitalised words that follow the labels above but are not anyone's name; a name ends before
# the first of them ("Account holder: Maria Gonzalez Customer ID 4482").
_NOT_NAMES = frozenset(
    (
        *("sir", "madam", "valued", "colleague", "colleagues", "team", "friend", "friends"),
        *("customer", "customers", "client", "clients", "patient", "member", "members", "all"),
        *("hiring", "manager", "applicant", "service", "services", "support", "department"),
        *("information", "number", "date", "address", "details", "account", "the", "of", "and"),
        *("inc", "llc", "ltd", "gmbh", "corp", "corporation", "company", "group", "bank"),
        *("id", "no", "street", "avenue", "road", "phone", "email", "invoice", "total"),
    )
)
# "Name:" only labels a person when it is not some other thing's name ("Company name:").
_NAME_LABEL_QUALIFIERS = frozenset(
    ("full", "legal", "patient", "employee", "customer", "client", "applicant", "your")
)
_PREVIOUS_WORD = re.compile(r"([A-Za-z']+)[ \t]*$")


def _persons(text: str) -> Iterator[_Candidate]:
    for pattern, confidence, fewest in _PERSON_PATTERNS:
        for m in pattern.finditer(text):
            if "label" in m.re.groupindex and m["label"].lower() == "name":
                line_start = text.rfind("\n", 0, m.start()) + 1
                previous = _PREVIOUS_WORD.search(text, line_start, m.start())
                if previous and previous[1].lower() not in _NAME_LABEL_QUALIFIERS:
                    continue
            tokens: list[str] = []
            for token in m["name"].split(" "):
                if token.lower() in _NOT_NAMES:
                    break
                tokens.append(token)
            while tokens and tokens[-1].endswith("."):
                tokens.pop()  # a trailing initial belongs to no one
            if len(tokens) < fewest:
                continue
            start = m.start("name")
            yield _Candidate("PERSON", start, start + len(" ".join(tokens)), confidence)


_PHONE_CONTEXT = re.compile(r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call)\b")
# Digit runs that could hold a phone number; only these reach the (slow) phonenumbers matcher.
_PHONE_RUN = re.compile(r"\+?\(?\d[\d ().\-/]{5,24}\d")
_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")


def _phones(text: str, region: str, taken: list[_Candidate]) -> Iterator[_Candidate]:
    for run in _PHONE_RUN.finditer(text):
        value = run[0]
        if sum(map(str.isdigit, value)) < 7 or _DATE_ONLY.fullmatch(value):
            continue
        # Digits already recognised as a card, IBAN, SSN, IP address or date need no second look.
        if any(t.start <= run.start() and run.end() <= t.end for t in taken):
            continue
        # VALID, not STRICT_GROUPING: OCR and people group digits loosely; overlaps with SSNs and
        # dates are settled in _resolve.
        for m in phonenumbers.PhoneNumberMatcher(
            value, region, leniency=phonenumbers.Leniency.VALID
        ):
            start, end = run.start() + m.start, run.start() + m.end
            confidence = 0.75
            if _context(text, start, _PHONE_CONTEXT):
                confidence = 0.9
            elif m.raw_string.startswith("+"):
                confidence = 0.85
            yield _Candidate("PHONE_NUMBER", start, end, confidence)


# On overlap, a checksum- or structure-validated type beats a phone number or a name: the digits
# of an SSN or a date can also read as a valid phone number.
_RANK = {"PHONE_NUMBER": 1, "PERSON": 1}


def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
    ordered = sorted(
        candidates,
        key=lambda c: (_RANK.get(c.entity_type, 0), -c.confidence, c.start - c.end, c.start),
    )
    kept: list[_Candidate] = []
    for candidate in ordered:
        if all(candidate.end <= k.start or candidate.start >= k.end for k in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda c: c.start)


def find_entities(
    words: Sequence[Word],
    *,
    page: int,
    source: str,
    default_region: str = "US",
    min_confidence: float = 0.5,
) -> list[Entity]:
    """PII entities on one page, in reading order, each with the box of the words it covers."""
    page_text = _PageText.build(words)
    text = page_text.text
    if not text:
        return []
    validated = [
        c
        for c in (
            *_emails(text),
            *_ssns(text),
            *_cards(text),
            *_ibans(text),
            *_ips(text),
            *_birth_dates(text),
        )
        if c.confidence >= min_confidence
    ]
    candidates = [
        *validated,
        *(c for c in _persons(text) if c.confidence >= min_confidence),
        *(c for c in _phones(text, default_region, validated) if c.confidence >= min_confidence),
    ]
    entities: list[Entity] = []
    for c in _resolve(candidates):
        box = page_text.box(c.start, c.end)
        x0, y0, x1, y1 = box if box else (None, None, None, None)
        entities.append(
            Entity(
                entity_type=c.entity_type,
                text=text[c.start : c.end],
                page=page,
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                confidence=round(min(c.confidence, 1.0), 3),
                source=source,
            )
        )
    return entities


# --- Classification ------------------------------------------------------------------------------

# Keywords per class with weights: a document title word counts more than a generic term.
_CLASS_KEYWORDS: dict[str, dict[str, float]] = {
    "invoice": {
        "invoice": 2,
        "bill to": 1,
        "amount due": 1,
        "total due": 1,
        "subtotal": 1,
        "due date": 1,
        "unit price": 1,
        "payment terms": 1,
        "vat": 0.5,
        "qty": 0.5,
    },
    "bank_statement": {
        "account statement": 2,
        "bank statement": 2,
        "statement period": 1.5,
        "opening balance": 1,
        "closing balance": 1,
        "available balance": 1,
        "transactions": 0.5,
        "iban": 0.5,
    },
    "payslip": {
        "payslip": 2,
        "pay slip": 2,
        "pay stub": 2,
        "earnings statement": 2,
        "gross pay": 1,
        "net pay": 1,
        "pay period": 1,
        "deductions": 1,
        "payroll": 0.5,
        "year to date": 0.5,
    },
    "tax_form": {
        "tax return": 2,
        "form w-2": 2,
        "form 1040": 2,
        "form 1099": 2,
        "w-9": 1.5,
        "internal revenue service": 1.5,
        "taxable income": 1,
        "tax year": 1,
        "withholding": 1,
        "adjusted gross income": 1,
    },
    "id_document": {
        "passport": 2,
        "driver's license": 2,
        "driver license": 2,
        "identity card": 2,
        "date of issue": 1,
        "date of expiry": 1,
        "expiration date": 0.5,
        "nationality": 1,
        "place of birth": 1,
    },
    "medical_record": {
        "medical record": 2,
        "patient": 1.5,
        "diagnosis": 1,
        "medication": 1,
        "prescription": 1,
        "physician": 1,
        "allergies": 1,
        "blood pressure": 1,
        "clinic": 0.5,
        "hospital": 0.5,
    },
    "contract": {
        "agreement": 2,
        "hereinafter": 1.5,
        "in witness whereof": 1.5,
        "terms and conditions": 1,
        "governing law": 1,
        "the parties": 1,
        "effective date": 1,
        "termination": 1,
    },
    "hr_form": {
        "onboarding": 2,
        "employee": 1,
        "employment": 1,
        "human resources": 1,
        "job title": 1,
        "start date": 1,
        "department": 0.5,
        "emergency contact": 1,
        "direct deposit": 1,
    },
    "correspondence": {
        "dear": 2,
        "sincerely": 1.5,
        "regards": 1,
        "yours truly": 1,
        "letter": 0.5,
    },
}
_CLASS_PATTERNS = {
    label: re.compile(
        r"\b(?:" + "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True)) + r")\b"
    )
    for label, keywords in _CLASS_KEYWORDS.items()
}


def classify(text: str) -> tuple[str, float]:
    """The most likely class with a score in [0, 1]; ("other", 0.0) when no keyword fits."""
    lowered = text.lower()
    scores: dict[str, float] = {}
    for label, pattern in _CLASS_PATTERNS.items():
        found = set(pattern.findall(lowered))
        if found:
            scores[label] = sum(_CLASS_KEYWORDS[label][k] for k in found)
    if not scores:
        return "other", 0.0
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best_label, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    # Strong evidence (several keywords) and a clear margin over the next class both count.
    score = min(1.0, best / 4.0) * (best / (best + runner_up))
    return best_label, round(score, 3)
