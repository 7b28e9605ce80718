"""Benchmark: router selectors on the eight Wikipedia city articles (16 tools), two parts.

Throughput (bench/router_throughput.py): RAGTune's EmbeddingSelector vs re-embedding every choice per
query, as llama-index's `EmbeddingSingleSelector` does, on about 200 templated questions.

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
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.data import WIKIPEDIA, articles, load_articles, shown  # noqa: E402
from bench.results import publish, read_section  # noqa: E402
from bench.router_throughput import THROUGHPUT, run_throughput  # noqa: E402
from ragtune_core.corpus.chunking import chunk_documents  # noqa: E402
from ragtune_core.questions.qa_dataset import TRAIN, VAL, QADataset, split_dataset  # noqa: E402
from ragtune_core.questions.router.datasets import generate_router_dataset  # noqa: E402
from ragtune_core.questions.router.tools import SUMMARY, VECTOR, dataset_tools, make_tools  # noqa: E402
from ragtune_core.routing.compare import SelectorReport, evaluate_selector, matches, router_task  # noqa: E402
from ragtune_core.routing.selectors import Choice, CrossEncoderSelector, EmbeddingSelector  # noqa: E402
from ragtune_core.store.models import DEFAULT_BASE_MODEL, load_tokenizer  # noqa: E402
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig  # noqa: E402
from ragtune_core.training.cross_encoder import train_cross_encoder  # noqa: E402
from ragtune_core.training.embedding import train_embedding  # noqa: E402

SECTION = "Router selectors"
MATCH = "### Match rate"  # after THROUGHPUT in the section
TARGET_MATCH_RATE = 0.95  # fine-tuned embedding, queries of documents never trained on
SPLITS = ("query", "document")
VAL_RATIO = 0.25
NO_EVALS_DURING_TRAINING = 10**9  # eval_steps: evaluate before and after only, so train seconds are training


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
