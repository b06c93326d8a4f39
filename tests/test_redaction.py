"""Redacted copies end to end, against the embedded S3 server, a real Dagster instance, real
PyMuPDF, Pillow, openpyxl and Tesseract: every copy is opened and no extracted value may be found
in its text layer, its OCR or its bytes (decompressed PDF streams and xlsx parts included)."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import openpyxl
import pymupdf

from pii_assets.dataset import read_version
from pii_assets.definitions import build_definitions
from pii_assets.documents import open_document
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult
from pii_assets.redaction import redact_document
from pii_assets.redaction.store import copy_key
from pii_pipeline.review_cli import redact
from pii_pipeline.runner import process
from resources.settings import PipelineSettings
from tests.five_values import LINES, VALUES


def text_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    for index, line in enumerate(LINES):
        page.insert_text((72, 90 + 28 * index), line, fontsize=12)
    doc.set_metadata({"author": VALUES["PERSON"], "title": "Record"})
    return doc.tobytes()


def scan_png() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=400)
    for index, line in enumerate(LINES):
        page.insert_text((50, 60 + 36 * index), line, fontsize=16)
    return page.get_pixmap(dpi=200).tobytes("png")


def scanned_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=400)
    page.insert_image(page.rect, stream=scan_png())
    return doc.tobytes()


def workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    sheet.append(["Name", "SSN", "Email", "Phone", "Date of birth", "Team"])
    sheet.append([*VALUES.values(), "Payroll"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DOCUMENTS = {
    "letter.pdf": text_pdf(),
    "scan.pdf": scanned_pdf(),
    "photo.png": scan_png(),
    "staff.xlsx": workbook(),
    "notes.txt": ("Notes\n" + "\n".join(LINES) + "\n").encode(),
}


def ocr_text(data: bytes, kind: str) -> str:
    """Every page rendered and read by Tesseract through the pipeline's own reader."""
    doc = pymupdf.open(stream=data, filetype=kind)
    texts = []
    for page in doc:
        png = page.get_pixmap(dpi=200).tobytes("png")
        with open_document(png, name="ocr") as image:
            texts.extend(unit.text for unit in image.pages())
    return "\n".join(texts)


def text_layer(data: bytes, name: str) -> str:
    if name.endswith(".pdf"):
        return "\n".join(page.get_text() for page in pymupdf.open(stream=data, filetype="pdf"))
    if name.endswith(".xlsx"):
        book = openpyxl.load_workbook(io.BytesIO(data))
        cells = [
            str(cell.value)
            for sheet in book.worksheets
            for row in sheet.iter_rows()
            for cell in row
        ]
        return "\n".join(cells)
    if name.endswith(".txt"):
        return data.decode()
    return ""


def all_bytes(data: bytes, name: str) -> bytes:
    """The file's bytes plus what they compress: PDF streams, the parts of an xlsx zip."""
    parts = [data]
    if name.endswith(".pdf"):
        doc = pymupdf.open(stream=data, filetype="pdf")
        for xref in range(1, doc.xref_length()):
            if doc.xref_is_stream(xref):
                parts.append(doc.xref_stream(xref) or b"")
            parts.append((doc.xref_object(xref) or "").encode())
    if name.endswith(".xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts.extend(archive.read(member) for member in archive.namelist())
    return b"\n".join(parts)


def test_every_redacted_copy_holds_no_extracted_value(store, instance) -> None:
    client, layout = store.client(), store.layout()
    for name, data in DOCUMENTS.items():
        client.put_object(Bucket=store.bucket, Key=f"documents/{name}", Body=data)
    notes = {"customer": {"email": VALUES["EMAIL_ADDRESS"]}}
    client.put_object(Bucket=store.bucket, Key="documents/data.json", Body=json.dumps(notes))
    settings = PipelineSettings(batch_size=10)
    defs = build_definitions(settings, resources={"store": store})
    assert process(defs, instance, batch_size=10, max_runs=5).ok

    keys = [*DOCUMENTS, "data.json"]
    report = redact(defs, instance, keys, batch_size=4)
    assert report["ok"], report
    assert report["by_outcome"] == {"redacted": 5, "unsupported_format": 1}
    documents, _ = read_version(client, layout, report["publish"]["dataset_version"])
    rows = {r["document_key"]: r for r in documents.to_pylist()}
    assert rows["documents/data.json"]["redaction"] == "unsupported_format"
    assert rows["documents/data.json"]["redacted_copy"] is None

    for name in DOCUMENTS:
        key = f"documents/{name}"
        result = DocumentResult.from_json_dict(
            json.loads(
                client.get_object(Bucket=store.bucket, Key=layout.result_key(name))["Body"].read()
            )
        )
        values = {e.text for e in result.entities}
        assert set(VALUES.values()) <= values, (name, values)
        assert rows[key]["redaction"] == "redacted"
        target = copy_key(layout, key)
        assert rows[key]["redacted_copy"] == f"s3://{store.bucket}/{target}"
        copy = client.get_object(Bucket=store.bucket, Key=target)["Body"].read()
        layer = text_layer(copy, name)
        ocr = (
            ocr_text(copy, "pdf" if name.endswith(".pdf") else "png")
            if name[-3:]
            in (
                "pdf",
                "png",
            )
            else ""
        )
        raw = all_bytes(copy, name)
        found = [
            (value, where)
            for value in values
            for where, text in (("text layer", layer), ("OCR", ocr))
            if value in text
        ] + [(value, "bytes") for value in values if value.encode() in raw]
        assert not found, (name, found)
        # What is not PII stays.
        if name == "letter.pdf":
            assert "Date of birth:" in layer
        if name in ("scan.pdf", "photo.png"):
            assert "Date of birth" in ocr
        if name == "staff.xlsx":
            assert "[US_SSN]" in layer and "Payroll" in layer
        if name == "notes.txt":
            assert "SSN: [US_SSN]" in layer


def test_a_pdf_is_redacted_from_boxes_when_no_value_is_kept() -> None:
    data = text_pdf()
    result = extract_document(data, document_key="a.pdf", etag="e", extractor=OfflineExtractor())
    blind = dataclasses.replace(
        result,
        entity_values="none",
        entities=[dataclasses.replace(e, text=None) for e in result.entities],
    )
    copy = redact_document(data, blind)
    layer = text_layer(copy.data, "a.pdf")
    assert not [v for v in VALUES.values() if v in layer]
    assert "Name:" in layer


def test_a_partial_document_gets_no_copy() -> None:
    from pii_assets.models import Status
    from pii_assets.redaction.common import NotRedactable

    data = text_pdf()
    result = extract_document(data, document_key="a.pdf", etag="e", extractor=OfflineExtractor())
    try:
        redact_document(data, dataclasses.replace(result, status=Status.PARTIAL))
    except NotRedactable as exc:
        assert exc.outcome == "not_ok"
    else:
        raise AssertionError("a partial document was redacted")
