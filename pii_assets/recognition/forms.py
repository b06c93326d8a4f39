"""Form fields read through their structure: what labels a field says what its value is.

A PDF form field (`models.FormField`) carries its value apart from the page text, with a tooltip
(`/TU`, e.g. "Your social security number") or a name, and a widget box. Here:

- a field's label is its tooltip; without one, the words of its name ("Employee_SSN") and the
  printed caption beside or above its widget on the page (`captions`), which is how a person
  reads a form whose fields carry neither (IRS forms republished by tax software often do not);
- the label gives the kinds the value may be (`label_kinds`); the value's shape decides
  (checksum, digit count, date, e-mail syntax), so a label never makes a wrong value PII;
- values split over adjacent fields on one row (first name / middle initial / last name, an SSN
  in three boxes, an area code and a number) are joined into one entity whose box is the union
  of the widgets; a comb field (one character per box, PDF 32000-1:2008 §12.7.4.3) is one value;
- a form's page (its drawn values, or a flattened form) is read in `form_pages`.

Entity types outside the vocabulary in force (`models.ENTITY_TYPES`) are not reported.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pii_assets.models import ENTITY_TYPES, Entity, FormField, Word
from pii_assets.recognition.dates import birth_value_valid
from pii_assets.recognition.financial import (
    aba_valid,
    account_number_valid,
    card_valid,
    valid_iban,
)
from pii_assets.recognition.identifiers import license_valid, passport_valid, ssn_type
from pii_assets.recognition.names import ORGANISATION_WORDS
from pii_assets.recognition.patterns import email_valid, phone_valid

# Field kinds a label can name, most specific first: the first kind whose value test passes wins.
# Sources of the wording: IRS Forms 1040, W-4, W-9, W-2; USCIS Form I-9; SSA Form SS-5; state
# returns; and the same captions in German, French, Spanish, Italian and Dutch forms.
LABEL_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("ein", r"employer identification|\bein\b|\bfein\b"),
        ("itin", r"\bitin\b|individual taxpayer identification"),
        (
            "ssn",
            r"social security|\bssn\b|\bss ?#|soc\.? ?sec|taxpayer identification|\btin\b"
            r"|sozialversicherungs|s[ée]curit[ée] sociale|seguridad social|codice fiscale"
            r"|burgerservicenummer|\bbsn\b",
        ),
        ("routing", r"routing|\baba\b|\brtn\b|transit number|bankleitzahl|\bblz\b"),
        ("iban", r"\biban\b"),
        ("account", r"account (?:number|no\b)|acct\.? ?(?:no|#)|kontonummer|num[ée]ro de compte"),
        ("card", r"card (?:number|no\b)|credit card|debit card|kreditkarte|carte bancaire"),
        ("passport", r"passport|reisepass|passeport|pasaporte|passaporto|paspoort"),
        (
            "license",
            r"driver'?s? licen[cs]e|driving licen[cs]e|\bdl ?(?:no|#)|f[üu]hrerschein"
            r"|permis de conduire|licencia de conducir|patente di guida|rijbewijs",
        ),
        ("email", r"e-?mail|courriel|correo electr[óo]nico"),
        ("ip", r"\bip\b(?: address)?"),
        (
            "phone",
            r"phone|telephone|area code|\btel\b|\bmobile\b|\bcell\b|\bfax\b|daytime number|telefon"
            r"|t[ée]l[ée]phone|tel[ée]fono|telefoon|\bhandy\b|cellulare|portable",
        ),
        (
            "dob",
            r"date of birth|birth ?date|\bdob\b|d\.o\.b|\bborn\b|geburtsdatum|geboren"
            r"|date de naissance|n[ée]e? le|fecha de nacimiento|data di nascita|geboortedatum",
        ),
        (
            "address",
            r"address|number and street|street|anschrift|stra(?:ß|ss)e"
            r"|adresse|direcci[óo]n|domicilio|indirizzo|\badres\b|woonadres",
        ),
        ("middle", r"middle (?:name|initial)|\bm\.? ?i\.?$|\bmiddle\b"),
        (
            "first",
            r"first name|given name|first and middle|forename|vorname|pr[ée]nom|\bnombre\b"
            r"|\bnome\b|voornaam|\bfirst\b",
        ),
        (
            "last",
            r"last name|surname|family name|nachname|familienname|nom de famille|\bnom\b"
            r"|apellidos?|cognome|achternaam|\blast\b",
        ),
        ("name", r"\bnames?\b|\bnaam\b|\bnombre y apellidos\b"),
    )
)
# A label naming an organisation's name or number, not a person's.
_ORGANISATION = re.compile(
    r"(?i)\bemployer'?s?\b|business|company|\bfirm\b|bank(?:'s)? name|financial institution"
    r"|organi[sz]ation|agency|\bpayer'?s?\b|requester|\bentity\b|school|hospital|\bplan\b"
    r"|trust|partnership|corporation|arbeitgeber|employeur|empleador|datore|werkgever"
)
# ... unless it also names a person ("Name of entity/individual", "owner's name").
_INDIVIDUAL = re.compile(r"(?i)individual|\bowner|\bperson\b|employee")
# Parts of an address that are not the street line (quasi-identifiers on their own).
_NOT_STREET = re.compile(
    r"(?i)e-?mail|\bip\b|web|url|city|town|\bstate\b|zip|postal|country|province|county"
)
_PERSON_KINDS = ("first", "middle", "last", "name")
# Tooltips often start with the section's instructions and end with the field's caption.
_LABEL_TAIL = 90

# Kind -> entity type; the value test for each is in `_entity_type`.
_TYPE_OF = {
    "ssn": "US_SSN",
    "itin": "US_ITIN",
    "routing": "ABA_ROUTING_NUMBER",
    "account": "BANK_ACCOUNT_NUMBER",
    "iban": "IBAN_CODE",
    "card": "CREDIT_CARD",
    "passport": "US_PASSPORT",
    "license": "DRIVER_LICENSE",
    "email": "EMAIL_ADDRESS",
    "ip": "IP_ADDRESS",
    "phone": "PHONE_NUMBER",
    "dob": "DATE_OF_BIRTH",
    "address": "STREET_ADDRESS",
    **{kind: "PERSON" for kind in _PERSON_KINDS},
}
_TEXT_KINDS = frozenset({"text", "combobox", "listbox"})
_NAME_VALUE = re.compile(r"[^\W\d_][\w'’.-]*(?: [^\W\d_][\w'’.-]*){0,5}")
_NOT_A_NAME = frozenset({"n/a", "na", "none", "same", "unknown", "self", "yes", "no"})
_SEPARATORS = re.compile(r"[\s.\-/]")
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


@functools.lru_cache(maxsize=4096)
def _kinds(tail: str) -> tuple[str, ...]:
    return tuple(kind for kind, pattern in LABEL_KINDS if pattern.search(tail))


def label_kinds(label: str) -> list[str]:
    """The kinds of value a field label names, most specific first ([] when none).

    "Employer's name" names no person; "Email address" is no street address.
    """
    tail = label[-_LABEL_TAIL:]
    kinds = list(_kinds(tail))
    if "ein" in kinds and not {"ssn", "itin"} & set(kinds):
        return []  # an employer's number, not a person's
    if _ORGANISATION.search(tail) and not _INDIVIDUAL.search(tail):
        kinds = [k for k in kinds if k not in _PERSON_KINDS and k != "address"]
    if "address" in kinds and _NOT_STREET.search(tail) and "street" not in tail.lower():
        kinds.remove("address")
    return kinds


def name_words(name: str) -> str:
    """A field name's words ("topmostSubform[0].Page1[0].Employee_SSN[0]" -> "Employee SSN"),
    from its last part only: the parents are subforms and pages."""
    for part in reversed(name.split(".")):
        words = _NAME_WORDS.findall(part)
        if words:
            return " ".join(words)
    return ""


def _digits(value: str) -> str:
    return _SEPARATORS.sub("", value)


def value_type(kind: str, value: str, region: str) -> str | None:
    """The entity type `value` is as a `kind` field's value, or None when it does not fit: the
    same tests the page's recognizers apply (checksums, issuer ranges, digit counts, dates,
    e-mail syntax), the label standing in for the context words they look for."""
    compact = _digits(value)
    if kind in ("ssn", "itin"):
        return ssn_type(compact)
    if kind == "routing":
        return "ABA_ROUTING_NUMBER" if aba_valid(compact) else None
    if kind == "account":
        return "BANK_ACCOUNT_NUMBER" if account_number_valid(value.strip()) else None
    if kind == "iban":
        return "IBAN_CODE" if valid_iban(compact.upper()) else None
    if kind == "card":
        return "CREDIT_CARD" if card_valid(compact, labelled=True) else None
    if kind == "passport":
        return "US_PASSPORT" if passport_valid(compact.upper()) else None
    if kind == "license":
        return "DRIVER_LICENSE" if license_valid(value.strip().upper()) else None
    if kind == "email":
        return "EMAIL_ADDRESS" if email_valid(value.strip()) else None
    if kind == "ip":
        try:
            ipaddress.ip_address(value.strip())
        except ValueError:
            return None
        return "IP_ADDRESS"
    if kind == "phone":
        return "PHONE_NUMBER" if phone_valid(value, region) else None
    if kind == "dob":
        return "DATE_OF_BIRTH" if birth_value_valid(value.strip()) else None
    if kind == "address":
        has_digit = any(c.isdigit() for c in value)
        has_word = re.search(r"[^\W\d_]{2,}", value) is not None
        return "STREET_ADDRESS" if has_digit and has_word else None
    if kind in _PERSON_KINDS:
        ok = _NAME_VALUE.fullmatch(value) and value.lower().strip(".") not in _NOT_A_NAME
        organisation = any(w.lower().strip(".,") in ORGANISATION_WORDS for w in value.split())
        return "PERSON" if ok and not organisation else None
    return None


@dataclass(frozen=True)
class _Typed:
    """A field's value with the kind its label gave it and the entity type its value fits."""

    fields: tuple[FormField, ...]
    kind: str
    entity_type: str

    @property
    def value(self) -> str:
        return " ".join(f.value.strip() for f in self.fields)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return _union(f.rect for f in self.fields)


