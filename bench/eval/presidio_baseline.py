"""Microsoft Presidio's pattern recognizers as a baseline, configured to run offline.

Configuration (reported by `make eval`):
- `AnalyzerEngine` with every predefined recognizer for English, all countries, default score
  threshold 0 (Presidio's own default);
- the NLP engine is a `SpacyNlpEngine` wrapping `spacy.blank("en")`: tokens only, no NER, no
  lemmas, so the `SpacyRecognizer` (PERSON and friends from NER) is removed and the context
  enhancer, which matches lemmas, cannot boost anything;
- `TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS` is set empty so the e-mail recognizer's domain check uses
  tldextract's bundled snapshot instead of fetching the public suffix list.

Presidio's types map onto ours by name; its DATE_TIME becomes DATE_OF_BIRTH (it has no birth-date
type, so every date it finds competes for that label). Types we do not extract (UK_NHS,
US_BANK_NUMBER, US_DRIVER_LICENSE, URL, ...) are dropped rather than counted as false positives.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pii_assets.models import ENTITY_TYPES, Word
from pii_assets.recognizers import PageText

TYPE_MAP = {name: name for name in ENTITY_TYPES if name != "DATE_OF_BIRTH"}
TYPE_MAP["DATE_TIME"] = "DATE_OF_BIRTH"

DESCRIPTION = (
    "presidio-analyzer {version}: predefined recognizers (en, all countries) minus "
    "SpacyRecognizer; NLP engine = SpacyNlpEngine over spacy.blank('en') (no NER, no lemmas, so "
    "context enhancement is inert); score threshold 0; TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=''; "
    "DATE_TIME counted as DATE_OF_BIRTH; types outside ours dropped"
)


class PresidioBaseline:
    """Presidio over the same page text as ours; spans become boxes through the same word map."""

    def __init__(self, score_threshold: float = 0.0) -> None:
        # Read at import by tldextract: set before presidio (and so tldextract) is imported.
        os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        class _BlankSpacy(SpacyNlpEngine):
            def load(self) -> None:
                self.nlp = {"en": spacy.blank("en")}

        engine = _BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
        engine.load()
        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        registry.remove_recognizer("SpacyRecognizer")
        self.recognizer_names = sorted({r.name for r in registry.recognizers})
        self._analyzer = AnalyzerEngine(
            registry=registry, nlp_engine=engine, default_score_threshold=score_threshold
        )
        from importlib.metadata import version

        self.description = DESCRIPTION.format(version=version("presidio-analyzer"))

    def find(self, words: Sequence[Word]) -> list[dict[str, Any]]:
        """Entities of our types as dicts: type, text, box, score."""
        page_text = PageText.build(words)
        text = page_text.text
        if not text:
            return []
        found = []
        for result in self._analyzer.analyze(text=text, language="en"):
            entity_type = TYPE_MAP.get(result.entity_type)
            if entity_type is None:
                continue
            found.append(
                {
                    "entity_type": entity_type,
                    "text": text[result.start : result.end],
                    "box": page_text.box(result.start, result.end),
                    "score": float(result.score),
                }
            )
        return found
