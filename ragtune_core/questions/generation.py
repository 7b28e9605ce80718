"""A corpus in, a QA dataset out: `generate_questions` runs a generator over a workspace corpus.

It backs both the background job ("generate_questions") and the CLI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from pathlib import Path

from ..corpus.documents import Chunk, load_chunks, load_documents
from ..llm.config import PublicLLMConfig
from ..llm.outcomes import Usage
from ..store.shapes import FILE_SHAPE, parse
from ..store.workspace import Workspace
from .generators import (
    DEFAULT_QUESTIONS_PER_CHUNK,
    GENERATORS,
    GeneratedQuestion,
    GenerationError,
    GenerationResult,
    ProgressCallback,
    QuestionGenerator,
    check_n,
)
from .llm_generator import LLMQuestionGenerator, estimate_llm_usage
from .offline import OfflineQuestionGenerator
from .prompts import DEFAULT_QA_PROMPT, render_prompt
from .qa_dataset import QADataset

# Question ids are derived from (chunk, question), so regenerating the same data gives the same ids.
_QUESTION_ID_NAMESPACE = uuid.UUID("6f1c2a52-5d0e-4c36-9a57-2b7f0e1d9c11")


@dataclass
class GenerationRequest:
    """The parameters of a generation run, as the job receives them (no API key, ever)."""

    __pydantic_config__ = FILE_SHAPE  # how from_params checks them

    corpus_id: str
    n_per_chunk: int = DEFAULT_QUESTIONS_PER_CHUNK
    generator: str = "offline"
    llm: PublicLLMConfig = None
    prompt_template: str = DEFAULT_QA_PROMPT
    max_chunks: int | None = None
    chunk_ids: list[str] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise GenerationError(f"generator must be one of {', '.join(GENERATORS)}, not {self.generator!r}")
        if self.generator == "llm" and self.llm is None:
            raise GenerationError("llm: the LLM generator needs a base URL and model")
        check_n(self.n_per_chunk)
        if self.max_chunks is not None and self.max_chunks < 1:
            raise GenerationError(f"max_chunks must be at least 1, not {self.max_chunks}")
        render_prompt(self.prompt_template, "", 1)

    @classmethod
    def from_params(cls, params: dict) -> GenerationRequest:
        params = {**params, "prompt_template": params.get("prompt_template") or DEFAULT_QA_PROMPT}
        return parse(cls, params, "generation parameters", GenerationError)

    def to_params(self) -> dict:
        """JSON-ready parameters for jobs.start_job; the key travels in `self.llm.secret_env()`."""
        params = {f.name: getattr(self, f.name) for f in fields(self)}
        params["llm"] = self.llm.to_public_dict() if self.llm else None
        return params

    def make_generator(self, cache_dir: Path | None, titles: dict[str, str] | None = None) -> QuestionGenerator:
        """The generator; `titles` (document id -> title) tell the offline one what each document is called."""
        if self.generator == "offline":
            return OfflineQuestionGenerator(self.seed, titles=titles)
        return LLMQuestionGenerator(self.llm, self.prompt_template, cache_dir)


def select_chunks(
    chunks: list[Chunk], max_chunks: int | None = None, chunk_ids: list[str] | None = None
) -> list[Chunk]:
    """The chunks to ask about: those named, else all; with max_chunks, an even spread over the
    corpus (the first N would all come from its first documents)."""
    if chunk_ids:
        by_id = {c.chunk_id: c for c in chunks}
        missing = [c for c in chunk_ids if c not in by_id]
        if missing:
            raise GenerationError(f"chunk_ids: not in this corpus: {', '.join(missing[:5])}")
        chunks = [by_id[c] for c in chunk_ids]
    if max_chunks is None or max_chunks >= len(chunks):
        return list(chunks)
    return [chunks[i * len(chunks) // max_chunks] for i in range(max_chunks)]


def build_dataset(chunks: list[Chunk], generated: list[GeneratedQuestion]) -> QADataset:
    """A QADataset whose corpus is every chunk given (the retrieval corpus, distractors included)
    and whose queries each point at the chunk they were asked about."""
    by_id = {c.chunk_id: c for c in chunks}
    queries, relevant = {}, {}
    for item in generated:
        if item.chunk_id not in by_id:
            raise GenerationError(
                f"question {item.question!r} names chunk {item.chunk_id!r}, which is not in the corpus"
            )
        qid = str(uuid.uuid5(_QUESTION_ID_NAMESPACE, f"{item.chunk_id}\n{item.question}"))
        queries[qid] = item.question
        relevant[qid] = [item.chunk_id]
    dataset = QADataset(
        queries=queries,
        corpus={c.chunk_id: c.text for c in chunks},
        relevant_docs=relevant,
        passage_docs={c.chunk_id: c.doc_id for c in chunks},
    )
    dataset.validate()
    return dataset


def estimate_llm_run(ws: Workspace, request: GenerationRequest) -> tuple[Usage, int]:
    """Before an LLM run: the tokens it would use and how many of its chunks the cache answers (for free)."""
    if request.llm is None:
        raise GenerationError("only an LLM run has tokens to estimate")
    chunks = select_chunks(load_chunks(ws, request.corpus_id), request.max_chunks, request.chunk_ids)
    to_pay = request.make_generator(ws.dir("cache", "questions")).uncached(chunks, request.n_per_chunk)
    return estimate_llm_usage(to_pay, request.n_per_chunk, request.prompt_template), len(chunks) - len(to_pay)


def generate_questions(
    ws: Workspace, request: GenerationRequest, on_progress: ProgressCallback | None = None
) -> tuple[QADataset, GenerationResult]:
    """Run a request over its corpus; raises GenerationError when no chunk got a question.

    Example::

        dataset, result = generate_questions(ws, GenerationRequest(corpus_id, n_per_chunk=2))
        dataset.split = split_dataset(dataset, val_ratio=0.2, by="document")
        save_dataset(ws, "cities-qa", dataset, corpus_id, {"generator": "offline"})
    """
    ws.get_corpus(request.corpus_id)  # an unknown corpus is named before anything runs
    chunks = load_chunks(ws, request.corpus_id)
    selected = select_chunks(chunks, request.max_chunks, request.chunk_ids)
    if not selected:
        raise GenerationError(f"corpus {request.corpus_id!r} has no chunks to ask about")
    titles = {d.doc_id: d.title for d in load_documents(ws, request.corpus_id)}
    generator = request.make_generator(ws.dir("cache", "questions"), titles)
    result = generator.generate(selected, request.n_per_chunk, on_progress)
    if not result.questions:
        chunk_id, why = result.failures[0]
        raise GenerationError(
            f"no questions were generated: {len(result.failures)} chunks failed, e.g. chunk {chunk_id!r}: {why}"
        )
    return build_dataset(chunks, result.questions), result
