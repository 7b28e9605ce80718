"""Router datasets: the tools a RAG app routes between, and labelled queries to tune the selector.

Per document a "vector" tool answers specific facts and a "summary" tool holistic summaries (or
whatever tools the user defines). `generate_router_dataset` asks specific questions about chunks
spread over each document (labelled with its vector tool) and variations of a summary request
(labelled with its summary tool), reusing generation.py's question generators (asking.py asks them). The result is a
`QADataset(kind="router")` whose passages are the tools' descriptions, so the embedding training,
evaluation and dataset splits work on it unchanged; split by document holds out whole documents.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

from ...corpus.documents import Chunk, Document
from ...llm.config import LLMConfig
from ..generators import (
    GENERATORS,
    MAX_QUESTIONS_PER_CHUNK,
    GeneratedQuestion,
    GenerationError,
    GenerationResult,
    ProgressCallback,
)
from ..qa_dataset import QADataset
from .asking import PhasedProgress, ask_about_chunks, ask_for_summaries, merged, normalised, offline_section_questions
from .profiles import profile_documents
from .prompts import MAX_SUMMARY_VARIATIONS, RouterPrompts
from .tools import SUMMARY, VECTOR, RoutingError, Tool, check_tools, tools_to_dicts

MAX_QUESTIONS_PER_DOCUMENT = 200
# The defaults of a run (RouterRequest, generate_router_dataset): enough queries per document, in enough
# wordings, that a fine-tuned selector learns the documents' names and the specific/summary line.
DEFAULT_QUESTIONS_PER_DOCUMENT = 30
DEFAULT_SUMMARY_VARIATIONS = 15
# Query ids are derived from (tool, question), so regenerating the same data gives the same ids.
_QUERY_ID_NAMESPACE = uuid.UUID("0b7e5f0c-3c1d-4b8e-a6a4-7d2f1c9e5b30")


def generate_router_dataset(
    documents: list[Document],
    chunks: list[Chunk],
    tools: list[Tool],
    questions_per_document: int = DEFAULT_QUESTIONS_PER_DOCUMENT,
    summary_variations: int = DEFAULT_SUMMARY_VARIATIONS,
    generator: str = "offline",
    llm_config: LLMConfig | None = None,
    prompts: RouterPrompts | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[QADataset, GenerationResult]:
    """Labelled queries for `tools`: (dataset, result), where result.failures lists (chunk or tool
    id, why) and result.usage the LLM tokens spent.

    Vector tools get `questions_per_document` questions about chunks spread evenly over their
    document; summary tools get `summary_variations` summary requests. A question asked of two
    documents is dropped: it would have two right answers. Raises GenerationError when nothing
    was generated.

    The offline generator varies the wording (phrasing.py): a share of a document's specific
    questions ask about one of its sections as a whole ("What is Berlin's economy like?"), summary
    requests may list aspects from its headings, and a query may name its document by an alias from
    its text, or not at all where a landmark only that document names points at it ("What is the
    Brandenburg Gate?"); some queries are terse, long, lower case, without a question mark or with a
    typo. Each still points at one document.
    """
    prompts = prompts or RouterPrompts()
    check_router_settings(questions_per_document, summary_variations, generator, llm_config)
    titles, chunks_of, vector_tools, summary_tools, unaskable = query_targets(
        documents, chunks, tools, questions_per_document, summary_variations
    )
    skipped = GenerationResult(failures=unaskable)

    profiles = profile_documents(documents) if generator == "offline" else {}
    sections = {
        t.id: offline_section_questions(profiles.get(t.document_id), questions_per_document, seed) for t in vector_tools
    }
    plan = [
        (c, n)
        for t in vector_tools
        for c, n in spread(chunks_of[t.document_id], questions_per_document - len(sections[t.id]))
    ]
    progress = PhasedProgress(len(plan) + len(summary_tools), len(skipped.failures), on_progress)
    specific = ask_about_chunks(
        plan, titles, generator, llm_config, prompts.questions, seed, cache_dir, progress, profiles
    )
    summaries = ask_for_summaries(
        summary_tools, titles, summary_variations, generator, llm_config, prompts, seed, cache_dir, progress, profiles
    )
    about_sections = GenerationResult([GeneratedQuestion(tool_id, q) for tool_id, qs in sections.items() for q in qs])

    vector_of = {t.document_id: t.id for t in vector_tools}
    planned = {c.chunk_id: (i, c.doc_id) for i, (c, _) in enumerate(plan)}
    in_plan_order = sorted(specific.questions, key=lambda q: planned[q.chunk_id][0])  # not by questions per chunk
    labelled = [(vector_of[planned[q.chunk_id][1]], q.question) for q in in_plan_order]
    # A section question's and a summary request's id is its tool's.
    labelled += [(q.chunk_id, q.question) for q in about_sections.questions + summaries.questions]
    result = merged([skipped, specific, about_sections, summaries])
    dataset = _router_dataset(tools, labelled)
    if not dataset.queries:
        if result.failures:
            item, why = result.failures[0]
            raise GenerationError(f"no queries were generated: {len(result.failures)} failed, e.g. {item!r}: {why}")
        raise GenerationError("no queries were generated: no vector or summary tool got a query of its own")
    return dataset, result


def query_targets(
    documents: list[Document],
    chunks: list[Chunk],
    tools: list[Tool],
    questions_per_document: int,
    summary_variations: int,
) -> tuple[dict, dict, list[Tool], list[Tool], list[tuple[str, str]]]:
    """(titles, chunks of each document, vector tools to ask about, summary tools to ask for, (tool id,
    why) of those that should get queries but have nothing to ask about)."""
    check_tools(tools)
    titles = {d.doc_id: d.title for d in documents}
    for tool in tools:
        if tool.document_id is not None and tool.document_id not in titles:
            raise RoutingError(
                f"tool {tool.name!r} is for document {tool.document_id!r}, which is not among the documents given"
            )
    chunks_of = defaultdict(list)
    for chunk in chunks:
        chunks_of[chunk.doc_id].append(chunk)
    vector_tools = [t for t in tools if t.kind == VECTOR and questions_per_document]
    summary_tools = [t for t in tools if t.kind == SUMMARY and summary_variations]
    unaskable = _unaskable(vector_tools + summary_tools, chunks_of, titles)
    return (
        titles,
        chunks_of,
        [t for t in vector_tools if chunks_of.get(t.document_id)],
        [t for t in summary_tools if t.document_id is not None],
        unaskable,
    )


def check_router_settings(
    questions_per_document: int, summary_variations: int, generator: str, llm_config: LLMConfig | None
) -> None:
    if not 0 <= questions_per_document <= MAX_QUESTIONS_PER_DOCUMENT:
        raise RoutingError(
            f"questions_per_document must be between 0 and {MAX_QUESTIONS_PER_DOCUMENT}, not {questions_per_document}"
        )
    if not 0 <= summary_variations <= MAX_SUMMARY_VARIATIONS:
        raise RoutingError(
            f"summary_variations must be between 0 and {MAX_SUMMARY_VARIATIONS}, not {summary_variations}"
        )
    if not questions_per_document and not summary_variations:
        raise RoutingError("questions_per_document and summary_variations are both 0: nothing to generate")
    if generator not in GENERATORS:
        raise RoutingError(f"generator must be one of {', '.join(GENERATORS)}, not {generator!r}")
    if generator == "llm" and llm_config is None:
        raise RoutingError("llm: the LLM generator needs a base URL and model")


def _unaskable(tools: list[Tool], chunks_of: dict[str, list[Chunk]], titles: dict[str, str]) -> list[tuple[str, str]]:
    """(tool id, why) for the tools that should get queries but have nothing to ask about."""
    failures = []
    for tool in tools:
        if tool.document_id is None:
            failures.append((tool.id, f"{tool.kind} tool {tool.name!r} has no document to ask about"))
        elif tool.kind == VECTOR and not chunks_of.get(tool.document_id):
            failures.append((tool.id, f"document {titles[tool.document_id]!r} has no chunks to ask about"))
    return failures


def spread(chunks: list[Chunk], n: int) -> list[tuple[Chunk, int]]:
    """(chunk, questions to ask it): up to n chunks spread evenly over the document, the n questions
    shared out as evenly as can be (at most MAX_QUESTIONS_PER_CHUNK a chunk: a short document gets fewer)."""
    if n <= 0:
        return []
    picked = [chunks[i * len(chunks) // n] for i in range(n)] if n < len(chunks) else chunks
    k = len(picked)
    return [(c, min(MAX_QUESTIONS_PER_CHUNK, (i + 1) * n // k - i * n // k)) for i, c in enumerate(picked)]


def _router_dataset(tools: list[Tool], labelled: list[tuple[str, str]]) -> QADataset:
    tools_asked = defaultdict(set)
    for tool_id, question in labelled:
        tools_asked[normalised(question)].add(tool_id)
    queries, relevant = {}, {}
    for tool_id, question in labelled:
        if len(tools_asked[normalised(question)]) > 1:
            continue  # the same question about two documents: no single right tool
        qid = str(uuid.uuid5(_QUERY_ID_NAMESPACE, f"{tool_id}\n{normalised(question)}"))
        queries.setdefault(qid, question)
        relevant[qid] = [tool_id]
    dataset = QADataset(
        queries=queries,
        corpus={t.id: t.description for t in tools},
        relevant_docs=relevant,
        kind="router",
        passage_docs={t.id: t.document_id for t in tools if t.document_id is not None},
        extra={"tools": tools_to_dicts(tools)},
    )
    dataset.validate()
    return dataset