def _union(
    boxes: Iterable[tuple[float, float, float, float]],
) -> tuple[float, float, float, float]:
    x0s, y0s, x1s, y1s = zip(*boxes, strict=True)
    return min(x0s), min(y0s), max(x1s), max(y1s)


def _same_row(a: FormField, b: FormField) -> bool:
    overlap = min(a.rect[3], b.rect[3]) - max(a.rect[1], b.rect[1])
    shorter = min(a.rect[3] - a.rect[1], b.rect[3] - b.rect[1])
    return shorter > 0 and overlap >= 0.5 * shorter


# Widgets this far apart (page widths) on one row still hold pieces of one value.
_ADJACENT = 0.1


def _rows(fields: Sequence[FormField]) -> list[list[FormField]]:
    """Fields grouped into visual rows, each sorted left to right."""
    rows: list[list[FormField]] = []
    for f in sorted(fields, key=lambda f: ((f.rect[1] + f.rect[3]) / 2, f.rect[0])):
        for row in rows:
            if _same_row(row[0], f):
                row.append(f)
                break
        else:
            rows.append([f])
    for row in rows:
        row.sort(key=lambda f: f.rect[0])
    return rows


def form_entities(
    fields: Sequence[FormField],
    *,
    page: int,
    source: str,
    captions: dict[str, str] | None = None,
    region: str = "US",
) -> list[Entity]:
    """PII entities in a page's form fields, each with the box of its widget(s).

    `captions` maps a field name to the printed text that labels its widget on the page
    (`captions()`); it is used for fields without a tooltip. Entities are in reading order;
    their confidence is 0.95 (a label and a value that fits it).
    """
    captions = captions or {}
    labelled: list[tuple[FormField, list[str]]] = []
    for f in fields:
        if f.kind not in _TEXT_KINDS or not f.value.strip():
            continue
        # A tooltip that only repeats the field's name ("S3_DOB" for "S3_DOB.0") is no tooltip.
        tooltip = bool(f.label) and name_words(f.label) != name_words(f.name)
        label = f.label if tooltip else name_words(f.name)
        caption = captions.get(f.name, "")
        # The tooltip first. A tooltip that names no kind ("Today's date") is believed; one that
        # names a kind may be wrong (copied from the neighbouring field, a real-world mistake), so
        # the printed caption's kinds follow it; without a tooltip the caption labels the field.
        kinds = label_kinds(label)
        if kinds or not tooltip:
            kinds += [k for k in label_kinds(caption) if k not in kinds]
        labelled.append((f, kinds))
    kinds_of = {id(f): kinds for f, kinds in labelled}
    typed: list[_Typed] = []
    for row in _rows([f for f, _ in labelled]):
        typed.extend(_row_values(row, kinds_of, region))
    entities = []
    for t in sorted(typed, key=lambda t: (t.box[1], t.box[0])):
        if t.entity_type not in ENTITY_TYPES:
            continue
        x0, y0, x1, y1 = t.box
        entities.append(
            Entity(t.entity_type, t.value, page, x0, y0, x1, y1, 0.95, source, area="form_field")
        )
    return entities


