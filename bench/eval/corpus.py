"""A seeded, labelled evaluation corpus: document families in every supported format.

Families: forms, statements, letters, invoices, rosters (a table with a "Name" column) and decoys
(pages full of look-alike numbers). Each document is a text PDF, a scanned PDF (noise, slight
rotation), or a photo (PNG, JPEG or TIFF). Labels, layouts, fonts and value formats vary, so the
recognizers are measured on more than one phrasing. Ground truth per entity: type, value, page and
box (normalised 0..1, rotated with the scan). All values are fake.
"""

from __future__ import annotations

import io
import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import phonenumbers
import pymupdf
from PIL import Image
from stdnum import iban, luhn
from stdnum.us import ssn

from pii_pipeline.corpus import TruthEntity, page_image, scanned_pdf

FAMILIES = ("form", "statement", "letter", "invoice", "roster", "decoy")
TEXT_KINDS = ("text_pdf",)
OCR_KINDS = ("scanned_pdf", "png", "jpeg", "tiff")

WIDTH, HEIGHT = 612.0, 792.0
LEFT = 60.0
FONTS = ("helv", "tiro", "cour")

FIRST_NAMES = (
    *("Maria", "James", "Aisha", "Daniel", "Olivia", "Wei", "Fatima", "Lucas", "Priya", "Thomas"),
    *("Elena", "Samuel", "Hannah", "Omar", "Grace", "Mateo", "Sofia", "Liam", "Chloe", "Noah"),
    *("Amara", "Kenji", "Ingrid", "Rafael", "Zainab", "Pierre", "Leila", "Dmitri", "Ana", "Yusuf"),
    *("Margaret", "Robert", "Siobhan", "Jose", "Renee", "Bjorn", "Mei", "Arjun", "Chidi", "Nadia"),
)
LAST_NAMES = (
    *("Gonzalez", "Thompson", "Okafor", "Becker", "Nguyen", "Patel", "Rossi", "Kowalski"),
    *("Johansson", "Martin", "Haddad", "Fischer", "Silva", "Murphy", "Carter", "Jensen"),
    *("O'Brien", "McAllister", "Smith-Jones", "Van Dyke", "DeSouza", "Tanaka", "Abernathy"),
    *("Lindqvist", "Moreau", "Novak", "Hernandez", "Adeyemi", "Kim", "Ivanova", "Schmidt"),
    *("Papadopoulos", "Walsh", "Chen", "Fontaine", "Mbeki", "Duarte", "Horvath", "Li"),
)
MIDDLE_INITIALS = tuple(string.ascii_uppercase)
TITLES = ("Mr.", "Ms.", "Mrs.", "Dr.", "Mx.")
COMPANIES = (
    *("Northwind Traders", "Contoso Health", "Fabrikam Bank", "Acme Logistics", "Globex Services"),
    *("Initech Systems", "Umbrella Insurance", "Stark Lending", "Wayne Medical Group"),
    *("Blue Harbor Credit Union", "Summit Property Management", "Cobalt Payroll Ltd"),
)
STREETS = ("Maple Avenue", "Oak Street", "Harbor Road", "Cedar Lane", "Elm Drive", "Hill Way")
CITIES = ("Springfield, IL 62704", "Portland, OR 97205", "Austin, TX 78701", "Boulder, CO 80302")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "corp.example")
MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)

# A segment of a line: its text, the entity type it carries (or None), and a key that joins the
# pieces of one value written over two lines.
Segment = tuple[str, str | None] | tuple[str, str | None, str]


@dataclass
class EvalDocument:
    name: str
    data: bytes
    kind: str  # "text_pdf" or one of OCR_KINDS
    family: str
    truth: list[TruthEntity] = field(default_factory=list)


# --- Fake values in varied formats ---------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    middle: str | None
    title: str

    @property
    def name(self) -> str:
        middle = f" {self.middle}." if self.middle else ""
        return f"{self.first}{middle} {self.last}"


def person(rng: random.Random) -> Person:
    middle = rng.choice(MIDDLE_INITIALS) if rng.random() < 0.2 else None
    return Person(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), middle, rng.choice(TITLES))


def name_as_written(p: Person, rng: random.Random, *, allow_upper: bool = True) -> str:
    roll = rng.random()
    if roll < 0.12:
        return f"{p.last}, {p.first}"
    if allow_upper and roll < 0.2:
        return p.name.upper()
    return p.name


