"""Faults found after the recognizers of two branches were merged, each fixed as a kind: on real
PDFs drawn by PyMuPDF and read back by the document reader, and real e-mail messages read by the
e-mail reader (every value invented)."""

from __future__ import annotations

from email.message import EmailMessage

import pymupdf

from pii_assets.documents import open_document
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import FormField
from pii_assets.recognition.forms import form_entities
from pii_assets.recognizers import find_entities

Item = tuple[float, float, str]  # x, baseline y (points), text


def _pdf(*items: Item, size: float = 9) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    for x, y, text in items:
        page.insert_text((x, y), text, fontsize=size)
    return doc.tobytes()


def _found(data: bytes) -> list[tuple[str, str]]:
    with open_document(data, name="page.pdf") as doc:
        (page,) = list(doc.pages())
    return [(e.entity_type, e.text) for e in find_entities(page.words, page=1, source="text")]


def _of(entity_type: str, found: list[tuple[str, str]]) -> list[str]:
    return [text for kind, text in found if kind == entity_type]


# --- E-mail header fields ------------------------------------------------------------------------


def _message() -> bytes:
    mail = EmailMessage()
    mail["Received"] = "from mx.example.org by mail.example.org; Tue, 03 Jun 2025 10:00:00 +0000"
    mail["From"] = "Maria Gonzalez <maria.gonzalez@example.com>"
    mail["To"] = "Customer Support <support@example.org>"
    mail["Cc"] = '"Okafor, Daniel" <do1984@example.net>'
    mail["Subject"] = "Record update"
    mail["Date"] = "Tue, 03 Jun 2025 10:00:00 +0000"
    mail.set_content("Please update my record.\n")
    return mail.as_bytes()


def test_display_names_in_header_fields_are_persons_and_times_are_no_phones() -> None:
    result = extract_document(
        _message(), document_key="update.eml", etag="e", extractor=OfflineExtractor()
    )
    headers = {(e.entity_type, e.text) for e in result.entities if e.area == "email_header"}
    assert ("PERSON", "Maria Gonzalez") in headers
    assert ("PERSON", "Okafor, Daniel") in headers  # the address spells the initials
    assert not [text for kind, text in headers if kind == "PHONE_NUMBER"]  # "2025 10:00:00"
    # A mailbox's name that the address does not spell names no one.
    assert not [text for kind, text in headers if kind == "PERSON" and "Support" in text]


# --- Labels and separators -----------------------------------------------------------------------


def test_a_labels_number_is_no_country_code() -> None:
    found = _found(_pdf((72, 100, "Phone 1: (217) 555-0134"), (72, 120, "Phone 2: 312-555-0199")))
    assert _of("PHONE_NUMBER", found) == ["(217) 555-0134", "312-555-0199"]


def test_ssn_groups_around_en_and_em_dashes() -> None:
    # A UTF-8 text file keeps the dashes a word processor wrote (a base-14 PDF font would not).
    text = "SSN: 536\u201322\u20131234\nSpouse SSN 412 \u2014 07 \u2014 4821\n"
    result = extract_document(
        text.encode(), document_key="note.txt", etag="e", extractor=OfflineExtractor()
    )
    ssns = [e.text for e in result.entities if e.entity_type == "US_SSN"]
    assert ssns == ["536\u201322\u20131234", "412 \u2014 07 \u2014 4821"]


def test_an_ssn_a_space_from_a_year_under_its_caption() -> None:
    # A flattened form: the year-of-birth box's value sits a space before the SSN box's, and the
    # caption is too far above for the SSN recognizer's own label window.
    data = _pdf(
        (72, 100, "A Your first name and middle initial"),
        (250, 100, "Your last name"),
        (380, 100, "Year of birth   Your social security number"),
        (72, 118, "Alexandra Dominique"),
        (250, 118, "Papadopoulos-Whitfield"),
        (380, 118, "1981 190522501"),
    )
    assert _of("US_SSN", _found(data)) == ["190522501"]


