"""Extractor resources: one interface, an offline implementation (and the LLM one beside it)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from dagster import ConfigurableResource
from pydantic import Field

from pii_assets.extraction import OfflineExtractor, PageExtractor


class ExtractorResource(ConfigurableResource, ABC):
    """Finds PII entities on document pages."""

    @abstractmethod
    def page_extractor(self) -> PageExtractor:
        """The plain (Dagster-free) extractor that the extraction code calls per page."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Extractor and model, part of the asset's code version so a switch marks it stale."""


class LocalExtractor(ExtractorResource):
    """Offline recognizers over the text layer or Tesseract OCR; no network, no cost."""

    default_region: str = Field(
        default="US", description="Region for phone numbers written without a country code."
    )
    min_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Entities below this confidence are dropped."
    )

    def page_extractor(self) -> PageExtractor:
        return OfflineExtractor(
            default_region=self.default_region, min_confidence=self.min_confidence
        )

    @property
    def identity(self) -> str:
        return "local"
