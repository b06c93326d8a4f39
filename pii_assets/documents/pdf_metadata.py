"""A PDF's metadata as one reading unit: its document information dictionary, its XMP packet, and
what a viewer's panels show beside the pages: bookmarks, page labels and layer names.

Neither is drawn on a page, yet both hold what people type: an author's name, a subject line,
keywords, custom keys ("/EmployeeEmail"). Read here:

- the document information dictionary (PDF 32000-1:2008 §14.3.3, the trailer's `/Info`): every
  key whose value is a string, standard (Title, Author, Subject, Keywords) or custom; names
  (`/Trapped /False`) and other objects hold no text;
- the XMP metadata stream (§14.3.2, the catalog's `/Metadata`; XMP Specification Part 1, ISO
  16684-1): the text of every element and the value of every attribute (XMP writes simple
  properties as attributes of `rdf:Description`), never tag or attribute names. RDF's own
  attributes (`rdf:about`, `rdf:parseType`, `xml:lang`) and namespace declarations hold no value.
  XMP usually repeats the dictionary (dc:title, dc:creator): a value already read is read once.

- the document outline (§12.3.3, the catalog's `/Outlines`): every bookmark's title, nested
  ones too (`Document.get_toc`), a row "bookmark: …" referenced "outline/<position>" (0-based,
  in reading order);
- page labels (§12.4.2, the catalog's `/PageLabels`): each range's prefix (`/P`, the only text;
  the numbering style is a name), a row "page label: …" referenced "page_labels/<first page>"
  (0-based);
- optional content groups (§8.11.2, the catalog's `/OCProperties`): each layer's `/Name`, shown in
  a viewer's layer panel, a row "layer name: …" referenced "ocg/<xref>".

Not read: what software writes (`_SOFTWARE`, `_SOFTWARE_NAMESPACES`): the producing products
(/Creator, /Producer, xmp:CreatorTool), dates, identifiers, the format, and the XMP records of
the file's make-up (fonts, swatches, the thumbnail, the editing history). Their digits and
version numbers read as card numbers, phone numbers and IP addresses; every file has them.

The unit (area "metadata", not paged) lays each value out as a row "label: value" (the key's
words as label, "employee email: …"; the author's "prepared by: …", a label the name recognizers
know) whose words carry the key in `Word.ref` ("info/Author", "xmp/creator"), so entities get it
as their `data_path`; it is counted as one part "metadata". A file whose metadata holds nothing
else than what software writes gets no unit and no count (no extra reading, no LLM call). What
cannot be read is recorded as unread ("metadata", "xmp metadata", "outline", "page labels",
"layers"). A redacted copy drops all of it (`redaction.pdf`, `redaction.pdf_hidden`).
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
import pymupdf

from pii_assets.documents import placed_text
from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.virtual import name_words
from pii_assets.models import Coverage, ErrorClass

# Punctuation ending a page label prefix, joining it to the page number.
_JOINER = re.compile(r"[^\w]+$")
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "http://www.w3.org/XML/1998/namespace"
_XMP_META = "adobe:ns:meta/"
# Attributes that structure the RDF, not values (RDF 1.1 XML Syntax §2).
_STRUCTURE = {f"{{{_RDF}}}about", f"{{{_RDF}}}parseType", f"{{{_RDF}}}resource", f"{{{_XML}}}lang"}
# Properties naming the person who wrote the document (Info /Author, XMP dc:creator; Info
# /Creator is the software) get a label the name recognizers read as one ("prepared by").
_AUTHOR_LABEL = "prepared by"
_AUTHORS = {"info/Author", "xmp/creator"}
# Properties software fills in, not read: the products that made the file (PDF 32000-1:2008
# Table 317: /Creator, /Producer "the name of the conforming product"), dates, identifiers, format
# (XMP Specification Part 1 §8.4: xmp:CreatorTool, xmp:CreateDate, xmpMM:DocumentID...). Their
# digits read as card and phone numbers, their versions as IP addresses (pypdf's, PyMuPDF's and
# pdf-lib's test files: "D:20090226074240" a card, "Reporting Services 10.0.0.0" an IP address).
_SOFTWARE = {
    *("Producer", "Creator", "CreationDate", "ModDate", "Trapped"),
    *("CreatorTool", "CreateDate", "ModifyDate", "MetadataDate", "format", "PDFVersion"),
    *("DocumentID", "InstanceID", "OriginalDocumentID", "VersionID", "RenditionClass"),
    *("part", "conformance", "amd"),  # PDF/A identification (ISO 19005-1 §6.7.11)
    "xmptk",  # the XMP toolkit that wrote the packet (x:xmpmeta/@x:xmptk)
}
# XMP structures software records the file's make-up in, not read (XMP Specification Part 2
# §1.2.2 and §1.2.4): fonts, colorants and swatches, the thumbnail (a base64 picture), page
# sizes, the editing history and references to other resources.
_SOFTWARE_NAMESPACES = (
    "{http://ns.adobe.com/xap/1.0/t/pg/}",  # xmpTPg: fonts, colorants, plate names, page count
    "{http://ns.adobe.com/xap/1.0/sType/Font#}",  # stFnt
    "{http://ns.adobe.com/xap/1.0/g/}",  # xmpG: swatches
    "{http://ns.adobe.com/xap/1.0/g/img/}",  # xmpGImg: the thumbnail
    "{http://ns.adobe.com/xap/1.0/sType/Dimensions#}",  # stDim
    "{http://ns.adobe.com/xap/1.0/sType/ResourceEvent#}",  # stEvt: xmpMM:History
    "{http://ns.adobe.com/xap/1.0/sType/ResourceRef#}",  # stRef: DerivedFrom, Ingredients
    "{http://ns.adobe.com/xap/1.0/sType/Version#}",  # stVer
)


def metadata_unit(
    doc: pymupdf.Document, *, name: str, coverage: Coverage, limits: DocumentLimits
) -> PageContent | None:
    """The document information dictionary's and the XMP packet's values, the bookmarks' titles,
    the page labels' prefixes and the layers' names as one unit (area "metadata", not paged), or
    None when they hold no text but what software writes (producer, creator tool, dates,
    identifiers: not read). Counted in `coverage` as one "metadata" part when a unit is made;
    each that cannot be read is recorded as unread ("metadata", "xmp metadata", "outline",
    "page labels", "layers"; class corrupt or too_large)."""
    rows: list[tuple[str, str, str]] = []
    try:
        rows += _info_rows(doc)
    except Exception:
        coverage.unreadable(
            "metadata",
            ErrorClass.CORRUPT,
            f"{name}: the document information dictionary cannot be read",
        )
    try:
        xmp = doc.get_xml_metadata().strip()
        if len(xmp) > limits.max_part_bytes:
            coverage.unreadable(
                "xmp metadata",
                ErrorClass.TOO_LARGE,
                f"{name}: the XMP metadata is over the "
                f"{limits.max_part_bytes / 1024 / 1024:g} MB limit for an embedded part",
            )
        elif xmp:
            rows += _xmp_rows(xmp)
    except Exception:
        coverage.unreadable(
            "xmp metadata", ErrorClass.CORRUPT, f"{name}: the XMP metadata cannot be read"
        )
    rows += _navigation_rows(doc, name=name, coverage=coverage)
    rows = _once(rows)
    if not rows:
        return None
    coverage.read("metadata")
    return placed_text.rows_unit(
        [
            (ref, f"{_AUTHOR_LABEL if ref in _AUTHORS else label}: {value}")
            for ref, label, value in rows
        ],
        area="metadata",
    )


def _navigation_rows(
    doc: pymupdf.Document, *, name: str, coverage: Coverage
) -> list[tuple[str, str, str]]:
    """(reference, label, value) for every bookmark title, page label prefix and layer name;
    what cannot be read is recorded as unread and the rest still read."""
    rows: list[tuple[str, str, str]] = []
    readers = (
        ("outline", "the outline (bookmarks)", _outline_rows),
        ("page labels", "the page labels", _page_label_rows),
        ("layers", "the optional content (layer) names", _layer_rows),
    )
    for part, what, read in readers:
        try:
            rows += read(doc)
        except Exception:
            coverage.unreadable(part, ErrorClass.CORRUPT, f"{name}: {what} cannot be read")
    return rows


def _outline_rows(doc: pymupdf.Document) -> list[tuple[str, str, str]]:
    # get_toc walks the whole tree (every level, closed items too) in reading order.
    return [
        (f"outline/{index}", "bookmark", title)
        for index, (_, title, *_) in enumerate(doc.get_toc(simple=True))
        if isinstance(title, str) and title.strip()
    ]


def _page_label_rows(doc: pymupdf.Document) -> list[tuple[str, str, str]]:
    # A viewer shows the prefix joined to the page number ("A-1"): the joining punctuation at
    # its end is left out, so a value before it reads as it would alone ("…@example.com-").
    rows = []
    for index, rule in enumerate(doc.get_page_labels()):
        prefix = rule.get("prefix")
        prefix = _JOINER.sub("", prefix) if isinstance(prefix, str) else ""
        if prefix.strip():
            rows.append((f"page_labels/{rule.get('startpage', index)}", "page label", prefix))
    return rows


def _layer_rows(doc: pymupdf.Document) -> list[tuple[str, str, str]]:
    return [
        (f"ocg/{xref}", "layer name", group["name"])
        for xref, group in sorted(doc.get_ocgs().items())
        if isinstance(group.get("name"), str) and group["name"].strip()
    ]


def _once(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Rows whose value was not already read (XMP repeating the dictionary), in order."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        value = " ".join(row[2].split())
        if value and value not in seen:
            seen.add(value)
            kept.append((row[0], row[1], value))
    return kept


def _info_rows(doc: pymupdf.Document) -> list[tuple[str, str, str]]:
    """(reference, label, value) for every string in the document information dictionary."""
    kind, value = doc.xref_get_key(-1, "Info")
    if kind == "null":
        return []
    if kind == "xref":
        xref = int(value.split()[0])
        keys = doc.xref_get_keys(xref)
        values = [doc.xref_get_key(xref, key) for key in keys]
    else:  # a direct dictionary in the trailer
        keys = [key for key in doc.metadata if key not in ("format", "encryption")]
        values = [doc.xref_get_key(-1, f"Info/{key[0].upper()}{key[1:]}") for key in keys]
        keys = [f"{key[0].upper()}{key[1:]}" for key in keys]
    return [
        (f"info/{key}", name_words(key), text)
        for key, (value_kind, text) in zip(keys, values, strict=True)
        if value_kind == "string" and text.strip() and key not in _SOFTWARE
    ]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xmp_rows(xmp: str) -> list[tuple[str, str, str]]:
    """(reference, label, value) for every element text and attribute value of the XMP packet.
    The reference is the property's path ("xmp/creator", "xmp/Fonts/fontName": a field of a
    structure after its property); the label its words ("fonts font name"), so a structure's
    field named "name" (a font's, a swatch's) does not read as a person's name label.
    defusedxml refuses entity expansion and external references (XML bombs)."""
    xmp = xmp.strip()
    if not xmp:
        return []
    rows: list[tuple[str, str, str]] = []
    _walk(SafeXml.fromstring(xmp), (), rows)
    return rows


def _row(path: tuple[str, ...], value: str) -> tuple[str, str, str]:
    return ("/".join(("xmp", *path)), " ".join(name_words(name) for name in path), value)


def _walk(element: Element, path: tuple[str, ...], rows: list[tuple[str, str, str]]) -> None:
    tag = element.tag
    if tag.startswith(_SOFTWARE_NAMESPACES):
        return
    if not tag.startswith((f"{{{_RDF}}}", f"{{{_XMP_META}}}")):
        path = (*path, _local(tag))
    for attribute, value in element.attrib.items():
        local = _local(attribute)
        if (
            attribute not in _STRUCTURE
            and local not in _SOFTWARE
            and not attribute.startswith(_SOFTWARE_NAMESPACES)
            and value.strip()
        ):
            rows.append(_row((*path, local), value))
    text = (element.text or "").strip()
    if text and path and path[-1] not in _SOFTWARE:
        rows.append(_row(path, text))
    for child in element:
        if isinstance(child.tag, str):  # comments and processing instructions hold no value
            _walk(child, path, rows)
