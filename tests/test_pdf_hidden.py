"""What a PDF holds beyond what its pages show is read: the document information dictionary and
XMP metadata, text in a layer switched off, text outside the crop box (real PyMuPDF, PDFs built
here with invented values)."""

from __future__ import annotations

import pymupdf

from pii_assets.documents import DocumentLimits, open_document
from pii_assets.documents.pdf import open_pdf
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, Entity, Status

NAME, SSN, EMAIL, PHONE = (
    "Maria Gonzalez",
    "536-22-1234",
    "maria.gonzalez@example.com",
    "(415) 555-0132",
)

XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"'
    ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/"'
    ' xmp:CreatorTool="{tool}" pdf:Producer="{producer}"'
    ' xmpMM:DocumentID="uuid:6f1e2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"'
    ' xmpMM:InstanceID="xmp.iid:0E8F3C1A2B4D11E8A7B9C0D1E2F3A4B5"'
    ' xmp:CreateDate="2024-01-15T09:30:00+01:00">'
    "<dc:creator><rdf:Seq><rdf:li>{creator}</rdf:li></rdf:Seq></dc:creator>"
    '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li></rdf:Alt>'
    "</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)


def extract(data: bytes) -> DocumentResult:
    return extract_document(
        data, document_key="doc.pdf", etag="", extractor=OfflineExtractor(), limits=DocumentLimits()
    )


def found(result: DocumentResult, entity_type: str, text: str) -> list[Entity]:
    return [e for e in result.entities if e.entity_type == entity_type and e.text == text]


def plain_page(doc: pymupdf.Document, **size: float) -> pymupdf.Page:
    page = doc.new_page(**size)
    page.insert_text((72, 72), "Quarterly memo. Nothing personal on this page.", fontsize=11)
    return page


def ordinary_metadata(doc: pymupdf.Document, **more: str) -> None:
    """What word processors and PDF libraries write into every file (and `more`, e.g. a title)."""
    doc.set_metadata(
        {
            **more,
            "creator": "Microsoft® Word for Microsoft 365",
            "producer": "Adobe PDF Library 17.0",
            "creationDate": "D:20240115093000+01'00'",
            "modDate": "D:20240116093000Z",
        }
    )
    doc.set_xml_metadata(
        XMP.format(
            tool="Microsoft® Word for Microsoft 365",
            producer="Adobe PDF Library 17.0",
            creator="",
            description=more.get("title", ""),
        )
    )


def metadata_only_pdf() -> bytes:
    doc = pymupdf.open()
    plain_page(doc)
    doc.set_metadata(
        {
            "title": "memo",
            "author": NAME,
            "subject": f"SSN {SSN}",
            "keywords": EMAIL,
            "creator": "Microsoft® Word for Microsoft 365",
            "producer": "Acrobat Distiller 10.1.16 (Windows)",
        }
    )
    info = int(doc.xref_get_key(-1, "Info")[1].split()[0])
    doc.xref_set_key(info, "EmployeePhone", pymupdf.get_pdf_str(PHONE))
    doc.set_xml_metadata(
        XMP.format(
            tool="Microsoft Word",
            producer="Acrobat Distiller 10.1.16 (Windows)",
            creator=NAME,
            description=f"Contact {EMAIL} SSN {SSN}",
        )
    )
    return doc.tobytes()


def test_metadata_values_are_read_as_their_own_unit() -> None:
    result = extract(metadata_only_pdf())
    assert result.status == Status.OK and not result.coverage.unread
    assert result.coverage.parts == {"pages": 1, "metadata": 1}
    places = {(e.entity_type, e.text, e.data_path) for e in result.entities}
    assert places == {
        ("PERSON", NAME, "info/Author"),
        ("US_SSN", SSN, "info/Subject"),
        ("EMAIL_ADDRESS", EMAIL, "info/Keywords"),
        ("PHONE_NUMBER", PHONE, "info/EmployeePhone"),
        # XMP repeats the author (read once, from the dictionary) and says more in its text.
        ("EMAIL_ADDRESS", EMAIL, "xmp/description"),
        ("US_SSN", SSN, "xmp/description"),
    }
    for entity in result.entities:
        assert entity.area == "metadata" and entity.page is None and entity.part is None


def test_metadata_unit_holds_values_not_tag_names() -> None:
    with open_document(metadata_only_pdf(), name="doc.pdf") as opened:
        units = list(opened.pages())
    unit = units[-1]
    assert (unit.area, unit.paged, unit.source) == ("metadata", False, "plain")
    assert "prepared by: Maria Gonzalez" in unit.text
    assert "employee phone: (415) 555-0132" in unit.text
    assert "rdf" not in unit.text and "xmpmeta" not in unit.text and "Seq" not in unit.text
    assert unit.text.count(NAME) == 1  # dc:creator repeats Author


