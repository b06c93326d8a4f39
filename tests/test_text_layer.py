"""A PDF page's text layer is checked before it is trusted (real PyMuPDF, real Tesseract).

Every value is invented; the pages are built here: a 300-dpi scan stamped with one real text line,
a font whose ToUnicode map is shuffled (the glyphs show the words, the text layer is a cipher), a
line drawn twice, ligatures and full-width forms.
"""

from __future__ import annotations

import random
import string

import pymupdf
import pytest

from bench.eval.corpus import generate
from pii_assets.documents import DocumentLimits, open_document, textlayer
from pii_assets.documents.base import lines_text
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass, Word
from pii_pipeline.corpus import scanned_pdf, single_page_pdf
from tests.sample_pages import LETTER_LINES

NAME, SSN, EMAIL, PHONE, BIRTH = (
    "Maria Gonzalez",
    "536-22-1234",
    "maria.gonzalez@example.com",
    "(415) 555-0132",
    "03/14/1985",
)
LINES = [
    "Patient intake record",
    f"Name: {NAME}",
    f"SSN: {SSN}",
    f"Email: {EMAIL}",
    f"Phone: {PHONE}",
    f"Date of birth: {BIRTH}",
]
VALUES = {
    "PERSON": NAME,
    "US_SSN": SSN,
    "EMAIL_ADDRESS": EMAIL,
    "PHONE_NUMBER": PHONE,
    "DATE_OF_BIRTH": BIRTH,
}
BATES = "CONFIDENTIAL - Bates ACME-000123 - Fax page 1"  # 45 characters of real text


def extract(data: bytes, **limits: object) -> DocumentResult:
    return extract_document(
        data,
        document_key="doc.pdf",
        etag="",
        extractor=OfflineExtractor(),
        limits=DocumentLimits(**limits),
    )


def found(result: DocumentResult) -> dict[str, str]:
    return {e.entity_type: e.text for e in result.entities}


def boxes(result: DocumentResult) -> dict[str, tuple[float, float, float, float]]:
    return {e.entity_type: (e.x0, e.y0, e.x1, e.y1) for e in result.entities}


def assert_near(got: dict, expected: dict, tolerance: float = 0.02) -> None:
    for kind, box in expected.items():
        assert all(abs(g - e) < tolerance for g, e in zip(got[kind], box, strict=True)), (
            kind,
            got[kind],
            box,
        )


@pytest.fixture(scope="module")
def truth() -> DocumentResult:
    """The same lines as a plain text PDF: where each value really is."""
    result = extract(single_page_pdf(LINES))
    assert found(result) == VALUES
    return result


def stamped_scan(lines: list[str]) -> bytes:
    """A 300-dpi scan of the lines with one real text line across the top."""
    scan = scanned_pdf(single_page_pdf(lines), dpi=300, noise=4.0, rotate=0.3, seed=1)
    with pymupdf.open(stream=scan, filetype="pdf") as doc:
        doc[0].insert_text((36, 24), BATES, fontsize=9)
        return doc.tobytes()


def cipher_pdf(lines: list[str], *, seed: int = 5, pages: int = 1) -> bytes:
    """Lines drawn with an embedded font whose ToUnicode map sends every letter and digit to
    another one: the page shows the lines, its text layer is a substitution cipher of them."""
    font = pymupdf.Font("helv")  # MuPDF's own Nimbus Sans: embedded as Type0, Identity-H
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page()
        page.insert_font(fontname="F0", fontbuffer=font.buffer)
        for row, line in enumerate(lines):
            page.insert_text((72, 100 + 24 * row), line, fontname="F0", fontsize=12)
    rng = random.Random(seed)
    swap: dict[str, str] = {}
    for alphabet in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        shuffled = list(alphabet)
        rng.shuffle(shuffled)
        swap.update(zip(alphabet, shuffled, strict=True))
    entries = [
        f"<{font.has_glyph(ord(char)):04x}> <{ord(swap.get(char, char)):04x}>"
        for char in sorted(set("".join(lines)))
    ]
    cmap = "\n".join(
        [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo <</Registry(Adobe)/Ordering(UCS)/Supplement 0>> def",
            "/CMapName /Shuffled-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
            f"{len(entries)} beginbfchar",
            *entries,
            "endbfchar endcmap CMapName currentdict /CMap defineresource pop end end",
        ]
    )
    for page in doc:
        font_xref = page.get_fonts()[0][0]
        _, ref = doc.xref_get_key(font_xref, "ToUnicode")
        doc.update_stream(int(ref.split()[0]), cmap.encode())
    data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