def _row_values(row: list[FormField], kinds_of: dict[int, list[str]], region: str) -> list[_Typed]:
    """One row's values: pieces of a name or of a split number joined, each typed."""
    found: list[_Typed] = []
    index = 0
    while index < len(row):
        group = [row[index]]
        while index + len(group) < len(row):
            nxt = row[index + len(group)]
            gap = nxt.rect[0] - group[-1].rect[2]
            if gap > _ADJACENT or not _continues(group, nxt, kinds_of, region):
                break
            group.append(nxt)
        found.extend(_typed_group(group, kinds_of, region))
        index += len(group)
    return found


_PARTS = frozenset({"first", "middle", "last"})
# Kinds whose value a form may split over adjacent boxes: digit groups, an area code and number,
# a date's month, day and year.
_SPLIT_KINDS = frozenset({"ssn", "itin", "routing", "account", "card", "iban", "phone", "dob"})


def _continues(
    group: list[FormField], nxt: FormField, kinds_of: dict[int, list[str]], region: str
) -> bool:
    """Whether `nxt` continues the value of `group` (its left neighbours): the next part of a
    name, or the next box of a split number (the same kind, or a box whose value fits no kind
    of its own, such as an SSN's second box labelled only "Number")."""
    head = kinds_of[id(group[0])][:1]
    right = kinds_of[id(nxt)]
    if not head or head[0] == "name":
        return False
    if head[0] in _PARTS:
        return bool(right) and right[0] in _PARTS
    # Only numbers are split over boxes (the "Number" boxes of an SSN, an area code and a
    # number): a street line beside a county box is two values, even under one caption.
    if head[0] not in _SPLIT_KINDS:
        return False
    if right[:1] == head:
        return True
    return not any(value_type(kind, nxt.value.strip(), region) for kind in right)