def test_software_metadata_makes_no_unit() -> None:
    doc = pymupdf.open()
    plain_page(doc)
    ordinary_metadata(doc)
    with open_document(doc.tobytes(), name="doc.pdf") as opened:
        assert [unit.area for unit in opened.pages()] == ["page"]
        assert opened.coverage.parts == {"pages": 1}


def test_ordinary_metadata_with_a_title_yields_no_entity() -> None:
    doc = pymupdf.open()
    plain_page(doc)
    ordinary_metadata(doc, title="Microsoft Word - Quarterly memo 2024.docx")
    data = doc.tobytes()
    with open_document(data, name="doc.pdf") as opened:
        (unit,) = [unit for unit in opened.pages() if unit.area == "metadata"]
    assert unit.text == "title: Microsoft Word - Quarterly memo 2024.docx"
    # What software writes is not read: products, dates, identifiers (their digits read as
    # card and phone numbers).
    for text in ("Adobe PDF Library", "Microsoft®", "D:2024", "2024-01-15", "uuid:", "xmp.iid"):
        assert text not in unit.text
    result = extract(data)
    assert result.status == Status.OK
    assert result.coverage.parts == {"pages": 1, "metadata": 1}
    assert result.entities == []


def test_damaged_xmp_is_an_unread_part_and_the_dictionary_is_still_read() -> None:
    doc = pymupdf.open()
    plain_page(doc)
    doc.set_metadata({"subject": f"SSN {SSN}"})
    doc.set_xml_metadata("<x:xmpmeta xmlns:x='adobe:ns:meta/'><broken></x:xmpmeta>")
    result = extract(doc.tobytes())
    assert result.status == Status.PARTIAL
    assert [u.part for u in result.coverage.unread] == ["xmp metadata"]
    assert SSN not in result.coverage.unread[0].message
    assert found(result, "US_SSN", SSN)


def test_layer_switched_off_is_read_on_its_page() -> None:
    doc = pymupdf.open()
    page = plain_page(doc)
    layer = doc.add_ocg("Private", on=False)
    shown = doc.add_ocg("Public", on=True)
    page.insert_text((72, 120), f"Hidden layer SSN: {SSN}", fontsize=11, oc=layer)
    page.insert_text((72, 150), f"Shown layer email {EMAIL}", fontsize=11, oc=shown)
    data = doc.tobytes()
    result = extract(data)
    assert result.status == Status.OK and not result.coverage.unread
    (ssn,) = found(result, "US_SSN", SSN)
    assert (ssn.page, ssn.area) == (1, "hidden_text")
    # Where the layer draws it, on the page as displayed (A4: 595 x 842 points).
    check = pymupdf.open(stream=data)
    rects = check[0].search_for(SSN)  # layer off: search_for sees nothing...
    assert rects == []
    assert 0.2 < ssn.x0 < ssn.x1 < 0.5 and 0.12 < ssn.y0 < ssn.y1 < 0.16
    # The shown layer's text is the page's own, read once.
    (email,) = found(result, "EMAIL_ADDRESS", EMAIL)
    assert email.area == "page"


def test_text_outside_the_crop_box_is_read_at_the_nearest_edge() -> None:
    doc = pymupdf.open()
    page = plain_page(doc, width=612, height=792)
    page.insert_text((72, 700), f"Beneficiary SSN: {SSN} email {EMAIL}", fontsize=11)
    page.insert_text((72, 200), f"Visible phone {PHONE}", fontsize=11)
    page.set_cropbox(pymupdf.Rect(0, 0, 612, 300))
    result = extract(doc.tobytes())
    assert result.status == Status.OK and not result.coverage.unread
    (ssn,) = found(result, "US_SSN", SSN)
    (email,) = found(result, "EMAIL_ADDRESS", EMAIL)
    for entity in (ssn, email):
        assert (entity.page, entity.area) == (1, "hidden_text")
        # Drawn below the crop box: placed on the page's bottom edge, its size kept, and its
        # horizontal place where it is drawn.
        assert entity.y1 == 1.0 and 0.9 < entity.y0 < 1.0
    assert 72 / 612 < ssn.x0 < ssn.x1 < email.x0 < email.x1 < 1.0
    (phone,) = found(result, "PHONE_NUMBER", PHONE)
    assert phone.area == "page" and abs(phone.y1 - 200 / 300) < 0.05


