"""What LLM calls cost: a price table, an estimate before a run, USD after it.

One table prices every model, a row (`ModelPrice`) per model: USD per 1,000 tokens of input and
output, the Batch API's input and output (OpenAI bills batches at half price), a model fine-tuned
from it (input and output), and USD per 1M tokens of fine-tuning it. Defaults for known models are
below; the user's own prices (a self-hosted model, a negotiated rate, a new model) live in the
workspace's `llm_prices.json`, which the app's LLM settings edit and anyone may edit by hand; a
field it gives replaces the default's, the others stay (files of earlier versions, with only the
first four fields, load as they are):

    {"llama3": {"input": 0.0, "output": 0.0}, "gpt-4o-mini": {"input": 0.00015, "output": 0.0006,
     "batch_input": 0.000075, "batch_output": 0.0003, "training_per_1m": 3.0}}

A run's LLMConfig carries the prices it was started with (`with_prices`), so its cost stays what
it was even if the table changes later. A model without a price has no cost estimate ("unknown
price"), never a guess.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Annotated

from ..errors import RagtuneError
from ..store.files import atomic_write_text
from ..store.shapes import limit, settings

if TYPE_CHECKING:
    from ..store.workspace import Workspace
    from .config import LLMConfig
    from .outcomes import Usage

PRICES_FILE = "llm_prices.json"
BATCH_DISCOUNT = 0.5  # OpenAI's Batch API: half the price of the same requests online


class PriceError(RagtuneError):
    """A price table entry that cannot be used; the message names the model and the file."""


PER_1K, PER_1M = "USD per 1,000 tokens", "USD per 1M training tokens"
MAX_PER_1K, MAX_PER_1M = 10.0, 1000.0  # far above any listed price: a larger one is a typo


@settings(PriceError)
class ModelPrice:
    """A model's row of the price table. A price None: unknown (a batch, a fine-tuned model or a fine-tuning
    of this model has no cost estimate)."""

    SETTINGS_NAME = "a model's prices"

    input: Annotated[float, limit(PER_1K, 0.0, MAX_PER_1K)]
    output: Annotated[float, limit(PER_1K, 0.0, MAX_PER_1K)]
    batch_input: Annotated[float | None, limit(f"{PER_1K} sent through the Batch API", 0.0, MAX_PER_1K)] = None
    batch_output: Annotated[float | None, limit(f"{PER_1K} sent through the Batch API", 0.0, MAX_PER_1K)] = None
    fine_tuned_input: Annotated[float | None, limit(f"{PER_1K} of a model fine-tuned from it", 0.0, MAX_PER_1K)] = None
    fine_tuned_output: Annotated[float | None, limit(f"{PER_1K} of a model fine-tuned from it", 0.0, MAX_PER_1K)] = None
    training_per_1m: Annotated[float | None, limit(f"{PER_1M} of fine-tuning it", 0.0, MAX_PER_1M)] = None

    def per_1k(self, batch: bool) -> tuple[float, float] | None:
        """(input, output) for online or batch requests; None when that price is unknown."""
        if not batch:
            return self.input, self.output
        if self.batch_input is None or self.batch_output is None:
            return None
        return self.batch_input, self.batch_output

    def fine_tuned_per_1k(self) -> tuple[float, float] | None:
        """(input, output) of a model fine-tuned from this one; None when unknown."""
        if self.fine_tuned_input is None or self.fine_tuned_output is None:
            return None
        return self.fine_tuned_input, self.fine_tuned_output


def _openai(
    input_price: float,
    output_price: float,
    fine_tuned: tuple[float, float] | None = None,
    training_per_1m: float | None = None,
) -> ModelPrice:
    fine_tuned_input, fine_tuned_output = fine_tuned or (None, None)
    return ModelPrice(
        input_price,
        output_price,
        input_price * BATCH_DISCOUNT,
        output_price * BATCH_DISCOUNT,
        fine_tuned_input,
        fine_tuned_output,
        training_per_1m,
    )


# Estimates as of 2026 from OpenAI's public price list: online, of a model fine-tuned from it, of training it.
KNOWN_PRICES_PER_1K: dict[str, ModelPrice] = {
    "gpt-4o-mini": _openai(0.00015, 0.0006, (0.0003, 0.0012), 3.0),
    "gpt-4o": _openai(0.0025, 0.01, (0.00375, 0.015), 25.0),
    "gpt-4.1-nano": _openai(0.0001, 0.0004, (0.0002, 0.0008), 1.5),
    "gpt-4.1-mini": _openai(0.0004, 0.0016, (0.0008, 0.0032), 5.0),
    "gpt-4.1": _openai(0.002, 0.008, (0.003, 0.012), 25.0),
    "gpt-5-mini": _openai(0.00025, 0.002),
    "gpt-5-nano": _openai(0.00005, 0.0004),
}


# the table ---------------------------------------------------------------------------------------
def price_overrides(ws: Workspace) -> dict[str, ModelPrice]:
    """The user's prices in the workspace's llm_prices.json (none when it does not exist)."""
    path = ws.root / PRICES_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PriceError(f"{PRICES_FILE} in the workspace cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise PriceError(f"{PRICES_FILE}: expected an object of models, each with input and output prices")
    prices = {}
    for model, entry in data.items():
        if not isinstance(entry, dict):
            raise PriceError(f"{PRICES_FILE}: {model!r} must be an object with input and output prices")
        try:
            prices[model] = ModelPrice(**entry)
        except PriceError as exc:
            raise PriceError(f"{PRICES_FILE}: {model!r}: {exc}") from exc
    return prices


def save_price(ws: Workspace, model: str, price: ModelPrice | None) -> None:
    """Set the user's price for `model` in llm_prices.json; None removes it (the default applies again).
    Unknown prices are left out of the file: the default's apply."""
    prices = price_overrides(ws)
    if price is None:
        prices.pop(model, None)
    else:
        prices[model] = price
    atomic_write_text(ws.root / PRICES_FILE, json.dumps({m: _given(p) for m, p in sorted(prices.items())}, indent=2))