def _typed_group(
    group: list[FormField], kinds_of: dict[int, list[str]], region: str
) -> list[_Typed]:
    """A group of adjacent fields as one value when their kinds allow, else each on its own."""
    kinds = kinds_of[id(group[0])]
    if len(group) > 1 and kinds[0] in _PARTS:
        if all(value_type("name", f.value.strip(), region) for f in group):
            return [_Typed(tuple(group), "name", "PERSON")]
    elif len(group) > 1:
        joined = "".join(_digits(f.value) for f in group)
        entity_type = value_type(kinds[0], joined, region)
        if entity_type and not any(value_type(kinds[0], f.value.strip(), region) for f in group):
            return [_Typed(tuple(group), kinds[0], entity_type)]
    found = []
    for f in group:
        for kind in kinds_of[id(f)]:
            entity_type = value_type(kind, f.value.strip(), region)
            if entity_type:
                found.append(_Typed((f,), kind, entity_type))
                break
    return found


# --- Printed captions ----------------------------------------------------------------------------

# How far above a widget (page heights) its caption may be printed, and how far to its left.
_CAPTION_ABOVE = 0.03
_CAPTION_LEFT = 0.25
_CAPTION_LEFT_GAP = 0.04
_CAPTION_LINES = 0.02


def captions(fields: Sequence[FormField], words: Sequence[Word]) -> dict[str, str]:
    """For each field, the printed words that label its widget: the text just left of it on its
    row when that text ends close to it ("b Routing number [____]"), else the line printed just
    above it within its width ("Your social security number" over the boxes). `words` are the
    page's words, normalised like the fields' rects; the words drawn inside a field's widget are
    its value, not a caption ("7874 Oak Street" over "City or town, state, and ZIP code")."""
    words = _printed(fields, words)
    found: dict[str, str] = {}
    for f in sorted(fields, key=lambda f: (f.rect[1], f.rect[0])):
        caption = _caption(f, words)
        if not label_kinds(caption):
            caption = _column_caption(f, fields, found) or caption
        if caption:
            found[f.name] = caption
    return found


