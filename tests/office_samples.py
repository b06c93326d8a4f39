"""Office documents built in the tests, part by part, with every place a value can hide: Word
headers, footers, text boxes, footnotes, endnotes, comments and tracked changes.

The packages are written from their XML (ECMA-376 Part 1: WordprocessingML §17) so the tests need
no generator library; every value in them is invented.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_OOXML = "application/vnd.openxmlformats-officedocument.wordprocessingml"
_WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_V = "urn:schemas-microsoft-com:vml"
_NS = (
    f'xmlns:w="{_W}" xmlns:r="{_R}" xmlns:wps="{_WPS}" xmlns:wp="{_WP}" xmlns:a="{_A}" '
    f'xmlns:mc="{_MC}" xmlns:v="{_V}"'
)


def _p(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def _text_box(text: str) -> str:
    """A text box (a DrawingML shape with text; VML fallback, as Word writes it)."""
    return (
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>'
        '<wp:anchor distT="0" distB="0" distL="114300" distR="114300" simplePos="0" '
        'relativeHeight="2" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0'
        '</wp:posOffset></wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0'
        '</wp:posOffset></wp:positionV><wp:extent cx="4000000" cy="600000"/>'
        '<wp:effectExtent l="0" t="0" r="0" b="0"/><wp:wrapTopAndBottom/>'
        '<wp:docPr id="1" name="Text Box 1"/><wp:cNvGraphicFramePr/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/'
        'wordprocessingShape"><wps:wsp><wps:cNvSpPr txBox="1"/><wps:spPr><a:xfrm><a:off x="0" '
        'y="0"/><a:ext cx="4000000" cy="600000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
        f"</a:prstGeom></wps:spPr><wps:txbx><w:txbxContent>{_p(text)}</w:txbxContent>"
        "</wps:txbx><wps:bodyPr/></wps:wsp></a:graphicData></a:graphic></wp:anchor>"
        '</w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape style="width:315pt;'
        f'height:47pt" type="#_x0000_t202"><v:textbox><w:txbxContent>{_p(text)}'
        "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent>"
        "</w:r></w:p>"
    )


def word_document(
    body: list[str],
    *,
    header: str | None = None,
    footer: str | None = None,
    text_box: str | None = None,
    footnote: str | None = None,
    endnote: str | None = None,
    comment: str | None = None,
    deleted: str | None = None,
    inserted: str | None = None,
) -> bytes:
    """A .docx whose body holds `body` (one paragraph each) and each optional part."""
    paragraphs = [_p(text) for text in body]
    if text_box:
        paragraphs.append(_text_box(text_box))
    if footnote:
        paragraphs.append(
            '<w:p><w:r><w:t xml:space="preserve">See the note.</w:t></w:r><w:r><w:rPr>'
            '<w:vertAlign w:val="superscript"/></w:rPr><w:footnoteReference w:id="1"/></w:r></w:p>'
        )
    if endnote:
        paragraphs.append(
            '<w:p><w:r><w:t xml:space="preserve">See the end.</w:t></w:r><w:r><w:rPr>'
            '<w:vertAlign w:val="superscript"/></w:rPr><w:endnoteReference w:id="1"/></w:r></w:p>'
        )
    if comment:
        paragraphs.append(
            '<w:p><w:commentRangeStart w:id="0"/><w:r><w:t xml:space="preserve">Reviewed '
            'paragraph.</w:t></w:r><w:commentRangeEnd w:id="0"/><w:r><w:commentReference '
            'w:id="0"/></w:r></w:p>'
        )
    if deleted or inserted:
        change = '<w:p><w:r><w:t xml:space="preserve">Changed: </w:t></w:r>'
        if deleted:
            change += (
                '<w:del w:id="11" w:author="Editor" w:date="2024-01-02T00:00:00Z"><w:r>'
                f'<w:delText xml:space="preserve">{escape(deleted)}</w:delText></w:r></w:del>'
            )
        if inserted:
            change += (
                '<w:ins w:id="12" w:author="Editor" w:date="2024-01-02T00:00:00Z"><w:r>'
                f'<w:t xml:space="preserve">{escape(inserted)}</w:t></w:r></w:ins>'
            )
        paragraphs.append(change + "</w:p>")
    section = ""
    rels = []
    overrides = [("/word/document.xml", f"{_OOXML}.document.main+xml")]
    parts: dict[str, str] = {}
    if header:
        section += '<w:headerReference w:type="default" r:id="rIdH"/>'
        rels.append(("rIdH", "header", "header1.xml"))
        overrides.append(("/word/header1.xml", f"{_OOXML}.header+xml"))
        parts["word/header1.xml"] = f"<w:hdr {_NS}>{_p(header)}</w:hdr>"
    if footer:
        section += '<w:footerReference w:type="default" r:id="rIdF"/>'
        rels.append(("rIdF", "footer", "footer1.xml"))
        overrides.append(("/word/footer1.xml", f"{_OOXML}.footer+xml"))
        parts["word/footer1.xml"] = f"<w:ftr {_NS}>{_p(footer)}</w:ftr>"
    for kind, text in (("footnote", footnote), ("endnote", endnote)):
        if not text:
            continue
        rels.append((f"rId{kind}", f"{kind}s", f"{kind}s.xml"))
        overrides.append((f"/word/{kind}s.xml", f"{_OOXML}.{kind}s+xml"))
        parts[f"word/{kind}s.xml"] = (
            f'<w:{kind}s {_NS}><w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/>'
            f'</w:r></w:p></w:{kind}><w:{kind} w:type="continuationSeparator" w:id="0"><w:p>'
            f'<w:r><w:continuationSeparator/></w:r></w:p></w:{kind}><w:{kind} w:id="1"><w:p>'
            f'<w:r><w:{kind}Ref/></w:r><w:r><w:t xml:space="preserve"> {escape(text)}</w:t>'
            f"</w:r></w:p></w:{kind}></w:{kind}s>"
        )
    if comment:
        rels.append(("rIdC", "comments", "comments.xml"))
        overrides.append(("/word/comments.xml", f"{_OOXML}.comments+xml"))
        parts["word/comments.xml"] = (
            f'<w:comments {_NS}><w:comment w:id="0" w:author="Reviewer" w:initials="R">'
            f"{_p(comment)}</w:comment></w:comments>"
        )
    document = (
        f"<w:document {_NS}><w:body>{''.join(paragraphs)}<w:sectPr>{section}"
        '<w:pgSz w:w="12240" w:h="15840"/><w:pgMar w:top="1440" w:right="1440" '
        'w:bottom="1440" w:left="1440" w:header="720" w:footer="720" w:gutter="0"/>'
        "</w:sectPr></w:body></w:document>"
    )
    relationships = "".join(
        f'<Relationship Id="{rid}" Type="{_R}/{kind}" Target="{target}"/>'
        for rid, kind, target in rels
    )
    content_types = (
        f'<Types xmlns="{_CT}"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{n}" ContentType="{t}"/>' for n, t in overrides)
        + "</Types>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_REL}"><Relationship Id="rId1" Type="{_R}/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        archive.writestr("word/document.xml", document)
        archive.writestr(
            "word/_rels/document.xml.rels",
            f'<Relationships xmlns="{_REL}">{relationships}</Relationships>',
        )
        for part, xml in parts.items():
            archive.writestr(part, xml)
    return out.getvalue()
