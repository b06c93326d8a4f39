"""A PDF's bookmarks (nested too), page label prefixes and layer names are read in its metadata
unit and left out of its redacted copy; a PDF whose only values are in its metadata gets a copy.
Real PyMuPDF, PDFs built here, every value invented."""

from __future__ import annotations

import pymupdf
import pytest

from pii_assets.documents import DocumentLimits, open_document
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Status
from pii_assets.redaction import redact_document
from pii_assets.redaction.common import RedactionFailed
from pii_assets.redaction.pdf import check_hidden
from tests.test_redaction_hidden import pdf_streams

OUTLINE_EMAIL = "wenna.talbrook@example.test"
NESTED_SSN = "512-44-7781"
LABEL_EMAIL = "label.owner@example.test"
LAYER_EMAIL = "layer.keeper@example.test"
KEYWORDS_EMAIL = "osric.vantell@example.test"
VALUES = (OUTLINE_EMAIL, NESTED_SSN, LABEL_EMAIL, LAYER_EMAIL)


def extract(data: bytes) -> DocumentResult:
    return extract_document(
        data,
        document_key="doc.pdf",
        etag="e",
        extractor=OfflineExtractor(),
        limits=DocumentLimits(),
    )


def navigation_pdf() -> bytes:
    """Two pages showing public text; the values only in the panels beside them."""
    doc = pymupdf.open()
    for _ in range(2):
        doc.new_page(width=612, height=792)
    doc[0].insert_text((72, 72), "Quarterly memo. Nothing personal on this page.", fontsize=11)
    doc[1].insert_text((72, 72), "Appendix with public figures only.", fontsize=11)
    doc.set_toc(
        [
            [1, "Introduction", 1],
            [1, f"Contact {OUTLINE_EMAIL}", 1],
            [2, f"Claimant SSN {NESTED_SSN}", 2],  # nested under the contact
        ]
    )
    doc.set_page_labels(
        [
            {"startpage": 0, "prefix": "Cover ", "style": "", "firstpagenum": 1},
            {"startpage": 1, "prefix": f"{LABEL_EMAIL}-", "style": "D", "firstpagenum": 1},
        ]
    )
    layer = doc.add_ocg(f"Notes {LAYER_EMAIL}", on=True)
    doc[0].insert_text((72, 300), "Layered note", fontsize=11, oc=layer)
    return doc.tobytes()


def test_bookmarks_page_labels_and_layer_names_are_read_as_metadata() -> None:
    data = navigation_pdf()
    result = extract(data)
    assert result.status == Status.OK and not result.coverage.unread
    assert result.coverage.parts == {"pages": 2, "metadata": 1}
    ocg = next(iter(pymupdf.open(stream=data).get_ocgs()))
    places = {(e.entity_type, e.text, e.data_path) for e in result.entities}
    assert places == {
        ("EMAIL_ADDRESS", OUTLINE_EMAIL, "outline/1"),
        ("US_SSN", NESTED_SSN, "outline/2"),
        ("EMAIL_ADDRESS", LABEL_EMAIL, "page_labels/1"),
        ("EMAIL_ADDRESS", LAYER_EMAIL, f"ocg/{ocg}"),
    }
    for entity in result.entities:
        assert entity.area == "metadata" and entity.page is None and entity.part is None


def test_the_metadata_unit_lays_out_one_row_each() -> None:
    with open_document(navigation_pdf(), name="doc.pdf") as opened:
        (unit,) = [unit for unit in opened.pages() if unit.area == "metadata"]
    assert unit.text.splitlines() == [
        "bookmark: Introduction",
        f"bookmark: Contact {OUTLINE_EMAIL}",
        f"bookmark: Claimant SSN {NESTED_SSN}",
        "page label: Cover",
        f"page label: {LABEL_EMAIL}",  # the "-" joining it to the page number left out
        f"layer name: Notes {LAYER_EMAIL}",
    ]


def test_a_pdf_without_navigation_gets_no_metadata_unit() -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Plain page.", fontsize=11)
    with open_document(doc.tobytes(), name="doc.pdf") as opened:
        assert [unit.area for unit in opened.pages()] == ["page"]
        assert opened.coverage.parts == {"pages": 1}


def test_the_copy_keeps_no_bookmark_page_label_or_layer_name() -> None:
    data = navigation_pdf()
    assert all(any(v.encode() in s for s in pdf_streams(data)) for v in VALUES)
    copy = redact_document(data, extract(data)).data
    assert not any(v.encode() in s for s in pdf_streams(copy) for v in VALUES)
    doc = pymupdf.open(stream=copy, filetype="pdf")
    assert doc.get_toc() == [] and doc.get_page_labels() == []
    # The layer stays (the page shows what it showed), under a name of no content.
    assert [group["name"] for group in doc.get_ocgs().values()] == ["Layer 1"]
    assert "Layered note" in doc[0].get_text()
    assert "public figures" in doc[1].get_text()


def test_the_copys_check_counts_bookmarks_labels_and_layer_names() -> None:
    with pytest.raises(RedactionFailed) as failure:
        check_hidden(navigation_pdf())
    message = str(failure.value)
    assert "3 bookmarks" in message and "2 page labels" in message
    assert "1 layer names" in message
    assert not any(v in message for v in VALUES)


def test_a_pdf_whose_only_value_is_in_its_metadata_gets_a_copy() -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Visible text without values.", fontsize=11)
    doc.set_metadata({"title": "memo", "keywords": KEYWORDS_EMAIL})
    data = doc.tobytes()
    result = extract(data)
    assert result.status == Status.OK
    ((entity),) = result.entities
    assert (entity.text, entity.area, entity.page, entity.data_path) == (
        KEYWORDS_EMAIL,
        "metadata",
        None,
        "info/Keywords",
    )
    assert entity.x0 is not None  # a box on the virtual metadata unit, not on a page
    copy = redact_document(data, result).data
    assert not any(KEYWORDS_EMAIL.encode() in s for s in pdf_streams(copy))
    shown = pymupdf.open(stream=copy, filetype="pdf")
    assert shown[0].get_text().split() == ["Visible", "text", "without", "values."]
    assert not shown.metadata.get("keywords")
