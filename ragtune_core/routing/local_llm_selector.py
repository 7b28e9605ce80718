"""The local LLM selector: a causal LM on this machine routes by how likely it finds each tool's call.

The query is rendered as in training (system prompt, the tools, the query; `training/llm/base_model.py`
gives the chat template) and each tool's call is scored by the log-likelihood of its tokens: the
tool is named by the template's own call syntax, so the selector can never answer with a tool that
does not exist nor fail to answer. Scores are the softmax of those log-likelihoods over the tools:
the model's own probabilities, restricted to the tools offered.

The tokens every tool's rendering shares (system, tools, query, the call's opening) run once per
query; the model's attention cache of them is repeated for a batch of the tools' own tokens. Every
tool's text is tokenized whole, as training tokenized it, so no token boundary is assumed.

Works with a LoRA fine-tune's folder (see `training/llm/local.py`) and with any base model: the
offline SmolLM2 untuned is the baseline to compare a fine-tune with.
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import numpy as np

from .llm_selector import function_tools
from .selectors import Choice, Selection, _selections_from_scores, check_choices

_SENTINEL = "RAGTUNE_TOOL_NAME_SENTINEL"  # stands for the tool's name where the template renders the call


class LocalLLMSelector:
    """Pick the tool whose call a local causal LM finds most likely after the query."""

    def __init__(self, model_path: str | Path | None = None, label: str | None = None,
                 system_prompt: str | None = None):
        from ..training.llm.base_model import DEFAULT_LLM, FINETUNE_INFO, load_causal_lm  # torch loads here
        from ..training.llm.data import SYSTEM_PROMPT

        path = str(model_path) if model_path else None
        self.model, self.tokenizer = load_causal_lm(path)
        if system_prompt is None:  # a fine-tune's own, else the one chat data is built with
            info = Path(path or "") / FINETUNE_INFO
            system_prompt = json.loads(info.read_text())["system_prompt"] if path and info.exists() else SYSTEM_PROMPT
        self.system_prompt = system_prompt
        # transformers 5.24 renamed forward's `past_key_values` to `cache` (the old name goes in 5.40).
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self.name = label or f"local LLM {Path(path).name if path and Path(path).exists() else path or DEFAULT_LLM}"

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        scores = np.array([self.log_likelihoods(query, choices) for query in queries])
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return _selections_from_scores(probabilities, time.perf_counter() - start)

    def log_likelihoods(self, query: str, choices: list[Choice]) -> list[float]:
        """Each choice's call's log-likelihood after the query, less what all the calls share (the
        same constant for every choice, so their ranking and softmax are exact)."""
        import torch
        from transformers import DynamicCache

        sequences = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in self.calls(query, choices)]
        # Run what every call shares once, keeping at least one token of each call for the batch.
        shared = min(_common_prefix_length(sequences), min(len(s) for s in sequences) - 1)
        if shared < 1:
            raise ValueError("the chat template renders nothing before the tool call: nothing to score it after")
        with torch.no_grad():
            cache = DynamicCache(config=self.model.config)
            prefix = self.model(torch.tensor([sequences[0][:shared]]), use_cache=True, logits_to_keep=1,
                                **{self._cache_argument: cache})
            cache.batch_repeat_interleave(len(sequences))
            tails = [s[shared:] for s in sequences]
            width = max(len(t) for t in tails)
            # Right padding needs no mask: causal attention never lets a real token see a later one,
            # and padding's own scores are left out, so any token id pads.
            batch = torch.tensor([t + [0] * (width - len(t)) for t in tails])
            logits = self.model(batch, use_cache=True, **{self._cache_argument: cache}).logits
            first = prefix.logits[0, -1].expand(len(tails), -1).unsqueeze(1)
            log_probs = torch.log_softmax(torch.cat([first, logits[:, :-1]], dim=1).float(), dim=-1)
            token_log_probs = log_probs.gather(2, batch.unsqueeze(2)).squeeze(2)
            lengths = torch.tensor([len(t) for t in tails])
            real = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
            return (token_log_probs * real).sum(dim=1).tolist()

    def calls(self, query: str, choices: list[Choice]) -> list[str]:
        """The conversation rendered once per choice, each ending with that choice's call."""
        messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else []) + [
            {"role": "user", "content": query},
            {"role": "assistant", "tool_calls": [{"type": "function", "id": "call_0",
                                                  "function": {"name": _SENTINEL, "arguments": "{}"}}]}]
        text = self.tokenizer.apply_chat_template(messages, tools=function_tools(choices), tokenize=False)
        at = text.rfind(_SENTINEL)
        if at < 0:
            raise ValueError("the model's chat template does not render tool calls by name: "
                             "it cannot route by tool likelihood")
        head, tail = text[:at], text[at + len(_SENTINEL):]
        return [head + choice.name + tail for choice in choices]


def _common_prefix_length(sequences: list[list[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for position in range(shortest):
        token = sequences[0][position]
        if any(s[position] != token for s in sequences):
            return position
    return shortest
