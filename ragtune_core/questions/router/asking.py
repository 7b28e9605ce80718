"""Asking the question generators for a router dataset's queries: specific questions about chunks,
summary requests for summary tools, each made to point at its document.

The LLM reads each chunk under its document's title, and a question that does not name its document
is made to (`name_document`); the offline generator's questions are named and restyled with the
documents' profiles (phrasing.py, profiles.py). datasets.py plans what to ask and labels the answers.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from ...corpus.documents import Chunk
from ...llm.config import LLMConfig
from ..generators import (
    MAX_QUESTIONS_PER_CHUNK,
    GeneratedQuestion,
    GenerationResult,
    ProgressCallback,
    QuestionGenerator,
)
from ..llm_generator import LLMQuestionGenerator
from ..offline import OfflineQuestionGenerator
from ..offline_styles import FACT
from .phrasing import (
    LANDMARK_SHARE,
    SECTION_SHARE,
    landmark_questions,
    name_question,
    restyle,
    section_questions,
    summary_requests,
)
from .profiles import QUESTION_OPENERS, DocumentProfile
from .prompts import SUMMARY_TEMPLATES, RouterPrompts, offline_summary_variations
from .tools import Tool, fill_title

# The offline generator asks each chunk this many more questions than it keeps, to replace those it drops.
_SPARE_QUESTIONS = 2
# A router's specific questions are fact questions that phrasing.restyle words as people would.
FACT_ONLY = (FACT,)

DOCUMENT_LINE = "Document: {title}\n\n"


def offline_section_questions(profile: DocumentProfile | None, questions_per_document: int, seed: int) -> list[str]:
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
        key = normalised(variant)
        if key in seen:
            variant, key = question, normalised(question)
        if key not in seen:
            seen.add(key)
            styled.append(variant)
    return styled


class PhasedProgress:
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


def ask_about_chunks(
    plan: list[tuple[Chunk, int]],
    titles: dict[str, str],
    generator: str,
    llm_config: LLMConfig | None,
    template: str,
    seed: int,
    cache_dir: Path | None,
    progress: PhasedProgress,
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
    by_count = chunks_by_count(plan, titles if generator == "llm" else None)
    result = merged(
        [question_generator.generate(group, n, progress.phase(len(group))) for n, group in by_count.items()]
    )
    title_of = {chunk.chunk_id: titles[chunk.doc_id] for chunk, _ in plan}
    result.questions = [replace(q, question=name_document(q.question, title_of[q.chunk_id])) for q in result.questions]
    return result


def chunks_by_count(plan: list[tuple[Chunk, int]], titles: dict[str, str] | None) -> dict[int, list[Chunk]]:
    """The planned chunks grouped by the number of questions to ask them (one generator call a group),
    each under its document's title when `titles` are given (for the LLM)."""
    by_count: dict[int, list[Chunk]] = defaultdict(list)
    for chunk, n in plan:
        if titles is not None:
            chunk = replace(chunk, text=DOCUMENT_LINE.format(title=titles[chunk.doc_id]) + chunk.text)
        by_count[n].append(chunk)
    return by_count


def summary_bases(tools: list[Tool], titles: dict[str, str], prompts: RouterPrompts) -> list[Chunk]:
    """The base summary request of each tool as a chunk's text, so the LLM generator's cache, retries
    and batches serve summary variations too."""
    return [Chunk(t.id, t.document_id, fill_title(prompts.summary_question, titles[t.document_id])) for t in tools]


def _named_offline(
    plan: list[tuple[Chunk, int]], seed: int, progress: PhasedProgress, profiles: dict[str, DocumentProfile]
) -> GenerationResult:
    """The offline generator's questions for `plan`, each made to point at its document
    (phrasing.name_question) and restyled, `n` a chunk where it offers that many."""
    wanted = dict((c.chunk_id, n) for c, n in plan)
    by_count: dict[int, list[Chunk]] = defaultdict(list)
    for chunk, n in plan:
        by_count[min(MAX_QUESTIONS_PER_CHUNK, n + _SPARE_QUESTIONS)].append(chunk)
    generator = OfflineQuestionGenerator(seed, styles=FACT_ONLY)
    result = merged([generator.generate(group, n, progress.phase(len(group))) for n, group in by_count.items()])
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
        if normalised(styled) in seen:
            styled = named
        if normalised(styled) in seen:
            continue
        seen.add(normalised(styled))
        taken[q.chunk_id] += 1
        kept.append(replace(q, question=styled))
    result.questions = kept
    short = [
        c.chunk_id for c, n in plan if taken[c.chunk_id] == 0 and c.chunk_id not in {f for f, _ in result.failures}
    ]
    result.failures += [(chunk_id, "every question asked of the chunk named another document") for chunk_id in short]
    return result


def ask_for_summaries(
    tools: list[Tool],
    titles: dict[str, str],
    n: int,
    generator: str,
    llm_config: LLMConfig | None,
    prompts: RouterPrompts,
    seed: int,
    cache_dir: Path | None,
    progress: PhasedProgress,
    profiles: dict[str, DocumentProfile] | None = None,
) -> GenerationResult:
    """`n` summary requests per summary tool, each GeneratedQuestion's chunk_id being the tool's id."""
    if not tools:
        return GenerationResult()
    report = progress.phase(len(tools))
    if generator == "llm":
        return LLMQuestionGenerator(llm_config, prompts.summary, cache_dir).generate(
            summary_bases(tools, titles, prompts), n, report
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
    if first.lower() in QUESTION_OPENERS:
        first = first.lower()
    return f"Regarding {title.strip()}, {first} {rest}".rstrip()


def merged(results: list[GenerationResult]) -> GenerationResult:
    merged = GenerationResult()
    for part in results:
        merged.questions += part.questions
        merged.failures += part.failures
        merged.usage.add(part.usage.prompt_tokens, part.usage.completion_tokens)
        merged.cached += part.cached
    return merged


def normalised(question: str) -> str:
    return " ".join(question.lower().split())
