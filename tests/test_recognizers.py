"""The offline recognizers on word lists shaped like PyMuPDF's, and the keyword classifier."""

from __future__ import annotations

import time

import pytest

from pii_assets.models import CLASSIFICATIONS, ENTITY_TYPES, Entity, Word
from pii_assets.recognizers import classify, find_entities

CHAR = 0.01  # width of one character in these synthetic pages
LINE = 0.05


def words_of(*lines: str) -> list[Word]:
    """Words laid out as monospaced text: one character is CHAR wide, one line is LINE high."""
    words = []
    for number, line in enumerate(lines):
        column = 0
        for token in line.split(" "):
            if token:
                y0 = number * LINE
                x0 = column * CHAR
                words.append(
                    Word(token, x0, y0, x0 + len(token) * CHAR, y0 + 0.03, block=0, line=number)
                )
            column += len(token) + 1
    return words


def entities(*lines: str, **kwargs: object) -> list[Entity]:
    return find_entities(words_of(*lines), page=1, source="text", **kwargs)


def values(found: list[Entity], entity_type: str) -> list[str]:
    return [e.text for e in found if e.entity_type == entity_type]


@pytest.mark.parametrize(
    ("lines", "entity_type", "expected"),
    [
        (["Email: maria.gonzalez@example.com"], "EMAIL_ADDRESS", "maria.gonzalez@example.com"),
        (["Write to j.smith+hr@mail.example.org."], "EMAIL_ADDRESS", "j.smith+hr@mail.example.org"),
        (["Phone: +1 (415) 555-0132"], "PHONE_NUMBER", "+1 (415) 555-0132"),
        (["call 415-555-0132 today"], "PHONE_NUMBER", "415-555-0132"),
        (["Tel +44 20 7946 0958 (office)"], "PHONE_NUMBER", "+44 20 7946 0958"),
        (["SSN: 536-22-1234"], "US_SSN", "536-22-1234"),
        (["Social security number 536 22 1234"], "US_SSN", "536 22 1234"),
        (["Card: 4111 1111 1111 1111"], "CREDIT_CARD", "4111 1111 1111 1111"),
        (["Visa 4111-1111-1111-1111 exp 12/26"], "CREDIT_CARD", "4111-1111-1111-1111"),
        (["Card 4111 1111 1111 1111 12 26"], "CREDIT_CARD", "4111 1111 1111 1111"),
        (["Amex 3782 822463 10005"], "CREDIT_CARD", "3782 822463 10005"),
        (["paid with 5555555555554444"], "CREDIT_CARD", "5555555555554444"),
        (["IBAN: DE89 3704 0044 0532 0130 00"], "IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        (["Pay to GB82 WEST 1234 5698 7654 32 BIC"], "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        (["IBAN GB82WEST12345698765432 BIC NWBKGB2L"], "IBAN_CODE", "GB82WEST12345698765432"),
        (["Login from 203.0.113.7."], "IP_ADDRESS", "203.0.113.7"),
        (["Host 2001:db8:4f21::9c0:1b:22e5 up"], "IP_ADDRESS", "2001:db8:4f21::9c0:1b:22e5"),
        (["Date of birth: 1990-04-12"], "DATE_OF_BIRTH", "1990-04-12"),
        (["DOB: 04/12/1990"], "DATE_OF_BIRTH", "04/12/1990"),
        (["D.O.B. 12 April 1990"], "DATE_OF_BIRTH", "12 April 1990"),
        (["She was born on April 12, 1990 in Ohio"], "DATE_OF_BIRTH", "April 12, 1990"),
        (["Birth date: 12.04.1990"], "DATE_OF_BIRTH", "12.04.1990"),
        (["Birthday: 3rd March 1985"], "DATE_OF_BIRTH", "3rd March 1985"),
        (["Date of birth", "1975-11-30"], "DATE_OF_BIRTH", "1975-11-30"),
        (["Name: John A. Smith"], "PERSON", "John A. Smith"),
        (["Full name: Maria Gonzalez Email: m@example.com"], "PERSON", "Maria Gonzalez"),
        (["Patient: Wei Chen"], "PERSON", "Wei Chen"),
        (["Account holder: Maria Gonzalez Customer ID 4482"], "PERSON", "Maria Gonzalez"),
        (["Bill to:", "Olivia Rossi-Martin"], "PERSON", "Olivia Rossi-Martin"),
        (["Dear Ms. Gonzalez,"], "PERSON", "Gonzalez"),
        (["Dear Dr. Priya Patel,"], "PERSON", "Priya Patel"),
        (["Kind regards,", "James Carter"], "PERSON", "James Carter"),
        (["Sincerely,", "Hannah O'Neil", "Customer Relations"], "PERSON", "Hannah O'Neil"),
        # Role words that are surnames too stay names outside a role-only salutation.
        (["Dear Tony Parent,"], "PERSON", "Tony Parent"),
        (["Dear Fleming,"], "PERSON", "Fleming"),
        (["Hello Xing,"], "PERSON", "Xing"),
        (["Dear Mr. Parent,"], "PERSON", "Parent"),
        (["Name: Reader, Ann"], "PERSON", "Reader, Ann"),
        # Document properties as they are read ("label: value").
        (["author: Odalys Kranstein"], "PERSON", "Odalys Kranstein"),
        (["last modified by: Quillon Abernathy"], "PERSON", "Quillon Abernathy"),
    ],
)
def test_recognizes(lines: list[str], entity_type: str, expected: str) -> None:
    found = entities(*lines)
    assert values(found, entity_type) == [expected]
    entity = next(e for e in found if e.entity_type == entity_type)
    assert 0.5 <= entity.confidence <= 1.0
    assert entity.page == 1 and entity.source == "text"


@pytest.mark.parametrize(
    ("lines", "entity_type"),
    [
        (["Card: 4111 1111 1111 1112"], "CREDIT_CARD"),  # bad Luhn
        (["Ref 1234 5678 9012 3456"], "CREDIT_CARD"),
        (["SSN: 666-12-3456"], "US_SSN"),
        (["SSN: 000-12-3456"], "US_SSN"),
        (["SSN: 912-34-5678"], "US_SSN"),
        (["SSN: 536-00-1234"], "US_SSN"),
        (["SSN: 536-22-0000"], "US_SSN"),
        (["Part 536-22-12345"], "US_SSN"),
        (["IBAN: DE88 3704 0044 0532 0130 00"], "IBAN_CODE"),  # checksum off by one
        (["Invoice date: 1990-04-12"], "DATE_OF_BIRTH"),
        (["Start date: 04/12/1990"], "DATE_OF_BIRTH"),
        (["Date of birth: 1985-02-30"], "DATE_OF_BIRTH"),  # no such day
        (["Version 999.1.1.1"], "IP_ADDRESS"),
        (["Release 10.0.1 at 10:30:45"], "IP_ADDRESS"),
        (["Dear Sir or Madam,"], "PERSON"),
        (["Dear Valued Customer,"], "PERSON"),
        (["Company name: Acme Logistics"], "PERSON"),
        (["Name: maria gonzalez"], "PERSON"),
        (["Customer: Service Team"], "PERSON"),
        # Addressed by role, group, function or office: no one's name.
        (["Dear Claims,"], "PERSON"),
        (["Dear Shareholders,"], "PERSON"),
        (["Dear Editor,"], "PERSON"),
        (["Dear Front Desk,"], "PERSON"),
        (["Dear Compliance,"], "PERSON"),
        (["Dear Underwriting,"], "PERSON"),
        (["Dear Trustees,"], "PERSON"),
        (["Dear Mr. President,"], "PERSON"),
        (["Chère Madame,"], "PERSON"),
        (["Contact name: Front Desk"], "PERSON"),
        (["Author: Microsoft Office User"], "PERSON"),
        (["prepared by: Windows User"], "PERSON"),
        (["Order 1234567 shipped"], "PHONE_NUMBER"),
        (["SSN: 512-34-6789"], "PHONE_NUMBER"),  # digits that also read as a US number
        (["Invoice date: 2024-03-15"], "PHONE_NUMBER"),
        (["write to maria@ or @example.com"], "EMAIL_ADDRESS"),
    ],
)
def test_rejects(lines: list[str], entity_type: str) -> None:
    assert values(entities(*lines), entity_type) == []


def test_only_the_date_right_after_a_birth_label_is_a_birth_date() -> None:
    found = entities("Date of birth: 1971-01-01 Start date: 2024-05-12")
    assert values(found, "DATE_OF_BIRTH") == ["1971-01-01"]


def test_multi_word_values_are_one_entity_with_the_union_box() -> None:
    found = entities("Phone: +1 (415) 555-0132", "Card 4111 1111 1111 1111")
    (phone,) = [e for e in found if e.entity_type == "PHONE_NUMBER"]
    (card,) = [e for e in found if e.entity_type == "CREDIT_CARD"]
    # "+1" starts at column 7 and "555-0132" ends at column 24 of line 0.
    assert (phone.x0, phone.x1) == pytest.approx((7 * CHAR, 24 * CHAR))
    assert (phone.y0, phone.y1) == pytest.approx((0.0, 0.03))
    assert (card.x0, card.x1) == pytest.approx((5 * CHAR, 24 * CHAR))
    assert (card.y0, card.y1) == pytest.approx((LINE, LINE + 0.03))


def test_column_gap_ends_a_name() -> None:
    words = words_of("Account holder: Maria Gonzalez")
    last = words[-1]
    words.append(Word("Branch", last.x1 + 0.2, last.y0, last.x1 + 0.26, last.y1, 0, 0))
    words.append(Word("Office", last.x1 + 0.27, last.y0, last.x1 + 0.33, last.y1, 0, 0))
    found = find_entities(words, page=3, source="ocr")
    assert [(e.entity_type, e.text, e.page, e.source) for e in found] == [
        ("PERSON", "Maria Gonzalez", 3, "ocr")
    ]


def test_context_raises_confidence_and_min_confidence_filters() -> None:
    (with_context,) = entities("SSN: 536-22-1234")
    (without,) = entities("Number 536-22-1234")
    assert with_context.confidence > without.confidence >= 0.5
    assert entities("Number 536-22-1234", min_confidence=0.9) == []
    # A look-alike's label lowers it below the default minimum.
    assert entities("Order reference 536-22-1234") == []


def test_default_region_applies_to_national_numbers() -> None:
    assert values(entities("Telefon 030 901820", default_region="DE"), "PHONE_NUMBER") == [
        "030 901820"
    ]


def test_full_page_has_no_overlapping_entities_and_boxes_within_the_page() -> None:
    lines = [
        "Name: Maria Gonzalez",
        "Email: maria.gonzalez@example.com Phone: +1 (415) 555-0132",
        "Date of birth: April 12, 1990 SSN: 536-22-1234",
        "Card: 4111 1111 1111 1111 IBAN: DE89 3704 0044 0532 0130 00",
        "Login from 203.0.113.7 and again from 203.0.113.7",
        "Home address: 12 Oak Street, Austin, TX 78701",
        "ITIN: 912-70-1234 Routing number: 121000358 Account number: 000123456789",
        "Passport No: A12345678 Driver's license: D1234567",
        "Sincerely,",
        "James Carter",
    ]
    found = entities(*lines)
    assert {e.entity_type for e in found} == set(ENTITY_TYPES)
    assert values(found, "IP_ADDRESS") == ["203.0.113.7", "203.0.113.7"]
    for a in found:
        assert 0.0 <= a.x0 <= a.x1 <= 1.0 and 0.0 <= a.y0 <= a.y1 <= 1.0
        for b in found:
            if a is not b and a.entity_type == b.entity_type:
                assert (a.x1 <= b.x0 or b.x1 <= a.x0) or (a.y1 <= b.y0 or b.y1 <= a.y0)


def test_empty_page() -> None:
    assert find_entities([], page=1, source="text") == []


def test_recognizers_are_fast_enough_for_text_pages() -> None:
    # ~300 words with plenty of digits: the shape that made a naive phone matcher slow.
    table = [
        f"2024-02-{d % 28 + 1:02d} Payment reference {10000 + d} ${d * 37}.00 balance"
        for d in range(45)
    ]
    lines = [
        "Account holder: Maria Gonzalez Phone: +1 (415) 555-0132",
        "Card 4111 1111 1111 1111 IBAN DE89 3704 0044 0532 0130 00",
        *table,
        "Sincerely,",
        "James Carter",
    ]
    words = words_of(*lines)
    assert len(words) > 200
    runs = 100
    # CPU time of this process: other processes sharing the machine do not slow the figure.
    start = time.process_time()
    for _ in range(runs):
        find_entities(words, page=1, source="text")
    pages_per_second = runs / (time.process_time() - start)
    # The target is 200+ pages/s on one core; the bound leaves room for slow, shared CI machines.
    assert pages_per_second > 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INVOICE Invoice number INV-1 Bill to: X Subtotal Total due $10", "invoice"),
        ("Account Statement. Opening balance 10 Closing balance 5", "bank_statement"),
        ("Payslip. Gross pay 5,000 Net pay 3,900 Deductions 1,100", "payslip"),
        ("Form W-2 Wage and Tax Statement, tax year 2023, federal withholding", "tax_form"),
        ("PASSPORT Nationality: Canadian Date of issue 2020 Date of expiry 2030", "id_document"),
        ("Patient record. Diagnosis: flu. Medication: rest. Allergies: none", "medical_record"),
        ("This Agreement is made by the parties hereinafter. Governing law: Delaware", "contract"),
        ("Employee Onboarding Form. Job title, start date, emergency contact", "hr_form"),
        ("Dear Ms. Gonzalez, thank you for your letter. Sincerely, James", "correspondence"),
        ("Lorem ipsum dolor sit amet", "other"),
        ("", "other"),
    ],
)
def test_classify(text: str, expected: str) -> None:
    label, score = classify(text)
    assert label == expected
    assert label in CLASSIFICATIONS
    assert 0.0 <= score <= 1.0
    assert (score == 0.0) == (expected == "other")


