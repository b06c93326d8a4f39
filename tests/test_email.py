"""E-mail: .eml built with the standard library and public test messages of two mail libraries
(.eml and Outlook .msg, read from their fetched repositories: tests/public_corpus.py), read for
real through `extract_document`."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr

import pytest

from pii_assets.documents import sniff_format
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status
from pii_pipeline.corpus import single_page_pdf
from tests.five_values import EMAIL, LINES, NAME, SSN, VALUES, found
from tests.public_corpus import public_file

# Public test messages (example and test domains only): php-mime-mail-parser (MIT) and
# HiraokaHyperTools/msgreader (Apache-2.0).
MIME_PARSER = "php-mime-mail-parser/php-mime-mail-parser"
PUBLIC = {
    "forwarded-rfc822.eml": ("php-mime-mail-parser/php-mime-mail-parser", "tests/mails/issue158a"),
    "truncated-report.eml": (
        "php-mime-mail-parser/php-mime-mail-parser",
        "tests/mails/failure.eml",
    ),
    "msg-in-msg.msg": ("HiraokaHyperTools/msgreader", "test/msgInMsg.msg"),
    "to-cc.msg": ("HiraokaHyperTools/msgreader", "test/test1.msg"),
}


def public(name: str) -> bytes:
    return public_file(*PUBLIC[name])


BODY = "Hello,\n\nplease update the customer record below.\n\n" + "\n".join(LINES) + "\n\nThanks\n"
STATEMENT = ["Account statement", "Customer: Ana Lopez", "Email: ana.lopez@example.org"]


def extract(data: bytes, key: str) -> DocumentResult:
    return extract_document(data, document_key=key, etag="e", extractor=OfflineExtractor())


def message(body: str = BODY, *, html: str | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr(("Customer Support", "support@example.org"))
    mail["To"] = "records@example.org"
    mail["Subject"] = "Record update"
    mail["Date"] = "Tue, 03 Jun 2025 10:00:00 +0000"
    mail["Message-ID"] = "<record-update-1@example.org>"
    mail.set_content(body)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail


def test_eml_sniffed_and_read_with_a_pdf_attachment() -> None:
    mail = message()
    mail.add_attachment(
        single_page_pdf(STATEMENT), maintype="application", subtype="pdf", filename="statement.pdf"
    )
    data = mail.as_bytes()
    assert sniff_format(data) == "eml"
    result = extract(data, "update.eml")
    assert result.status == Status.OK, result.error_message
    # From, To, Subject, Date (Message-ID and the MIME fields hold no personal data).
    assert result.coverage.parts == {
        "email_headers": 4,
        "email_bodies": 1,
        "attachments": 1,
        "pages": 1,
    }
    assert result.coverage.pages_text == 1
    for entity_type, entity in found(result).items():
        assert (entity.area, entity.part, entity.page) == ("email_body", None, None)
        assert BODY[entity.char_start : entity.char_end] == VALUES[entity_type]
        assert entity.line == BODY[: entity.char_start].count("\n") + 1
    headers = {(e.entity_type, e.text) for e in result.entities if e.area == "email_header"}
    # (The phone recognizer also reads the Date field's "2025 10:00:00" as a number: its fault.)
    assert headers >= {
        ("EMAIL_ADDRESS", "support@example.org"),
        ("EMAIL_ADDRESS", "records@example.org"),
    }
    attached = {
        (e.entity_type, e.text, e.page, e.area)
        for e in result.entities
        if e.part == "attachment:statement.pdf"
    }
    assert attached == {
        ("PERSON", "Ana Lopez", 1, "page"),
        ("EMAIL_ADDRESS", "ana.lopez@example.org", 1, "page"),
    }


def test_every_alternative_body_is_read() -> None:
    html = f"<html><body><p>Name: <b>{NAME}</b></p><p>SSN: {SSN}</p></body></html>"
    result = extract(message("Name: Ana Lopez\n", html=html).as_bytes(), "alt.eml")
    assert result.status == Status.OK
    assert result.coverage.parts["email_bodies"] == 2
    bodies = {(e.entity_type, e.text) for e in result.entities if e.area == "email_body"}
    assert bodies == {("PERSON", "Ana Lopez"), ("PERSON", NAME), ("US_SSN", SSN)}


def test_encoded_header_words_are_decoded() -> None:
    mail = message("no values here\n")
    del mail["To"]
    mail["To"] = formataddr(("María Núñez", EMAIL))  # written as an RFC 2047 encoded word
    data = mail.as_bytes()
    assert b"=?utf-8?" in data
    result = extract(data, "encoded.eml")
    assert {e.text for e in result.entities if e.area == "email_header"} >= {EMAIL}


def test_a_damaged_attachment_makes_the_message_partial() -> None:
    mail = message()
    mail.add_attachment(
        single_page_pdf(STATEMENT)[:300],
        maintype="application",
        subtype="pdf",
        filename="broken.pdf",
    )
    result = extract(mail.as_bytes(), "damaged.eml")
    assert result.status == Status.PARTIAL
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("attachment:broken.pdf", "corrupt")
    assert (
        unread.message == "damaged.eml: attachment:broken.pdf: PDF is damaged and cannot be opened"
    )
    assert set(found(result)) == set(VALUES)  # the rest is still read


@pytest.mark.public_corpus
def test_public_forwarded_message_every_part_accounted_for() -> None:
    result = extract(public("forwarded-rfc822.eml"), "forwarded.eml")
    assert result.status == Status.OK, result.error_message
    # Outer: Date, From, To, Subject, X-Mailer, Thread-Topic; the forwarded message: 17 fields
    # (Return-Path, 5 Received, 4 X-Spam, X-Virus-Scanned, Date, From, To, Subject, X-Mailer,
    # Thread-Topic). One HTML body, one plain body inside the forwarded message.
    assert result.coverage.parts == {"email_headers": 23, "email_bodies": 2, "attachments": 1}
    parts = {(e.part, e.area) for e in result.entities if e.text == "example@example.com"}
    assert parts == {(None, "email_header"), ("attachment:message-1.eml", "email_header")}


@pytest.mark.public_corpus
def test_public_truncated_message_is_partial() -> None:
    result = extract(public("truncated-report.eml"), "report.eml")
    assert result.status == Status.PARTIAL
    assert result.coverage.parts == {"email_headers": 2, "email_bodies": 1}
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("message", "corrupt")
    assert "closing boundary" in unread.message


@pytest.mark.public_corpus
def test_outlook_msg_with_an_embedded_message_and_an_image() -> None:
    data = public("msg-in-msg.msg")
    assert sniff_format(data) == "msg"
    result = extract(data, "outer.msg")
    assert result.status == Status.OK, result.error_message
    # Outer: its subject, a text and an HTML body, two attachments; the embedded message: 7
    # header fields and two bodies; the PNG attachment: one OCR'd page.
    assert result.coverage.parts == {
        "email_headers": 8,
        "email_bodies": 4,
        "attachments": 2,
        "pages": 1,
    }
    assert result.coverage.pages_ocr == 1
    embedded = "attachment:Microsoft Outlook テスト メッセージ"
    assert {(e.entity_type, e.text, e.area) for e in result.entities if e.part == embedded} == {
        ("EMAIL_ADDRESS", "xmailuser@xmailserver.test", "email_header"),
        ("IP_ADDRESS", "127.0.0.1", "email_header"),
    }


@pytest.mark.public_corpus
def test_outlook_msg_recipients_are_read() -> None:
    result = extract(public("to-cc.msg"), "to-cc.msg")
    assert result.status == Status.OK
    assert result.coverage.parts == {"email_headers": 3, "email_bodies": 2}
    assert {(e.text, e.area) for e in result.entities} == {
        ("to@example.com", "email_header"),
        ("cc@example.com", "email_header"),
    }


@pytest.mark.public_corpus
@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_damaged_msg_is_corrupt_or_partial_never_ok(cut: float) -> None:
    data = public("msg-in-msg.msg")
    result = extract(data[: int(len(data) * cut)], "cut.msg")
    assert result.status in (Status.FAILED, Status.PARTIAL)
    assert result.error_class in ("corrupt", "unsupported_format")
