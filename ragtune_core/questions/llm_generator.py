"""Questions from an OpenAI-compatible model, each chunk's answer cached on disk."""

from __future__ import annotations

import json
from pathlib import Path

from ..corpus.documents import Chunk
from ..llm.batch import complete_in_batch
from ..llm.client import complete_many, request_key
from ..llm.config import LLMConfig
from ..llm.outcomes import Completion, Outcome, Usage
from ..llm.tokens import estimate_tokens
from ..store.files import atomic_write_text
from .generators import GeneratedQuestion, GenerationError, GenerationResult, ProgressCallback, check_n
from .prompts import DEFAULT_QA_PROMPT, parse_questions, render_prompt

# What a completion costs in tokens per question asked, for cost previews.
ESTIMATED_TOKENS_PER_QUESTION = 30


class LLMQuestionGenerator:
    """Questions from an OpenAI-compatible model, each chunk's answer cached on disk.

    The cache key covers what decides the answer (endpoint, model, sampling, and the prompt: template,
    chunk text, questions asked for), so a changed prompt asks again while a repeated run costs nothing.
    Failed chunks are not cached: the next run retries them. With `config.batch` the chunks go
    through the Batch API, its state in the cache folder, so a run stopped while its batch is
    out finds the batch again when started over with the same chunks.
    """

    def __init__(self, config: LLMConfig, prompt_template: str = DEFAULT_QA_PROMPT, cache_dir: Path | None = None):
        render_prompt(prompt_template, "", 1)  # a template without {context_str} fails here, before any request
        self.config = config
        self.prompt_template = prompt_template
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def generate(
        self, chunks: list[Chunk], n_per_chunk: int, on_progress: ProgressCallback | None = None
    ) -> GenerationResult:
        check_n(n_per_chunk)
        result = GenerationResult()
        answers: dict[str, list[str]] = {}
        to_ask = []
        for chunk in chunks:
            cached = self._cached(chunk, n_per_chunk)
            if cached is not None:
                answers[chunk.chunk_id] = cached
                result.cached += 1
            elif not chunk.text.strip():
                result.failures.append((chunk.chunk_id, "the chunk is empty"))
            else:
                to_ask.append(chunk)
        done = len(chunks) - len(to_ask)
        if on_progress:
            on_progress(done, len(chunks), len(result.failures))

        def on_done(outcome: Outcome) -> None:
            nonlocal done
            chunk = to_ask[outcome.index]
            questions, error = self._questions(outcome, n_per_chunk)
            if questions:
                answers[chunk.chunk_id] = questions
                self._store(chunk, n_per_chunk, questions)
            else:
                result.failures.append((chunk.chunk_id, error))
            done += 1
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))

        prompts = [self._prompt(c.text, n_per_chunk) for c in to_ask]
        if not prompts:
            outcomes = []
        elif self.config.batch:
            outcomes = complete_in_batch(self.config, prompts, self._batch_state(chunks, n_per_chunk), on_done=on_done)
        else:
            outcomes = complete_many(
                self.config,
                prompts,
                on_done=on_done,
                expected_completion_tokens=n_per_chunk * ESTIMATED_TOKENS_PER_QUESTION,
            )
        for outcome in outcomes:
            if isinstance(outcome, Completion):
                result.usage.add(outcome.prompt_tokens, outcome.completion_tokens)
        result.questions = [GeneratedQuestion(c.chunk_id, q) for c in chunks for q in answers.get(c.chunk_id, [])]
        return result

    @staticmethod
    def _questions(outcome: Outcome, n: int) -> tuple[list[str], str]:
        if not isinstance(outcome, Completion):
            return [], outcome.message
        questions = parse_questions(outcome.content, n)
        if not questions:
            return [], f"the model's answer held no questions: {outcome.content[:80]!r}"
        return questions, ""

    def uncached(self, chunks: list[Chunk], n: int) -> list[Chunk]:
        """The chunks a run would pay for: those without an answer in the cache."""
        return [c for c in chunks if self._cached(c, n) is None]

    def _batch_state(self, chunks: list[Chunk], n: int) -> Path:
        """Where a batch run over these chunks keeps its state: the same run started again finds it."""
        if self.cache_dir is None:
            raise GenerationError("the batch mode needs a cache folder for its state (cache_dir)")
        key = request_key(self.config, [m for c in chunks for m in self._prompt(c.text, n)])
        return self.cache_dir / "batches" / f"{key}.json"

    def cache_key(self, chunk: Chunk, n: int) -> str:
        """Everything that changes the chunk's answer (client.request_key): endpoint, model, prompt, sampling."""
        return request_key(self.config, self._prompt(chunk.text, n))

    def _prompt(self, text: str, n: int) -> list[dict]:
        return [{"role": "user", "content": render_prompt(self.prompt_template, text, n)}]

    def _cache_path(self, chunk: Chunk, n: int) -> Path | None:
        if self.cache_dir is None:
            return None
        key = self.cache_key(chunk, n)
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cached(self, chunk: Chunk, n: int) -> list[str] | None:
        path = self._cache_path(chunk, n)
        if path is None or not path.exists():
            return None
        try:
            questions = json.loads(path.read_text(encoding="utf-8"))["questions"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is asked again and rewritten
        return questions if isinstance(questions, list) and questions else None

    def _store(self, chunk: Chunk, n: int, questions: list[str]) -> None:
        path = self._cache_path(chunk, n)
        if path is None:
            return
        atomic_write_text(path, json.dumps({"model": self.config.model, "questions": questions}))


def estimate_llm_usage(chunks: list[Chunk], n_per_chunk: int, prompt_template: str = DEFAULT_QA_PROMPT) -> Usage:
    """Tokens an LLM run would use, before it runs (for a cost preview with llm.estimate_cost)."""
    prompt_tokens = estimate_tokens(render_prompt(prompt_template, c.text, n_per_chunk) for c in chunks)
    return Usage(prompt_tokens, len(chunks) * n_per_chunk * ESTIMATED_TOKENS_PER_QUESTION)