# --- 1. a scanned page with one real text line --------------------------------------------------


def test_scan_with_one_text_line_is_ocrd_and_merged(truth: DocumentResult) -> None:
    data = stamped_scan(LINES)
    result = extract(data)
    assert result.status == "ok"
    assert found(result) == VALUES
    assert (result.coverage.pages_text_and_ocr, result.coverage.pages_text) == (1, 0)
    assert {(e.page, e.area, e.source) for e in result.entities} == {(1, "page", "text+ocr")}
    assert_near(boxes(result), boxes(truth))
    # The text line is read from the text layer, once: OCR's reading of it is the same words.
    with open_document(data, name="scan.pdf") as doc:
        (page,) = list(doc.pages())
    assert page.source == "text+ocr"
    assert lines_text(page.words).count("ACME-000123") == 1
    assert sum(w.text == "ACME-000123" for w in page.words) == 1


def test_without_the_check_the_scan_is_taken_for_a_text_page() -> None:
    """What the check buys (and what `check_text_layer=False`, for the benchmark, gives up)."""
    result = extract(stamped_scan(LINES), check_text_layer=False)
    assert result.status == "ok" and result.coverage.pages_text == 1
    assert result.entities == []


def test_scan_whose_ocr_fails_keeps_its_text_layer_and_is_partial() -> None:
    result = extract(stamped_scan(LINES), ocr_timeout_s=0.001)
    assert result.status == "partial"
    [unread] = result.coverage.unread
    assert (unread.part, unread.error_class) == ("page 1", ErrorClass.TIMEOUT)
    assert unread.message == (
        "doc.pdf: OCR of page 1 took longer than 0.001 s; only its text layer was read"
    )
    assert result.coverage.pages_text == 1


# --- 2. a text layer that is a cipher -----------------------------------------------------------


def test_cipher_text_layer_is_replaced_by_ocr() -> None:
    data = cipher_pdf(LINES)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        layer = doc[0].get_text("words")
        shown = doc[0].get_text()
    assert NAME not in shown and SSN not in shown  # the text layer says something else
    result = extract(data)
    assert result.status == "ok"
    assert found(result) == VALUES
    assert (result.coverage.pages_ocr, result.coverage.pages_text) == (1, 0)
    assert {(e.page, e.area, e.source) for e in result.entities} == {(1, "page", "ocr")}
    # The cipher's words sit where the glyphs are drawn: the SSN is the second word of line 3.
    ssn = [w for w in layer if w[7] == 1][2]
    x0, y0, x1, y1 = (v / s for v, s in zip(ssn[:4], (595, 842, 595, 842), strict=True))
    assert_near({"US_SSN": boxes(result)["US_SSN"]}, {"US_SSN": (x0, y0, x1, y1)})


def test_cipher_page_whose_ocr_fails_is_unread_never_ok() -> None:
    # Page 1 is plain text; page 2 has the cipher and its OCR times out.
    doc = pymupdf.open(stream=single_page_pdf(LETTER_LINES), filetype="pdf")
    with pymupdf.open(stream=cipher_pdf(LINES), filetype="pdf") as cipher:
        doc.insert_pdf(cipher)
    result = extract(doc.tobytes(), ocr_timeout_s=0.001)
    assert result.status == "partial"
    [unread] = result.coverage.unread
    assert (unread.part, unread.error_class) == ("page 2", ErrorClass.TEXT_LAYER_UNREADABLE)
    assert unread.message == (
        "doc.pdf: page 2 has a text layer that does not read as text (words without vowels) "
        "and could not be OCR'd (timeout)"
    )
    assert result.coverage.pages_text == 1
    assert {e.page for e in result.entities} == {1}


