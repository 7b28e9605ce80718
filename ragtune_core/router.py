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
import string
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from .documents import Chunk, Document
from .generation import (
    DEFAULT_QA_PROMPT, GENERATORS, MAX_QUESTIONS_PER_CHUNK, GeneratedQuestion, GenerationError, GenerationResult,
    LLMQuestionGenerator, OfflineQuestionGenerator, ProgressCallback, QuestionGenerator, job_progress, render_prompt,
    save_draft,
)
from .llm import LLMConfig
from .qa_dataset import TRAIN, VAL, QADataset
from .workspace import Workspace

VECTOR, SUMMARY = "vector", "summary"
TEMPLATE_FIELDS = ("title", "slug")
MAX_QUESTIONS_PER_DOCUMENT = 200
SLUG_LENGTH = 48
# Query ids are derived from (tool, question), so regenerating the same data gives the same ids.
_QUERY_ID_NAMESPACE = uuid.UUID("0b7e5f0c-3c1d-4b8e-a6a4-7d2f1c9e5b30")

# Router questions are asked without their passage, among questions about other documents, so each
# must say which document it is about; the chunk reaches the LLM under a "Document: {title}" line.
DEFAULT_ROUTER_QA_PROMPT = DEFAULT_QA_PROMPT + (
    " The questions will be asked without the context, among questions about other documents: name the "
    "document given in the context's first line (its subject) in every question."
)
DOCUMENT_LINE = "Document: {title}\n\n"
# Question words lowered when a question is put after "Regarding {title}, ".
_QUESTION_OPENERS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
                     "were", "does", "do", "did", "can", "could", "should", "would", "will", "has", "have", "had",
                     "name", "describe", "explain", "list", "in", "according"}

DEFAULT_SUMMARY_QUESTION = "Can you give me a summary of {title}?"
# {context_str}: the base summary question; the LLM answer is read with generation.parse_questions,
# which keeps only lines that read as questions, hence "end with a question mark".
DEFAULT_SUMMARY_PROMPT = (
    "Here is a request a user could make about a document:\n"
    "---------------------\n"
    "{context_str}\n"
    "---------------------\n"
    "Write {num_questions_per_chunk} different variations of this request. Each one must still ask for a "
    "holistic summary of everything about the document's subject, not for a specific fact or section, and "
    "must name that subject. Vary the wording, tone and length. Write one variation per line, each ending "
    "with a question mark, and nothing else."
)
# The offline generator's summary requests: as many as the most variations one may ask for.
SUMMARY_TEMPLATES = (
    "Summarize everything about {title}.",
    "Give me a holistic overview of {title}.",
    "What are the main things to know about {title}?",
    "Can you give me a summary of {title}?",
    "Provide a comprehensive summary of {title}.",
    "Tell me everything important about {title}.",
    "What is {title} all about, in a nutshell?",
    "Write a broad overview covering all aspects of {title}.",
    "I need a complete rundown of {title}: what should I know?",
    "Could you sum up the key points about {title}?",
    "Give me the big picture of {title}.",
    "What is the general overview of {title}, from start to finish?",
    "Describe {title} as a whole.",
    "Outline all of the essential information about {title}.",
    "Briefly summarize the whole of {title}.",
    "What would an overall summary of {title} say?",
    "Give a high-level summary of everything there is about {title}.",
    "Can you recap the most important facts about {title} in one overview?",
    "Explain {title} in summary form, covering every major topic.",
    "What would a complete summary of {title} include?",
)

# An LLM is asked for at most as many as per chunk; the offline generator has that many phrasings.
MAX_SUMMARY_VARIATIONS = min(MAX_QUESTIONS_PER_CHUNK, len(SUMMARY_TEMPLATES))


class RouterError(ValueError):
    """Router tools or settings that cannot work; the message names the tool, template or field."""


