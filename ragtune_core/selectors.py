"""Router selectors: pick the right tool (a choice with a description) for each query.

Three selectors share one interface (`Selector.select(queries, choices) -> list[Selection]`):

- `EmbeddingSelector`: cosine similarity between query and choice embeddings. The choice
  embeddings are computed once per distinct choice list and reused, and queries are embedded in
  batches, unlike llama-index's `EmbeddingSingleSelector`, which re-embeds every choice per query.
  It takes a fine-tuned workspace model folder as it is.
- `CrossEncoderSelector`: a cross-encoder scores every (query, choice description) pair.
- `LLMSelector`: an OpenAI-compatible chat model picks from a numbered list (llama-index's
  `LLMSingleSelector` prompt) and answers in JSON.

A selection that could not be made (an unparseable LLM answer, a failed request) has `index=None`
and an `error`; it is never silently turned into the first choice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from . import llm
from .evaluation import bootstrap_ci
from .models import DEFAULT_BASE_MODEL, ModelNotFound, bundled_model_path, load_embedder, resolve_model
from .qa_dataset import DatasetError, QADataset

CHOICE_CACHE_SIZE = 16  # distinct choice lists whose embeddings an EmbeddingSelector keeps

# llama-index's DEFAULT_SINGLE_SELECT_PROMPT_TMPL, followed by our structured-answer instruction.
SINGLE_SELECT_PROMPT = (
    "Some choices are given below. It is provided in a numbered list (1 to {num_choices}), "
    "where each item in the list corresponds to a summary.\n"
    "---------------------\n"
    "{context_list}"
    "\n---------------------\n"
    "Using only the choices above and not prior knowledge, return the choice that is most relevant "
    "to the question: '{query_str}'\n"
)
JSON_ANSWER_INSTRUCTION = (
    'Answer with a JSON object only: {{"choice": <the number of the choice, 1 to {num_choices}>, '
    '"reason": "<one sentence on why>"}}'
)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_NUMBER = re.compile(r"\b(\d+)\b")


@dataclass
class Choice:
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

    def __init__(self, model_name_or_path: str | None = None, batch_size: int = 64, label: str | None = None):
        self.model = load_embedder(model_name_or_path)
        self.batch_size = batch_size
        self.name = label or _model_label(model_name_or_path)
        self._choice_embeddings: dict[str, object] = {}  # hash of the descriptions -> unit vectors

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        _check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        choice_vectors = self.choice_embeddings(choices)
        query_vectors = self.model.encode_query(queries, batch_size=self.batch_size, convert_to_tensor=True,
                                                normalize_embeddings=True, show_progress_bar=False)
        scores = (query_vectors @ choice_vectors.T).cpu().numpy()
        return _selections_from_scores(scores, time.perf_counter() - start)

    def choice_embeddings(self, choices: list[Choice]):
        """Unit-length description embeddings, computed once per distinct list of descriptions."""
        descriptions = [c.description for c in choices]
        key = hashlib.sha256(json.dumps(descriptions).encode("utf-8")).hexdigest()
        if key not in self._choice_embeddings:
            if len(self._choice_embeddings) >= CHOICE_CACHE_SIZE:
                del self._choice_embeddings[next(iter(self._choice_embeddings))]  # the oldest
            self._choice_embeddings[key] = self.model.encode_document(
                descriptions, batch_size=self.batch_size, convert_to_tensor=True, normalize_embeddings=True,
                show_progress_bar=False)
        return self._choice_embeddings[key]


class CrossEncoderSelector:
    """Score every (query, choice description) pair with a cross-encoder; pick the highest.

    The model is loaded with a single output (`num_labels=1`). A sentence-transformers embedding
    folder (the bundled default) loads too, with a new untrained head: right for testing the
    plumbing, meaningless for routing.
    """

    def __init__(self, model_name_or_path: str, batch_size: int = 64, label: str | None = None):
        self.model = _load_cross_encoder(resolve_model(model_name_or_path))
        self.batch_size = batch_size
        self.name = label or f"cross-encoder {_model_label(model_name_or_path)}"

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        _check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        pairs = [(query, choice.description) for query in queries for choice in choices]
        flat = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        scores = np.asarray(flat, dtype=float).reshape(len(queries), len(choices))
        return _selections_from_scores(scores, time.perf_counter() - start)


@functools.lru_cache(maxsize=2)
def _load_cross_encoder(path: str):
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(path, num_labels=1)
    except OSError as exc:
        raise ModelNotFound(f"could not load cross-encoder {path!r}: {exc}") from exc


def _model_label(model_name_or_path: str | None) -> str:
    bundled = bundled_model_path()
    if not model_name_or_path or (bundled and resolve_model(model_name_or_path) == str(bundled)):
        return DEFAULT_BASE_MODEL
    path = Path(model_name_or_path)
    return path.name if path.exists() else model_name_or_path


def _selections_from_scores(scores: np.ndarray, elapsed: float) -> list[Selection]:
    latency = elapsed / len(scores)
    return [Selection(index=int(np.argmax(row)), scores=[float(s) for s in row], latency=latency) for row in scores]


def _check_choices(choices: list[Choice]) -> None:
    if not choices:
        raise ValueError("a selector needs at least one choice")
    for choice in choices:
        if not isinstance(choice.description, str) or not choice.description.strip():
            raise ValueError(f"choice {choice.id!r} ({choice.name}) has no description to select it by")


# --- LLM selector -----------------------------------------------------------------------------
class LLMSelector:
    """Ask a chat model to pick one numbered choice per query, at most `config.max_concurrency` at once.

    Requests go through `llm.complete_many` (429/5xx/timeout retries with backoff, honouring
    Retry-After), here with `max_retries` retries. The answer is requested as a JSON object; when
    the endpoint refuses JSON mode (HTTP 400), the selector asks again without it and parses the
    choice out of the text from then on.
    """

    def __init__(self, config: llm.LLMConfig, max_retries: int = 3):
        self.config = replace(config, max_retries=max_retries)
        self.name = f"LLM {config.model}"
        self.json_mode = True

    @staticmethod
    def availability(config: llm.LLMConfig | None) -> tuple[bool, str]:
        """(usable, reason) from the settings alone, without contacting the endpoint."""
        if config is None:
            return False, "no LLM is configured: set a base URL (or OpenAI), a model and, for OpenAI, an API key"
        try:
            llm.make_client(config)
        except llm.LLMConfigError as exc:
            return False, str(exc)
        return True, f"{config.model} at {config.base_url or llm.OPENAI_HOST}"

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        _check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        prompts = [[{"role": "user", "content": render_select_prompt(q, choices)}] for q in queries]
        outcomes = self._complete(prompts)
        if self.json_mode and _refuses_json_mode(outcomes):
            self.json_mode = False
            outcomes = self._complete(prompts)
        latency = (time.perf_counter() - start) / len(queries)
        return [_selection_from_outcome(outcome, len(choices), latency) for outcome in outcomes]

    def _complete(self, prompts: list[list[dict]]) -> list[llm.Outcome]:
        options = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        return llm.complete_many(self.config, prompts, **options)


def render_select_prompt(query: str, choices: list[Choice]) -> str:
    context_list = "\n\n".join(f"({i}) {choice.description}" for i, choice in enumerate(choices, start=1))
    prompt = SINGLE_SELECT_PROMPT.format(num_choices=len(choices), context_list=context_list, query_str=query)
    return prompt + JSON_ANSWER_INSTRUCTION.format(num_choices=len(choices))


def parse_choice(text: str, n_choices: int) -> tuple[int, str]:
    """(0-based index, reason) from an answer: JSON, a JSON object inside text, or a bare number.

    Raises ValueError("unparseable answer: ...") when no choice from 1 to n_choices can be read.
    """
    number, reason = _choice_number(text)
    if number is None:
        raise ValueError(f"unparseable answer: no choice number in {_excerpt(text)}")
    if not 1 <= number <= n_choices:
        raise ValueError(f"unparseable answer: choice {number} is not between 1 and {n_choices}")
    return number - 1, reason


def _choice_number(text: str) -> tuple[int | None, str]:
    for candidate in (text.strip(), *_JSON_OBJECT.findall(text)):
        try:
            answer = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(answer, list) and answer:  # llama-index's own format: a list of answers
            answer = answer[0]
        if isinstance(answer, dict) and "choice" in answer:
            return _as_int(answer["choice"]), str(answer.get("reason") or "")
        if isinstance(answer, int) and not isinstance(answer, bool):
            return answer, ""
    match = _NUMBER.search(text)
    return (int(match.group(1)), text.strip()) if match else (None, "")


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _refuses_json_mode(outcomes: list[llm.Outcome]) -> bool:
    """Every request was turned down as a bad request: the endpoint has no JSON mode."""
    return bool(outcomes) and all(isinstance(o, llm.Failure) and o.message.startswith("HTTP 400") for o in outcomes)


def _selection_from_outcome(outcome: llm.Outcome, n_choices: int, latency: float) -> Selection:
    if isinstance(outcome, llm.Failure):
        return Selection(index=None, scores=[], latency=latency, error=outcome.message)
    try:
        index, reason = parse_choice(outcome.content, n_choices)
    except ValueError as exc:
        return Selection(index=None, scores=[], latency=latency, error=str(exc))
    scores = [0.0] * n_choices
    scores[index] = 1.0
    return Selection(index=index, scores=scores, latency=latency, reason=reason)


# --- evaluation -------------------------------------------------------------------------------
@dataclass
class SelectorReport:
    name: str
    match_rate: float  # share of queries routed to the expected choice; failures count as misses
    match_rate_ci: tuple[float, float]  # bootstrap 95% interval
    mean_latency: float  # seconds per query
    failures: int  # queries with no selection
    picks: list[int | None]
    scores: list[list[float]]
    errors: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def router_task(dataset: QADataset, part: str | None = None) -> tuple[list[str], list[Choice], list[int]]:
    """(queries, choices, expected indices) of a router dataset, optionally one split part.

    The choices come from `extra["tools"]` when present (with their names), else from the corpus.
    """
    subset = dataset.subset(part)
    tools = dataset.extra.get("tools") or [{"id": cid, "name": cid, "description": text}
                                           for cid, text in dataset.corpus.items()]
    choices = [Choice(str(t["id"]), str(t.get("name") or t["id"]), str(t["description"])) for t in tools]
    position = {choice.id: i for i, choice in enumerate(choices)}
    queries, expected = [], []
    for qid, question in subset.queries.items():
        relevant = subset.relevant_docs.get(qid) or []
        if not relevant or relevant[0] not in position:
            raise DatasetError(f"query {qid!r} does not name one of the {len(choices)} tools as its answer")
        queries.append(question)
        expected.append(position[relevant[0]])
    return queries, choices, expected


def match_rate(selections: list[Selection], expected_indices: list[int]) -> float:
    return float(_matches([s.index for s in selections], expected_indices).mean())


def _matches(picks: list[int | None], expected: list[int]) -> np.ndarray:
    if len(picks) != len(expected):
        raise ValueError(f"{len(picks)} selections for {len(expected)} expected choices")
    if not picks:
        raise ValueError("no selections to score")
    return np.array([pick is not None and pick == want for pick, want in zip(picks, expected)], dtype=float)


def evaluate_selector(selector: Selector, queries: list[str], choices: list[Choice], expected: list[int],
                      n_resamples: int = 1000) -> SelectorReport:
    """Run `selector` on every query and score its picks against the expected choice indices."""
    if len(queries) != len(expected):
        raise ValueError(f"{len(queries)} queries but {len(expected)} expected choices")
    out_of_range = [e for e in expected if not 0 <= e < len(choices)]
    if out_of_range:
        raise ValueError(f"expected choice {out_of_range[0]} is not among the {len(choices)} choices")
    selections = selector.select(queries, choices)
    picks = [s.index for s in selections]
    matches = _matches(picks, expected)
    return SelectorReport(
        name=selector.name,
        match_rate=float(matches.mean()),
        match_rate_ci=bootstrap_ci(matches, n_resamples=n_resamples),
        mean_latency=float(np.mean([s.latency for s in selections])),
        failures=sum(pick is None for pick in picks),
        picks=picks,
        scores=[s.scores for s in selections],
        errors=[s.error for s in selections],
    )


def confusion_matrix(expected: list[int], picks: list[int | None], n_choices: int) -> np.ndarray:
    """Counts: row = expected choice, column = picked choice; the last column counts failures (none)."""
    if len(expected) != len(picks):
        raise ValueError(f"{len(picks)} picks for {len(expected)} expected choices")
    matrix = np.zeros((n_choices, n_choices + 1), dtype=int)
    for want, pick in zip(expected, picks):
        if not 0 <= want < n_choices or (pick is not None and not 0 <= pick < n_choices):
            raise ValueError(f"choice index out of range 0..{n_choices - 1}: expected {want}, picked {pick}")
        matrix[want, n_choices if pick is None else pick] += 1
    return matrix