# --- 7. text drawn twice ------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 0.4])  # exact overprint; fake bold drawn slightly apart
def test_line_drawn_twice_counts_once(offset: float) -> None:
    line = f"Email: {EMAIL}   Phone: {PHONE}"
    doc = pymupdf.open()
    page = doc.new_page()
    writer = pymupdf.TextWriter(page.rect)
    for dx in (0.0, offset):
        writer.append((72 + dx, 100), line, fontsize=11)
    writer.write_text(page)
    data = doc.tobytes()
    with pymupdf.open(stream=data, filetype="pdf") as raw:
        assert [w[4] for w in raw[0].get_text("words")].count(EMAIL) == 2  # drawn twice
    with open_document(data, name="twice.pdf") as opened:
        (content,) = list(opened.pages())
    assert [w.text for w in content.words].count(EMAIL) == 1
    assert content.text == line.replace("   ", " ")
    result = extract(data)
    assert sorted((e.entity_type, e.text) for e in result.entities) == [
        ("EMAIL_ADDRESS", EMAIL),
        ("PHONE_NUMBER", PHONE),
    ]
    (email,) = [e for e in result.entities if e.entity_type == "EMAIL_ADDRESS"]
    assert (email.page, email.area) == (1, "page")
    assert email.y0 == pytest.approx((100 - 11) / 842, abs=0.01)


# --- compatibility characters -------------------------------------------------------------------


def test_ligatures_and_full_width_forms_are_normalised() -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "ＳＳＮ： ５３６－２２－１２３４", fontname="china-s", fontsize=12)
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("helv").buffer)
    page.insert_text((72, 130), "Email: maria.gonzalez@oﬃce.example.com ﬁnal", fontname="F0")
    data = doc.tobytes()
    with pymupdf.open(stream=data, filetype="pdf") as raw:
        assert "ﬁnal" in [w[4] for w in raw[0].get_text("words")]  # as the PDF holds them
    result = extract(data)
    assert found(result) == {
        "US_SSN": "536-22-1234",
        "EMAIL_ADDRESS": "maria.gonzalez@office.example.com",
    }


# --- the check itself ---------------------------------------------------------------------------


def _substituted(text: str, seed: int) -> str:
    rng = random.Random(seed)
    letters = list(string.ascii_lowercase)
    rng.shuffle(letters)
    table = str.maketrans(
        string.ascii_lowercase + string.ascii_uppercase,
        "".join(letters) + "".join(letters).upper(),
    )
    return text.translate(table)


def test_normal_pages_are_trusted_without_ocr() -> None:
    texts = ["\n".join(LETTER_LINES), "\n".join(LINES)]
    for document in generate(12, seed=3, ocr_share=0.0):
        with pymupdf.open(stream=document.data, filetype="pdf") as doc:
            texts += [page.get_text() for page in doc]
    assert [t for t in texts if textlayer.suspicion(t, "eng")] == []


@pytest.mark.parametrize("seed", range(8))
def test_substitution_ciphers_are_suspicious(seed: int) -> None:
    text = _substituted("\n".join(LETTER_LINES), seed)
    assert textlayer.suspicion(text, "eng") is not None


def test_characters_no_text_is_made_of_are_suspicious() -> None:
    text = "\n".join(LETTER_LINES)
    private = "".join(chr(0xE000 + ord(c)) if c.isalpha() else c for c in text)
    assert textlayer.suspicion(private, "eng") == "unreadable characters"
    assert textlayer.suspicion(text.replace("e", "\ufffd"), "eng") == "unreadable characters"
    # A few symbol-font bullets (U+F0B7) in a list are normal.
    bullets = "\n".join(f"\uf0b7 {line}" for line in LETTER_LINES)
    assert textlayer.suspicion(bullets, "eng") is None


def word(text: str, x0: float, y0: float, block: int = 0, line: int = 0) -> Word:
    return Word(text, x0, y0, x0 + 0.02 * len(text), y0 + 0.015, block, line)


