"""Extractor resources: one interface, an offline implementation (and the LLM one beside it)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from dagster import ConfigurableResource
from pydantic import Field

from pii_assets.extraction import OfflineExtractor, PageExtractor


def available_cpus() -> int:
    """CPU cores this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


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
        default="",
        description=(
            "Region for phone numbers written without a country code (ISO 3166 alpha-2); empty: "
            "the region of each page's language (US for English or an undecided page)."
        ),
    )
    min_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Entities below this confidence are dropped."
    )
    concurrency: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Documents of a run extracted at once; 0 means one per CPU core (at most 8).",
    )
    ner_backend: str = Field(
        default="",
        description=(
            "Statistical NER for names in running text: spacy:<pipeline> or gliner:<model>; "
            "empty for the rule-based recognizers only."
        ),
    )

    def page_extractor(self) -> PageExtractor:
        return OfflineExtractor(
            default_region=self.default_region or None,
            min_confidence=self.min_confidence,
            ner_backend=self.ner_backend,
        )

    def document_concurrency(self) -> int:
        # Python code holds the interpreter lock and MuPDF one thread at a time (the gate), so
        # text pages gain little from threads. OCR runs in a forked child and LibreOffice in its
        # own process, both with the gate let go: those run on as many cores as documents.
        return self.concurrency or min(available_cpus(), 8)

    @property
    def identity(self) -> str:
        # Settings that change what is extracted are part of the identity, hence of the code
        # version: changing them marks every partition stale.
        region = self.default_region or "by-language"
        ner = f",ner={self.ner_backend}" if self.ner_backend else ""
        return f"local(region={region},min_confidence={self.min_confidence}{ner})"
