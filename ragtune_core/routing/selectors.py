"""Router selectors: pick the right tool (a choice with a description) for each query.

Three selectors share one interface (`Selector.select(queries, choices) -> list[Selection]`):

- `EmbeddingSelector`: cosine similarity between query and choice embeddings. The choice
  embeddings are computed once per distinct choice list and reused, and queries are embedded in
  batches, unlike llama-index's `EmbeddingSingleSelector`, which re-embeds every choice per query.
  It takes a fine-tuned workspace model folder as it is.
- `CrossEncoderSelector`: a cross-encoder scores every (query, choice description) pair; one trained
  here blends its score with the embedder it trained with, at the shares its validation picked.
- `LLMSelector` (llm_selector.py): an OpenAI-compatible chat model picks from a numbered list
  (llama-index's `LLMSingleSelector` prompt) and answers in JSON.

A selection that could not be made (an unparseable LLM answer, a failed request) has `index=None`
and an `error`; it is never silently turned into the first choice.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..evaluation.blend import SCORES_ALONE, blended, saved_blend, saved_first_stage
from ..evaluation.lexical import lexical_index
from ..questions.router.tools import RoutingError
from ..store.models import (
    DEFAULT_BASE_MODEL,
    bundled_model_path,
    load_cross_encoder,
    load_embedder,
    resolve_model,
    score_pairs,
)
from ..store.shapes import FILE_SHAPE

CHOICE_CACHE_SIZE = 16  # distinct choice lists whose embeddings an EmbeddingSelector keeps


@dataclass
class Choice:
    __pydantic_config__ = FILE_SHAPE  # as a saved comparison holds it

    id: str
    name: str
    description: str


@dataclass
class Selection:
    index: int | None  # position in the choice list; None: no choice could be made
    scores: list[float]  # one per choice (one-hot for an LLM); [] on failure
    latency: float  # seconds per query: the call's wall time spread over its queries
    reason: str = ""
    error: str | None = None


class Selector(Protocol):
    name: str

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]: ...


# --- embedding and cross-encoder selectors ----------------------------------------------------
class EmbeddingSelector:
    """Pick the choice whose description embedding is closest (cosine) to the query's."""

    local = True  # runs on this machine: a comparison times it again in steady state (routing.compare)

    def __init__(self, model_name_or_path: str | None = None, batch_size: int = 64, label: str | None = None):
        self.model = load_embedder(model_name_or_path)
        self.batch_size = batch_size
        self.name = label or _model_label(model_name_or_path)
        self._choice_embeddings: dict[str, object] = {}  # hash of the descriptions -> unit vectors

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        choice_vectors = self.choice_embeddings(choices)
        query_vectors = self.model.encode_query(
            queries,
            batch_size=self.batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        scores = (query_vectors @ choice_vectors.T).cpu().numpy()
        return selections_from_scores(scores, time.perf_counter() - start)

    def choice_embeddings(self, choices: list[Choice]):
        """Unit-length description embeddings, computed once per distinct list of descriptions."""
        descriptions = [c.description for c in choices]
        key = hashlib.sha256(json.dumps(descriptions).encode("utf-8")).hexdigest()
        if key not in self._choice_embeddings:
            if len(self._choice_embeddings) >= CHOICE_CACHE_SIZE:
                del self._choice_embeddings[next(iter(self._choice_embeddings))]  # the oldest
            self._choice_embeddings[key] = self.model.encode_document(
                descriptions,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return self._choice_embeddings[key]


class CrossEncoderSelector:
    """Score every (query, choice description) pair with a cross-encoder; pick the highest.

    A cross-encoder trained here orders by its score blended with its embedder's cosine and with word
    match, at the shares its validation picked (evaluation.blend): a few hundred steps on a few hundred
    queries can leave it alone below the embedder it started from (docs/decisions.md, "Router
    cross-encoder blend"). Any other is scored alone. The model is loaded with a single output
    (`num_labels=1`). A sentence-transformers embedding folder (the bundled default) loads too, with a
    new untrained head: right for testing the plumbing, meaningless for routing.
    """

    local = True  # runs on this machine: a comparison times it again in steady state (routing.compare)

    def __init__(self, model_name_or_path: str, batch_size: int = 64, label: str | None = None):
        self.batch_size = batch_size
        self.name = label or f"cross-encoder {_model_label(model_name_or_path)}"
        self.blend = saved_blend(model_name_or_path)
        embedder = saved_first_stage(model_name_or_path) if self.blend != SCORES_ALONE else None
        self.first_stage = EmbeddingSelector(embedder, batch_size) if embedder else None
        if self.first_stage is None:
            self.blend = SCORES_ALONE
        # A blend that gives its own score no share routes at its embedder's cost: its weights stay unread.
        self.model = load_cross_encoder(model_name_or_path) if self.blend.reranker_share else None

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        scores = np.zeros((len(queries), len(choices)))  # a blend that gives its score no share needs none
        if self.blend.reranker_share:
            pairs = [(query, choice.description) for query in queries for choice in choices]
            scores = score_pairs(self.model, pairs, self.batch_size).reshape(len(queries), len(choices))
        if self.first_stage is None:
            return selections_from_scores(scores, time.perf_counter() - start)
        selections = selections_from_scores(self._blended(queries, choices, scores), time.perf_counter() - start)
        return [replace(selection, reason=self.blend.describe()) for selection in selections]

    def _blended(self, queries: list[str], choices: list[Choice], scores: np.ndarray) -> np.ndarray:
        first = [selection.scores for selection in self.first_stage.select(queries, choices)]
        every_choice = list(range(len(choices)))
        index = lexical_index(tuple(choice.description for choice in choices)) if self.blend.lexical else None
        words = [index.scores(query, every_choice) if index else None for query in queries]
        rows = zip(scores, first, words, strict=True)
        return np.array([blended(row, np.asarray(cosines), row_words, self.blend) for row, cosines, row_words in rows])


def _model_label(model_name_or_path: str | None) -> str:
    bundled = bundled_model_path()
    if not model_name_or_path or (bundled and resolve_model(model_name_or_path) == str(bundled)):
        return DEFAULT_BASE_MODEL
    path = Path(model_name_or_path)
    return path.name if path.exists() else model_name_or_path


def selections_from_scores(scores: np.ndarray, elapsed: float) -> list[Selection]:
    latency = elapsed / len(scores)
    return [Selection(index=int(np.argmax(row)), scores=[float(s) for s in row], latency=latency) for row in scores]


def check_choices(choices: list[Choice]) -> None:
    if not choices:
        raise RoutingError("a selector needs at least one choice")
    for choice in choices:
        if not isinstance(choice.description, str) or not choice.description.strip():
            raise RoutingError(f"choice {choice.id!r} ({choice.name}) has no description to select it by")
