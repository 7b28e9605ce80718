"""The local LLM selector: a causal LM on this machine routes by how likely it finds each tool's call.

The query is rendered as in training (system prompt, the tools, the query; `store/llm_models.py`
gives the chat template) and each tool's call is scored by the log-likelihood of its tokens up to the
one that ends the tool's name: the tool is named by the template's own call syntax, so the selector
can never answer with a tool that does not exist nor fail to answer.

A fine-tune also learns its training documents' tools as likely answers to anything: their calls stay
likely whatever the query, and a query about a document it never trained on goes to one of them. So each
tool's score is calibrated by its likelihood after content-free queries ("", "N/A", "?": the tool's
prior), less `calibration` times that prior (contextual calibration, Zhao et al. 2021; half of it routes
best: docs/decisions.md, "local LLM selector calibration"). Scores are the softmax of the calibrated
log-likelihoods over the tools offered.

Most of a prompt is its stem (system prompt and tools), the same for every query: it runs once per
choice list. The rest that every tool's rendering shares (the query, the call's opening) runs once
per query, and the model's attention cache of all that is repeated for a batch of the tools' own
tokens. Every tool's text is tokenized whole, as training tokenized it, so no token boundary is
assumed; a stem whose last tokens would merge with the query's is not reused.

Works with a LoRA fine-tune's folder (see `training/llm/local.py`) and with any base model: the
offline SmolLM2 untuned is the baseline to compare a fine-tune with.
"""

from __future__ import annotations

import copy
import inspect
import time
from pathlib import Path

import numpy as np

from ..questions.router.tools import RoutingError
from .selectors import Choice, Selection, check_choices, selections_from_scores
from .tool_calls import SYSTEM_PROMPT, function_tools

_SENTINEL = "RAGTUNE_TOOL_NAME_SENTINEL"  # stands for the tool's name where the template renders the call
_QUERY_SENTINEL = "RAGTUNE_QUERY_SENTINEL"  # stands for the query, to find the prompt's part before it
CONTENT_FREE_QUERIES = ("", "N/A", "?")  # queries about nothing: what a tool's call gets from the model alone
CALIBRATION = 0.5  # share of that prior taken off each tool's log-likelihood (see the module's docstring)


