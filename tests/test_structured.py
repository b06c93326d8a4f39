"""Structured recognizers on the fault kinds of issue 11, each with the example that showed it, and
the entity types filled tax, payroll, HR and bank forms carry. All values are invented (card and
IBAN numbers are the networks' and registries' published test numbers)."""

from __future__ import annotations

import pytest
from stdnum import luhn

from pii_assets.models import ENTITY_TYPES, Entity
from pii_assets.recognition.financial import aba_valid, card_brand, iban_length, valid_iban
from pii_assets.recognition.language import detect_language, phone_region
from pii_assets.recognizers import find_entities
from tests.test_recognizers import words_of


def found(*lines: str, **kwargs: object) -> list[tuple[str, str]]:
    entities: list[Entity] = find_entities(words_of(*lines), page=1, source="text", **kwargs)
    return [(e.entity_type, e.text) for e in entities]


def of_type(entity_type: str, *lines: str, **kwargs: object) -> list[str]:
    return [text for kind, text in found(*lines, **kwargs) if kind == entity_type]


# --- IP addresses: IPv4 embedded in IPv6, invalid octets, zones, prefixes -----------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Reach ::ffff:192.0.2.33 today", "::ffff:192.0.2.33"),
        ("Relay via 2001:db8:7::198.51.100.20", "2001:db8:7::198.51.100.20"),
        ("NAT64 route 64:ff9b::192.0.2.33", "64:ff9b::192.0.2.33"),
        ("0:0:0:0:0:FFFF:129.144.52.38", "0:0:0:0:0:FFFF:129.144.52.38"),
        ("Gateway fe80::7:19%wlan0 on interface", "fe80::7:19%wlan0"),
        ("Allowed range 198.51.100.64/26", "198.51.100.64/26"),
        ("Route 2001:db8:40::/48 added.", "2001:db8:40::/48"),
        ("login from ::1 refused", "::1"),
        ("See https://[2001:db8:5::20]:8443/status", "2001:db8:5::20"),
        ("from IP address .2001:db8:e681::9a23.", "2001:db8:e681::9a23"),  # OCR's stray dots
    ],
)
def test_ipv6_forms_are_one_address(line: str, expected: str) -> None:
    assert found(line) == [("IP_ADDRESS", expected)]


@pytest.mark.parametrize(
    "line",
    [
        "::ffff:300.1.2.3",
        "2001:db8:7::198.51.100.256",
        "::ffff:198.51.100",
        "Kick-off at 19:05:30",
        "hw addr 02:42:ac:11:00:07",
        "std::cout",
        "src=:: only",
    ],
)
def test_invalid_addresses_leave_no_fragment(line: str) -> None:
    assert found(line) == []


# --- Cards: adjacent numbers, brands by IIN range ------------------------------------------------


def test_adjacent_card_numbers_are_never_merged() -> None:
    line = "5105105105105100 4000-0566-5566-5556 6011 1111 1111 1117"
    assert of_type("CREDIT_CARD", line) == [
        "5105105105105100",
        "4000-0566-5566-5556",
        "6011 1111 1111 1117",
    ]


def _with_check_digit(prefix: str, length: int) -> str:
    body = (prefix + "0123456789" * 2)[: length - 1]
    return body + luhn.calc_check_digit(body)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (_with_check_digit("6759", 16), "Maestro"),
        (_with_check_digit("5019", 16), "Dankort"),
        (_with_check_digit("1", 15), "UATP"),
        (_with_check_digit("2201", 16), "Mir"),
        (_with_check_digit("508", 16), "RuPay"),
        (_with_check_digit("3530", 16), "JCB"),
        (_with_check_digit("6221", 16), "China UnionPay"),
        (_with_check_digit("650010", 16), "Verve"),
        ("371449635398431", "American Express"),
        ("30569309025904", "Diners Club Carte Blanche"),
        ("4111111111111111", "Visa"),
        ("5555555555554444", "Mastercard"),
        ("2221000000000009", "Mastercard"),
    ],
)
def test_card_brands_by_published_iin_ranges(number: str, brand: str) -> None:
    assert card_brand(number) == brand
    assert found(f"paid with {number}") == [("CREDIT_CARD", number)]


