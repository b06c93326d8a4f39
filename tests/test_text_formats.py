"""Text formats (plain text, JSON, JSON Lines, XML, HTML) and CSV/TSV sniffing, read for real
through `open_document` and `extract_document` with the offline recognizers."""

from __future__ import annotations

import json
import random
import time
import tracemalloc

import pytest

from pii_assets.documents import open_document, sniff_format
from pii_assets.documents.virtual import MAX_ROW_CHARS, ROWS_PER_UNIT
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass, Status
from tests.five_values import BIRTH_DATE, EMAIL, LINES, NAME, PHONE, SSN, VALUES, found


def extract(data: bytes, key: str = "doc") -> DocumentResult:
    return extract_document(data, document_key=key, etag="e", extractor=OfflineExtractor())


def test_csv_and_tsv_are_sniffed_from_their_content() -> None:
    rows = [["Name", "SSN", "Email"], [NAME, SSN, EMAIL], ["Ana Lopez", "234-56-7890", "a@b.org"]]
    assert sniff_format("\n".join(",".join(r) for r in rows).encode()) == "csv"
    assert sniff_format("\r\n".join("\t".join(r) for r in rows).encode()) == "tsv"
    assert sniff_format("\n".join(";".join(r) for r in rows).encode()) == "csv"
    # Quoted fields with commas and line breaks are one field.
    quoted = b'id,note\n1,"Paid, thanks"\n2,"two\nlines"\n'
    assert sniff_format(quoted) == "csv"
    # Prose with a comma or two is not a table.
    assert sniff_format(b"Dear Mr. Carter,\nThank you for your letter.\n") == "txt"
    assert sniff_format(b"Name: Maria Gonzalez, just text\n") == "txt"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"plain words\n", "txt"),
        (b'{"a": 1}', "json"),
        (b'[\n  {"a": 1}\n]\n', "json"),
        (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        (b"[INFO] service started\n", "txt"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "html"),
        (b"<div>x</div>", "html"),
        (b'<?xml version="1.0"?><people/>', "xml"),
        (b"<people><a>1</a></people>", "xml"),
        (b"From: Ana <a@example.com>\nTo: b@example.com\nSubject: hi\n\nbody\n", "eml"),
        (b"Subject: minutes\nDate: Monday\n\nnotes\n", "txt"),  # no originator or trace field
        ("Grüße aus Köln\n".encode("utf-16"), "txt"),
        ("Grüße aus Köln\n".encode("utf-16-le"), "txt"),  # no byte-order mark
        ("Grüße aus Köln\n".encode("cp1252"), "txt"),
        (b"{\\rtf1\\ansi hello}", "rtf"),  # rendered by LibreOffice (office.py)
        (bytes(range(256)) * 4, None),
    ],
)
def test_text_formats_are_sniffed_from_their_content(data: bytes, kind: str | None) -> None:
    assert sniff_format(data) == kind


def test_text_file_values_have_their_line_and_offsets() -> None:
    text = "Customer record\r\n\r\n" + "\r\n".join(LINES) + "\r\n"
    result = extract(text.encode(), "notes.txt")
    assert result.status == Status.OK, result.error_message
    assert result.coverage.parts == {"lines": 7}
    assert (result.pages, result.coverage.unread) == (0, [])
    entities = found(result)
    for number, (entity_type, value) in enumerate(VALUES.items(), start=3):
        entity = entities[entity_type]
        assert (entity.area, entity.source, entity.part, entity.page) == (
            "text",
            "plain",
            None,
            None,
        )
        assert entity.line == number
        assert text[entity.char_start : entity.char_end] == value


def test_utf16_text_offsets_count_characters_of_the_decoded_text() -> None:
    text = "Résumé — Ünïcödé\n" + "\n".join(LINES) + "\n"
    result = extract(text.encode("utf-16"), "utf16.txt")
    assert result.status == Status.OK
    for entity_type, entity in found(result).items():
        assert text[entity.char_start : entity.char_end] == VALUES[entity_type]
        assert entity.line == 2 + list(VALUES).index(entity_type)


def test_windows_1252_text_is_read() -> None:
    text = "Café receipt – no. 7\n" + "\n".join(LINES) + "\n"
    result = extract(text.encode("cp1252"), "latin.txt")
    assert result.status == Status.OK
    assert set(found(result)) == set(VALUES)


