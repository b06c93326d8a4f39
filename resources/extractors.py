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

    def document_concurrency(self) -> int:
        """Documents of a run extracted at once (threads); 1 keeps extraction sequential."""
        return 1

    def run_budget_usd(self) -> float | None:
        """USD one run may spend; the asset starts no document that could exceed it."""
        return None


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
        # Settings that change what is extracted are part of the identity, hence of the code
        # version: changing them marks every partition stale.
        return f"local(region={self.default_region},min_confidence={self.min_confidence})"