# --- Flattened forms: captions beside their boxes ------------------------------------------------


def test_a_birth_date_beside_a_caption_wrapped_around_its_row() -> None:
    data = _pdf(
        (72, 100, "PLACE"),
        (110, 104, "Springfield"),
        (300, 100, "DATE"),
        (360, 104, "09/30/1992"),
        (300, 110, "OF"),
        (300, 120, "BIRTH"),
        (360, 120, "MM/DD/YYYY"),
    )
    assert _of("DATE_OF_BIRTH", _found(data)) == ["09/30/1992"]


def test_an_area_code_and_a_number_in_boxes_side_by_side_are_one_phone() -> None:
    data = _pdf(
        (72, 100, "DAYTIME PHONE"),
        (200, 102, "314"),
        (260, 102, "555-0163"),
        (72, 110, "NUMBER"),
        (190, 116, "Area Code"),
        (260, 116, "Number"),
    )
    assert _of("PHONE_NUMBER", _found(data)) == ["314 555-0163"]


def test_a_value_drawn_between_printed_brackets_shares_their_row() -> None:
    # "(      ) 555-0124" printed as one line, the area code drawn inside the brackets.
    data = _pdf((72, 100, "Daytime phone number"), (200, 100, "(            )  555-0124"))
    doc = pymupdf.open("pdf", data)
    doc[0].insert_text((212, 101), "312", fontsize=9)
    assert _of("PHONE_NUMBER", _found(doc.tobytes())) == ["( 312 ) 555-0124"]


def test_names_in_every_row_of_a_table_under_name_captions() -> None:
    data = _pdf(
        (150, 100, "(1) First name"),
        (260, 100, "Last name"),
        (360, 100, "(2) Social security number"),
        (150, 116, "Aisha"),
        (260, 116, "Fontaine"),
        (360, 116, "843553520"),
        (150, 130, "Thomas"),
        (260, 130, "Gonzalez"),
        (360, 130, "037836729"),
    )
    found = _found(data)
    assert _of("PERSON", found) == ["Aisha Fontaine", "Thomas Gonzalez"]
    assert _of("US_SSN", found) == ["843553520", "037836729"]


def test_a_street_line_ends_at_a_column_gap() -> None:
    data = _pdf((72, 100, "1786 Harbor Road"), (300, 100, "Contoso Bank"))
    assert _of("STREET_ADDRESS", _found(data)) == ["1786 Harbor Road"]


def test_german_street_named_by_a_preposition_with_its_town() -> None:
    data = _pdf((72, 100, "Anna Weber"), (72, 112, "Am Markt 4"), (72, 124, "10115 Berlin"))
    assert _of("STREET_ADDRESS", _found(data)) == ["Am Markt 4 10115 Berlin"]


# --- Form fields: the page recognizers' own tests ------------------------------------------------


def _field(label: str, value: str, y: float) -> FormField:
    return FormField(label.replace(" ", "_"), label, value, (0.1, y, 0.5, y + 0.02))


def test_field_values_are_checked_by_the_recognizers_rules() -> None:
    fields = [
        # ISO 13616 valid; its bank code is missing from python-stdnum's Belgian registry.
        _field("IBAN", "BE71 0961 2345 6769", 0.1),
        # A checksum-valid routing number whose first digits are no Federal Reserve symbol.
        _field("Routing number", "195300204", 0.2),
        _field("Routing number", "021000021", 0.3),
        # A local number without its area code is no number of another country.
        _field("Daytime phone", "555-0163", 0.4),
    ]
    found = [(e.entity_type, e.text) for e in form_entities(fields, page=1, source="text")]
    assert found == [("IBAN_CODE", "BE71 0961 2345 6769"), ("ABA_ROUTING_NUMBER", "021000021")]