def test_a_luhn_valid_number_of_no_network_needs_a_card_label() -> None:
    number = _with_check_digit("17", 13)  # no network issues 13-digit numbers starting 17
    assert card_brand(number) is None
    assert found(number) == []
    assert found(f"Card number: {number}") == [("CREDIT_CARD", number)]


# --- E-mail: punycode TLDs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["olga@xn--80a1acny.xn--p1ai", "team@xn--80aswg.com", "info@example.xn--vermgensberater-ctb"],
)
def test_punycode_domains_and_tlds_are_whole(address: str) -> None:
    assert found(f"my email is {address} today") == [("EMAIL_ADDRESS", address)]


# --- IBAN: separators, ISO 13616 validity, lines, malformed values -------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Dash as separator: AL47-2121-1009-0000-0002-3569-8741",
            "AL47-2121-1009-0000-0002-3569-8741",
        ),
        ("IBAN BE68 5390 0754 7034", "BE68 5390 0754 7034"),
        ("BE68539007547034", "BE68539007547034"),
        ("iban VG96 VPVG 0000 0123 4567 8901 X in a sentence", "VG96 VPVG 0000 0123 4567 8901"),
    ],
)
def test_iban_separators_and_validity(line: str, expected: str) -> None:
    assert found(line) == [("IBAN_CODE", expected)]


def test_iban_validity_is_mod_97_and_length_not_a_bank_registry() -> None:
    # Checksum-valid, right length, but its bank code is missing from stdnum's Belgian registry.
    assert valid_iban("BE68539007547034")
    assert (iban_length("BE"), iban_length("NO"), iban_length("DE")) == (16, 15, 22)
    assert not valid_iban("BE68539007547035")  # check digits off
    assert not valid_iban("BE6853907547034")  # one character short


def test_two_iban_labels_on_consecutive_lines() -> None:
    lines = ("IBAN: DE89 3704 0044 0532 0130 00", "IBAN: GB82 WEST 1234 5698 7654 32")
    assert found(*lines) == [
        ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "BR62 4172 63B0 0281 7000 4519 837C 2",  # a letter where the BBAN has digits
        "KZ60 722K ZT71 0438 8215",  # check digits off
        "KZ57 Q22K ZT71 0438 8215",
        "MK23 3000 0000 4918 328",
        "RS19 1700 0038 2746 1905 67",
        "IL62 0108 9200 0000",  # too short for Israel
    ],
)
def test_malformed_ibans_are_not_cards_or_phones(line: str) -> None:
    assert found(line) == []


# --- SSN / ITIN ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "entity_type", "expected"),
    [
        ("078.05.1123", "US_SSN", "078.05.1123"),
        ("SSN: 536.22.1234", "US_SSN", "536.22.1234"),
        ("SSN: 536 22 1234", "US_SSN", "536 22 1234"),
        ("957-78-3310", "US_ITIN", "957-78-3310"),
        ("ITIN: 912701234", "US_ITIN", "912701234"),
        ("SSN or ITIN: 950-88-1234", "US_ITIN", "950-88-1234"),
    ],
)
def test_ssn_separators_and_itins(line: str, entity_type: str, expected: str) -> None:
    assert found(line) == [(entity_type, expected)]


@pytest.mark.parametrize("line", ["the tax number 944-89-5012", "536-22.4410", "948825016"])
def test_not_ssns_or_itins(line: str) -> None:
    assert found(line) == []


# --- Dates of birth in five more languages -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Geburtsdatum: 4. März 1985", "4. März 1985"),
        ("Er wurde geboren am 4. März 1985 in Köln.", "4. März 1985"),
        ("Date de naissance : 4 mars 1985", "4 mars 1985"),
        ("Elle est née le 1er mars 1985 à Lyon.", "1er mars 1985"),
        ("Fecha de nacimiento: 4 de marzo de 1985", "4 de marzo de 1985"),
        ("Data di nascita: 4 marzo 1985", "4 marzo 1985"),
        ("nato il 04/03/1985 a Milano", "04/03/1985"),
        ("Geboortedatum: 4 maart 1985", "4 maart 1985"),
        ("DOB: 3/4/85", "3/4/85"),
        ("Referred by: Dr. Okafor DOB 11-30-62", "11-30-62"),
    ],
)
def test_birth_dates_in_six_languages(line: str, expected: str) -> None:
    assert of_type("DATE_OF_BIRTH", line) == [expected]


