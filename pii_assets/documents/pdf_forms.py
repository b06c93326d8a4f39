"""PDF forms: a page's AcroForm field values as one reading unit, and an XFA form's data packet.

A field's value lives in the field dictionary (`/V`), not in the page's text layer: a field
without an appearance stream (`/NeedAppearances`) shows nothing a text extractor can read, and a
dynamic XFA form shows "Please wait..." while its data sits in an XML packet. Both are read here.

- Form fields: one unit per page (area "form_field") with `fields` (`models.FormField`, for the
  form-aware recognizers) and words laying out "label: value" rows, the value words inside the
  widget's rectangle, so the generic recognizers read them too and entities point at the field.
- XFA (XML Forms Architecture 3.3, "datasets" packet): one unit for the document (area "xfa",
  not paged), each filled data leaf a row "element path: value" whose words carry the element
  path in `Word.ref` (SOM-style: "form1.Applicant.SSN", "[n]" where a name repeats).
"""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
import pymupdf

from pii_assets.documents import placed_text
from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.paged import normalise_words, normalised_box
from pii_assets.models import Coverage, ErrorClass, FormField

# PyMuPDF widget types -> `FormField.kind`; push buttons hold no value and are not read.
KINDS = {
    pymupdf.PDF_WIDGET_TYPE_TEXT: "text",
    pymupdf.PDF_WIDGET_TYPE_CHECKBOX: "checkbox",
    pymupdf.PDF_WIDGET_TYPE_RADIOBUTTON: "radio",
    pymupdf.PDF_WIDGET_TYPE_COMBOBOX: "combobox",
    pymupdf.PDF_WIDGET_TYPE_LISTBOX: "listbox",
    pymupdf.PDF_WIDGET_TYPE_SIGNATURE: "signature",
}
# Text field flag bit 25 (1-based), Comb: one character per cell (PDF 32000-1:2008 §12.7.4.3).
COMB = 1 << 24
# Kinds whose value is a state ("Yes", "Off", an export name) rather than text someone typed.
_STATES = ("checkbox", "radio", "signature")


def form_field_unit(
    page: pymupdf.Page, number: int, *, name: str, coverage: Coverage
) -> PageContent | None:
    """The page's form fields as one unit (area "form_field", same page number): `fields` holds
    every field widget but push buttons; None when the page has none. Counted in `coverage` as
    "form_fields"; a widget that cannot be read is recorded as unread."""
    if page.first_widget is None:
        return None
    try:
        widgets = list(page.widgets())
    except Exception:
        coverage.unreadable(
            f"page {number} form fields",
            ErrorClass.CORRUPT,
            f"{name}: the form fields of page {number} cannot be read",
        )
        return None
    fields: list[FormField] = []
    raw: list[placed_text.RawWord] = []
    for index, widget in enumerate(widgets, start=1):
        kind = KINDS.get(widget.field_type)
        if kind is None:
            continue
        try:
            field = _field(widget, kind, page)
        except Exception:
            coverage.unreadable(
                f"page {number} form field {index}",
                ErrorClass.CORRUPT,
                f"{name}: form field {index} of page {number} cannot be read",
            )
            continue
        if field.value and kind not in _STATES:
            raw += _field_words(field, widget, block=len(fields))
        fields.append(field)
    coverage.read("form_fields", len(fields))
    if not fields:
        return None
    # Every word of a field (its block) names the field it belongs to.
    words = [replace(w, ref=fields[w.block].name) for w in normalise_words(raw, page, page.rect)]
    rect = page.rect
    return PageContent(
        number=number,
        words=words,
        source="plain",
        width=rect.width,
        height=rect.height,
        area="form_field",
        fields=fields,
    )


def _value(widget: pymupdf.Widget, kind: str) -> str:
    value = widget.field_value
    if kind == "signature" or value is None or value is False:
        return ""
    if value is True:
        return "Yes"
    if isinstance(value, list | tuple):  # a list box with several choices selected
        return ", ".join(str(item) for item in value)
    text = str(value)
    return "" if kind in ("checkbox", "radio") and text == "Off" else text


