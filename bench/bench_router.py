"""Benchmark: router selectors on the eight Wikipedia city articles (16 tools), two parts.

Throughput: RAGTune's EmbeddingSelector vs re-embedding every choice per query. About 200
templated questions (one per section heading for the vector tools, summary requests for the
summary tools) routed among a "vector" and a "summary" tool per article of
../shared/data/wikipedia (`make_tools` with the default templates). Every selector uses the same
bundled all-MiniLM-L6-v2 on the CPU; only how often the choices are embedded, and how queries are
batched, differs. The baseline is what
llama-index's `EmbeddingSingleSelector` does: per query, one encode for the query and one per
choice description. The rows take turns round by round, so load from other work on the machine
falls on all alike.

Match rate: RAGTune's own pipeline end to end (ingest, chunking, router.generate_router_dataset
with the offline generator, split_dataset by query and by document, train_embedding and
train_cross_encoder), then the base embedding, the fine-tuned embedding and the fine-tuned
cross-encoder route the held-out queries; reported over all of them, per tool kind, and by where
the misses went.

Writes a "## Router selectors" section into bench/RESULTS.md (other sections kept), one "###"
part per measurement; a run of one part keeps the other part as stored.

    .venv/bin/python bench/bench_router.py                    # both parts: about 10 minutes on 2 busy cores
    .venv/bin/python bench/bench_router.py --only match       # or --only throughput
    .venv/bin/python bench/bench_router.py --no-write         # print only
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.data import WIKIPEDIA, shown  # noqa: E402
from bench.results import publish, read_section  # noqa: E402
from ragtune_core.corpus.chunking import chunk_documents  # noqa: E402
from ragtune_core.corpus.documents import Document  # noqa: E402
from ragtune_core.corpus.ingest import load_texts  # noqa: E402
from ragtune_core.questions.qa_dataset import TRAIN, VAL, QADataset, split_dataset  # noqa: E402
from ragtune_core.questions.router.datasets import generate_router_dataset  # noqa: E402
from ragtune_core.questions.router.tools import SUMMARY, VECTOR, dataset_tools, make_tools, tools_to_dicts  # noqa: E402
from ragtune_core.routing.compare import SelectorReport, evaluate_selector, matches, router_task  # noqa: E402
from ragtune_core.routing.selectors import Choice, CrossEncoderSelector, EmbeddingSelector, Selection, Selector  # noqa: E402
from ragtune_core.store.models import DEFAULT_BASE_MODEL, load_embedder, load_tokenizer  # noqa: E402
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig  # noqa: E402
from ragtune_core.training.cross_encoder import train_cross_encoder  # noqa: E402
from ragtune_core.training.embedding import train_embedding  # noqa: E402

SECTION = "Router selectors"
THROUGHPUT, MATCH = "### Throughput", "### Match rate"  # the section's parts, in this order
TARGET_SPEEDUP = 50.0
TARGET_MATCH_RATE = 0.95  # fine-tuned embedding, queries of documents never trained on
SPLITS = ("query", "document")
VAL_RATIO = 0.25
NO_EVALS_DURING_TRAINING = 10**9  # eval_steps: evaluate before and after only, so train seconds are training

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


def articles(wiki_dir: Path) -> list[Path]:
    files = sorted(wiki_dir.glob("*.txt")) if wiki_dir.is_dir() else []
    if not files:
        raise SystemExit(f"no Wikipedia articles (*.txt) in {wiki_dir}: the router benchmark needs them")
    return files


def load_articles(files: list[Path]) -> list[Document]:
    """The articles through RAGTune's ingest, in the order of `files`."""
    loaded = load_texts([(path.name, path.read_bytes()) for path in files])
    if loaded.errors:
        raise SystemExit("could not load: " + "; ".join(f"{e.name}: {e.message}" for e in loaded.errors))
    return loaded.documents


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


# --- match rate: selectors tuned on a generated router dataset ----------------------------------
@dataclass
class GeneratedRouter:
    """The router dataset of the articles, not split yet, and what the report says about it."""

    dataset: QADataset
    titles: dict[str, str]  # document id -> title
    chunks: int
    source: str


