"""Plain types shared by every stage: pages, entities, per-document results.

Nothing here imports Dagster; assets, sensors and the CLI all speak these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The closed vocabulary of entity types. The LLM extractor's JSON schema uses the same list.
ENTITY_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
)

# Document classification taxonomy, shared by the offline and LLM extractors.
CLASSIFICATIONS: tuple[str, ...] = (
    "invoice",
    "bank_statement",
    "payslip",
    "tax_form",
    "id_document",
    "medical_record",
    "contract",
    "hr_form",
    "correspondence",
    "other",
)


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class ErrorClass(StrEnum):
    """Why a document is not `ok`. A closed set: README.md documents each one."""

    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    CORRUPT = "corrupt"
    ENCRYPTED_NO_PASSWORD = "encrypted_no_password"
    CONVERSION_FAILED = "conversion_failed"  # LibreOffice could not render a docx/xlsx to PDF
    IMAGE_TOO_LARGE = "image_too_large"
    TIMEOUT = "timeout"
    NOT_FOUND = "not_found"
    NOT_YET_PROCESSED = "not_yet_processed"
    EXTRACTOR_ERROR = "extractor_error"
    INTERNAL_ERROR = "internal_error"
    # The vision-LLM extractor (pii_assets/llm): what the endpoint did, never what it said.
    LLM_INVALID_OUTPUT = "llm_invalid_output"
    LLM_RATE_LIMITED = "llm_rate_limited"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_AUTH = "llm_auth"


class DocumentError(Exception):
    """A document cannot be processed. The message names the cause, never document content."""

    def __init__(self, error_class: ErrorClass, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


class ExtractorError(DocumentError):
    """A page extractor's own failure with a known class (e.g. the LLM endpoint gave up), and the
    usage it spent before failing: tokens paid for are recorded even when the document fails."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
    ) -> None:
        super().__init__(error_class, message)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost_usd = cost_usd


@dataclass(frozen=True, slots=True)
class Word:
    """One word on a page; coordinates are normalised to the page (0..1, origin top-left)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    block: int = 0
    line: int = 0


@dataclass(frozen=True, slots=True)
class Entity:
    entity_type: str
    text: str
    page: int  # 1-based
    x0: float | None
    y0: float | None
    x1: float | None
    y1: float | None
    confidence: float
    source: str  # "text" (text layer), "ocr", or the extractor that produced it


@dataclass(slots=True)
class DocumentResult:
    """Everything the pipeline knows about one processed object, PII values only in `entities`."""

    document_key: str
    etag: str
    status: Status
    error_class: str | None = None
    error_message: str | None = None
    pages: int = 0
    truncated: bool = False
    classification: str | None = None
    extractor: str = ""
    model: str | None = None
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    processed_at: str = ""
    duration_s: float = 0.0
    code_version: str = ""
    entities: list[Entity] = field(default_factory=list)

    def entity_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entity in self.entities:
            counts[entity.entity_type] = counts.get(entity.entity_type, 0) + 1
        return dict(sorted(counts.items()))

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DocumentResult:
        fields = dict(data)
        fields["status"] = Status(fields["status"])
        fields["entities"] = [Entity(**e) for e in fields.get("entities", [])]
        return cls(**fields)
