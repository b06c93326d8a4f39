"""One document through opening and a page extractor, as a `DocumentResult` that never raises.

Failure messages name the document and the cause: for unexpected exceptions only the exception
type, because exception text can quote document content.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from pii_assets.documents import DocumentLimits, PageContent, ToolError, open_document
from pii_assets.documents.orientation import displayed_box
from pii_assets.locations import deduplicate, place
from pii_assets.models import (
    DocumentError,
    DocumentResult,
    Entity,
    ErrorClass,
    ExtractorError,
    Status,
    Word,
)
from pii_assets.recognition import ner
from pii_assets.recognition.forms import captions, form_entities
from pii_assets.recognition.language import phone_region
from pii_assets.recognizers import classify, find_entities

# Bump when extraction logic changes (opening, OCR, recognizers, classification): it is part of
# the asset's code version, so a bump marks every document as stale and due for re-extraction.
# 3: scans on their side are read upright; 4: structured recognizers of issue 11 (new entity
# types, IIN card brands, ISO 13616 IBANs, dates and phone regions in six languages); 5: forms
# read through their structure and layout, names in five languages, e-mail display names.
EXTRACTION_CODE_VERSION: str = "local-5"

# Classification reads the start of a document; a bounded sample keeps memory flat for long ones.
CLASSIFICATION_TEXT_CHARS = 20_000


@dataclass
class PageExtraction:
    entities: list[Entity] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    # An extractor that also classifies (the LLM one) answers here; None leaves it to `classify`.
    classification: str | None = None


class PageExtractor(Protocol):
    """Finds the PII entities on one page."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    def extract_page(self, page: PageContent) -> PageExtraction: ...


@dataclass(frozen=True)
class OfflineExtractor:
    """The offline recognizers over the text layer or OCR words: no network, no cost.

    `ner_backend` ("spacy:<pipeline>" or "gliner:<model>", `recognition.ner`) adds a statistical
    model for names in running text; "" (the default) uses the rule-based recognizers only.
    Form-field units (`PageContent.fields`) are read through their structure
    (`recognition.forms`): a field without a tooltip is labelled by the caption printed beside
    its widget, taken from its page's unit, which the PDF reader yields just before it.
    """

    # Region of national phone numbers; None: the region of each page's language.
    default_region: str | None = None
    min_confidence: float = 0.5
    ner_backend: str = ""
    # The last page unit read on this thread (documents are read one per thread, in unit order).
    _last_page: threading.local = field(default_factory=threading.local, compare=False, repr=False)

    @property
    def name(self) -> str:
        return "local"

    @property
    def fork_safe(self) -> bool:
        """Pure computation over the units handed to it (no sockets, no lock shared with other
        documents), so a document can be extracted in a forked child under the time limit
        (pii_assets/deadline.py). Not with GLiNER: PyTorch's OpenMP thread pool does not
        survive a fork (PyTorch's multiprocessing notes), so a child could hang on it."""
        return not self.ner_backend.startswith("gliner:")

    @property
    def model(self) -> str | None:
        return self.ner_backend or None

    def extract_page(self, page: PageContent) -> PageExtraction:
        backend = ner.load(self.ner_backend) if self.ner_backend else None
        entities = find_entities(
            page.words,
            page=page.number,
            source=page.source,
            default_region=self.default_region,
            min_confidence=self.min_confidence,
            ner=backend,
        )
        if page.area == "page":
            self._last_page.key = (page.part, page.number)
            self._last_page.words = page.words
        if page.fields:
            entities = self._with_fields(page, entities)
        return PageExtraction(entities=entities)

    def _with_fields(self, page: PageContent, entities: list[Entity]) -> list[Entity]:
        """The form recognizer's entities, plus the generic recognizers' that lie within one
        field the form recognizer did not type: inside a typed field the label has decided, and
        a match across two fields joins values that are not one ("82,906" "56,750")."""
        printed: list[Word] = []
        if getattr(self._last_page, "key", None) == (page.part, page.number):
            printed = self._last_page.words
        # National phone numbers in fields are read in the configured region, else in the region
        # of the page's language, as on the page itself.
        region = self.default_region or phone_region(" ".join(w.text for w in printed))
        typed = form_entities(
            page.fields,
            page=page.number,
            source=page.source,
            captions=captions(page.fields, printed),
            region=region,
        )
        untyped = [f.rect for f in page.fields if not any(_centre_in(f.rect, e) for e in typed)]
        return typed + [e for e in entities if any(_within(e, rect) for rect in untyped)]


def _box(entity: Entity) -> tuple[float, float, float, float]:
    return (entity.x0, entity.y0, entity.x1, entity.y1)  # type: ignore[return-value]


def _centre_in(rect: tuple[float, float, float, float], entity: Entity) -> bool:
    x0, y0, x1, y1 = _box(entity)
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    return x0 <= cx <= x1 and y0 <= cy <= y1


def _within(entity: Entity, rect: tuple[float, float, float, float], slack: float = 0.005) -> bool:
    if entity.x0 is None:
        return False
    x0, y0, x1, y1 = _box(entity)
    return (
        x0 >= rect[0] - slack
        and y0 >= rect[1] - slack
        and x1 <= rect[2] + slack
        and y1 <= rect[3] + slack
    )