@pytest.mark.parametrize(
    "lines",
    [
        ["Check here if you were born before January 2, 1946"],
        ["Date of birth:", "Start date: 2024-05-12"],
        ["Invoice date: 3/4/85"],  # two-digit years only after a birth keyword
        ["Lieferdatum: 4. März 2024"],
    ],
)
def test_dates_that_are_not_birth_dates(lines: list[str]) -> None:
    assert of_type("DATE_OF_BIRTH", *lines) == []


# --- Phone region by the page's language ---------------------------------------------------------

_GERMAN_LETTER = (
    "Sehr geehrte Frau Becker,",
    "vielen Dank für Ihre Nachricht. Sie erreichen uns unter 030 901820 oder per E-Mail.",
    "Mit freundlichen Grüßen",
)


def test_national_numbers_are_read_in_the_pages_language_region() -> None:
    assert of_type("PHONE_NUMBER", *_GERMAN_LETTER) == ["030 901820"]
    # An explicit region (PII_PHONE_REGION) is obeyed: a US reading finds no such number.
    assert of_type("PHONE_NUMBER", *_GERMAN_LETTER, default_region="US") == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Thank you for your letter. We have reviewed the statement and it is correct.", "en"),
        (
            "Vielen Dank für Ihre Nachricht. Wir haben die Rechnung geprüft und sie ist korrekt.",
            "de",
        ),
        ("Nous vous remercions pour votre lettre. Le relevé est dans votre espace client.", "fr"),
        ("Le agradecemos su carta. Hemos revisado el extracto y está todo correcto.", "es"),
        (
            "La ringraziamo per la sua lettera. Abbiamo controllato l'estratto ed è corretto.",
            "it",
        ),
        (
            "Hartelijk dank voor uw brief. Wij hebben het overzicht gecontroleerd en het is juist.",
            "nl",
        ),
        ("4111 1111 1111 1111 12/26 $40.00", None),
    ],
)
def test_language_detector(text: str, language: str | None) -> None:
    assert detect_language(text) == language
    expected_region = {"en": "US", "de": "DE", "fr": "FR", "es": "ES", "it": "IT", "nl": "NL"}
    assert phone_region(text) == expected_region.get(language or "", "US")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Their Israeli number: 03-6912345", "03-6912345"),
        ("Call her Japanese number 080-4321-9876", "080-4321-9876"),
        ("Téléphone : 01 42 68 53 00", "01 42 68 53 00"),
    ],
)
def test_a_labelled_national_number_of_another_region(line: str, expected: str) -> None:
    assert of_type("PHONE_NUMBER", line) == [expected]


def test_a_number_glued_to_a_word_is_not_a_phone_number() -> None:
    assert of_type("PHONE_NUMBER", "reach the front desk at617-555-0148") == []


# --- New entity types ----------------------------------------------------------------------------


def test_new_types_are_in_the_shared_vocabulary() -> None:
    new = {"STREET_ADDRESS", "US_ITIN", "ABA_ROUTING_NUMBER", "BANK_ACCOUNT_NUMBER"}
    assert new | {"US_PASSPORT", "DRIVER_LICENSE"} <= set(ENTITY_TYPES)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Maria Gonzalez", "12 Oak Street", "Austin, TX 78701"], "12 Oak Street Austin, TX 78701"),
        (
            ["Address: 1600 Pennsylvania Ave NW, Washington, DC 20500"],
            "1600 Pennsylvania Ave NW, Washington, DC 20500",
        ),
        (["Ship to PO Box 4410, Boulder, CO 80302"], "PO Box 4410, Boulder, CO 80302"),
        (["Anschrift: Hauptstraße 12", "10115 Berlin"], "Hauptstraße 12 10115 Berlin"),
        (["12 rue de la Paix", "75002 Paris"], "12 rue de la Paix 75002 Paris"),
        (["Calle Mayor 5", "28013 Madrid"], "Calle Mayor 5 28013 Madrid"),
        (["Via Roma 10", "00184 Roma"], "Via Roma 10 00184 Roma"),
        (["Keizersgracht 123", "1015 CJ Amsterdam"], "Keizersgracht 123 1015 CJ Amsterdam"),
        (["Adres: Dorpsweg 4, 1234 AB Ergens"], "Dorpsweg 4, 1234 AB Ergens"),
    ],
)
def test_street_addresses(lines: list[str], expected: str) -> None:
    assert of_type("STREET_ADDRESS", *lines) == [expected]


