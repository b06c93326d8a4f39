"""How documents are opened: passwords and limits."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from pii_assets.documents import DocumentLimits


class DocumentOptions(ConfigurableResource):
    """Passwords and limits applied to every document. `passwords` is a secret."""

    passwords: str = Field(
        default="",
        description="Comma-separated passwords tried in order on protected files (secret).",
    )
    # No pydantic bounds here: fields may hold an EnvVar until Dagster resolves it, so the
    # values are checked where they are used, with messages naming the variable.
    max_file_mb: int = Field(default=50, description="Larger objects are skipped.")
    max_pages: int = Field(default=500, description="Pages past this are not processed.")
    ocr_dpi: int = Field(default=300, description="Resolution for OCR (72..600).")
    ocr_language: str = Field(default="eng", description="Tesseract language(s), e.g. eng+deu.")
    max_image_megapixels: int = Field(
        default=100, description="Larger images (and PDF page images) fail as image_too_large."
    )
    conversion_timeout_s: int = Field(
        default=120, description="Seconds LibreOffice may take to render one docx/xlsx to PDF."
    )
    ocr_timeout_s: int = Field(
        default=120, description="Seconds Tesseract may take on one page; 0 means no timeout."
    )
    document_timeout_s: int = Field(
        default=300,
        description=(
            "Seconds one document may take to be read and extracted offline (in a child process "
            "killed at the limit: the document fails as timeout); 0 means no limit."
        ),
    )
    detect_orientation: bool = Field(
        default=True,
        description="A scan whose OCR reads poorly is checked for lying on its side and re-read.",
    )

    def password_list(self) -> list[str]:
        # Not stripped: a space can be part of a password.
        return [part for part in self.passwords.split(",") if part]

    @property
    def max_file_bytes(self) -> int:
        if self.max_file_mb < 1:
            raise ValueError(f"PII_MAX_FILE_MB must be at least 1, got {self.max_file_mb}")
        return int(self.max_file_mb * 1024 * 1024)

    def limits(self) -> DocumentLimits:
        if self.max_pages < 1:
            raise ValueError(f"PII_MAX_PAGES must be at least 1, got {self.max_pages}")
        if not 72 <= self.ocr_dpi <= 600:
            raise ValueError(f"ocr_dpi must be within 72..600, got {self.ocr_dpi}")
        if self.max_image_megapixels < 1:
            raise ValueError(
                f"PII_MAX_IMAGE_MEGAPIXELS must be at least 1, got {self.max_image_megapixels}"
            )
        if self.conversion_timeout_s < 1:
            raise ValueError(
                f"PII_CONVERSION_TIMEOUT_S must be at least 1, got {self.conversion_timeout_s}"
            )
        if self.ocr_timeout_s < 0:
            raise ValueError(f"PII_OCR_TIMEOUT_S must not be negative, got {self.ocr_timeout_s}")
        if self.document_timeout_s < 0:
            raise ValueError(
                f"PII_DOCUMENT_TIMEOUT_S must not be negative, got {self.document_timeout_s}"
            )
        return DocumentLimits(
            max_pages=self.max_pages,
            max_image_pixels=self.max_image_megapixels * 1_000_000,
            ocr_dpi=self.ocr_dpi,
            ocr_language=self.ocr_language,
            conversion_timeout_s=float(self.conversion_timeout_s),
            ocr_timeout_s=float(self.ocr_timeout_s),
            document_timeout_s=float(self.document_timeout_s),
            detect_orientation=self.detect_orientation,
        )
