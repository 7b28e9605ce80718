"""Token counts without a tokenizer: what prices, previews and rate-limit budgets are estimated from."""

from __future__ import annotations

import math
from collections.abc import Iterable


def estimate_tokens(texts: Iterable[str]) -> int:
    """A tokenizer-free estimate (about 4 characters a token for English), for cost previews and
    the token budget of a provider's rate limit."""
    return sum(math.ceil(len(text) / 4) for text in texts)
