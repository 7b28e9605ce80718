"""Router datasets: the tools a RAG app routes between, and labelled queries to tune the selector.

Per document a "vector" tool answers specific facts and a "summary" tool holistic summaries (or
whatever tools the user defines). `generate_router_dataset` asks specific questions about chunks
spread over each document (labelled with its vector tool) and variations of a summary request
(labelled with its summary tool), reusing generation.py's question generators. The result is a
`QADataset(kind="router")` whose passages are the tools' descriptions, so the embedding training,
evaluation and dataset splits work on it unchanged; split by document holds out whole documents.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated

import pydantic

from ...corpus.documents import Chunk, Document, load_chunks, load_documents
from ...llm.client import LLMConfig, PublicLLMConfig
from ...llm.outcomes import Usage
from ...store.shapes import FILE_SHAPE, parse
from ...store.workspace import Workspace
from ..generators import (
    GENERATORS,
    MAX_QUESTIONS_PER_CHUNK,
    GeneratedQuestion,
    GenerationError,
    GenerationResult,
    ProgressCallback,
    QuestionGenerator,
)
from ..llm_generator import LLMQuestionGenerator, estimate_llm_usage
from ..offline import OfflineQuestionGenerator
from ..offline_styles import FACT
from ..qa_dataset import QADataset
from .phrasing import (
    LANDMARK_SHARE,
    SECTION_SHARE,
    landmark_questions,
    name_question,
    restyle,
    section_questions,
    summary_requests,
)
from .profiles import DocumentProfile, profile_documents
from .prompts import MAX_SUMMARY_VARIATIONS, SUMMARY_TEMPLATES, RouterPrompts, offline_summary_variations
from .tools import (
    SUMMARY,
    VECTOR,
    RoutingError,
    Tool,
    check_tools,
    fill_title,
    make_tools,
    tools_from_dicts,
    tools_to_dicts,
)

MAX_QUESTIONS_PER_DOCUMENT = 200
# The defaults of a run (RouterRequest, generate_router_dataset): enough queries per document, in enough
# wordings, that a fine-tuned selector learns the documents' names and the specific/summary line.
DEFAULT_QUESTIONS_PER_DOCUMENT = 30
DEFAULT_SUMMARY_VARIATIONS = 15
# The offline generator asks each chunk this many more questions than it keeps, to replace those it drops.
_SPARE_QUESTIONS = 2
# A router's specific questions are fact questions that phrasing.restyle words as people would.
FACT_ONLY = (FACT,)
# Query ids are derived from (tool, question), so regenerating the same data gives the same ids.
_QUERY_ID_NAMESPACE = uuid.UUID("0b7e5f0c-3c1d-4b8e-a6a4-7d2f1c9e5b30")

DOCUMENT_LINE = "Document: {title}\n\n"
# Question words lowered when a question is put after "Regarding {title}, ".
_QUESTION_OPENERS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "does",
    "do",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "has",
    "have",
    "had",
    "name",
    "describe",
    "explain",
    "list",
    "in",
    "according",
}


# router datasets -------------------------------------------------------------------------------------
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
    _check_settings(questions_per_document, summary_variations, generator, llm_config)
    titles, chunks_of, vector_tools, summary_tools, unaskable = _targets(
        documents, chunks, tools, questions_per_document, summary_variations
    )
    skipped = GenerationResult(failures=unaskable)

    profiles = profile_documents(documents) if generator == "offline" else {}
    sections = {
        t.id: _section_questions(profiles.get(t.document_id), questions_per_document, seed) for t in vector_tools
    }
    plan = [
        (c, n)
        for t in vector_tools
        for c, n in _spread(chunks_of[t.document_id], questions_per_document - len(sections[t.id]))
    ]
    progress = _Progress(len(plan) + len(summary_tools), len(skipped.failures), on_progress)
    specific = _ask_about_chunks(
        plan, titles, generator, llm_config, prompts.questions, seed, cache_dir, progress, profiles
    )
    summaries = _ask_for_summaries(
        summary_tools, titles, summary_variations, generator, llm_config, prompts, seed, cache_dir, progress, profiles
    )
    about_sections = GenerationResult([GeneratedQuestion(tool_id, q) for tool_id, qs in sections.items() for q in qs])

    vector_of = {t.document_id: t.id for t in vector_tools}
    planned = {c.chunk_id: (i, c.doc_id) for i, (c, _) in enumerate(plan)}
    in_plan_order = sorted(specific.questions, key=lambda q: planned[q.chunk_id][0])  # not by questions per chunk
    labelled = [(vector_of[planned[q.chunk_id][1]], q.question) for q in in_plan_order]
    # A section question's and a summary request's id is its tool's.
    labelled += [(q.chunk_id, q.question) for q in about_sections.questions + summaries.questions]
    result = _merged([skipped, specific, about_sections, summaries])
    dataset = _router_dataset(tools, labelled)
    if not dataset.queries:
        if result.failures:
            item, why = result.failures[0]
            raise GenerationError(f"no queries were generated: {len(result.failures)} failed, e.g. {item!r}: {why}")
        raise GenerationError("no queries were generated: no vector or summary tool got a query of its own")
    return dataset, result


def _targets(
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


def _check_settings(
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


def _section_questions(profile: DocumentProfile | None, questions_per_document: int, seed: int) -> list[str]:
    """The offline generator's questions about one section each (SECTION_SHARE of a document's) and
    about one landmark each (LANDMARK_SHARE), restyled; the rest are asked of its chunks."""
    if profile is None:
        return []
    questions = section_questions(profile, round(questions_per_document * SECTION_SHARE), seed) + landmark_questions(
        profile, round(questions_per_document * LANDMARK_SHARE), seed
    )
    return _restyled(questions, profile, seed, "section")


def _restyled(questions: list[str], profile: DocumentProfile, seed: int, kind: str, terse: bool = False) -> list[str]:
    """Each question restyled (phrasing.restyle), deterministic per seed and question; a restyled
    question that repeats another keeps its first wording."""
    styled, seen = [], set()
    for question in questions:
        variant = restyle(question, random.Random(f"{seed}:{kind}:{profile.doc_id}:{question}"), profile, terse)
        key = _normalised(variant)
        if key in seen:
            variant, key = question, _normalised(question)
        if key not in seen:
            seen.add(key)
            styled.append(variant)
    return styled


def _spread(chunks: list[Chunk], n: int) -> list[tuple[Chunk, int]]:
    """(chunk, questions to ask it): up to n chunks spread evenly over the document, the n questions
    shared out as evenly as can be (at most MAX_QUESTIONS_PER_CHUNK a chunk: a short document gets fewer)."""
    if n <= 0:
        return []
    picked = [chunks[i * len(chunks) // n] for i in range(n)] if n < len(chunks) else chunks
    k = len(picked)
    return [(c, min(MAX_QUESTIONS_PER_CHUNK, (i + 1) * n // k - i * n // k)) for i, c in enumerate(picked)]


class _Progress:
    """One (done, total, failed) count over generation calls made one after another."""

    def __init__(self, total: int, failed: int, callback: ProgressCallback | None):
        self.total, self.done, self.failed, self.callback = total, 0, failed, callback

    def phase(self, size: int) -> ProgressCallback:
        done_before, failed_before = self.done, self.failed

        def report(done: int, total: int, failed: int) -> None:
            self.done, self.failed = done_before + done, failed_before + failed
            if self.callback:
                self.callback(self.done, self.total, self.failed)

        self.done += size  # where the next phase starts, however this one reports
        return report


def _ask_about_chunks(
    plan: list[tuple[Chunk, int]],
    titles: dict[str, str],
    generator: str,
    llm_config: LLMConfig | None,
    template: str,
    seed: int,
    cache_dir: Path | None,
    progress: _Progress,
    profiles: dict[str, DocumentProfile] | None = None,
) -> GenerationResult:
    """Ask each planned chunk its number of questions (one generator call per distinct number), each
    question naming its document. The LLM reads each chunk under its document's title to that end;
    the offline generator's questions are named and restyled with the documents' `profiles`
    (`_named_offline`), asking a few spare questions a chunk to replace those that name another document."""
    if generator == "offline" and profiles:
        return _named_offline(plan, seed, progress, profiles)
    question_generator: QuestionGenerator = (
        LLMQuestionGenerator(llm_config, template, cache_dir)
        if generator == "llm"
        else OfflineQuestionGenerator(seed, styles=FACT_ONLY)
    )
    by_count = _by_count(plan, titles if generator == "llm" else None)
    result = _merged(
        [question_generator.generate(group, n, progress.phase(len(group))) for n, group in by_count.items()]
    )
    title_of = {chunk.chunk_id: titles[chunk.doc_id] for chunk, _ in plan}
    result.questions = [replace(q, question=name_document(q.question, title_of[q.chunk_id])) for q in result.questions]
    return result


def _by_count(plan: list[tuple[Chunk, int]], titles: dict[str, str] | None) -> dict[int, list[Chunk]]:
    """The planned chunks grouped by the number of questions to ask them (one generator call a group),
    each under its document's title when `titles` are given (for the LLM)."""
    by_count: dict[int, list[Chunk]] = defaultdict(list)
    for chunk, n in plan:
        if titles is not None:
            chunk = replace(chunk, text=DOCUMENT_LINE.format(title=titles[chunk.doc_id]) + chunk.text)
        by_count[n].append(chunk)
    return by_count


