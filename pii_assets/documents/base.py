"""What every format reader produces: limits, reading units (`PageContent`) and the reader
protocol. No format knowledge here; each format family has its own module in this package.

A document is read as a sequence of *units*. Paged formats (PDF, images, Office files rendered by
LibreOffice) give one unit per page plus units for what is not page text (annotations, form
fields, an XFA data packet); other formats lay their content out on virtual pages (a spreadsheet's
rows, a text file's lines, an e-mail's headers) so that the same recognizers and extractors read
everything. Embedded documents (attachments, archive members) are read as part of their parent:
their units carry `part`, and their coverage is merged into the parent's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from pii_assets.models import Coverage, ErrorClass, FormField, Word


@dataclass(frozen=True)
class DocumentLimits:
    max_pages: int = 500
    max_image_pixels: int = 100_000_000
    ocr_dpi: int = 300
    ocr_language: str = "eng"
    # A page with fewer text-layer characters than this is treated as scanned and OCR'd.
    min_text_chars: int = 20
    # Seconds LibreOffice may take to render one Office document to PDF.
    conversion_timeout_s: float = 120.0
    # Seconds Tesseract may take on one page; 0 runs OCR in-process without a timeout.
    ocr_timeout_s: float = 120.0
    # Seconds one document's reading (text layers, rendering, OCR, conversion) and offline
    # extraction may take in all, in a child process killed at the limit (pii_assets/deadline.py);
    # 0 reads in-process without a limit.
    document_timeout_s: float = 300.0
    # A scanned page whose OCR reads poorly is checked for being sideways or upside down
    # (Tesseract's orientation detection) and read again upright.
    detect_orientation: bool = True
    # Check a PDF page's text layer before trusting it (pdf.py); off only to measure its cost.
    check_text_layer: bool = True
    # Embedded documents (attachments, archive members, files inside files): how deep they may
    # nest, how many one container may hold, how large one may be, and how far an archive may
    # expand (uncompressed bytes per compressed byte), against zip bombs.
    max_depth: int = 3
    max_members: int = 1000
    max_part_bytes: int = 50 * 1024 * 1024
    max_expansion_ratio: float = 100.0


def _no_renderer(max_side: int) -> bytes:
    raise RuntimeError("this unit has no page to render")


@dataclass
class PageContent:
    """One reading unit: its words, coordinates normalised to 0..1 (origin top-left).

    For paged content `number` is the 1-based page within its part and `paged` is True; for
    everything else `number` counts the part's units and entities get no page number. `source`
    says how the words were read: "text" (text layer), "ocr", "text+ocr" (both, merged), "cells"
    (spreadsheet cells), "plain" (decoded text: text files, JSON, e-mail, comments).
    """

    number: int
    words: list[Word]
    source: str
    width: float  # points (virtual pages: an arbitrary size)
    height: float
    # OCR pages: share of their words in the OCR language's dictionary (`ocr_quality`); None for
    # text-layer pages and when it cannot be judged (too few words, no dictionary).
    ocr_dictionary_share: float | None = None
    # Degrees the displayed page was turned clockwise to be read upright (a scan on its side).
    # Words, width and height are those of the upright page; `orientation.displayed_box` maps a
    # box back onto the page as displayed.
    upright_rotation: int = 0
    paged: bool = True
    part: str | None = None  # None: the document itself; else e.g. "attachment:a.pdf"
    area: str = "page"  # one of models.AREAS
    # Spreadsheet units: a column ("Payroll!C") -> its header text.
    column_headers: dict[str, str] = field(default_factory=dict)
    # Form-field units: the fields, for the form-aware recognizers.
    fields: list[FormField] = field(default_factory=list)
    _render: Callable[[int], bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The unit's words, one line of text per source line."""
        return lines_text(self.words)

    @property
    def renderable(self) -> bool:
        return self._render is not None

    def render_png(self, max_side: int) -> bytes:
        """The (upright) page as PNG, longer side at most `max_side` pixels; needs the document
        still open. Raises RuntimeError for units that are not pages."""
        return (self._render or _no_renderer)(max_side)


def lines_text(words: Sequence[Word]) -> str:
    """Words as text, one line per PyMuPDF (or Tesseract) line."""
    lines: list[str] = []
    current: tuple[int, int] | None = None
    for word in words:
        if (word.block, word.line) != current:
            lines.append(word.text)
            current = (word.block, word.line)
        else:
            lines[-1] += " " + word.text
    return "\n".join(lines)


class DocumentReader(Protocol):
    """What a format module returns: units to read, one at a time, and what was read so far."""

    page_count: int  # pages of the document itself; 0 for formats without pages
    truncated: bool  # more pages than `max_pages`; the rest was not read
    coverage: Coverage

    def pages(self) -> Iterator[PageContent]: ...

    def close(self) -> None: ...


class OpenedDocument:
    """An open document; use as a context manager so its resources are released.

    Pages past `max_pages` (PII_MAX_PAGES) are not read: once the reader's units are exhausted,
    a truncated document records them as one unread part ("pages 501-730", `limit_exceeded`),
    so that it is never `ok`, and neither is a document embedding it.
    """

    def __init__(self, reader: DocumentReader, *, name: str = "document", max_pages: int = 0):
        self._reader = reader
        self._name = name
        self._max_pages = max_pages

    @property
    def page_count(self) -> int:
        return self._reader.page_count

    @property
    def truncated(self) -> bool:
        return self._reader.truncated

    @property
    def coverage(self) -> Coverage:
        return self._reader.coverage

    def pages(self) -> Iterator[PageContent]:
        """Every unit of the document, each released before the next is read."""
        yield from self._reader.pages()
        if self._reader.truncated:
            first, last = self._max_pages + 1, self._reader.page_count
            span = f"page {first}" if first == last else f"pages {first}-{last}"
            self._reader.coverage.unreadable(
                span,
                ErrorClass.LIMIT_EXCEEDED,
                f"{self._name}: {span} not read: over the limit of {self._max_pages} pages "
                "(PII_MAX_PAGES)",
            )

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> OpenedDocument:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ToolError(RuntimeError):
    """An external tool (Tesseract, LibreOffice) is missing or broken: not the document's fault."""
