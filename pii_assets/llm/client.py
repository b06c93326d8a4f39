"""Chat-completion calls to an OpenAI-compatible endpoint: bounded concurrency, retries with
exponential backoff and jitter that honour `Retry-After`, and errors mapped to our own classes.

The openai client's exception strings can quote response bodies (and so page content); they are
never logged or re-raised. `LlmCallError` messages are written here and name status codes only.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from pii_assets.llm.pricing import Usage
from pii_assets.models import ErrorClass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_s: float = 1.0  # first backoff; doubles per attempt
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0  # a server asking for a longer wait is not waited for

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: between half and all of base × 2^attempt."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return ceiling * (0.5 + rng.random() / 2)


@dataclass(frozen=True)
class Completion:
    content: str | None
    refusal: str | None
    finish_reason: str | None
    usage: Usage


class LlmCallError(Exception):
    """The endpoint gave up or refused. The message names status and attempts, never a body."""

    def __init__(self, error_class: ErrorClass, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


@dataclass(frozen=True)
class _Failure:
    error_class: ErrorClass
    reason: str
    retryable: bool
    retry_after_s: float | None = None


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _classify(exc: Exception) -> _Failure:
    if isinstance(exc, openai.APITimeoutError):
        return _Failure(ErrorClass.LLM_UNAVAILABLE, "the request timed out", True)
    if isinstance(exc, openai.APIConnectionError):
        return _Failure(ErrorClass.LLM_UNAVAILABLE, "the endpoint could not be reached", True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return _Failure(
                ErrorClass.LLM_AUTH, f"the endpoint refused the credentials (HTTP {status})", False
            )
        if status == 429:
            after = _retry_after(exc.response)
            return _Failure(ErrorClass.LLM_RATE_LIMITED, "rate limited (HTTP 429)", True, after)
        if status == 408 or status >= 500:
            after = _retry_after(exc.response)
            return _Failure(
                ErrorClass.LLM_UNAVAILABLE, f"endpoint error (HTTP {status})", True, after
            )
        return _Failure(
            ErrorClass.EXTRACTOR_ERROR, f"the endpoint rejected the request (HTTP {status})", False
        )
    # A 200 whose body is not a chat completion (malformed JSON, missing fields).
    return _Failure(ErrorClass.LLM_UNAVAILABLE, "the endpoint sent a malformed response", True)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=int(raw.prompt_tokens or 0),
        cached_input_tokens=int(cached),
        output_tokens=int(raw.completion_tokens or 0),
    )


class ChatClient:
    """A thread-safe client; at most `concurrency` requests are in flight through it at once."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        timeout_s: float,
        retry: RetryPolicy,
        concurrency: int,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        # At DEBUG the openai library logs whole requests (prompts, page images): never let it.
        logging.getLogger("openai").setLevel(logging.WARNING)
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url or None, timeout=timeout_s, max_retries=0
        )
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._retry = retry
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        response_format: dict[str, Any],
        max_tokens: int,
    ) -> Completion:
        retry = self._retry
        for attempt in range(retry.max_retries + 1):
            try:
                with self._slots:
                    response = self._client.chat.completions.create(
                        model=model,
                        messages=messages,  # type: ignore[arg-type]
                        response_format=response_format,  # type: ignore[arg-type]
                        max_tokens=max_tokens,
                        temperature=0,
                    )
                choice = response.choices[0]
                return Completion(
                    content=choice.message.content,
                    refusal=getattr(choice.message, "refusal", None),
                    finish_reason=choice.finish_reason,
                    usage=_usage(response.usage),
                )
            except Exception as exc:  # noqa: BLE001 - every failure is mapped, none re-raised
                failure = _classify(exc)
            last = attempt == retry.max_retries
            too_long = (failure.retry_after_s or 0.0) > retry.max_retry_after_s
            if not failure.retryable or last or too_long:
                attempts = attempt + 1
                raise LlmCallError(
                    failure.error_class,
                    f"{failure.reason}; gave up after {attempts} attempt{'s' * (attempts > 1)}",
                ) from None
            with self._rng_lock:
                delay = retry.backoff(attempt, self._rng)
            if failure.retry_after_s is not None:
                delay = max(delay, failure.retry_after_s)
            log.info("LLM call: %s; retrying in %.2fs", failure.reason, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