def email(p: Person | None, rng: random.Random) -> str:
    domain = rng.choice(EMAIL_DOMAINS)
    if p is None:
        return f"{rng.choice(('support', 'billing', 'hr', 'info', 'no-reply'))}@{domain}"
    first, last = p.first.lower(), p.last.lower().replace("'", "").replace(" ", "")
    local = rng.choice(
        (
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{last}.{first}+billing",
            f"{first}{rng.randint(1970, 2005)}",
        )
    )
    return f"{local}@{domain}"


_US_AREAS = ("415", "212", "312", "617", "206", "303", "512", "404", "718", "305", "702", "919")


def phone(rng: random.Random) -> str:
    if rng.random() < 0.2:
        region = rng.choice(("GB", "DE", "FR", "NL", "AU", "CA"))
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        digits = str(example.national_number)
        while True:
            tail = "".join(str(rng.randint(0, 9)) for _ in range(3))
            number = phonenumbers.parse(f"+{example.country_code}{digits[:-3]}{tail}")
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
    while True:
        area = rng.choice(_US_AREAS)
        exchange = "555" if rng.random() < 0.5 else str(rng.randint(201, 989))
        line = f"01{rng.randint(0, 99):02d}" if exchange == "555" else f"{rng.randint(0, 9999):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area}{exchange}{line}")):
            break
    return rng.choice(
        (
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"+1 {area} {exchange} {line}",
            f"+1 ({area}) {exchange}-{line}",
            f"+1-{area}-{exchange}-{line}",
        )
    )


def ssn_value(rng: random.Random, *, compact: bool = False) -> str:
    while True:
        area, group, serial = rng.randint(1, 899), rng.randint(1, 99), rng.randint(1, 9999)
        value = f"{area:03d}-{group:02d}-{serial:04d}"
        if ssn.is_valid(value):
            break
    if compact:
        return value.replace("-", "")
    return value if rng.random() < 0.85 else value.replace("-", " ")


_CARD_SHAPES = (
    ("4", 16),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
)


def card(rng: random.Random, *, valid: bool = True) -> str:
    prefix, length = rng.choice(_CARD_SHAPES)
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - 1 - len(prefix)))
    check = luhn.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    digits = body + check
    style = rng.random()
    if style < 0.15:
        return digits
    sep = " " if style < 0.7 else "-"
    if length == 15:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


_IBAN_SHAPES = {
    "DE": "n18",
    "GB": "a4n14",
    "FR": "n23",
    "NL": "a4n10",
    "LU": "n3a13",
    "IT": "a1n22",
    "CH": "n17",
    "PL": "n24",
    "AT": "n16",
}


def iban_value(rng: random.Random, *, valid: bool = True, compact: bool | None = None) -> str:
    country = rng.choice(tuple(_IBAN_SHAPES))
    shape = _IBAN_SHAPES[country]
    bban = ""
    for kind, count in ((shape[i], int(shape[i + 1 : j])) for i, j in _shape_spans(shape)):
        pool = string.ascii_uppercase if kind == "a" else string.digits
        bban += "".join(rng.choice(pool) for _ in range(count))
    check = iban.calc_check_digits(country + "00" + bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 97 + 2:02d}"
    number = country + check + bban
    if valid:
        assert iban.is_valid(number)
    if compact is None:
        compact = rng.random() < 0.2
    return number if compact else " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _shape_spans(shape: str) -> list[tuple[int, int]]:
    starts = [i for i, c in enumerate(shape) if c.isalpha()]
    return list(zip(starts, [*starts[1:], len(shape)], strict=True))


def ipv4(rng: random.Random) -> str:
    prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113", "10.20.30", "172.16.8", "192.168.1"))
    return f"{prefix}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(1, 0xFFFF):x}" for _ in range(6)]
    return rng.choice(
        (
            f"2001:db8:{groups[0]}::{groups[1]}",
            f"2001:db8:{groups[0]}:{groups[1]}:{groups[2]}:{groups[3]}:{groups[4]}:{groups[5]}",
            f"2001:db8::{groups[2]}:{groups[3]}",
        )
    )


def birth_date(rng: random.Random) -> str:
    value = date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))
    month = MONTHS[value.month - 1]
    return rng.choice(
        (
            value.isoformat(),
            f"{value.month:02d}/{value.day:02d}/{value.year}",
            f"{value.day:02d}.{value.month:02d}.{value.year}",
            f"{value.day} {month} {value.year}",
            f"{month} {value.day}, {value.year}",
            f"{month[:3]} {value.day}, {value.year}",
            f"{value.day:02d}-{month[:3]}-{value.year}",
            f"{value.year}/{value.month:02d}/{value.day:02d}",
        )
    )


