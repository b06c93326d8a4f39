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
    max_file_mb: int = Field(default=50, ge=1, description="Larger objects are skipped.")
    max_pages: int = Field(default=500, ge=1, description="Pages past this are not processed.")
    ocr_dpi: int = Field(default=300, ge=72, le=600, description="Resolution for OCR.")
    ocr_language: str = Field(default="eng", description="Tesseract language(s), e.g. eng+deu.")

    def password_list(self) -> list[str]:
        # Not stripped: a space can be part of a password.
        return [part for part in self.passwords.split(",") if part]

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def limits(self) -> DocumentLimits:
        return DocumentLimits(
            max_pages=self.max_pages, ocr_dpi=self.ocr_dpi, ocr_language=self.ocr_language
        )
