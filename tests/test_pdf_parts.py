"""Every part of a PDF is read: annotations, form fields, XFA data and attachments (real PyMuPDF).

The PDFs are built here with invented values, except the real-world files of PDF libraries in
two PDF libraries' own test files (read from their fetched repositories: tests/public_corpus.py),
whose parts are counted against what PyMuPDF lists.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter

import pymupdf
import pytest

from pii_assets.documents import DocumentLimits, PageContent, open_document
from pii_assets.documents.pdf_forms import COMB
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Entity, ErrorClass, FormField
from pii_pipeline.corpus import single_page_pdf
from tests.public_corpus import public_file

# Real-world files from two PDF libraries' own tests, read from their fetched repositories.
PUBLIC = {
    "sample_form.pdf": ("Hopding/pdf-lib", "assets/pdfs/sample_form.pdf"),
    "with_xfa_fields.pdf": ("Hopding/pdf-lib", "assets/pdfs/with_xfa_fields.pdf"),
    "file_with_attachment.pdf": (
        "Hopding/pdf-lib",
        "assets/pdfs/examples/file_with_attachment.pdf",
        "87d5418bac9c374070d4125dd459c9fc4ab2612f",  # removed from the tree since
    ),
    "commented.pdf": ("py-pdf/pypdf", "resources/commented.pdf"),
    "attachment.pdf": ("py-pdf/pypdf", "resources/attachment.pdf"),
    "FormTestFromOo.pdf": ("py-pdf/pypdf", "resources/FormTestFromOo.pdf"),
}


def public(name: str) -> bytes:
    return public_file(*PUBLIC[name])


NAME, SSN, EMAIL, PHONE = (
    "Maria Gonzalez",
    "536-22-1234",
    "maria.gonzalez@example.com",
    "(415) 555-0132",
)
WIDTH, HEIGHT = 595, 842  # PyMuPDF's default page (A4)


def extract(data: bytes, **limits: object) -> DocumentResult:
    return extract_document(
        data,
        document_key="doc.pdf",
        etag="",
        extractor=OfflineExtractor(),
        limits=DocumentLimits(**limits),
    )


def units(data: bytes) -> list[PageContent]:
    with open_document(data, name="doc.pdf") as doc:
        return list(doc.pages())


def entity(result: DocumentResult, kind: str) -> Entity:
    (found,) = [e for e in result.entities if e.entity_type == kind]
    return found


def inside(found: Entity, rect: pymupdf.Rect, slack: float = 0.002) -> bool:
    """Whether the entity's box lies in `rect` (page points) on an upright A4 page."""
    x0, y0, x1, y1 = rect.x0 / WIDTH, rect.y0 / HEIGHT, rect.x1 / WIDTH, rect.y1 / HEIGHT
    return (
        x0 - slack <= found.x0 <= found.x1 <= x1 + slack
        and y0 - slack <= found.y0 <= found.y1 <= y1 + slack
    )


def new_page(doc: pymupdf.Document, text: str = "Claim file") -> pymupdf.Page:
    page = doc.new_page()
    page.insert_text((72, 72), text)
    return page


# --- annotations --------------------------------------------------------------------------------

STICKY = pymupdf.Rect(400, 100, 420, 120)  # PyMuPDF's sticky-note icon at (400, 100)
POPUP = pymupdf.Rect(400, 130, 560, 200)
FREE = pymupdf.Rect(72, 300, 320, 330)


def annotated_pdf() -> bytes:
    doc = pymupdf.open()
    page = new_page(doc)
    note = page.add_text_annot(STICKY.tl, f"Call back on {PHONE}")
    note.set_popup(POPUP)
    # A pop-up with its own contents, different from its note's.
    doc.xref_set_key(note.popup_xref, "Contents", pymupdf.get_pdf_str(f"SSN {SSN}"))
    page.add_freetext_annot(FREE, f"Email: {EMAIL}")
    highlight = page.add_highlight_annot(pymupdf.Rect(72, 60, 140, 76))
    highlight.set_info(content="Born 03/14/1985")
    highlight.update()
    return doc.tobytes()


