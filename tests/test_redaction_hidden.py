"""Redacted copies hold nothing in the places a viewer does not show, found by the pipeline or
not: PDF text outside the CropBox or in a layer switched off, metadata, XMP, annotations and
attachments; xlsx properties, headers/footers, data validations and defined names; HTML
comments, scripts and attribute values. Also: a reviewer's labels are redacted, a truncated
document gets no copy, an over-long key is shortened. Real PyMuPDF, openpyxl and S3 (embedded);
every value is invented."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pymupdf
import pytest
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from pii_assets.bucket import BucketLayout, put_json
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status
from pii_assets.redaction import redact_document
from pii_assets.redaction.common import NotRedactable
from pii_assets.redaction.store import MAX_KEY_BYTES, copy_key, redact_partition
from pii_assets.review.model import DocumentReview, Label, PageReview
from pii_assets.review.store import save_review

SSN = "512-44-7781"
EMAIL = "quill.hartwick@example.test"
NAME = "Orsolya Brennfeld"
PHONE = "(415) 555-0187"
VALUES = (SSN, EMAIL, NAME, PHONE)


def ok_result(name: str, **changes: object) -> DocumentResult:
    """A stored result that found nothing: the copy's hidden places are dropped anyway."""
    return DocumentResult(document_key=name, etag="e", status=Status.OK, **changes)


def pdf_streams(data: bytes) -> list[bytes]:
    """The file, every object and decompressed stream, and every stream once more after
    MuPDF rewrites the content streams (`clean`: text as plain strings)."""
    found = [data]
    for source in (data, pymupdf.open(stream=data, filetype="pdf").tobytes(clean=True)):
        doc = pymupdf.open(stream=source, filetype="pdf")
        for xref in range(1, doc.xref_length()):
            found.append((doc.xref_object(xref) or "").encode())
            if doc.xref_is_stream(xref):
                found.append(doc.xref_stream(xref) or b"")
    return found


def pdf_texts(data: bytes) -> list[str]:
    """Text as shown; with every CropBox reset to its MediaBox; with every layer on;
    metadata, XMP and attachments."""
    doc = pymupdf.open(stream=data, filetype="pdf")
    texts = [page.get_text() for page in doc]
    texts += [str(doc.metadata), doc.get_xml_metadata() or ""]
    texts += [doc.embfile_get(n).decode("latin-1") for n in doc.embfile_names()]
    texts += [str(annot.info) for page in doc for annot in page.annots()]
    for page in doc:
        page.set_cropbox(page.mediabox)
        texts.append(page.get_text())
    catalog = doc.pdf_catalog()
    if doc.xref_get_key(catalog, "OCProperties")[0] != "null":
        doc.xref_set_key(catalog, "OCProperties/D/OFF", "[]")
        doc.xref_set_key(catalog, "OCProperties/D/BaseState", "/ON")
        texts += [page.get_text() for page in pymupdf.open(stream=doc.tobytes())]
    return texts


def pdf_leaks(data: bytes) -> set[str]:
    texts = pdf_texts(data)
    streams = pdf_streams(data)
    return {
        v for v in VALUES if any(v in t for t in texts) or any(v.encode() in s for s in streams)
    }