def _summary_bases(tools: list[Tool], titles: dict[str, str], prompts: RouterPrompts) -> list[Chunk]:
    """The base summary request of each tool as a chunk's text, so the LLM generator's cache, retries
    and batches serve summary variations too."""
    return [Chunk(t.id, t.document_id, fill_title(prompts.summary_question, titles[t.document_id])) for t in tools]


def _named_offline(
    plan: list[tuple[Chunk, int]], seed: int, progress: _Progress, profiles: dict[str, DocumentProfile]
) -> GenerationResult:
    """The offline generator's questions for `plan`, each made to point at its document
    (phrasing.name_question) and restyled, `n` a chunk where it offers that many."""
    wanted = dict((c.chunk_id, n) for c, n in plan)
    by_count: dict[int, list[Chunk]] = defaultdict(list)
    for chunk, n in plan:
        by_count[min(MAX_QUESTIONS_PER_CHUNK, n + _SPARE_QUESTIONS)].append(chunk)
    generator = OfflineQuestionGenerator(seed, styles=FACT_ONLY)
    result = _merged([generator.generate(group, n, progress.phase(len(group))) for n, group in by_count.items()])
    doc_of = {c.chunk_id: c.doc_id for c, _ in plan}
    kept: list[GeneratedQuestion] = []
    taken: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for q in result.questions:
        if taken[q.chunk_id] >= wanted[q.chunk_id]:
            continue
        profile = profiles[doc_of[q.chunk_id]]
        rng = random.Random(f"{seed}:specific:{q.chunk_id}:{q.question}")
        named = name_question(q.question, profile, rng)
        if named is None:
            continue  # it names another document too: no single right tool
        styled = restyle(named, rng, profile, allow_terse=True)
        if _normalised(styled) in seen:
            styled = named
        if _normalised(styled) in seen:
            continue
        seen.add(_normalised(styled))
        taken[q.chunk_id] += 1
        kept.append(replace(q, question=styled))
    result.questions = kept
    short = [
        c.chunk_id for c, n in plan if taken[c.chunk_id] == 0 and c.chunk_id not in {f for f, _ in result.failures}
    ]
    result.failures += [(chunk_id, "every question asked of the chunk named another document") for chunk_id in short]
    return result