# tools ---------------------------------------------------------------------------------------------
def check_placeholders(text: str, where: str, allowed: tuple[str, ...] = TEMPLATE_FIELDS) -> None:
    """Raise RouterError unless `text` is non-empty and uses only the {allowed} placeholders."""
    if not isinstance(text, str) or not text.strip():
        raise RouterError(f"{where} is empty")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise RouterError(f"{where}: {exc} in {text!r} (write {{{{ and }}}} for literal braces)") from exc
    known = ", ".join("{" + a + "}" for a in allowed)
    for name in names:
        if name not in allowed:
            raise RouterError(f"{where}: unknown placeholder {{{name}}} in {text!r}; use {known}")


def fill_title(template: str, title: str) -> str:
    """A checked template (see `check_placeholders`) with a document's {title} and {slug}."""
    return template.format(title=title, slug=slugify(title))


def slugify(title: str) -> str:
    """An identifier-safe form of a title ("São Paulo" -> "sao_paulo")."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:SLUG_LENGTH].strip("_") or "document"


@dataclass
class ToolTemplate:
    """How each document's tool of one kind is named and described; {title} and {slug} are filled in."""

    kind: str
    name: str
    description: str

    def __post_init__(self) -> None:
        if not self.kind.strip():
            raise RouterError("a tool template needs a kind (e.g. 'vector' or 'summary')")
        for field_name in ("name", "description"):
            check_placeholders(getattr(self, field_name), f"the {self.kind} template's {field_name}")

    def fill(self, document: Document) -> tuple[str, str]:
        """(name, description) for one document."""
        return fill_title(self.name, document.title), fill_title(self.description, document.title)


DEFAULT_TOOL_TEMPLATES = (
    ToolTemplate(VECTOR, "vector_tool_{slug}",
                 "Useful for questions related to specific aspects of {title} (e.g. the history, arts and culture, "
                 "sports, demographics, or more)."),
    ToolTemplate(SUMMARY, "summary_tool_{slug}",
                 "Useful for any requests that require a holistic summary of EVERYTHING about {title}. For "
                 "questions about more specific sections, please use the vector tool."),
)


@dataclass
class Tool:
    id: str
    name: str
    description: str
    document_id: str | None  # None: a tool of the app's own, tied to no document
    kind: str  # "vector" and "summary" get generated queries; other kinds are choices only


def make_tools(documents: list[Document], templates: tuple[ToolTemplate, ...] | list[ToolTemplate]
               = DEFAULT_TOOL_TEMPLATES) -> list[Tool]:
    """One tool per document and template, with ids "<kind>:<doc_id>"; repeated names get _2, _3..."""
    _check_unique([t.kind for t in templates], "tool template kind")
    _check_unique([d.doc_id for d in documents], "document id")
    tools, taken = [], set()
    for document in documents:
        for template in templates:
            name, description = template.fill(document)
            unique_name, n = name, 1
            while unique_name in taken:
                n += 1
                unique_name = f"{name}_{n}"
            taken.add(unique_name)
            tools.append(Tool(f"{template.kind}:{document.doc_id}", unique_name, description, document.doc_id,
                              template.kind))
    return tools


def check_tools(tools: list[Tool]) -> None:
    """Ids and names filled in and unique, and at most one vector and one summary tool per document
    (a query must have one right answer)."""
    for tool in tools:
        for field_name in ("id", "name", "description", "kind"):
            value = getattr(tool, field_name)
            if not isinstance(value, str) or not value.strip():
                raise RouterError(f"tool {tool.name or tool.id!r}: {field_name} must be a non-empty string")
        if tool.document_id is not None and not isinstance(tool.document_id, str):
            raise RouterError(f"tool {tool.name!r}: document_id must be a string or null")
    _check_unique([t.id for t in tools], "tool id")
    _check_unique([t.name for t in tools], "tool name")
    owners: dict[tuple[str, str], str] = {}
    for tool in tools:
        if tool.kind in (VECTOR, SUMMARY) and tool.document_id is not None:
            other = owners.setdefault((tool.kind, tool.document_id), tool.name)
            if other != tool.name:
                raise RouterError(f"document {tool.document_id!r} has two {tool.kind} tools, {other!r} and "
                                  f"{tool.name!r}: its queries could not have one right answer")


