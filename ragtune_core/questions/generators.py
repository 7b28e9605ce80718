"""The question generators' shared interface: a generator turns chunks into questions.

`OfflineQuestionGenerator` (offline.py) needs no network or key; `LLMQuestionGenerator`
(llm_generator.py) asks any OpenAI-compatible endpoint. Both return a `GenerationResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..corpus.documents import Chunk
from ..errors import RagtuneError
from ..llm.outcomes import Usage

GENERATORS = ("offline", "llm")
MAX_QUESTIONS_PER_CHUNK = 20
# One question in each style people search in (offline_styles.STYLES; the LLM prompt asks for them in turn).
DEFAULT_QUESTIONS_PER_CHUNK = 4

ProgressCallback = Callable[[int, int, int], None]  # (chunks done, chunks in all, chunks failed)


class GenerationError(RagtuneError):
    """Generation settings or input that cannot work; the message names the field or chunk."""


@dataclass
class GeneratedQuestion:
    chunk_id: str
    question: str


@dataclass
class GenerationResult:
    questions: list[GeneratedQuestion] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (chunk_id, why)
    usage: Usage = field(default_factory=Usage)
    cached: int = 0  # chunks answered from the cache, at no cost

    def summary(self) -> dict:
        return {
            "questions": len(self.questions),
            "failures": len(self.failures),
            "usage": self.usage.to_dict(),
            "cached": self.cached,
        }


class QuestionGenerator(Protocol):
    def generate(
        self, chunks: list[Chunk], n_per_chunk: int, on_progress: ProgressCallback | None = None
    ) -> GenerationResult: ...


def check_n(n_per_chunk: int) -> None:
    if not 1 <= n_per_chunk <= MAX_QUESTIONS_PER_CHUNK:
        raise GenerationError(f"n_per_chunk must be between 1 and {MAX_QUESTIONS_PER_CHUNK}, not {n_per_chunk}")