def _place(words: list[Word], dx: float = 0.0, block: int = 0) -> list[Word]:
    return [Word(w.text, w.x0 + dx, w.y0, w.x1 + dx, w.y1, block, w.line) for w in words]


def test_label_and_value_drawn_apart_read_as_one_row() -> None:
    # Labels in one block, values in another (a two-column form): rows are rebuilt by position.
    labels = _place(words_of("Full name:", "Date of birth:", "Phone:"), block=0)
    values_ = _place(words_of("Maria Gonzalez", "1990-04-12", "(415) 555-0132"), 0.3, block=1)
    found = find_entities([*labels, *values_], page=1, source="text")
    assert [(e.entity_type, e.text) for e in found] == [
        ("PERSON", "Maria Gonzalez"),
        ("DATE_OF_BIRTH", "1990-04-12"),
        ("PHONE_NUMBER", "(415) 555-0132"),
    ]


def test_table_columns_headed_name_and_date_of_birth() -> None:
    rows = [
        ("ID", "Employee Name", "Date of Birth", "Start date"),
        ("E1001", "Maria Gonzalez", "1990-04-12", "2024-01-15"),
        ("E1002", "Carter, James", "12 April 1985", "2023-06-01"),
        ("E1003", "Priya R. Patel", "07/30/1979", "2022-02-01"),
    ]
    columns = (0.0, 0.1, 0.35, 0.55)
    words = []
    for line, row in enumerate(rows):
        for x, cell in zip(columns, row, strict=True):
            words += _place(words_of(cell), x, block=line * 10 + int(x * 100))
            words[-len(cell.split()) :] = [
                Word(w.text, w.x0, line * LINE, w.x1, line * LINE + 0.03, w.block, 0)
                for w in words[-len(cell.split()) :]
            ]
    found = find_entities(words, page=1, source="ocr")
    assert values(found, "PERSON") == ["Maria Gonzalez", "Carter, James", "Priya R. Patel"]
    assert values(found, "DATE_OF_BIRTH") == ["1990-04-12", "12 April 1985", "07/30/1979"]


