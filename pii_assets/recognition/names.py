"""Person names where documents put them: labelled fields ("Name:", "Applicant:", "Bill to:"),
salutations, signature blocks, courtesy titles, address blocks and table columns headed "Name".

A name is capitalised tokens (middle initials, particles such as "van", apostrophes and hyphens
allowed), "Last, First", or ALL CAPS after a label. It ends at a tab (a column gap), at the next
field's label ("Name: Maria Gonzalez Email: ...") and before words that are not names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pii_assets.recognition.common import Candidate
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.tables import column_cells

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ"
# A token followed by ":" and more text is the next field's label; a colon ending the line is
# usually OCR's reading of a stray mark.
_LABEL_AHEAD = r"(?!:[ \t]*\S)"
_TOKEN = (
    rf"[{_UP}](?:'[{_UP}])?[{_LO}]+(?:[{_UP}][{_LO}]+)?(?:-[{_UP}][{_LO}]+)?(?!\w){_LABEL_AHEAD}"
)
_CAPS = rf"[{_UP}]{{2,}}(?:'[{_UP}]+)?(?:-[{_UP}]+)?(?!\w){_LABEL_AHEAD}"
_INITIAL = rf"[{_UP}]\.(?!\w)"
_PARTICLE = rf"(?:van|von|der|den|de|da|del|della|di|du|la|le|bin|ibn|al)(?= [{_UP}])"
# Tokens are one space apart; OCR text, cleaned of stray marks, can leave two.
_SP = " {1,2}"
_NAME = rf"{_TOKEN}(?:{_SP}(?:{_TOKEN}|{_INITIAL}|{_PARTICLE})){{0,4}}"
_CAPS_NAME = rf"{_CAPS}(?:{_SP}(?:{_CAPS}|{_INITIAL})){{1,3}}"
_INVERTED = rf"{_TOKEN}(?:{_SP}{_TOKEN})?, {{0,2}}{_TOKEN}(?:{_SP}{_INITIAL})?(?![ ]\w)"
_ANY_NAME = rf"(?P<name>{_INVERTED}|{_CAPS_NAME}|{_NAME})"

_QUALIFIER = (
    r"(?:full|legal|first and last|patient|employee|customer|client|applicant|member|contact"
    r"|tenant|account|cardholder|insured|student|guest|passenger|borrower|participant|your)"
)
_LABELS = (
    rf"(?:{_QUALIFIER} )?name"
    r"|name of (?:the )?(?:applicant|patient|employee|insured|account holder)"
    r"|applicant|co-applicant|patient|employee|customer|client|account holder|account name"
    r"|card ?holder|name on card|bill to|billed to|ship to|sold to|deliver to|attn\.?|attention"
    r"|tenant|landlord|insured|policy ?holder|beneficiary|guarantor|member|subscriber|guardian"
    r"|parent|spouse|emergency contact|contact name|contact person|next of kin|signature"
    r"|signed(?: by)?|authori[sz]ed by|prepared by|approved by|witness|physician|doctor"
    r"|manager|supervisor|recipient|payee|sender|student|passenger|borrower|co-borrower"
)
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?"
_CLOSINGS = (
    r"sincerely|regards|kind regards|best regards|warm regards|yours truly|yours sincerely"
    r"|yours faithfully|best wishes|respectfully|cordially|thank you|thanks|with thanks"
)

# (pattern, confidence, fewest name tokens)
_PATTERNS = (
    (
        re.compile(
            rf"(?<![\w-])(?P<label>(?i:{_LABELS}))(?: \([^)\n]*\))?[ \t]*:[ \t]*(?:\n[ \t]*)?"
            + _ANY_NAME
        ),
        0.85,
        2,
    ),
    (re.compile(rf"\b(?i:dear|hello|hi)[ \t]+{_TITLES}[ \t]+{_ANY_NAME}"), 0.85, 1),
    (re.compile(rf"\b(?i:dear|hello|hi)[ \t]+{_ANY_NAME}(?=[ \t]*[,;:!])"), 0.75, 1),
    (re.compile(rf"(?<![\w.]){_TITLES}[ \t]+{_ANY_NAME}"), 0.75, 1),
    (
        re.compile(
            rf"\b(?i:{_CLOSINGS})[ \t]*[,.!;]?[ \t:;.,'|]*\n[ \t]*{_ANY_NAME}[ \t]*(?:\n|$)"
        ),
        0.8,
        2,
    ),
    # An address block: a line that is only a name, above a line starting with a house number.
    (
        re.compile(
            rf"(?:^|\n)[ \t]*{_ANY_NAME}[ \t]*\n[ \t]*"
            rf"(?=\d{{1,5}}[A-Za-z]?[ .][{_UP}]|P\.? ?O\.? Box)"
        ),
        0.7,
        2,
    ),
)
_NAME_HEADER = re.compile(
    r"(?:(?:full|first and last|employee|patient|customer|client|participant|student"
    r"|member|contact|staff|guest|attendee|applicant|passenger) )?names?",
    re.IGNORECASE,
)
_CELL_NAME = re.compile(_ANY_NAME)

# Words that end a name ("Account holder: Maria Gonzalez Customer ID 4482").
_STOP = frozenset(
    (
        *("sir", "madam", "valued", "colleague", "colleagues", "friend", "friends", "all"),
        *("customer", "customers", "client", "clients", "patient", "member", "members"),
        *("hiring", "applicant", "support", "information", "number", "date", "address"),
        *("details", "account", "the", "of", "and", "id", "no", "phone", "email", "invoice"),
        *("total", "tel", "fax", "mobile", "re", "subject", "dob", "ssn", "signature", "page"),
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december", "monday", "tuesday", "wednesday"),
        *("thursday", "friday", "saturday", "sunday", "today", "tomorrow", "yes", "none", "n/a"),
        *("please", "thank", "thanks", "your", "our", "this", "that", "we", "i", "see", "attn"),
    )
)
# Words that make the whole value an organisation or a place, not a person.
_ORG = frozenset(
    (
        *("inc", "llc", "ltd", "gmbh", "corp", "corporation", "company", "co", "group", "bank"),
        *("team", "department", "dept", "office", "services", "service", "systems", "solutions"),
        *("insurance", "health", "healthcare", "medical", "clinic", "hospital", "center"),
        *("centre", "university", "college", "school", "trust", "foundation", "association"),
        *("credit", "union", "management", "payroll", "logistics", "traders", "trading"),
        *("lending", "capital", "partners", "holdings", "international", "industries", "labs"),
        *("street", "avenue", "road", "lane", "drive", "way", "boulevard", "terrace", "plaza"),
        *("relations", "resources", "operations", "finance", "sales", "marketing", "manager"),
        *("property", "properties", "agency", "council", "committee", "board", "store", "shop"),
    )
)
# "Name:" only labels a person when it is not some other thing's name ("Company name:").
_NAME_LABEL_QUALIFIERS = frozenset(
    (
        *("full", "legal", "patient", "employee", "customer", "client", "applicant", "your"),
        *("member", "contact", "tenant", "account", "cardholder", "insured", "student", "guest"),
        *("passenger", "borrower", "participant", "last", "first", "and", "the"),
    )
)
_PREVIOUS_WORD = re.compile(r"([A-Za-z']+)[ \t]*$")


def _trim(value: str) -> tuple[int, int] | None:
    """The span (within `value`) of the name it holds, or None when it is no person's name."""
    if "," in value:  # "Last, First": both sides are the name
        words = re.split(r",? ", value)
        if any(w.lower().strip(".") in _ORG or w.lower() in _STOP for w in words):
            return None
        return 0, len(value)
    tokens = value.split(" ")
    kept: list[str] = []
    for token in tokens:
        lowered = token.lower()
        if lowered in _ORG:
            return None
        if lowered in _STOP:
            break
        kept.append(token)
    while kept and kept[-1].endswith("."):
        kept.pop()  # a trailing initial belongs to no one
    while kept and kept[-1].islower():
        kept.pop()  # a trailing particle
    if not kept:
        return None
    return 0, len(" ".join(kept))


