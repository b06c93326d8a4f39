"""Word documents: everything a reader could see reaches the recognizers once, where it is.

Headers, footers, text boxes, footnotes, endnotes and inserted text are on the pages LibreOffice
renders; comments and tracked deletions, which a printout leaves out, are units of their own.
"""

from __future__ import annotations

import io
import zipfile

import pymupdf
import pytest

from pii_assets.documents import open_document, sniff_format
from pii_assets.documents.office import convert_to_pdf
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult
from tests.bad_corpus import encrypt_office
from tests.office_samples import word_document
from tests.public_corpus import public_file

# Public test documents of python-docx (MIT), read from its fetched repository.
DOCX_FILES = "features/steps/test_files/"

PARTS = {
    "header": "Name: Peter Miller",
    "footer": "Contact f.footer@example.com",
    "text_box": "SSN 412-73-5586",
    "footnote": "Phone (415) 555-0132",
    "endnote": "Mail end.note@example.org",
    "comment": "Name: John Carter, phone 212-555-0187",
    "deleted": "SSN 523-45-6789",
    "inserted": "Mail new.mail@example.com",
}


def everywhere() -> bytes:
    return word_document(["Employee record", "Name: Maria Gonzalez"], **PARTS)


def extract(data: bytes, **kwargs) -> DocumentResult:
    return extract_document(
        data, document_key="a.docx", etag="", extractor=OfflineExtractor(), **kwargs
    )


def test_libreoffice_renders_headers_footers_text_boxes_and_notes() -> None:
    """What the pages are trusted to hold: checked on LibreOffice's own rendering."""
    pdf = convert_to_pdf(everywhere(), kind="docx", name="a.docx", timeout_s=120)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        text = " ".join(page.get_text() for page in doc)
    for part in ("header", "footer", "text_box", "footnote", "endnote", "inserted"):
        assert PARTS[part] in text, part
    assert "John Carter" not in text  # comments are not printed


def test_every_part_of_a_word_document_is_read_once_in_its_area() -> None:
    result = extract(everywhere())
    assert result.status == "ok", result.error_message
    where = {e.text: (e.entity_type, e.area, e.page is not None) for e in result.entities}
    assert where["Maria Gonzalez"] == ("PERSON", "page", True)
    assert where["Peter Miller"] == ("PERSON", "page", True)  # header
    assert where["f.footer@example.com"] == ("EMAIL_ADDRESS", "page", True)
    assert where["412-73-5586"] == ("US_SSN", "page", True)  # text box
    assert where["(415) 555-0132"] == ("PHONE_NUMBER", "page", True)  # footnote
    assert where["end.note@example.org"] == ("EMAIL_ADDRESS", "page", True)  # endnote
    assert where["new.mail@example.com"] == ("EMAIL_ADDRESS", "page", True)  # inserted
    assert where["John Carter"] == ("PERSON", "comment", False)
    assert where["212-555-0187"] == ("PHONE_NUMBER", "comment", False)
    assert where["523-45-6789"] == ("US_SSN", "tracked_change", False)
    # Deleted text is read once, as a tracked change: the pages show the final text.
    assert [e.text for e in result.entities].count("523-45-6789") == 1
    parts = result.coverage.parts
    assert parts["comments"] == 1 and parts["tracked_changes"] == 1
    assert parts["headers_footers"] == 2


def test_deleted_text_is_hidden_from_the_pages_also_with_a_settings_part() -> None:
    source = zipfile.ZipFile(io.BytesIO(everywhere()))
    out = io.BytesIO()
    settings_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                override = (
                    f'<Override PartName="/word/settings.xml" ContentType="{settings_type}"/>'
                )
                content = content.replace(b"</Types>", override.encode() + b"</Types>")
            elif info.filename == "word/_rels/document.xml.rels":
                rel = (
                    '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/settings" Target="settings.xml"/>'
                )
                content = content.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            target.writestr(info, content)
        target.writestr(
            "word/settings.xml",
            '<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            '<w:zoom w:percent="100"/><w:revisionView w:markup="1"/></w:settings>',
        )
    result = extract(out.getvalue())
    ssn = [e for e in result.entities if e.text == "523-45-6789"]
    assert [e.area for e in ssn] == ["tracked_change"]


def test_macro_enabled_and_template_word_files_are_read_as_word() -> None:
    for content_type in (
        "application/vnd.ms-word.document.macroEnabled.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    ):
        data = word_document(["Name: Maria Gonzalez"], comment="Mail c.mail@example.com")
        source = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():
                content = source.read(info)
                if info.filename == "[Content_Types].xml":
                    content = content.replace(
                        b"application/vnd.openxmlformats-officedocument.wordprocessingml"
                        b".document.main+xml",
                        content_type.encode(),
                    )
                target.writestr(info, content)
        assert sniff_format(out.getvalue()) == "docx"
        texts = {e.text for e in extract(out.getvalue()).entities}
        assert {"Maria Gonzalez", "c.mail@example.com"} <= texts, content_type


def test_protected_word_document_is_read_with_its_comments() -> None:
    data = encrypt_office(everywhere(), "Corr3ct-Horse-Battery")
    result = extract(data, passwords=("Corr3ct-Horse-Battery",))
    assert result.status == "ok", result.error_message
    assert "212-555-0187" in {e.text for e in result.entities}


@pytest.mark.public_corpus
def test_public_word_files_headers_footers_and_comments() -> None:
    with open_document(
        public_file("python-openxml/python-docx", DOCX_FILES + "hdr-header-footer.docx"),
        name="h.docx",
    ) as doc:
        text = " ".join(unit.text for unit in doc.pages())
    assert "Header for section-1" in text and "Footer for section 1" in text
    data = public_file("python-openxml/python-docx", DOCX_FILES + "comments-rich-para.docx")
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        listed = package.read("word/comments.xml").count(b"<w:comment ")
    with open_document(data, name="c.docx") as doc:
        comments = [unit for unit in doc.pages() if unit.area == "comment"]
        assert doc.coverage.parts["comments"] == listed
    text = " ".join(unit.text for unit in comments)
    assert "Text with hyperlink https://google.com embedded." in text
    assert "Paragraph with Heading 2 paragraph style." in text
