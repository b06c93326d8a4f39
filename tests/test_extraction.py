"""Whole documents through real PyMuPDF, real Tesseract and the offline extractor."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import datetime

import pymupdf
import pytest

from pii_assets.documents import DocumentLimits, PageContent
from pii_assets.extraction import (
    EXTRACTION_CODE_VERSION,
    OfflineExtractor,
    PageExtraction,
    PageExtractor,
    extract_document,
)
from pii_assets.models import DocumentResult, Entity, Status
from pii_pipeline.corpus import (
    GeneratedDocument,
    TruthEntity,
    generate_corpus,
    oversized_png,
    single_page_pdf,
)

CLASSES = {
    "invoice": "invoice",
    "hr_form": "hr_form",
    "medical_record": "medical_record",
    "payslip": "payslip",
    "letter": "correspondence",
    "bank_statement": "bank_statement",
}
SECRET_LINES = ["Name: Maria Gonzalez", "SSN: 536-22-1234", "Email: maria@example.com"]


@pytest.fixture(scope="module")
def corpus() -> dict[str, GeneratedDocument]:
    # Seed 5 gives one of each kind: a 2-page text PDF, a scanned PDF, a PNG and a JPEG.
    return {doc.kind: doc for doc in generate_corpus(4, seed=5)}


def extract(data: bytes, key: str = "doc.pdf", **kwargs: object) -> DocumentResult:
    options: dict[str, object] = {"extractor": OfflineExtractor(), **kwargs}
    return extract_document(data, document_key=key, etag="etag-1", **options)


def overlaps(entity: Entity, truth: TruthEntity, margin: float = 0.01) -> bool:
    assert truth.box is not None
    x0, y0, x1, y1 = truth.box
    return not (
        entity.x1 < x0 - margin
        or entity.x0 > x1 + margin
        or entity.y1 < y0 - margin
        or entity.y0 > y1 + margin
    )


@pytest.mark.parametrize("kind", ["text_pdf", "scanned_pdf", "png", "jpeg"])
def test_generated_documents(corpus: dict[str, GeneratedDocument], kind: str) -> None:
    doc = corpus[kind]
    result = extract(doc.data, key=doc.name, code_version="test-1")
    assert result.status == Status.OK, result.error_message
    assert (result.document_key, result.etag, result.code_version) == (doc.name, "etag-1", "test-1")
    assert (result.extractor, result.model, result.cost_usd) == ("local", None, 0.0)
    assert result.pages == max(t.page for t in doc.truth) and not result.truncated
    assert result.classification == CLASSES[doc.name.rsplit("_", 1)[0]]
    assert datetime.fromisoformat(result.processed_at).tzinfo is not None
    assert result.duration_s > 0

    source = "text" if kind == "text_pdf" else "ocr"
    for entity in result.entities:
        assert entity.source == source
        assert 1 <= entity.page <= result.pages
        assert 0.0 <= entity.x0 <= entity.x1 <= 1.0 and 0.0 <= entity.y0 <= entity.y1 <= 1.0

    def found(truth: TruthEntity) -> bool:
        return any(
            e.entity_type == truth.entity_type and e.page == truth.page and overlaps(e, truth)
            for e in result.entities
        )

    missed = [t for t in doc.truth if not found(t)]
    if kind == "text_pdf":
        assert missed == []
        # The demo corpus does not label the street addresses its documents print.
        assert {
            (e.entity_type, e.text, e.page)
            for e in result.entities
            if e.entity_type != "STREET_ADDRESS"
        } == {(t.entity_type, t.text, t.page) for t in doc.truth}
    else:
        # OCR may misread a character here and there; most values must still be found in place.
        assert len(missed) <= len(doc.truth) // 5, missed


def test_max_pages_truncates(corpus: dict[str, GeneratedDocument]) -> None:
    doc = corpus["text_pdf"]
    result = extract(doc.data, limits=DocumentLimits(max_pages=1))
    # The pages past the limit were not read: the row says so, never `ok`.
    assert (result.status, result.error_class) == (Status.PARTIAL, "limit_exceeded")
    assert [(u.part, u.error_class) for u in result.coverage.unread] == [
        ("page 2", "limit_exceeded")
    ]
    assert (result.pages, result.truncated) == (2, True)
    assert result.entities and {e.page for e in result.entities} == {1}


def test_a_truncated_member_makes_its_archive_partial(corpus: dict[str, GeneratedDocument]) -> None:
    """The limit applies to an embedded document too, and its unread pages reach the parent."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/long.pdf", corpus["text_pdf"].data)
    result = extract(archive.getvalue(), limits=DocumentLimits(max_pages=1))
    assert result.status == Status.PARTIAL
    assert [(u.part, u.error_class) for u in result.coverage.unread] == [
        ("member:inner/long.pdf > page 2", "limit_exceeded")
    ]


