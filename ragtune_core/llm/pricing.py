"""What LLM calls cost: a token estimate before a run and USD from a price table."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client counts tokens with estimate_tokens: no import back at run time
    from .client import LLMConfig

# USD per 1k tokens (input, output): estimates as of 2026 from OpenAI's public price list.
# A configured price always wins; models not listed here have no cost estimate.
KNOWN_PRICES_PER_1K: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o": (0.0025, 0.01),
    "gpt-4.1-nano": (0.0001, 0.0004),
    "gpt-4.1-mini": (0.0004, 0.0016),
    "gpt-4.1": (0.002, 0.008),
    "gpt-5-mini": (0.00025, 0.002),
    "gpt-5-nano": (0.00005, 0.0004),
}



def estimate_tokens(texts: Iterable[str]) -> int:
    """A tokenizer-free estimate (about 4 characters a token for English), for cost previews."""
    return sum(math.ceil(len(text) / 4) for text in texts)


def prices_per_1k(config: LLMConfig) -> tuple[float, float] | None:
    """(input, output) USD per 1k tokens: the configured prices, else the known table's."""
    if config.price_per_1k_input is not None or config.price_per_1k_output is not None:
        return config.price_per_1k_input or 0.0, config.price_per_1k_output or 0.0
    # Longest prefix first, so "gpt-4o-mini-2024-07-18" is priced as gpt-4o-mini, not gpt-4o.
    for name in sorted(KNOWN_PRICES_PER_1K, key=len, reverse=True):
        if config.model.startswith(name):
            return KNOWN_PRICES_PER_1K[name]
    return None


def estimate_cost(config: LLMConfig, n_prompt_tokens: int, n_completion_tokens: int) -> float | None:
    """USD for that many tokens; None when the model has no known or configured price."""
    prices = prices_per_1k(config)
    if prices is None:
        return None
    return n_prompt_tokens / 1000 * prices[0] + n_completion_tokens / 1000 * prices[1]