def _printed(fields: Sequence[FormField], words: Sequence[Word]) -> list[Word]:
    """The words whose centre lies in no field's widget: the page's printed text."""
    rects = sorted((f.rect for f in fields), key=lambda r: r[1])
    tops = [r[1] for r in rects]
    printed = []
    for w in words:
        cx, cy = (w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2
        # Only widgets whose top lies above the word's centre can hold it.
        above = rects[: bisect.bisect_right(tops, cy)]
        if not any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in above):
            printed.append(w)
    return printed


def _caption(f: FormField, words: Sequence[Word]) -> str:
    x0, y0, x1, y1 = f.rect
    middle = (y0 + y1) / 2
    # Text on the widget's row just left of it; beside a tall widget the caption can wrap
    # ("Designee's / name"), so its other lines are read when the middle one names nothing.
    for beside in (
        lambda w: w.y0 <= middle <= w.y1,
        lambda w: w.y1 > y0 and w.y0 < y1,
    ):
        left = [w for w in words if beside(w) and x0 - _CAPTION_LEFT <= w.x1 <= x0 + 0.002]
        if left and x0 - max(w.x1 for w in left) <= _CAPTION_LEFT_GAP:
            ordered = sorted(left, key=lambda w: (round(w.y1, 3), w.x0))
            caption = " ".join(w.text for w in ordered)
            if label_kinds(caption):
                return caption
    above = [
        w
        for w in words
        if y0 - _CAPTION_ABOVE <= w.y1 <= y0 + 0.003 and w.x1 > x0 and w.x0 < x1 - 0.003
    ]
    if not above:
        return ""
    # The caption's last two lines: small print often wraps ("(2) Social security / number").
    lowest = max(w.y1 for w in above)
    lines = [w for w in above if w.y1 >= lowest - _CAPTION_LINES]
    return " ".join(w.text for w in sorted(lines, key=lambda w: (round(w.y1, 3), w.x0)))


def _column_caption(f: FormField, fields: Sequence[FormField], found: dict[str, str]) -> str:
    """A row of a table of fields takes the caption of the field above it in its column."""
    x0, y0, x1, y1 = f.rect
    above = [
        g
        for g in fields
        if g.name in found
        and g.rect[3] <= y0 + 0.002
        and y0 - g.rect[3] <= 0.25 * (y1 - y0)
        and min(x1, g.rect[2]) - max(x0, g.rect[0]) >= 0.5 * (x1 - x0)
    ]
    return found[max(above, key=lambda g: g.rect[3]).name] if above else ""
