"""A PDF's metadata as one reading unit: its document information dictionary and its XMP packet.

Neither is drawn on a page, yet both hold what people type or their software fills in: an author's
name, a subject line, keywords, custom keys ("/EmployeeEmail"). Read here:

- the document information dictionary (PDF 32000-1:2008 §14.3.3, the trailer's `/Info`): every
  key whose value is a string, standard (Title, Author, Subject, Keywords, Creator, Producer,
  CreationDate, ModDate) or custom; names (`/Trapped /False`) and other objects hold no text;
- the XMP metadata stream (§14.3.2, the catalog's `/Metadata`; XMP Specification Part 1, ISO
  16684-1): the text of every element and the value of every attribute (XMP writes simple
  properties as attributes of `rdf:Description`), never tag or attribute names. RDF's own
  attributes (`rdf:about`, `rdf:parseType`, `xml:lang`) and namespace declarations hold no value.
  XMP usually repeats the dictionary (dc:title, dc:creator, pdf:Producer): a value already read
  is read once.

The unit (area "metadata", not paged) lays each value out as a row "label: value" (the key's
words as label, "employee email: …"; the author's, "prepared by: …", a label the name recognizers
know) whose words carry the key in `Word.ref`
("info/Author", "xmp/creator"), so entities get it as their `data_path`. The metadata is counted
as one part "metadata"; what cannot be read is recorded as unread ("metadata", "xmp metadata").
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
import pymupdf

from pii_assets.documents import placed_text
from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.virtual import name_words
from pii_assets.models import Coverage, ErrorClass

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "http://www.w3.org/XML/1998/namespace"
_XMP_META = "adobe:ns:meta/"
# Attributes that structure the RDF, not values (RDF 1.1 XML Syntax §2).
_STRUCTURE = {f"{{{_RDF}}}about", f"{{{_RDF}}}parseType", f"{{{_RDF}}}resource", f"{{{_XML}}}lang"}
# Properties naming the person who wrote the document (Info /Author, XMP dc:creator; Info
# /Creator is the software) get a label the name recognizers read as one ("prepared by").
_AUTHOR_LABEL = "prepared by"
_AUTHORS = {"info/Author", "xmp/creator"}


def metadata_unit(
    doc: pymupdf.Document, *, name: str, coverage: Coverage, limits: DocumentLimits
) -> PageContent | None:
    """The document information dictionary's and the XMP packet's values as one unit (area
    "metadata", not paged), or None when neither holds text. Counted in `coverage` as one
    "metadata" part when there was something to read (a string in the dictionary, an XMP packet)
    and some of it was read; each that cannot be read is recorded as unread ("metadata",
    "xmp metadata", class corrupt or too_large)."""
    rows: list[tuple[str, str, str]] = []
    present = False  # a dictionary value or an XMP packet was there to read
    try:
        info = _info_rows(doc)
        rows += info
        present = bool(info)
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
            present = True
    except Exception:
        coverage.unreadable(
            "xmp metadata", ErrorClass.CORRUPT, f"{name}: the XMP metadata cannot be read"
        )
    if present:
        coverage.read("metadata")
    rows = _once(rows)
    if not rows:
        return None
    return placed_text.rows_unit(
        [
            (ref, f"{_AUTHOR_LABEL if ref in _AUTHORS else label}: {value}")
            for ref, label, value in rows
        ],
        area="metadata",
    )


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
        if value_kind == "string" and text.strip()
    ]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xmp_rows(xmp: str) -> list[tuple[str, str, str]]:
    """(reference, label, value) for every element text and attribute value of the XMP packet;
    the label is the property's name (the nearest element outside RDF's own vocabulary).
    defusedxml refuses entity expansion and external references (XML bombs)."""
    xmp = xmp.strip()
    if not xmp:
        return []
    rows: list[tuple[str, str, str]] = []
    _walk(SafeXml.fromstring(xmp), "", rows)
    return rows


def _walk(element: Element, prop: str, rows: list[tuple[str, str, str]]) -> None:
    tag = element.tag
    if isinstance(tag, str) and not tag.startswith((f"{{{_RDF}}}", f"{{{_XMP_META}}}")):
        prop = _local(tag)
    for attribute, value in element.attrib.items():
        if attribute not in _STRUCTURE and value.strip():
            local = _local(attribute)
            rows.append((f"xmp/{local}", name_words(local), value))
    text = (element.text or "").strip()
    if text and prop:
        rows.append((f"xmp/{prop}", name_words(prop), text))
    for child in element:
        if isinstance(child.tag, str):  # comments and processing instructions hold no value
            _walk(child, prop, rows)