def _ask_for_summaries(
    tools: list[Tool],
    titles: dict[str, str],
    n: int,
    generator: str,
    llm_config: LLMConfig | None,
    prompts: RouterPrompts,
    seed: int,
    cache_dir: Path | None,
    progress: _Progress,
    profiles: dict[str, DocumentProfile] | None = None,
) -> GenerationResult:
    """`n` summary requests per summary tool, each GeneratedQuestion's chunk_id being the tool's id."""
    if not tools:
        return GenerationResult()
    report = progress.phase(len(tools))
    if generator == "llm":
        return LLMQuestionGenerator(llm_config, prompts.summary, cache_dir).generate(
            _summary_bases(tools, titles, prompts), n, report
        )
    if profiles:
        result = GenerationResult(
            [
                GeneratedQuestion(t.id, q)
                for t in tools
                for q in _restyled(
                    summary_requests(profiles[t.document_id], n, SUMMARY_TEMPLATES, seed),
                    profiles[t.document_id],
                    seed,
                    "summary",
                )
            ]
        )
    else:
        result = GenerationResult(
            [
                GeneratedQuestion(t.id, q)
                for t in tools
                for q in offline_summary_variations(titles[t.document_id], n, seed)
            ]
        )
    report(len(tools), len(tools), 0)
    return result


def names_document(question: str, title: str) -> bool:
    """Does the question name the document: its title as a word or phrase, in any case?"""
    return re.search(rf"(?<!\w){re.escape(title.strip())}(?!\w)", question, re.IGNORECASE) is not None


def name_document(question: str, title: str) -> str:
    """The question, made to name its document when it does not: a router query that says nothing of
    its document ("What is Official known for?") has no single right tool among several documents."""
    if names_document(question, title):
        return question
    first, _, rest = question.partition(" ")
    if first.lower() in _QUESTION_OPENERS:
        first = first.lower()
    return f"Regarding {title.strip()}, {first} {rest}".rstrip()


def _merged(results: list[GenerationResult]) -> GenerationResult:
    merged = GenerationResult()
    for part in results:
        merged.questions += part.questions
        merged.failures += part.failures
        merged.usage.add(part.usage.prompt_tokens, part.usage.completion_tokens)
        merged.cached += part.cached
    return merged


def _router_dataset(tools: list[Tool], labelled: list[tuple[str, str]]) -> QADataset:
    tools_asked = defaultdict(set)
    for tool_id, question in labelled:
        tools_asked[_normalised(question)].add(tool_id)
    queries, relevant = {}, {}
    for tool_id, question in labelled:
        if len(tools_asked[_normalised(question)]) > 1:
            continue  # the same question about two documents: no single right tool
        qid = str(uuid.uuid5(_QUERY_ID_NAMESPACE, f"{tool_id}\n{_normalised(question)}"))
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


def _normalised(question: str) -> str:
    return " ".join(question.lower().split())


# workspace runs: the job and the CLI -------------------------------------------------------------------
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
        _check_settings(self.questions_per_document, self.summary_variations, self.generator, self.llm)
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
    titles, chunks_of, vector_tools, summary_tools, _ = _targets(
        documents, load_chunks(ws, request.corpus_id), tools, request.questions_per_document, request.summary_variations
    )
    plan = [(c, n) for t in vector_tools for c, n in _spread(chunks_of[t.document_id], request.questions_per_document)]
    calls = [(request.prompts.questions, n, group) for n, group in _by_count(plan, titles).items()]
    calls.append(
        (request.prompts.summary, request.summary_variations, _summary_bases(summary_tools, titles, request.prompts))
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