def generate_router_data(wiki_dir: Path, args: argparse.Namespace) -> GeneratedRouter:
    """RAGTune's pipeline: ingest, chunks of the bundled tokenizer, a vector and a summary tool per
    article, the offline generator's questions about chunks spread over each article, summary requests."""
    files = articles(wiki_dir)
    documents = load_articles(files)
    chunks = chunk_documents(documents, load_tokenizer(None))
    dataset, result = generate_router_dataset(
        documents, chunks, make_tools(documents), args.questions, args.summaries, seed=args.seed
    )
    for item, why in result.failures:
        print(f"no queries for {item}: {why}", flush=True)
    return GeneratedRouter(
        dataset, {d.doc_id: d.title for d in documents}, len(chunks), f"{shown(wiki_dir)} ({len(files)} articles)"
    )


@dataclass
class SplitTask:
    """One split of the dataset and its validation queries, with what each one is about."""

    by: str
    dataset: QADataset
    queries: list[str]
    choices: list[Choice]
    expected: list[int]
    choice_docs: list[str]  # per choice: its document's title
    choice_kinds: list[str]  # per choice: vector or summary

    @property
    def train_queries(self) -> int:
        return len(self.dataset.subset(TRAIN).queries)

    def held_out_titles(self) -> list[str]:
        return sorted({self.choice_docs[e] for e in self.expected})


def split_task(data: GeneratedRouter, by: str, seed: int) -> SplitTask:
    dataset = replace(data.dataset, split=split_dataset(data.dataset, VAL_RATIO, by, seed))
    queries, choices, expected = router_task(dataset, VAL)
    tools = {tool.id: tool for tool in dataset_tools(dataset)}
    choice_docs = [data.titles[tools[c.id].document_id] for c in choices]
    return SplitTask(by, dataset, queries, choices, expected, choice_docs, [tools[c.id].kind for c in choices])


@dataclass
class MatchRun:
    """One selector routing one split's validation queries."""

    task: SplitTask
    report: SelectorReport
    train_seconds: float | None  # trainer.train(); None: not trained here
    train_steps: int | None

    def matches(self) -> np.ndarray:
        """1.0 per validation query routed to its right tool, else 0.0 (`routing.compare.matches`)."""
        return matches(self.report.picks, self.task.expected)

    def on(self, keep: list[bool]) -> tuple[int, int]:
        """(routed right, queries) over the queries where `keep` holds."""
        kept = self.matches()[np.array(keep, dtype=bool)]
        return int(kept.sum()), len(kept)

    def misses(self) -> dict[str, int]:
        """The missed queries by where they went: another document's tool, or the right document's other tool."""
        why = {"other document": 0, "other tool": 0}
        for pick, want in zip(self.report.picks, self.task.expected, strict=True):
            if pick == want:
                continue
            same_document = pick is not None and self.task.choice_docs[pick] == self.task.choice_docs[want]
            why["other tool" if same_document else "other document"] += 1
        return why


def match_runs(task: SplitTask, args: argparse.Namespace, scratch: Path) -> list[MatchRun]:
    """Train an embedding and a cross-encoder on the split's train part; route its validation queries
    with the base embedding and both."""
    print(f"split by {task.by}: {task.train_queries} train, {len(task.queries)} validation queries", flush=True)
    embedding = train_embedding(
        EmbeddingTrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            eval_steps=NO_EVALS_DURING_TRAINING,
            seed=args.seed,
        ),
        task.dataset,
        scratch / f"embedding-{task.by}",
    )
    print(f"  embedding trained: {embedding.train_seconds:.0f} s, {embedding.steps} steps", flush=True)
    cross = train_cross_encoder(
        CrossEncoderTrainConfig(
            epochs=args.cross_epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            hard_negatives=args.hard_negatives,
            seed=args.seed,
        ),
        task.dataset,
        scratch / f"cross-encoder-{task.by}",
    )
    print(f"  cross-encoder trained: {cross.train_seconds:.0f} s, {cross.steps} steps", flush=True)
    contenders = [
        (EmbeddingSelector(None, label="base embedding"), None),
        (EmbeddingSelector(str(embedding.output_dir), label="fine-tuned embedding"), embedding),
        (CrossEncoderSelector(str(cross.output_dir), label="fine-tuned cross-encoder"), cross),
    ]
    runs = []
    for selector, trained in contenders:
        report = evaluate_selector(selector, task.queries, task.choices, task.expected)
        runs.append(
            MatchRun(task, report, trained.train_seconds if trained else None, trained.steps if trained else None)
        )
        print(f"  {report.name}: match rate {report.match_rate:.3f}", flush=True)
    return runs


