"""Redacted copies of documents: the same document with its PII values removed, to share with
vendors, annotators or test environments. No Dagster, no S3 here (see `store`).

A copy is made only of an `ok` document (read completely, not truncated), from its entities'
locations, so it works under every value policy; raw values, when kept, are also searched for
and checked. When the object version has a human review, the reviewer's labels are redacted too
(`reviewed`). Places a viewer does not show (outside a PDF page's CropBox, PDF layers switched
off, metadata, spreadsheet headers/footers, HTML comments and attribute values...) are dropped
whole, found or not, and checked empty. The format decides how (sniffed from the content, like
reading):

- PDF (`pdf`): redaction annotations applied: text removed from the text layer, image pixels
  under the boxes blacked out; metadata, attachments, annotations, form values and XFA scrubbed;
- PNG, JPEG, TIFF, GIF, BMP, WEBP (`images`): boxes filled black, metadata dropped;
- xlsx, csv, tsv (`sheets`): each value replaced by its entity type in its cell or comment;
- txt, xml, html (`text`): each value's characters replaced by its entity type;
- anything else: no copy; the `redaction` column says `unsupported_format`.

Outcomes (the dataset's `redaction` column): `redacted`, or why there is no copy: `not_ok`
(the document is partial, failed, skipped or truncated: an incomplete reading cannot promise a
clean copy),
`unsupported_format`, `embedded_parts` (values inside attachments or archive members of a format
whose copy cannot drop them), `unlocated_entities` (a value without a box, cell or character
offsets, and no raw value to search for), `encrypted_no_password`, `changed` (the object changed
since it was extracted), `no_result` (not extracted yet), `redaction_failed` (the copy's own check
found text left where a value was or a hidden place not empty, or the format's library failed
on it; nothing is written), `key_too_long` (the copy's S3 key cannot be made 1,024 bytes or
shorter, even shortened).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pii_assets.documents import sniff
from pii_assets.models import DocumentResult, Status
from pii_assets.redaction.common import NotRedactable
from pii_assets.redaction.reviewed import review_entities
from pii_assets.review.model import DocumentReview

REDACTED = "redacted"
OUTCOMES: tuple[str, ...] = (
    REDACTED,
    "not_ok",
    "unsupported_format",
    "embedded_parts",
    "unlocated_entities",
    "encrypted_no_password",
    "changed",
    "no_result",
    "redaction_failed",
    "key_too_long",
)

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "txt": "text/plain",
    "xml": "application/xml",
    "html": "text/html",
}


@dataclass(frozen=True)
class RedactedCopy:
    data: bytes
    kind: str
    redacted_values: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]


def redact_document(
    data: bytes,
    result: DocumentResult,
    *,
    passwords: Sequence[str] = (),
    review: DocumentReview | None = None,
) -> RedactedCopy:
    """The redacted copy of a document from its result and, when given, the review of the same
    object version (its labels are redacted as well as the entities). Raises NotRedactable with
    the outcome when no copy can be made; its message names the cause only."""
    # Both: a truncated document (more pages than PII_MAX_PAGES) is `partial`, but a result
    # stored by an earlier release may say `ok` and truncated; neither was read completely.
    if result.status != Status.OK:
        raise NotRedactable("not_ok", f"the document is {result.status}, not read completely")
    if result.truncated:
        raise NotRedactable("not_ok", "the document was truncated, not read completely")
    kind = sniff.sniff_format(data) or ""
    entities = [
        *result.entities,
        *review_entities(review, result.entities, by_cell=kind in ("xlsx", "csv", "tsv")),
    ]
    raw = result.entity_values == "raw"
    try:
        if kind == sniff.PDF:
            from pii_assets.redaction.pdf import redact_pdf

            copy = redact_pdf(data, entities, raw_values=raw, passwords=passwords)
        elif kind in ("png", "jpeg", "tiff", "gif", "bmp", "webp"):
            from pii_assets.redaction.images import redact_image

            copy = redact_image(data, kind, entities)
        elif kind == "xlsx":
            from pii_assets.redaction.sheets import redact_xlsx

            copy = redact_xlsx(data, entities, raw_values=raw)
        elif kind in ("csv", "tsv"):
            from pii_assets.redaction.sheets import redact_csv

            copy = redact_csv(data, kind, entities, raw_values=raw)
        elif kind in ("txt", "xml", "html"):
            from pii_assets.redaction.text import redact_text

            copy = redact_text(data, kind, entities, raw_values=raw)
        else:
            raise NotRedactable("unsupported_format", f"no redacted copy of {kind or 'this'} files")
    except NotRedactable:
        raise
    except Exception as exc:
        # The library's message could quote the document: its type only.
        raise NotRedactable(
            "redaction_failed", f"{type(exc).__name__} while redacting {kind}"
        ) from None
    return RedactedCopy(copy, kind, len(entities))
