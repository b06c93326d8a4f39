"""One document's extraction under a time limit (`DocumentLimits.document_timeout_s`).

Text-layer parsing, rendering, OCR and conversion of a document run in a forked child process
(`documents.forked`) killed at the limit: MuPDF parsing a content stream that inflates to
gigabytes cannot be interrupted from a Python thread, but a process can be killed. Past the limit
the document is `failed/timeout` and the run goes on; a child that dies (a crash inside a C
library) makes the document `failed/internal_error` instead of ending the run.

Only extractors that declare themselves `fork_safe` (pure computation: the offline recognizers)
run in the child. The vision-LLM extractor shares an HTTP connection pool and a request semaphore
across a run's documents, which a forked copy must not use; its documents are read in-process,
bounded by the OCR and conversion timeouts only (README: PII_DOCUMENT_TIMEOUT_S).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pymupdf

from pii_assets.documents import DocumentLimits
from pii_assets.documents.forked import CAN_FORK, run_forked
from pii_assets.documents.ocr_quality import MIN_WORDS, dictionary_share
from pii_assets.extraction import PageExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass, Status
from pii_assets.mupdf_gate import MUPDF_GATE

# A page touching what most documents need: the recognizers' patterns, phone metadata, dates,
# addresses, language detection. Invented values only.
_WARM_UP_TEXT = (
    "Invoice 2024-118 for Jane Example, 12 Main Street, Springfield, IL 62701\n"
    "Phone (555) 010-0199, jane.example@example.com, born 03/14/1985\n"
    "IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111"
)
_warm_lock = threading.Lock()
_warmed: set[tuple[str, str]] = set()


def _warm_up(extractor: PageExtractor, limits: DocumentLimits) -> None:
    """Once per process and extractor: read a small page here, before any document is forked,
    so children inherit the caches it fills (compiled patterns, phone metadata, dictionaries,
    the NER model) instead of filling them again, document after document: a cold child took
    0.9 s more than a warm one on a one-page PDF (`make bench`, document_deadline)."""
    key = (extractor.name, str(extractor.model), limits.ocr_language)
    with _warm_lock:
        if key in _warmed:
            return
        with pymupdf.open() as doc:
            doc.new_page().insert_text((72, 72), _WARM_UP_TEXT, fontsize=9)
            page = doc.tobytes()
        with MUPDF_GATE.held():
            extract_document(page, document_key="warm-up", etag="", extractor=extractor)
        # The OCR quality check's dictionary (~0.3 s to load), which scanned pages need.
        dictionary_share(" ".join(["reading"] * MIN_WORDS), limits.ocr_language)
        _warmed.add(key)


def isolated(extractor: PageExtractor, limits: DocumentLimits) -> bool:
    """Whether documents are extracted in a child process under the time limit."""
    return limits.document_timeout_s > 0 and CAN_FORK and getattr(extractor, "fork_safe", False)


def extract_within_limit(
    data: bytes,
    *,
    document_key: str,
    etag: str,
    extractor: PageExtractor,
    passwords: Sequence[str] = (),
    limits: DocumentLimits = DocumentLimits(),  # noqa: B008 - frozen, so sharing it is safe
    code_version: str = "",
) -> DocumentResult:
    """`extraction.extract_document`, in a forked child killed after `limits.document_timeout_s`
    seconds when `isolated(extractor, limits)`, else in this process under the MuPDF gate.

    Never raises for the document: past the limit it is `failed/timeout`; a child that ends
    abnormally makes it `failed/internal_error`. Raises OSError only when the system refuses to
    fork (out of processes or memory).
    """

    def work() -> DocumentResult:
        return extract_document(
            data,
            document_key=document_key,
            etag=etag,
            extractor=extractor,
            passwords=passwords,
            limits=limits,
            code_version=code_version,
        )

    if not isolated(extractor, limits):
        # PyMuPDF is not thread-safe: one thread at a time inside it; the LLM extractor lets go
        # of the gate while it waits on the network.
        with MUPDF_GATE.held():
            return work()
    _warm_up(extractor, limits)
    started = datetime.now(UTC)
    outcome = run_forked(work, timeout_s=limits.document_timeout_s)
    if outcome.completed:
        return outcome.value
    if outcome.timed_out:
        error_class = ErrorClass.TIMEOUT
        message = (
            f"{document_key}: reading the document took longer than "
            f"{limits.document_timeout_s:g} s (PII_DOCUMENT_TIMEOUT_S)"
        )
    else:
        error_class = ErrorClass.INTERNAL_ERROR
        message = (
            f"{document_key}: the process reading the document ended abnormally "
            f"(exit status {outcome.exit_code})"
        )
    ended = datetime.now(UTC)
    return DocumentResult(
        document_key=document_key,
        etag=etag,
        status=Status.FAILED,
        error_class=str(error_class),
        error_message=message,
        extractor=extractor.name,
        model=extractor.model,
        code_version=code_version,
        processed_at=ended.isoformat(),
        duration_s=round((ended - started).total_seconds(), 4),
    )