def hidden_pdf() -> bytes:
    """One page showing only public text; the values outside the CropBox (inside and beyond
    the MediaBox), in a layer switched off, in metadata, XMP, an annotation and an attachment."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 72), "Invoice summary for services rendered.", fontsize=11)
    page.insert_text((72, 700), f"Beneficiary SSN: {SSN}", fontsize=11)
    page.insert_text((72, 1500), f"Far away: {EMAIL}", fontsize=11)
    layer = doc.add_ocg("Private", on=False)
    page.insert_text((72, 120), f"Layer: {NAME}", fontsize=11, oc=layer)
    page.add_text_annot((300, 100), f"Call {PHONE}")
    page.set_cropbox(pymupdf.Rect(0, 0, 612, 300))
    doc.set_metadata({"author": NAME, "subject": f"SSN {SSN}", "keywords": EMAIL})
    doc.set_xml_metadata(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>{EMAIL}</dc:description>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    doc.embfile_add("contacts.txt", f"{NAME} {SSN}".encode())
    return doc.tobytes()


def test_a_pdf_copy_keeps_nothing_the_page_does_not_show() -> None:
    data = hidden_pdf()
    assert pdf_leaks(data) == set(VALUES)  # the check finds every value in the original
    copy = redact_document(data, ok_result("hidden.pdf"))
    assert pdf_leaks(copy.data) == set()
    shown = pymupdf.open(stream=copy.data, filetype="pdf")[0]
    assert "Invoice summary" in shown.get_text()  # what the page shows stays
    assert shown.rect == pymupdf.Rect(0, 0, 612, 300)


def test_a_pdf_with_an_offset_cropbox_keeps_what_it_shows() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 80), f"Top margin {SSN}", fontsize=11)
    page.insert_text((120, 420), "Shown in the middle.", fontsize=11)
    page.insert_text((120, 760), f"Bottom margin {EMAIL}", fontsize=11)
    page.set_cropbox(pymupdf.Rect(100, 300, 500, 600))
    copy = redact_document(doc.tobytes(), ok_result("offset.pdf"))
    assert pdf_leaks(copy.data) == set()
    assert "Shown in the middle." in pymupdf.open(stream=copy.data)[0].get_text()


def test_a_layer_switched_on_stays() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    shown = doc.add_ocg("Shown", on=True)
    page.insert_text((72, 72), "Visible layer text", fontsize=11, oc=shown)
    copy = redact_document(doc.tobytes(), ok_result("layers.pdf"))
    assert "Visible layer text" in pymupdf.open(stream=copy.data)[0].get_text()


def hidden_workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    sheet.append(["Team", "Room"])
    sheet.append(["Payroll", "4B"])
    sheet.oddHeader.center.text = f"Prepared for {NAME}"
    sheet.oddFooter.left.text = f"Contact {EMAIL}"
    sheet.firstFooter.right.text = f"SSN {SSN}"
    book.defined_names["ssn_const"] = DefinedName("ssn_const", attr_text=f'"{SSN}"')
    sheet.defined_names["phone"] = DefinedName("phone", attr_text=f'"{PHONE}"')
    validation = DataValidation(type="list", formula1=f'"{EMAIL},none"')
    sheet.add_data_validation(validation)
    validation.add("C2")
    book.properties.creator = NAME
    book.properties.keywords = SSN
    book.custom_doc_props.append(StringProperty(name="owner", value=PHONE))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_leaks(data: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = [archive.read(name) for name in archive.namelist()]
    return {v for v in VALUES if any(v.encode() in p for p in parts)}


def test_an_xlsx_copy_keeps_nothing_outside_its_cells() -> None:
    data = hidden_workbook()
    assert zip_leaks(data) == set(VALUES)
    copy = redact_document(data, ok_result("book.xlsx"))
    assert zip_leaks(copy.data) == set()
    book = openpyxl.load_workbook(io.BytesIO(copy.data))
    assert book["Staff"]["A2"].value == "Payroll"


def test_an_xlsx_cell_comment_entity_is_still_redacted_with_hidden_places_dropped() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    sheet.append(["Name", "SSN"])
    sheet.append([NAME, SSN])
    sheet["A2"].comment = Comment(f"Call {PHONE}", "hr")
    sheet.oddHeader.center.text = EMAIL
    out = io.BytesIO()
    book.save(out)
    result = extract_document(
        out.getvalue(), document_key="s.xlsx", etag="e", extractor=OfflineExtractor()
    )
    assert result.status == Status.OK
    found = {e.text for e in result.entities}
    assert {SSN, PHONE} <= found
    copy = redact_document(out.getvalue(), result)
    assert zip_leaks(copy.data) == {NAME} - found


PAGE = f"""<!DOCTYPE html>
<html><head><meta name="author" content="{NAME}"><title>Account</title>
<script>var ssn = "{SSN}";</script></head><body><p>Welcome back</p>
<!-- debug: customer SSN {SSN} -->
<div data-customer-email="{EMAIL}" class="box" title="{NAME}">Account</div>
<input type="hidden" name="phone" value="{PHONE}">
<a href="mailto:{EMAIL}">write to us</a> <a href="/help">help</a>
<img src="logo.png" alt="{NAME}"/>
</body></html>
"""


def test_an_html_copy_keeps_no_comment_script_or_attribute_value() -> None:
    copy = redact_document(PAGE.encode(), ok_result("page.html")).data.decode()
    assert not [v for v in VALUES if v in copy]
    for kept in ("Welcome back", 'class="box"', 'href="/help"', 'src="logo.png"', "Account"):
        assert kept in copy


def test_an_html_copy_from_the_pipelines_entities_is_clean() -> None:
    result = extract_document(
        PAGE.encode(), document_key="p.html", etag="e", extractor=OfflineExtractor()
    )
    copy = redact_document(PAGE.encode(), result).data.decode()
    assert not [v for v in VALUES if v in copy]


def test_a_truncated_document_gets_no_copy() -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Cover page", fontsize=11)
    result = ok_result("long.pdf", truncated=True, pages=1)
    with pytest.raises(NotRedactable) as raised:
        redact_document(doc.tobytes(), result)
    assert raised.value.outcome == "not_ok"


def test_an_overlong_copy_key_is_shortened_deterministically() -> None:
    layout = BucketLayout(bucket="b")
    # A 1,024-byte input key (the S3 maximum) whose copy key would be 1,040 bytes.
    stem = "documents/" + "é/" * 200 + "x" * 409
    first, second = stem + "a.pdf", stem + "b.pdf"
    assert len(first.encode()) == MAX_KEY_BYTES
    keys = [copy_key(layout, key) for key in (first, second, first)]
    assert all(len(key.encode()) <= MAX_KEY_BYTES for key in keys)
    assert keys[0] == keys[2] != keys[1]
    assert keys[0].startswith("labeled-datasets/redacted/é/") and keys[0].endswith(".pdf")
    keys[0].encode().decode()  # cut at a character boundary
    short = "documents/invoice.pdf"
    assert copy_key(layout, short) == "labeled-datasets/redacted/invoice.pdf"
    with pytest.raises(NotRedactable) as raised:
        copy_key(BucketLayout(bucket="b", output_prefix="o" * 1020 + "/"), first)
    assert raised.value.outcome == "key_too_long"


def labelled_pdf() -> tuple[bytes, dict[str, tuple[float, float, float, float]]]:
    """A page with two values; their normalised boxes."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    boxes = {}
    for y, value in ((100, NAME), (200, PHONE)):
        page.insert_text((72, y), f"Value {value}", fontsize=12)
        rect = page.search_for(value)[0]
        boxes[value] = (rect.x0 / 612, rect.y0 / 792, rect.x1 / 612, rect.y1 / 792)
    return doc.tobytes(), boxes


