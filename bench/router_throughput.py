"""The router benchmark's throughput part: RAGTune's EmbeddingSelector against re-embedding every choice
per query (bench/bench_router.py runs it; see its docstring).

About 200 templated questions (one per section heading for the vector tools, summary requests for the
summary tools) are routed among a "vector" and a "summary" tool per article of
../shared/data/wikipedia (`make_tools` with the default templates). Every selector uses the same
bundled all-MiniLM-L6-v2 on the CPU; only how often the choices are embedded, and how queries are
batched, differs. The baseline is what llama-index's `EmbeddingSingleSelector` does: per query, one
encode for the query and one per choice description. The rows take turns round by round, so load from
other work on the machine falls on all alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data import articles, load_articles, shown
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.questions.router.tools import SUMMARY, VECTOR, make_tools, tools_to_dicts
from ragtune_core.routing.compare import matches, router_task
from ragtune_core.routing.selectors import Choice, EmbeddingSelector, Selection, Selector
from ragtune_core.store.models import DEFAULT_BASE_MODEL, load_embedder

THROUGHPUT = "### Throughput"  # the part's heading in the "Router selectors" section
TARGET_SPEEDUP = 50.0

VECTOR_QUESTIONS = (
    "What can you tell me about the {topic} of {title}?",
    "How would you describe {topic} in {title}?",
    "What are the key facts about {title}'s {topic}?",
    "What does the article say about {topic} in {title}?",
)
SUMMARY_QUESTIONS = (
    "Give me a holistic summary of everything about {title}.",
    "Summarize {title} as a whole.",
    "What is {title} like overall? Give me the full picture.",
    "Write an overview covering all aspects of {title}.",
    "Tell me everything about {title} in a short summary.",
)
BACK_MATTER = {
    "see also",
    "notes",
    "references",
    "citations",
    "sources",
    "further reading",
    "external links",
    "bibliography",
    "footnotes",
}
_HEADING = re.compile(r"^=+\s*(.+?)\s*=+\s*$")


@dataclass
class TemplatedTask:
    """The throughput part's questions, tools and right answers, as `router_task` returns them."""

    queries: list[str]
    choices: list[Choice]
    expected: list[int]  # index of the right choice per query
    source: str

    def sample(self, n: int) -> TemplatedTask:
        """Every k-th question, about n in all: every document and tool kind stays represented."""
        step = max(1, len(self.queries) // n)
        return TemplatedTask(self.queries[::step][:n], self.choices, self.expected[::step][:n], self.source)


@dataclass
class Throughput:
    label: str
    queries: list[str]  # those of one pass
    calls: int  # select() calls per pass
    seconds: list[float]  # one per pass
    picks: list[int | None]  # of the last pass

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_query_s(self) -> float:
        return self.median_s / len(self.queries)

    def speedups_over(self, baseline: Throughput) -> list[float]:
        """Per round, the baseline's time per question over this one's: both timed under the same load."""
        return [
            (b / len(baseline.queries)) / (s / len(self.queries))
            for b, s in zip(baseline.seconds, self.seconds, strict=True)
        ]

    def same_picks(self, other: Throughput) -> tuple[int, int]:
        """(agreeing, compared) over the questions both runs routed."""
        theirs = dict(zip(other.queries, other.picks, strict=True))
        shared = [(pick, theirs[q]) for q, pick in zip(self.queries, self.picks, strict=True) if q in theirs]
        return sum(a == b for a, b in shared), len(shared)


# --- the task ---------------------------------------------------------------------------------
def section_topics(text: str) -> list[str]:
    """Headings of sections with text of their own, back matter (references, links) left out."""
    topics, current, has_text = [], None, False
    for line in [*text.splitlines(), "== end =="]:
        heading = _HEADING.match(line)
        if heading:
            if current and has_text and current.lower() not in BACK_MATTER:
                topics.append(current)
            current, has_text = heading.group(1), False
        elif line.strip():
            has_text = True
    return topics


def build_router_task(wiki_dir: Path, vector_per_title: int = 20, summary_per_title: int = 5) -> TemplatedTask:
    """Templated questions about each article's sections (its vector tool) and summary requests (its
    summary tool), routed among the tools RAGTune makes: `make_tools` with the default templates, a
    vector and a summary tool per article, in a router dataset that `router_task` turns into the
    queries, choices and expected choice indices."""
    files = articles(wiki_dir)
    documents = load_articles(files)
    tools = make_tools(documents)
    tool_of = {(tool.document_id, tool.kind): tool.id for tool in tools}
    queries: dict[str, str] = {}
    relevant: dict[str, list[str]] = {}
    for path, document in zip(files, documents, strict=True):
        title = document.title
        topics = section_topics(path.read_text(encoding="utf-8"))[:vector_per_title]
        asked = [
            (VECTOR_QUESTIONS[i % len(VECTOR_QUESTIONS)].format(topic=topic.lower(), title=title), VECTOR)
            for i, topic in enumerate(topics)
        ]
        asked += [
            (SUMMARY_QUESTIONS[i % len(SUMMARY_QUESTIONS)].format(title=title), SUMMARY)
            for i in range(summary_per_title)
        ]
        for question, kind in asked:
            qid = f"q{len(queries):04d}"
            queries[qid] = question
            relevant[qid] = [tool_of[(document.doc_id, kind)]]
    dataset = QADataset(
        queries,
        {tool.id: tool.description for tool in tools},
        relevant,
        passage_docs={tool.id: tool.document_id for tool in tools},
        kind="router",
        extra={"tools": tools_to_dicts(tools)},
    )
    return TemplatedTask(*router_task(dataset), f"{shown(wiki_dir)} ({len(files)} articles)")


# --- the baselines: choices re-embedded for every query ---------------------------------------
class ReembeddingSelector:
    """One query at a time, every choice description embedded again for each query.

    `per_text=True` is llama-index's `EmbeddingSingleSelector` (one encode per choice, as its
    `get_text_embedding` loop does); `per_text=False` embeds the choices in one batch per query.
    """

    def __init__(self, model_name_or_path: str | None = None, per_text: bool = True):
        self.model = load_embedder(model_name_or_path)
        self.per_text = per_text
        self.name = "re-embed choices per query" + (", one encode per text" if per_text else ", choices batched")

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        return [self._select_one(query, choices) for query in queries]

    def _select_one(self, query: str, choices: list[Choice]) -> Selection:
        start = time.perf_counter()
        query_vector = self._encode(self.model.encode_query, [query])
        if self.per_text:
            choice_vectors = np.vstack([self._encode(self.model.encode_document, [c.description]) for c in choices])
        else:
            choice_vectors = self._encode(self.model.encode_document, [c.description for c in choices])
        scores = (query_vector @ choice_vectors.T)[0]
        return Selection(index=int(np.argmax(scores)), scores=scores.tolist(), latency=time.perf_counter() - start)

    @staticmethod
    def _encode(encode, texts: list[str]) -> np.ndarray:
        return encode(texts, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)


# --- measuring --------------------------------------------------------------------------------
@dataclass
class Contender:
    """One way of routing every question of `task`: `batch` questions per select() call (None: all)."""

    label: str
    make_selector: Callable[[], Selector]  # called once per pass
    task: TemplatedTask
    batch: int | None
    warm_up: bool = True  # one untimed call first: model warm-up and, if cached, the choice embeddings

    def timed_pass(self) -> tuple[float, list[int | None]]:
        selector = self.make_selector()
        if self.warm_up:
            selector.select(self.task.queries[:1], self.task.choices)
        size = self.batch or len(self.task.queries)
        start = time.perf_counter()
        selections = [
            s
            for i in range(0, len(self.task.queries), size)
            for s in selector.select(self.task.queries[i : i + size], self.task.choices)
        ]
        return time.perf_counter() - start, [s.index for s in selections]


def measure(contenders: list[Contender], rounds: int) -> list[Throughput]:
    """One pass of every contender in turn, round after round, so that load from other work on the
    machine falls on all of them alike rather than on whichever ran while it lasted."""
    runs = [
        Throughput(c.label, c.task.queries, -(-len(c.task.queries) // (c.batch or len(c.task.queries))), [], [])
        for c in contenders
    ]
    for round_ in range(rounds):
        for contender, run in zip(contenders, runs, strict=True):
            seconds, run.picks = contender.timed_pass()
            run.seconds.append(seconds)
        print(f"round {round_ + 1}: " + ", ".join(f"{r.seconds[-1]:.2f}" for r in runs) + " s", flush=True)
    return runs


def throughput_runs(task: TemplatedTask, baseline_task: TemplatedTask, rounds: int) -> list[Throughput]:
    """The baselines first (on the fewer questions of `baseline_task`), then RAGTune's EmbeddingSelector
    called three ways."""
    cached = EmbeddingSelector()  # shared by the warm runs: its choice cache persists between passes
    return measure(
        [
            Contender("llama-index EmbeddingSingleSelector pattern (baseline)", ReembeddingSelector, baseline_task, 1),
            Contender(
                "re-embed choices per query, choices batched",
                lambda: ReembeddingSelector(per_text=False),
                baseline_task,
                1,
            ),
            Contender("EmbeddingSelector, one query per call", lambda: cached, task, 1),
            Contender(
                "EmbeddingSelector, all queries in one call, cold cache", EmbeddingSelector, task, None, warm_up=False
            ),
            Contender("EmbeddingSelector, all queries in one call", lambda: cached, task, None),
        ],
        rounds,
    )


# --- reporting --------------------------------------------------------------------------------
def throughput_part(task: TemplatedTask, runs: list[Throughput], rounds: int, threads: int) -> str:
    """The "### Throughput" part of the section: the table and its verdict."""
    baseline, stricter, best = runs[0], runs[1], runs[-1]
    rows = []
    for run in runs:
        agree, compared = run.same_picks(baseline)
        speedups = run.speedups_over(baseline)
        rows.append(
            f"| {run.label} | {len(run.queries)} | {run.calls} | {run.median_s:.3f} | "
            f"{1000 * run.per_query_s:.2f} | {1 / run.per_query_s:,.1f} | "
            f"{statistics.median(speedups):.1f}x | {min(speedups):.1f}x-{max(speedups):.1f}x | "
            f"{agree}/{compared} |"
        )
    speedups = best.speedups_over(baseline)
    speedup = statistics.median(speedups)
    verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
    return "\n".join(
        [
            THROUGHPUT,
            "",
            f"`bench/bench_router.py`: {len(task.queries)} templated questions routed among {len(task.choices)} tools "
            f"(a vector and a summary tool per article of {task.source}), every selector with {DEFAULT_BASE_MODEL} on "
            f"the CPU. Each row: median wall time of {rounds} passes; the two slow re-embedding baselines route "
            f"every {len(task.queries) // len(baseline.queries)}th question ({len(baseline.queries)}, from every "
            "document and both tool kinds). The rows take turns, one pass each per round, so load from other work "
            "falls on every row alike. Each pass starts with one untimed warm-up call (model warm-up and, for the "
            "cached selector, its choice embeddings), except in the cold-cache row, where a fresh selector embeds "
            "the choices inside the timed call. Speedup: the baseline's time per question over the row's, taken "
            "round by round (median and range over the rounds). Same picks: questions routed as the baseline routes "
            "them (same model, same cosine). "
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other work, {threads} torch thread(s), "
            f"Python {platform.python_version()}.",
            "",
            "| selector | questions | select() calls | wall time (s) | per question (ms) | questions/s | speedup "
            "| speedup over rounds | same picks |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"EmbeddingSelector with all questions in one call: {speedup:.0f}x the questions per second of the "
            f"llama-index pattern (median of {rounds} rounds, "
            f"{min(speedups):.0f}x-{max(speedups):.0f}x; target >= {TARGET_SPEEDUP:.0f}x: {verdict}) and "
            f"{statistics.median(best.speedups_over(stricter)):.0f}x the stricter baseline that batches the choices "
            "per "
            f"question. Routing accuracy of the base model on these templated questions: "
            f"{matches(best.picks, task.expected).mean():.1%} (throughput only; match rates on generated router "
            "datasets belong to their own part of this section).",
        ]
    )


def run_throughput(args: argparse.Namespace) -> str:
    """The part, measured with bench_router's arguments (--wikipedia, --rounds, --baseline-queries, --threads)."""
    task = build_router_task(args.wikipedia)
    print(f"{len(task.queries)} questions, {len(task.choices)} choices from {task.source}", flush=True)
    runs = throughput_runs(task, task.sample(args.baseline_queries), args.rounds)
    return throughput_part(task, runs, args.rounds, args.threads)