def tools_to_dicts(tools: list[Tool]) -> list[dict]:
    return [asdict(tool) for tool in tools]


def tools_from_dicts(data: list[dict]) -> list[Tool]:
    """Tools from plain data (an edited table, a job's parameters), checked with `check_tools`."""
    if not isinstance(data, list):
        raise RouterError("tools must be a list of objects")
    known = {f.name for f in fields(Tool)}
    tools = []
    for position, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise RouterError(f"tool {position} must be an object, not {type(item).__name__}")
        label = item.get("name") or item.get("id") or position
        unknown = sorted(set(item) - known)
        missing = sorted(known - set(item) - {"document_id"})
        if unknown or missing:
            problem = f"unknown field(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
            raise RouterError(f"tool {label!r}: {problem}")
        tools.append(Tool(**{"document_id": None, **item}))
    check_tools(tools)
    return tools


def dataset_tools(dataset: QADataset) -> list[Tool]:
    """A router dataset's tools; a dataset without stored tools (an import) gets one per passage."""
    stored = dataset.extra.get("tools")
    if stored:
        return tools_from_dicts(stored)
    return [Tool(pid, pid, text, dataset.passage_docs.get(pid), "") for pid, text in dataset.corpus.items()]


def _check_unique(values: list[str], what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise RouterError(f"{what} {value!r} is used more than once")
        seen.add(value)


# prompts and offline summary requests ------------------------------------------------------------------
@dataclass
class RouterPrompts:
    """The editable prompts: `questions` for specific questions about a chunk (generation.py's
    format), `summary` for variations of `summary_question` (filled with the document's {title})."""

    questions: str = DEFAULT_ROUTER_QA_PROMPT
    summary: str = DEFAULT_SUMMARY_PROMPT
    summary_question: str = DEFAULT_SUMMARY_QUESTION

    def __post_init__(self) -> None:
        for field_name in ("questions", "summary", "summary_question"):
            if not isinstance(getattr(self, field_name), str):
                raise RouterError(f"prompts.{field_name} must be text")
        render_prompt(self.questions, "", 1)  # names a missing {context_str}
        if "{context_str}" not in self.summary:
            raise RouterError("prompts.summary must contain {context_str}, where the base summary question goes")
        check_placeholders(self.summary_question, "prompts.summary_question")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> RouterPrompts:
        data = data or {}
        if not isinstance(data, dict):
            raise RouterError("prompts must be an object with questions, summary and summary_question")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise RouterError(f"unknown prompt(s): {', '.join(unknown)}; use questions, summary, summary_question")
        return cls(**{k: v for k, v in data.items() if v})  # an empty prompt means the default


def offline_summary_variations(title: str, n: int, seed: int = 0) -> list[str]:
    """`n` distinct summary requests about `title`, drawn from SUMMARY_TEMPLATES (deterministic per seed)."""
    if not 1 <= n <= MAX_SUMMARY_VARIATIONS:
        raise RouterError(f"summary_variations must be between 1 and {MAX_SUMMARY_VARIATIONS}, not {n}")
    rng = random.Random(f"{seed}:{title}")
    return [template.format(title=title) for template in rng.sample(SUMMARY_TEMPLATES, n)]


# router datasets -------------------------------------------------------------------------------------
def generate_router_dataset(documents: list[Document], chunks: list[Chunk], tools: list[Tool],
                            questions_per_document: int = 10, summary_variations: int = 5,
                            generator: str = "offline", llm_config: LLMConfig | None = None,
                            prompts: RouterPrompts | None = None, seed: int = 0, cache_dir: Path | None = None,
                            on_progress: ProgressCallback | None = None) -> tuple[QADataset, GenerationResult]:
    """Labelled queries for `tools`: (dataset, result), where result.failures lists (chunk or tool
    id, why) and result.usage the LLM tokens spent.

    Vector tools get `questions_per_document` questions about chunks spread evenly over their
    document; summary tools get `summary_variations` summary requests. A question asked of two
    documents is dropped: it would have two right answers. Raises GenerationError when nothing
    was generated.
    """
    prompts = prompts or RouterPrompts()
    _check_settings(questions_per_document, summary_variations, generator, llm_config)
    check_tools(tools)
    titles = {d.doc_id: d.title for d in documents}
    for tool in tools:
        if tool.document_id is not None and tool.document_id not in titles:
            raise RouterError(f"tool {tool.name!r} is for document {tool.document_id!r}, "
                              "which is not among the documents given")
    chunks_of = defaultdict(list)
    for chunk in chunks:
        chunks_of[chunk.doc_id].append(chunk)
    vector_tools = [t for t in tools if t.kind == VECTOR and questions_per_document]
    summary_tools = [t for t in tools if t.kind == SUMMARY and summary_variations]
    skipped = GenerationResult(failures=_unaskable(vector_tools + summary_tools, chunks_of, titles))
    vector_tools = [t for t in vector_tools if chunks_of.get(t.document_id)]
    summary_tools = [t for t in summary_tools if t.document_id is not None]

    plan = [(c, n) for t in vector_tools for c, n in _spread(chunks_of[t.document_id], questions_per_document)]
    progress = _Progress(len(plan) + len(summary_tools), len(skipped.failures), on_progress)
    specific = _ask_about_chunks(plan, titles, generator, llm_config, prompts.questions, seed, cache_dir, progress)
    summaries = _ask_for_summaries(summary_tools, titles, summary_variations, generator, llm_config, prompts, seed,
                                   cache_dir, progress)

    vector_of = {t.document_id: t.id for t in vector_tools}
    planned = {c.chunk_id: (i, c.doc_id) for i, (c, _) in enumerate(plan)}
    in_plan_order = sorted(specific.questions, key=lambda q: planned[q.chunk_id][0])  # not by questions per chunk
    labelled = [(vector_of[planned[q.chunk_id][1]], q.question) for q in in_plan_order]
    labelled += [(q.chunk_id, q.question) for q in summaries.questions]  # a summary request's id is its tool's
    result = _merged([skipped, specific, summaries])
    dataset = _router_dataset(tools, labelled)
    if not dataset.queries:
        if result.failures:
            item, why = result.failures[0]
            raise GenerationError(f"no queries were generated: {len(result.failures)} failed, e.g. {item!r}: {why}")
        raise GenerationError("no queries were generated: no vector or summary tool got a query of its own")
    return dataset, result


def _check_settings(questions_per_document: int, summary_variations: int, generator: str,
                    llm_config: LLMConfig | None) -> None:
    if not 0 <= questions_per_document <= MAX_QUESTIONS_PER_DOCUMENT:
        raise RouterError(f"questions_per_document must be between 0 and {MAX_QUESTIONS_PER_DOCUMENT}, "
                          f"not {questions_per_document}")
    if not 0 <= summary_variations <= MAX_SUMMARY_VARIATIONS:
        raise RouterError(f"summary_variations must be between 0 and {MAX_SUMMARY_VARIATIONS}, not {summary_variations}")
    if not questions_per_document and not summary_variations:
        raise RouterError("questions_per_document and summary_variations are both 0: nothing to generate")
    if generator not in GENERATORS:
        raise RouterError(f"generator must be one of {', '.join(GENERATORS)}, not {generator!r}")
    if generator == "llm" and llm_config is None:
        raise RouterError("llm: the LLM generator needs a base URL and model")


def _unaskable(tools: list[Tool], chunks_of: dict[str, list[Chunk]], titles: dict[str, str]) -> list[tuple[str, str]]:
    """(tool id, why) for the tools that should get queries but have nothing to ask about."""
    failures = []
    for tool in tools:
        if tool.document_id is None:
            failures.append((tool.id, f"{tool.kind} tool {tool.name!r} has no document to ask about"))
        elif tool.kind == VECTOR and not chunks_of.get(tool.document_id):
            failures.append((tool.id, f"document {titles[tool.document_id]!r} has no chunks to ask about"))
    return failures


def _spread(chunks: list[Chunk], n: int) -> list[tuple[Chunk, int]]:
    """(chunk, questions to ask it): up to n chunks spread evenly over the document, the n questions
    shared out as evenly as can be (at most MAX_QUESTIONS_PER_CHUNK a chunk: a short document gets fewer)."""
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


def _ask_about_chunks(plan: list[tuple[Chunk, int]], titles: dict[str, str], generator: str,
                      llm_config: LLMConfig | None, template: str, seed: int, cache_dir: Path | None,
                      progress: _Progress) -> GenerationResult:
    """Ask each planned chunk its number of questions (one generator call per distinct number), each
    question naming its document. The LLM reads each chunk under its document's title to that end."""
    question_generator: QuestionGenerator = (
        LLMQuestionGenerator(llm_config, template, cache_dir) if generator == "llm" else OfflineQuestionGenerator(seed))
    by_count: dict[int, list[Chunk]] = defaultdict(list)
    for chunk, n in plan:
        if generator == "llm":
            chunk = replace(chunk, text=DOCUMENT_LINE.format(title=titles[chunk.doc_id]) + chunk.text)
        by_count[n].append(chunk)
    result = _merged([question_generator.generate(group, n, progress.phase(len(group))) for n, group in by_count.items()])
    title_of = {chunk.chunk_id: titles[chunk.doc_id] for chunk, _ in plan}
    result.questions = [replace(q, question=name_document(q.question, title_of[q.chunk_id])) for q in result.questions]
    return result


def _ask_for_summaries(tools: list[Tool], titles: dict[str, str], n: int, generator: str,
                       llm_config: LLMConfig | None, prompts: RouterPrompts, seed: int, cache_dir: Path | None,
                       progress: _Progress) -> GenerationResult:
    """`n` summary requests per summary tool, each GeneratedQuestion's chunk_id being the tool's id."""
    if not tools:
        return GenerationResult()
    report = progress.phase(len(tools))
    if generator == "llm":
        # The base question goes in as a chunk's text, so the LLM generator's cache and retries serve it too.
        base_questions = [Chunk(t.id, t.document_id, fill_title(prompts.summary_question, titles[t.document_id]))
                          for t in tools]
        return LLMQuestionGenerator(llm_config, prompts.summary, cache_dir).generate(base_questions, n, report)
    result = GenerationResult([GeneratedQuestion(t.id, q) for t in tools
                               for q in offline_summary_variations(titles[t.document_id], n, seed)])
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
        queries=queries, corpus={t.id: t.description for t in tools}, relevant_docs=relevant, kind="router",
        passage_docs={t.id: t.document_id for t in tools if t.document_id is not None},
        extra={"tools": tools_to_dicts(tools)})
    dataset.validate()
    return dataset


