"""The answer the model must give for a page, as pydantic models and the strict JSON schema.

The schema is fixed here, in code: nothing a document says can change it, and an answer that
steps outside it (another field, an entity type outside the vocabulary, a classification outside
the taxonomy) fails validation and is retried, never stored.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pii_assets.models import CLASSIFICATIONS, ENTITY_TYPES

SCHEMA_NAME = "pii_page"
MAX_ENTITY_CHARS = 200
MAX_ENTITIES_PER_PAGE = 300

EntityType = Literal[ENTITY_TYPES]  # type: ignore[valid-type]
Classification = Literal[CLASSIFICATIONS]  # type: ignore[valid-type]


class LlmEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EntityType = Field(description="One of the PII entity types.")
    text: str = Field(
        min_length=1,
        max_length=MAX_ENTITY_CHARS,
        description="The value exactly as written on the page.",
    )
    page: int = Field(ge=1, description="The 1-based page number given in the request.")
    confidence: float = Field(ge=0.0, le=1.0, description="0..1")


class PageAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification = Field(description="The kind of document this page is from.")
    entities: list[LlmEntity] = Field(max_length=MAX_ENTITIES_PER_PAGE)


class InvalidAnswer(ValueError):
    """The model's output is not a valid answer. The message names the problem, never content."""


# Keywords strict structured outputs reject; pydantic still enforces them when validating.
_UNSUPPORTED = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "default",
    "title",
}


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]), defs)
    out = {k: _strict(v, defs) for k, v in node.items() if k not in _UNSUPPORTED and k != "$defs"}
    if "properties" in node:  # field names are not keywords: keep every one
        out["properties"] = {k: _strict(v, defs) for k, v in node["properties"].items()}
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the subset strict structured outputs accept: references inlined,
    every property required, no additional properties, no unsupported keywords."""
    raw = model.model_json_schema()
    return _strict(raw, raw.get("$defs", {}))


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": SCHEMA_NAME,
            "strict": True,
            "schema": strict_json_schema(PageAnswer),
        },
    }


def parse_answer(content: str | None, *, page: int) -> PageAnswer:
    """Validate the model's content; the page it names must be the page that was sent."""
    if not content:
        raise InvalidAnswer("empty answer")
    try:
        data = json.loads(content)
    except ValueError:
        raise InvalidAnswer("answer is not JSON") from None
    try:
        answer = PageAnswer.model_validate(data)
    except ValidationError as exc:
        # Field locations and error types only: pydantic's messages can quote the input.
        problems = sorted({f"{'.'.join(map(str, e['loc'][:1]))}:{e['type']}" for e in exc.errors()})
        raise InvalidAnswer(
            f"answer does not match the schema ({', '.join(problems[:5])})"
        ) from None
    if any(entity.page != page for entity in answer.entities):
        raise InvalidAnswer("answer names another page")
    return answer