def rate_cell(right: int, total: int, ci: tuple[float, float] | None = None) -> str:
    if not total:
        return "—"
    rate = f"{right / total:.3f}"
    if ci is not None:
        rate += f" ({ci[0]:.2f}-{ci[1]:.2f})"
    return f"{rate} ({right}/{total})"


def match_part(data: GeneratedRouter, runs: list[MatchRun], args: argparse.Namespace, threads: int) -> str:
    """The "### Match rate" part of the section: settings, the table, the verdict."""
    tool_of = {qid: ids[0] for qid, ids in data.dataset.relevant_docs.items()}
    tools = {tool.id: tool for tool in dataset_tools(data.dataset)}
    by_kind = {kind: sum(tools[t].kind == kind for t in tool_of.values()) for kind in (VECTOR, SUMMARY)}
    reworded = sum(
        data.dataset.queries[q].startswith("Regarding ") for q, t in tool_of.items() if tools[t].kind == VECTOR
    )
    document_split = next(run.task for run in runs if run.task.by == "document")
    rows = []
    for run in runs:
        kinds = [run.task.choice_kinds[e] for e in run.task.expected]
        train = f"{run.train_seconds:.0f} ({run.train_steps})" if run.train_seconds is not None else "—"
        misses = run.misses()
        rows.append(
            f"| {run.task.by} | {run.report.name} | "
            f"{rate_cell(int(run.matches().sum()), len(run.task.queries), run.report.match_rate_ci)} | "
            f"{rate_cell(*run.on([k == VECTOR for k in kinds]))} | "
            f"{rate_cell(*run.on([k == SUMMARY for k in kinds]))} | "
            f"{misses['other document']} / {misses['other tool']} | {train} |"
        )
    return "\n".join(
        [
            MATCH,
            "",
            f"`bench/bench_router.py --only match`: RAGTune's pipeline end to end on {data.source}: `load_texts`, "
            f"`chunk_documents` (bundled tokenizer, default {data.chunks} chunks), `make_tools` (a vector and a "
            "summary "
            f"tool per article, {len(data.dataset.corpus)} in all), `generate_router_dataset` with the offline "
            "generator "
            f"({args.questions} specific questions per article about chunks spread over it, each made to name its "
            f'article, {reworded} of the {by_kind[VECTOR]} by a "Regarding {{title}}, ..." opening; {args.summaries} '
            f"summary requests per article; seed {args.seed}): {len(data.dataset.queries)} "
            f"queries ({by_kind[VECTOR]} for vector tools, {by_kind[SUMMARY]} for summary tools). `split_dataset` "
            f"by query and by document, validation share {VAL_RATIO}, seed {args.seed} (by document: "
            f"{' and '.join(document_split.held_out_titles())} held out, never trained on). Fine-tuned embedding: "
            f"`train_embedding` from the bundled {DEFAULT_BASE_MODEL}, {args.epochs} epochs, learning rate "
            f"{args.lr:g}, "
            f"batch {args.batch_size}. Cross-encoder: `train_cross_encoder` from the same model with a new one-score "
            f"head, {args.hard_negatives} hard negatives per query, {args.cross_epochs} epoch(s), learning rate "
            f"{args.lr:g}, batch {args.batch_size}. Every selector routes each validation query among all "
            f'{len(data.dataset.corpus)} tools (`router_task(dataset, "val")`, `evaluate_selector`); 95% bootstrap '
            "interval over the queries (`evaluate_selector`'s `match_rate_ci`). Misses: sent to another article's "
            "tool / to the right article's other tool. "
            f"Train s: `trainer.train()` wall time (the cross-encoder's includes its validation reranking, 4 per "
            f"epoch), steps in brackets. Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other work, "
            f"{threads} torch thread(s), no GPU, Python {platform.python_version()}.",
            "",
            "| split | selector | match rate (95% CI) | vector-tool queries | summary-tool queries | misses (other "
            "article / other tool) | train s (steps) |",
            "|---|---|---|---|---|---|---:|",
            *rows,
            "",
            match_verdict(runs),
        ]
    )


