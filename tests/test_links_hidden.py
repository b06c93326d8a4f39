"""Text a document holds in where its links go, and HTML text a browser shows outside the text
flow: Word hyperlink relationships and HYPERLINK fields, workbook cell hyperlinks and sheet names,
CSS `content` strings, `<iframe srcdoc>` documents and URL paths. Every file is built here (raw
XML, openpyxl) with invented values; each value must be found once, in its area, the row `ok`;
ordinary links and style sheets must give nothing."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from openpyxl.worksheet.hyperlink import Hyperlink

from pii_assets.documents.links import link_line
from pii_assets.documents.markup import css_content_strings
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult
from pii_assets.redaction.common import NotRedactable
from pii_assets.redaction.text import redact_text
from tests.office_samples import word_document

_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def extract(data: bytes, key: str) -> DocumentResult:
    result = extract_document(data, document_key=key, etag="", extractor=OfflineExtractor())
    assert result.status == "ok", (result.error_message, result.coverage.unread)
    return result


def found(result: DocumentResult) -> dict[str, list[tuple[str, str]]]:
    """value -> [(entity type, area)] for every entity."""
    where: dict[str, list[tuple[str, str]]] = {}
    for entity in result.entities:
        where.setdefault(entity.text, []).append((entity.entity_type, entity.area))
    return where


def test_link_targets_are_decoded() -> None:
    assert link_line("MAILTO:ann%40mail.test?subject=Hi%20there") == (
        "email: ann@mail.test subject: Hi there"
    )
    assert link_line("tel:+1-415-555-0142") == "phone: +1-415-555-0142"
    assert link_line("https://crm.test/people/ann%40mail.test?id=7#top") == (
        "link: people ann@mail.test id: 7 top"
    )
    assert link_line("https://example.com/") == ""
    css = 'a::before { content: "\\40 x" attr(t) "B\\"q" } b { content-visibility: auto }'
    assert [text for _, text in css_content_strings(css)] == ["@x", 'B"q']


def _relationship(rid: str, target: str) -> str:
    return f'<Relationship Id="{rid}" Type="{_HYPERLINK}" Target="{target}" TargetMode="External"/>'


def linked_word_document() -> bytes:
    """A docx with a hyperlink relationship in the body and in the header, a HYPERLINK field
    split over runs, a simple field, and an ordinary web link (the control)."""
    base = word_document(["Quarterly plan."], header="Team header")
    body = (
        '<w:p><w:hyperlink r:id="rIdL1"><w:r><w:t>write to us</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:hyperlink r:id="rIdL2"><w:r><w:t>about us</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space='
        '"preserve"> HYPERLINK "mailto:</w:instrText></w:r><w:r><w:instrText>'
        'odalys.brenn@zephyrine.example" \\o "SSN 563-28-7719"</w:instrText></w:r><w:r>'
        '<w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>the desk</w:t></w:r><w:r>'
        '<w:fldChar w:fldCharType="end"/></w:r></w:p>'
        '<w:p><w:fldSimple w:instr=" HYPERLINK tel:+1-415-555-0142 "><w:r><w:t>call</w:t>'
        "</w:r></w:fldSimple></w:p>"
    )
    header_rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + _relationship("rIdH1", "https://crm.test/u/quillon.aber%40brackwater.example")
        + "</Relationships>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info).decode()
            if info.filename == "word/document.xml":
                content = content.replace("<w:body>", "<w:body>" + body)
            elif info.filename == "word/_rels/document.xml.rels":
                content = content.replace(
                    "</Relationships>",
                    _relationship("rIdL1", "mailto:t.wren@fallowfield.example")
                    + _relationship("rIdL2", "https://example.com/")
                    + "</Relationships>",
                )
            target.writestr(info, content)
        target.writestr("word/_rels/header1.xml.rels", header_rels)
    return out.getvalue()


def test_word_link_targets_and_fields_are_read_once() -> None:
    result = extract(linked_word_document(), "links.docx")
    where = found(result)
    assert where["t.wren@fallowfield.example"] == [("EMAIL_ADDRESS", "link")]
    assert where["odalys.brenn@zephyrine.example"] == [("EMAIL_ADDRESS", "link")]
    assert where["563-28-7719"] == [("US_SSN", "link")]  # the field's screen tip
    assert where["+1-415-555-0142"] == [("PHONE_NUMBER", "link")]
    assert where["quillon.aber@brackwater.example"] == [("EMAIL_ADDRESS", "link")]
    assert len(result.entities) == 5
    # Body: mailto, field, field's tip, simple field (the web link without a path gives none).
    assert result.coverage.parts["links"] == 5


def test_ordinary_word_document_has_no_links() -> None:
    result = extract(word_document(["Quarterly plan, nothing personal."]), "plain.docx")
    assert result.entities == []
    assert "links" not in result.coverage.parts


def linked_workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "ssn 512-47-8836"
    sheet.append(["Name", "Contact"])
    sheet.append(["Quillon Abernathy", "write"])
    sheet["B2"].hyperlink = "mailto:m.tenpenny@brackwater.example"
    sheet.append(["Ordinary", "about"])
    sheet["B3"].hyperlink = "https://example.com/about"
    other = book.create_sheet("Staff")
    other["A1"] = "See"
    other["A1"].hyperlink = Hyperlink(
        ref="A1", location="Staff!B9", tooltip="Ask r.okafor@example.net"
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_workbook_hyperlinks_and_sheet_names_are_read_once() -> None:
    result = extract(linked_workbook(), "links.xlsx")
    where = found(result)
    assert where["Quillon Abernathy"] == [("PERSON", "cell")]
    assert where["m.tenpenny@brackwater.example"] == [("EMAIL_ADDRESS", "link")]
    assert where["r.okafor@example.net"] == [("EMAIL_ADDRESS", "link")]
    assert where["512-47-8836"] == [("US_SSN", "metadata")]  # the first sheet's name
    assert len(result.entities) == 4
    # The mailto and the web link on the first sheet; the location and the tip on the second.
    assert result.coverage.parts["links"] == 4


def test_html_css_content_frames_and_url_paths_are_read_at_their_place() -> None:
    page = (
        "<html><head><style>p { color: red }\n"
        '.sig::after { content: "Write to t.wren@fallowfield.example"; }</style></head>\n'
        '<body><p style="margin: 0">Welcome <span style="content: \'SSN 563-28-7719\'">x</span>'
        "</p>\n"
        '<iframe srcdoc="&lt;p&gt;Reach odalys.k@zephyrine.example&lt;/p&gt;"></iframe>\n'
        '<a href="https://crm.test/people/quillon.aber%40brackwater.example">profile</a>\n'
        '<a href="https://example.com/about">About</a> <img src="logo.png" alt="">\n'
        '<link rel="stylesheet" href="/site.css"><img src="data:image/png;base64,AAAA">\n'
        "</body></html>\n"
    )
    result = extract(page.encode(), "page.html")
    located = {e.text: (e.area, e.line) for e in result.entities}
    assert located == {
        "t.wren@fallowfield.example": ("text", 2),
        "563-28-7719": ("text", 3),
        "odalys.k@zephyrine.example": ("text", 4),
        "quillon.aber@brackwater.example": ("text", 5),
    }
    # Written as it is in the source: placed at its characters.
    for value in ("t.wren@fallowfield.example", "563-28-7719"):
        entity = next(e for e in result.entities if e.text == value)
        assert page[entity.char_start : entity.char_end] == value


def test_ordinary_html_links_and_styles_give_nothing() -> None:
    page = (
        "<html><head><style>body { font: 12px serif } p::before { content: '' }</style>"
        '<link rel="stylesheet" href="https://example.com/site.css"></head>'
        '<body><p>Plain page.</p><a href="https://example.com/about?lang=en">About</a></body>'
        "</html>\n"
    )
    result = extract(page.encode(), "plain.html")
    assert result.entities == []


def test_an_html_copy_is_refused_when_a_value_is_not_written_as_read() -> None:
    """A value decoded from a URL ("%40") is not at its characters: no copy rather than one that
    still holds it; values written as read are redacted, CSS and frames included."""
    page = (
        '<html><head><style>.sig::after { content: "Write to t.wren@fallowfield.example"; }'
        "</style></head>\n"
        '<body><iframe srcdoc="&lt;p&gt;Reach odalys.k@zephyrine.example&lt;/p&gt;"></iframe>\n'
        '<a href="https://crm.test/people/quillon.aber%40brackwater.example">profile</a>\n'
        "</body></html>\n"
    )
    result = extract(page.encode(), "page.html")
    with pytest.raises(NotRedactable):
        redact_text(page.encode(), "html", result.entities, raw_values=True)
    without_link = page.replace("quillon.aber%40brackwater.example", "profile")
    result = extract(without_link.encode(), "page.html")
    copy = redact_text(without_link.encode(), "html", result.entities, raw_values=True).decode()
    assert "fallowfield" not in copy and "zephyrine" not in copy
