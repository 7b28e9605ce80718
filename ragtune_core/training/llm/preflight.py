"""The pre-flight check of chat fine-tuning data, before any upload or training starts.

Every line is checked (schema, unknown tool, missing tool call); too few lines are refused (< 10)
or warned about (< 50). Lengths are counted in tokens (the local model's tokenizer, else ~4
characters a token), so the check shows a histogram, how many lines a maximum length would cut
(a cut line loses its tool call, the only span trained on), the epochs, the billed tokens and cost
(the price table's `training_per_1m`, llm.pricing) and, for a local run, the time at the measured pace.
`preview` renders one line as the model sees it, the trained span apart.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ...llm.pricing import ModelPrice, price_for
from ...llm.tokens import estimate_tokens
from ..fit import plan_schedule
from .data import SCHEMA, called_tool, check_example, common_tool_set, tool_count_mismatch
from .local import LocalLLMSettings

MIN_EXAMPLES, FEW_EXAMPLES = 10, 50
# Tokens a second of a local training on 2 CPU cores (TRL + LoRA on SmolLM2-135M; docs/decisions.md,
# "local training pace").
LOCAL_TOKENS_PER_SECOND = 140.0
DEFAULT_MAX_LENGTH = 1024
# OpenAI's "auto" epochs: 3, raised so that small files still see ~100 examples, lowered for large ones.
AUTO_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MAX_AUTO_EPOCHS = 3, 100, 25_000, 25

TokenCounter = Callable[[dict], int]


def auto_epochs(n_examples: int) -> int:
    if n_examples * AUTO_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_AUTO_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / max(1, n_examples)))
    if n_examples * AUTO_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // n_examples)
    return AUTO_EPOCHS


def training_price_per_1m(model: str, prices: dict[str, ModelPrice] | None = None) -> float | None:
    """USD per 1M training tokens of `model` from the price table (`prices`, default the known one;
    llm.pricing), or None when unknown."""
    price = price_for(model, prices)
    return price.training_per_1m if price else None


@dataclass
class Preview:
    prompt: str  # what the model reads: not trained on
    trained: str  # the tool call: the span the loss is computed on
    n_tokens: int
    exact: bool  # rendered by the model's own chat template (else a generic layout)


def render_text(example: dict) -> tuple[str, str]:
    """(prompt, trained span) in a generic chat layout (ChatML, tools as JSON in the system turn): how
    a hosted provider's template lays a line out, up to its own markers."""
    messages, tools = example["messages"], example.get("tools") or []
    turns = []
    for message in messages[:-1]:
        content = message.get("content") or ""
        if message["role"] == "system" and tools:
            content += "\n\n# Tools\n" + "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in tools)
        turns.append(f"<|im_start|>{message['role']}\n{content}<|im_end|>\n")
    call = {
        "name": called_tool(example),
        "arguments": json.loads(messages[-1]["tool_calls"][0]["function"]["arguments"]),
    }
    trained = f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call><|im_end|>"
    return "".join(turns) + "<|im_start|>assistant\n", trained


