"""Retrieval evaluation: how well a model ranks the passage each question was written from.

The metrics are those of sentence-transformers' `InformationRetrievalEvaluator` with cosine
similarity, with the same names and the same values (same top-100 cut, same tie-break: equal
scores rank by ascending passage id). Every metric is the mean of a per-query value, so each comes
with a bootstrap confidence interval. A report also keeps the mean latency of a query: encoding it and
searching the corpus, the wall time spread over the part's questions (as a router's embedding selector is
timed; the corpus is encoded beforehand, as an index is). Reports are saved as one JSON file per evaluation under the
workspace's `evaluations/` folder, so the Compare page shows past results without recomputing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from ..questions.qa_dataset import DatasetError, QADataset, load_dataset
from ..store.files import write_json
from ..store.models import load_embedder, resolve_model
from ..store.shapes import FILE_SHAPE
from ..store.workspace import Workspace, load_saved_results, new_id, unreadable_results
from .corpus_vectors import encoder_key, encodes_corpus, keep_vectors, kept_vectors
from .metrics import METRIC_NAMES, TOP_K, EvaluationError, QueryResult, metric_matrix

log = logging.getLogger(__name__)

CHART_METRICS = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "map@100")
PARTS = ("test", "val", "train", "all")
RANKED_IDS_KEPT = 10
_QUERIES_PER_BLOCK = 256  # score rows computed at once: bounds memory to block x corpus floats
TEXT_OVERHEAD = 20  # characters a text's special tokens and batching cost, for progress (text_work)

Progress = Callable[[int, int, str], None]
Saved = Callable[["RetrievalReport"], None]


@dataclass
class RetrievalReport:
    __pydantic_config__ = FILE_SHAPE  # how a saved report is checked

    name: str  # the model's label, e.g. "all-MiniLM-L6-v2 (bundled)" or a workspace model's name
    part: str  # "val" | "train" | "all"
    metrics: dict[str, float]
    per_query: list[QueryResult]
    passages: dict[str, str]  # text of every expected and top passage, for the per-query table
    n_corpus: int
    model_path: str | None = None
    dataset_id: str | None = None
    created: float = field(default_factory=time.time)
    report_id: str | None = None
    latency_ms: float | None = None  # mean per query (a reranker's: with its rescoring); None: saved before timing

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RetrievalReport:
        per_query = [QueryResult(**q) for q in data["per_query"]]
        return cls(**{**data, "per_query": per_query})


@dataclass(frozen=True)
class ModelSpec:
    label: str
    path: str | None  # a folder or Hub id; None: the bundled base model


# --- evaluating -------------------------------------------------------------------------------
def evaluate_retrieval(
    model,
    dataset: QADataset,
    name: str,
    part: str | None = "val",
    batch_size: int = 64,
    corpus_embeddings=None,
    on_progress: Progress | None = None,
) -> RetrievalReport:
    """Rank the whole corpus for each question of `part` ("val", "train"; None or "all": every one).

    `model` is a SentenceTransformer (its encode_query/encode_document are used, as the evaluator
    does); `corpus_embeddings` (rows in `dataset.corpus` order) skip re-encoding the corpus.
    `on_progress(done, total, message)` counts texts encoded, weighed by their length (text_work).

    Example::

        report = evaluate_retrieval(load_embedder("models/cities-minilm"), dataset, "cities-minilm", part="val")
        print(report.metrics["accuracy@5"], report.metrics["mrr@10"])
    """
    part, queries = part_questions(dataset, part)
    corpus_ids = list(dataset.corpus)
    passages, questions = list(dataset.corpus.values()), list(queries.queries.values())
    corpus_embeddings, report_progress = corpus_and_progress(
        model, passages, questions, batch_size, on_progress, corpus_embeddings
    )
    started = time.perf_counter()
    query_embeddings = encode_in_slices(model.encode_query, questions, batch_size, report_progress)
    scores, ranked = rank_passages(query_embeddings, corpus_embeddings, sorted_positions(corpus_ids))
    latency_ms = (time.perf_counter() - started) * 1000 / len(questions)

    per_query = [
        query_result(qid, queries, corpus_ids, row_scores, row_ranked)
        for qid, row_scores, row_ranked in zip(queries.queries, scores.tolist(), ranked.tolist(), strict=True)
    ]
    shown = {pid for q in per_query for pid in (*q.expected_ids, q.top_id)}
    report = RetrievalReport(
        name=name,
        part=part,
        metrics={},
        per_query=per_query,
        passages={pid: dataset.corpus[pid] for pid in corpus_ids if pid in shown},
        n_corpus=len(corpus_ids),
        latency_ms=latency_ms,
    )
    report.metrics = dict(zip(METRIC_NAMES, metric_matrix(per_query).mean(axis=0).tolist(), strict=True))
    return report


def evaluate_models(
    ws: Workspace,
    dataset_id: str,
    models: list[ModelSpec],
    part: str = "val",
    batch_size: int = 64,
    on_progress: Progress | None = None,
    sample: int | None = None,
    on_saved: Saved | None = None,
) -> list[RetrievalReport]:
    """Evaluate each model on a workspace dataset and save a report per model; with `sample`, on at
    most that many of the part's questions, spread evenly over it (load_part). `on_saved(report)` hears
    each report as it is saved (a comparison's history keeps what a cancelled one saved).

    Every model is loaded before any is evaluated, so a name that does not load fails the whole
    request before anything is written.
    """
    part = check_part(part)
    dataset = load_part(ws, dataset_id, part, sample)
    questions = list(dataset.subset(None if part == "all" else part).queries.values())
    works = encoding_works([load_embedder(spec.path) for spec in models], list(dataset.corpus.values()), questions)
    reports = []
    for index, spec in enumerate(models):
        offset = sum(works[:index])

        def model_progress(done: int, total: int, message: str, offset=offset, label=spec.label) -> None:
            if on_progress:
                on_progress(offset + done, sum(works), f"{label}: {message}")

        model = load_embedder(spec.path)
        report = evaluate_retrieval(model, dataset, spec.label, part, batch_size, on_progress=model_progress)
        reports.append(save_report(ws, report, dataset_id, model_path=resolve_model(spec.path)))
        if on_saved:
            on_saved(reports[-1])
    return reports


def encoding_works(models: list, passages: list[str], questions: list[str]) -> list[int]:
    """What evaluating each model encodes, in text_work: the questions, and the passages unless their
    vectors are kept or a model before it has the same document encoder (corpus_vectors)."""
    encoded: set[str] = set()
    return [
        text_work(questions + (passages if encodes_corpus(encoder_key(model), passages, encoded) else []))
        for model in models
    ]


def load_part(ws: Workspace, dataset_id: str, part: str, sample: int | None = None) -> QADataset:
    """A workspace dataset, with at most `sample` questions of `part` ("all": of every part) when given."""
    dataset = load_dataset(ws, dataset_id)
    if sample is None:
        return dataset
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise EvaluationError(f"a sample must be at least 1 question, not {sample!r}")
    return dataset.sampled(None if part == "all" else part, sample)


def check_part(part: str | None) -> str:
    """One of PARTS; None means "all"."""
    part = part or "all"
    if part not in PARTS:
        raise DatasetError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    return part


def part_questions(dataset: QADataset, part: str | None) -> tuple[str, QADataset]:
    """The checked part and its questions (with the whole corpus); a part without questions is refused."""
    part = check_part(part)
    questions = dataset.subset(None if part == "all" else part)
    if not questions.queries:
        raise DatasetError(f"the {part} part of this dataset has no questions")
    return part, questions


def text_work(texts: list[str]) -> int:
    """How much encoding `texts` costs, for progress: their characters (a model's time grows with the
    tokens it reads), plus a little per text for its special tokens."""
    return sum(len(text) for text in texts) + TEXT_OVERHEAD * len(texts)


def progress_counter(on_progress: Progress | None, texts: list[str]) -> Callable[[list[str]], None]:
    """`advance(batch)`: adds a batch of `texts` encoded and reports the running total, in text_work,
    to `on_progress`: a batch of passages moves the bar more than a batch of short questions."""
    total, count, done, encoded = text_work(texts), len(texts), 0, 0

    def advance(batch: list[str]) -> None:
        nonlocal done, encoded
        done, encoded = done + text_work(batch), encoded + len(batch)
        if on_progress:
            on_progress(done, total, f"encoded {encoded}/{count} texts")

    return advance


def corpus_and_progress(
    model,
    passages: list[str],
    questions: list[str],
    batch_size: int,
    on_progress: Progress | None,
    corpus_embeddings=None,
):
    """The passages' vectors, and the progress counter (progress_counter) of the questions left to encode.

    The vectors are `corpus_embeddings` where given, else those kept from an earlier run of the same
    document encoder (corpus_vectors), else encoded now by `encode_document` (`encode` for an encoder
    without it) and kept. The progress counts only what this call and its caller encode: kept passages
    take no time, and counting them would make the time left of what does take time look slow.
    """
    import torch

    if corpus_embeddings is None:
        corpus_embeddings = kept_vectors(model, passages)
    if corpus_embeddings is not None:
        corpus_embeddings = torch.as_tensor(corpus_embeddings)
        if corpus_embeddings.shape[0] != len(passages):
            raise ValueError(f"{corpus_embeddings.shape[0]} corpus embeddings for {len(passages)} passages")
        return corpus_embeddings, progress_counter(on_progress, questions)
    advance = progress_counter(on_progress, passages + questions)
    encoded = encode_in_slices(getattr(model, "encode_document", model.encode), passages, batch_size, advance)
    keep_vectors(model, passages, encoded)
    return encoded, advance


def encode_in_slices(encode, texts: list[str], batch_size: int, advance: Callable[[list[str]], None]):
    """Embeddings as one tensor, encoded in slices so that progress can be reported between them."""
    import torch

    slice_size = batch_size * 4  # a progress report every few seconds on a CPU
    parts = []
    for start in range(0, len(texts), slice_size):
        batch = texts[start : start + slice_size]
        parts.append(encode(batch, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False))
        advance(batch)
    return torch.cat(parts)


def sorted_positions(corpus_ids: list[str]):
    """Each passage's position in ascending id order: the tie-break of equal scores."""
    import torch

    order = sorted(range(len(corpus_ids)), key=corpus_ids.__getitem__)
    positions = torch.empty(len(corpus_ids), dtype=torch.long)
    positions[torch.tensor(order, dtype=torch.long)] = torch.arange(len(corpus_ids))
    return positions


def rank_passages(query_embeddings, corpus_embeddings, id_positions):
    """Top-100 scores and passage indices per query, ordered by (-cosine, passage id)."""
    import torch
    import torch.nn.functional as F

    corpus = F.normalize(corpus_embeddings, p=2, dim=-1)
    queries = F.normalize(query_embeddings.to(corpus.device), p=2, dim=-1)
    id_positions = id_positions.to(corpus.device)
    k = min(TOP_K, corpus.shape[0])
    all_scores, all_ranked = [], []
    for start in range(0, queries.shape[0], _QUERIES_PER_BLOCK):
        scores = queries[start : start + _QUERIES_PER_BLOCK] @ corpus.T
        top_scores, top_idx = _top_k_with_id_ties(scores, k, id_positions)
        all_scores.append(top_scores.cpu())
        all_ranked.append(top_idx.cpu())
    return torch.cat(all_scores), torch.cat(all_ranked)


def _top_k_with_id_ties(scores, k: int, id_positions):
    """torch.topk, except that passages tied at the cut are chosen by ascending id, as the evaluator does."""
    import torch

    top_scores, top_idx = torch.topk(scores, k, dim=1)
    cut = top_scores[:, -1:]
    tied_at_cut = (scores >= cut).sum(dim=1) > k
    if tied_at_cut.any():
        rows, row_cut, n = scores[tied_at_cut], cut[tied_at_cut], len(id_positions)
        # Integer keys: above the cut sorts first, then ties at the cut, each by id; the rest last.
        keys = torch.where(rows > row_cut, id_positions, 2 * n)
        keys = torch.where(rows == row_cut, id_positions + n, keys)
        top_idx[tied_at_cut] = keys.topk(k, dim=1, largest=False).indices
        top_scores[tied_at_cut] = rows.gather(1, top_idx[tied_at_cut])
    by_id = torch.argsort(id_positions[top_idx], dim=1)
    top_scores, top_idx = top_scores.gather(1, by_id), top_idx.gather(1, by_id)
    by_score = torch.sort(top_scores, dim=1, descending=True, stable=True).indices
    return top_scores.gather(1, by_score), top_idx.gather(1, by_score)


def query_result(
    qid: str, dataset: QADataset, corpus_ids: list[str], scores: list[float], ranked: list[int]
) -> QueryResult:
    """One question's result from its ranked corpus positions (best first) and their scores."""
    expected = dataset.relevant_docs[qid]
    wanted = set(expected)
    ranked_ids = [corpus_ids[i] for i in ranked]
    relevant_ranks = [rank for rank, pid in enumerate(ranked_ids, start=1) if pid in wanted]
    return QueryResult(
        query_id=qid,
        question=dataset.queries[qid],
        expected_ids=list(expected),
        rank=relevant_ranks[0] if relevant_ranks else None,
        top_id=ranked_ids[0],
        top_score=float(scores[0]),
        ranked_ids=ranked_ids[:RANKED_IDS_KEPT],
        relevant_ranks=relevant_ranks,
    )


# --- saved reports ----------------------------------------------------------------------------
def save_report(
    ws: Workspace,
    report: RetrievalReport,
    dataset_id: str,
    model_label: str | None = None,
    model_path: str | None = None,
) -> RetrievalReport:
    """Write the report as evaluations/<report id>.json (atomically) and return it as saved."""
    saved = replace(
        report,
        dataset_id=dataset_id,
        name=model_label or report.name,
        model_path=model_path or report.model_path,
        report_id=new_id("eval"),
    )
    write_json(ws.dir("evaluations") / f"{saved.report_id}.json", saved.to_dict())
    return saved


def list_reports(ws: Workspace, dataset_id: str | None = None, part: str | None = None) -> list[RetrievalReport]:
    """Saved reports, newest first; a file that cannot be read is skipped with a warning."""
    return load_saved_results(
        ws.dir("evaluations"),
        RetrievalReport.from_dict,
        log,
        "evaluation report",
        dataset_id,
        part,
        schema=RetrievalReport,
    )


def unreadable_reports(ws: Workspace) -> list[str]:
    """The saved reports list_reports skips, each named with why."""
    return unreadable_results(ws.dir("evaluations"), RetrievalReport.from_dict, "evaluation report", RetrievalReport)


def latest_reports(ws: Workspace, dataset_id: str, part: str) -> list[RetrievalReport]:
    """The newest report of each model on this dataset part, in the order they were made."""
    latest: dict[str, RetrievalReport] = {}
    for report in list_reports(ws, dataset_id, part):
        latest.setdefault(report.name, report)
    return sorted(latest.values(), key=lambda r: r.created)
