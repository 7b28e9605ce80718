"""A question-generation run's result, typed (generate_questions, generate_router_questions): the draft it
wrote, what it generated and failed, what its LLM calls were estimated to use and used, and the dataset the
draft was accepted as. Built by the job's adapter, parsed once where it is read (store.run_results)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..llm.outcomes import Usage
from ..store.records import RunRecord
from ..store.run_results import RunResult
from .generators import GenerationResult


@dataclass(kw_only=True)
class CostEstimate:
    """What an LLM run was estimated to use and cost before it ran (llm.pricing.cost_estimate)."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: the model's price is unknown
    cached_chunks: int = 0  # requests the cache answers for free


@dataclass(kw_only=True)
class DraftResult(RunResult):
    """What a generation run keeps. Every field has a default: the results of older RAGTune versions, and
    those a test or a damaged run wrote with fewer keys, load."""

    draft: str | None = None  # the run's draft.json, to review and accept
    questions: int = 0  # questions in the draft (a router draft: those kept, none fitting two documents)
    failures: int = 0  # chunks (or tools) the generator failed on
    usage: Usage = field(default_factory=Usage)  # tokens the LLM calls used (none offline)
    cached: int = 0  # chunks answered from the cache, at no cost
    tools: int | None = None  # a router draft's tools (None: a question draft)
    estimate: CostEstimate | None = None  # None offline
    cost_usd: float | None = None  # what the LLM calls cost; None offline or at an unknown price
    accepted_dataset_id: str | None = None  # set when the draft is accepted (questions.curation.accept_draft)

    @classmethod
    def of_generation(
        cls,
        draft: Path,
        result: GenerationResult,
        cost_usd: float | None = None,
        estimate: dict | None = None,
        questions: int | None = None,
        tools: int | None = None,
    ) -> DraftResult:
        """The result of a generation that saved its draft at `draft`; `questions` when fewer were kept
        than generated, `estimate` as llm.pricing.cost_estimate gives it."""
        return cls(
            draft=str(draft),
            questions=len(result.questions) if questions is None else questions,
            failures=len(result.failures),
            usage=Usage(result.usage.prompt_tokens, result.usage.completion_tokens),
            cached=result.cached,
            tools=tools,
            estimate=None if estimate is None else CostEstimate(**estimate),
            cost_usd=cost_usd,
        )


def pending_draft(run: RunRecord) -> bool:
    """Whether a generation run holds a draft not yet accepted (to review; its corpus still needed)."""
    result = DraftResult.of_run(run)
    return result is not None and result.draft is not None and result.accepted_dataset_id is None