def test_merge_keeps_each_word_once_in_its_own_place() -> None:
    text = [word("ACME-000123", 0.1, 0.02), word("Bad\ue001", 0.5, 0.02)]
    ocr = [
        word("ACME-000l23", 0.101, 0.021, block=0),  # the text line, read again by OCR
        word("Bad!", 0.5, 0.02, block=0),  # where the text layer has an unreadable word
        word(NAME.split()[0], 0.1, 0.3, block=1),  # only in the picture
    ]
    merged = textlayer.merge(text, ocr)
    assert [(w.text, w.block) for w in merged] == [
        ("ACME-000123", 0),
        ("Bad!", 1),
        ("Maria", 2),
    ]
    assert merged[2].y0 == 0.3


def test_is_cipher_compares_words_at_the_same_place() -> None:
    shown = ["Patient", "record", "Gonzalez", "example", "birth"]
    ocr = [word(t, 0.1, 0.05 * i) for i, t in enumerate(shown)]
    same = [word(t, 0.1, 0.05 * i) for i, t in enumerate(shown)]
    misread = [word(t.replace("i", "l"), 0.1, 0.05 * i) for i, t in enumerate(shown)]
    cipher = [word(_substituted(t, 1), 0.1, 0.05 * i) for i, t in enumerate(shown)]
    elsewhere = [word(_substituted(t, 1), 0.6, 0.05 * i) for i, t in enumerate(shown)]
    assert not textlayer.is_cipher(same, ocr)
    assert not textlayer.is_cipher(misread, ocr)
    assert textlayer.is_cipher(cipher, ocr)
    assert not textlayer.is_cipher(elsewhere, ocr)  # nothing to compare: the layer is kept


# --- scans with a text layer of their own -------------------------------------------------------


def test_searchable_scan_is_read_from_its_text_layer_without_ocr(truth: DocumentResult) -> None:
    """A scan carrying its own (invisible) OCR text layer covers its picture with words: the
    text layer is trusted, nothing is OCR'd again. (A sparse one, a few lines on a page, covers
    as little of its picture as a stamped line does: it is OCR'd again and merged.)"""
    letter = single_page_pdf([*LETTER_LINES[:4] * 6, *LINES])  # a full page of text
    scan = scanned_pdf(letter, dpi=150, noise=0.0, seed=1)
    with (
        pymupdf.open(stream=letter, filetype="pdf") as source,
        pymupdf.open(stream=scan, filetype="pdf") as doc,
    ):
        for block in source[0].get_text("dict")["blocks"]:
            for line in block["lines"]:
                for span in line["spans"]:  # the same text, invisible, where the scan shows it
                    doc[0].insert_text(
                        span["origin"], span["text"], fontsize=span["size"], render_mode=3
                    )
        data = doc.tobytes()
    result = extract(data)
    assert (result.coverage.pages_text, result.coverage.pages_text_and_ocr) == (1, 0)
    assert found(result) == VALUES


def test_sideways_scan_with_a_text_line_is_read_upright() -> None:
    import io

    from PIL import Image

    from pii_pipeline.corpus import page_image
    from tests.sample_pages import EMAIL as LETTER_EMAIL

    pdf = single_page_pdf(LETTER_LINES)
    (upright,) = [e for e in extract(pdf).entities if e.text == LETTER_EMAIL]
    with Image.open(io.BytesIO(page_image(pdf, dpi=200, fmt="png"))) as image:
        out = io.BytesIO()
        image.rotate(90, expand=True).save(out, "PNG")  # fed to the scanner on its side
    doc = pymupdf.open()
    page = doc.new_page(width=792, height=612)
    page.insert_image(page.rect, stream=out.getvalue())
    page.insert_text((36, 20), BATES, fontsize=9)
    result = extract(doc.tobytes())
    assert result.status == "ok" and result.coverage.pages_text_and_ocr == 1
    (email,) = [e for e in result.entities if e.text == LETTER_EMAIL]
    # Turned 90 degrees counter-clockwise: upright (x, y) is displayed at (y, 1 - x).
    expected = (upright.y0, 1 - upright.x1, upright.y1, 1 - upright.x0)
    got = (email.x0, email.y0, email.x1, email.y1)
    assert all(abs(g - e) < 0.02 for g, e in zip(got, expected, strict=True)), (got, expected)