def other_date(rng: random.Random) -> str:
    value = date(2023, 1, 1) + timedelta(days=rng.randint(0, 700))
    return rng.choice((value.isoformat(), f"{value.month:02d}/{value.day:02d}/{value.year}"))


# --- Look-alike numbers that are not PII ----------------------------------------------------------


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(str(rng.randint(0, 9)) for _ in range(9))
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    digits = body + str(check)
    return f"{digits[:3]}-{digits[3]}-{digits[4:7]}-{digits[7:12]}-{digits[12]}"


def _bad_ssn(rng: random.Random) -> str:
    area = rng.choice(("000", "666", f"9{rng.randint(0, 99):02d}"))
    return f"{area}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def decoy_line(rng: random.Random) -> str:
    """One line of look-alike numbers: nothing on it is PII."""
    digits = lambda n: "".join(str(rng.randint(0, 9)) for _ in range(n))  # noqa: E731
    choices: tuple[Callable[[], str], ...] = (
        lambda: f"Order number: {digits(4)}-{digits(4)}-{digits(4)}",
        lambda: f"Order #{digits(9)} shipped on {other_date(rng)}",
        lambda: f"ISBN {_isbn13(rng)}",
        lambda: f"Reference: {card(rng, valid=False)}",
        lambda: f"Gift card code {card(rng, valid=False)}",
        lambda: f"Tracking number: 1Z{digits(3)}AA{digits(10)}",
        lambda: f"Version {rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
        lambda: (
            f"Firmware build {rng.randint(1, 9)}.{rng.randint(0, 9)}."
            f"{rng.randint(0, 99)}.{rng.randint(0, 200)}"
        ),
        lambda: (
            f"Release v{rng.randint(1, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 9)} "
            f"({other_date(rng)})"
        ),
        lambda: f"Employer ID: {_bad_ssn(rng)}",
        lambda: f"Sample SSN format: {_bad_ssn(rng)}",
        lambda: f"Routing number: {digits(9)}    Account no. {digits(10)}",
        lambda: f"Invoice date: {other_date(rng)}    Due date: {other_date(rng)}",
        lambda: f"Policy number: POL-{digits(8)}    Claim no. {digits(10)}",
        lambda: f"Old account reference {iban_value(rng, valid=False)}",
        lambda: f"Serial: SN{digits(12)}    Part 3{digits(2)}-{digits(2)}-{digits(5)}",
        lambda: f"Meeting at 10:30:45 in room {digits(3)}; MAC 00:1A:2B:{digits(2)}:4D:5E",
        lambda: (
            f"Product name: {rng.choice(('Ultra Widget', 'Smart Hub Pro', 'Cloud Backup Plus'))}"
        ),
        lambda: f"Company name: {rng.choice(COMPANIES)}",
        lambda: f"Customer ID {digits(10)}    Member since {rng.randint(1995, 2020)}",
        lambda: f"Total: ${rng.randint(100, 9999)}.{digits(2)}    Tax ID {digits(2)}-{digits(7)}",
        lambda: f"Phone extension {digits(4)}    Fax cover sheet {digits(3)} of {digits(3)}",
    )
    return rng.choice(choices)()


# --- Page layout with ground truth ----------------------------------------------------------------


@dataclass
class _Mark:
    entity_type: str
    text: str
    box: tuple[float, float, float, float]
    key: str | None