def match_verdict(runs: list[MatchRun]) -> str:
    """Whether the fine-tuned embedding reaches the target on unseen documents."""
    tuned = next(run for run in runs if run.task.by == "document" and run.report.name == "fine-tuned embedding")
    base = next(run for run in runs if run.task.by == "document" and run.report.name == "base embedding")
    rate = tuned.report.match_rate
    verdict = "met" if rate >= TARGET_MATCH_RATE else f"NOT met, {100 * (TARGET_MATCH_RATE - rate):.1f} points short"
    return (
        f"Target: fine-tuned embedding >= {TARGET_MATCH_RATE} on queries of articles never trained on (split by "
        f"document): {rate:.3f} (base embedding {base.report.match_rate:.3f}), {verdict}. These are the offline "
        "generator's queries: summary requests come from fixed templates and specific questions follow "
        "templates too, so part of what fine-tuning learns is their wording; LLM-written queries are the harder "
        "test (run `router-dataset --generator llm` and `compare-selectors` on them)."
    )


# --- the section ---------------------------------------------------------------------------------
def parts_of(body: str) -> dict[str, str]:
    """A section's "###" parts by their heading line, each with its heading."""
    parts: dict[str, list[str]] = {}
    current = None
    for line in body.splitlines():
        if line.startswith("### "):
            current = line
            parts[current] = []
        if current is not None:
            parts[current].append(line)
    return {heading: "\n".join(lines).strip() for heading, lines in parts.items()}


def section_body(new_parts: dict[str, str]) -> str:
    """The new parts, with the stored ones this run did not measure, in the order of THROUGHPUT, MATCH."""
    parts = {**parts_of(read_section(SECTION) or ""), **new_parts}
    order = [THROUGHPUT, MATCH]
    ranked = sorted(parts, key=lambda heading: order.index(heading) if heading in order else len(order))
    return "\n\n".join(parts[heading] for heading in ranked)


def run_throughput(args: argparse.Namespace) -> str:
    task = build_router_task(args.wikipedia)
    print(f"{len(task.queries)} questions, {len(task.choices)} choices from {task.source}", flush=True)
    runs = throughput_runs(task, task.sample(args.baseline_queries), args.rounds)
    return throughput_part(task, runs, args.rounds, args.threads)


def run_match(args: argparse.Namespace) -> str:
    started = time.perf_counter()
    data = generate_router_data(args.wikipedia, args)
    print(
        f"{len(data.dataset.queries)} router queries, {len(data.dataset.corpus)} tools from {data.source}", flush=True
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-router-"))
    try:
        runs = [run for by in SPLITS for run in match_runs(split_task(data, by, args.seed), args, scratch)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"match rate part: {time.perf_counter() - started:.0f} s in all", flush=True)
    return match_part(data, runs, args, args.threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--wikipedia",
        type=Path,
        default=WIKIPEDIA,
        help=f"folder of the city articles (*.txt) (default: {shown(WIKIPEDIA)})",
    )
    parser.add_argument("--only", choices=("throughput", "match"), help="run one part; the other stays as stored")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; on a small machine shared with other work, two threads spin-wait on "
        "each other and timings swing several-fold, one keeps every row alike",
    )
    group = parser.add_argument_group("throughput")
    group.add_argument("--rounds", type=int, default=5, help="timed passes of every selector")
    group.add_argument(
        "--baseline-queries", type=int, default=32, help="questions the slow re-embedding baselines route (every k-th)"
    )
    group = parser.add_argument_group("match rate")
    group.add_argument("--questions", type=int, default=20, help="specific questions per article (vector tools)")
    group.add_argument("--summaries", type=int, default=10, help="summary requests per article (summary tools)")
    group.add_argument("--epochs", type=int, default=3, help="embedding fine-tuning epochs")
    group.add_argument(
        "--cross-epochs",
        type=int,
        default=4,
        help="cross-encoder epochs (with 2, the summary requests are still mostly sent to the vector tool)",
    )
    group.add_argument("--hard-negatives", type=int, default=3, help="wrong tools per cross-encoder train query")
    group.add_argument("--batch-size", type=int, default=16)
    group.add_argument("--lr", type=float, default=5e-5, help="learning rate of both models")
    group.add_argument("--seed", type=int, default=42, help="generation, split and training seed")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    parts = {}
    if args.only in (None, "throughput"):
        parts[THROUGHPUT] = run_throughput(args)
    if args.only in (None, "match"):
        parts[MATCH] = run_match(args)
    publish(SECTION, section_body(parts), write=not args.no_write)


if __name__ == "__main__":
    main()
