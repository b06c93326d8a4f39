"""Flattened forms: characters drawn one per box (comb fields burned into the page) read as one
value, on real PDFs made and flattened by PyMuPDF and read back by the document reader."""

from __future__ import annotations

import pymupdf

from pii_assets.documents import open_document
from pii_assets.recognizers import PageText, find_entities

LABEL = "Your social security number"


def _flattened(*fields: tuple[float, float, str], dashes: bool = False) -> bytes:
    """A page with LABEL above comb fields (x0, box count, value) on one line, flattened."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), LABEL, fontsize=9)
    for number, (x0, boxes, value) in enumerate(fields):
        widget = pymupdf.Widget()
        widget.field_type = pymupdf.PDF_WIDGET_TYPE_TEXT
        widget.field_name = f"f{number}"
        widget.rect = pymupdf.Rect(x0, 95, x0 + 20 * boxes, 115)
        widget.field_flags = pymupdf.PDF_TX_FIELD_IS_COMB
        widget.text_maxlen = boxes
        widget.field_value = value
        widget.text_fontsize = 11
        page.add_widget(widget)
        if dashes and number:
            page.insert_text((x0 - 8, 110), "-", fontsize=11)
    doc.bake()  # the fields become page content: a flattened form
    return doc.tobytes()


def _page_words(data: bytes) -> list:
    with open_document(data, name="form.pdf") as doc:
        (page,) = list(doc.pages())
        return page.words


def _found(data: bytes) -> list[tuple[str, str]]:
    words = _page_words(data)
    return [(e.entity_type, e.text) for e in find_entities(words, page=1, source="text")]


def test_one_comb_field_reads_as_one_number() -> None:
    data = _flattened((72, 9, "536221234"))
    assert "536221234" in PageText.build(_page_words(data)).text
    assert _found(data) == [("US_SSN", "536221234")]


def test_comb_groups_around_printed_dashes_read_as_one_value() -> None:
    data = _flattened((72, 3, "536"), (144, 2, "22"), (196, 4, "1234"), dashes=True)
    assert _found(data) == [("US_SSN", "536-22-1234")]


def test_comb_groups_close_together_are_one_space_apart() -> None:
    data = _flattened((72, 3, "536"), (140, 2, "22"), (188, 4, "1234"))
    assert _found(data) == [("US_SSN", "536 22 1234")]


def test_the_joined_value_has_the_boxes_union_as_its_box() -> None:
    data = _flattened((72, 9, "536221234"))
    words = _page_words(data)
    (entity,) = find_entities(words, page=1, source="text")
    digits = [w for w in words if w.text.isdigit()]
    assert entity.x0 == min(w.x0 for w in digits) and entity.x1 == max(w.x1 for w in digits)


def test_single_characters_far_apart_stay_apart() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Rating", fontsize=9)
    for column, digit in enumerate("12345"):
        page.insert_text((150 + 60 * column, 90), digit, fontsize=9)
    text = PageText.build(_page_words(doc.tobytes())).text
    assert "12345" not in text and "1\t2\t3\t4\t5" in text