class Page:
    """Text placed at explicit positions; every typed segment becomes a ground-truth mark."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.font = rng.choice(FONTS)
        self.size = rng.choice((9.5, 10.0, 10.5, 11.0, 12.0))
        self.leading = self.size * rng.uniform(1.5, 1.8)
        self.y = 70.0 + rng.uniform(0, 20)
        self.ops: list[tuple[float, float, str, str, float]] = []
        self.marks: list[_Mark] = []

    def full(self) -> bool:
        return self.y > HEIGHT - 70

    def put(self, x: float, segments: list[Segment], *, size: float | None = None) -> float:
        """Writes the segments at x on the current baseline; returns the x after them."""
        size = size or self.size
        text = "".join(s[0] for s in segments)
        if text:
            self.ops.append((x, self.y, text, self.font, size))
        cursor = x
        for segment in segments:
            value, kind = segment[0], segment[1]
            width = pymupdf.get_text_length(value, fontname=self.font, fontsize=size)
            if kind:
                key = segment[2] if len(segment) > 2 else None
                box = (cursor, self.y - 0.8 * size, cursor + width, self.y + 0.22 * size)
                self.marks.append(_Mark(kind, value, box, key))
            cursor += width
        return cursor

    def line(self, *segments: Segment, x: float = LEFT, size: float | None = None) -> None:
        self.put(x, list(segments), size=size)
        self.newline(1.3 if size else 1.0)

    def title(self, text: str) -> None:
        self.line((text, None), size=self.size + 4)

    def newline(self, factor: float = 1.0) -> None:
        self.y += self.leading * factor

    def field(self, label: str, value: str, kind: str | None, *, layout: str = "inline") -> None:
        """A labelled value: inline ("Label: value"), aligned in a second column, or stacked."""
        if layout == "aligned":
            self.put(LEFT, [(label, None)])
            self.put(LEFT + 170, [(value, kind)])
            self.newline()
        elif layout == "stacked":
            self.line((label, None), size=self.size - 1.5)
            self.line((value, kind))
        else:
            self.line((label + " ", None), (value, kind))

    def truth(self, number: int) -> list[TruthEntity]:
        """The page's marks, normalised; pieces of one value (same key) become one entity."""
        merged: dict[object, _Mark] = {}
        for index, mark in enumerate(self.marks):
            key = mark.key or index
            if key in merged:
                first = merged[key]
                box = (
                    min(first.box[0], mark.box[0]),
                    min(first.box[1], mark.box[1]),
                    max(first.box[2], mark.box[2]),
                    max(first.box[3], mark.box[3]),
                )
                merged[key] = _Mark(first.entity_type, f"{first.text} {mark.text}", box, key)
            else:
                merged[key] = mark
        return [
            TruthEntity(
                m.entity_type,
                m.text,
                number,
                (m.box[0] / WIDTH, m.box[1] / HEIGHT, m.box[2] / WIDTH, m.box[3] / HEIGHT),
            )
            for m in merged.values()
        ]


def _render(pages: list[Page]) -> tuple[bytes, list[TruthEntity]]:
    doc = pymupdf.open()
    truth: list[TruthEntity] = []
    for number, page in enumerate(pages, start=1):
        pdf_page = doc.new_page(width=WIDTH, height=HEIGHT)
        for x, y, text, font, size in page.ops:
            pdf_page.insert_text((x, y), text, fontname=font, fontsize=size)
        truth.extend(page.truth(number))
    doc.set_metadata({"producer": "pii-pipeline eval corpus", "creationDate": "D:20240101000000Z"})
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data, truth


# --- Families -------------------------------------------------------------------------------------

_NAME_LABELS = (
    *("Name:", "Full name:", "Applicant:", "Patient:", "Employee:", "Customer:", "Insured:"),
    *("Account holder:", "Cardholder:", "Policyholder:", "Patient name:", "Employee name:"),
    *("Tenant:", "Member:", "Beneficiary:", "Client name:", "Name of applicant:", "Guarantor:"),
)
_DOB_LABELS = (
    *("Date of birth:", "DOB:", "D.O.B.:", "Birth date:", "Born:", "Birthdate:"),
    *("Date of Birth (as on ID):", "Geburtsdatum:"),
)
_SSN_LABELS = ("SSN:", "Social Security Number:", "Social Security No.:", "SS#:", "Soc. Sec. No.:")
_PHONE_LABELS = ("Phone:", "Tel.:", "Mobile:", "Cell:", "Telephone:", "Home phone:", "Contact no.:")
_EMAIL_LABELS = ("Email:", "E-mail:", "Email address:", "Contact email:")
_CARD_LABELS = ("Card number:", "Credit card:", "Visa/Mastercard:", "Card No.:", "Debit card:")
_IBAN_LABELS = ("IBAN:", "Account (IBAN):", "Bank account:", "Refund account:", "Payout IBAN:")
_IP_LABELS = ("IP address:", "Last login from", "Source IP:", "Sign-in IP:", "Client IP")


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return rng.choice(options)