def test_sticky_note_pop_up_and_free_text_contents_are_read() -> None:
    data = annotated_pdf()
    page, annotations = units(data)
    assert (annotations.area, annotations.number, annotations.paged) == ("annotation", 1, True)
    assert not annotations.renderable
    assert annotations.text.splitlines() == [
        f"Call back on {PHONE}",
        f"SSN {SSN}",
        f"Email: {EMAIL}",
        "Born 03/14/1985",
    ]
    result = extract(data)
    assert result.status == "ok"
    assert result.coverage.parts == {"pages": 1, "annotations": 3}
    phone, ssn, email = (entity(result, k) for k in ("PHONE_NUMBER", "US_SSN", "EMAIL_ADDRESS"))
    assert (phone.text, phone.page, phone.area) == (PHONE, 1, "annotation")
    assert inside(phone, STICKY)  # on the note's icon, where a reviewer opens it
    assert (ssn.text, ssn.area) == (SSN, "annotation") and inside(ssn, POPUP)
    # The free text is also drawn on the page (its appearance): one entity, in its box (the
    # glyphs drawn in it reach a little above it).
    assert email.text == EMAIL and inside(email, FREE, slack=0.01)
    assert entity(result, "DATE_OF_BIRTH").area == "annotation"


def test_a_page_without_annotations_or_fields_has_one_unit() -> None:
    assert [u.area for u in units(single_page_pdf(["Hello"]))] == ["page"]


# --- form fields --------------------------------------------------------------------------------

FIELD = pymupdf.Rect(250, 100, 450, 120)


def form_pdf(*, comb: bool = False, hidden: bool = False, appearance: bool = True) -> bytes:
    doc = pymupdf.open()
    page = new_page(doc, "Application")
    widget = pymupdf.Widget()
    widget.field_name = "applicant.ssn"
    widget.field_label = "Your social security number"
    widget.field_type = pymupdf.PDF_WIDGET_TYPE_TEXT
    widget.rect = FIELD
    widget.field_value = SSN.replace("-", "") if comb else SSN
    if comb:
        widget.field_flags |= COMB
        widget.text_maxlen = 9
    page.add_widget(widget)
    button = pymupdf.Widget()
    button.field_name = "print"
    button.field_type = pymupdf.PDF_WIDGET_TYPE_BUTTON
    button.rect = pymupdf.Rect(72, 700, 140, 720)
    page.add_widget(button)
    xref = next(page.widgets()).xref
    if hidden:  # the annotation's flags (/F), not the field's, hide a widget
        doc.xref_set_key(xref, "F", str(pymupdf.PDF_ANNOT_IS_HIDDEN))
    if not appearance:
        doc.xref_set_key(xref, "AP", "null")
        doc.xref_set_key(doc.pdf_catalog(), "AcroForm/NeedAppearances", "true")
    return doc.tobytes(garbage=3)


def test_form_field_unit_holds_the_fields_and_label_value_rows() -> None:
    page, fields = units(form_pdf())
    assert (fields.area, fields.number, fields.paged) == ("form_field", 1, True)
    box = (FIELD.x0 / WIDTH, FIELD.y0 / HEIGHT, FIELD.x1 / WIDTH, FIELD.y1 / HEIGHT)
    [field] = fields.fields  # the push button holds no value and is not a field here
    assert field == FormField(
        name="applicant.ssn",
        label="Your social security number",
        value=SSN,
        rect=pytest.approx(box),
        kind="text",
    )
    assert fields.text == f"Your social security number: {SSN}"
    (value,) = [w for w in fields.words if w.text == SSN]
    assert box[0] <= value.x0 < value.x1 <= box[2] and box[1] <= value.y0 < value.y1 <= box[3]
    assert {w.ref for w in fields.words} == {"applicant.ssn"}


def test_field_without_an_appearance_stream_is_read() -> None:
    data = form_pdf(appearance=False)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        widget = next(doc[0].widgets())
        assert doc.xref_get_key(widget.xref, "AP") == ("null", "null")
    result = extract(data)
    assert result.status == "ok"
    assert result.coverage.parts == {"pages": 1, "form_fields": 1}
    found = entity(result, "US_SSN")
    assert found.text == SSN and found.page == 1 and inside(found, FIELD)


def test_hidden_field_value_is_found_in_its_field() -> None:
    data = form_pdf(hidden=True)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        assert SSN not in doc[0].get_text()  # nothing on the page shows it
    result = extract(data)
    found = entity(result, "US_SSN")
    assert (found.text, found.page, found.area) == (SSN, 1, "form_field")
    assert inside(found, FIELD)