def test_a_value_repeated_on_two_virtual_pages_is_two_entities() -> None:
    filler = [f"Line {i} of the report." for i in range(ROWS_PER_UNIT - 1)]
    text = "\n".join([f"Email: {EMAIL}", *filler, f"Email: {EMAIL}"]) + "\n"
    result = extract(text.encode(), "twice.txt")
    emails = [e for e in result.entities if e.entity_type == "EMAIL_ADDRESS"]
    assert [e.line for e in emails] == [1, ROWS_PER_UNIT + 1]


def test_a_long_line_is_cut_into_rows_without_losing_words_or_offsets() -> None:
    words = [f"word{i}" for i in range(3 * MAX_ROW_CHARS // 6)]
    words.insert(len(words) // 2, EMAIL)
    text = " ".join(words)
    with open_document(text.encode(), name="long.txt") as doc:
        units = list(doc.pages())
        assert doc.coverage.parts == {"lines": 1}
    all_words = [w for unit in units for w in unit.words]
    assert [w.text for w in all_words] == words
    assert all(text[w.offset : w.offset + len(w.text)] == w.text for w in all_words)
    assert all(w.line == 1 for w in all_words)


def test_a_large_text_file_is_read_a_bounded_unit_at_a_time() -> None:
    rng = random.Random(5)
    lines = [
        " ".join(rng.choice(["alpha", "beta", "gamma"]) for _ in range(12)) for _ in range(12_000)
    ]
    data = ("\n".join(lines) + "\n").encode()  # ~0.8 MB, ~144,000 words
    tracemalloc.start()
    with open_document(data, name="big.txt") as doc:
        count = 0
        for unit in doc.pages():
            assert len({w.block for w in unit.words}) <= ROWS_PER_UNIT
            count += 1
        assert doc.coverage.parts == {"lines": 12_000}
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 12_000 // ROWS_PER_UNIT
    assert peak < 8_000_000  # every word of the file as Word objects would be ~30 MB


def test_json_values_have_their_json_path() -> None:
    document = {
        "customers": [
            {"id": 1, "full_name": "Ana Lopez"},
            {
                "id": 2,
                "full_name": NAME,
                "ssn": SSN,
                "contact": {"email": EMAIL, "phone": PHONE},
                "dateOfBirth": BIRTH_DATE,
                "active": True,
                "notes": None,
            },
        ],
        "exported by": "crm",
    }
    result = extract(json.dumps(document, indent=2).encode(), "customers.json")
    assert result.status == Status.OK, result.error_message
    assert result.coverage.parts == {"json_values": 11}
    entities = found(result)
    paths = {entity_type: entity.data_path for entity_type, entity in entities.items()}
    assert paths == {
        "PERSON": "$.customers[1].full_name",
        "US_SSN": "$.customers[1].ssn",
        "EMAIL_ADDRESS": "$.customers[1].contact.email",
        "PHONE_NUMBER": "$.customers[1].contact.phone",
        "DATE_OF_BIRTH": "$.customers[1].dateOfBirth",
    }
    assert all(e.area == "json" and e.line is None for e in entities.values())
    ana = [e for e in result.entities if e.text == "Ana Lopez"]
    assert [e.data_path for e in ana] == ["$.customers[0].full_name"]


def test_json_keys_that_are_not_identifiers_use_brackets() -> None:
    data = json.dumps({"contact details": {"e-mail": EMAIL}}).encode()
    (entity,) = extract(data, "odd.json").entities
    assert entity.data_path == "$['contact details']['e-mail']"


def test_utf16_json_is_read() -> None:
    data = json.dumps({"email": EMAIL, "name": NAME}).encode("utf-16")
    result = extract(data, "utf16.json")
    assert {(e.entity_type, e.data_path) for e in result.entities} == {
        ("EMAIL_ADDRESS", "$.email"),
        ("PERSON", "$.name"),
    }


def test_truncated_json_keeps_the_values_before_the_damage_and_is_partial() -> None:
    data = json.dumps({"a": {"email": EMAIL}, "b": [1, 2, 3]}).encode()[:-8]
    result = extract(data, "cut.json")
    assert result.status == Status.PARTIAL
    assert [e.data_path for e in result.entities] == ["$.a.email"]
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("json_values", "corrupt")
    assert (
        unread.message
        == "cut.json: JSON is malformed or truncated after 2 values; the rest was not read"
    )
    assert EMAIL not in unread.message


def test_json_lines_records_are_indexed_and_a_bad_line_is_an_unread_part() -> None:
    records = [
        {"id": 1, "name": "Ana Lopez"},
        {"id": 2, "name": NAME, "ssn": SSN, "email": EMAIL},
    ]
    lines = [json.dumps(r) for r in records]
    lines.insert(1, '{"id": 9, "email": "broken')
    result = extract(("\n".join(lines) + "\n\n").encode(), "people.jsonl")
    assert result.status == Status.PARTIAL
    assert {(e.entity_type, e.data_path) for e in result.entities} == {
        ("PERSON", "$[0].name"),
        ("PERSON", "$[2].name"),
        ("US_SSN", "$[2].ssn"),
        ("EMAIL_ADDRESS", "$[2].email"),
    }
    assert result.coverage.parts == {"json_values": 6}
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("line 2", "corrupt")
    assert "broken" not in unread.message


HTML = f"""<!DOCTYPE html>
<html><head><title>Customer record</title>
<meta name="author" content="Ana Lopez">
<style>td {{ color: red }}</style>
<script>var leaked = "987-65-4321";</script></head>
<body><h1>Customer</h1>
<p>Name: <b>{NAME}</b><br>SSN: {SSN}</p>
<table><tr><td>Email</td><td>{EMAIL}</td></tr>
<tr><td>Phone</td><td>{PHONE}</td></tr></table>
<!-- reviewed by 876-54-3210 -->
<p>Date of birth:
  {BIRTH_DATE}</p></body></html>
"""


def test_html_text_is_read_without_markup_script_or_style() -> None:
    result = extract(HTML.encode(), "page.html")
    assert result.status == Status.OK, result.error_message
    entities = found(result)
    for entity_type, entity in entities.items():
        assert entity.area == "text"
        assert HTML[entity.char_start : entity.char_end] == VALUES[entity_type]
        assert entity.line == HTML[: entity.char_start].count("\n") + 1
    texts = {e.text for e in result.entities}
    assert "987-65-4321" not in texts  # a script is not text
    assert "876-54-3210" in texts  # a comment is (tests/test_hidden_parts.py)
    with open_document(HTML.encode(), name="page.html") as doc:
        text = "\n".join(unit.text for unit in doc.pages())
    assert "author: Ana Lopez" in text.splitlines()  # <meta name="author" content=...>
    assert result.coverage.parts == {"lines": HTML.count("\n")}


def test_xml_elements_and_attributes_label_their_values() -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<customers xmlns="urn:example:crm">\n'
        f'  <customer id="2" contactEmail="{EMAIL}">\n'
        f"    <fullName>{NAME}</fullName>\n"
        f"    <ssn>{SSN}</ssn>\n"
        f"    <phone><![CDATA[{PHONE}]]></phone>\n"
        f"    <dateOfBirth>{BIRTH_DATE}</dateOfBirth>\n"
        "  </customer>\n"
        "</customers>\n"
    )
    result = extract(xml.encode(), "crm.xml")
    assert result.status == Status.OK, result.error_message
    for entity_type, entity in found(result).items():
        assert xml[entity.char_start : entity.char_end] == VALUES[entity_type]
        assert entity.line == xml[: entity.char_start].count("\n") + 1


def test_xml_entity_bomb_is_inert() -> None:
    # "Billion laughs": ten entities, each ten of the previous one (10^9 "lol"s if expanded).
    declarations = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    entities = "".join(declarations)
    bomb = f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{entities}]>\n<lolz>&lol9;</lolz>\n'
    started = time.perf_counter()
    tracemalloc.start()
    result = extract(bomb.encode(), "bomb.xml")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.status == Status.OK
    assert time.perf_counter() - started < 2 and peak < 20_000_000


def test_binary_content_is_still_unsupported() -> None:
    result = extract(random.Random(0).randbytes(4096), "blob.bin")
    assert (result.status, result.error_class) == (Status.FAILED, ErrorClass.UNSUPPORTED_FORMAT)


def test_unknown_marked_sections_do_not_stop_the_html_parser() -> None:
    # Word-generated HTML (and e-mail bodies) carry <![if ...]> sections; others stop
    # html.parser with an AssertionError unless they are skipped.
    page = f"<html><body><p>Hi<![foo[x]]></p><p>Email: {EMAIL}</p></body></html>"
    result = extract(page.encode(), "word.html")
    assert result.status == Status.OK
    assert [e.text for e in result.entities] == [EMAIL]
