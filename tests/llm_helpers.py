"""Shared helpers for the LLM extractor tests: scripted answers and a wired extractor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pii_assets.llm.client import ChatClient, RetryPolicy
from pii_assets.llm.extractor import LlmExtractor, LlmSettings
from pii_assets.llm.pricing import price_for
from tests.fake_openai import Call, FakeOpenAI

_PAGE = re.compile(r"Page (\d+)")


class ScriptedAnswer:
    """Answers like a model would: the scripted entities that appear in a text page (all of them
    for an image page, which the fake cannot read), on the page the request names."""

    def __init__(
        self, entities: Sequence[tuple[str, str]], classification: str = "invoice"
    ) -> None:
        self.entities = list(entities)
        self.classification = classification

    def __call__(self, call: Call) -> dict[str, Any]:
        text = call.user_text
        match = _PAGE.search(text)
        page = int(match.group(1)) if match else 1
        is_text = "<<<PAGE" in text
        found = [
            {"type": kind, "text": value, "page": page, "confidence": 0.93}
            for kind, value in self.entities
            if not is_text or value in text
        ]
        return {"classification": self.classification, "entities": found}


def make_extractor(
    fake: FakeOpenAI,
    *,
    timeout_s: float = 5.0,
    max_retries: int = 2,
    concurrency: int = 4,
    **settings: Any,
) -> LlmExtractor:
    llm_settings = LlmSettings(**settings)
    client = ChatClient(
        api_key=fake.api_key,
        base_url=fake.base_url,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_retries=max_retries, backoff_s=0.01, max_backoff_s=0.05),
        concurrency=concurrency,
    )
    return LlmExtractor(client, llm_settings, price_for(llm_settings.model))