def test_comb_field_is_flagged_with_its_cells() -> None:
    data = form_pdf(comb=True)
    _, fields = units(data)
    [field] = fields.fields
    assert (field.comb, field.max_len, field.value) == (True, 9, "536221234")
    (value,) = [w for w in fields.words if w.text == "536221234"]
    # One character per cell: the nine digits fill the field's width.
    assert value.x0 == pytest.approx(FIELD.x0 / WIDTH) and value.x1 == pytest.approx(
        FIELD.x1 / WIDTH
    )


# --- XFA ----------------------------------------------------------------------------------------

DATASETS = f"""<xfa:datasets xmlns:xfa="http://www.xfa.org/schema/xfa-data/1.0/">
<xfa:data><form1><Applicant><Name>{NAME}</Name><SSN>{SSN}</SSN><Email>{EMAIL}</Email>
<Phone>{PHONE}</Phone><Phone/></Applicant><Notes/></form1></xfa:data></xfa:datasets>"""
TEMPLATE = """<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/">
<subform name="form1" layout="tb"><subform name="Applicant"><field name="Name"/>
<field name="SSN"/><field name="Email"/><field name="Phone"/></subform></subform></template>"""


def xfa_pdf(datasets: str = DATASETS) -> bytes:
    """A dynamic XFA form: its only page says "Please wait...", its data is in the packet."""
    doc = pymupdf.open()
    new_page(doc, "Please wait... If this message is not eventually replaced, your viewer")
    packets = []
    for name, xml in (("template", TEMPLATE), ("datasets", datasets)):
        xref = doc.get_new_xref()
        doc.update_object(xref, "<<>>")
        doc.update_stream(xref, xml.encode())
        packets.append(f"({name}) {xref} 0 R")
    form = doc.get_new_xref()
    doc.update_object(form, f"<</Fields [] /XFA [{' '.join(packets)}]>>")
    doc.xref_set_key(doc.pdf_catalog(), "AcroForm", f"{form} 0 R")
    doc.xref_set_key(doc.pdf_catalog(), "NeedsRendering", "true")
    return doc.tobytes()


def test_dynamic_xfa_form_data_is_read() -> None:
    data = xfa_pdf()
    page, xfa = units(data)
    assert (xfa.area, xfa.paged) == ("xfa", False)
    assert xfa.text.splitlines() == [
        f"form1.Applicant.Name: {NAME}",
        f"form1.Applicant.SSN: {SSN}",
        f"form1.Applicant.Email: {EMAIL}",
        f"form1.Applicant.Phone[0]: {PHONE}",
    ]
    assert {w.ref for w in xfa.words if w.text == SSN} == {"form1.Applicant.SSN"}
    result = extract(data)
    assert result.status == "ok"
    assert result.coverage.parts == {"pages": 1, "xfa_forms": 1}
    assert {(e.entity_type, e.text) for e in result.entities} == {
        ("PERSON", NAME),
        ("US_SSN", SSN),
        ("EMAIL_ADDRESS", EMAIL),
        ("PHONE_NUMBER", PHONE),
    }
    assert {(e.page, e.area, e.x0 is not None) for e in result.entities} == {(None, "xfa", True)}
    paths = {e.entity_type: e.data_path for e in result.entities}
    assert paths["US_SSN"] == "form1.Applicant.SSN"
    assert paths["EMAIL_ADDRESS"] == "form1.Applicant.Email"


def test_damaged_xfa_data_is_an_unread_part() -> None:
    result = extract(xfa_pdf(DATASETS.replace("</form1>", "")))
    assert result.status == "partial"
    [unread] = result.coverage.unread
    assert unread.part == "xfa form" and unread.error_class == ErrorClass.CORRUPT
    assert unread.message == "doc.pdf: the XFA form's data cannot be read"


def test_xfa_data_with_entities_is_refused() -> None:
    bomb = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>' + DATASETS.replace(NAME, "&a;")
    result = extract(xfa_pdf(bomb))
    assert [u.part for u in result.coverage.unread] == ["xfa form"]


# --- attachments --------------------------------------------------------------------------------