def _form(rng: random.Random) -> list[Page]:
    p = person(rng)
    page = Page(rng)
    layout = rng.choice(("inline", "inline", "aligned", "stacked"))
    page.title(
        rng.choice(
            (
                "Employee Onboarding Form",
                "Patient Intake Form",
                "Rental Application",
                "Insurance Claim Form",
                "Membership Application",
                "New Account Application",
            )
        )
    )
    page.line(
        (f"{rng.choice(COMPANIES)}    Form {rng.randint(10, 99)}-{rng.randint(100, 999)}", None)
    )
    page.newline(0.5)
    fields: list[tuple[str, str, str | None]] = [
        (_pick(rng, _NAME_LABELS), name_as_written(p, rng), "PERSON"),
        (_pick(rng, _DOB_LABELS), birth_date(rng), "DATE_OF_BIRTH"),
        (_pick(rng, _EMAIL_LABELS), email(p, rng), "EMAIL_ADDRESS"),
        (_pick(rng, _PHONE_LABELS), phone(rng), "PHONE_NUMBER"),
        ("Home address:", f"{rng.randint(1, 999)} {rng.choice(STREETS)}", None),
        ("Date of application:", other_date(rng), None),
        ("Reference no.:", f"{rng.randint(10**8, 10**9 - 1)}", None),
    ]
    if rng.random() < 0.7:
        compact = rng.random() < 0.15
        fields.append((_pick(rng, _SSN_LABELS), ssn_value(rng, compact=compact), "US_SSN"))
    if rng.random() < 0.5:
        fields.append((_pick(rng, _IBAN_LABELS), iban_value(rng), "IBAN_CODE"))
    else:
        fields.append((_pick(rng, _CARD_LABELS), card(rng), "CREDIT_CARD"))
    if rng.random() < 0.3:
        fields.append((_pick(rng, _IP_LABELS), ipv4(rng), "IP_ADDRESS"))
    rng.shuffle(fields)
    for label, value, kind in fields:
        page.field(label, value, kind, layout=layout)
    if rng.random() < 0.5:
        page.line((decoy_line(rng), None))
    pages = [page]
    if rng.random() < 0.5:
        second = Page(rng)
        second.title(rng.choice(("Emergency contact", "Additional information", "Declaration")))
        contact = person(rng)
        label = rng.choice(("Contact name:", "Emergency contact:", "Spouse:", "Guardian:"))
        second.field(label, contact.name, "PERSON", layout=layout)
        second.field(_pick(rng, _PHONE_LABELS), phone(rng), "PHONE_NUMBER", layout=layout)
        second.line(("Relationship: " + rng.choice(("spouse", "parent", "sibling")), None))
        second.line((decoy_line(rng), None))
        second.newline()
        second.line(("I declare that the information given is complete and correct.", None))
        second.line(("Signature: ", None), (p.name, "PERSON"))
        second.line((f"Date: {other_date(rng)}", None))
        pages.append(second)
    return pages


def _statement(rng: random.Random) -> list[Page]:
    p = person(rng)
    bank = rng.choice(("Fabrikam Bank", "Blue Harbor Credit Union", "Stark Lending"))
    page = Page(rng)
    page.title(f"{bank} - " + rng.choice(("Account Statement", "Monthly Statement")))
    page.line((f"Statement period: {other_date(rng)} to {other_date(rng)}", None))
    page.newline(0.5)
    if rng.random() < 0.5:
        page.field(rng.choice(("Account holder:", "Customer:", "Name:")), p.name, "PERSON")
    else:  # an address block: the name is the line above a street address
        page.line((p.name, "PERSON"))
        page.line((f"{rng.randint(1, 999)} {rng.choice(STREETS)}", None))
        page.line((rng.choice(CITIES), None))
        page.newline(0.5)
    page.field(
        rng.choice(("IBAN:", "Account IBAN:", "Account number (IBAN):")),
        iban_value(rng),
        "IBAN_CODE",
    )
    page.line(
        (
            f"Card ending in {rng.randint(1000, 9999)}    Sort code "
            f"{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
            None,
        )
    )
    page.line((f"Opening balance: ${rng.randint(100, 9000)}.{rng.randint(10, 99)}", None))
    page.newline(0.5)
    columns = (LEFT, LEFT + 80, LEFT + 300, LEFT + 420)
    for x, head in zip(columns, ("Date", "Description", "Reference", "Amount"), strict=True):
        page.put(x, [(head, None)])
    page.newline()
    for _ in range(rng.randint(4, 9)):
        row = (
            other_date(rng),
            rng.choice(("Grocery store", "Salary", "Rent", "Utilities", "Card payment", "ATM")),
            str(rng.randint(10**7, 10**11)),
            f"-${rng.randint(5, 2500)}.{rng.randint(10, 99)}",
        )
        for x, cell in zip(columns, row, strict=True):
            page.put(x, [(cell, None)])
        page.newline()
    page.newline(0.5)
    page.line(
        ("Online banking sign-in from ", None),
        (ipv4(rng) if rng.random() < 0.7 else ipv6(rng), "IP_ADDRESS"),
    )
    page.line(
        ("Questions? Call us on ", None),
        (phone(rng), "PHONE_NUMBER"),
        (" or write to ", None),
        (email(None, rng), "EMAIL_ADDRESS"),
    )
    pages = [page]
    if rng.random() < 0.4:
        second = Page(rng)
        second.title("Card services")
        second.field(_pick(rng, _CARD_LABELS), card(rng), "CREDIT_CARD")
        second.field("Cardholder:", p.name, "PERSON")
        second.line((decoy_line(rng), None))
        second.line((decoy_line(rng), None))
        pages.append(second)
    return pages