def _normalised(question: str) -> str:
    return " ".join(question.lower().split())


# workspace runs: the job and the CLI -------------------------------------------------------------------
@dataclass
class RouterRequest:
    """The parameters of a router dataset run, as the job receives them (no API key, ever).

    `tools` None: the default vector and summary tool for each selected document."""

    corpus_id: str
    document_ids: list[str] | None = None  # None: every document of the corpus
    tools: list[Tool] | None = None
    questions_per_document: int = 10
    summary_variations: int = 5
    generator: str = "offline"
    llm: LLMConfig | None = None
    prompts: RouterPrompts = field(default_factory=RouterPrompts)
    seed: int = 0

    def __post_init__(self) -> None:
        _check_settings(self.questions_per_document, self.summary_variations, self.generator, self.llm)
        if self.tools is not None:
            check_tools(self.tools)

    @classmethod
    def from_params(cls, params: dict) -> RouterRequest:
        unknown = sorted(set(params) - {f.name for f in fields(cls)})
        if unknown:
            raise RouterError(f"unknown router parameter(s): {', '.join(unknown)}")
        if "corpus_id" not in params:
            raise RouterError("corpus_id: which corpus to generate router queries for is required")
        llm, tools = params.get("llm"), params.get("tools")
        return cls(**{**params, "llm": LLMConfig.from_public_dict(llm) if llm else None,
                      "tools": tools_from_dicts(tools) if tools is not None else None,
                      "prompts": RouterPrompts.from_dict(params.get("prompts"))})

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
            raise RouterError(f"no document with id or title {key!r} in this corpus")
        if len(matches) > 1:
            raise RouterError(f"{len(matches)} documents are titled {key!r}: name the one you mean by its id")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def generate_router_for_corpus(ws: Workspace, request: RouterRequest, on_progress: ProgressCallback | None = None
                               ) -> tuple[QADataset, GenerationResult]:
    """Run a request over its corpus (LLM answers cached with generate_questions' cache)."""
    ws.get_corpus(request.corpus_id)  # an unknown corpus is named before anything runs
    documents = select_documents(ws.load_documents(request.corpus_id), request.document_ids)
    if not documents:
        raise RouterError(f"corpus {request.corpus_id!r} has no documents")
    tools = request.tools if request.tools is not None else make_tools(documents)
    return generate_router_dataset(
        documents, ws.load_chunks(request.corpus_id), tools, request.questions_per_document,
        request.summary_variations, request.generator, request.llm, request.prompts, request.seed,
        ws.dir("cache", "questions"), on_progress)