@pytest.mark.parametrize(
    ("lines", "entity_type", "expected"),
    [
        (["Maria Gonzalez", "12 Oak Street", "Austin, TX 78701"], "PERSON", "Maria Gonzalez"),
        (["Applicant: MARIA GONZALEZ"], "PERSON", "MARIA GONZALEZ"),
        (["Cardholder: Gonzalez, Maria"], "PERSON", "Gonzalez, Maria"),
        (["Your adviser, Dr. Okafor, will call."], "PERSON", "Okafor"),
        (["Dear Maria,"], "PERSON", "Maria"),
        (
            ["Pay to DE89 3704 0044", "0532 0130 00 by Friday"],
            "IBAN_CODE",
            "DE89 3704 0044 0532 0130 00",
        ),
        (["SSN: 536221234"], "US_SSN", "536221234"),
        (["Visa 4111.1111 1111 1111"], "CREDIT_CARD", "4111.1111 1111 1111"),
        (["Born: 16-Mar-1968"], "DATE_OF_BIRTH", "16-Mar-1968"),
        (["DOB: 1968/03/16"], "DATE_OF_BIRTH", "1968/03/16"),
        (["Order placed from IP address 203.0.113.7"], "IP_ADDRESS", "203.0.113.7"),
    ],
)
def test_recognizes_more_layouts_and_formats(
    lines: list[str], entity_type: str, expected: str
) -> None:
    assert values(entities(*lines), entity_type) == [expected]


@pytest.mark.parametrize(
    ("lines", "entity_type"),
    [
        (["Firmware build 4.2.1.0"], "IP_ADDRESS"),
        (["Version 10.0.0.1"], "IP_ADDRESS"),
        (["Order #4155550132"], "PHONE_NUMBER"),
        (["Customer ID 4155550132"], "PHONE_NUMBER"),
        (["Routing number: 536221234"], "US_SSN"),
        (["ISBN 978-0-306-40615-7"], "CREDIT_CARD"),
        (["Bill to: Acme Logistics Inc."], "PERSON"),
        (["Product name: Smart Hub Pro"], "PERSON"),
        (["Fabrikam Bank", "100 Market Street"], "PERSON"),
        (["Valid from: January 2024"], "PERSON"),
    ],
)
def test_rejects_look_alikes(lines: list[str], entity_type: str) -> None:
    assert values(entities(*lines), entity_type) == []


def test_ocr_stray_marks_around_names_are_ignored() -> None:
    found = find_entities(words_of("Dear Siobhan\u2019 Hernandez;"), page=1, source="ocr")
    assert values(found, "PERSON") == ["Siobhan\u2019 Hernandez"]