INNER = [f"Customer: {NAME}", f"SSN: {SSN}"]


def with_attachments(files: dict[str, bytes], *, annotation: tuple[str, bytes] | None = None):
    doc = pymupdf.open()
    page = new_page(doc, "Cover letter")
    for filename, content in files.items():
        doc.embfile_add(filename, content, filename=filename)
    if annotation:
        filename, content = annotation
        page.add_file_annot(pymupdf.Point(500, 60), content, filename)
    return doc.tobytes()


def test_embedded_pdf_is_read_as_a_part() -> None:
    result = extract(with_attachments({"statement.pdf": single_page_pdf(INNER)}))
    assert result.status == "ok"
    assert result.coverage.parts == {"pages": 2, "attachments": 1}
    found = entity(result, "US_SSN")
    assert (found.text, found.part, found.page, found.area) == (
        SSN,
        "attachment:statement.pdf",
        1,
        "page",
    )


def test_file_attachment_annotation_is_read_as_a_part() -> None:
    data = with_attachments({}, annotation=("notes.pdf", single_page_pdf(INNER)))
    assert [(u.part, u.area) for u in units(data)] == [
        (None, "page"),
        (None, "annotation"),  # its contents: the file's name
        ("attachment:notes.pdf", "page"),
        (None, "metadata"),  # the names of the files attached, after them
    ]
    result = extract(data)
    assert result.coverage.parts == {"pages": 2, "annotations": 1, "attachments": 1}
    assert entity(result, "US_SSN").part == "attachment:notes.pdf"


def test_damaged_attachment_makes_the_document_partial() -> None:
    good = single_page_pdf(INNER)
    data = with_attachments({"broken.pdf": good[:300], "statement.pdf": good})
    result = extract(data)
    assert result.status == "partial"
    [unread] = result.coverage.unread
    assert (unread.part, unread.error_class) == ("attachment:broken.pdf", ErrorClass.CORRUPT)
    assert unread.message == ("doc.pdf: attachment:broken.pdf: PDF is damaged and cannot be opened")
    assert entity(result, "US_SSN").part == "attachment:statement.pdf"
    assert result.coverage.parts["attachments"] == 1


def test_attachment_inside_an_attachment_names_both() -> None:
    inner = with_attachments({"inner.pdf": single_page_pdf(INNER)})
    result = extract(with_attachments({"outer.pdf": inner}))
    assert entity(result, "US_SSN").part == "attachment:outer.pdf > attachment:inner.pdf"
    assert result.coverage.parts["attachments"] == 2


def test_units_come_page_by_page_then_xfa_then_attachments() -> None:
    doc = pymupdf.open(stream=xfa_pdf(), filetype="pdf")
    page = new_page(doc, "Second page")
    page.add_text_annot((300, 300), "A note")
    doc.embfile_add("a.pdf", single_page_pdf(INNER))
    order = [(u.part, u.area, u.number) for u in units(doc.tobytes())]
    assert order == [
        (None, "page", 1),
        (None, "page", 2),
        (None, "annotation", 2),
        (None, "xfa", 1),
        ("attachment:a.pdf", "page", 1),
        (None, "metadata", 0),
    ]


# --- real-world files ---------------------------------------------------------------------------


def listed(data: bytes) -> Counter[str]:
    """What PyMuPDF lists in the PDF and in the PDFs attached to it: the parts our reader must
    have read, each one."""
    counts: Counter[str] = Counter()
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        attached = [doc.embfile_get(i) for i in range(doc.embfile_count())]
        for page in doc:
            counts["form_fields"] += sum(
                w.field_type != pymupdf.PDF_WIDGET_TYPE_BUTTON for w in page.widgets()
            )
            counts["annotations"] += len(list(page.annots()))
            attached += [
                a.get_file() for a in page.annots(types=[pymupdf.PDF_ANNOT_FILE_ATTACHMENT])
            ]
        counts["xfa_forms"] = int(doc.xref_get_key(doc.pdf_catalog(), "AcroForm/XFA")[0] != "null")
        # Metadata beyond what software writes (producer, dates): these files' have a title.
        people = ("title", "author", "subject", "keywords")
        counts["metadata"] = int(any(doc.metadata.get(key) for key in people))
    counts["attachments"] = len(attached)
    for file in attached:
        counts += listed(file)
    return +counts  # without the kinds counted 0