def run_router_job(ctx, params: dict) -> dict:
    """The worker task "generate_router_questions": writes the draft dataset to the run's draft.json."""
    request = RouterRequest.from_params(params)
    dataset, result = generate_router_for_corpus(ctx.workspace, request, on_progress=job_progress(ctx))
    # "questions" counts those kept after dropping the ones that fit two documents.
    return save_draft(ctx, dataset, result, request.llm, tools=len(dataset.corpus), questions=len(dataset.queries))


# the curation table --------------------------------------------------------------------------------
ROUTER_TABLE_COLUMNS = ["query_id", "question", "tool", "tool_id", "document"]
COUNT_COLUMNS = ["tool", "tool_id", "kind", "document", "queries"]


def router_table(dataset: QADataset, titles: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per query with the tool it should go to; `titles` (doc id -> title) names documents."""
    tools = {t.id: t for t in dataset_tools(dataset)}
    rows = []
    for qid, question in dataset.queries.items():
        tool = tools.get(dataset.relevant_docs[qid][0])
        rows.append({"query_id": qid, "question": question, "tool": tool.name if tool else "",
                     "tool_id": dataset.relevant_docs[qid][0], "document": _document_label(tool, titles)})
    return pd.DataFrame(rows, columns=ROUTER_TABLE_COLUMNS)


def counts_per_tool(dataset: QADataset, titles: dict[str, str] | None = None) -> pd.DataFrame:
    """Queries per tool, every tool listed (0 for a choice nothing is routed to); with a split,
    train and val counts too."""
    per_tool: dict[str, list[str]] = defaultdict(list)
    for qid, pids in dataset.relevant_docs.items():
        per_tool[pids[0]].append(qid)
    rows = []
    for tool in dataset_tools(dataset):
        qids = per_tool.get(tool.id, [])
        row = {"tool": tool.name, "tool_id": tool.id, "kind": tool.kind, "document": _document_label(tool, titles),
               "queries": len(qids)}
        if dataset.split:
            row.update({part: sum(dataset.split.get(q) == part for q in qids) for part in (TRAIN, VAL)})
        rows.append(row)
    return pd.DataFrame(rows, columns=COUNT_COLUMNS + ([TRAIN, VAL] if dataset.split else []))


def _document_label(tool: Tool | None, titles: dict[str, str] | None) -> str:
    if tool is None or tool.document_id is None:
        return ""
    return (titles or {}).get(tool.document_id, tool.document_id)