def test_an_address_ends_at_its_zip_code() -> None:
    line = "Lindqvist Bakery | 517 Juniper Lane, Corvale, OH 43210 614-555-0187"
    assert found(line) == [
        ("STREET_ADDRESS", "517 Juniper Lane, Corvale, OH 43210"),
        ("PHONE_NUMBER", "614-555-0187"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "2 Widgets at $4.00 each",
        "Invoice 4521 Total 12 Items",
        "Email address: maria1@example.com",
        "Address: see below",
    ],
)
def test_not_street_addresses(line: str) -> None:
    assert of_type("STREET_ADDRESS", line) == []


@pytest.mark.parametrize(
    ("line", "entity_type", "expected"),
    [
        ("Routing number: 121000358", "ABA_ROUTING_NUMBER", "121000358"),
        ("ABA 0260-0959-3", "ABA_ROUTING_NUMBER", "0260-0959-3"),
        ("0110-0001-5", "ABA_ROUTING_NUMBER", "0110-0001-5"),
        ("Account number: 000123456789", "BANK_ACCOUNT_NUMBER", "000123456789"),
        ("Checking account: 4400 1234 5678", "BANK_ACCOUNT_NUMBER", "4400 1234 5678"),
        ("Kontonummer: 0532013000", "BANK_ACCOUNT_NUMBER", "0532013000"),
        ("Passport No: A12345678", "US_PASSPORT", "A12345678"),
        ("Passport number (if any): 487120395", "US_PASSPORT", "487120395"),
        ("Driver's license: D1234567 EXP 12/2026", "DRIVER_LICENSE", "D1234567"),
        ("DL # S123-4567-8901", "DRIVER_LICENSE", "S123-4567-8901"),
        ("Führerscheinnummer: B072RRE2I55", "DRIVER_LICENSE", "B072RRE2I55"),
    ],
)
def test_financial_and_identity_numbers(line: str, entity_type: str, expected: str) -> None:
    assert found(line) == [(entity_type, expected)]


@pytest.mark.parametrize(
    "line",
    [
        "121000358",  # nine bare digits pass the routing checksum one time in ten
        "Routing number: 451207892",  # no such routing symbol
        "Routing number: 2107-3301-6",  # checksum off
        "Customer account number: 12345678",
        "Order 121000358",
        "Passport: none",
        "Driver's license: ABCDEFG",
        "487120395",
    ],
)
def test_not_financial_or_identity_numbers(line: str) -> None:
    assert found(line) == []


def test_aba_checksum() -> None:
    assert aba_valid("121000358") and aba_valid("026009593")
    assert not aba_valid("121000359") and not aba_valid("451207892")


def test_us_grouped_numbers_are_found_on_a_page_in_another_language() -> None:
    lines = (
        "Si tiene preguntas sobre su declaración, llame al (415) 555-0132 o escriba a la",
        "dirección que aparece en este formulario. También puede llamar al 91 123 45 67.",
    )
    assert of_type("PHONE_NUMBER", *lines) == ["(415) 555-0132", "91 123 45 67"]


def test_a_labels_bracketed_qualifier_is_no_other_label() -> None:
    assert of_type("DATE_OF_BIRTH", "Date of Birth (as on ID): 12-Oct-1954") == ["12-Oct-1954"]
    assert of_type("DATE_OF_BIRTH", "Date of Birth (as on ID):", "1981-07-10") == ["1981-07-10"]


def test_no_word_counts_for_two_languages() -> None:
    from pii_assets.recognition.language import _WORDS, LANGUAGES

    for i, a in enumerate(LANGUAGES):
        for b in LANGUAGES[i + 1 :]:
            assert not (_WORDS[a] & _WORDS[b]), (a, b)