def test_crop_box_offset_and_text_beyond_the_media_box() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_text((72, 400), "Statement of account for the current period.", fontsize=11)
    page.insert_text((72, 100), f"Holder SSN {SSN}", fontsize=11)  # above the crop box
    page.insert_text((700, 400), f"Contact {EMAIL}", fontsize=11)  # right of the media box
    page.set_cropbox(pymupdf.Rect(50, 300, 600, 500))
    result = extract(doc.tobytes())
    assert result.status == Status.OK
    (ssn,) = found(result, "US_SSN", SSN)
    assert ssn.area == "hidden_text" and ssn.y0 == 0.0 and ssn.y1 < 0.2
    (email,) = found(result, "EMAIL_ADDRESS", EMAIL)
    assert email.area == "hidden_text" and email.x1 == 1.0
    assert 0.4 < email.y0 < email.y1 < 0.6  # 400 pt lies halfway down the 300-500 crop box


def test_rotated_page_text_outside_the_crop_box_stays_on_the_page() -> None:
    doc = pymupdf.open()
    page = plain_page(doc, width=612, height=792)
    page.insert_text((72, 700), f"Beneficiary SSN: {SSN}", fontsize=11)
    page.set_cropbox(pymupdf.Rect(0, 0, 612, 300))
    page.set_rotation(90)
    result = extract(doc.tobytes())
    (ssn,) = found(result, "US_SSN", SSN)
    assert ssn.area == "hidden_text"
    # Rotated 90° clockwise, the crop box's bottom edge is the displayed page's left edge.
    assert ssn.x0 == 0.0 and ssn.x1 < 0.1
    assert all(0.0 <= v <= 1.0 for v in (ssn.x0, ssn.y0, ssn.x1, ssn.y1))


def test_ordinary_pdf_has_no_hidden_unit_and_no_duplicates() -> None:
    doc = pymupdf.open()
    page = plain_page(doc)
    page.insert_text((72, 120), f"Applicant SSN: {SSN} email {EMAIL}", fontsize=11)
    ordinary_metadata(doc, title="Applicant record", author=NAME)
    data = doc.tobytes()
    with open_document(data, name="doc.pdf") as opened:
        areas = [unit.area for unit in opened.pages()]
    assert areas == ["page", "metadata"]  # no hidden text
    result = extract(data)
    assert sorted((e.entity_type, e.area) for e in result.entities) == [
        ("EMAIL_ADDRESS", "page"),
        ("PERSON", "metadata"),
        ("US_SSN", "page"),
    ]


def test_encrypted_pdf_with_layers_is_read_with_its_password() -> None:
    doc = pymupdf.open()
    page = plain_page(doc)
    layer = doc.add_ocg("Private", on=False)
    page.insert_text((72, 120), f"Hidden layer SSN: {SSN}", fontsize=11, oc=layer)
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="own", user_pw="usr")
    with open_document(data, name="doc.pdf", passwords=["usr"]) as opened:
        units = list(opened.pages())
        assert not opened.coverage.unread
    hidden = [unit for unit in units if unit.area == "hidden_text"]
    assert len(hidden) == 1 and SSN in hidden[0].text


def test_content_shown_only_while_a_layer_is_off_is_read() -> None:
    doc = pymupdf.open()
    page = plain_page(doc)
    shown = doc.add_ocg("Public", on=True)
    only_when_off = doc.set_ocmd(ocgs=[shown], policy="AllOff")
    page.insert_text((72, 180), f"Fallback contact {EMAIL}", fontsize=11, oc=only_when_off)
    result = extract(doc.tobytes())
    (email,) = found(result, "EMAIL_ADDRESS", EMAIL)
    assert (email.page, email.area) == (1, "hidden_text")


def test_a_rendering_s_metadata_is_left_to_the_office_reader() -> None:
    doc = pymupdf.open()
    plain_page(doc)
    doc.set_metadata({"author": NAME, "title": "Letter"})
    data = doc.tobytes()
    limits = DocumentLimits()
    # LibreOffice's PDF copies the Office file's properties: the Office readers read those.
    rendering = open_pdf(data, name="letter.docx", passwords=(), limits=limits)
    pdf = open_pdf(data, kind="pdf", name="doc.pdf", passwords=(), limits=limits)
    for reader, areas in ((rendering, ["page"]), (pdf, ["page", "metadata"])):
        try:
            assert [unit.area for unit in reader.pages()] == areas
        finally:
            reader.close()
