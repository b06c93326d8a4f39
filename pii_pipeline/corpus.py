"""A seeded generator of realistic synthetic documents carrying fake PII, with ground truth.

Every value is fake: names come from fixed lists, phone numbers use the fictional 555-01xx range,
IP addresses come from the documentation ranges, and card numbers/IBANs are random digits with
valid checksums. The same seed always yields the same bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pymupdf
from PIL import Image
from stdnum import iban, luhn
from stdnum.us import ssn

KINDS: tuple[str, ...] = ("text_pdf", "scanned_pdf", "png", "jpeg")
_EXTENSIONS = {"text_pdf": "pdf", "scanned_pdf": "pdf", "png": "png", "jpeg": "jpg"}

FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Maria", "Ms."),
    ("James", "Mr."),
    ("Aisha", "Ms."),
    ("Daniel", "Mr."),
    ("Olivia", "Ms."),
    ("Wei", "Mr."),
    ("Fatima", "Ms."),
    ("Lucas", "Mr."),
    ("Priya", "Dr."),
    ("Thomas", "Mr."),
    ("Elena", "Ms."),
    ("Samuel", "Dr."),
    ("Hannah", "Ms."),
    ("Omar", "Mr."),
    ("Grace", "Ms."),
    ("Mateo", "Mr."),
)
LAST_NAMES: tuple[str, ...] = (
    "Gonzalez",
    "Thompson",
    "Okafor",
    "Becker",
    "Nguyen",
    "Patel",
    "Rossi",
    "Kowalski",
    "Johansson",
    "Martin",
    "Haddad",
    "Fischer",
    "Silva",
    "Murphy",
    "Carter",
    "Jensen",
)
STREETS: tuple[str, ...] = (
    "Maple Avenue",
    "Oak Street",
    "Harbor Road",
    "Cedar Lane",
    "Elm Drive",
    "Riverside Boulevard",
    "Hillcrest Way",
    "Sunset Terrace",
)
CITIES: tuple[str, ...] = (
    "Springfield, IL 62704",
    "Portland, OR 97205",
    "Austin, TX 78701",
    "Madison, WI 53703",
    "Boulder, CO 80302",
    "Raleigh, NC 27601",
)
COMPANIES: tuple[str, ...] = (
    "Northwind Traders",
    "Contoso Health",
    "Fabrikam Bank",
    "Acme Logistics",
    "Globex Services",
    "Initech Systems",
)
_AREA_CODES = ("415", "212", "312", "617", "206", "303", "512", "404")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

PAGE_SIZE = (612.0, 792.0)  # US letter, points
_MARGIN = 72.0
_FONT = "helv"
_BOLD = "hebo"
_FONT_SIZE = 11.0
_LINE_HEIGHT = 19.0
# Fixed metadata: MuPDF would otherwise stamp the current time and break byte-for-byte determinism.
_METADATA = {
    "producer": "pii-pipeline synthetic corpus",
    "creator": "pii-pipeline synthetic corpus",
    "creationDate": "D:20240101000000Z",
    "modDate": "D:20240101000000Z",
}


@dataclass(frozen=True)
class TruthEntity:
    entity_type: str
    text: str
    page: int  # 1-based
    # Where the value was drawn, normalised 0..1 (x0, y0, x1, y1); scans may be slightly rotated.
    box: tuple[float, float, float, float] | None = None


@dataclass
class GeneratedDocument:
    name: str
    data: bytes
    kind: str  # one of KINDS
    truth: list[TruthEntity] = field(default_factory=list)


# A line is a list of segments; a segment carries the entity type of its text, or None.
Segment = tuple[str, str | None]
Line = list[Segment]


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    title: str
    email: str
    phone: str
    ssn: str
    card: str
    iban: str
    ipv4: str
    ipv6: str
    dob: str
    street: str
    city: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _fake_person(rng: random.Random) -> _Person:
    first, title = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    return _Person(
        first=first,
        last=last,
        title=title,
        email=f"{first}.{last}@{rng.choice(_EMAIL_DOMAINS)}".lower(),
        phone=_fake_phone(rng),
        ssn=_fake_ssn(rng),
        card=_fake_card(rng),
        iban=_fake_iban(rng),
        ipv4=f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}",
        ipv6=f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}",
        dob=_format_date(_fake_birth_date(rng), rng),
        street=f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
        city=rng.choice(CITIES),
    )


def _fake_phone(rng: random.Random) -> str:
    area, line = rng.choice(_AREA_CODES), f"01{rng.randint(0, 99):02d}"
    formats = (f"({area}) 555-{line}", f"+1 {area} 555 {line}", f"{area}-555-{line}")
    return rng.choice((*formats, f"+1 ({area}) 555-{line}"))


def _fake_ssn(rng: random.Random) -> str:
    while True:
        value = f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if ssn.is_valid(value):
            return value


def _fake_card(rng: random.Random) -> str:
    prefix = rng.choice(("4", "51", "52", "55"))
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(15 - len(prefix)))
    digits = body + luhn.calc_check_digit(body)
    sep = rng.choice((" ", "-"))
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _fake_iban(rng: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(n))

    while True:
        country = rng.choice(("DE", "GB", "FR"))
        if country == "DE":
            bban = digits(18)
        elif country == "GB":
            bban = rng.choice(("WEST", "NWBK", "BARC")) + digits(14)
        else:
            bban = digits(23)  # FR: bank, branch, account and RIB key, all digits here
        number = country + "00" + bban
        number = country + iban.calc_check_digits(number) + bban
        if iban.is_valid(number):
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _fake_birth_date(rng: random.Random) -> date:
    return date(1950, 1, 1) + timedelta(days=rng.randint(0, 52 * 365))


def _format_date(value: date, rng: random.Random) -> str:
    month = _MONTHS[value.month - 1]
    return rng.choice(
        (
            value.isoformat(),
            f"{value.month:02d}/{value.day:02d}/{value.year}",
            f"{value.day} {month} {value.year}",
            f"{month} {value.day}, {value.year}",
        )
    )


def _field(label: str, value: str, entity_type: str | None) -> Line:
    return [(f"{label} ", None), (value, entity_type)]


# --- Templates: each returns the pages of one document as lines of segments. -------------------


def _hr_form(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    company = rng.choice(COMPANIES)
    dob_label = rng.choice(("Date of birth:", "DOB:", "Birth date:"))
    first = [
        [(f"{company} - Employee Onboarding Form", "TITLE")],
        [],
        _field("Full name:", p.name, "PERSON"),
        _field(dob_label, p.dob, "DATE_OF_BIRTH"),
        _field("Social Security Number:", p.ssn, "US_SSN"),
        _field("Email:", p.email, "EMAIL_ADDRESS"),
        _field("Phone:", p.phone, "PHONE_NUMBER"),
        [("Home address: " + p.street + ", " + p.city, None)],
        [("Job title: Logistics Coordinator    Department: Operations", None)],
        [(f"Start date: 2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", None)],
        [],
        [("Direct deposit", "TITLE")],
        _field("Account IBAN:", p.iban, "IBAN_CODE"),
        [("I confirm that the information above is correct.", None)],
    ]
    second = [
        [("Equipment and access", "TITLE")],
        [],
        _field("Employee:", p.name, "PERSON"),
        _field("Corporate card number:", p.card, "CREDIT_CARD"),
        _field("VPN allow-listed IP address:", p.ipv4, "IP_ADDRESS"),
        [("Laptop asset tag: LT-20931    Badge: issued", None)],
        [("Human resources will review this form within five business days.", None)],
    ]
    return [first, second][:pages]


def _invoice(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    company = rng.choice(COMPANIES)
    number = rng.randint(1000, 9999)
    first = [
        [(f"INVOICE  {company}", "TITLE")],
        [(f"Invoice number: INV-{number}    Invoice date: 2024-03-{rng.randint(10, 28)}", None)],
        [],
        _field("Bill to:", p.name, "PERSON"),
        [(p.street, None)],
        [(p.city, None)],
        _field("Email:", p.email, "EMAIL_ADDRESS"),
        _field("Phone:", p.phone, "PHONE_NUMBER"),
        [],
        [("Description                 Qty    Unit price      Amount", None)],
        [("Consulting services          10      $120.00    $1,200.00", None)],
        [("Travel expenses               1      $310.50      $310.50", None)],
        [("Subtotal $1,510.50    VAT $0.00    Total due $1,510.50", None)],
        [],
        _field("Paid by card:", p.card, "CREDIT_CARD"),
        _field("Order placed from IP address", p.ipv4, "IP_ADDRESS"),
        [("Payment terms: 30 days. Thank you for your business.", None)],
    ]
    second = [
        [("Remittance advice", "TITLE")],
        [],
        _field("Customer:", p.name, "PERSON"),
        _field("Refunds are paid to IBAN", p.iban, "IBAN_CODE"),
        [(f"Please quote INV-{number} with every payment.", None)],
    ]
    return [first, second][:pages]


def _letter(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    company = rng.choice(COMPANIES)
    signer_first, _ = rng.choice(FIRST_NAMES)
    signer = f"{signer_first} {rng.choice(LAST_NAMES)}"
    first = [
        [(f"{company}", "TITLE")],
        [("Customer Relations, 100 Market Street, Boston, MA 02110", None)],
        [],
        _field("Account holder:", p.name, "PERSON"),
        [(p.street + ", " + p.city, None)],
        [],
        [("Dear ", None), (f"{p.title} ", None), (p.last, "PERSON"), (",", None)],
        [("we have updated the contact details on your account as requested.", None)],
        [("Your registered email address is now ", None), (p.email, "EMAIL_ADDRESS")],
        [("and we will call you on ", None), (p.phone, "PHONE_NUMBER"), (" if needed.", None)],
        [("Refunds will be paid to the account ", None), (p.iban, "IBAN_CODE"), (".", None)],
        [("If you did not request this change, please contact us at once.", None)],
        [],
        [("Sincerely,", None)],
        [(signer, "PERSON")],
    ]
    second = [
        [("Security notice", "TITLE")],
        [],
        [("The change was made from IP address ", None), (p.ipv6, "IP_ADDRESS"), (".", None)],
        [("Our records show your date of birth as ", None), (p.dob, "DATE_OF_BIRTH"), (".", None)],
    ]
    return [first, second][:pages]


def _medical(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    clinic = rng.choice(("Riverside Clinic", "Lakeview Medical Center", "Hillcrest Hospital"))
    first = [
        [(f"{clinic} - Patient Intake Record", "TITLE")],
        [],
        _field("Patient:", p.name, "PERSON"),
        _field("DOB:", p.dob, "DATE_OF_BIRTH"),
        _field("Social Security No.:", p.ssn, "US_SSN"),
        _field("Phone:", p.phone, "PHONE_NUMBER"),
        _field("Email:", p.email, "EMAIL_ADDRESS"),
        [(f"Insurance member ID: HX-{rng.randint(100000, 999999)}", None)],
        [("Allergies: penicillin    Blood pressure: 120/80", None)],
        [("Diagnosis: seasonal allergic rhinitis. Medication: cetirizine 10 mg.", None)],
        [("Next visit: 2024-06-03", None)],
    ]
    second = [
        [("Patient portal", "TITLE")],
        [],
        _field("Patient:", p.name, "PERSON"),
        _field("Last portal login from", p.ipv4, "IP_ADDRESS"),
        _field("Card on file for co-payments:", p.card, "CREDIT_CARD"),
    ]
    return [first, second][:pages]


def _bank_statement(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    first = [
        [("Fabrikam Bank - Account Statement", "TITLE")],
        [("Statement period: 2024-02-01 to 2024-02-29", None)],
        [],
        _field("Account holder:", p.name, "PERSON"),
        _field("IBAN:", p.iban, "IBAN_CODE"),
        [("Opening balance: $4,210.77    Closing balance: $3,905.12", None)],
        [],
        [("Date        Description                       Amount", None)],
        [("2024-02-03  Grocery store                      -$84.20", None)],
        [("2024-02-09  Salary                          +$3,150.00", None)],
        [("2024-02-14  Rent                            -$2,400.00", None)],
        [("2024-02-21  Utilities                         -$171.45", None)],
        _field("Debit card:", p.card, "CREDIT_CARD"),
    ]
    second = [
        [("Account services", "TITLE")],
        [],
        _field("Customer:", p.name, "PERSON"),
        _field("Online banking sign-in from", p.ipv4, "IP_ADDRESS"),
        _field("Contact phone:", p.phone, "PHONE_NUMBER"),
        _field("Statements are emailed to", p.email, "EMAIL_ADDRESS"),
    ]
    return [first, second][:pages]


def _payslip(p: _Person, rng: random.Random, pages: int) -> list[list[Line]]:
    company = rng.choice(COMPANIES)
    first = [
        [(f"{company} - Payslip", "TITLE")],
        [("Pay period: March 2024    Pay date: 2024-03-29", None)],
        [],
        _field("Employee:", p.name, "PERSON"),
        [(f"Employee ID: {rng.randint(10000, 99999)}", None)],
        _field("SSN:", p.ssn, "US_SSN"),
        _field("Date of birth:", p.dob, "DATE_OF_BIRTH"),
        [("Gross pay: $5,200.00    Deductions: $1,344.10    Net pay: $3,855.90", None)],
        _field("Net pay transferred to IBAN", p.iban, "IBAN_CODE"),
        _field("Questions? Call payroll at", p.phone, "PHONE_NUMBER"),
    ]
    return [first][:pages]


_TEMPLATES = {
    "hr_form": _hr_form,
    "invoice": _invoice,
    "letter": _letter,
    "medical_record": _medical,
    "bank_statement": _bank_statement,
    "payslip": _payslip,
}
_MAX_PAGES = {"payslip": 1}


# --- Rendering -----------------------------------------------------------------------------------


def _save(doc: pymupdf.Document) -> bytes:
    doc.set_metadata(_METADATA)
    # no_new_id keeps MuPDF from writing a fresh random trailer /ID on every save.
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)


def _draw_page(doc: pymupdf.Document, lines: list[Line], page_number: int) -> list[TruthEntity]:
    width, height = PAGE_SIZE
    page = doc.new_page(width=width, height=height)
    truth: list[TruthEntity] = []
    y = _MARGIN + 10
    for line in lines:
        is_title = any(kind == "TITLE" for _, kind in line)
        font, size = (_BOLD, 15.0) if is_title else (_FONT, _FONT_SIZE)
        x = _MARGIN
        text = "".join(segment for segment, _ in line)
        if text:
            page.insert_text((x, y), text, fontname=font, fontsize=size)
        for segment, kind in line:
            seg_width = pymupdf.get_text_length(segment, fontname=font, fontsize=size)
            if kind not in (None, "TITLE"):
                box = (x / width, (y - size) / height, (x + seg_width) / width, (y + 3) / height)
                truth.append(TruthEntity(kind, segment, page_number, box))
            x += seg_width
        y += _LINE_HEIGHT * (1.3 if is_title else 1.0)
    return truth


def text_pdf(pages: list[list[Line]]) -> tuple[bytes, list[TruthEntity]]:
    """A PDF with a text layer, one page per list of lines; returns its bytes and ground truth."""
    doc = pymupdf.open()
    truth: list[TruthEntity] = []
    for number, lines in enumerate(pages, start=1):
        truth.extend(_draw_page(doc, lines, number))
    data = _save(doc)
    doc.close()
    return data, truth


def single_page_pdf(text_lines: list[str]) -> bytes:
    """A one-page text PDF with one line of text per item."""
    data, _ = text_pdf([[[(line, None)] for line in text_lines]])
    return data


def _degrade(image: Image.Image, *, noise: float, rotate: float, seed: int) -> Image.Image:
    """A scanner's imperfections: a slight skew and grain, reproducible from the seed."""
    if rotate:
        image = image.rotate(rotate, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(image, dtype=np.float32)
        pixels = pixels + rng.normal(0.0, noise, pixels.shape)
        specks = rng.random(pixels.shape) < 0.0008
        pixels[specks] = 0.0
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    return image


def page_image(
    pdf: bytes,
    page_index: int = 0,
    *,
    dpi: int = 200,
    fmt: str = "png",
    noise: float = 0.0,
    rotate: float = 0.0,
    seed: int = 0,
    quality: int = 70,
) -> bytes:
    """One page of a PDF as a grayscale PNG or JPEG image, optionally skewed and noisy."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        pixmap = doc[page_index].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        image = Image.frombytes("L", (pixmap.width, pixmap.height), pixmap.samples)
    image = _degrade(image, noise=noise, rotate=rotate, seed=seed)
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", dpi=(dpi, dpi), optimize=False)
    elif fmt == "jpeg":
        image.save(out, "JPEG", dpi=(dpi, dpi), quality=quality)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return out.getvalue()


def scanned_pdf(
    pdf: bytes, *, dpi: int = 150, noise: float = 4.0, rotate: float = 0.0, seed: int = 0
) -> bytes:
    """The PDF with each page replaced by a JPEG picture of it: no text layer, as from a scanner."""
    with pymupdf.open(stream=pdf, filetype="pdf") as source:
        rects = [page.rect for page in source]
    doc = pymupdf.open()
    for index, rect in enumerate(rects):
        picture = page_image(
            pdf, index, dpi=dpi, fmt="jpeg", noise=noise, rotate=rotate, seed=seed + index
        )
        page = doc.new_page(width=rect.width, height=rect.height)
        page.insert_image(page.rect, stream=picture)
    data = _save(doc)
    doc.close()
    return data


def oversized_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose pixel data is a few bytes.

    Stands in for a decompression bomb: decoding it would need width x height x 3 bytes.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def generate_corpus(n: int = 12, *, seed: int = 7) -> list[GeneratedDocument]:
    """`n` documents cycling through KINDS and the templates; deterministic for a seed."""
    rng = random.Random(seed)
    template_names = list(_TEMPLATES)
    rng.shuffle(template_names)
    documents: list[GeneratedDocument] = []
    for index in range(n):
        kind = KINDS[index % len(KINDS)]
        template = template_names[index % len(template_names)]
        person = _fake_person(rng)
        if kind == "text_pdf":
            pages = rng.choice((1, 2, 2))
        elif kind == "scanned_pdf":
            pages = rng.choice((1, 1, 2))
        else:
            pages = 1  # an image is one page
        pages = min(pages, _MAX_PAGES.get(template, 2))
        page_seed = rng.randrange(2**32)
        skew = round(rng.uniform(-1.0, 1.0), 2)
        pdf, truth = text_pdf(_TEMPLATES[template](person, rng, pages))
        if kind == "scanned_pdf":
            data = scanned_pdf(pdf, dpi=rng.choice((150, 200)), rotate=skew, seed=page_seed)
        elif kind == "png":
            data = page_image(pdf, dpi=200, fmt="png")
        elif kind == "jpeg":
            data = page_image(pdf, dpi=200, fmt="jpeg", noise=4.0, rotate=skew, seed=page_seed)
        else:
            data = pdf
        name = f"{template}_{index + 1:03d}.{_EXTENSIONS[kind]}"
        documents.append(GeneratedDocument(name=name, data=data, kind=kind, truth=truth))
    return documents
