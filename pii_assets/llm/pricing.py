"""What a model costs: USD per million tokens, and the image-token rule to estimate a page first.

Prices are list prices (USD per 1M tokens) at the time of writing; any of them can be overridden
through the extractor's configuration, and a model missing here must be priced there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    input_per_m: Decimal
    cached_input_per_m: Decimal
    output_per_m: Decimal
    # gpt-4o family image rule: base + tile × tiles (512 px tiles after fitting the image).
    image_base_tokens: int = 85
    image_tile_tokens: int = 170


def _price(inp: str, cached: str, out: str, base: int, tile: int) -> ModelPrice:
    return ModelPrice(Decimal(inp), Decimal(cached), Decimal(out), base, tile)


# Longest matching prefix wins, so dated snapshots ("gpt-4o-mini-2024-07-18") find their family.
PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": _price("0.15", "0.075", "0.60", 2833, 5667),
    "gpt-4o": _price("2.50", "1.25", "10.00", 85, 170),
    "gpt-4.1-mini": _price("0.40", "0.10", "1.60", 85, 170),
    "gpt-4.1": _price("2.00", "0.50", "8.00", 85, 170),
}


class UnknownModelPrice(ValueError):
    pass


def price_for(
    model: str,
    *,
    input_per_m: float | None = None,
    cached_input_per_m: float | None = None,
    output_per_m: float | None = None,
) -> ModelPrice:
    """The table's price for `model` with any overrides applied; unknown models need all three."""
    matches = [name for name in PRICES if model == name or model.startswith(name + "-")]
    overrides = (input_per_m, cached_input_per_m, output_per_m)
    if not matches:
        if any(value is None for value in overrides):
            raise UnknownModelPrice(
                f"model {model!r} has no price in the table; set the input, cached input and "
                "output prices (USD per 1M tokens) in the extractor configuration"
            )
        base = ModelPrice(Decimal(0), Decimal(0), Decimal(0))
    else:
        base = PRICES[max(matches, key=len)]
    changes = {
        name: Decimal(str(value))
        for name, value in zip(
            ("input_per_m", "cached_input_per_m", "output_per_m"), overrides, strict=True
        )
        if value is not None
    }
    return replace(base, **changes)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0  # part of input_tokens, billed at the cached rate
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
        )


def cost_usd(usage: Usage, price: ModelPrice) -> float:
    """USD for one response's usage, computed in decimal so it equals usage × price exactly."""
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    total = (
        (usage.input_tokens - cached) * price.input_per_m
        + cached * price.cached_input_per_m
        + usage.output_tokens * price.output_per_m
    ) / _MILLION
    return float(total)


def image_tokens(width: int, height: int, *, detail: str, price: ModelPrice) -> int:
    """Input tokens of one image under the gpt-4o family rule.

    `low` is the base alone. Otherwise (`high`, and `auto`, estimated as `high`): fit within
    2048×2048, scale the shortest side down to 768 if larger, then base + tile × ⌈w/512⌉ × ⌈h/512⌉.
    """
    if detail == "low":
        return price.image_base_tokens
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return price.image_base_tokens + price.image_tile_tokens * tiles


def text_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four characters per token for English prose and forms."""
    return math.ceil(len(text) / 4)


def rendered_size(width_pt: float, height_pt: float, max_side: int) -> tuple[int, int]:
    """Pixel size of a page rendered with its longer side at `max_side` (as `render_png` does)."""
    zoom = max_side / max(width_pt, height_pt, 1.0)
    return max(1, round(width_pt * zoom)), max(1, round(height_pt * zoom))
