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
import pytest

from pii_assets.dataset import read_version
from pii_assets.definitions import build_definitions
from pii_assets.documents import open_document
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status
from pii_assets.redaction import redact_document
from pii_assets.redaction.common import NotRedactable
from pii_assets.redaction.store import copy_key
from pii_assets.value_policy import ValuePolicy
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


def leaks(copy: bytes, name: str, values: set[str]) -> list[tuple[str, str]]:
    """Each (value, where) a value can still be found in a copy: its text layer, its OCR
    (documents with pages or pixels) or its bytes (decompressed streams and parts included)."""
    layer = text_layer(copy, name)
    kind = name.rsplit(".", 1)[-1]
    ocr = ocr_text(copy, kind) if kind in ("pdf", "png") else ""
    raw = all_bytes(copy, name)
    found = [
        (value, where)
        for value in values
        for where, text in (("text layer", layer), ("OCR", ocr))
        if value in text
    ]
    return found + [(value, "bytes") for value in values if value.encode() in raw]


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
        assert not leaks(copy, name, values), (name, leaks(copy, name, values))
        # What is not PII stays.
        if name == "letter.pdf":
            assert "Date of birth:" in text_layer(copy, name)
        if name in ("scan.pdf", "photo.png"):
            assert "Date of birth" in ocr_text(copy, name[-3:])
        if name == "staff.xlsx":
            layer = text_layer(copy, name)
            assert "[US_SSN]" in layer and "Payroll" in layer
        if name == "notes.txt":
            assert "SSN: [US_SSN]" in text_layer(copy, name)


@pytest.mark.parametrize("policy", ["none", "masked"])
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_copy_is_clean_when_no_raw_value_is_kept(name: str, policy: str) -> None:
    """Under a value policy that keeps no raw value, a copy is made from the entities' places
    alone (boxes, cells, character offsets) and is just as clean."""
    data = DOCUMENTS[name]
    result = extract_document(data, document_key=name, etag="e", extractor=OfflineExtractor())
    values = {e.text for e in result.entities if e.text}
    assert set(VALUES.values()) <= values, (name, values)
    kept = ValuePolicy(policy).apply(result)
    assert not {e.text for e in kept.entities} & values
    if policy == "none":  # the check itself finds the values in the original
        assert {value for value, _ in leaks(data, name, values)} == values
    copy = redact_document(data, kept)
    assert not leaks(copy.data, name, values), (name, policy, leaks(copy.data, name, values))
    if name == "letter.pdf":
        assert "Name:" in text_layer(copy.data, name)


def test_a_partial_document_gets_no_copy() -> None:
    data = text_pdf()
    result = extract_document(data, document_key="a.pdf", etag="e", extractor=OfflineExtractor())
    with pytest.raises(NotRedactable) as raised:
        redact_document(data, dataclasses.replace(result, status=Status.PARTIAL))
    assert raised.value.outcome == "not_ok"