class _ExtractorFailure(Exception):
    """Marks an exception raised by the extractor rather than by reading the document."""


def extract_document(
    data: bytes,
    *,
    document_key: str,
    etag: str,
    extractor: PageExtractor,
    passwords: Sequence[str] = (),
    limits: DocumentLimits = DocumentLimits(),  # noqa: B008 - frozen, so sharing it is safe
    code_version: str = "",
) -> DocumentResult:
    """The result of extracting one document; document problems become `failed` results."""
    started = time.perf_counter()
    result = DocumentResult(
        document_key=document_key,
        etag=etag,
        status=Status.OK,
        extractor=extractor.name,
        model=extractor.model,
        code_version=code_version,
    )
    try:
        _extract_into(result, data, extractor=extractor, passwords=passwords, limits=limits)
    except DocumentError as exc:
        _fail(result, exc.error_class, str(exc))
    except _ExtractorFailure as exc:
        cause = type(exc.__cause__).__name__
        _fail(result, ErrorClass.EXTRACTOR_ERROR, f"{document_key}: extractor raised {cause}")
    except ToolError as exc:
        # Tesseract or LibreOffice missing or broken: not the document's fault. Our own message:
        # it names the document, the page or tool, and the exception type only.
        _fail(result, ErrorClass.INTERNAL_ERROR, str(exc))
    except Exception as exc:
        message = f"{document_key}: unexpected {type(exc).__name__} while reading the document"
        _fail(result, ErrorClass.INTERNAL_ERROR, message)
    result.processed_at = datetime.now(UTC).isoformat()
    result.duration_s = round(time.perf_counter() - started, 4)
    return result


def _extract_into(
    result: DocumentResult,
    data: bytes,
    *,
    extractor: PageExtractor,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> None:
    sample: list[str] = []
    sample_chars = 0
    page_classes: list[str] = []
    units = 0
    with open_document(data, name=result.document_key, passwords=passwords, limits=limits) as doc:
        result.pages = doc.page_count
        result.truncated = doc.truncated
        result.coverage = doc.coverage  # filled in as the units are read
        for page in doc.pages():
            units += 1
            try:
                extraction = extractor.extract_page(page)
            except ExtractorError as exc:
                # A classified extractor failure (e.g. the LLM endpoint gave up): keep its class,
                # and record what it spent. Its message names the page and cause only.
                result.input_tokens += exc.input_tokens
                result.output_tokens += exc.output_tokens
                result.cost_usd += exc.cost_usd
                raise DocumentError(exc.error_class, f"{result.document_key}: {exc}") from None
            except DocumentError:
                raise  # the page itself, read on the extractor's demand (e.g. an image too large)
            except Exception as exc:
                raise _ExtractorFailure from exc
            if extraction.classification:
                page_classes.append(extraction.classification)
            displayed = _on_displayed_page(extraction.entities, page.upright_rotation)
            result.entities.extend(place(entity, page) for entity in displayed)
            # Usage is recorded as it accrues: tokens spent before a failure were still spent.
            result.input_tokens += extraction.input_tokens
            result.output_tokens += extraction.output_tokens
            result.cost_usd += extraction.cost_usd
            if sample_chars < CLASSIFICATION_TEXT_CHARS:
                text = page.text[: CLASSIFICATION_TEXT_CHARS - sample_chars]
                sample.append(text)
                sample_chars += len(text)
    result.entities = deduplicate(result.entities)
    unread = result.coverage.unread
    if unread and not units:
        # Nothing of the document could be read: it failed, for the first part's reason.
        first = unread[0]
        raise DocumentError(ErrorClass(first.error_class), first.message)
    if unread:
        result.status = Status.PARTIAL
        count = len(unread)
        result.error_class = unread[0].error_class
        result.error_message = (
            f"{result.document_key}: {count} part{'s' if count > 1 else ''} could not be read "
            f"(first: {unread[0].message})"
        )
    if page_classes:
        # The most common page answer; ties go to the earliest page (a cover letter's first page).
        result.classification = max(page_classes, key=page_classes.count)
    else:
        result.classification, _ = classify("\n".join(sample))


def _on_displayed_page(entities: list[Entity], rotation: int) -> list[Entity]:
    """Entities found on a page read upright, with their boxes on the page as displayed."""
    if not rotation:
        return entities
    placed = []
    for entity in entities:
        if entity.x0 is None:
            placed.append(entity)
            continue
        box = (entity.x0, entity.y0, entity.x1, entity.y1)
        x0, y0, x1, y1 = displayed_box(box, rotation)
        placed.append(replace(entity, x0=x0, y0=y0, x1=x1, y1=y1))
    return placed


def _fail(result: DocumentResult, error_class: ErrorClass, message: str) -> None:
    """A failed document keeps its coverage (what was read before the failure) but no entities:
    they would be a partial answer shown as whole."""
    result.status = Status.FAILED
    result.error_class = str(error_class)
    result.error_message = message
    # Entities from the pages read before the failure would be a partial answer shown as whole.
    result.entities = []
    result.classification = None