class LocalLLMSelector:
    """Pick the tool whose call a local causal LM finds most likely after the query."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        label: str | None = None,
        system_prompt: str | None = None,
        calibration: float = CALIBRATION,
    ):
        if not 0.0 <= calibration <= 1.0:
            raise RoutingError(
                f"calibration must be between 0 and 1 (the share of each tool's prior taken off), not {calibration}"
            )
        # torch and transformers load here, with the model
        from ..store.llm_models import DEFAULT_LLM, FINETUNE_INFO, finetune_info, load_causal_lm

        path = str(model_path) if model_path else None
        self.model, self.tokenizer = load_causal_lm(path)
        if system_prompt is None:  # a fine-tune's own, else the one chat data is built with
            is_finetune = path and (Path(path) / FINETUNE_INFO).exists()
            system_prompt = finetune_info(Path(path)).get("system_prompt") if is_finetune else SYSTEM_PROMPT
        self.system_prompt = system_prompt
        # transformers 5.24 renamed forward's `past_key_values` to `cache` (the old name goes in 5.40).
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self.calibration = calibration
        self._kept_for: list | None = None  # the choice list whose stem and prior are kept in _kept
        self._kept: dict = {}
        self.name = label or f"local LLM {Path(path).name if path and Path(path).exists() else path or DEFAULT_LLM}"

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        scores = np.array([self.log_likelihoods(query, choices) for query in queries])
        if self.calibration:
            scores -= self.calibration * self.prior(choices)
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return selections_from_scores(probabilities, time.perf_counter() - start)

    def log_likelihoods(self, query: str, choices: list[Choice]) -> list[float]:
        """Each choice's log-likelihood of being called after the query (see call_tokens), less what
        all the calls share (the same constant for every choice, so their ranking and softmax are exact)."""
        import torch

        sequences = self.call_tokens(query, choices)
        # Run what every call shares once, keeping at least one token of each call for the batch.
        shared = min(_common_prefix_length(sequences), min(len(s) for s in sequences) - 1)
        if shared < 1:
            raise RoutingError("the chat template renders nothing before the tool call: nothing to score it after")
        with torch.no_grad():
            cache, last_logits = self._run_shared(sequences[0][:shared], choices)
            cache.batch_repeat_interleave(len(sequences))
            tails = [s[shared:] for s in sequences]
            width = max(len(t) for t in tails)
            # Right padding needs no mask: causal attention never lets a real token see a later one,
            # and padding's own scores are left out, so any token id pads.
            batch = torch.tensor([t + [0] * (width - len(t)) for t in tails])
            logits = self.model(batch, use_cache=True, **{self._cache_argument: cache}).logits
            first = last_logits.expand(len(tails), -1).unsqueeze(1)
            log_probs = torch.log_softmax(torch.cat([first, logits[:, :-1]], dim=1).float(), dim=-1)
            token_log_probs = log_probs.gather(2, batch.unsqueeze(2)).squeeze(2)
            lengths = torch.tensor([len(t) for t in tails])
            real = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
            return (token_log_probs * real).sum(dim=1).tolist()

    def prior(self, choices: list[Choice]) -> np.ndarray:
        """Each choice's mean log-likelihood after the content-free queries (as log_likelihoods gives
        them), once per choice list."""
        return self._once_per_choice_list(
            choices,
            "prior",
            lambda: np.mean([self.log_likelihoods(query, choices) for query in CONTENT_FREE_QUERIES], axis=0),
        )

    def calls(self, query: str, choices: list[Choice]) -> list[tuple[str, int]]:
        """The conversation rendered once per choice, each ending with that choice's call, and where
        the tool's name ends in it."""
        text = self._render(query, choices)
        at = text.rfind(_SENTINEL)
        if at < 0:
            raise RoutingError(
                "the model's chat template does not render tool calls by name: it cannot route by tool likelihood"
            )
        head, tail = text[:at], text[at + len(_SENTINEL) :]
        return [(head + choice.name + tail, at + len(choice.name)) for choice in choices]

    def call_tokens(self, query: str, choices: list[Choice]) -> list[list[int]]:
        """Each choice's conversation as training tokenizes it, up to the token that ends the tool's
        name (the name is then told apart from any longer one); what follows is the same for every tool."""
        sequences = []
        for text, name_end in self.calls(query, choices):
            encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            last = next(i for i, (_, end) in enumerate(encoded["offset_mapping"]) if end > name_end)
            sequences.append(encoded["input_ids"][: last + 1])
        return sequences

    def _render(self, query: str, choices: list[Choice]) -> str:
        messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else []) + [
            {"role": "user", "content": query},
            {
                "role": "assistant",
                "tool_calls": [
                    {"type": "function", "id": "call_0", "function": {"name": _SENTINEL, "arguments": "{}"}}
                ],
            },
        ]
        return self.tokenizer.apply_chat_template(messages, tools=function_tools(choices), tokenize=False)

    def _run_shared(self, ids: list[int], choices: list[Choice]):
        """The attention cache after `ids` and the logits of the token that follows. The stem (the
        system prompt and the tools: most of the prompt, the same for every query) is encoded once
        per choice list and copied, when `ids` begin with it."""
        import torch
        from transformers import DynamicCache

        stem_ids, stem_cache = self._stem(choices)
        if len(ids) > len(stem_ids) and ids[: len(stem_ids)] == stem_ids:
            cache, rest = copy.deepcopy(stem_cache), ids[len(stem_ids) :]
        else:  # the query's first tokens merged with the stem's last ones
            cache, rest = DynamicCache(config=self.model.config), ids
        logits = self.model(
            torch.tensor([rest]), use_cache=True, logits_to_keep=1, **{self._cache_argument: cache}
        ).logits
        return cache, logits[0, -1]

    def _stem(self, choices: list[Choice]):
        """(token ids, attention cache) of the prompt before the query, for this choice list."""
        return self._once_per_choice_list(choices, "stem", lambda: self._encode_stem(choices))

    def _encode_stem(self, choices: list[Choice]):
        import torch
        from transformers import DynamicCache

        text = self._render(_QUERY_SENTINEL, choices)
        # Its last token is left to the query's run: it may merge with the query's first characters.
        ids = self.tokenizer(text[: text.find(_QUERY_SENTINEL)], add_special_tokens=False)["input_ids"][:-1]
        cache = DynamicCache(config=self.model.config)
        if ids:
            with torch.no_grad():
                self.model(torch.tensor([ids]), use_cache=True, logits_to_keep=1, **{self._cache_argument: cache})
        return ids, cache

    def _once_per_choice_list(self, choices: list[Choice], what: str, compute):
        """`compute()`, kept until the choice list changes (a comparison asks the same list many times)."""
        key = _choice_list_key(choices)
        if self._kept_for != key:
            self._kept_for, self._kept = key, {}
        if what not in self._kept:
            self._kept[what] = compute()
        return self._kept[what]


def _choice_list_key(choices: list[Choice]) -> list[tuple[str, str]]:
    return [(choice.name, choice.description) for choice in choices]


def _common_prefix_length(sequences: list[list[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for position in range(shortest):
        token = sequences[0][position]
        if any(s[position] != token for s in sequences):
            return position
    return shortest