def _field(widget: pymupdf.Widget, kind: str, page: pymupdf.Page) -> FormField:
    name = widget.field_name or ""
    comb = kind == "text" and bool(widget.field_flags & COMB)
    return FormField(
        name=name,
        label=(widget.field_label or "").strip() or name,
        value=_value(widget, kind),
        rect=normalised_box(widget.rect, page),
        kind=kind,
        comb=comb,
        max_len=(widget.text_maxlen or 0) if kind == "text" else 0,
    )


def _field_words(
    field: FormField, widget: pymupdf.Widget, *, block: int
) -> list[placed_text.RawWord]:
    """ "label: value": the value inside the widget's rectangle (one character per cell for a comb
    field), the label on its first row just left of it. Label and first row share one line."""
    rect = widget.rect
    size = widget.text_fontsize or placed_text.DEFAULT_FONT_SIZE
    if field.comb and field.max_len:
        value = placed_text.in_cells(field.value, rect, field.max_len, block=block, line=0)
    else:
        value = placed_text.in_rect(field.value.splitlines(), rect, block=block, font_size=size)
    if not value:
        return []
    label = field.label if field.label.endswith(":") else f"{field.label}:"
    height = value[0][3] - value[0][1]
    return [
        *placed_text.before_rect(label, rect, block=block, line=0, left=0.0, height=height),
        *value,
    ]


# --- XFA ----------------------------------------------------------------------------------------

_PACKET = re.compile(rb"\(([^()]*)\)\s*(\d+)\s+\d+\s+R")
_XFA_DATA_NS = "http://www.xfa.org/schema/xfa-data/1.0/"


def xfa_unit(
    doc: pymupdf.Document, *, name: str, coverage: Coverage, limits: DocumentLimits
) -> PageContent | None:
    """The XFA form's filled data as one unit (area "xfa", not paged), or None when the document
    has no XFA form or its data holds no value. A form that cannot be read is recorded as unread
    ("xfa form"); one that was read is counted as "xfa_forms"."""
    try:
        kind, value = doc.xref_get_key(doc.pdf_catalog(), "AcroForm/XFA")
        if kind == "null":
            return None
        packet = _datasets(doc, kind, value)
        if packet is not None and len(packet) > limits.max_part_bytes:
            coverage.unreadable(
                "xfa form",
                ErrorClass.TOO_LARGE,
                f"{name}: the XFA form's data is over the "
                f"{limits.max_part_bytes / 1024 / 1024:g} MB limit for an embedded part",
            )
            return None
        rows = _leaves(packet) if packet else []
    except Exception:
        coverage.unreadable(
            "xfa form", ErrorClass.CORRUPT, f"{name}: the XFA form's data cannot be read"
        )
        return None
    coverage.read("xfa_forms")
    if not rows:
        return None
    return placed_text.rows_unit([(path, f"{path}: {value}") for path, value in rows], area="xfa")


def _datasets(doc: pymupdf.Document, kind: str, value: str) -> bytes | None:
    """The XML holding the "datasets" packet: its own stream when `/XFA` is an array of
    (packet name, stream) pairs, else the one stream of the whole XDP document."""
    if kind == "array":
        for packet, xref in _PACKET.findall(value.encode("latin-1", "replace")):
            if packet.strip() == b"datasets":
                return doc.xref_stream(int(xref))
        return None
    if kind == "xref":
        return doc.xref_stream(int(value.split()[0]))
    raise ValueError("unexpected /XFA entry")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _leaves(xml: bytes) -> list[tuple[str, str]]:
    """(element path, value) of every data element holding text, in document order. defusedxml
    refuses entity expansion and external references (XML bombs)."""
    root = SafeXml.fromstring(xml.strip())
    data = root.find(f".//{{{_XFA_DATA_NS}}}data")
    if data is None and _local(root.tag) == "data":
        data = root
    if data is None:
        return []
    rows: list[tuple[str, str]] = []
    _walk(data, "", rows)
    return rows


def _walk(element: Element, path: str, rows: list[tuple[str, str]]) -> None:
    children = list(element)
    names = [_local(child.tag) for child in children if isinstance(child.tag, str)]
    seen: dict[str, int] = {}
    for child in children:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        local = _local(child.tag)
        index = seen.get(local, 0)
        seen[local] = index + 1
        segment = f"{local}[{index}]" if names.count(local) > 1 else local
        child_path = f"{path}.{segment}" if path else segment
        text = " ".join((child.text or "").split())
        if text:
            rows.append((child_path, text))
        _walk(child, child_path, rows)