@pytest.mark.parametrize(
    ("data", "error_class"),
    [
        (b"", "empty"),
        (random.Random(3).randbytes(2048), "unsupported_format"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog", "corrupt"),
        (b"%PDF-1.4\n" + random.Random(4).randbytes(2048), "corrupt"),
    ],
)
def test_bad_documents_fail_without_raising(data: bytes, error_class: str) -> None:
    result = extract(data, key="bad.pdf")
    assert result.status == Status.FAILED
    assert result.error_class == error_class
    assert result.error_message.startswith("bad.pdf: ")
    assert result.entities == [] and result.processed_at


def test_truncated_pdf_is_corrupt(corpus: dict[str, GeneratedDocument]) -> None:
    data = corpus["text_pdf"].data
    result = extract(data[: len(data) // 4], key="cut.pdf")
    assert (result.status, result.error_class) == (Status.FAILED, "corrupt")


class TestEncrypted:
    PASSWORD = "Tr0ub4dor&3-horse"

    @pytest.fixture
    def encrypted(self) -> bytes:
        with pymupdf.open(stream=single_page_pdf(SECRET_LINES), filetype="pdf") as doc:
            return doc.tobytes(
                encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=self.PASSWORD, owner_pw="owner-pw"
            )

    def test_right_password(self, encrypted: bytes) -> None:
        result = extract(encrypted, passwords=("nope", self.PASSWORD))
        assert result.status == Status.OK
        assert {e.entity_type for e in result.entities} == {"PERSON", "US_SSN", "EMAIL_ADDRESS"}

    def test_wrong_passwords(self, encrypted: bytes) -> None:
        wrong = ("Tr0ub4dor&3", "hunter2-secret")
        result = extract(encrypted, key="locked.pdf", passwords=wrong)
        assert (result.status, result.error_class) == (Status.FAILED, "encrypted_no_password")
        assert result.error_message == (
            "locked.pdf: PDF is encrypted and none of the 2 configured passwords opens it"
        )
        for secret in (*wrong, self.PASSWORD, "owner-pw"):
            assert secret not in result.error_message


def test_huge_image_header_fails_fast() -> None:
    result = extract(oversized_png(40_000, 40_000), key="huge.png")
    assert (result.status, result.error_class) == (Status.FAILED, "image_too_large")
    assert result.duration_s < 1.0


class ExplodingExtractor:
    """An extractor whose failure message quotes document content, as real ones might."""

    name = "exploding"
    model = "model-x"

    def extract_page(self, page: PageContent) -> PageExtraction:
        raise ValueError(f"could not parse {page.text!r}")


class PaidExtractor:
    name = "paid"
    model = "model-y"

    def extract_page(self, page: PageContent) -> PageExtraction:
        return PageExtraction(entities=[], input_tokens=100, output_tokens=10, cost_usd=0.25)


def test_extractor_failure_names_the_exception_type_only() -> None:
    extractor: PageExtractor = ExplodingExtractor()
    result = extract(single_page_pdf(SECRET_LINES), key="a.pdf", extractor=extractor)
    assert (result.status, result.error_class) == (Status.FAILED, "extractor_error")
    assert result.error_message == "a.pdf: extractor raised ValueError"
    assert (result.extractor, result.model) == ("exploding", "model-x")


def test_usage_is_summed_over_pages() -> None:
    pdf = pymupdf.open()
    for _ in range(3):
        pdf.new_page().insert_text((72, 72), "Quarterly report, nothing personal in here.")
    result = extract(pdf.tobytes(), extractor=PaidExtractor())
    assert (result.status, result.pages) == (Status.OK, 3)
    assert (result.input_tokens, result.output_tokens) == (300, 30)
    assert result.cost_usd == pytest.approx(0.75)


def test_offline_extractor_identity() -> None:
    extractor: PageExtractor = OfflineExtractor(default_region="DE", min_confidence=0.7)
    assert (extractor.name, extractor.model) == ("local", None)
    assert EXTRACTION_CODE_VERSION


# --- several documents at once ------------------------------------------------------------------


def test_ocr_lets_other_documents_use_mupdf_meanwhile(corpus) -> None:
    """A thread OCRing a scan lets go of the MuPDF gate while Tesseract works in the child, so
    another document's thread gets in before the scan is done: OCR of several documents runs on
    several cores."""
    import threading

    from pii_assets.mupdf_gate import MUPDF_GATE

    scan = corpus["scanned_pdf"].data
    started, finished = threading.Event(), threading.Event()
    results: list[DocumentResult] = []

    def ocr_scan() -> None:
        with MUPDF_GATE.held():
            started.set()
            results.append(extract(scan, "scan.pdf"))
        finished.set()

    worker = threading.Thread(target=ocr_scan)
    worker.start()
    started.wait(10)
    with MUPDF_GATE.held():
        got_in_while_scan_ran = not finished.is_set()
        text_result = extract(corpus["text_pdf"].data, "text.pdf")
    worker.join(60)
    assert got_in_while_scan_ran
    assert results[0].status == Status.OK and results[0].entities
    assert text_result.status == Status.OK and text_result.entities


def test_local_extractor_uses_the_cores_it_may_run_on() -> None:
    from resources.extractors import LocalExtractor, available_cpus
    from resources.settings import build_extractor

    assert LocalExtractor().document_concurrency() == min(available_cpus(), 8)
    assert LocalExtractor(concurrency=3).document_concurrency() == 3
    assert build_extractor("local", {"PII_LOCAL_CONCURRENCY": "1"}).document_concurrency() == 1
    with pytest.raises(ValueError, match="PII_LOCAL_CONCURRENCY"):
        build_extractor("local", {"PII_LOCAL_CONCURRENCY": "-1"})