def _letter(rng: random.Random) -> list[Page]:
    p = person(rng)
    company = rng.choice(COMPANIES)
    signer = person(rng)
    page = Page(rng)
    page.title(company)
    page.line((f"{rng.randint(1, 500)} Market Street, Boston, MA 02110", None))
    page.newline()
    page.line((p.name, "PERSON"))
    page.line((f"{rng.randint(1, 999)} {rng.choice(STREETS)}", None))
    page.line((rng.choice(CITIES), None))
    page.newline()
    page.line((f"Re: your account {rng.randint(10**6, 10**8)}", None))
    page.newline(0.5)
    style = rng.random()
    if style < 0.5:
        page.line(("Dear ", None), (f"{p.title} ", None), (p.last, "PERSON"), (",", None))
    elif style < 0.8:
        page.line(("Dear ", None), (p.name, "PERSON"), (rng.choice((",", ":")), None))
    else:
        page.line(("Dear ", None), (p.first, "PERSON"), (",", None))
    page.line(("thank you for your message. We have updated the details on your file.", None))
    page.line(
        ("Your registered email address is now ", None),
        (email(p, rng), "EMAIL_ADDRESS"),
        (".", None),
    )
    page.line(
        ("We will call you on ", None),
        (phone(rng), "PHONE_NUMBER"),
        (" if anything is unclear.", None),
    )
    if rng.random() < 0.5:
        page.line(
            ("Our records show your date of birth as ", None),
            (birth_date(rng), "DATE_OF_BIRTH"),
            (".", None),
        )
    if rng.random() < 0.5:
        value = iban_value(rng, compact=False)
        if rng.random() < 0.5:  # the value wraps onto the next line
            cut = value.find(" ", len(value) // 2)
            page.line(
                ("Refunds will be paid to the account ", None), (value[:cut], "IBAN_CODE", "iban")
            )
            page.line((value[cut + 1 :], "IBAN_CODE", "iban"), (" within ten days.", None))
        else:
            page.line(
                ("Refunds will be paid to the account ", None), (value, "IBAN_CODE"), (".", None)
            )
    if rng.random() < 0.4:
        adviser = person(rng)
        page.line(
            ("Your adviser, ", None),
            (f"{adviser.title} ", None),
            (adviser.last, "PERSON"),
            (", will contact you next week.", None),
        )
    page.line(("If you did not request this change, please contact us at once.", None))
    page.newline()
    page.line(
        (
            rng.choice(
                (
                    "Sincerely,",
                    "Kind regards,",
                    "Best regards,",
                    "Yours faithfully,",
                    "Respectfully,",
                )
            ),
            None,
        )
    )
    page.newline(0.4)
    page.line((signer.name, "PERSON"))
    page.line((rng.choice(("Customer Relations", "Account Manager", "Head of Operations")), None))
    pages = [page]
    if rng.random() < 0.4:
        second = Page(rng)
        second.title("Security notice")
        second.line(
            ("The change was made from IP address ", None),
            (ipv6(rng) if rng.random() < 0.5 else ipv4(rng), "IP_ADDRESS"),
            (".", None),
        )
        second.line((decoy_line(rng), None))
        pages.append(second)
    return pages


def _invoice(rng: random.Random) -> list[Page]:
    p = person(rng)
    company = rng.choice(COMPANIES)
    page = Page(rng)
    page.title(f"INVOICE    {company}")
    page.line(
        ("Billing enquiries: ", None),
        (email(None, rng), "EMAIL_ADDRESS"),
        ("    Tel ", None),
        (phone(rng), "PHONE_NUMBER"),
    )
    page.line(
        (f"Invoice number: INV-{rng.randint(1000, 99999)}    Invoice date: {other_date(rng)}", None)
    )
    page.newline(0.5)
    if rng.random() < 0.8:
        page.field(
            rng.choice(("Bill to:", "Billed to:", "Customer:", "Sold to:")),
            p.name,
            "PERSON",
            layout=rng.choice(("inline", "stacked")),
        )
    else:
        page.field("Bill to:", f"{rng.choice(COMPANIES)} Inc.", None)
    page.line((f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}", None))
    page.field(_pick(rng, _EMAIL_LABELS), email(p, rng), "EMAIL_ADDRESS")
    page.newline(0.5)
    columns = (LEFT, LEFT + 250, LEFT + 330, LEFT + 420)
    for x, head in zip(columns, ("Description", "Qty", "Unit price", "Amount"), strict=True):
        page.put(x, [(head, None)])
    page.newline()
    for _ in range(rng.randint(2, 5)):
        item = rng.choice(
            (
                "Consulting services",
                "Travel expenses",
                f"Book ISBN {_isbn13(rng)}",
                f"SKU {rng.randint(10**9, 10**10)}",
            )
        )
        row = (
            item,
            str(rng.randint(1, 20)),
            f"${rng.randint(10, 900)}.00",
            f"${rng.randint(10, 9000)}.00",
        )
        for x, cell in zip(columns, row, strict=True):
            page.put(x, [(cell, None)])
        page.newline()
    page.line(
        (
            f"Subtotal ${rng.randint(100, 9999)}.00    VAT $0.00    "
            f"Total due ${rng.randint(100, 9999)}.00",
            None,
        )
    )
    page.newline(0.5)
    if rng.random() < 0.6:
        page.line(
            (rng.choice(("Paid by card ", "Charged to card ", "Payment card: ")), None),
            (card(rng), "CREDIT_CARD"),
        )
    else:
        page.line(("Please pay to IBAN ", None), (iban_value(rng), "IBAN_CODE"))
    if rng.random() < 0.5:
        page.line(("Order placed from IP address ", None), (ipv4(rng), "IP_ADDRESS"))
    page.line((decoy_line(rng), None))
    page.line(("Payment terms: 30 days. Thank you for your business.", None))
    return [page]


def _roster(rng: random.Random) -> list[Page]:
    page = Page(rng)
    page.title(
        rng.choice(("Team roster", "Staff directory", "Attendance sheet", "Course participants"))
    )
    page.line(
        (
            f"Department: {rng.choice(('Operations', 'Finance', 'Nursing', 'Sales'))}    "
            f"Updated {other_date(rng)}",
            None,
        )
    )
    page.newline(0.5)
    head = rng.choice(("Name", "Employee Name", "Full Name", "Name", "Participant Name"))
    columns: list[tuple[str, str]] = [("ID", "id"), (head, "name")]
    extra = rng.sample(
        (
            ("Email", "email"),
            ("Phone", "phone"),
            ("Date of Birth", "dob"),
            ("DOB", "dob"),
            ("Start date", "start"),
            ("Ext.", "ext"),
        ),
        3,
    )
    seen = set()
    for column in extra:
        if column[1] not in seen:
            columns.append(column)
            seen.add(column[1])
    size = min(page.size, 9.5)
    rows: list[list[Segment]] = []
    for _ in range(rng.randint(4, 9)):
        p = person(rng)
        row: list[Segment] = []
        for _, kind in columns:
            if kind == "id":
                cell: Segment = (f"E{rng.randint(1000, 9999)}", None)
            elif kind == "name":
                cell = (f"{p.last}, {p.first}" if rng.random() < 0.25 else p.name, "PERSON")
            elif kind == "email":
                cell = (email(p, rng), "EMAIL_ADDRESS")
            elif kind == "phone":
                cell = (phone(rng), "PHONE_NUMBER")
            elif kind == "dob":
                cell = (birth_date(rng), "DATE_OF_BIRTH")
            elif kind == "start":
                cell = (other_date(rng), None)
            else:
                cell = (str(rng.randint(100, 9999)), None)
            row.append(cell)
        rows.append(row)
    # Columns as wide as their widest cell, a gap between them; those that do not fit are dropped.
    xs: list[float] = []
    x = LEFT
    for index, (label, _) in enumerate(columns):
        width = max(
            pymupdf.get_text_length(text, fontname=page.font, fontsize=size)
            for text in (label, *(row[index][0] for row in rows))
        )
        if x + width > WIDTH - 40:
            break
        xs.append(x)
        x += width + rng.uniform(14, 30)
    for x, (label, _) in zip(xs, columns, strict=False):
        page.put(x, [(label, None)], size=size)
    page.newline()
    for row in rows:
        for x, cell in zip(xs, row, strict=False):
            page.put(x, [cell], size=size)
        page.newline()
    page.newline()
    page.line((f"Prepared by HR on {other_date(rng)}. Internal use only.", None))
    return [page]


def _decoy(rng: random.Random) -> list[Page]:
    page = Page(rng)
    page.title(
        rng.choice(
            ("Release notes", "Shipping manifest", "Order confirmation", "Product catalogue")
        )
    )
    page.newline(0.3)
    for _ in range(rng.randint(12, 20)):
        page.line((decoy_line(rng), None))
        if page.full():
            break
    if rng.random() < 0.5:
        page.line(("Support: ", None), (email(None, rng), "EMAIL_ADDRESS"))
    return [page]


_FAMILIES: dict[str, Callable[[random.Random], list[Page]]] = {
    "form": _form,
    "statement": _statement,
    "letter": _letter,
    "invoice": _invoice,
    "roster": _roster,
    "decoy": _decoy,
}


# --- Formats --------------------------------------------------------------------------------------


def _rotate_box(
    box: tuple[float, float, float, float], degrees: float
) -> tuple[float, float, float, float]:
    """The axis-aligned box around `box` after PIL's counter-clockwise rotation about the centre."""
    if not degrees:
        return box
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = WIDTH / 2, HEIGHT / 2
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = x * WIDTH - cx, y * HEIGHT - cy
        xs.append((cx + dx * cos + dy * sin) / WIDTH)
        ys.append((cy - dx * sin + dy * cos) / HEIGHT)
    return min(xs), min(ys), max(xs), max(ys)


def _as_kind(
    pdf: bytes, truth: list[TruthEntity], kind: str, rng: random.Random
) -> tuple[bytes, list[TruthEntity]]:
    if kind == "text_pdf":
        return pdf, truth
    skew = round(rng.uniform(-1.2, 1.2), 2) if rng.random() < 0.8 else 0.0
    seed = rng.randrange(2**32)
    if kind == "scanned_pdf":
        data = scanned_pdf(
            pdf, dpi=rng.choice((150, 200, 200)), noise=rng.uniform(2, 6), rotate=skew, seed=seed
        )
    else:
        truth = [t for t in truth if t.page == 1]  # a photo is one page
        dpi = rng.choice((150, 200, 200))
        fmt = "jpeg" if kind == "jpeg" else "png"
        # Noise does not compress: lossless photos stay clean, JPEG ones get grain.
        noise = rng.uniform(2, 5) if fmt == "jpeg" else 0.0
        data = page_image(
            pdf, dpi=dpi, fmt=fmt, noise=noise, rotate=skew, seed=seed, quality=rng.randint(60, 90)
        )
        if kind == "tiff":
            with Image.open(io.BytesIO(data)) as image:
                out = io.BytesIO()
                image.save(out, "TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
                data = out.getvalue()
    rotated = [
        TruthEntity(t.entity_type, t.text, t.page, _rotate_box(t.box, skew) if t.box else None)
        for t in truth
    ]
    return data, rotated


def generate(n: int, *, seed: int, ocr_share: float = 0.35) -> list[EvalDocument]:
    """`n` documents cycling through the families; a share of them scanned or photographed."""
    rng = random.Random(seed)
    documents: list[EvalDocument] = []
    ocr_count = round(n * ocr_share)
    kinds = [OCR_KINDS[i % len(OCR_KINDS)] for i in range(ocr_count)]
    kinds += ["text_pdf"] * (n - ocr_count)
    rng.shuffle(kinds)
    for index, kind in enumerate(kinds):
        family = FAMILIES[index % len(FAMILIES)]
        doc_rng = random.Random(rng.randrange(2**32))
        pages = _FAMILIES[family](doc_rng)
        pdf, truth = _render(pages)
        data, truth = _as_kind(pdf, truth, kind, doc_rng)
        ext = {"text_pdf": "pdf", "scanned_pdf": "pdf", "png": "png", "jpeg": "jpg", "tiff": "tif"}
        name = f"{family}_{index + 1:04d}.{ext[kind]}"
        documents.append(EvalDocument(name=name, data=data, kind=kind, family=family, truth=truth))
    return documents
