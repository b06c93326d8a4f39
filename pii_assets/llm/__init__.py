"""The vision-LLM extractor: an OpenAI-compatible endpoint behind a plain `PageExtractor`.

schema.py (the strict JSON schema the model must answer in), pricing.py (USD per token, image
token estimates), client.py (calls, retries, error mapping), locate.py (entity text to page
boxes), gate.py (PyMuPDF is not thread-safe), extractor.py (`LlmExtractor`). Nothing here imports
Dagster; `resources/openai_extractor.py` configures it.
"""