def test_a_phone_field_holds_a_phone_number_only() -> None:
    fields = [
        # phonenumbers reads digits out of any text, and an ISO date is a number in some
        # eight-digit plan: neither is a phone number.
        _field("Phone", "Reference: 5143 4149 7853", 0.1),
        _field("Phone", "2023-05-23", 0.2),
        _field("Phone", "(09/08/2023)", 0.3),
        _field("Phone", "(217) 555-0134 ext. 12", 0.4),
    ]
    found = [(e.entity_type, e.text) for e in form_entities(fields, page=1, source="text")]
    assert found == [("PHONE_NUMBER", "(217) 555-0134 ext. 12")]


def test_a_line_holding_its_own_number_heads_no_boxes() -> None:
    # "Phone extension 4554" is a line of text with its value, not a caption over the column of
    # labelled values below it (a decoy page of the generated corpus, values invented).
    found = _found(
        _pdf(
            (72, 100, "Phone extension 4554"),
            (250, 100, "Fax cover sheet 846 of 573"),
            (72, 114, "Release v7.16.5"),
            (160, 114, "(09/08/2023)"),
            (72, 128, "Part"),
            (100, 128, "352-24-56527"),
            (72, 142, "Gift card code"),
            (150, 142, "4952 0648"),
        )
    )
    assert _of("PHONE_NUMBER", found) == []


def test_a_header_in_capitals_keeps_its_column_gap() -> None:
    # "DOB" in bold capitals is set wider than "Name"; the gap between them is still a column
    # gap (values invented; the layout of the generated corpus's rosters).
    doc = pymupdf.open()
    page = doc.new_page()
    for x, text in ((60, "ID"), (110, "Participant Name"), (199.5, "DOB"), (290, "Ext.")):
        page.insert_text((x, 100), text, fontsize=9, fontname="hebo")
    for y, row in (
        (114, ("E9791", "Grace P. Chen", "03.04.1941", "5210")),
        (128, ("E3622", "Noah Silva", "08-Apr-1961", "5155")),
    ):
        for x, text in zip((60, 110, 199.5, 290), row, strict=True):
            page.insert_text((x, y), text, fontsize=9)
    found = _found(doc.tobytes())
    assert _of("PERSON", found) == ["Grace P. Chen", "Noah Silva"]
    assert _of("DATE_OF_BIRTH", found) == ["03.04.1941", "08-Apr-1961"]


# --- Lists of values after one label -------------------------------------------------------------


def _in_text_file(text: str) -> list[tuple[str, str]]:
    result = extract_document(
        text.encode(), document_key="note.txt", etag="e", extractor=OfflineExtractor()
    )
    return [(e.entity_type, e.text) for e in result.entities]


def test_phone_numbers_listed_after_one_label_are_one_entity_each() -> None:
    lists = {
        "Phones: (503) 942-7716, 646-318-2270": ["(503) 942-7716", "646-318-2270"],
        "Phone: 503.942.7716, 1-888-942-7716": ["503.942.7716", "1-888-942-7716"],
        "Telefon: 040 63928174; 0172 9384756": ["040 63928174", "0172 9384756"],
        "Telefon: +49 (0)40 63928174, 040/63928174": ["+49 (0)40 63928174", "040/63928174"],
        "Téléphone : +33 (0)4 72 18 36 54, 04.72.18.36.54": [
            "+33 (0)4 72 18 36 54",
            "04.72.18.36.54",
        ],
        "Tel.: 040 63928174 / 0172 9384756 or 089 7654321": [
            "040 63928174",
            "0172 9384756",
            "089 7654321",
        ],
    }
    for text, expected in lists.items():
        assert _of("PHONE_NUMBER", _in_text_file(text + "\n")) == expected, text
    # A side too short to be a number is part of its neighbour: an area code's spaced slash.
    assert _of("PHONE_NUMBER", _in_text_file("Tel.: 040 / 63928174\n")) == ["040 / 63928174"]