def preview(example: dict, tokenizer=None) -> Preview:
    """One line as the model sees it. With a tokenizer whose chat template marks the assistant's
    tokens ({% generation %}), the text is the template's own and the trained span its mask."""
    if tokenizer is not None:
        rendered = tokenizer.apply_chat_template(
            example["messages"],
            tools=example.get("tools"),
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids, mask = list(rendered["input_ids"]), list(rendered["assistant_masks"])
        if any(mask):
            first = mask.index(1)
            last = len(mask) - mask[::-1].index(1)
            return Preview(tokenizer.decode(ids[:first]), tokenizer.decode(ids[first:last]), len(ids), True)
    prompt, trained = render_text(example)
    return Preview(prompt, trained, estimate_tokens([prompt + trained]), False)


def local_token_counter(base_model: str | None) -> TokenCounter:
    """Tokens of a line as a local fine-tuning of `base_model` renders it (its compact tools template: fewer
    than the generic estimate, docs/decisions.md, "local token counting"); ModelNotFound without it."""
    from ...store.llm_models import load_chat_tokenizer

    return token_counter(load_chat_tokenizer(base_model or None))


def token_counter(tokenizer=None) -> TokenCounter:
    """Tokens of a line: by the tokenizer's chat template, else estimated from its generic layout."""
    if tokenizer is not None:
        return lambda example: len(
            tokenizer.apply_chat_template(
                example["messages"], tools=example.get("tools"), tokenize=True, return_dict=True
            )["input_ids"]
        )
    return lambda example: estimate_tokens(["".join(render_text(example))])


@dataclass
class PreflightReport:
    n_train: int
    n_val: int
    problems: list[dict]  # {part, line, kind, message}, line 1-based within its part
    errors: list[str]  # what blocks a job
    warnings: list[str]
    lengths: list[int]  # tokens per good training line
    max_length: int
    truncated: int  # training lines longer than max_length
    epochs: int
    billed_tokens: int  # tokens trained on, over every epoch (as hosted providers bill)
    price_per_1m: float | None
    cost_usd: float | None
    local_seconds: float  # at LOCAL_TOKENS_PER_SECOND (or the pace given), over local_epochs
    local_epochs: int  # a local run's epochs: the ones given, else its own auto (LocalLLMSettings)
    problem_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict:
        return {
            "ok": self.ok,
            "train": self.n_train,
            "val": self.n_val,
            "problems": self.problem_counts,
            "errors": self.errors,
            "warnings": self.warnings,
            "max_tokens": max(self.lengths, default=0),
            "truncated": self.truncated,
            "epochs": self.epochs,
            "billed_tokens": self.billed_tokens,
            "cost_usd": self.cost_usd,
            "local_epochs": self.local_epochs,
            "local_minutes": round(self.local_seconds / 60, 1),
        }


def check_lines(train: list, val: list = ()) -> list[dict]:
    """Every problem of every line, and good lines offering another number of tools than the set most
    good lines offer (as `data.import_jsonl` judges them)."""
    checked = [
        (part, number, line, check_example(line))
        for part, lines in (("train", train), ("val", val))
        for number, line in enumerate(lines, start=1)
    ]
    good = [line for _, _, line, found in checked if not found]
    tools = common_tool_set(good) if good else []
    problems = []
    for part, number, line, found in checked:
        if not found and (mismatch := tool_count_mismatch(line, tools)):
            found = [(SCHEMA, mismatch)]
        problems += [{"part": part, "line": number, "kind": kind, "message": message} for kind, message in found]
    return problems


def run_preflight(
    train: list,
    val: list = (),
    model: str = "",
    epochs: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    count_tokens: TokenCounter | None = None,
    prices: dict[str, ModelPrice] | None = None,
    tokens_per_second: float = LOCAL_TOKENS_PER_SECOND,
) -> PreflightReport:
    """Check chat lines (parsed JSON objects) for a fine-tuning of `model` (priced when listed)."""
    problems = check_lines(train, val)
    bad = {(p["part"], p["line"]) for p in problems}
    good_train = [line for n, line in enumerate(train, start=1) if ("train", n) not in bad]
    count_tokens = count_tokens or token_counter()
    lengths = [count_tokens(line) for line in good_train]
    trained_per_epoch = sum(min(n, max_length) for n in lengths)
    local_epochs = plan_schedule(LocalLLMSettings(epochs=epochs), len(good_train)).epochs
    epochs = epochs or auto_epochs(len(good_train))
    billed = trained_per_epoch * epochs
    price = training_price_per_1m(model, prices) if model else None
    truncated = sum(n > max_length for n in lengths)
    errors, warnings = [], []
    if problems:
        errors.append(f"{len(problems)} line problem(s): fix or drop those lines")
    if len(good_train) < MIN_EXAMPLES:
        errors.append(f"{len(good_train)} good training lines: at least {MIN_EXAMPLES} are needed")
    elif len(good_train) < FEW_EXAMPLES:
        warnings.append(f"only {len(good_train)} training lines: {FEW_EXAMPLES} or more usually train much better")
    if truncated:
        warnings.append(
            f"{truncated} line(s) are longer than {max_length} tokens and would be cut, losing the "
            "tool call they teach: raise the maximum length or shorten the tool descriptions"
        )
    if not val:
        warnings.append("no validation lines: the run reports training loss only")
    return PreflightReport(
        len(train),
        len(val),
        problems,
        errors,
        warnings,
        lengths,
        max_length,
        truncated,
        epochs,
        billed,
        price,
        None if price is None else billed / 1e6 * price,
        trained_per_epoch * local_epochs / tokens_per_second,
        local_epochs,
        dict(Counter(p["kind"] for p in problems)),
    )


def length_histogram(lengths: list[int], bins: int = 10) -> list[tuple[int, int, int]]:
    """(low, high, lines) per equal-width bin of token lengths."""
    if not lengths:
        return []
    low, high = min(lengths), max(lengths)
    width = max(1, math.ceil((high - low + 1) / bins))
    counts = Counter((n - low) // width for n in lengths)
    return [(low + i * width, low + (i + 1) * width - 1, counts.get(i, 0)) for i in range((high - low) // width + 1)]