def _given(price: ModelPrice) -> dict:
    return {name: value for name, value in asdict(price).items() if value is not None}


def price_table(ws: Workspace | None = None) -> dict[str, ModelPrice]:
    """The known prices with the workspace's own on top: a price its file gives replaces the known one."""
    own = price_overrides(ws) if ws is not None else {}
    merged = {
        model: replace(KNOWN_PRICES_PER_1K[model], **_given(price)) if model in KNOWN_PRICES_PER_1K else price
        for model, price in own.items()
    }
    return {**KNOWN_PRICES_PER_1K, **merged}


def price_for(model: str, table: dict[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The model's price: its own entry, else the longest entry it starts with ("gpt-4o-mini-2024-07-18"
    is priced as gpt-4o-mini, not gpt-4o); None: unknown."""
    table = KNOWN_PRICES_PER_1K if table is None else table
    if model in table:
        return table[model]
    return next((table[name] for name in sorted(table, key=len, reverse=True) if model.startswith(name)), None)


def with_prices(config: LLMConfig, ws: Workspace | None = None) -> LLMConfig:
    """The config with the table's prices for its model filled in where it has none of its own: a run
    started with it records what it was priced at."""
    price = price_for(config.model, price_table(ws))
    if price is None:
        return config
    own = {
        "price_per_1k_input": price.input,
        "price_per_1k_output": price.output,
        "price_per_1k_batch_input": price.batch_input,
        "price_per_1k_batch_output": price.batch_output,
    }
    return replace(config, **{k: v for k, v in own.items() if getattr(config, k) is None})


# costs --------------------------------------------------------------------------------------------
def config_price(config: LLMConfig) -> ModelPrice | None:
    """The prices a config carries, else the known table's for its model."""
    if config.price_per_1k_input is None and config.price_per_1k_output is None:
        return price_for(config.model)
    return ModelPrice(
        config.price_per_1k_input or 0.0,
        config.price_per_1k_output or 0.0,
        config.price_per_1k_batch_input,
        config.price_per_1k_batch_output,
    )


def prices_per_1k(config: LLMConfig) -> tuple[float, float] | None:
    """(input, output) USD per 1k tokens for how this config sends (online or batch); None: unknown."""
    price = config_price(config)
    return price.per_1k(config.batch) if price else None


def estimate_cost(config: LLMConfig, n_prompt_tokens: int, n_completion_tokens: int) -> float | None:
    """USD for that many tokens; None when the model has no known or configured price."""
    prices = prices_per_1k(config)
    if prices is None:
        return None
    return n_prompt_tokens / 1000 * prices[0] + n_completion_tokens / 1000 * prices[1]


def cost_estimate(config: LLMConfig, usage: Usage, cached: int = 0) -> dict:
    """A run's estimate before it runs, as its summary and its run record keep it: the tokens of
    `usage`, their cost_usd (None: unknown price) and `cached`, the requests the cache answers for free."""
    return {
        **usage.to_dict(),
        "cost_usd": estimate_cost(config, usage.prompt_tokens, usage.completion_tokens),
        "cached_chunks": cached,
    }


def cost_per_1k_queries(config: LLMConfig, usage: Usage, n_queries: int) -> float | None:
    """USD per 1,000 queries routed by an LLM selector, from what routing `n_queries` used; None when
    the price is unknown or nothing was routed."""
    cost = estimate_cost(config, usage.prompt_tokens, usage.completion_tokens)
    return None if cost is None or n_queries < 1 else cost / n_queries * 1000


def describe_cost(config: LLMConfig, prompt_tokens: int, completion_tokens: int, spent: bool = False) -> str:
    """ "about 12,000 prompt + 600 completion tokens · estimated $0.0031 (gpt-4o-mini, batch prices)", or the
    same with "unknown price"; `spent` for tokens already used ("used ... · cost ...")."""
    cost = estimate_cost(config, prompt_tokens, completion_tokens)
    tokens = f"{'used' if spent else 'about'} {prompt_tokens:,} prompt + {completion_tokens:,} completion tokens"
    mode = "batch prices" if config.batch else "online prices"
    if cost is None:
        return f"{tokens} · unknown {'batch ' if config.batch else ''}price for {config.model}"
    return f"{tokens} · {'cost' if spent else 'estimated'} ${cost:.4f} ({config.model}, {mode})"