# --- Version numbers -----------------------------------------------------------------------------


def test_a_dotted_quad_after_a_version_word_is_no_ip_address() -> None:
    for text in (
        "Printed 11/09/2023, revision 7.2.0.14",
        "Gedruckt am 11.09.2023, Revision 7.2.0.14",
        "Imprimé le 11/09/2023, révision 7.2.0.14",
        "Versión 7.2.0.14 del formulario",
        "Form FX-20 Rev. 7.2.0.14",
        "Edizione 7.2.0.14",
    ):
        assert not _of("IP_ADDRESS", _in_text_file(text + "\n")), text
    assert _of("IP_ADDRESS", _in_text_file("IP 7.2.0.14\n")) == ["7.2.0.14"]
    assert _of("IP_ADDRESS", _in_text_file("Server: 7.2.0.14\n")) == ["7.2.0.14"]
    assert _of("IP_ADDRESS", _in_text_file("Revision 4 installed; server IP 7.2.0.14\n")) == [
        "7.2.0.14"
    ]


# --- Dates of birth in ISO 8601's basic format ---------------------------------------------------


def _form_with_fields(*fields: tuple[str, str, str]) -> bytes:
    """A PDF with one text widget per (name, tooltip, value)."""
    doc = pymupdf.open()
    page = doc.new_page()
    for i, (name, tooltip, value) in enumerate(fields):
        widget = pymupdf.Widget()
        widget.field_type = pymupdf.PDF_WIDGET_TYPE_TEXT
        widget.field_name = name
        widget.field_label = tooltip
        widget.field_value = value
        widget.rect = pymupdf.Rect(72, 100 + 40 * i, 272, 120 + 40 * i)
        page.add_widget(widget)
    return doc.tobytes()


def test_a_birth_date_in_iso_basic_format_is_found_where_a_birth_label_types_it() -> None:
    data = _form_with_fields(
        ("f1", "Date of birth", "19790823"),
        ("f2", "Date of birth of your spouse", "19791399"),  # no month 13
        ("f3", "Reference", "19790823"),
    )
    result = extract_document(data, document_key="form.pdf", etag="e", extractor=OfflineExtractor())
    births = [e.text for e in result.entities if e.entity_type == "DATE_OF_BIRTH"]
    assert births == ["19790823"]
    text = "Geburtsdatum: 19790823\nDate of birth: 20790823\nInvoice 19790823\n"
    assert _of("DATE_OF_BIRTH", _in_text_file(text)) == ["19790823"]  # 2079: in the future


# --- Name labels as column headers ---------------------------------------------------------------


def _xlsx(rows: list[list[str]]) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_every_name_label_heads_a_column_of_names() -> None:
    # Labels of a whole name in the six languages, and of a part of one (one word is enough).
    whole = ("Customer", "Client", "Kunde", "Cliente", "Klant", "Destinataire", "Titular")
    whole += ("Intestatario", "Rekeninghouder", "Account holder", "Bill to", "Customers")
    parts = ("Vorname", "Nachname", "Prénom", "Apellido", "Cognome", "Achternaam", "Last name")
    for header in whole + parts:
        rows = [["Nr", header, "City"], ["1", "Ilse Brandvold", "Tromsø"]]
        rows += [["2", "Teodor Wasilewski", "Gdańsk"], ["3", "Ottilie", "Graz"]]
        expected = ["Ilse Brandvold", "Teodor Wasilewski"] + (
            ["Ottilie"] if header in parts else []
        )
        csv_text = "\n".join(",".join(row) for row in rows) + "\n"
        for name, data in (("t.xlsx", _xlsx(rows)), ("t.csv", csv_text.encode())):
            result = extract_document(
                data, document_key=name, etag="e", extractor=OfflineExtractor()
            )
            persons = [e.text for e in result.entities if e.entity_type == "PERSON"]
            assert persons == expected, (header, name)
