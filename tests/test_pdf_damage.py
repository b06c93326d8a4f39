"""A damaged PDF (truncated, a content stream's data garbled) is never `ok`: the pages MuPDF read
only in part are named as unread, and the intact pages are still read (real PyMuPDF).

The PDFs are built here with PyMuPDF and invented values, then damaged byte by byte.
"""

from __future__ import annotations

import io
import re
import zipfile

import pymupdf
import pytest

from pii_assets.documents import DocumentLimits, open_document
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status

PAGES = 3
VALUES = 10


def value(page: int, index: int) -> str:
    return f"Ref{page}x{index}"


def build() -> bytes:
    """Three pages of values, each drawn by its own call (so each page has ten content streams,
    as PyMuPDF appends one per call), and a note annotation on the last page."""
    doc = pymupdf.open()
    for number in range(1, PAGES + 1):
        page = doc.new_page()
        for index in range(VALUES):
            page.insert_text((72, 72 + 20 * index), value(number, index))
    doc[-1].add_text_annot((100, 500), "A note")
    data = doc.tobytes(deflate=True)
    doc.close()
    return data


def object_spans(data: bytes) -> dict[int, tuple[int, int]]:
    """Object number -> (start, end) byte offsets of `N 0 obj ... endobj` in the file."""
    spans = {}
    for match in re.finditer(rb"(\d+) 0 obj", data):
        end = data.index(b"endobj", match.end()) + len(b"endobj")
        spans[int(match.group(1))] = (match.start(), end)
    return spans


def page_objects(data: bytes) -> dict[int, set[int]]:
    """Page number -> the objects that are only its own: the page, its content streams and its
    annotations."""
    doc = pymupdf.open(stream=data, filetype="pdf")
    owned = {}
    for index, page in enumerate(doc):
        owned[index + 1] = {page.xref, *page.get_contents(), *(a.xref for a in page.annots())}
    doc.close()
    return owned


def read(data: bytes) -> tuple[dict[int, set[str]], list[tuple[str, str, str]]]:
    """Words per page number and the unread parts (part, error class, message)."""
    words: dict[int, set[str]] = {}
    with open_document(data, name="doc.pdf") as doc:
        for unit in doc.pages():
            words.setdefault(unit.number, set()).update(word.text for word in unit.words)
        unread = [(part.part, part.error_class, part.message) for part in doc.coverage.unread]
    return words, unread


def extract(data: bytes, key: str = "doc.pdf") -> DocumentResult:
    return extract_document(
        data,
        document_key=key,
        etag="",
        extractor=OfflineExtractor(),
        limits=DocumentLimits(check_text_layer=False),
    )


def cut_points(data: bytes) -> list[int]:
    """Cuts inside page 2's content (the tester's case), just before the last page's annotation,
    just before the cross-reference table and at a third and two thirds of the file."""
    spans = object_spans(data)
    owned = page_objects(data)
    contents = sorted(spans[xref] for xref in owned[2] if xref in spans)
    middle = contents[len(contents) // 2]
    annotation = max(owned[PAGES], key=lambda xref: spans[xref][0])
    return [
        (middle[0] + middle[1]) // 2,
        spans[annotation][0],
        data.rindex(b"\nxref") + 1,
        len(data) // 3,
        2 * len(data) // 3,
    ]


@pytest.mark.parametrize("point", range(5))
def test_truncated_pdf_names_the_damaged_pages_and_reads_the_intact_ones(point: int) -> None:
    data = build()
    cut = cut_points(data)[point]
    truncated = data[:cut]
    result = extract(truncated)
    assert result.status != Status.OK
    if result.status == Status.FAILED:
        assert result.error_class == "corrupt"
        return
    spans = object_spans(data)
    owned = page_objects(data)
    damaged = {n for n, xrefs in owned.items() if any(spans[x][1] > cut for x in xrefs)}
    words, unread = read(truncated)
    parts = {part for part, _, _ in unread}
    assert "document" in parts  # repaired: never `ok`
    for number in damaged:
        assert {f"page {number}", f"page {number} annotations"} & parts, (number, parts)
    for number in set(owned) - damaged:
        assert {value(number, i) for i in range(VALUES)} <= words.get(number, set()), number
    for _part, error_class, message in unread:
        assert error_class == "corrupt"
        assert not re.search(r"Ref\dx\d", message)  # names the cause, never content


def test_page_cut_mid_stream_is_unread_while_earlier_values_are_found() -> None:
    """The tester's case: page 2's content cut halfway, page 3 lost; page 1 read in full."""
    data = build()
    truncated = data[: cut_points(data)[0]]
    words, unread = read(truncated)
    parts = {part: message for part, _, message in unread}
    assert "page 2" in parts and "page 3" in parts
    assert "may be partly read" in parts["page 2"]
    assert {value(1, i) for i in range(VALUES)} <= words[1]
    assert parts["document"].endswith(
        "repaired: the cross-reference table was damaged; objects may be missing"
    )


def test_garbled_deflate_data_marks_its_page_only() -> None:
    data = build()
    doc = pymupdf.open(stream=data, filetype="pdf")
    xref = doc[1].get_contents()[0]
    raw = doc.xref_stream_raw(xref)
    doc.close()
    start = data.index(raw)
    garbled = bytearray(data)
    for offset in range(start + 2, start + len(raw)):
        garbled[offset] ^= 0x5A
    words, unread = read(bytes(garbled))
    assert [part for part, _, _ in unread] == ["page 2"]
    assert "does not decode" in unread[0][2] or "syntax errors" in unread[0][2]
    for number in (1, 3):
        assert {value(number, i) for i in range(VALUES)} <= words[number]
    assert extract(bytes(garbled)).status == Status.PARTIAL


def test_truncated_pdf_inside_a_zip_names_its_damaged_pages() -> None:
    data = build()
    truncated = data[: cut_points(data)[0]]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("scan.pdf", truncated)
        archive.writestr("notes.txt", "nothing to see")
    result = extract(out.getvalue(), key="doc.zip")
    assert result.status == Status.PARTIAL
    unread = [part.part for part in result.coverage.unread]
    assert "member:scan.pdf > document" in unread
    assert "member:scan.pdf > page 2" in unread


def test_healthy_pdf_stays_ok() -> None:
    result = extract(build())
    assert result.status == Status.OK
    assert result.coverage.unread == []