def test_a_reviewers_labels_are_redacted(store) -> None:
    """End to end on S3: a stored result that missed a value and placed another badly, and a
    review that adds the first and moves the second: the copy holds neither."""
    client, layout = store.client(), store.layout()
    data, boxes = labelled_pdf()
    key = "documents/reviewed.pdf"
    etag = client.put_object(Bucket=store.bucket, Key=key, Body=data)["ETag"].strip('"')
    partition_key = layout.partition_key(key)
    result = extract_document(data, document_key=key, etag=etag, extractor=OfflineExtractor())
    assert result.status == Status.OK
    # The machine found neither value where it is (a wrong box for the phone number).
    result.entities = [e for e in result.entities if e.text not in (NAME, PHONE)]
    moved = extract_document(data, document_key=key, etag=etag, extractor=OfflineExtractor())
    phone = next(e for e in moved.entities if e.text == PHONE)
    from dataclasses import replace

    result.entities.append(replace(phone, text="", y0=0.9, y1=0.92))
    result.entity_values = "none"
    put_json(client, layout, layout.result_key(partition_key), result.to_json_dict())
    review = DocumentReview(
        key,
        etag,
        partition_key,
        {
            "1": PageReview(
                "1",
                labels=(
                    Label("a1", "PERSON", box=boxes[NAME]),
                    Label("a2", "PHONE_NUMBER", box=boxes[PHONE]),
                ),
            )
        },
    )
    save_review(client, layout, review)

    record = redact_partition(client, layout, partition_key)
    assert record.outcome == "redacted", record
    assert record.reviewed_pages == 1
    copy = client.get_object(Bucket=store.bucket, Key=record.copy_key)["Body"].read()
    assert pdf_leaks(copy) & {NAME, PHONE} == set()
    assert "Value" in pymupdf.open(stream=copy)[0].get_text()

    # Without the review the copy would have kept both.
    unreviewed = redact_document(data, result)
    assert pdf_leaks(unreviewed.data) & {NAME, PHONE} == {NAME, PHONE}


def test_a_reviewers_span_is_redacted_in_text() -> None:
    text = f"Notes\nAsk {NAME} about it.\n"
    start = text.index(NAME)
    review = DocumentReview(
        "n.txt",
        "e",
        "n.txt",
        {"text": PageReview("text", labels=(Label("s", "PERSON", span=(start, start + 17)),))},
    )
    copy = redact_document(text.encode(), ok_result("n.txt"), review=review).data.decode()
    assert copy == "Notes\nAsk [PERSON] about it.\n"


def test_a_reviewers_label_a_spreadsheet_cannot_place_gives_no_copy() -> None:
    data = hidden_workbook()
    review = DocumentReview(
        "b.xlsx",
        "e",
        "b.xlsx",
        {"1": PageReview("1", labels=(Label("x", "PERSON", box=(0.1,) * 2 + (0.2,) * 2),))},
    )
    with pytest.raises(NotRedactable) as raised:
        redact_document(data, ok_result("b.xlsx"), review=review)
    assert raised.value.outcome == "unlocated_entities"


def test_a_turned_page_with_a_cropbox_keeps_what_it_shows() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 72), "Top left words here", fontsize=11)
    page.insert_text((400, 500), "Bottom right words", fontsize=11)
    page.insert_text((400, 700), f"Outside {SSN}", fontsize=11)
    page.set_cropbox(pymupdf.Rect(50, 50, 600, 600))
    page.set_rotation(90)
    copy = redact_document(doc.tobytes(), ok_result("turned.pdf"))
    assert pdf_leaks(copy.data) == set()
    text = pymupdf.open(stream=copy.data)[0].get_text()
    assert "Top left words here" in text and "Bottom right words" in text