# OCR's stray marks around names, each replaced by a space so that offsets stay put: curly
# quotes read for apostrophes are straightened first.
_OCR_QUOTES = str.maketrans("\u2019\u2018`\u00b4", "''''")
_OCR_STRAY = re.compile(
    rf"(?<=[ \t\n])[.,'](?=[{_UP}])"  # ".Jensen"
    rf"|(?<=[{_LO}])'(?=[ \t\n]|$|[{_UP}]\.)"  # "Siobhan' Hernandez", "Olivia'O. Haddad"
    rf"|(?<=[{_UP}][{_LO}]{{2}})\.(?= [{_UP}][{_LO}])"  # "Mei. Rossi"
)


def ocr_cleaned(text: str) -> str:
    """The text with OCR's stray marks around words blanked out (same length, same offsets)."""
    return _OCR_STRAY.sub(" ", text.translate(_OCR_QUOTES))


def persons(text: str, page: PageText, *, ocr: bool = False) -> Iterator[Candidate]:
    if ocr:
        text = ocr_cleaned(text)
    for pattern, confidence, fewest in _PATTERNS:
        for m in pattern.finditer(text):
            if "label" in pattern.groupindex and not _labels_a_person(text, m):
                continue
            value = m["name"]
            span = _trim(value)
            if span is None:
                continue
            start = m.start("name") + span[0]
            end = m.start("name") + span[1]
            tokens = text[start:end].replace(",", " ").split()
            if len([t for t in tokens if not t.endswith(".")]) < fewest:
                continue
            score = confidence - (0.05 if value.isupper() else 0.0)
            yield Candidate("PERSON", start, end, score)
    for cell in column_cells(page, _NAME_HEADER):
        m = _CELL_NAME.fullmatch(text, cell.start, cell.end)
        if not m or _trim(m["name"]) != (0, len(m["name"])):
            continue
        tokens = m["name"].replace(",", " ").split()
        if len([t for t in tokens if not t.endswith(".")]) >= 2:
            yield Candidate("PERSON", cell.start, cell.end, 0.85)


def _labels_a_person(text: str, m: re.Match[str]) -> bool:
    label = m["label"].lower()
    if not label.endswith("name") or label != "name":
        return True
    # A bare "Name:" after another word: "Company name:", "Product name:".
    row_start = text.rfind("\n", 0, m.start()) + 1
    previous = _PREVIOUS_WORD.search(text, row_start, m.start())
    return previous is None or previous[1].lower() in _NAME_LABEL_QUALIFIERS
