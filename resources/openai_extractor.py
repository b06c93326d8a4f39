"""The vision-LLM extractor resource: any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM,
Ollama, a LiteLLM proxy), configured through fields that `resources/settings.py` fills from the
environment. The API key is read through `EnvVar` and never logged or shown."""

from pydantic import Field

from pii_assets.extraction import PageExtractor
from pii_assets.llm.client import ChatClient, RetryPolicy
from pii_assets.llm.extractor import LlmExtractor, LlmSettings
from pii_assets.llm.pricing import price_for
from resources.extractors import ExtractorResource


class OpenAIExtractor(ExtractorResource):
    """Sends each page (as text or as an image) to a vision model; costs tokens and money."""

    api_key: str = Field(description="API key (secret; set OPENAI_API_KEY).")
    base_url: str = Field(default="", description="OpenAI-compatible endpoint; empty for OpenAI.")
    model: str = Field(default="gpt-4o-mini", description="Model name sent to the endpoint.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(default=4, ge=0, description="Retries after 429, 5xx and timeouts.")
    backoff_s: float = Field(default=1.0, ge=0, description="First retry backoff; doubles.")
    max_backoff_s: float = Field(default=30.0, ge=0, description="Longest backoff between tries.")
    invalid_output_retries: int = Field(
        default=2, ge=0, description="Extra attempts after an answer that fails validation."
    )
    image_detail: str = Field(default="auto", description="Image detail: low, high or auto.")
    max_image_side: int = Field(
        default=1024, ge=256, le=4096, description="Pages are rendered at most this many pixels."
    )
    input_mode: str = Field(
        default="auto", description="auto (text when the page's text is good), image or text."
    )
    min_text_chars: int = Field(
        default=50, ge=1, description="A text layer with this many characters is good (auto)."
    )
    ocr_as_text: bool = Field(
        default=True, description="auto: send a scan's OCR text when it reads as real words."
    )
    min_ocr_dictionary_share: float = Field(
        default=0.7, ge=0, le=1, description="auto: share of OCR words in the dictionary needed."
    )
    concurrency: int = Field(
        default=8, ge=1, le=256, description="Pages in flight to the endpoint per run."
    )
    max_budget_usd: float = Field(
        default=0.0, ge=0, description="Run budget in USD; 0 means no limit."
    )
    input_usd_per_m: float | None = Field(default=None, description="Price override (1M tokens).")
    cached_input_usd_per_m: float | None = Field(default=None, description="Price override.")
    output_usd_per_m: float | None = Field(default=None, description="Price override.")

    def settings(self) -> LlmSettings:
        return LlmSettings(
            model=self.model,
            detail=self.image_detail,
            max_image_side=self.max_image_side,
            input_mode=self.input_mode,
            min_text_chars=self.min_text_chars,
            ocr_as_text=self.ocr_as_text,
            min_ocr_dictionary_share=self.min_ocr_dictionary_share,
            invalid_output_retries=self.invalid_output_retries,
        )

    def page_extractor(self) -> PageExtractor:
        price = price_for(
            self.model,
            input_per_m=self.input_usd_per_m,
            cached_input_per_m=self.cached_input_usd_per_m,
            output_per_m=self.output_usd_per_m,
        )
        client = ChatClient(
            api_key=self.api_key,
            base_url=self.base_url or None,
            timeout_s=self.timeout_s,
            retry=RetryPolicy(
                max_retries=self.max_retries,
                backoff_s=self.backoff_s,
                max_backoff_s=self.max_backoff_s,
            ),
            concurrency=self.concurrency,
        )
        return LlmExtractor(client, self.settings(), price)

    @property
    def identity(self) -> str:
        # Routing decides what the model sees, so it is part of what produced a result.
        routing = self.input_mode
        if routing == "auto" and self.ocr_as_text:
            routing = f"auto+ocr-text>={self.min_ocr_dictionary_share:g}"
        return f"openai:{self.model}:{routing}"

    def document_concurrency(self) -> int:
        # More documents than calls in flight: while some wait on the endpoint, others are being
        # fetched, opened and recorded, so the endpoint always has `concurrency` calls. The
        # client's semaphore, not this, bounds the calls.
        return self.concurrency + max(2, self.concurrency // 2)

    def run_budget_usd(self) -> float | None:
        return self.max_budget_usd or None
