"""Plain types shared by every stage: pages, entities, per-document results.

Nothing here imports Dagster; assets, sensors and the CLI all speak these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The closed vocabulary of entity types. The LLM extractor's JSON schema uses the same list.
# Names follow Presidio's where it has the type (ABA_ROUTING_NUMBER, US_ITIN, US_PASSPORT).
ENTITY_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
    "STREET_ADDRESS",  # a postal address: street and number, with the town when written with it
    "US_ITIN",  # IRS individual taxpayer identification number (9XX-XX-XXXX)
    "ABA_ROUTING_NUMBER",  # US bank routing transit number
    "BANK_ACCOUNT_NUMBER",  # a bank account number other than an IBAN, found by its label
    "US_PASSPORT",
    "DRIVER_LICENSE",  # any country's driver's licence number, found by its label
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
    """What happened to a document (after Amazon Macie's complete / partial / skipped results).

    `ok` means every part of the document was read; `partial` means some part could not be (its
    `Coverage.unread` says which and why) and the entities found in the rest are kept.
    """

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


# Statuses whose entities are kept in the dataset.
STATUSES_WITH_ENTITIES: frozenset[str] = frozenset({Status.OK, Status.PARTIAL})


class ErrorClass(StrEnum):
    """Why a document is not `ok`. A closed set: docs/documents.md documents each one."""

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
    # S3 said no for this one object (the run goes on; see processing.py).
    ARCHIVED = "archived"  # GLACIER, DEEP_ARCHIVE, Intelligent-Tiering archive tiers: skipped
    ACCESS_DENIED = "access_denied"  # e.g. a KMS key the role cannot use
    S3_THROTTLED = "s3_throttled"  # SlowDown / 503 after botocore's retries: retried later
    S3_ERROR = "s3_error"  # any other S3 error on this object
    FOLDER_MARKER = "folder_marker"  # a zero-byte object whose key ends in "/": skipped
    # Parts of a document (also a whole document when nothing of it could be read).
    LIMIT_EXCEEDED = "limit_exceeded"  # archive depth, member count or expansion ratio
    TEXT_LAYER_UNREADABLE = "text_layer_unreadable"  # failed the check and could not be OCR'd
    # The document's rows would have broken a dataset check; they are kept out of the version.
    QUARANTINED = "quarantined"


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
    """One word on a page; coordinates are normalised to the page (0..1, origin top-left).

    Units that are not pages (spreadsheet cells, lines of a text file, JSON values) are laid out
    on a virtual page so the same recognizers read them; their words say where they really are:
    `ref` is the cell reference ("Payroll!C5") or JSON path ("$.customers[3].email"), `offset` the
    character offset of the word in the part's decoded text (-1 where it does not apply) and
    `line` the 1-based line of a text file.
    """

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    block: int = 0
    line: int = 0
    ref: str | None = None
    offset: int = -1


# Where in a document an entity was found (`Entity.area`, `PageContent.area`).
AREAS: tuple[str, ...] = (
    "page",  # a page's text (text layer, OCR or both)
    "annotation",  # a PDF annotation's contents (sticky note, free text, pop-up, markup)
    "form_field",  # a form field's value (AcroForm widget)
    "xfa",  # the data packet of an XFA form
    "comment",  # a Word comment or a spreadsheet cell's comment/note
    "tracked_change",  # text deleted under tracked changes (inserted text is on the page)
    "cell",  # a spreadsheet cell
    "text",  # a line of a plain-text, CSV-less text, XML or HTML file
    "json",  # a JSON / JSON Lines value
    "email_header",  # From/To/Cc/Subject... of an e-mail
    "email_body",  # an e-mail's text or HTML body
    # Document properties: a PDF's document information dictionary and XMP, an Office package's
    # properties (author, title, comments...); an archive's comments.
    "metadata",
    "speaker_notes",  # a slide's speaker notes (page: the slide)
    # Text not shown: a PDF page's outside its crop box or in a layer switched off (page and box
    # on that page); Word text formatted hidden (w:vanish).
    "hidden_text",
    "header_footer",  # a spreadsheet sheet's print header or footer
    "defined_name",  # a spreadsheet's defined name (a named constant or formula)
    "data_validation",  # a spreadsheet's data validation (its list, prompt and error message)
    "link",  # a link's target (a Word or workbook hyperlink, mailto:/tel: or a URL's path)
)


@dataclass(frozen=True, slots=True)
class FormField:
    """A PDF form field's value and what labels it, for the form-aware recognizers.

    `label` is the field's tooltip (`/TU`, e.g. "Your social security number") or, without one,
    its name; `rect` is the widget on the page, normalised like `Word`. `comb` fields draw one
    character per box (`/Ff` bit 25, PDF 32000-1:2008 §12.7.4.3) and `max_len` is their box count.
    """

    name: str
    label: str
    value: str
    rect: tuple[float, float, float, float]
    kind: str = "text"  # text, checkbox, radio, combobox, listbox, signature
    comb: bool = False
    max_len: int = 0


@dataclass(frozen=True, slots=True)
class Entity:
    """One PII value and where a reviewer finds it.

    Paged content has `page` (1-based, within its part) and a box normalised to the page;
    spreadsheets have `cell` ("Payroll!C5") and `column_header`; text formats `line` and the
    character offsets `char_start`..`char_end` (end exclusive) in the part's decoded text; JSON
    has its JSON path and XFA form data its element path in `data_path`. `part` names the
    embedded part the value is in (None: the document itself), e.g. "attachment:invoice.pdf" or
    "member:2024/scan.pdf > attachment:a.pdf"; `area` is one of `AREAS`.
    """

    entity_type: str
    text: str
    page: int | None  # 1-based; None where the content has no pages
    x0: float | None
    y0: float | None
    x1: float | None
    y1: float | None
    confidence: float
    source: str  # "text" (text layer), "ocr", "text+ocr", "cells", "plain", ...
    part: str | None = None
    area: str = "page"
    cell: str | None = None
    column_header: str | None = None
    line: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    data_path: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadPart:
    """A part of a document that could not be read: which (e.g. "page 3", "attachment:a.pdf",
    "member:x/y.zip"), why (an `ErrorClass` value) and a message naming the part and the cause,
    never content."""

    part: str
    error_class: str
    message: str


# Kinds of parts counted in `Coverage.parts`.
PART_KINDS: tuple[str, ...] = (
    "pages",
    "annotations",
    "form_fields",
    "xfa_forms",
    "attachments",
    "members",
    "sheets",
    "hidden_sheets",
    "cells",
    "comments",
    "tracked_changes",
    "headers_footers",
    "lines",
    "json_values",
    "email_headers",
    "email_bodies",
    "metadata",
    "speaker_notes",
    "hidden_text",
    "defined_names",
    "data_validations",
    "links",
)


@dataclass(slots=True)
class Coverage:
    """How a document was read: pages by source, parts read by kind, and what could not be read.

    A document is `ok` only when `unread` is empty (see `Status`).
    """

    pages_text: int = 0  # pages whose text layer passed the check and was used alone
    pages_ocr: int = 0  # pages read by OCR alone (scans, images, text layers that failed)
    pages_text_and_ocr: int = 0  # pages whose text layer and OCR were merged
    parts: dict[str, int] = field(default_factory=dict)  # kind (PART_KINDS) -> count read
    unread: list[UnreadPart] = field(default_factory=list)

    def read(self, kind: str, count: int = 1) -> None:
        if kind not in PART_KINDS:
            raise ValueError(f"unknown part kind {kind!r}")
        if count:
            self.parts[kind] = self.parts.get(kind, 0) + count

    def page_read(self, source: str) -> None:
        """Count one page by how it was read: "text", "ocr" or "text+ocr"."""
        if source == "text":
            self.pages_text += 1
        elif source == "ocr":
            self.pages_ocr += 1
        elif source == "text+ocr":
            self.pages_text_and_ocr += 1
        else:
            raise ValueError(f"unknown page source {source!r}")

    def unreadable(self, part: str, error_class: ErrorClass | str, message: str) -> None:
        self.unread.append(UnreadPart(part, str(error_class), message))

    def merge(self, other: Coverage) -> None:
        """Add a child document's coverage (an attachment, an archive member) to this one."""
        self.pages_text += other.pages_text
        self.pages_ocr += other.pages_ocr
        self.pages_text_and_ocr += other.pages_text_and_ocr
        for kind, count in other.parts.items():
            self.read(kind, count)
        self.unread.extend(other.unread)

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any] | None) -> Coverage:
        if not data:
            return cls()
        return cls(
            pages_text=int(data.get("pages_text", 0)),
            pages_ocr=int(data.get("pages_ocr", 0)),
            pages_text_and_ocr=int(data.get("pages_text_and_ocr", 0)),
            parts=dict(data.get("parts", {})),
            unread=[UnreadPart(**u) for u in data.get("unread", [])],
        )


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
    coverage: Coverage = field(default_factory=Coverage)
    # What `entities[].text` holds under the value policy (value_policy.VALUE_POLICIES): "raw",
    # "masked", "hashed" or "none" (text None).
    entity_values: str = "raw"

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
        """A result written by `to_json_dict`, also by an earlier version of this code (fields
        added since take their defaults)."""
        fields = dict(data)
        fields["status"] = Status(fields["status"])
        fields["entities"] = [Entity(**e) for e in fields.get("entities", [])]
        fields["coverage"] = Coverage.from_json_dict(fields.get("coverage"))
        return cls(**fields)