@pytest.mark.public_corpus
@pytest.mark.parametrize("name", sorted(PUBLIC))
@pytest.mark.public_corpus
def test_real_world_parts_are_all_read(name: str) -> None:
    data = public(name)
    result = extract(data)
    assert result.status == "ok", result.error_message
    parts = {k: v for k, v in result.coverage.parts.items() if k != "pages"}
    assert parts == listed(data)
    assert parts  # every fixture holds parts of some kind


@pytest.mark.public_corpus
def test_real_world_form_labels_and_values() -> None:
    data = public("sample_form.pdf")
    (fields,) = [u for u in units(data) if u.area == "form_field"]
    by_name = {f.name: f for f in fields.fields}
    assert by_name["SSN"].label == "SOCIAL SECURITY NO. (MANDATORY"  # the field's /TU
    assert (by_name["SSN"].value, by_name["SSN"].kind) == ("111111111", "text")
    assert by_name["Sex"].kind == "radio"
    assert "Print" not in by_name  # a push button
    result = extract(data)
    assert ("US_SSN", "111111111", "form_field") in {
        (e.entity_type, e.text, e.area) for e in result.entities
    }


@pytest.mark.public_corpus
def test_real_world_field_kinds() -> None:
    (fields,) = [u for u in units(public("FormTestFromOo.pdf")) if u.area == "form_field"]
    assert {f.kind for f in fields.fields} == {"text", "checkbox", "radio", "combobox", "listbox"}
    assert fields.words == []  # every field is empty


@pytest.mark.public_corpus
def test_real_world_notes_and_ligatures() -> None:
    page, notes = units(public("commented.pdf"))
    words = {w.text for w in page.words}
    assert {"misfits.", "differently."} <= words  # typeset with the ﬁ and ﬀ ligatures
    assert not any("\ufb01" in w or "\ufb00" in w for w in words)
    assert notes.text.splitlines()[0] == "Note in second paragraph"
    assert "Umlaut: äöüß" in notes.text


@pytest.mark.public_corpus
def test_real_world_xfa_rows_are_the_data_leaves() -> None:
    data = public("with_xfa_fields.pdf")
    (xfa,) = [u for u in units(data) if u.area == "xfa"]
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        packet = ElementTree.fromstring(doc.xref_stream(44).strip())
    leaves = [e for e in packet.iter() if not list(e) and (e.text or "").strip()]
    assert len(xfa.text.splitlines()) == len(leaves) == 24
    assert xfa.text.splitlines()[0] == (
        "topmostSubform.ReadOrderControl[1].PresidentialElection.c1_02: 0"
    )


@pytest.mark.public_corpus
def test_real_world_attachments_are_read() -> None:
    embedded = extract(public("file_with_attachment.pdf"))
    assert {e.part for e in embedded.entities} <= {"attachment:normal.pdf"}
    # The attached two-page form, from its text layer; its first page's logo (a picture that can
    # hold text, `documents.pictures`) is OCR'd and merged in too.
    coverage = embedded.coverage
    assert (coverage.pages_text, coverage.pages_text_and_ocr) == (1, 1)
    annotated = units(public("attachment.pdf"))
    assert [u.part for u in annotated] == [None, None, "attachment:jpeg.pdf", None]
    assert "A PDF with a JPEG image." in annotated[-2].text  # an image-only PDF: OCR'd
    assert annotated[-1].text == "attached file: jpeg"  # the names of the files attached


def test_fields_on_a_rotated_page_are_placed_as_displayed() -> None:
    doc = pymupdf.open(stream=form_pdf(), filetype="pdf")
    doc[0].set_rotation(90)
    shown = FIELD * doc[0].rotation_matrix  # where the field is on the page as displayed
    width, height = doc[0].rect.width, doc[0].rect.height
    _, fields = units(doc.tobytes())
    [field] = fields.fields
    expected = (shown.x0 / width, shown.y0 / height, shown.x1 / width, shown.y1 / height)
    assert field.rect == pytest.approx(expected)
    (value,) = [w for w in fields.words if w.text == SSN]
    assert expected[0] <= value.x0 < value.x1 <= expected[2]
    assert expected[1] <= value.y0 < value.y1 <= expected[3]
