"""Benchmark: fine-tuning the bundled all-MiniLM-L6-v2 on synthetic questions, base vs fine-tuned.

Two datasets from ../shared/data (beside the repository), both through RAGTune's own pipeline
(corpus.ingest.load_pdfs / load_texts, corpus.chunking.chunk_documents, questions.offline.
OfflineQuestionGenerator, questions.generation.build_dataset, training.embedding.train_embedding):

- 10-K: Lyft's and Uber's 2021 annual reports. Train on the questions about Lyft's chunks,
  validate on those about Uber's; the retrieval corpus is the chunks of both reports.
- Wikipedia: the 8 city articles, questions per chunk, split by document (whole cities go to
  validation), corpus = every chunk.

Validation metrics come from the trainer's InformationRetrievalEvaluator (cosine, same values
as ragtune_core.evaluation). Writes a "## Embedding fine-tuning" section into bench/RESULTS.md
(replacing an older one, keeping other sections).

    .venv/bin/python bench/bench_finetune.py              # about 8 minutes on 2 busy CPU cores
    .venv/bin/python bench/bench_finetune.py --help
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import TEN_K, WIKIPEDIA, articles, load_articles  # noqa: E402
from bench.results import publish  # noqa: E402
from ragtune_core.corpus.chunking import chunk_documents  # noqa: E402
from ragtune_core.corpus.documents import Chunk, IngestResult  # noqa: E402
from ragtune_core.corpus.ingest import load_pdfs  # noqa: E402
from ragtune_core.questions.generation import build_dataset, select_chunks  # noqa: E402
from ragtune_core.questions.offline import OfflineQuestionGenerator  # noqa: E402
from ragtune_core.questions.qa_dataset import TRAIN, VAL, QADataset, split_dataset  # noqa: E402
from ragtune_core.store.models import load_tokenizer  # noqa: E402
from ragtune_core.training.config import EmbeddingTrainConfig  # noqa: E402
from ragtune_core.training.embedding import train_embedding  # noqa: E402

SECTION = "Embedding fine-tuning"
QUESTIONS_PER_CHUNK = 2
SHOWN_METRICS = ("accuracy@5", "mrr@10", "ndcg@10")  # accuracy@5 is hit@5


@dataclass
class Row:
    name: str
    corpus: int
    val_queries: int
    train_pairs: int
    seconds: float
    epochs: int
    before: dict[str, float]
    after: dict[str, float]
    note: str

    @property
    def pairs_per_second(self) -> float:
        return self.train_pairs * self.epochs / self.seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 120-token chunks plus [CLS] and [SEP] fit in 128: the model reads every chunk whole.
    parser.add_argument("--chunk-size", type=int, default=120, help="tokens per chunk (default: %(default)s)")
    parser.add_argument("--max-seq-length", type=int, default=128, help="tokens the model reads (default: %(default)s)")
    parser.add_argument(
        "--chunks-per-report",
        type=int,
        default=100,
        help="10-K chunks kept per report, spread over it (default: %(default)s; 0: all)",
    )
    parser.add_argument(
        "--chunks-per-city",
        type=int,
        default=25,
        help="Wikipedia chunks kept per city, spread over it (default: %(default)s; 0: all)",
    )
    parser.add_argument(
        "--max-train-pairs",
        type=int,
        default=0,
        help="cap on training pairs, an even sample (default: %(default)s; 0: all)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=("10k", "wikipedia"), help="run one dataset")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    return parser.parse_args()


# --- datasets --------------------------------------------------------------------------------
@dataclass
class Benchmark:
    name: str
    dataset: QADataset
    note: str  # how it was made, caps included


def ten_k_benchmark(args: argparse.Namespace) -> Benchmark:
    """Lyft's questions train, Uber's validate; the corpus holds the kept chunks of both reports."""
    files = [TEN_K / "lyft_2021.pdf", TEN_K / "uber_2021.pdf"]
    documents = _loaded(load_pdfs([(p.name, p.read_bytes()) for p in files]))
    chunks, kept = _chunks(documents, args, args.chunks_per_report)
    dataset = _questions(kept, args.seed)
    lyft = documents[0].doc_id
    dataset.split = {q: TRAIN if _document(dataset, q) == lyft else VAL for q in dataset.queries}
    note = (
        f"10-K: trained on questions about Lyft's chunks, validated on questions about Uber's; corpus: the "
        f"kept chunks of both reports ({len(kept)} of {len(chunks)}{_per_document_cap(args.chunks_per_report)})"
    )
    return Benchmark("10-K (train Lyft, validate Uber)", *_cap_train(dataset, args.max_train_pairs, note))


def wikipedia_benchmark(args: argparse.Namespace) -> Benchmark:
    documents = load_articles(articles(WIKIPEDIA))
    chunks, kept = _chunks(documents, args, args.chunks_per_city)
    dataset = _questions(kept, args.seed)
    dataset.split = split_dataset(dataset, val_ratio=0.25, by="document", seed=args.seed)
    held_out = sorted(
        {
            d.title
            for d in documents
            if any(_document(dataset, q) == d.doc_id for q, part in dataset.split.items() if part == VAL)
        }
    )
    note = (
        f"Wikipedia: {len(documents)} city articles, {' and '.join(held_out)} held out for validation (split by "
        f"document); corpus: {len(kept)} of {len(chunks)} chunks{_per_document_cap(args.chunks_per_city)}"
    )
    return Benchmark(
        f"Wikipedia, {len(documents)} cities (split by city)", *_cap_train(dataset, args.max_train_pairs, note)
    )


def _loaded(result: IngestResult):
    if result.errors:
        raise SystemExit(f"could not load: {result.errors}")
    return result.documents


def _chunks(documents, args: argparse.Namespace, per_document: int) -> tuple[list[Chunk], list[Chunk]]:
    """All chunks, and those kept: `per_document` of each document spread over it (encoding is the slow part)."""
    chunks = chunk_documents(documents, load_tokenizer(None), args.chunk_size, overlap=20)
    kept = []
    for doc in documents:
        kept.extend(select_chunks([c for c in chunks if c.doc_id == doc.doc_id], per_document or None))
    return chunks, kept


def _per_document_cap(per_document: int) -> str:
    return f", at most {per_document} per document spread evenly over it" if per_document else ""


def _questions(chunks: list[Chunk], seed: int) -> QADataset:
    generated = OfflineQuestionGenerator(seed=seed).generate(chunks, QUESTIONS_PER_CHUNK)
    return build_dataset(chunks, generated.questions)


def _document(dataset: QADataset, qid: str) -> str:
    return dataset.passage_docs[dataset.relevant_docs[qid][0]]


def _cap_train(dataset: QADataset, max_pairs: int, note: str) -> tuple[QADataset, str]:
    """Keep an even sample of `max_pairs` training questions (one pair each); the others leave the split."""
    train = [q for q in dataset.queries if dataset.split.get(q) == TRAIN]
    if max_pairs and len(train) > max_pairs:
        kept = {train[i * len(train) // max_pairs] for i in range(max_pairs)}
        dataset.split = {q: part for q, part in dataset.split.items() if part == VAL or q in kept}
        note += f"; {max_pairs} of its {len(train)} training questions, an even sample"
    return dataset, note + "."


# --- running -----------------------------------------------------------------------------------
def run(benchmark: Benchmark, args: argparse.Namespace, output_dir: Path) -> Row:
    # Evaluations only before and after: the timed training is training alone.
    config = EmbeddingTrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_seq_length=args.max_seq_length,
        eval_steps=10**9,
        seed=args.seed,
    )
    dataset, name = benchmark.dataset, benchmark.name
    val = dataset.subset(VAL)
    print(
        f"{name}: {len(dataset.corpus)} passages, {len(dataset.subset(TRAIN).queries)} train pairs, "
        f"{len(val.queries)} validation questions",
        flush=True,
    )
    started = time.perf_counter()
    result = train_embedding(config, dataset, output_dir, on_event=_printer(name))
    print(f"{name}: {time.perf_counter() - started:.0f}s in all", flush=True)
    return Row(
        name,
        len(dataset.corpus),
        len(val.queries),
        result.train_pairs,
        result.train_seconds,
        args.epochs,
        result.metrics_before,
        result.metrics_after,
        benchmark.note,
    )


def _printer(name: str):
    last = [0.0]

    def on_event(event: str, data: dict) -> None:
        if event == "eval":
            shown = ", ".join(f"{k} {data['metrics'][k]:.3f}" for k in SHOWN_METRICS)
            print(f"{name}: eval at step {data['step']}: {shown}", flush=True)
        elif event == "progress" and (time.monotonic() - last[0] > 15 or data["step"] == data["max_steps"]):
            last[0] = time.monotonic()
            print(f"{name}: step {data['step']}/{data['max_steps']}", flush=True)

    return on_event


# --- report ------------------------------------------------------------------------------------
def section(rows: list[Row], args: argparse.Namespace, load: tuple[float, float]) -> str:
    lines = [
        f"`bench/bench_finetune.py`: the bundled all-MiniLM-L6-v2 fine-tuned with RAGTune's `train_embedding` "
        f"(MultipleNegativesRankingLoss, no-duplicates batches) on questions from `OfflineQuestionGenerator` "
        f"({QUESTIONS_PER_CHUNK} per chunk), through RAGTune's ingest and chunking. Settings: chunks of "
        f"{args.chunk_size} tokens, max_seq_length {args.max_seq_length}, {args.epochs} epoch(s), batch "
        f"{args.batch_size}, learning rate {args.lr:g}, warmup 10%, seed {args.seed}. Metrics: the validation "
        f"questions against the whole corpus, cosine, as the trainer's InformationRetrievalEvaluator computes them "
        f"(hit@5 = accuracy@5). Seconds and pairs/s: `trainer.train()` alone (no evaluation during training). "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other work (load average "
        f"{load[0]:.1f} at start, {load[1]:.1f} at end), no GPU, Python {platform.python_version()}.",
        "",
        "| dataset | corpus passages | val questions | train pairs | pairs/s | seconds | hit@5 before → after "
        "| mrr@10 before → after | ndcg@10 before → after |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        deltas = [
            f"{row.before[m]:.3f} → {row.after[m]:.3f} ({row.after[m] - row.before[m]:+.3f})" for m in SHOWN_METRICS
        ]
        lines.append(
            f"| {row.name} | {row.corpus} | {row.val_queries} | {row.train_pairs} | "
            f"{row.pairs_per_second:.2f} | {row.seconds:.0f} | {' | '.join(deltas)} |"
        )
    lines += [
        "",
        "Caps keep the run to about 10 minutes on 2 shared CPU cores, where one training step of 16 "
        "pairs takes several seconds:",
        "",
        *(f"- {row.note}" for row in rows),
        "",
        "The questions are the offline generator's template questions (no LLM), so part of the gain is the "
        "model learning their style; validation questions are always about documents it was not trained on.",
    ]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    builders = {"10k": ten_k_benchmark, "wikipedia": wikipedia_benchmark}
    load_start = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    try:
        rows = [run(build(args), args, scratch / key) for key, build in builders.items() if args.only in (None, key)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    publish(SECTION, section(rows, args, (load_start, os.getloadavg()[0])), write=not args.no_write)
    failed = [r.name for r in rows if not all(r.after[m] > r.before[m] for m in ("accuracy@5", "mrr@10"))]
    if failed:
        print(f"hit@5 and mrr@10 did not both rise for: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
