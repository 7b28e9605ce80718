"""A router dataset run in a workspace: its parameters (`RouterRequest`, as the job and the CLI receive
them), the documents it names, and running or estimating it over its corpus."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Annotated

import pydantic

from ...corpus.documents import Document, load_chunks, load_documents
from ...llm.config import PublicLLMConfig
from ...llm.outcomes import Usage
from ...store.shapes import FILE_SHAPE, parse
from ...store.workspace import Workspace
from ..generators import GenerationResult, ProgressCallback
from ..llm_generator import LLMQuestionGenerator, estimate_llm_usage
from ..qa_dataset import QADataset
from .asking import chunks_by_count, summary_bases
from .datasets import (
    DEFAULT_QUESTIONS_PER_DOCUMENT,
    DEFAULT_SUMMARY_VARIATIONS,
    check_router_settings,
    generate_router_dataset,
    query_targets,
    spread,
)
from .prompts import RouterPrompts
from .tools import RoutingError, Tool, check_tools, make_tools, tools_from_dicts, tools_to_dicts


def _tools_or_none(data: list[dict] | None) -> list[Tool] | None:
    return None if data is None else tools_from_dicts(data)


@dataclass
class RouterRequest:
    """The parameters of a router dataset run, as the job receives them (no API key, ever).

    `tools` None: the default vector and summary tool for each selected document."""

    __pydantic_config__ = FILE_SHAPE  # how from_params checks them

    corpus_id: str
    document_ids: list[str] | None = None  # None: every document of the corpus
    tools: Annotated[list[Tool] | None, pydantic.BeforeValidator(_tools_or_none)] = None
    questions_per_document: int = DEFAULT_QUESTIONS_PER_DOCUMENT
    summary_variations: int = DEFAULT_SUMMARY_VARIATIONS
    generator: str = "offline"
    llm: PublicLLMConfig = None
    prompts: Annotated[RouterPrompts, pydantic.BeforeValidator(RouterPrompts.from_dict)] = field(
        default_factory=RouterPrompts
    )
    seed: int = 0

    def __post_init__(self) -> None:
        check_router_settings(self.questions_per_document, self.summary_variations, self.generator, self.llm)
        if self.tools is not None:
            check_tools(self.tools)

    @classmethod
    def from_params(cls, params: dict) -> RouterRequest:
        return parse(cls, params, "router parameters", RoutingError)

    def to_params(self) -> dict:
        """JSON-ready parameters for jobs.start_job; the key travels in `self.llm.secret_env()`."""
        params = {f.name: getattr(self, f.name) for f in fields(self)}
        params["llm"] = self.llm.to_public_dict() if self.llm else None
        params["tools"] = tools_to_dicts(self.tools) if self.tools is not None else None
        params["prompts"] = self.prompts.to_dict()
        return params


def select_documents(documents: list[Document], wanted: list[str] | None) -> list[Document]:
    """The documents named by id or exact title, in the order named; None: all of them."""
    if wanted is None:
        return list(documents)
    chosen = []
    for key in wanted:
        matches = [d for d in documents if d.doc_id == key] or [d for d in documents if d.title == key]
        if not matches:
            raise RoutingError(f"no document with id or title {key!r} in this corpus")
        if len(matches) > 1:
            raise RoutingError(f"{len(matches)} documents are titled {key!r}: name the one you mean by its id")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def generate_router_for_corpus(
    ws: Workspace, request: RouterRequest, on_progress: ProgressCallback | None = None
) -> tuple[QADataset, GenerationResult]:
    """Run a request over its corpus (LLM answers cached with generate_questions' cache; with
    `request.llm.batch` sent through the Batch API, one batch per questions-per-chunk count and one for
    the summary requests)."""
    documents, tools = _request_inputs(ws, request)
    return generate_router_dataset(
        documents,
        load_chunks(ws, request.corpus_id),
        tools,
        request.questions_per_document,
        request.summary_variations,
        request.generator,
        request.llm,
        request.prompts,
        request.seed,
        ws.dir("cache", "questions"),
        on_progress,
    )


def estimate_router_run(ws: Workspace, request: RouterRequest) -> tuple[Usage, int]:
    """Before an LLM run: the tokens it would use and how many of its LLM requests the cache answers (for free)."""
    if request.llm is None:
        raise RoutingError("only an LLM run has tokens to estimate")
    documents, tools = _request_inputs(ws, request)
    titles, chunks_of, vector_tools, summary_tools, _ = query_targets(
        documents, load_chunks(ws, request.corpus_id), tools, request.questions_per_document, request.summary_variations
    )
    plan = [(c, n) for t in vector_tools for c, n in spread(chunks_of[t.document_id], request.questions_per_document)]
    calls = [(request.prompts.questions, n, group) for n, group in chunks_by_count(plan, titles).items()]
    calls.append(
        (request.prompts.summary, request.summary_variations, summary_bases(summary_tools, titles, request.prompts))
    )
    usage, cached = Usage(), 0
    for template, n, group in calls:
        to_pay = LLMQuestionGenerator(request.llm, template, ws.dir("cache", "questions")).uncached(group, n)
        asked = estimate_llm_usage(to_pay, n, template)
        usage.add(asked.prompt_tokens, asked.completion_tokens)
        cached += len(group) - len(to_pay)
    return usage, cached


def _request_inputs(ws: Workspace, request: RouterRequest) -> tuple[list[Document], list[Tool]]:
    """A request's documents and tools (the default ones when it names none)."""
    ws.get_corpus(request.corpus_id)  # an unknown corpus is named before anything runs
    documents = select_documents(load_documents(ws, request.corpus_id), request.document_ids)
    if not documents:
        raise RoutingError(f"corpus {request.corpus_id!r} has no documents")
    return documents, request.tools if request.tools is not None else make_tools(documents)
